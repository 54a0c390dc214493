//! Test support for driving a spawned `keyless emulate` with real third-party clients: the AWS CLI and boto3
//! (from the project venv), the AWS SDK for JavaScript v3 (from the project node_modules) and Terraform with the
//! `hashicorp/aws` provider (see [`terraform`]). Used by the tests that put a real client in front of the emulator.
//!
//! Tools are found through `KEYLESS_VENV` / `KEYLESS_NODE_MODULES` (the parent module's [`super::venv_tool`],
//! [`super::node_modules`]) and, for Terraform, `KEYLESS_TERRAFORM` (default
//! `terraform` on PATH) plus the provider mirror `KEYLESS_TF_PLUGINS` (default `/opt/tf-plugins`). A missing tool
//! skips the test, unless `KEYLESS_REQUIRE_TOOLS=1` (as `scripts/test` and CI set), when it fails.
#![allow(dead_code, clippy::unwrap_used, clippy::print_stderr)]

pub mod terraform;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::{Guard, node_modules, require};

/// `node` on PATH, or skip/fail.
pub fn node() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("node"))
            .find(|p| p.is_file())
    });
    require(found.unwrap_or_else(|| PathBuf::from("node")), "node")
}

/// The JS SDK v3 packages keyless's tests use, or skip/fail.
pub fn js_sdk() -> Option<PathBuf> {
    let modules = node_modules();
    for package in [
        "@aws-sdk/client-sts",
        "@aws-sdk/client-iam",
        "@aws-sdk/credential-providers",
    ] {
        require(modules.join(package), package)?;
    }
    Some(modules)
}

/// A workspace UUID and the audience Bitbucket derives from it.
pub const WORKSPACE_UUID: &str = "{44444444-4444-4444-8444-444444444444}";
/// `ari:cloud:bitbucket::workspace/<uuid without braces>`.
pub const AUDIENCE: &str = "ari:cloud:bitbucket::workspace/44444444-4444-4444-8444-444444444444";

/// The real Bitbucket issuer URL of a workspace.
pub fn issuer(slug: &str) -> String {
    format!("https://api.bitbucket.org/2.0/workspaces/{slug}/pipelines-config/identity/oidc")
}

/// A spawned `keyless emulate` on an ephemeral port, stopped on drop.
pub struct SpawnedEmulator {
    _guard: Guard,
    /// The start-up document.
    pub ready: Value,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl SpawnedEmulator {
    /// Starts `keyless emulate --listen 127.0.0.1:0 --account A... EXTRA...` and waits for its ready file.
    pub fn start(accounts: &[&str], extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ready_file = dir.path().join("ready.json");
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("keyless"));
        command.args(["emulate", "--listen", "127.0.0.1:0", "--ready-file"]);
        command.arg(&ready_file);
        for account in accounts {
            command.args(["--account", account]);
        }
        let mut child = command
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        super::emulate_process::drain_stdout(&mut child);
        let guard = Guard(child);
        let ready = super::emulate_process::wait_ready(&ready_file);
        let endpoint = ready["endpoint"].as_str().unwrap().to_owned();
        Self {
            _guard: guard,
            ready,
            endpoint,
        }
    }

    /// An account's admin key pair.
    pub fn key(&self, account: &str) -> (String, String) {
        let a = &self.ready["accounts"][account];
        (
            a["access_key_id"].as_str().unwrap().to_owned(),
            a["secret_access_key"].as_str().unwrap().to_owned(),
        )
    }

    /// Mints a token through `POST /_keyless/mint`; `extra` is merged into the request.
    pub fn mint(&self, slug: &str, repository_uuid: &str, extra: Value) -> String {
        let mut body = serde_json::json!({
            "workspace": slug,
            "workspace_uuid": WORKSPACE_UUID,
            "repository_uuid": repository_uuid,
        });
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        let value = super::http::post(&format!("{}/_keyless/mint", self.endpoint))
            .json(&body)
            .send()
            .success()
            .json();
        value["token"].as_str().unwrap().to_owned()
    }

    /// An IAM client (the Rust SDK) with an account's admin keys.
    pub fn iam(&self, account: &str) -> aws_sdk_iam::Client {
        let (key, secret) = self.key(account);
        super::emulate_process::iam_client(&self.endpoint, &key, &secret, "us-east-1")
    }
}

/// A trust policy for a workspace provider: the workspace audience and `sub` patterns.
pub fn trust_policy(account: &str, slug: &str, subjects: &[&str]) -> Value {
    let host = issuer(slug).trim_start_matches("https://").to_owned();
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{account}:oidc-provider/{host}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {format!("{host}:aud"): AUDIENCE},
                "StringLike": {format!("{host}:sub"): subjects}
            }
        }]
    })
}
