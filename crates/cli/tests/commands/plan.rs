#![allow(clippy::unwrap_used, clippy::print_stdout)]
//! `keyless plan`: summary, CloudFormation (cfn-lint clean), Terraform and JSON, with the exact trust policies.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::Command as Cli;
use serde_json::{Value, json};

use crate::support::{repo_root, venv_tool};

fn example() -> PathBuf {
    repo_root().join("examples/keyless.yml")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/workspace")
        .join(name)
}

fn plan_to(format: &str, dir: &Path) {
    Cli::cargo_bin("keyless")
        .unwrap()
        .args(["plan", "-c"])
        .arg(example())
        .args(["--format", format, "-o"])
        .arg(dir)
        .assert()
        .success();
}

const ISSUER: &str =
    "api.bitbucket.org/2.0/workspaces/acme-platform/pipelines-config/identity/oidc";

fn production_trust() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "BitbucketProduction",
            "Effect": "Allow",
            "Principal": { "Federated": format!("arn:aws:iam::222222222222:oidc-provider/{ISSUER}") },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": { format!("{ISSUER}:aud"): "ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11" },
                "StringLike": { format!("{ISSUER}:sub"): [
                    "{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}:{7e6d5c4b-3a2f-4e1d-9c0b-8a7f6e5d4c31}:*",
                    "{b4f2d0e3-5c8a-4f9b-8d72-3e6a9c1f8b24}:{2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d61}:*"
                ] },
                "IpAddress": { "aws:SourceIp": ["203.0.113.0/24"] }
            }
        }]
    })
}

#[test]
fn json_plan_has_the_exact_trust_policies() {
    let dir = tempfile::tempdir().unwrap();
    plan_to("json", dir.path());
    let production: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("222222222222.iam.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        production["provider"]["client_ids"],
        json!(["ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11"])
    );
    assert_eq!(production["provider"]["url"], format!("https://{ISSUER}"));
    assert_eq!(production["roles"][0]["trust_policy"], production_trust());
    assert_eq!(production["roles"].as_array().unwrap().len(), 1);
    let staging: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("111111111111.iam.json")).unwrap(),
    )
    .unwrap();
    let synth = staging["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "orders-api-synth")
        .unwrap();
    assert_eq!(
        synth["trust_policy"]["Statement"][0]["Condition"]["StringNotLike"]
            [format!("{ISSUER}:sub")],
        json!(["{b4f2d0e3-5c8a-4f9b-8d72-3e6a9c1f8b24}:*:*"])
    );
    // Never a set operator on aud, never the GitHub audience.
    let text = std::fs::read_to_string(dir.path().join("111111111111.iam.json")).unwrap();
    assert!(
        !text.contains("ForAllValues")
            && !text.contains("ForAnyValue")
            && !text.contains("sts.amazonaws.com")
    );
}

#[test]
fn cloudformation_passes_cfn_lint() {
    let dir = tempfile::tempdir().unwrap();
    plan_to("cloudformation", dir.path());
    let template: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("222222222222.template.json")).unwrap(),
    )
    .unwrap();
    let role = &template["Resources"]["RoleBitbucketProductionDeploy"];
    assert_eq!(role["Type"], "AWS::IAM::Role");
    assert_eq!(role["Properties"]["MaxSessionDuration"], 3600);
    assert_eq!(
        role["Properties"]["PermissionsBoundary"],
        "arn:aws:iam::222222222222:policy/deploy-boundary"
    );
    let condition = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"];
    assert_eq!(*condition, production_trust()["Statement"][0]["Condition"]);
    assert_eq!(
        template["Resources"]["BitbucketOidcProvider"]["Properties"]["ClientIdList"][0],
        "ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11"
    );

    let Some(cfn_lint) = venv_tool("cfn-lint") else {
        return;
    };
    for account in ["111111111111", "222222222222"] {
        let path = dir.path().join(format!("{account}.template.json"));
        let output = Command::new(&cfn_lint).arg(&path).output().unwrap();
        assert!(
            output.status.success() && output.stdout.is_empty(),
            "cfn-lint reported problems in {}:\n{}{}",
            path.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn terraform_embeds_policies_as_escaped_json_strings() {
    let dir = tempfile::tempdir().unwrap();
    plan_to("terraform", dir.path());
    let module: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("222222222222.tf.json")).unwrap(),
    )
    .unwrap();
    let role = &module["resource"]["aws_iam_role"]["bitbucket_production_deploy"];
    let trust: Value = serde_json::from_str(role["assume_role_policy"].as_str().unwrap()).unwrap();
    assert_eq!(trust, production_trust());
    assert_eq!(role["name"], "bitbucket-production-deploy");
    assert_eq!(role["path"], "/keyless/");
    // The example grants no managed policy (issue 22): its `permissions:` is the inline policy
    // `keyless-permissions`, beside `deploy-artifacts`.
    assert!(
        module["resource"]["aws_iam_role_policy_attachment"]["bitbucket_production_deploy_1"]
            .is_null(),
        "{module}"
    );
    let permissions = &module["resource"]["aws_iam_role_policy"]["bitbucket_production_deploy_keyless_permissions"];
    assert_eq!(permissions["name"], "keyless-permissions", "{module}");
    assert!(
        permissions["policy"]
            .as_str()
            .unwrap()
            .contains("arn:aws:s3:::acme-web/*"),
        "{permissions}"
    );
    assert_eq!(
        module["resource"]["aws_iam_openid_connect_provider"]["bitbucket"]["url"],
        format!("https://{ISSUER}")
    );
}

#[test]
fn summary_without_output_dir() {
    let output = Cli::cargo_bin("keyless")
        .unwrap()
        .args(["plan", "-c"])
        .arg(example())
        .assert()
        .success();
    let text = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    assert!(text.contains("Account 222222222222"), "{text}");
    assert!(
        text.contains("role arn:aws:iam::222222222222:role/keyless/bitbucket-production-deploy"),
        "{text}"
    );
    assert!(
        text.contains("web-frontend deploying to production"),
        "{text}"
    );
    assert!(
        !text.contains("data-sandbox deploying to production"),
        "{text}"
    );
    assert!(text.contains("only from    203.0.113.0/24"), "{text}");
}

#[test]
fn invalid_config_exits_2_with_locations() {
    let output = Cli::cargo_bin("keyless")
        .unwrap()
        .args(["plan", "-c"])
        .arg(fixture("invalid.yml"))
        .assert()
        .code(2);
    let text = String::from_utf8(output.get_output().stderr.clone()).unwrap();
    assert!(text.contains("invalid.yml:3:9"), "{text}");
    assert!(text.contains("has no braces"), "{text}");
    assert!(text.contains("invalid.yml:6:14"), "{text}");
    assert!(text.contains("host bits set"), "{text}");
    assert!(
        text.contains("environment `stagin` is used but not defined"),
        "{text}"
    );
    assert!(text.contains("did you mean `staging`?"), "{text}");
}
