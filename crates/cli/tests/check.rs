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
    let output = Command::cargo_bin("keyless")
        .unwrap()
        .args(["check", "-c"])
        .arg(config)
        .args(["--format", format])
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
                "role",
                "aws",
                "pipeline",
                "intended"
            ]
        );
        assert_eq!(scenario["pipeline"], "n/a");
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
        && s["source_ip"] == "10.20.0.1"));
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

#[test]
fn branches_are_unproven_without_a_pipeline_policy() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/keyless.yml");
    let (code, text) = check(&example, "json");
    assert_eq!(code, 1);
    let json: Value = serde_json::from_str(&text).unwrap();
    let unintended: Vec<&Value> = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["aws"] == "allow" && !s["intended"].as_bool().unwrap())
        .collect();
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
}

#[test]
fn markdown_renders_a_table() {
    let (code, text) = check(&fixture("open-branches.yml"), "markdown");
    assert_eq!(code, 0);
    assert!(
        text.starts_with("| repository | deployment | branch | source ip |"),
        "{text}"
    );
    assert!(
        text.contains("| web | production | `keyless/example` | 10.20.0.1 |"),
        "{text}"
    );
    assert!(text.contains("OK: "), "{text}");
}
