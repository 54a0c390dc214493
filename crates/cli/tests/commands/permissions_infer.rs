#![allow(clippy::unwrap_used)]
//! `keyless permissions infer` (issue 22, item 2) on the Proof's three pipelines: `keyless deploy s3` + CloudFront,
//! Atlassian's S3 and CloudFront pipes, and `cdk deploy`. The inferred policies are snapshot-tested; every statement
//! names the line that needs it, and the test reads that line back; `--write` keeps keyless.yml's comments and the
//! result plans and checks as minimal; `deploy s3 --print-policy` prints the statements infer derives.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/permissions")
}

const PIPELINES: [&str; 4] = [
    "site/bitbucket-pipelines.yml",
    "pipes-site/bitbucket-pipelines.yml",
    "infra/bitbucket-pipelines.yml",
    "cli/bitbucket-pipelines.yml",
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
    // The AWS CLI line whose bucket comes from a variable the pipeline does not set.
    assert!(
        unknown
            .iter()
            .any(|t| t.starts_with("aws s3 cp build/report.html s3://$REPORT_BUCKET")),
        "{unknown:?}"
    );
    assert!(
        !unknown.iter().any(|t| t.contains("sitemap.xml")),
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
    for entry in ["keyless.yml", "site", "pipes-site", "infra", "cli"] {
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
    // The staging role holds the AWS CLI's narrow-by-hand statement (`"Resource": "*"` on an action that could be
    // scoped): check calls it broad until someone narrows it; every other role is minimal.
    for role in check["roles"].as_array().unwrap() {
        let expected = if role["role"]
            .as_str()
            .unwrap()
            .ends_with("role/bitbucket-staging-deploy")
        {
            "broad"
        } else {
            "minimal"
        };
        assert_eq!(role["can_then_do"], expected, "{role}");
    }
    // `permissions check` with the pipelines (item 4): every inferred call is allowed by the written policies; the
    // lines infer cannot derive are unproven (exit 1) until a recording covers their role.
    let mut args = vec![
        "permissions",
        "check",
        "-c",
        "keyless.yml",
        "--format",
        "json",
    ];
    args.extend(PIPELINES);
    let (code, out, stderr) = keyless(dir.path(), &args);
    assert_eq!(code, 1, "{stderr}");
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["ok"], true, "{out}");
    assert_eq!(result["roles"].as_array().unwrap().len(), 3, "{out}");
    let calls: Vec<&Value> = result["roles"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["calls"].as_array().unwrap())
        .collect();
    assert!(calls.len() > 30, "{out}");
    assert!(calls.iter().all(|c| c["verdict"] == "allowed"), "{out}");
    assert!(
        calls
            .iter()
            .any(|c| c["action"] == "lambda:UpdateFunctionCode"
                && c["from"]
                    .as_str()
                    .unwrap()
                    .starts_with("cli/bitbucket-pipelines.yml:24: aws ")),
        "{out}"
    );
    let unproven = |result: &Value| -> Vec<String> {
        result["unproven_lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["text"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(unproven(&result).len(), 3, "{out}");
    // A recording for the staging role covers its unknown lines ($REPORT_BUCKET, the smoke-test script); its call
    // is checked as well.
    std::fs::write(
        dir.path().join("staging.jsonl"),
        "{\"v\":1,\"service\":\"S3\",\"api\":\"PutObject\",\"region\":\"eu-west-1\",\"fqdn\":\"s3.eu-west-1.amazonaws.com\",\"count\":1}\n",
    )
    .unwrap();
    let mut recorded = args.clone();
    recorded.extend([
        "--record",
        "arn:aws:iam::111111111111:role/bitbucket-staging-deploy=staging.jsonl",
    ]);
    let (code, out, stderr) = keyless(dir.path(), &recorded);
    assert_eq!(code, 1, "{stderr}");
    let result: Value = serde_json::from_str(&out).unwrap();
    assert!(
        !unproven(&result)
            .iter()
            .any(|t| t.contains("REPORT_BUCKET")),
        "{out}"
    );
    assert_eq!(unproven(&result).len(), 1, "{out}");
    assert!(unproven(&result)[0].contains("aws-ecr-push-image"), "{out}");
    // A policy that lacks a statement infer derived: that call is denied.
    let edited = written.replace(
        "Action: lambda:UpdateFunctionCode",
        "Action: lambda:GetFunction",
    );
    assert_ne!(edited, written);
    std::fs::write(dir.path().join("keyless.yml"), &edited).unwrap();
    let (code, out, stderr) = keyless(dir.path(), &args);
    assert_eq!(code, 1, "{stderr}");
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["ok"], false, "{out}");
    let denied: Vec<&str> = result["roles"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["calls"].as_array().unwrap())
        .filter(|c| c["verdict"] == "denied")
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(denied, ["lambda:UpdateFunctionCode"], "{out}");
    std::fs::write(dir.path().join("keyless.yml"), &written).unwrap();
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

/// The AWS CLI pipeline (issue 22, item 2): each line's statements come from the generated command → operation →
/// action table, on the resources its arguments name once the step's variables are resolved. The calls each line
/// makes are written here from the AWS documentation (independently of the table), and the inferred policy, evaluated
/// by keyless-iam with resources, allows exactly them: each allowed, and nearby calls the lines do not make denied.
#[test]
fn infers_aws_cli_commands_and_allows_exactly_their_calls() {
    use keyless_iam::{Context, Decision, Principal, Request};

    let (code, stdout, stderr) = keyless(
        &fixtures(),
        &[
            "permissions",
            "infer",
            "-c",
            "keyless.yml",
            "cli/bitbucket-pipelines.yml",
        ],
    );
    assert_eq!(code, 1, "the $REPORT_BUCKET line is unknown: {stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    let roles = json["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 1, "{stdout}");
    let role = &roles[0];
    assert_eq!(role["name"], "bitbucket-staging-deploy");
    assert_eq!(role["unknown"], 1);
    // Each statement's line holds the command it came from.
    let text = std::fs::read_to_string(fixtures().join("cli/bitbucket-pipelines.yml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for need in role["statements"].as_array().unwrap() {
        for origin in need["from"].as_array().unwrap() {
            let source = origin["source"].as_str().unwrap();
            let line = lines[origin["line"].as_u64().unwrap() as usize - 1];
            let command = source.split_whitespace().last().unwrap();
            assert!(
                line.contains(command) && line.contains("aws"),
                "{origin} points at `{line}`"
            );
        }
    }
    // Unknown: the bucket comes from a variable the pipeline does not set; never guessed.
    let unknown = json["unknown"].as_array().unwrap();
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(
        unknown[0]["reason"]
            .as_str()
            .unwrap()
            .contains("$REPORT_BUCKET"),
        "{unknown:?}"
    );
    // Narrow by hand: `describe-stacks` without `--stack-name`.
    let narrow = json["narrow_by_hand"].as_array().unwrap();
    assert_eq!(narrow.len(), 1, "{narrow:?}");
    assert_eq!(narrow[0]["action"], "cloudformation:DescribeStacks");
    assert_eq!(narrow[0]["line"], 27);
    assert!(
        narrow[0]["resource_arns"][0]
            .as_str()
            .unwrap()
            .contains(":stack/${StackName}"),
        "{narrow:?}"
    );

    let document = keyless_iam::parse(
        &json!({"Version": "2012-10-17", "Statement": role["statements"].as_array().unwrap()
            .iter().map(|n| n["statement"].clone()).collect::<Vec<_>>()})
        .to_string(),
    )
    .unwrap();
    let decide = |action: &str, resource: &str| {
        document.decide_on(
            &Request {
                principal: Principal::aws(
                    "arn:aws:iam::111111111111:role/bitbucket-staging-deploy",
                ),
                action: action.into(),
                context: Context::new().with("aws:RequestedRegion", "eu-west-1"),
            },
            resource,
        )
    };
    // (action, resource) each line makes, from the S3 User Guide's "Required permissions for Amazon S3 API
    // operations" and the services' authorization references.
    let made = [
        ("sts:GetCallerIdentity", "*"),
        // cp s3://acme-cli-config/site.json build/site.json: HeadObject + GetObject.
        ("s3:GetObject", "arn:aws:s3:::acme-cli-config/site.json"),
        // sync build s3://acme-cli-site/app/ --delete: ListObjectsV2, PutObject, DeleteObject under app/.
        ("s3:ListBucket", "arn:aws:s3:::acme-cli-site"),
        (
            "s3:PutObject",
            "arn:aws:s3:::acme-cli-site/app/assets/app.js",
        ),
        ("s3:DeleteObject", "arn:aws:s3:::acme-cli-site/app/old.html"),
        // cp build/index.html s3://acme-cli-site/app/index.html.
        ("s3:PutObject", "arn:aws:s3:::acme-cli-site/app/index.html"),
        // s3api head-object: s3:GetObject.
        ("s3:GetObject", "arn:aws:s3:::acme-cli-site/app/index.html"),
        (
            "cloudfront:CreateInvalidation",
            "arn:aws:cloudfront::111111111111:distribution/E1CLISITE00001",
        ),
        (
            "cloudfront:GetInvalidation",
            "arn:aws:cloudfront::111111111111:distribution/E1CLISITE00001",
        ),
        (
            "lambda:UpdateFunctionCode",
            "arn:aws:lambda:eu-west-1:111111111111:function:acme-api",
        ),
        ("ecr:GetAuthorizationToken", "*"),
        (
            "ssm:GetParameter",
            "arn:aws:ssm:eu-west-1:111111111111:parameter/acme/api-url",
        ),
        (
            "cloudformation:DescribeStacks",
            "arn:aws:cloudformation:eu-west-1:111111111111:stack/any/1",
        ),
    ];
    for (action, resource) in made {
        assert_eq!(
            decide(action, resource),
            Decision::Allow,
            "{action} on {resource}"
        );
    }
    let not_made = [
        // Outside the prefix, another object, another bucket, another verb.
        (
            "s3:PutObject",
            "arn:aws:s3:::acme-cli-site/other/index.html",
        ),
        ("s3:DeleteObject", "arn:aws:s3:::acme-cli-config/site.json"),
        ("s3:PutObject", "arn:aws:s3:::acme-cli-config/site.json"),
        ("s3:GetObject", "arn:aws:s3:::acme-cli-config/other.json"),
        ("s3:ListBucket", "arn:aws:s3:::acme-cli-config"),
        ("s3:DeleteBucket", "arn:aws:s3:::acme-cli-site"),
        (
            "cloudfront:CreateInvalidation",
            "arn:aws:cloudfront::111111111111:distribution/EOTHER",
        ),
        (
            "lambda:UpdateFunctionCode",
            "arn:aws:lambda:eu-west-1:111111111111:function:other",
        ),
        (
            "lambda:UpdateFunctionConfiguration",
            "arn:aws:lambda:eu-west-1:111111111111:function:acme-api",
        ),
        (
            "ssm:GetParameter",
            "arn:aws:ssm:eu-west-1:111111111111:parameter/acme/db-password",
        ),
        (
            "ssm:PutParameter",
            "arn:aws:ssm:eu-west-1:111111111111:parameter/acme/api-url",
        ),
        ("s3:PutObject", "arn:aws:s3:::any-bucket/$REPORT_BUCKET"),
    ];
    for (action, resource) in not_made {
        assert_eq!(
            decide(action, resource),
            Decision::ImplicitDeny,
            "{action} on {resource}"
        );
    }
    // Exactly: every action the policy grants is one of the calls made.
    let made_actions: std::collections::BTreeSet<&str> = made.iter().map(|(a, _)| *a).collect();
    for need in role["statements"].as_array().unwrap() {
        let actions = match &need["statement"]["Action"] {
            Value::String(one) => vec![one.clone()],
            Value::Array(list) => list
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect(),
            other => panic!("{other}"),
        };
        for action in actions {
            assert!(
                made_actions.contains(action.as_str()),
                "{action} is granted but not called"
            );
        }
    }
}
