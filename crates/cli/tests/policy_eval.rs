//! `keyless policy eval`: decisions, exit codes (0 allow, 1 deny, 2 bad input), error locations, text and JSON
//! output. Runs from the repository root so paths in messages are the relative ones a user types.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use assert_cmd::Command;
use base64::Engine as _;
use predicates::prelude::*;

const PROVIDER: &str = "arn:aws:iam::123456789012:oidc-provider/api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";
const FIXTURES: &str = "crates/cli/tests/fixtures/policy";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn keyless() -> Command {
    let mut command = Command::cargo_bin("keyless").unwrap();
    command.current_dir(root());
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
    // The first command of README.md, verbatim apart from `cargo run`.
    let out = stdout_of(
        &mut eval(&[
            "--policy",
            "examples/trust-policy.json",
            "--claims",
            "examples/claims.json",
            "--provider-arn",
            PROVIDER,
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
    let claims = std::fs::read(root().join("examples/claims.json")).unwrap();
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
    .stderr(predicate::str::contains("is not an OIDC provider ARN"));
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
