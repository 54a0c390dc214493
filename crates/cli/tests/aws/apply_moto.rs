#![allow(clippy::unwrap_used, clippy::print_stdout)]
//! `keyless apply` and `keyless check --live` against moto_server: create, idempotence, drift, prune.

use std::path::Path;

use assert_cmd::Command as Cli;

use crate::support::Moto;

/// moto_server, with the AWS-managed policies (such as ReadOnlyAccess) that moto only knows when asked to load them.
fn start_moto() -> Option<Moto> {
    Moto::start(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")])
}

fn keyless(moto: &Moto, config: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Cli::cargo_bin("keyless")
        .unwrap()
        .args(args)
        .arg("-c")
        .arg(config)
        .args(["--endpoint-url", &moto.endpoint, "--region", "us-east-1"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/nonexistent/keyless-test")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/keyless-test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn iam(moto: &Moto) -> aws_sdk_iam::Client {
    let credentials =
        aws_sdk_iam::config::Credentials::new("testing", "testing", None, None, "test");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(&moto.endpoint)
        .load()
        .await;
    aws_sdk_iam::Client::new(&config)
}

#[test]
fn apply_is_idempotent_detects_drift_and_prunes_only_when_asked() {
    let Some(moto) = start_moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keyless.yml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workspace/moto.yml"),
        &config,
    )
    .unwrap();

    let (code, out, err) = keyless(&moto, &config, &["apply", "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("+ create OIDC provider https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"), "{out}");
    assert!(
        out.contains(
            "+ create role arn:aws:iam::123456789012:role/keyless/bitbucket-production-deploy"
        ),
        "{out}"
    );
    assert!(out.contains("Dry run: nothing changed."), "{out}");

    // Without --yes and without a terminal: refuse.
    let (code, _, err) = keyless(&moto, &config, &["apply"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("pass --yes"), "{err}");

    let (code, out, err) = keyless(&moto, &config, &["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Applied"), "{out}");

    let (code, out, err) = keyless(&moto, &config, &["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("No changes: IAM already matches"),
        "second apply must change nothing:\n{out}"
    );

    // What IAM holds is exactly the plan, so the live matrix passes.
    let (code, out, err) = keyless(&moto, &config, &["check", "--live", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let matrix: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(matrix["unintended"], 0);
    assert!(
        matrix["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["aws"] == "allow" && s["intended"] == true)
    );

    // Drift: a hand edit widens production to every repository of the workspace.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let prefix = "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";
    let widened = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::123456789012:oidc-provider/{prefix}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {format!("{prefix}:aud"): "ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11"}}}]
    });
    runtime.block_on(async {
        iam(&moto)
            .await
            .update_assume_role_policy()
            .role_name("bitbucket-production-deploy")
            .policy_document(widened.to_string())
            .send()
            .await
            .unwrap();
    });
    let (code, out, _) = keyless(&moto, &config, &["check", "--live"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("<unknown repository>") && out.contains("UNINTENDED"),
        "{out}"
    );
    let (code, out, err) = keyless(&moto, &config, &["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("~ update trust policy of role bitbucket-production-deploy"),
        "{out}"
    );
    assert!(
        out.contains(
            "+ \"{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}:{7e6d5c4b-3a2f-4e1d-9c0b-8a7f6e5d4c31}:*\""
        ),
        "{out}"
    );
    let (code, _, _) = keyless(&moto, &config, &["check", "--live"]);
    assert_eq!(code, 0);

    // The extra role leaves keyless.yml: kept without --prune, deleted with it.
    let text = std::fs::read_to_string(&config).unwrap();
    let without_extra = &text[..text.find("    extra_roles:").unwrap()];
    std::fs::write(&config, without_extra).unwrap();
    let (code, out, err) = keyless(&moto, &config, &["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("no longer in keyless.yml: web-synth"), "{out}");
    assert!(out.contains("No changes"), "{out}");
    let (code, out, err) = keyless(&moto, &config, &["apply", "--yes", "--prune"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("- delete role web-synth"), "{out}");
    let exists = runtime.block_on(async {
        iam(&moto)
            .await
            .get_role()
            .role_name("web-synth")
            .send()
            .await
            .is_ok()
    });
    assert!(!exists, "web-synth must be deleted by --prune");
    let (_, out, _) = keyless(&moto, &config, &["apply", "--yes", "--prune"]);
    assert!(out.contains("No changes"), "{out}");
}

/// Issue 22's contract: a customer managed policy is `unknown` offline and read with `--live` (`GetPolicy` +
/// `GetPolicyVersion` of its default version), here against moto_server, a third-party IAM implementation: the
/// role's `can_then_do` follows the policy's default version as it changes.
#[test]
fn check_live_reads_customer_managed_policies() {
    let Some(moto) = start_moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keyless.yml");
    let fixture = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workspace/moto.yml"),
    )
    .unwrap();
    let policy_arn = "arn:aws:iam::123456789012:policy/deploy-site";
    let text = fixture.replace(
        "managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]",
        &format!("managed_policies: [{policy_arn}]"),
    );
    assert_ne!(
        text, fixture,
        "the fixture's production role lists ReadOnlyAccess"
    );
    std::fs::write(&config, text).unwrap();
    let production = "arn:aws:iam::123456789012:role/keyless/bitbucket-production-deploy";
    let reach = |json: &str| -> String {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let role = value["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["role"] == production)
            .unwrap_or_else(|| panic!("no {production} in roles: {json}"));
        role["can_then_do"].as_str().unwrap().to_owned()
    };

    // Offline, keyless cannot read the policy.
    let (_, out, err) = keyless(&moto, &config, &["check", "--format", "json"]);
    assert_eq!(reach(&out), "unknown", "{out}{err}");

    let document = |statement: serde_json::Value| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        iam(&moto)
            .await
            .create_policy()
            .policy_name("deploy-site")
            .policy_document(document(serde_json::json!({"Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::site-bucket/*"})))
            .send()
            .await
            .unwrap();
    });
    let (code, out, err) = keyless(&moto, &config, &["apply", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, err) = keyless(&moto, &config, &["check", "--live", "--format", "json"]);
    assert_eq!(reach(&out), "minimal", "{out}{err}");

    // A new default version widens the same policy: read again, judged again.
    for (statement, expected) in [
        (
            serde_json::json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
            "broad",
        ),
        (
            serde_json::json!({"Effect": "Allow", "Action": "*", "Resource": "*"}),
            "admin",
        ),
    ] {
        runtime.block_on(async {
            let client = iam(&moto).await;
            client
                .create_policy_version()
                .policy_arn(policy_arn)
                .policy_document(document(statement.clone()))
                .set_as_default(true)
                .send()
                .await
                .unwrap();
        });
        let (_, out, err) = keyless(&moto, &config, &["check", "--live", "--format", "json"]);
        assert_eq!(reach(&out), expected, "{statement}: {out}{err}");
    }
}
