//! Shared fixture for the step-credentials end-to-end tests: an in-process emulator (two accounts) seeded with
//! a Bitbucket OIDC provider, a web-identity role, a chain target in the second account, and a minted token.
#![allow(dead_code, clippy::unwrap_used, clippy::print_stderr)]

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use keyless_emulator::{Config, Emulator, RunningEmulator};
use keyless_oidc::MintRequest;
use std::process::Command;

pub const ACCOUNT_A: &str = "111111111111";
pub const ACCOUNT_B: &str = "222222222222";
pub const WORKSPACE: &str = "acme";
pub const WORKSPACE_UUID: &str = "{8f3a7e52-1b4c-4d2e-9f60-0a1b2c3d4e5f}";
pub const REPO_UUID: &str = "{6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f}";
pub const ENV_UUID: &str = "{0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a}";

pub fn issuer() -> String {
    format!("https://api.bitbucket.org/2.0/workspaces/{WORKSPACE}/pipelines-config/identity/oidc")
}

pub fn audience() -> String {
    format!(
        "ari:cloud:bitbucket::workspace/{}",
        WORKSPACE_UUID.trim_matches(|c| c == '{' || c == '}')
    )
}

pub fn role(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/{name}")
}

/// The running emulator and the runtime that drives it (dropped together).
pub struct Fixture {
    pub runtime: tokio::runtime::Runtime,
    pub emulator: Option<RunningEmulator>,
    pub endpoint: String,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(emulator) = self.emulator.take() {
            self.runtime.block_on(emulator.shutdown());
        }
    }
}

fn trust_web_identity(sub_like: &str) -> String {
    let host = issuer().trim_start_matches("https://").to_owned();
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT_A}:oidc-provider/{host}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {format!("{host}:aud"): audience()},
                "StringLike": {format!("{host}:sub"): sub_like}
            }
        }]
    })
    .to_string()
}

impl Fixture {
    /// Starts the emulator with accounts A and B and seeds them.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = Config {
            accounts: vec![ACCOUNT_A.to_owned(), ACCOUNT_B.to_owned()],
            ..Config::local()
        };
        let emulator = runtime.block_on(Emulator::start(config)).unwrap();
        let endpoint = emulator.endpoint.clone();
        let fixture = Self {
            runtime,
            emulator: Some(emulator),
            endpoint,
        };
        fixture.seed();
        fixture
    }

    fn iam(&self, account: &str) -> aws_sdk_iam::Client {
        let creds = &self.emulator.as_ref().unwrap().accounts[account];
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(
                creds.access_key_id.clone(),
                creds.secret_access_key.expose().to_owned(),
                None,
                None,
                "test",
            ))
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    fn seed(&self) {
        let a = self.iam(ACCOUNT_A);
        let b = self.iam(ACCOUNT_B);
        self.runtime.block_on(async {
            a.create_open_id_connect_provider().url(issuer()).client_id_list(audience()).send().await.unwrap();
            // Any step of the repository.
            a.create_role().role_name("deploy").assume_role_policy_document(trust_web_identity(&format!("{REPO_UUID}:*"))).max_session_duration(7200).send().await.unwrap();
            // Only deployment steps of ENV_UUID.
            a.create_role().role_name("prod").assume_role_policy_document(trust_web_identity(&format!("{REPO_UUID}:{ENV_UUID}:*"))).send().await.unwrap();
            let chain_trust = serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": role(ACCOUNT_A, "deploy")}, "Action": "sts:AssumeRole"}]
            });
            b.create_role().role_name("target").assume_role_policy_document(chain_trust.to_string()).send().await.unwrap();
            let nobody = serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": role(ACCOUNT_B, "someone-else")}, "Action": "sts:AssumeRole"}]
            });
            b.create_role().role_name("closed").assume_role_policy_document(nobody.to_string()).send().await.unwrap();
            // Session tags, a source identity and an external ID on --chain hops (tests/assume_e2e.rs, tags_*).
            let tagged = serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"AWS": role(ACCOUNT_A, "deploy")},
                    "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                    "Condition": {"StringEquals": {"sts:ExternalId": "partner-7f3a"}}
                }]
            });
            b.create_role().role_name("tagged").assume_role_policy_document(tagged.to_string()).send().await.unwrap();
            let tagged_next = serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"AWS": role(ACCOUNT_B, "tagged")},
                    "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                    "Condition": {"StringEquals": {"aws:RequestTag/Repository": "acme/website", "aws:SourceIdentity": "alice"}}
                }]
            });
            b.create_role().role_name("tagged-next").assume_role_policy_document(tagged_next.to_string()).send().await.unwrap();
            let untagged = serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": role(ACCOUNT_A, "deploy")}, "Action": "sts:AssumeRole"}]
            });
            b.create_role().role_name("untagged").assume_role_policy_document(untagged.to_string()).send().await.unwrap();
            let any_tags = serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": role(ACCOUNT_A, "deploy")}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]
            });
            b.create_role().role_name("any-tags").assume_role_policy_document(any_tags.to_string()).send().await.unwrap();
        });
    }

    /// Mints a step token (a deployment step when `deployment`).
    pub fn token(&self, deployment: bool, audiences: Option<Vec<String>>) -> String {
        let mut request = MintRequest::new(
            WORKSPACE,
            WORKSPACE_UUID.parse().unwrap(),
            REPO_UUID.parse().unwrap(),
        );
        if deployment {
            request.deployment_uuid = Some(ENV_UUID.parse().unwrap());
        }
        request.audiences = audiences;
        self.emulator
            .as_ref()
            .unwrap()
            .mint(&request)
            .unwrap()
            .token
            .expose()
            .to_owned()
    }

    /// Mints a token that expired an hour ago.
    pub fn expired_token(&self) -> String {
        let mut request = MintRequest::new(
            WORKSPACE,
            WORKSPACE_UUID.parse().unwrap(),
            REPO_UUID.parse().unwrap(),
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        request.issued_at = Some(now - 7200);
        request.lifetime_seconds = Some(3600);
        self.emulator
            .as_ref()
            .unwrap()
            .mint(&request)
            .unwrap()
            .token
            .expose()
            .to_owned()
    }

    /// A `keyless` command with a clean environment that looks like a Bitbucket step.
    pub fn keyless(&self, token: &str, home: &std::path::Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyless"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("BITBUCKET_STEP_OIDC_TOKEN", token)
            .env("BITBUCKET_BUILD_NUMBER", "42")
            .env("BITBUCKET_REPO_SLUG", "website")
            .env(
                "BITBUCKET_STEP_UUID",
                "{5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d}",
            )
            .env("BITBUCKET_CLONE_DIR", home.join("clone"))
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ENDPOINT_URL_STS", &self.endpoint)
            .env("AWS_ROLE_ARN", role(ACCOUNT_A, "deploy"));
        cmd
    }
}
