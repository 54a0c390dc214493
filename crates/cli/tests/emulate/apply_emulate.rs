//! `keyless apply` and `keyless check --live` against the real `keyless emulate` binary (two accounts, one
//! AWS profile per account): `--dry-run` changes nothing, apply creates what the plan says (read back through
//! IAM and proven by assuming the roles through the emulator's STS with minted tokens), a second apply changes
//! nothing, the live matrix equals the planned one until a hand edit drifts it, `--prune` alone deletes a role
//! that left keyless.yml, and credentials of the wrong account are refused.
#![allow(clippy::unwrap_used)]

use crate::support::emulate_process;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use assert_cmd::Command as Cli;
use aws_sdk_iam::error::ProvideErrorMetadata as _;
use serde_json::Value;

const STAGING: &str = "111111111111";
const PRODUCTION: &str = "222222222222";
const WORKSPACE_UUID: &str = "{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}";
const WEB_FRONTEND: &str = "{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}";
const WEB_FRONTEND_PRODUCTION: &str = "{7e6d5c4b-3a2f-4e1d-9c0b-8a7f6e5d4c31}";
const DATA_SANDBOX: &str = "{c5a3e1f4-6d9b-4a0c-9e83-4f7b0d2a9c35}";
const DATA_SANDBOX_STAGING: &str = "{3c4d5e6f-7a8b-4c9d-8e0f-2a3b4c5d6e71}";
const ISSUER_HOST: &str =
    "api.bitbucket.org/2.0/workspaces/acme-platform/pipelines-config/identity/oidc";
const AUDIENCE: &str = "ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A spawned `keyless emulate`, killed on drop.
struct Emulator {
    child: Child,
    endpoint: String,
    ready: Value,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emulator {
    fn keys(&self, account: &str) -> (String, String) {
        let entry = &self.ready["accounts"][account];
        (
            entry["access_key_id"].as_str().unwrap().to_owned(),
            entry["secret_access_key"].as_str().unwrap().to_owned(),
        )
    }

    fn iam(&self, account: &str) -> aws_sdk_iam::Client {
        let (id, secret) = self.keys(account);
        emulate_process::iam_client(&self.endpoint, &id, &secret, "eu-west-1")
    }

    fn mint(&self, repository: &str, deployment: Option<&str>) -> String {
        let mut body = serde_json::json!({"workspace": "acme-platform", "workspace_uuid": WORKSPACE_UUID,
            "repository_uuid": repository, "branch": "main"});
        if let Some(deployment) = deployment {
            body["deployment_uuid"] = deployment.into();
        }
        let value = crate::support::http::post(&format!("{}/_keyless/mint", self.endpoint))
            .json(&body)
            .send()
            .success()
            .json();
        value["token"].as_str().unwrap().to_owned()
    }

    /// `Ok(assumed-role ARN)` or `Err(code: message)` from the emulator's STS.
    async fn assume(&self, role_arn: &str, token: &str) -> Result<String, String> {
        match emulate_process::sts_client(&self.endpoint, "eu-west-1")
            .assume_role_with_web_identity()
            .role_arn(role_arn)
            .role_session_name("apply-emulate")
            .web_identity_token(token)
            .send()
            .await
        {
            Ok(output) => Ok(output
                .assumed_role_user()
                .map(|u| u.arn().to_owned())
                .unwrap_or_default()),
            Err(error) => Err(format!(
                "{}: {}",
                error.code().unwrap_or_default(),
                error.message().unwrap_or_default()
            )),
        }
    }
}

fn start_emulator(dir: &Path) -> Emulator {
    let ready_file = dir.join("ready.json");
    let child = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .args([
            "emulate",
            "--listen",
            "127.0.0.1:0",
            "--account",
            STAGING,
            "--account",
            PRODUCTION,
            // The production runner's NAT gateway, inside examples/demo/keyless.yml's `source_ips`: the AWS SDK
            // cannot add X-Forwarded-For, so every call plays a runner egressing from it.
            "--source-ip",
            "203.0.113.10",
            "--ready-file",
        ])
        .arg(&ready_file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut emulator = Emulator {
        child,
        endpoint: String::new(),
        ready: Value::Null,
    };
    emulator.ready = emulate_process::wait_ready(&ready_file);
    emulate_process::drain_stdout(&mut emulator.child);
    emulator.endpoint = emulator.ready["endpoint"].as_str().unwrap().to_owned();
    emulator
}

/// An emulator with examples/demo/keyless.yml copied into `dir` and production's keys in an AWS credentials file
/// there: (emulator, keyless.yml, credentials file).
fn demo_workspace(dir: &Path) -> (Emulator, PathBuf, PathBuf) {
    let emulator = start_emulator(dir);
    let config = dir.join("keyless.yml");
    std::fs::copy(repo_root().join("examples/demo/keyless.yml"), &config).unwrap();
    let credentials = dir.join("credentials");
    let (id, secret) = emulator.keys(PRODUCTION);
    std::fs::write(
        &credentials,
        format!("[production]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n"),
    )
    .unwrap();
    (emulator, config, credentials)
}

/// Runs keyless with staging's keys in the environment and production's in an AWS profile.
struct Runner<'a> {
    emulator: &'a Emulator,
    config: PathBuf,
    credentials: PathBuf,
}

impl Runner<'_> {
    fn run(&self, args: &[&str], with_profile: bool) -> (i32, String, String) {
        let (id, secret) = self.emulator.keys(STAGING);
        let mut command = Cli::cargo_bin("keyless").unwrap();
        command
            .args(args)
            .arg("-c")
            .arg(&self.config)
            .args([
                "--endpoint-url",
                &self.emulator.endpoint,
                "--region",
                "eu-west-1",
            ])
            .env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_SHARED_CREDENTIALS_FILE", &self.credentials)
            .env("AWS_CONFIG_FILE", "/nonexistent/keyless-test")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_ENDPOINT_URL");
        if with_profile {
            command.args(["--profile", &format!("{PRODUCTION}=production")]);
        }
        let output = command.output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn keyless(&self, args: &[&str]) -> (i32, String, String) {
        self.run(args, true)
    }
}

fn role_exists(
    runtime: &tokio::runtime::Runtime,
    emulator: &Emulator,
    account: &str,
    name: &str,
) -> bool {
    runtime.block_on(async {
        match emulator
            .iam(account)
            .get_role()
            .role_name(name)
            .send()
            .await
        {
            Ok(_) => true,
            Err(error) if error.code() == Some("NoSuchEntity") => false,
            Err(error) => panic!("GetRole {name}: {error:?}"),
        }
    })
}

/// The matrix without the evaluation-time-dependent parts: (repository, deployment, branch, ip, role, aws).
fn verdicts(json: &str) -> Vec<(String, String, String, String, String, String)> {
    let value: Value = serde_json::from_str(json).unwrap();
    value["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["repository"].to_string(),
                s["deployment"].to_string(),
                s["branch"].to_string(),
                s["source_ip"].to_string(),
                s["role"].to_string(),
                s["aws"].to_string(),
            )
        })
        .collect()
}

#[test]
fn apply_against_keyless_emulate_creates_converges_and_prunes_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (emulator, config, credentials) = demo_workspace(dir.path());
    let runner = Runner {
        emulator: &emulator,
        config: config.clone(),
        credentials,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let production_role =
        format!("arn:aws:iam::{PRODUCTION}:role/keyless/bitbucket-production-deploy");
    let staging_role = format!("arn:aws:iam::{STAGING}:role/bitbucket-staging-deploy");

    // Credentials of the wrong account are refused before anything is read or written.
    let (code, out, err) = runner.run(&["apply", "--yes"], false);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(&format!("belong to account {STAGING}")) && err.contains("--profile"),
        "{err}"
    );

    // --dry-run shows every change and makes none.
    let (code, out, err) = runner.keyless(&["apply", "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("account {STAGING}:"))
            && out.contains(&format!("account {PRODUCTION}:")),
        "{out}"
    );
    assert!(
        out.contains(&format!("+ create OIDC provider https://{ISSUER_HOST}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("+ create role {production_role}")),
        "{out}"
    );
    assert!(out.contains("Dry run: nothing changed."), "{out}");
    assert!(!role_exists(
        &runtime,
        &emulator,
        PRODUCTION,
        "bitbucket-production-deploy"
    ));
    assert!(!role_exists(
        &runtime,
        &emulator,
        STAGING,
        "orders-api-synth"
    ));

    let (code, out, err) = runner.keyless(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Applied"), "{out}");

    // What IAM holds now, read back through the emulator.
    runtime.block_on(async {
        let iam = emulator.iam(PRODUCTION);
        let provider = iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(format!(
                "arn:aws:iam::{PRODUCTION}:oidc-provider/{ISSUER_HOST}"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(provider.client_id_list(), [AUDIENCE]);
        let role = iam
            .get_role()
            .role_name("bitbucket-production-deploy")
            .send()
            .await
            .unwrap();
        let role = role.role().unwrap();
        assert_eq!(role.path(), "/keyless/");
        assert_eq!(role.max_session_duration(), Some(3600));
        assert_eq!(
            role.permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn()),
            Some("arn:aws:iam::222222222222:policy/deploy-boundary")
        );
        let tags: Vec<(&str, &str)> = role.tags().iter().map(|t| (t.key(), t.value())).collect();
        assert!(tags.contains(&("environment", "production")), "{tags:?}");
        assert!(tags.contains(&("managed-by", "keyless")), "{tags:?}");
        let trust = percent_decode(role.assume_role_policy_document().unwrap());
        let trust: Value = serde_json::from_str(&trust).unwrap();
        let condition = &trust["Statement"][0]["Condition"];
        assert_eq!(
            condition["StringEquals"][format!("{ISSUER_HOST}:aud")],
            AUDIENCE
        );
        assert_eq!(
            condition["IpAddress"]["aws:SourceIp"],
            serde_json::json!(["203.0.113.0/24"])
        );
        let attached = iam
            .list_attached_role_policies()
            .role_name("bitbucket-production-deploy")
            .send()
            .await
            .unwrap();
        let arns: Vec<&str> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .collect();
        // No managed policy (issue 22): the example's `permissions:` is the inline policy `keyless-permissions`.
        assert!(arns.is_empty(), "{arns:?}");
        let permissions = iam
            .get_role_policy()
            .role_name("bitbucket-production-deploy")
            .policy_name("keyless-permissions")
            .send()
            .await
            .unwrap();
        assert!(percent_decode(permissions.policy_document()).contains("arn:aws:s3:::acme-web/*"));
        let inline = iam
            .get_role_policy()
            .role_name("bitbucket-production-deploy")
            .policy_name("deploy-artifacts")
            .send()
            .await
            .unwrap();
        assert!(percent_decode(inline.policy_document()).contains("acme-artifacts"));

        // The emulator enforces the applied trust like AWS: the right deployment gets in, a repository that
        // only deploys to staging does not.
        let allowed = emulator
            .assume(
                &production_role,
                &emulator.mint(WEB_FRONTEND, Some(WEB_FRONTEND_PRODUCTION)),
            )
            .await;
        assert_eq!(
            allowed.as_deref(),
            Ok("arn:aws:sts::222222222222:assumed-role/bitbucket-production-deploy/apply-emulate")
        );
        let refused = emulator
            .assume(
                &production_role,
                &emulator.mint(DATA_SANDBOX, Some(DATA_SANDBOX_STAGING)),
            )
            .await;
        assert!(
            matches!(&refused, Err(e) if e.starts_with("AccessDenied")),
            "{refused:?}"
        );
        let staging = emulator
            .assume(
                &staging_role,
                &emulator.mint(DATA_SANDBOX, Some(DATA_SANDBOX_STAGING)),
            )
            .await;
        assert!(staging.is_ok(), "{staging:?}");
    });

    // A second apply has nothing to do.
    let (code, out, err) = runner.keyless(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("No changes: IAM already matches"),
        "second apply must change nothing:\n{out}"
    );

    // The live matrix (GetRole + GetOpenIDConnectProvider) is exactly the planned one.
    let (_, planned, err) = runner.keyless(&["check", "--format", "json"]);
    assert!(!planned.is_empty(), "{err}");
    let (_, live, err) = runner.keyless(&["check", "--live", "--format", "json"]);
    assert!(!live.is_empty(), "{err}");
    assert_eq!(verdicts(&live), verdicts(&planned));

    // A hand edit that drops the source-IP condition shows up live and is reverted by the next apply.
    runtime.block_on(async {
        let widened = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{PRODUCTION}:oidc-provider/{ISSUER_HOST}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {format!("{ISSUER_HOST}:aud"): AUDIENCE}}}]});
        emulator
            .iam(PRODUCTION)
            .update_assume_role_policy()
            .role_name("bitbucket-production-deploy")
            .policy_document(widened.to_string())
            .send()
            .await
            .unwrap();
    });
    let (_, drifted, _) = runner.keyless(&["check", "--live", "--format", "json"]);
    assert_ne!(verdicts(&drifted), verdicts(&planned));
    assert!(drifted.contains("<unknown repository>"));
    let (code, out, err) = runner.keyless(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("~ update trust policy of role bitbucket-production-deploy"),
        "{out}"
    );
    let (_, live, _) = runner.keyless(&["check", "--live", "--format", "json"]);
    assert_eq!(verdicts(&live), verdicts(&planned));

    // The extra role leaves keyless.yml: kept (and named) without --prune, deleted with it.
    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("    extra_roles:").unwrap();
    let end = text.find("  data-sandbox:").unwrap();
    std::fs::write(&config, format!("{}\n{}", &text[..start], &text[end..])).unwrap();
    let (code, out, err) = runner.keyless(&["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("no longer in keyless.yml: orders-api-synth"),
        "{out}"
    );
    assert!(out.contains("No changes"), "{out}");
    assert!(role_exists(
        &runtime,
        &emulator,
        STAGING,
        "orders-api-synth"
    ));
    let (code, out, err) = runner.keyless(&["apply", "--yes", "--prune", "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("- delete role orders-api-synth"), "{out}");
    assert!(
        role_exists(&runtime, &emulator, STAGING, "orders-api-synth"),
        "--dry-run must not delete"
    );
    let (code, out, err) = runner.keyless(&["apply", "--yes", "--prune"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("- delete role orders-api-synth"), "{out}");
    assert!(!role_exists(
        &runtime,
        &emulator,
        STAGING,
        "orders-api-synth"
    ));
    assert!(role_exists(
        &runtime,
        &emulator,
        STAGING,
        "bitbucket-staging-deploy"
    ));
    let (code, out, _) = runner.keyless(&["apply", "--yes", "--prune"]);
    assert_eq!(code, 0);
    assert!(out.contains("No changes"), "{out}");
}

/// IAM returns policy documents URL-encoded; the emulator may return them as is.
fn percent_decode(text: &str) -> String {
    if text.trim_start().starts_with('{') {
        return text.to_owned();
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

/// Runs `keyless apply --dry-run` for the moto fixture (account 123456789012) with no AWS identity anywhere in
/// the environment.
fn apply_without_identity(extra: &[&str], endpoint: &str) -> (i32, String) {
    let home = tempfile::tempdir().unwrap();
    let output = Cli::cargo_bin("keyless")
        .unwrap()
        .args(["apply", "--dry-run", "--endpoint-url", endpoint, "-c"])
        .arg(repo_root().join("crates/cli/tests/fixtures/workspace/moto.yml"))
        .args(extra)
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn missing_credentials_are_named_as_such_not_as_an_unreachable_endpoint() {
    // The SDK reports an empty credential chain as a dispatch failure; apply must not call that "cannot reach".
    for extra in [&[][..], &["--profile", "123456789012=missing"][..]] {
        let (code, err) = apply_without_identity(extra, "http://127.0.0.1:1");
        assert_ne!(code, 0, "{err}");
        assert!(
            err.contains("no usable AWS credentials for account 123456789012")
                && err.contains("fix: pass --profile 123456789012=<profile>")
                && !err.contains("cannot reach")
                && !err.contains("DispatchFailure"),
            "{extra:?}: {err}"
        );
    }
    // With credentials but nothing listening, the endpoint is what is named, without a Debug dump.
    let home = tempfile::tempdir().unwrap();
    let output = Cli::cargo_bin("keyless")
        .unwrap()
        .args([
            "apply",
            "--dry-run",
            "--endpoint-url",
            "http://127.0.0.1:1",
            "-c",
        ])
        .arg(repo_root().join("crates/cli/tests/fixtures/workspace/moto.yml"))
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0));
    assert!(
        err.contains("cannot reach the endpoint")
            && err.contains("Connection refused")
            && !err.contains("DispatchFailure"),
        "{err}"
    );
}

/// `keyless apply --format json` is the same workflow as text, as one value: the dry run lists each account's
/// changes (`action` and the change's fields, `summary` as text says it) and makes none; it never asks, so
/// without `--yes` or `--dry-run` it refuses before reading IAM; an apply reports `applied` with the dry run's
/// count, the next one `no_changes`; a role that left keyless.yml is an orphan, deleted only with `--prune`.
#[test]
fn apply_format_json_reports_the_same_workflow_as_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let (emulator, config, credentials) = demo_workspace(dir.path());
    let runner = Runner {
        emulator: &emulator,
        config: config.clone(),
        credentials,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let json = |args: &[&str]| -> Value {
        let (code, out, err) = runner.keyless(args);
        assert_eq!(code, 0, "{out}{err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };

    let (code, out, err) = runner.keyless(&["apply", "--format", "json"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("--format json does not ask") && err.contains("--yes"),
        "{err}"
    );

    let (_, text, _) = runner.keyless(&["apply", "--dry-run"]);
    let dry = json(&["apply", "--dry-run", "--format", "json"]);
    assert_eq!(dry["outcome"], "dry_run", "{dry:#}");
    let total = dry["total"].as_u64().unwrap();
    assert!(total > 0, "{dry:#}");
    assert!(text.contains(&format!("{total} change(s).")), "{text}");
    let accounts: Vec<&str> = dry["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, [STAGING, PRODUCTION]);
    let changes: Vec<&Value> = dry["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["changes"].as_array().unwrap())
        .collect();
    assert_eq!(changes.len() as u64, total);
    let provider = changes
        .iter()
        .find(|c| c["action"] == "create_provider")
        .unwrap();
    assert_eq!(provider["url"], format!("https://{ISSUER_HOST}"));
    assert_eq!(provider["client_ids"], serde_json::json!([AUDIENCE]));
    let role = changes
        .iter()
        .find(|c| {
            c["action"] == "create_role" && c["role"]["name"] == "bitbucket-production-deploy"
        })
        .unwrap();
    assert_eq!(
        role["role"]["arn"],
        format!("arn:aws:iam::{PRODUCTION}:role/keyless/bitbucket-production-deploy")
    );
    assert!(
        role["role"]["trust_policy"]["Statement"].is_array(),
        "{role:#}"
    );
    for change in &changes {
        let summary = change["summary"].as_str().unwrap();
        let first = summary.lines().next().unwrap();
        assert!(
            text.contains(&format!("  {first}\n")),
            "{first} not in:\n{text}"
        );
    }
    assert!(!role_exists(
        &runtime,
        &emulator,
        PRODUCTION,
        "bitbucket-production-deploy"
    ));

    let applied = json(&["apply", "--yes", "--format", "json"]);
    assert_eq!(applied["outcome"], "applied", "{applied:#}");
    assert_eq!(applied["total"], total);
    assert!(role_exists(
        &runtime,
        &emulator,
        PRODUCTION,
        "bitbucket-production-deploy"
    ));
    let again = json(&["apply", "--yes", "--format", "json"]);
    assert_eq!(again["outcome"], "no_changes", "{again:#}");
    assert_eq!(again["total"], 0);

    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("    extra_roles:").unwrap();
    let end = text.find("  data-sandbox:").unwrap();
    std::fs::write(&config, format!("{}\n{}", &text[..start], &text[end..])).unwrap();
    let kept = json(&["apply", "--yes", "--format", "json"]);
    assert_eq!(kept["outcome"], "no_changes", "{kept:#}");
    assert_eq!(kept["prune"], false);
    let staging = kept["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == STAGING)
        .unwrap();
    assert_eq!(staging["orphans"], serde_json::json!(["orders-api-synth"]));
    let pruned = json(&["apply", "--yes", "--prune", "--format", "json"]);
    assert_eq!(pruned["outcome"], "applied", "{pruned:#}");
    assert_eq!(pruned["prune"], true);
    let deleted: Vec<&Value> = pruned["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["changes"].as_array().unwrap())
        .collect();
    assert_eq!(deleted.len(), 1, "{pruned:#}");
    assert_eq!(deleted[0]["action"], "delete_role");
    assert_eq!(deleted[0]["role"], "orders-api-synth");
    assert!(!role_exists(
        &runtime,
        &emulator,
        STAGING,
        "orders-api-synth"
    ));
}
