#![allow(clippy::unwrap_used)]
//! `keyless permissions infer` (issue 22, item 2) on the Proof's three pipelines: `keyless deploy s3` + CloudFront,
//! Atlassian's S3 and CloudFront pipes, and `cdk deploy`. The inferred policies are snapshot-tested; every statement
//! names the line that needs it, and the test reads that line back; `--write` keeps keyless.yml's comments and the
//! result plans and checks as minimal; `deploy s3 --print-policy` prints the statements infer derives.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/permissions")
}

const PIPELINES: [&str; 3] = [
    "site/bitbucket-pipelines.yml",
    "pipes-site/bitbucket-pipelines.yml",
    "infra/bitbucket-pipelines.yml",
];

fn keyless(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::cargo_bin("keyless")
        .unwrap()
        .current_dir(dir)
        .env_remove("KEYLESS_CONFIG")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn infer(dir: &Path, format: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "permissions",
        "infer",
        "-c",
        "keyless.yml",
        "--format",
        format,
    ];
    args.extend(PIPELINES);
    args.extend(extra);
    keyless(dir, &args)
}

#[test]
fn infers_each_role_with_the_line_that_needs_it() {
    let (code, stdout, stderr) = infer(&fixtures(), "json", &[]);
    // The AWS CLI line, the smoke-test script and the ECR pipe are unknown: exit 1, listed.
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("infer_json", stdout);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    for role in json["roles"].as_array().unwrap() {
        for need in role["statements"].as_array().unwrap() {
            assert!(!need["from"].as_array().unwrap().is_empty(), "{need}");
            for origin in need["from"].as_array().unwrap() {
                let text =
                    std::fs::read_to_string(fixtures().join(origin["file"].as_str().unwrap()))
                        .unwrap();
                let line = text
                    .lines()
                    .nth(origin["line"].as_u64().unwrap() as usize - 1)
                    .unwrap();
                let first_word = origin["text"]
                    .as_str()
                    .unwrap()
                    .split_whitespace()
                    .nth(1)
                    .unwrap();
                assert!(line.contains(first_word), "{origin} points at `{line}`");
            }
        }
    }
    let unknown: Vec<&str> = json["unknown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["text"].as_str().unwrap())
        .collect();
    assert!(
        unknown.iter().any(|t| t.starts_with("aws s3 cp")),
        "{unknown:?}"
    );
    assert!(
        unknown.iter().any(|t| t.contains("smoke-test.sh")),
        "{unknown:?}"
    );
    assert!(
        unknown.iter().any(|t| t.contains("aws-ecr-push-image")),
        "{unknown:?}"
    );
    for u in json["unknown"].as_array().unwrap() {
        assert_eq!(u["advice"], "unknown, record it");
    }
}

#[test]
fn renders_keyless_yml_cloudformation_and_terraform() {
    let (_, yml, _) = infer(&fixtures(), "keyless-yml", &[]);
    insta::assert_snapshot!("infer_keyless_yml", yml);
    let (_, cfn, _) = infer(&fixtures(), "cloudformation", &[]);
    let cfn: Value = serde_json::from_str(&cfn).unwrap();
    // Two accounts: one template each.
    let staging = &cfn["111111111111"]["Resources"];
    let policy = &staging["BitbucketStagingDeployKeylessPermissions"];
    assert_eq!(policy["Type"], "AWS::IAM::RolePolicy");
    assert_eq!(policy["Properties"]["PolicyName"], "keyless-permissions");
    assert_eq!(policy["Properties"]["RoleName"], "bitbucket-staging-deploy");
    let (_, tf, _) = infer(&fixtures(), "terraform", &[]);
    let tf: Value = serde_json::from_str(&tf).unwrap();
    let resource =
        &tf["resource"]["aws_iam_role_policy"]["bitbucket_production_deploy_keyless_permissions"];
    assert_eq!(resource["name"], "keyless-permissions");
    let document: Value = serde_json::from_str(resource["policy"].as_str().unwrap()).unwrap();
    assert_eq!(document["Version"], "2012-10-17");
}

#[test]
fn write_keeps_comments_and_the_result_is_minimal() {
    let dir = tempfile::tempdir().unwrap();
    for entry in ["keyless.yml", "site", "pipes-site", "infra"] {
        let from = fixtures().join(entry);
        if from.is_dir() {
            std::fs::create_dir_all(dir.path().join(entry)).unwrap();
            for file in std::fs::read_dir(&from).unwrap() {
                let file = file.unwrap().path();
                std::fs::copy(
                    &file,
                    dir.path().join(entry).join(file.file_name().unwrap()),
                )
                .unwrap();
            }
        } else {
            std::fs::copy(&from, dir.path().join(entry)).unwrap();
        }
    }
    let (code, _, stderr) = infer(dir.path(), "json", &["--write"]);
    assert_eq!(code, 1, "{stderr}");
    let written = std::fs::read_to_string(dir.path().join("keyless.yml")).unwrap();
    assert!(
        written.contains("# The workspace of `keyless permissions infer`'s tests"),
        "{written}"
    );
    assert!(
        written.contains("max_session: 1h   # this comment stays"),
        "{written}"
    );
    assert!(
        written.contains("# keyless deploy s3: site site/bitbucket-pipelines.yml:"),
        "{written}"
    );
    assert!(!written.contains("      permissions: todo"), "{written}");
    insta::assert_snapshot!("infer_write", written);
    // It loads, plans the statements as `keyless-permissions`, and every role is minimal.
    let (code, plan, stderr) = keyless(
        dir.path(),
        &["plan", "-c", "keyless.yml", "--format", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(plan.contains("\"keyless-permissions\""), "{plan}");
    let (code, check, stderr) = keyless(
        dir.path(),
        &[
            "check",
            "-c",
            "keyless.yml",
            "--format",
            "json",
            "--aws-only",
        ],
    );
    assert!(code == 0 || code == 1, "{stderr}");
    let check: Value = serde_json::from_str(&check).unwrap();
    for role in check["roles"].as_array().unwrap() {
        assert_eq!(role["can_then_do"], "minimal", "{role}");
    }
    // Writing again replaces the blocks instead of adding a second `permissions:`.
    let (_, _, _) = infer(dir.path(), "json", &["--write"]);
    let again = std::fs::read_to_string(dir.path().join("keyless.yml")).unwrap();
    assert_eq!(again, written);
}

#[test]
fn print_policy_is_what_infer_derives() {
    let (code, printed, stderr) = keyless(
        &fixtures(),
        &[
            "deploy",
            "s3",
            "--bucket",
            "acme-site",
            "--prefix",
            "www/",
            "--source",
            "dist",
            "--delete",
            "--invalidate",
            "E2PRODSITE00001",
            "--role-arn",
            "arn:aws:iam::222222222222:role/keyless/bitbucket-production-deploy",
            "--print-policy",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let printed: Value = serde_json::from_str(&printed).unwrap();
    let (_, inferred, _) = infer(&fixtures(), "json", &[]);
    let inferred: Value = serde_json::from_str(&inferred).unwrap();
    let production = inferred["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "bitbucket-production-deploy")
        .unwrap();
    let from_site: Vec<&Value> = production["statements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["from"][0]["source"] == "keyless deploy s3")
        .map(|n| &n["statement"])
        .collect();
    let printed: Vec<&Value> = printed["Statement"].as_array().unwrap().iter().collect();
    assert_eq!(from_site, printed);
}

/// `permissions: todo`: `plan` renders the role with a warning naming the line, `apply` exits 2 before any AWS call
/// (the endpoint here accepts no connection), the audit reports it.
#[test]
fn todo_plans_with_a_warning_and_apply_refuses() {
    let (code, _, stderr) = keyless(&fixtures(), &["plan", "-c", "keyless.yml"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr
            .contains("keyless.yml:16:20: role `bitbucket-staging-deploy` has `permissions: todo`"),
        "{stderr}"
    );
    let (code, _, stderr) = keyless(
        &fixtures(),
        &[
            "apply",
            "-c",
            "keyless.yml",
            "--endpoint-url",
            "http://127.0.0.1:1",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("`permissions: todo` is a placeholder"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("127.0.0.1:1"),
        "apply must refuse before calling IAM: {stderr}"
    );
    let (_, audit, _) = keyless(&fixtures(), &["audit", "keyless.yml", "--format", "json"]);
    let audit: Value = serde_json::from_str(&audit).unwrap();
    let todo = audit["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "permissions-todo")
        .count();
    assert_eq!(todo, 3, "{audit}");
}
