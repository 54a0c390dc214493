//! `keyless emulate` driven by real clients: the built binary is spawned, and the AWS CLI, boto3 (from the
//! project venv) and the AWS SDK for Rust each (a) create the OIDC provider and role through IAM, (b) assume the
//! role from `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` + `AWS_ENDPOINT_URL` and see the assumed-role ARN in
//! `get-caller-identity`, and (c) get AccessDenied for a token from a repository the trust policy does not name.
//! The same IAM calls are also run against `moto_server`, so IAM client code is not tuned to our emulator.
//!
//! Tools come from KEYLESS_VENV (default <repo>/.venv); when missing, the tests skip, unless
//! KEYLESS_REQUIRE_TOOLS=1, when they fail.
#![allow(clippy::unwrap_used, clippy::print_stderr, clippy::print_stdout)]

use crate::support::{emulate_process, venv_tool};

use std::io::{BufRead as _, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const ACCOUNT: &str = "123456789012";
const OTHER_ACCOUNT: &str = "210987654321";
const WORKSPACE_UUID: &str = "{44444444-4444-4444-8444-444444444444}";
const REPO: &str = "{11111111-1111-4111-8111-111111111111}";
const OTHER_REPO: &str = "{99999999-9999-4999-8999-999999999999}";

fn issuer(slug: &str) -> String {
    format!("https://api.bitbucket.org/2.0/workspaces/{slug}/pipelines-config/identity/oidc")
}

const AUDIENCE: &str = "ari:cloud:bitbucket::workspace/44444444-4444-4444-8444-444444444444";

fn trust_policy(slug: &str) -> String {
    let host = issuer(slug).trim_start_matches("https://").to_owned();
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{host}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {format!("{host}:aud"): AUDIENCE},
                "StringLike": {format!("{host}:sub"): format!("{REPO}:*")}
            }
        }]
    })
    .to_string()
}

/// Kills the child on drop so no emulator or moto outlives a failed test.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A spawned `keyless emulate` with two accounts and its start-up document.
struct Running {
    _guard: Guard,
    ready: Value,
    endpoint: String,
    dir: tempfile::TempDir,
}

impl Running {
    fn key(&self, account: &str) -> (String, String) {
        let a = &self.ready["accounts"][account];
        (
            a["access_key_id"].as_str().unwrap().to_owned(),
            a["secret_access_key"].as_str().unwrap().to_owned(),
        )
    }

    fn mint(&self, slug: &str, repo: &str) -> String {
        let body = serde_json::json!({"workspace": slug, "workspace_uuid": WORKSPACE_UUID, "repository_uuid": repo});
        let value = crate::support::http::post(&format!("{}/_keyless/mint", self.endpoint))
            .json(&body)
            .send()
            .success()
            .json();
        value["token"].as_str().unwrap().to_owned()
    }

    /// Writes a token file (0600) and returns its path.
    fn token_file(&self, name: &str, token: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, token).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        path
    }
}

fn spawn_emulator(extra: &[&str]) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let ready_file = dir.path().join("ready.json");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .args([
            "emulate",
            "--listen",
            "127.0.0.1:0",
            "--account",
            ACCOUNT,
            "--account",
            OTHER_ACCOUNT,
            "--ready-file",
        ])
        .arg(&ready_file)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = Guard(child);
    let ready = emulate_process::wait_ready(&ready_file);
    // The same document is printed on stdout.
    let mut printed = String::new();
    let mut reader = BufReader::new(stdout);
    while serde_json::from_str::<Value>(&printed).is_err() {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "stdout ended before the start-up JSON was complete"
        );
        printed.push_str(&line);
    }
    assert_eq!(serde_json::from_str::<Value>(&printed).unwrap(), ready);
    let endpoint = ready["endpoint"].as_str().unwrap().to_owned();
    Running {
        _guard: guard,
        ready,
        endpoint,
        dir,
    }
}

#[test]
fn emulate_prints_and_writes_the_ready_document_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let ready_file = dir.path().join("ready.json");
    let state = dir.path().join("state.json");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .args(["emulate", "--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready_file)
        .arg("--state")
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready_file.exists() {
        assert!(Instant::now() < deadline, "no ready file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let ready: Value =
        serde_json::from_str(&std::fs::read_to_string(&ready_file).unwrap()).unwrap();
    let accounts = ready["accounts"].as_object().unwrap();
    assert_eq!(
        accounts.keys().collect::<Vec<_>>(),
        vec!["123456789012"],
        "one default account"
    );
    let account = &accounts["123456789012"];
    assert!(
        account["access_key_id"]
            .as_str()
            .unwrap()
            .starts_with("AKIA")
    );
    assert_eq!(account["secret_access_key"].as_str().unwrap().len(), 40);
    let endpoint = ready["endpoint"].as_str().unwrap();
    assert!(endpoint.starts_with("http://127.0.0.1:"));
    // Accepting connections by the time the file exists.
    TcpStream::connect(endpoint.trim_start_matches("http://")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&ready_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    #[cfg(unix)]
    {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "emulate did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{status:?}");
        assert!(
            !ready_file.exists(),
            "the ready file is removed on shutdown"
        );
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        // Logs never carry the admin secret.
        assert!(!stderr.contains(account["secret_access_key"].as_str().unwrap()));
    }
    let _ = child.kill();
}

#[test]
fn emulate_rejects_bad_flags_with_a_clear_error() {
    let output = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .args(["emulate", "--listen", "127.0.0.1:0", "--account", "12345"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`12345` is not an AWS account id: use exactly 12 digits"),
        "{stderr}"
    );
}

fn aws(cli: &Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut command = Command::new(cli);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent");
    command
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1");
    command.env("AWS_PAGER", "");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

#[test]
fn aws_cli_creates_assumes_and_is_denied() {
    let Some(cli) = venv_tool("aws") else { return };
    let emu = spawn_emulator(&[]);
    let (key, secret) = emu.key(ACCOUNT);
    let admin = [
        ("AWS_ACCESS_KEY_ID", key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
        ("AWS_ENDPOINT_URL", emu.endpoint.as_str()),
    ];
    // (a) IAM: provider and role.
    let out = aws(
        &cli,
        &admin,
        &[
            "iam",
            "create-open-id-connect-provider",
            "--url",
            &issuer("cli"),
            "--client-id-list",
            AUDIENCE,
            "--output",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        created["OpenIDConnectProviderArn"],
        format!(
            "arn:aws:iam::{ACCOUNT}:oidc-provider/api.bitbucket.org/2.0/workspaces/cli/pipelines-config/identity/oidc"
        )
    );
    let out = aws(
        &cli,
        &admin,
        &[
            "iam",
            "create-role",
            "--role-name",
            "deploy",
            "--assume-role-policy-document",
            &trust_policy("cli"),
            "--output",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let role: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The CLI decodes IAM's URL-encoded policy document back into JSON.
    assert_eq!(
        role["Role"]["AssumeRolePolicyDocument"],
        serde_json::from_str::<Value>(&trust_policy("cli")).unwrap()
    );
    // (b) web identity from the environment.
    let token = emu.token_file("token", &emu.mint("cli", REPO));
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/deploy");
    let web = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap()),
        ("AWS_ROLE_ARN", role_arn.as_str()),
        ("AWS_ROLE_SESSION_NAME", "aws-cli"),
        ("AWS_ENDPOINT_URL", emu.endpoint.as_str()),
    ];
    let out = aws(
        &cli,
        &web,
        &["sts", "get-caller-identity", "--output", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let who: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        who["Arn"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/deploy/aws-cli")
    );
    assert_eq!(who["Account"], ACCOUNT);
    // (c) a repository the trust policy does not name.
    let other = emu.token_file("other", &emu.mint("cli", OTHER_REPO));
    let denied = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", other.to_str().unwrap()),
        web[1],
        web[2],
        web[3],
    ];
    let out = aws(&cli, &denied, &["sts", "get-caller-identity"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity"),
        "{stderr}"
    );
}

const BOTO3_SCRIPT: &str = r#"
import json, os, sys
import boto3
from botocore.exceptions import ClientError

endpoint, key, secret, issuer, trust, mode = sys.argv[1:7]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id=key, aws_secret_access_key=secret)
out = {}
arn = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=[os.environ["AUDIENCE"]])["OpenIDConnectProviderArn"]
out["provider_arn"] = arn
out["provider_url"] = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["Url"]
role = iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=trust, MaxSessionDuration=7200)["Role"]
out["role_arn"] = role["Arn"]
out["trust_round_trips"] = iam.get_role(RoleName="deploy")["Role"]["AssumeRolePolicyDocument"] == json.loads(trust)
iam.put_role_policy(RoleName="deploy", PolicyName="p", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}))
out["inline"] = iam.list_role_policies(RoleName="deploy")["PolicyNames"]
try:
    iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=trust)
except ClientError as e:
    out["duplicate"] = e.response["Error"]["Code"]
try:
    iam.get_role(RoleName="missing")
except ClientError as e:
    out["missing"] = e.response["Error"]["Code"]
if mode == "full":
    # Credentials from AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN + AWS_ENDPOINT_URL, as in a pipeline step.
    for name in ("good", "bad"):
        os.environ["AWS_WEB_IDENTITY_TOKEN_FILE"] = os.environ["TOKEN_" + name.upper()]
        session = boto3.Session(region_name="us-east-1")
        try:
            out["who_" + name] = session.client("sts").get_caller_identity()["Arn"]
        except ClientError as e:
            out["who_" + name] = e.response["Error"]["Code"] + ": " + e.response["Error"]["Message"]
print(json.dumps(out))
"#;

fn run_boto3(python: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut command = Command::new(python);
    command.arg("-c").arg(BOTO3_SCRIPT).args(args).env_clear();
    command
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent");
    command
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AUDIENCE", AUDIENCE);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "boto3 script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn boto3_creates_assumes_and_is_denied() {
    let Some(python) = venv_tool("python") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let (key, secret) = emu.key(ACCOUNT);
    let good = emu.token_file("good", &emu.mint("boto", REPO));
    let bad = emu.token_file("bad", &emu.mint("boto", OTHER_REPO));
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/deploy");
    let out = run_boto3(
        &python,
        &[
            &emu.endpoint,
            &key,
            &secret,
            &issuer("boto"),
            &trust_policy("boto"),
            "full",
        ],
        &[
            ("AWS_ROLE_ARN", &role_arn),
            ("AWS_ROLE_SESSION_NAME", "boto3"),
            ("AWS_ENDPOINT_URL", &emu.endpoint),
            ("TOKEN_GOOD", good.to_str().unwrap()),
            ("TOKEN_BAD", bad.to_str().unwrap()),
        ],
    );
    assert_eq!(
        out["provider_url"],
        "api.bitbucket.org/2.0/workspaces/boto/pipelines-config/identity/oidc"
    );
    assert_eq!(out["role_arn"], role_arn);
    assert_eq!(out["trust_round_trips"], true);
    assert_eq!(out["inline"], serde_json::json!(["p"]));
    assert_eq!(out["duplicate"], "EntityAlreadyExists");
    assert_eq!(out["missing"], "NoSuchEntity");
    assert_eq!(
        out["who_good"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/deploy/boto3")
    );
    assert_eq!(
        out["who_bad"],
        "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"
    );
}

/// moto_server on a free port, killed on drop.
fn spawn_moto(moto: &Path) -> (Guard, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not listen within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (guard, format!("http://127.0.0.1:{port}"))
}

#[test]
fn the_same_iam_calls_succeed_against_moto() {
    let (Some(python), Some(moto)) = (venv_tool("python"), venv_tool("moto_server")) else {
        return;
    };
    let (_moto, endpoint) = spawn_moto(&moto);
    let out = run_boto3(
        &python,
        &[
            &endpoint,
            "testing",
            "testing",
            &issuer("moto"),
            &trust_policy("moto"),
            "iam-only",
        ],
        &[],
    );
    assert_eq!(
        out["role_arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/deploy")
    );
    assert_eq!(
        out["provider_url"],
        "api.bitbucket.org/2.0/workspaces/moto/pipelines-config/identity/oidc"
    );
    assert_eq!(out["trust_round_trips"], true);
    assert_eq!(out["duplicate"], "EntityAlreadyExists");
    // The Rust SDK's IAM calls against moto as well.
    rust_iam_calls(&endpoint, "testing", "testing", "moto-rust");
}

/// IAM through the AWS SDK for Rust: provider, role, read-back. Returns the role ARN.
fn rust_iam_calls(endpoint: &str, key: &str, secret: &str, slug: &str) -> String {
    use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(key, secret, None, None, "test"))
            .build();
        let iam = aws_sdk_iam::Client::from_conf(config);
        let provider = iam
            .create_open_id_connect_provider()
            .url(issuer(slug))
            .client_id_list(AUDIENCE)
            .send()
            .await
            .unwrap();
        let provider_arn = provider.open_id_connect_provider_arn().unwrap().to_owned();
        let got = iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(&provider_arn)
            .send()
            .await
            .unwrap();
        assert_eq!(got.url(), Some(issuer(slug).trim_start_matches("https://")));
        assert_eq!(got.client_id_list(), [AUDIENCE.to_owned()]);
        let role_name = format!("deploy-{slug}");
        let role = iam
            .create_role()
            .role_name(&role_name)
            .assume_role_policy_document(trust_policy(slug))
            .send()
            .await
            .unwrap();
        let role = role.role().unwrap();
        assert!(role.role_id().starts_with("ARO"), "{}", role.role_id());
        let listed = iam.list_open_id_connect_providers().send().await.unwrap();
        assert!(
            listed
                .open_id_connect_provider_list()
                .iter()
                .any(|p| p.arn() == Some(provider_arn.as_str()))
        );
        let error = iam
            .get_role()
            .role_name("missing")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error.into_service_error().meta().code(),
            Some("NoSuchEntity")
        );
        role.arn().to_owned()
    })
}

/// The Rust SDK's web-identity provider reads the environment, so it runs in a child process (this same test
/// binary, filtered to `rust_sdk_child`) with the variables a pipeline step would have: the other tests of this
/// binary share its process, whose environment stays as it is.
#[test]
fn rust_sdk_creates_assumes_and_is_denied() {
    let emu = spawn_emulator(&[]);
    let (key, secret) = emu.key(ACCOUNT);
    let role_arn = rust_iam_calls(&emu.endpoint, &key, &secret, "rust");
    let good = emu.token_file("good", &emu.mint("rust", REPO));
    let bad = emu.token_file("bad", &emu.mint("rust", OTHER_REPO));
    for (token, expect) in [
        (
            &good,
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/deploy-rust/rust-sdk"),
        ),
        (
            &bad,
            "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity".to_owned(),
        ),
    ] {
        // libtest names a test by its module path without the crate: `emulate_clients::rust_sdk_child`.
        let (_, module) = module_path!().split_once("::").unwrap();
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                &format!("{module}::rust_sdk_child"),
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_PROFILE")
            .env("KEYLESS_RUST_SDK_CHILD", "1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_WEB_IDENTITY_TOKEN_FILE", token)
            .env("AWS_ROLE_ARN", &role_arn)
            .env("AWS_ROLE_SESSION_NAME", "rust-sdk")
            .env("AWS_ENDPOINT_URL", &emu.endpoint)
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("RESULT={expect}\n")),
            "expected {expect}; got {stdout}"
        );
    }
}

#[test]
fn rust_sdk_child() {
    if std::env::var("KEYLESS_RUST_SDK_CHILD").as_deref() != Ok("1") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        let sts = aws_sdk_sts::Client::new(&config);
        match sts.get_caller_identity().send().await {
            Ok(who) => who.arn().unwrap_or_default().to_owned(),
            Err(error) => {
                // The credential provider's failure carries STS's AssumeRoleWithWebIdentity error as a source.
                use aws_sdk_sts::error::ProvideErrorMetadata as _;
                use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;
                let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
                while let Some(e) = source {
                    if let Some(sdk) = e.downcast_ref::<aws_sdk_sts::error::SdkError<AssumeRoleWithWebIdentityError>>()
                        && let Some(service) = sdk.as_service_error()
                    {
                        return format!("{}: {}", service.code().unwrap_or_default(), service.message().unwrap_or_default());
                    }
                    source = e.source();
                }
                format!("unexpected error: {}", aws_sdk_sts::error::DisplayErrorContext(&error))
            }
        }
    });
    println!("RESULT={result}");
}
