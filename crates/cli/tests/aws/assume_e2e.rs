//! End-to-end tests of `keyless assume / env / credential-process / configure / doctor` against the in-process
//! emulator: every command, role chaining across two accounts, session policies, the AWS CLI consuming the
//! profile and the credential process, and each pain-point error with its diagnosis.
#![allow(clippy::unwrap_used)]

use crate::support::assume as support;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
use support::*;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Who the credentials in a `keyless env --format json` document are, per GetCallerIdentity.
fn whoami(fixture: &Fixture, vars: &serde_json::Value) -> String {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(vars["AWS_REGION"].as_str().unwrap().to_owned()))
        .endpoint_url(&fixture.endpoint)
        .credentials_provider(Credentials::new(
            vars["AWS_ACCESS_KEY_ID"].as_str().unwrap(),
            vars["AWS_SECRET_ACCESS_KEY"].as_str().unwrap(),
            vars["AWS_SESSION_TOKEN"].as_str().map(str::to_owned),
            None,
            "test",
        ))
        .build();
    let client = aws_sdk_sts::Client::from_conf(config);
    fixture
        .runtime
        .block_on(client.get_caller_identity().send())
        .unwrap()
        .arn()
        .unwrap()
        .to_owned()
}

fn env_json(
    fixture: &Fixture,
    home: &std::path::Path,
    token: &str,
    args: &[&str],
) -> serde_json::Value {
    let output = fixture
        .keyless(token, home)
        .arg("env")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn assume_runs_the_command_with_credentials_and_passes_its_exit_code() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let token = fixture.token(false, None);
    let script = r#"printf '%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_REGION" "$AWS_DEFAULT_REGION" "$AWS_CREDENTIAL_EXPIRATION"; test -n "$AWS_SECRET_ACCESS_KEY" && test -n "$AWS_SESSION_TOKEN" && exit 7"#;
    let output = fixture
        .keyless(&token, home.path())
        .args(["assume", "--", "sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("ASIA"), "{out}");
    assert_eq!(&lines[1..3], ["eu-west-1", "eu-west-1"]);
    assert!(
        time::OffsetDateTime::parse(lines[3], &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{out}"
    );
    assert!(lines[3].ends_with('Z'));

    // Command not found → 127, like a shell.
    let output = fixture
        .keyless(&token, home.path())
        .args(["assume", "--", "no-such-command-keyless"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(127));
}

#[cfg(unix)]
#[test]
fn assume_forwards_signals_to_the_command() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let token = fixture.token(false, None);
    let mut command = fixture.keyless(&token, home.path());
    let mut child = command
        .args([
            "assume",
            "--",
            "sh",
            "-c",
            "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the command did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(42));
}

#[test]
fn env_formats_carry_working_credentials_with_the_build_session_name() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let token = fixture.token(false, None);
    let vars = env_json(&fixture, home.path(), &token, &[]);
    assert_eq!(vars.as_object().unwrap().len(), 6);
    let arn = whoami(&fixture, &vars);
    assert_eq!(
        arn,
        format!(
            "arn:aws:sts::{ACCOUNT_A}:assumed-role/deploy/website-42-5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
        )
    );

    let sh = fixture
        .keyless(&token, home.path())
        .arg("env")
        .output()
        .unwrap();
    let script = format!("{}printf %s \"$AWS_DEFAULT_REGION\"", stdout(&sh));
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "eu-west-1");
    for (format, needle) in [
        ("fish", "set -gx AWS_ACCESS_KEY_ID 'ASIA"),
        ("dotenv", "AWS_ACCESS_KEY_ID=ASIA"),
    ] {
        let output = fixture
            .keyless(&token, home.path())
            .args(["env", "--format", format])
            .output()
            .unwrap();
        assert!(
            stdout(&output).contains(needle),
            "{format}: {}",
            stdout(&output)
        );
    }
}

#[test]
fn credential_process_prints_version_1_json() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let output = fixture
        .keyless(&fixture.token(false, None), home.path())
        .args(["credential-process", "--duration", "15m"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["Version"], 1);
    assert!(doc["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    assert!(doc["SecretAccessKey"].is_string() && doc["SessionToken"].is_string());
    assert_eq!(doc["AccountId"], ACCOUNT_A);
    let expiration = time::OffsetDateTime::parse(
        doc["Expiration"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = expiration - time::OffsetDateTime::now_utc();
    assert!(
        left.whole_seconds() > 800 && left.whole_seconds() <= 900,
        "{left}"
    );
}

#[test]
fn role_chaining_into_a_second_account_and_session_policies() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let token = fixture.token(false, None);
    let vars = env_json(
        &fixture,
        home.path(),
        &token,
        &[
            "--chain",
            &role(ACCOUNT_B, "target"),
            "--allowed-account-ids",
            ACCOUNT_B,
        ],
    );
    assert!(
        whoami(&fixture, &vars)
            .starts_with(&format!("arn:aws:sts::{ACCOUNT_B}:assumed-role/target/"))
    );

    let policy = home.path().join("policy.json");
    std::fs::write(&policy, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#).unwrap();
    let vars = env_json(
        &fixture,
        home.path(),
        &token,
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--policy-arn",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
        ],
    );
    assert!(whoami(&fixture, &vars).contains(":assumed-role/deploy/"));
    let vars = env_json(
        &fixture,
        home.path(),
        &token,
        &[
            "--chain",
            &role(ACCOUNT_B, "target"),
            "--policy",
            policy.to_str().unwrap(),
        ],
    );
    assert!(whoami(&fixture, &vars).contains(":assumed-role/target/"));

    // A syntactically valid JSON that is not a valid policy is refused by STS and explained.
    std::fs::write(&policy, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"s3:GetObject","Resource":"*"}]}"#).unwrap();
    let output = fixture
        .keyless(&token, home.path())
        .args(["env", "--policy", policy.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("MalformedPolicyDocument") && stderr(&output).contains("--policy"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn chain_into_a_role_that_does_not_trust_the_previous_one() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let output = fixture
        .keyless(&fixture.token(false, None), home.path())
        .args(["env", "--chain", &role(ACCOUNT_B, "closed")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(
        err.contains("AssumeRole") && err.contains("AccessDenied"),
        "{err}"
    );
    assert!(
        err.contains(&format!("arn:aws:sts::{ACCOUNT_A}:assumed-role/deploy/"))
            && err.contains("sts:AssumeRole"),
        "{err}"
    );
}

// ---- The pain-point table (bitbucket.md §7), one test per row that concerns step credentials ----

#[test]
fn pain_missing_oidc_true() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let output = fixture
        .keyless("", home.path())
        .env_remove("BITBUCKET_STEP_OIDC_TOKEN")
        .env("AWS_OIDC_ROLE_ARN", role(ACCOUNT_A, "deploy"))
        .arg("env")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("add `oidc: true` to this step"), "{err}");
    assert!(stdout(&output).is_empty());
}

#[test]
fn pain_missing_region_and_role() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let output = fixture
        .keyless(&fixture.token(false, None), home.path())
        .env_remove("AWS_REGION")
        .env_remove("AWS_ROLE_ARN")
        .arg("env")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("no AWS region") && err.contains("AWS_DEFAULT_REGION"),
        "{err}"
    );
    assert!(
        err.contains("no role to assume") && err.contains("AWS_ROLE_ARN"),
        "{err}"
    );
}

#[test]
fn pain_sub_mismatch_deployment_environment() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    // The prod role only trusts deployment steps; this token is from a plain step.
    let output = fixture
        .keyless(&fixture.token(false, None), home.path())
        .args(["env", "--role-arn", &role(ACCOUNT_A, "prod")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(
        err.contains("AccessDenied")
            && err.contains("Not authorized to perform sts:AssumeRoleWithWebIdentity"),
        "{err}"
    );
    assert!(err.contains(&format!("sub `{REPO_UUID}:{{")), "{err}");
    assert!(err.contains("not a deployment step"), "{err}");
    assert!(err.contains("aws:SourceIp"), "{err}");
    // And the deployment step's token passes.
    let output = fixture
        .keyless(&fixture.token(true, None), home.path())
        .args(["env", "--role-arn", &role(ACCOUNT_A, "prod")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn pain_incorrect_audience() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    // Same workspace slug (so the issuer matches the provider), another workspace UUID (so another audience).
    let mut request = keyless_oidc::MintRequest::new(
        WORKSPACE,
        "{99999999-1b4c-4d2e-9f60-0a1b2c3d4e5f}".parse().unwrap(),
        REPO_UUID.parse().unwrap(),
    );
    request.audiences = None;
    let token = fixture
        .emulator
        .as_ref()
        .unwrap()
        .mint(&request)
        .unwrap()
        .token
        .expose()
        .to_owned();
    let output = fixture
        .keyless(&token, home.path())
        .arg("env")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(err.contains("Incorrect token audience"), "{err}");
    assert!(
        err.contains("ari:cloud:bitbucket::workspace/99999999-1b4c-4d2e-9f60-0a1b2c3d4e5f"),
        "{err}"
    );
    assert!(
        err.contains("add-client-id-to-open-id-connect-provider"),
        "{err}"
    );
}

#[test]
fn pain_custom_audiences_make_aud_an_array() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let token = fixture.token(false, Some(vec!["https://gateway.example.com".to_owned()]));
    let output = fixture
        .keyless(&token, home.path())
        .args(["doctor", "--offline"])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(
        out.contains(&format!(
            "aud [`{}`, `https://gateway.example.com`]",
            audience()
        )),
        "{out}"
    );
    // Whatever STS decides for arrays, keyless either succeeds or explains with the array note.
    let output = fixture
        .keyless(&token, home.path())
        .arg("env")
        .output()
        .unwrap();
    if !output.status.success() {
        assert!(
            stderr(&output).contains("custom audiences"),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn pain_no_provider_for_issuer() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let request = keyless_oidc::MintRequest::new(
        "renamed-workspace",
        WORKSPACE_UUID.parse().unwrap(),
        REPO_UUID.parse().unwrap(),
    );
    let token = fixture
        .emulator
        .as_ref()
        .unwrap()
        .mint(&request)
        .unwrap()
        .token
        .expose()
        .to_owned();
    let output = fixture
        .keyless(&token, home.path())
        .arg("env")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(err.contains("No OpenIDConnect provider found"), "{err}");
    assert!(err.contains("create the provider `https://api.bitbucket.org/2.0/workspaces/renamed-workspace/pipelines-config/identity/oidc` in account 111111111111"), "{err}");
}

#[test]
fn pain_expired_token_in_a_long_step() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let output = fixture
        .keyless(&fixture.expired_token(), home.path())
        .arg("env")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("expired 1h") && err.contains("never refreshes"),
        "{err}"
    );
}

#[test]
fn pain_duration_longer_than_the_role_allows() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let output = fixture
        .keyless(&fixture.token(false, None), home.path())
        .args(["env", "--duration", "3h"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(
        err.contains("MaxSessionDuration") && err.contains("--duration 3h"),
        "{err}"
    );
    let output = fixture
        .keyless(&fixture.token(false, None), home.path())
        .args(["env", "--duration", "2h"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn wrong_account_and_unreachable_endpoint() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let token = fixture.token(false, None);
    let output = fixture
        .keyless(&token, home.path())
        .args(["env", "--allowed-account-ids", ACCOUNT_B])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--allowed-account-ids"));

    let start = Instant::now();
    let output = fixture
        .keyless(&token, home.path())
        .args([
            "env",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--timeout",
            "2s",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(
        err.contains("could not reach STS") || err.contains("gave up"),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the --timeout budget was not honoured"
    );
}

#[test]
fn configure_writes_a_profile_the_aws_cli_uses() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let token = fixture.token(false, None);
    let config = home.path().join("aws-config");
    std::fs::write(
        &config,
        "# team settings\n[profile other]\nregion = us-east-1\n",
    )
    .unwrap();
    let output = fixture
        .keyless(&token, home.path())
        .env("AWS_CONFIG_FILE", &config)
        .args(["configure", "--profile", "ci"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.starts_with("# team settings\n[profile other]\nregion = us-east-1\n"),
        "{text}"
    );
    assert!(text.contains("[profile ci]  # written by keyless\nrole_arn = arn:aws:iam::111111111111:role/deploy\nweb_identity_token_file = "), "{text}");
    let token_file = home.path().join(".aws/keyless/web-identity-token-ci");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(token_file.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
    }
    // No clobbering without --overwrite.
    let output = fixture
        .keyless(&token, home.path())
        .env("AWS_CONFIG_FILE", &config)
        .args(["configure", "--profile", "ci"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--overwrite"));
    // Never inside the clone directory.
    let output = fixture
        .keyless(&token, home.path())
        .env("AWS_CONFIG_FILE", &config)
        .env("KEYLESS_TOKEN_DIR", home.path().join("clone/.aws"))
        .args(["configure", "--profile", "x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("clone directory"));

    let Some(aws) = crate::support::venv_tool("aws") else {
        return;
    };
    let output = std::process::Command::new(&aws)
        .args([
            "sts",
            "get-caller-identity",
            "--profile",
            "ci",
            "--output",
            "json",
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
        .env("AWS_ENDPOINT_URL_STS", &fixture.endpoint)
        .output()
        .unwrap();
    assert!(output.status.success(), "aws: {}", stderr(&output));
    let identity: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(identity["Account"], ACCOUNT_A);
    assert!(
        identity["Arn"].as_str().unwrap().starts_with(&format!(
            "arn:aws:sts::{ACCOUNT_A}:assumed-role/deploy/website-42-"
        )),
        "{identity}"
    );

    // The documented after-script line removes exactly what configure wrote, and nothing is left.
    let cleanup = |home: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_keyless"))
            .args(["configure", "--cleanup", "--profile", "ci"])
            .env_clear()
            .env("HOME", home)
            .env("AWS_CONFIG_FILE", &config)
            .output()
            .unwrap()
    };
    let output = cleanup(home.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!token_file.exists() && !token_file.parent().unwrap().exists());
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "# team settings\n[profile other]\nregion = us-east-1\n"
    );
    let output = cleanup(home.path());
    assert!(output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("nothing to clean up"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    // Put the profile back for the credential_process part below.
    let output = fixture
        .keyless(&token, home.path())
        .env("AWS_CONFIG_FILE", &config)
        .args(["configure", "--profile", "ci"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));

    // The same CLI through credential_process, chained into account B.
    let keyless = std::path::PathBuf::from(env!("CARGO_BIN_EXE_keyless"));
    let cp_config = home.path().join("cp-config");
    std::fs::write(
        &cp_config,
        format!(
            "[profile cp]\nregion = eu-west-1\ncredential_process = {} credential-process --region eu-west-1 --role-arn {} --chain {}\n",
            keyless.display(),
            role(ACCOUNT_A, "deploy"),
            role(ACCOUNT_B, "target")
        ),
    )
    .unwrap();
    let output = std::process::Command::new(&aws)
        .args([
            "sts",
            "get-caller-identity",
            "--profile",
            "cp",
            "--output",
            "json",
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", &cp_config)
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
        .env("AWS_ENDPOINT_URL_STS", &fixture.endpoint)
        .env("BITBUCKET_STEP_OIDC_TOKEN", &token)
        .output()
        .unwrap();
    assert!(output.status.success(), "aws: {}", stderr(&output));
    let identity: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(identity["Account"], ACCOUNT_B, "{identity}");
}

#[test]
fn doctor_passes_online_and_names_failures_with_fixes() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let token = fixture.token(false, None);
    let output = fixture
        .keyless(&token, home.path())
        .args(["doctor", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ok"], true);
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "pipelines",
            "token",
            "region",
            "role-arn",
            "token-file",
            "trust-policy",
            "assume"
        ]
    );
    let assume = &report["checks"][6];
    assert_eq!(assume["status"], "pass");
    assert!(
        assume["detail"]
            .as_str()
            .unwrap()
            .contains("assumed-role/deploy/"),
        "{assume}"
    );

    let output = fixture
        .keyless(&token, home.path())
        .args(["doctor", "--role-arn", &role(ACCOUNT_A, "prod")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(
        out.contains("✗ assume the role and call GetCallerIdentity")
            && out.contains("fix: make the trust policy"),
        "{out}"
    );
    assert!(out.contains("✓ region set: eu-west-1"), "{out}");
}

// ---- Session tags, source identity and external IDs on --chain hops (issue 17, item 8) ----

/// `keyless env --format json` with the step's variables for `--default-tags` (and `extra` variables).
fn tagged_env(
    fixture: &Fixture,
    home: &std::path::Path,
    extra: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    let mut cmd = fixture.keyless(&fixture.token(false, None), home);
    cmd.env("BITBUCKET_REPO_FULL_NAME", "acme/website")
        .env("BITBUCKET_BRANCH", "main")
        .env(
            "BITBUCKET_COMMIT",
            "0123456789abcdef0123456789abcdef01234567",
        );
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.arg("env")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap()
}

#[test]
fn tags_source_identity_and_external_ids_on_chain_hops() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let (tagged, next) = (role(ACCOUNT_B, "tagged"), role(ACCOUNT_B, "tagged-next"));
    // Two hops: the first gets the tags, the source identity and the external ID; the second is allowed only
    // because Repository is transitive and the source identity persists (its trust policy asks for both).
    let output = tagged_env(
        &fixture,
        home.path(),
        &[],
        &[
            "--chain",
            &tagged,
            "--chain",
            &next,
            "--default-tags",
            "--tag",
            "Team=payments",
            "--transitive-tag",
            "Repository",
            "--source-identity",
            "alice",
            "--external-id",
            "partner-7f3a",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let vars: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        whoami(&fixture, &vars).starts_with(&format!(
            "arn:aws:sts::{ACCOUNT_B}:assumed-role/tagged-next/"
        )),
        "{vars}"
    );
    assert_eq!(
        vars["SessionTags"],
        serde_json::json!({
            "Team": "payments",
            "Repository": "acme/website",
            "Branch": "main",
            "Commit": "0123456789abcdef0123456789abcdef01234567",
            "BuildNumber": "42",
            "StepUuid": "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
        })
    );
    assert_eq!(vars["TransitiveTagKeys"], serde_json::json!(["Repository"]));
    assert_eq!(vars["SourceIdentity"], "alice");
    assert!(vars.get("DroppedTags").is_none(), "{vars}");

    // The external ID is the first hop's: without it, or given for the second hop only, the first hop is refused.
    let output = tagged_env(
        &fixture,
        home.path(),
        &[],
        &[
            "--chain",
            &tagged,
            "--chain",
            &next,
            "--transitive-tag",
            "Repository=acme/website",
            "--source-identity",
            "alice",
            "--external-id",
            "",
            "--external-id",
            "partner-7f3a",
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("sts:AssumeRole"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn tags_without_chain_or_trust_are_explained() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    // A web-identity call cannot carry tags: exit 2 before anything is asked.
    let output = tagged_env(
        &fixture,
        home.path(),
        &[],
        &["--tag", "Team=payments", "--source-identity", "alice"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("--tag, --source-identity need --chain"),
        "{err}"
    );
    // A bad tag is refused before any call, naming the flag.
    let output = tagged_env(
        &fixture,
        home.path(),
        &[],
        &["--chain", &role(ACCOUNT_B, "any-tags"), "--tag", "Team=#1"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--tag `Team=#1`"),
        "{}",
        stderr(&output)
    );
    // A role whose trust policy lacks sts:TagSession: AWS's AccessDenied, with the fix.
    let output = tagged_env(
        &fixture,
        home.path(),
        &[],
        &[
            "--chain",
            &role(ACCOUNT_B, "untagged"),
            "--tag",
            "Team=payments",
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("is not authorized to perform: sts:TagSession"),
        "{err}"
    );
    assert!(err.contains("add \"sts:TagSession\""), "{err}");
}

#[test]
fn tags_too_large_drop_the_optional_defaults_and_retry() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let branch = "b".repeat(250);
    let repo = format!("acme/{}", "r".repeat(195));
    let output = tagged_env(
        &fixture,
        home.path(),
        &[
            ("BITBUCKET_BRANCH", &branch),
            ("BITBUCKET_REPO_FULL_NAME", &repo),
        ],
        &[
            "--chain",
            &role(ACCOUNT_B, "any-tags"),
            "--default-tags",
            "--tag",
            "Team=payments",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let vars: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let dropped: Vec<&str> = vars["DroppedTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // Least useful first; what is left fits, and the flag's tag is never dropped.
    assert_eq!(
        dropped[..3],
        ["StepUuid", "BuildNumber", "Commit"],
        "{vars}"
    );
    assert_eq!(vars["SessionTags"]["Team"], "payments");
    assert!(
        stderr(&output).contains("PackedPolicyTooLarge"),
        "{}",
        stderr(&output)
    );
    assert!(whoami(&fixture, &vars).contains(":assumed-role/any-tags/"));
    // With only flag tags too large, nothing can be dropped: AWS's error and the fix.
    let big = format!("Big={}", "v".repeat(256));
    let mut args = vec!["--chain".to_owned(), role(ACCOUNT_B, "any-tags")];
    for i in 0..3 {
        args.extend(["--tag".to_owned(), big.replace("Big", &format!("Big{i}"))]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = tagged_env(&fixture, home.path(), &[], &args);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("Packed size of session tags consumes"),
        "{err}"
    );
    assert!(err.contains("fewer or shorter --tag"), "{err}");
}
