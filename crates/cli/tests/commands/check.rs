#![allow(clippy::unwrap_used)]
//! `keyless check`: the matrix in every format, exit codes, and the frozen JSON shape.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/workspace")
        .join(name)
}

fn check(config: &Path, format: &str) -> (i32, String) {
    check_with(config, format, &[])
}

fn check_with(config: &Path, format: &str, extra: &[&str]) -> (i32, String) {
    let output = Command::cargo_bin("keyless")
        .unwrap()
        .args(["check", "-c"])
        .arg(config)
        .args(["--format", format])
        .args(extra)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[test]
fn a_pinned_workspace_passes() {
    let (code, text) = check(&fixture("open-branches.yml"), "json");
    assert_eq!(code, 0, "{text}");
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["unintended"], 0);
    let scenarios = json["scenarios"].as_array().unwrap();
    for scenario in scenarios {
        let keys: Vec<&str> = scenario
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "repository",
                "deployment",
                "branch",
                "source_ip",
                "network",
                "role",
                "aws",
                "pipeline",
                "intended",
                "can_then_do"
            ]
        );
        // The pipeline layer applies to every step of the workspace; another workspace's pipelines never reach
        // its provider. Every branch may deploy here (`**`), so nothing is denied.
        let expected = if scenario["repository"] == "<other workspace>" {
            "n/a"
        } else {
            "allow"
        };
        assert_eq!(scenario["pipeline"], expected, "{scenario}");
    }
    // sandbox never reaches production; web reaches it only from the runner CIDR.
    let production = "arn:aws:iam::222222222222:role/bitbucket-acme-production";
    assert!(
        scenarios
            .iter()
            .filter(|s| s["repository"] == "sandbox" && s["role"] == production)
            .all(|s| s["aws"] == "deny")
    );
    let allowed: Vec<&Value> = scenarios
        .iter()
        .filter(|s| s["role"] == production && s["aws"] == "allow")
        .collect();
    assert!(!allowed.is_empty());
    assert!(allowed.iter().all(|s| s["repository"] == "web"
        && s["deployment"] == "production"
        && s["source_ip"] == "203.0.113.1"));
    // Each adversary is tried and denied.
    for adversary in [
        "<unknown repository>",
        "<other workspace>",
        "<github audience>",
    ] {
        let rows: Vec<&Value> = scenarios
            .iter()
            .filter(|s| s["repository"] == adversary)
            .collect();
        assert!(!rows.is_empty(), "{adversary}");
        assert!(rows.iter().all(|s| s["aws"] == "deny"), "{adversary}");
    }
}

#[test]
fn any_step_trust_fails_and_names_the_path() {
    let (code, text) = check(&fixture("any-step.yml"), "table");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("UNINTENDED"), "{text}");
    assert!(text.contains("FAIL:"), "{text}");
    assert!(
        text.contains("sandbox (a step without deployment on branch"),
        "{text}"
    );
    assert!(
        text.contains("can assume arn:aws:iam::111111111111:role/bitbucket-acme-staging"),
        "{text}"
    );
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/keyless.yml")
}

/// AWS cannot see branches; the pipeline layer (the enforce engine, with or without a `policy:` section) refuses
/// a deployment from a disallowed branch, so the example workspace has no unintended path.
#[test]
fn the_pipeline_layer_blocks_what_aws_cannot_see() {
    let (code, text) = check(&example(), "json");
    assert_eq!(code, 0, "{text}");
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["unintended"], 0);
    let scenarios = json["scenarios"].as_array().unwrap();
    let aws_only: Vec<&Value> = scenarios
        .iter()
        .filter(|s| s["aws"] == "allow" && !s["intended"].as_bool().unwrap())
        .collect();
    assert!(!aws_only.is_empty());
    assert!(
        aws_only
            .iter()
            .all(|s| s["branch"] == "feature/keyless-check" && s["pipeline"] == "deny"),
        "{aws_only:#?}"
    );
    // The verdict is per step, not per role: a disallowed branch is denied for every role column, an allowed one
    // is allowed; a step without a deployment is never refused by branch.
    for s in scenarios
        .iter()
        .filter(|s| s["repository"] == "web-frontend")
    {
        let expected = match (s["deployment"].as_str(), s["branch"].as_str().unwrap()) {
            (Some(_), "feature/keyless-check") => "deny",
            _ => "allow",
        };
        assert_eq!(s["pipeline"], expected, "{s}");
    }

    // The table shows the blocked cells and the pipeline column.
    let (code, table) = check(&example(), "table");
    assert_eq!(code, 0, "{table}");
    let header = table.lines().next().unwrap();
    assert!(header.contains("pipeline"), "{header}");
    assert!(
        table.lines().any(|l| l.starts_with("web-frontend")
            && l.contains("feature/keyless-check")
            && l.contains(" deny ")
            && l.contains("blocked")),
        "{table}"
    );
    assert!(table.contains("OK: "), "{table}");
}

/// `--aws-only` proves AWS alone: no pipeline verdict, and every disallowed branch AWS lets through is unintended.
#[test]
fn aws_only_counts_what_the_pipeline_layer_would_block() {
    let (code, text) = check_with(&example(), "json", &["--aws-only"]);
    assert_eq!(code, 1);
    let json: Value = serde_json::from_str(&text).unwrap();
    let scenarios = json["scenarios"].as_array().unwrap();
    assert!(scenarios.iter().all(|s| s["pipeline"] == "n/a"));
    let unintended: Vec<&Value> = scenarios
        .iter()
        .filter(|s| s["aws"] == "allow" && !s["intended"].as_bool().unwrap())
        .collect();
    assert!(!unintended.is_empty());
    assert_eq!(
        json["unintended"].as_u64().unwrap() as usize,
        unintended.len()
    );
    assert!(
        unintended
            .iter()
            .all(|s| s["branch"] == "feature/keyless-check"),
        "{unintended:#?}"
    );
    let (code, table) = check_with(&example(), "table", &["--aws-only"]);
    assert_eq!(code, 1);
    assert!(
        table.contains("no pipeline policy applies (or was evaluated)"),
        "{table}"
    );
}

/// The pipeline layer does not depend on a `policy:` section: the branch rule comes from `environments:`, and
/// render enforces it with the default policy. An explicit (empty) section gives the same verdicts.
#[test]
fn the_verdict_does_not_need_a_policy_section() {
    let text = std::fs::read_to_string(example()).unwrap();
    assert!(!text.contains("\npolicy:"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyless.yml");
    std::fs::write(&path, format!("{text}\npolicy: {{}}\n")).unwrap();
    let (code, with_section) = check(&path, "json");
    assert_eq!(code, 0, "{with_section}");
    let (_, without) = check(&example(), "json");
    let verdicts = |text: &str| -> Vec<Value> {
        let json: Value = serde_json::from_str(text).unwrap();
        json["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["pipeline"].clone())
            .collect()
    };
    assert_eq!(verdicts(&with_section), verdicts(&without));
}

#[test]
fn markdown_renders_a_table() {
    let (code, text) = check(&fixture("open-branches.yml"), "markdown");
    assert_eq!(code, 0);
    assert!(
        text.starts_with("| repository | deployment | branch | network | pipeline |"),
        "{text}"
    );
    assert!(
        text.contains("| web | production | `keyless/example` | 203.0.113.1 | allow |"),
        "{text}"
    );
    assert!(
        text.contains("| <other workspace> | staging | `keyless/example` | 198.51.100.7 | n/a |"),
        "{text}"
    );
    assert!(text.contains("OK: "), "{text}");
}

/// Issue 22: "can then do" (`can_then_do`, `roles[]`), from the role's managed and inline policies and
/// `permissions:`.
#[test]
fn can_then_do_judges_each_role() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keyless.yml");
    std::fs::write(
        &config,
        r#"version: 1
workspace:
  slug: acme
  uuid: "{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}"
environments:
  staging:
    account: "111111111111"
    region: eu-west-1
    branches: [main]
    role:
      name: staging-deploy
      managed_policies: [PowerUserAccess]
  production:
    account: "222222222222"
    region: eu-west-1
    branches: [main]
    role:
      name: production-deploy
      managed_policies: [AdministratorAccess]
  sandbox:
    account: "333333333333"
    region: eu-west-1
    branches: [main]
    role:
      name: sandbox-deploy
      permissions:
        - Effect: Allow
          Action: [s3:PutObject]
          Resource: arn:aws:s3:::acme-sandbox/*
  preview:
    account: "444444444444"
    region: eu-west-1
    branches: [main]
    role:
      name: preview-deploy
      permissions: todo
repositories:
  web:
    uuid: "{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}"
    deployments:
      staging: "{0f9d8c7b-6a5e-4d3c-8b2a-1c0e9f8d7a61}"
      production: "{7e6d5c4b-3a2f-4e1d-9c0b-8a7f6e5d4c31}"
      sandbox: "{1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c51}"
      preview: "{2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d61}"
"#,
    )
    .unwrap();
    let (code, text) = check(&config, "json");
    assert_eq!(code, 0, "{text}");
    let json: Value = serde_json::from_str(&text).unwrap();
    let verdict = |role: &str| -> String {
        let arn_end = format!(":role/{role}");
        let from_roles = json["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["role"].as_str().unwrap().ends_with(&arn_end))
            .unwrap()["can_then_do"]
            .as_str()
            .unwrap()
            .to_owned();
        for scenario in json["scenarios"].as_array().unwrap() {
            if scenario["role"].as_str().unwrap().ends_with(&arn_end) {
                assert_eq!(scenario["can_then_do"], from_roles.as_str());
            }
        }
        from_roles
    };
    assert_eq!(verdict("production-deploy"), "admin");
    assert_eq!(verdict("staging-deploy"), "broad");
    assert_eq!(verdict("sandbox-deploy"), "minimal");
    assert_eq!(verdict("preview-deploy"), "unknown");
    let admin = json["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["can_then_do"] == "admin")
        .unwrap();
    assert!(
        admin["reasons"][0]
            .as_str()
            .unwrap()
            .contains("AdministratorAccess"),
        "{admin}"
    );
    // The table shows the row under the role columns, and the reasons in the legend.
    let (_, table) = check(&config, "table");
    let row = table
        .lines()
        .find(|l| l.starts_with("can then do"))
        .unwrap_or_else(|| panic!("{table}"));
    for word in ["broad", "admin", "minimal", "unknown"] {
        assert!(row.contains(word), "{row}");
    }
    assert!(
        table.contains("production-deploy can then do: admin"),
        "{table}"
    );
    let (_, markdown) = check(&config, "markdown");
    assert!(markdown.contains("| **can then do** |"), "{markdown}");
}
