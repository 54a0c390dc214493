//! `keyless token mint --emulator URL` against the real thing: a spawned `keyless emulate`. The minted token must
//! (1) carry exactly the claims asked for (read back with `keyless token decode --format json`), (2) verify
//! against the JWKS the emulator publishes through its discovery document, and (3) be accepted by the emulator's
//! STS for a role whose trust policy names its repository and environment, while a token for another environment
//! and an expired one are refused with AWS's codes.
#![allow(clippy::unwrap_used)]

use crate::support::emulate_process;

use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const WORKSPACE: &str = "tokens";
const WORKSPACE_UUID: &str = "{5a5a5a5a-1b1b-4c2c-8d3d-4e4e4e4e4e4e}";
const REPO: &str = "{6b6b6b6b-2c2c-4d3d-9e4e-5f5f5f5f5f5f}";
const ENV: &str = "{7c7c7c7c-3d3d-4e4e-af5f-606060606060}";
const OTHER_ENV: &str = "{8d8d8d8d-4e4e-4f5f-b060-717171717171}";
const STEP: &str = "{9e9e9e9e-5f5f-4060-8171-828282828282}";
const PIPELINE: &str = "{afafafaf-6060-4171-9282-939393939393}";

fn issuer() -> String {
    format!("https://api.bitbucket.org/2.0/workspaces/{WORKSPACE}/pipelines-config/identity/oidc")
}

fn workspace_audience() -> String {
    format!(
        "ari:cloud:bitbucket::workspace/{}",
        WORKSPACE_UUID.trim_matches(['{', '}'])
    )
}

/// Kills the emulator on drop, so none outlives a failed test.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `keyless emulate` on an ephemeral port; returns it with its start-up document.
fn spawn_emulator(dir: &std::path::Path) -> (Guard, Value) {
    let ready_file = dir.join("ready.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyless"))
        .args(["emulate", "--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready_file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    emulate_process::drain_stdout(&mut child);
    let guard = Guard(child);
    let ready = emulate_process::wait_ready(&ready_file);
    (guard, ready)
}

fn keyless(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_keyless"))
        .args(args)
        .env_remove("KEYLESS_EMULATOR_URL")
        .env_remove("BITBUCKET_STEP_OIDC_TOKEN")
        .output()
        .unwrap()
}

/// `keyless token mint` with the common flags plus `extra`; returns the JWT (stdout must be the JWT alone).
fn mint(endpoint: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "token",
        "mint",
        "--emulator",
        endpoint,
        "--workspace",
        WORKSPACE,
        "--workspace-uuid",
        WORKSPACE_UUID,
        "--repository-uuid",
        REPO,
    ];
    args.extend_from_slice(extra);
    let out = keyless(&args);
    assert!(
        out.status.success(),
        "token mint failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.strip_suffix('\n').unwrap_or(&stdout);
    assert_eq!(token.split('.').count(), 3, "not a JWT alone: {stdout:?}");
    assert!(!token.contains(char::is_whitespace), "{stdout:?}");
    token.to_owned()
}

fn decode(token: &str) -> Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyless"))
        .args(["token", "decode", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), token.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn get_json(url: &str) -> Value {
    crate::support::http::get(url).send().success().json()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The STS code and message for a token, or the assumed-role ARN and the `SubjectFromWebIdentityToken`.
async fn assume(sts: &aws_sdk_sts::Client, token: &str) -> Result<(String, String), String> {
    sts.assume_role_with_web_identity()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/env-deploy"))
        .role_session_name("minted")
        .web_identity_token(token)
        .send()
        .await
        .map(|out| {
            (
                out.assumed_role_user().unwrap().arn().to_owned(),
                out.subject_from_web_identity_token().unwrap().to_owned(),
            )
        })
        .map_err(|e| {
            let e = e.into_service_error();
            format!(
                "{}: {}",
                aws_sdk_sts::error::ProvideErrorMetadata::code(&e).unwrap_or_default(),
                aws_sdk_sts::error::ProvideErrorMetadata::message(&e).unwrap_or_default()
            )
        })
}

#[test]
fn minted_tokens_carry_the_claims_verify_against_the_jwks_and_are_accepted_by_sts() {
    let dir = tempfile::tempdir().unwrap();
    let (_guard, ready) = spawn_emulator(dir.path());
    let endpoint = ready["endpoint"].as_str().unwrap().to_owned();
    let before = now();
    let token = mint(
        &endpoint,
        &[
            "--deployment-uuid",
            ENV,
            "--branch",
            "release/2.0",
            "--step-uuid",
            STEP,
            "--pipeline-uuid",
            PIPELINE,
            "--audience",
            "sts.amazonaws.com",
            "--lifetime",
            "15m",
        ],
    );

    // 1. The claims asked for, read back by `keyless token decode`.
    let decoded = decode(&token);
    let claims = &decoded["claims"];
    assert_eq!(claims["iss"], json!(issuer()));
    assert_eq!(
        claims["aud"],
        json!([workspace_audience(), "sts.amazonaws.com"])
    );
    assert_eq!(claims["sub"], json!(format!("{REPO}:{ENV}:{STEP}")));
    assert_eq!(claims["workspaceUuid"], json!(WORKSPACE_UUID));
    assert_eq!(claims["repositoryUuid"], json!(REPO));
    assert_eq!(claims["deploymentEnvironmentUuid"], json!(ENV));
    assert_eq!(claims["stepUuid"], json!(STEP));
    assert_eq!(claims["pipelineUuid"], json!(PIPELINE));
    assert_eq!(claims["branchName"], json!("release/2.0"));
    let iat = claims["iat"].as_i64().unwrap();
    assert!((before - 5..=now() + 5).contains(&iat), "iat {iat}");
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 15 * 60);
    assert_eq!(decoded["header"]["alg"], json!("RS256"));
    assert_eq!(decoded["subject"]["kind"], json!("deployment"));
    assert_eq!(decoded["subject"]["environment"], json!(ENV));
    assert_eq!(decoded["times"]["expired"], json!(false));

    // 2. The signature verifies with the keys the emulator publishes through discovery (as a relying party
    //    would fetch them: discovery document → jwks_uri).
    let path = issuer()
        .trim_start_matches("https://api.bitbucket.org")
        .to_owned();
    let discovery = get_json(&format!(
        "{endpoint}{path}/.well-known/openid-configuration"
    ));
    assert_eq!(discovery["issuer"], json!(issuer()));
    let jwks: keyless_oidc::Jwks =
        serde_json::from_value(get_json(discovery["jwks_uri"].as_str().unwrap())).unwrap();
    let verified = keyless_oidc::verify(
        &token,
        &jwks,
        now(),
        &keyless_oidc::VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(verified.subject, format!("{REPO}:{ENV}:{STEP}"));
    assert_eq!(
        verified.kid,
        decoded["header"]["kid"].as_str().unwrap(),
        "signed by the key the header names"
    );
    // A flipped signature byte must not verify (the check above can fail).
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    assert!(
        keyless_oidc::verify(
            std::str::from_utf8(&forged).unwrap(),
            &jwks,
            now(),
            &keyless_oidc::VerifyOptions::default()
        )
        .is_err()
    );

    // 3. STS accepts it for a role that trusts this repository's ENV deployments, and refuses the others.
    let admin = &ready["accounts"][ACCOUNT];
    let (admin_key, admin_secret) = (
        admin["access_key_id"].as_str().unwrap(),
        admin["secret_access_key"].as_str().unwrap(),
    );
    let host = issuer().trim_start_matches("https://").to_owned();
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{host}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {format!("{host}:aud"): workspace_audience()},
                "StringLike": {format!("{host}:sub"): format!("{REPO}:{ENV}:*")}
            }
        }]
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let other_env = mint(
        &endpoint,
        &[
            "--deployment-uuid",
            OTHER_ENV,
            "--audience",
            "sts.amazonaws.com",
        ],
    );
    let expired = mint(
        &endpoint,
        &[
            "--deployment-uuid",
            ENV,
            "--audience",
            "sts.amazonaws.com",
            "--lifetime",
            "15m",
            "--issued-at",
            &(now() - 3600).to_string(),
        ],
    );
    runtime.block_on(async {
        let iam = emulate_process::iam_client(&endpoint, admin_key, admin_secret, "us-east-1");
        // The token's `aud` is an array (workspace audience + the custom one); the provider lists the
        // workspace audience, as `keyless plan` sets it up.
        emulate_process::seed_web_identity_role(
            &iam,
            &issuer(),
            &workspace_audience(),
            "env-deploy",
            &trust,
        )
        .await;
        let sts = emulate_process::sts_client(&endpoint, "us-east-1");
        assert_eq!(
            assume(&sts, &token).await,
            Ok((
                format!("arn:aws:sts::{ACCOUNT}:assumed-role/env-deploy/minted"),
                format!("{REPO}:{ENV}:{STEP}")
            ))
        );
        assert_eq!(
            assume(&sts, &other_env).await,
            Err("AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity".to_owned())
        );
        let refused = assume(&sts, &expired).await.unwrap_err();
        assert!(
            refused.starts_with("ExpiredTokenException: Token expired"),
            "{refused}"
        );
    });
}

#[test]
fn mint_against_the_emulator_reports_its_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let (_guard, ready) = spawn_emulator(dir.path());
    let endpoint = ready["endpoint"].as_str().unwrap();
    // A slug Bitbucket would never issue: only the emulator checks it, and its reason reaches the user.
    let out = keyless(&[
        "token",
        "mint",
        "--emulator",
        endpoint,
        "--workspace",
        "Not A Slug!",
        "--workspace-uuid",
        WORKSPACE_UUID,
        "--repository-uuid",
        REPO,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refused to mint (HTTP 400)"), "{stderr}");
}
