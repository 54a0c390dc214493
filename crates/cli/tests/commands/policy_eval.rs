//! `keyless policy eval`: decisions, exit codes (0 allow, 1 deny, 2 bad input), error locations, text and JSON
//! output. Runs from the repository root so paths in messages are the relative ones a user types.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use base64::Engine as _;
use predicates::prelude::*;

use crate::support::repo_root;

const PROVIDER: &str = "arn:aws:iam::123456789012:oidc-provider/api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";
const FIXTURES: &str = "crates/cli/tests/fixtures/policy";
/// A time when examples/claims.json's token is valid (iat 2026-11-22T03:00:00Z, exp 04:00:00Z).
const AT: &str = "2026-11-22T03:30:00Z";

fn keyless() -> Command {
    let mut command = Command::cargo_bin("keyless").unwrap();
    command.current_dir(repo_root());
    command
}

fn eval(args: &[&str]) -> Command {
    let mut command = keyless();
    command.args(["policy", "eval"]).args(args);
    command
}

fn stdout_of(command: &mut Command, code: i32) -> String {
    let output = command.assert().code(code).get_output().clone();
    String::from_utf8(output.stdout).unwrap()
}

fn stderr_of(command: &mut Command, code: i32) -> String {
    let output = command.assert().code(code).get_output().clone();
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn readme_command_allows_the_production_deployment() {
    // The README's `policy eval` command, verbatim apart from `cargo run`.
    let out = stdout_of(
        &mut eval(&[
            "--policy",
            "examples/trust-policy.json",
            "--claims",
            "examples/claims.json",
            "--provider-arn",
            PROVIDER,
            "--at",
            AT,
        ]),
        0,
    );
    assert!(
        out.starts_with("ALLOW: statement 0 (\"AcmeWebProductionDeployments\") allows"),
        "{out}"
    );
    insta::assert_snapshot!("allow_text", out);
}

#[test]
fn request_file_form_allows() {
    let out = stdout_of(
        &mut eval(&[
            "--policy",
            "examples/trust-policy.json",
            "--request",
            "examples/request.json",
        ]),
        0,
    );
    assert!(out.starts_with("ALLOW:"), "{out}");
}

#[test]
fn json_output_has_the_frozen_shape() {
    let out = stdout_of(
        &mut eval(&[
            "--policy",
            "examples/trust-policy.json",
            "--request",
            "examples/request.json",
            "--format",
            "json",
        ]),
        0,
    );
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["decision"], "Allow");
    let statement = &value["statements"][0];
    assert_eq!(statement["index"], 0);
    assert_eq!(statement["sid"], "AcmeWebProductionDeployments");
    assert_eq!(statement["effect"], "Allow");
    assert_eq!(statement["applies"], true);
    assert_eq!(statement["principal"]["element"], "Principal");
    assert_eq!(statement["action"]["matched"], true);
    let conditions = statement["conditions"].as_array().unwrap();
    assert_eq!(conditions.len(), 2);
    assert_eq!(conditions[1]["operator"], "StringLike");
    assert_eq!(conditions[1]["matched"], true);
    assert_eq!(conditions[1]["line"], 16);
    assert!(
        conditions[1]["request_values"][0]
            .as_str()
            .unwrap()
            .starts_with("{3c2b6f0e")
    );
    assert!(value["explanation"].as_str().unwrap().starts_with("ALLOW:"));
}

#[test]
fn build_step_is_denied_with_the_reason() {
    let claims = format!("{FIXTURES}/build-step-claims.json");
    let out = stdout_of(
        &mut eval(&[
            "--policy",
            "examples/trust-policy.json",
            "--claims",
            &claims,
            "--provider-arn",
            PROVIDER,
            "--at",
            AT,
        ]),
        1,
    );
    assert!(out.starts_with("DENY: no statement allows it — statement 0 (\"AcmeWebProductionDeployments\") requires `"), "{out}");
    assert!(out.contains("StringLike `{3c2b6f0e-8a41-4d2e-9b7c-5e1f0a9d8c72}:{b7e4d2a9-1c3f-4a6b-8e5d-0f9c2a7b6d41}:*` but the token's sub is `{3c2b6f0e-8a41-4d2e-9b7c-5e1f0a9d8c72}:{0c7e2b19-4d5a-4f3e-9a18-6b2d1c0e9f53}`"), "{out}");
    insta::assert_snapshot!("deny_build_step_text", out);
}

#[test]
fn custom_claims_are_not_condition_keys() {
    // AWS does not put `branchName` in the context, so a condition on it cannot match.
    let policy = format!("{FIXTURES}/branch-condition-policy.json");
    let out = stdout_of(
        &mut eval(&[
            "--policy",
            &policy,
            "--claims",
            "examples/claims.json",
            "--provider-arn",
            PROVIDER,
            "--at",
            AT,
        ]),
        1,
    );
    assert!(
        out.contains(":branchName` StringEquals `main` but the request has no `"),
        "{out}"
    );
}

#[test]
fn explicit_deny_by_source_ip() {
    let policy = format!("{FIXTURES}/runner-ip-policy.json");
    let base = [
        "--policy",
        policy.as_str(),
        "--claims",
        "examples/claims.json",
        "--provider-arn",
        PROVIDER,
        "--at",
        AT,
    ];
    let out = stdout_of(eval(&base).args(["--source-ip", "198.51.100.20"]), 1);
    assert!(
        out.starts_with("DENY: statement 1 (\"DenyOutsideRunnerRanges\") explicitly denies"),
        "{out}"
    );
    insta::assert_snapshot!("explicit_deny_text", out);
    let json = stdout_of(
        eval(&base).args(["--source-ip", "198.51.100.20", "--format", "json"]),
        1,
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json).unwrap()["decision"],
        "ExplicitDeny"
    );
    stdout_of(eval(&base).args(["--source-ip", "203.0.113.9"]), 0);
}

#[test]
fn session_tags_need_tag_session() {
    let claims = format!("{FIXTURES}/tagged-claims.json");
    let out = stdout_of(
        &mut eval(&[
            "--policy",
            "examples/trust-policy.json",
            "--claims",
            &claims,
            "--provider-arn",
            PROVIDER,
            "--at",
            AT,
            "--format",
            "json",
        ]),
        1,
    );
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["decision"], "ImplicitDeny");
    assert_eq!(value["additional_actions"][0]["action"], "sts:TagSession");
    assert!(
        value["explanation"]
            .as_str()
            .unwrap()
            .contains("must also allow `sts:TagSession`"),
        "{out}"
    );
}

#[test]
fn token_form_decodes_the_payload_without_printing_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let claims = std::fs::read(repo_root().join("examples/claims.json")).unwrap();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let token = format!(
        "{}.{}.c2lnbmF0dXJl",
        engine.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        engine.encode(&claims)
    );
    let path = dir.path().join("token");
    std::fs::write(&path, &token).unwrap();
    let out = stdout_of(
        &mut eval(&[
            "--policy",
            "examples/trust-policy.json",
            "--token",
            path.to_str().unwrap(),
            "--provider-arn",
            PROVIDER,
            "--at",
            AT,
        ]),
        0,
    );
    assert!(out.starts_with("ALLOW:"), "{out}");

    let secret = "eyJhbGciOiJSUzI1NiJ9.not-base64!.c2ln";
    std::fs::write(&path, secret).unwrap();
    let err = stderr_of(
        &mut eval(&[
            "--policy",
            "examples/trust-policy.json",
            "--token",
            path.to_str().unwrap(),
            "--provider-arn",
            PROVIDER,
        ]),
        2,
    );
    assert!(err.contains("not base64url"), "{err}");
    assert!(
        !err.contains("eyJhbGciOiJSUzI1NiJ9"),
        "the token leaked into the error: {err}"
    );
}

#[test]
fn malformed_policy_names_file_line_and_column() {
    let policy = format!("{FIXTURES}/malformed-policy.json");
    eval(&["--policy", &policy, "--request", "examples/request.json"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "{policy}:4:24: malformed JSON: expected a quoted key in object, found `,`"
        )));
}

#[test]
fn invalid_trust_policy_lists_every_error_with_its_location() {
    let policy = format!("{FIXTURES}/invalid-trust-policy.json");
    let err = stderr_of(
        &mut eval(&["--policy", &policy, "--request", "examples/request.json"]),
        2,
    );
    assert!(
        err.contains(&format!("{policy}:8:7: error[trust-resource]")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{policy}:9:21: error[unknown-operator]: unknown condition operator `StringEqualz`"
        )),
        "{err}"
    );
}

#[test]
fn bad_request_file_names_file_line_and_column() {
    let request = format!("{FIXTURES}/bad-request.json");
    let err = stderr_of(
        &mut eval(&[
            "--policy",
            "examples/trust-policy.json",
            "--request",
            &request,
        ]),
        2,
    );
    assert!(
        err.contains(&format!(
            "{request}:5:91: context value is a number; write it as a string or an array of strings"
        )),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    eval(&["--policy", "examples/trust-policy.json"])
        .assert()
        .code(2);
    eval(&[
        "--policy",
        "examples/trust-policy.json",
        "--claims",
        "examples/claims.json",
    ])
    .assert()
    .code(2);
    eval(&[
        "--policy",
        "examples/trust-policy.json",
        "--claims",
        "examples/claims.json",
        "--provider-arn",
        "arn:aws:iam::1:role/x",
    ])
    .assert()
    .code(2)
    .stderr(predicate::str::contains("is not an IAM OIDC provider ARN"));
    eval(&[
        "--policy",
        "missing.json",
        "--request",
        "examples/request.json",
    ])
    .assert()
    .code(2)
    .stderr(predicate::str::contains(
        "cannot read the policy file missing.json",
    ));
}

/// examples/claims.json with some claims replaced, written to a temporary file.
fn claims_with(dir: &tempfile::TempDir, name: &str, changes: serde_json::Value) -> String {
    let mut claims: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo_root().join("examples/claims.json")).unwrap())
            .unwrap();
    for (key, value) in changes.as_object().unwrap() {
        claims[key] = value.clone();
    }
    let path = dir.path().join(name);
    std::fs::write(&path, claims.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn json_of(command: &mut Command, code: i32) -> serde_json::Value {
    serde_json::from_str(&stdout_of(command.args(["--format", "json"]), code)).unwrap()
}

#[test]
fn a_token_from_another_workspace_is_denied_as_sts_would() {
    // STS looks the provider up by the token's `iss` first: a token from workspace `other` has no provider in
    // an account that only trusts `acme`, whatever the trust policy says.
    let dir = tempfile::tempdir().unwrap();
    let other = claims_with(
        &dir,
        "other.json",
        serde_json::json!({"iss": "https://api.bitbucket.org/2.0/workspaces/other/pipelines-config/identity/oidc"}),
    );
    let args = [
        "--policy",
        "examples/trust-policy.json",
        "--claims",
        &other,
        "--provider-arn",
        PROVIDER,
        "--at",
        AT,
    ];
    let out = stdout_of(&mut eval(&args), 1);
    assert!(
        out.starts_with("DENY (InvalidIdentityToken: No OpenIDConnect provider found in your account for https://api.bitbucket.org/2.0/workspaces/other/pipelines-config/identity/oidc)"),
        "{out}"
    );
    assert!(
        out.contains("the trust policy itself would allow the token"),
        "{out}"
    );
    let value = json_of(&mut eval(&args), 1);
    assert_eq!(value["decision"], "ImplicitDeny");
    assert_eq!(value["rejection"]["stage"], "provider");
    assert_eq!(value["rejection"]["code"], "InvalidIdentityToken");
}

#[test]
fn an_expired_token_is_denied_unless_evaluated_when_it_was_valid() {
    let args = [
        "--policy",
        "examples/trust-policy.json",
        "--claims",
        "examples/claims.json",
        "--provider-arn",
        PROVIDER,
        "--at",
        "2026-11-22T04:00:00Z",
    ];
    let out = stdout_of(&mut eval(&args), 1);
    assert!(
        out.starts_with("DENY (ExpiredTokenException: Token expired: current date/time 1795320000 must be before the expiration date/time1795320000)"),
        "{out}"
    );
    assert!(out.contains("--at"), "{out}");
}

#[test]
fn audience_arrays_are_matched_against_the_client_ids_and_explained() {
    // Bitbucket appends custom audiences to the workspace audience (bitbucket.md §1.1).
    let dir = tempfile::tempdir().unwrap();
    let workspace = "ari:cloud:bitbucket::workspace/9f1c3a52-7d4b-4e8a-b0c6-2f5e8d7a1b34";
    let custom = "https://vault.example.com";
    let array = claims_with(
        &dir,
        "array.json",
        serde_json::json!({"aud": [custom, workspace]}),
    );
    let base = [
        "--policy",
        "examples/trust-policy.json",
        "--claims",
        &array,
        "--provider-arn",
        PROVIDER,
        "--at",
        AT,
    ];
    let value = json_of(&mut eval(&base), 0);
    assert_eq!(value["audience"], workspace);
    assert!(
        value["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("is an array")),
        "{value}"
    );
    // A provider that lists only the custom audience: STS matches that one, so `:aud` holds it and the policy's
    // workspace-audience condition fails.
    let value = json_of(eval(&base).args(["--client-id", custom]), 1);
    assert_eq!(value["audience"], custom);
    assert_eq!(value["rejection"]["stage"], "trust");
    // No audience in the client IDs at all: STS's "Incorrect token audience".
    let value = json_of(eval(&base).args(["--client-id", "sts.amazonaws.com"]), 1);
    assert_eq!(value["rejection"]["message"], "Incorrect token audience");
}

#[test]
fn a_policy_iam_rejects_is_not_evaluated() {
    // corpus 045 writes the provider URL itself as the Federated principal; IAM answers "Federated principals
    // must be valid domain names or SAML metadata ARNs" (terraform-aws-modules/terraform-aws-iam#202).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    std::fs::write(
        &path,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
  "Principal": {"Federated": "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"},
  "Action": "sts:AssumeRoleWithWebIdentity"}]}"#,
    )
    .unwrap();
    let err = stderr_of(
        &mut eval(&[
            "--policy",
            path.to_str().unwrap(),
            "--claims",
            "examples/claims.json",
            "--provider-arn",
            PROVIDER,
            "--at",
            AT,
        ]),
        2,
    );
    assert!(
        err.contains(":2:30: error[invalid-federated-principal]"),
        "{err}"
    );
    // `policy validate` says the same, from the same registry, with exit 1.
    let out = stdout_of(
        keyless().args(["policy", "validate", path.to_str().unwrap()]),
        1,
    );
    assert!(out.contains("error[invalid-federated-principal]"), "{out}");
    assert!(out.contains("IAM would reject this policy"), "{out}");
}

#[test]
fn validate_reports_codes_levels_and_exit_codes() {
    let out = stdout_of(
        keyless().args(["policy", "validate", "examples/trust-policy.json"]),
        0,
    );
    assert!(out.contains("IAM would accept this policy"), "{out}");
    let value: serde_json::Value = serde_json::from_str(&stdout_of(
        keyless().args([
            "policy",
            "validate",
            &format!("{FIXTURES}/invalid-trust-policy.json"),
            "--format",
            "json",
        ]),
        1,
    ))
    .unwrap();
    assert_eq!(value["valid"], false);
    let diagnostics = value["diagnostics"].as_array().unwrap();
    let error = diagnostics
        .iter()
        .find(|d| d["severity"] == "error")
        .unwrap();
    assert_eq!(error["code"], "trust-resource");
    assert_eq!(error["level"], "high");
    keyless()
        .args([
            "policy",
            "validate",
            &format!("{FIXTURES}/malformed-policy.json"),
        ])
        .assert()
        .code(2);
}
