//! `--env NAME` takes role and region from keyless.yml, and refusals are explained by evaluating the role's
//! intended trust policy offline (doctor's `trust-policy` check and the AccessDenied note).
#![allow(clippy::unwrap_used)]

#[path = "assume_support.rs"]
mod support;

use support::*;

fn keyless_yml(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("keyless.yml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nworkspace:\n  slug: {WORKSPACE}\n  uuid: \"{WORKSPACE_UUID}\"\nenvironments:\n  production:\n    account: \"{ACCOUNT_A}\"\n    region: eu-central-1\n    branches: [main]\n    role:\n      name: prod\n      managed_policies: [ReadOnlyAccess]\nrepositories:\n  website:\n    uuid: \"{REPO_UUID}\"\n    deployments:\n      production: \"{ENV_UUID}\"\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn env_takes_role_and_region_from_keyless_yml() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let config = keyless_yml(home.path());
    let output = fixture
        .keyless(&fixture.token(true, None), home.path())
        .env("KEYLESS_CONFIG", &config)
        .env_remove("AWS_REGION")
        .env_remove("AWS_ROLE_ARN")
        .args(["env", "--env", "production", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let vars: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(vars["AWS_REGION"], "eu-central-1");

    // The deployment environment variable Bitbucket sets picks the environment by itself.
    let output = fixture
        .keyless(&fixture.token(true, None), home.path())
        .env("KEYLESS_CONFIG", &config)
        .env("BITBUCKET_DEPLOYMENT_ENVIRONMENT", "production")
        .env_remove("AWS_REGION")
        .env_remove("AWS_ROLE_ARN")
        .args(["env", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = fixture
        .keyless(&fixture.token(true, None), home.path())
        .env("KEYLESS_CONFIG", &config)
        .args(["env", "--env", "staging"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("no environment `staging` (it has: production)")
    );
}

#[test]
fn refusals_name_the_failing_trust_condition_from_keyless_yml() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let config = keyless_yml(home.path());
    // A plain (non-deployment) step cannot assume the production role.
    let token = fixture.token(false, None);
    let output = fixture
        .keyless(&token, home.path())
        .env("KEYLESS_CONFIG", &config)
        .args(["env", "--env", "production"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains(
            "note: keyless.yml's trust policy for arn:aws:iam::111111111111:role/prod: DENY"
        ),
        "{err}"
    );
    assert!(err.contains(":sub"), "{err}");

    let output = fixture
        .keyless(&token, home.path())
        .env("KEYLESS_CONFIG", &config)
        .args([
            "doctor",
            "--offline",
            "--env",
            "production",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "trust-policy")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "fail", "{check}");
    assert!(check["fix"].is_string());

    let output = fixture
        .keyless(&fixture.token(true, None), home.path())
        .env("KEYLESS_CONFIG", &config)
        .args([
            "doctor",
            "--offline",
            "--env",
            "production",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "trust-policy")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "pass", "{check}");
}
