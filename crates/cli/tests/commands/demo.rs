#![allow(clippy::unwrap_used)]
//! `keyless demo --format json`: every step runs, every scenario ends as expected, nothing secret is printed.

use assert_cmd::Command;

#[test]
fn demo_json_shows_every_expected_outcome() {
    // From an empty directory with no configuration: the demo bundles everything it needs.
    let dir = tempfile::tempdir().unwrap();
    let output = Command::cargo_bin("keyless")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env_remove("KEYLESS_CONFIG")
        .args(["demo", "--format", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], true, "{stdout}");

    let steps = report["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "plan",
            "apply",
            "check",
            "assume",
            "caller-identity",
            "render",
            "audit"
        ]
    );
    for step in steps {
        assert!(
            step["ok"] == true || step["skipped"] == true,
            "step failed: {step}"
        );
        assert!(!step["summary"].as_str().unwrap().is_empty());
    }

    let scenarios = report["scenarios"].as_array().unwrap();
    let expect = |fragment: &str, outcome: &str| {
        let scenario = scenarios
            .iter()
            .find(|s| s["name"].as_str().unwrap().contains(fragment))
            .unwrap_or_else(|| panic!("no scenario named like `{fragment}` in {stdout}"));
        assert_eq!(scenario["expected"], outcome, "{scenario}");
        assert_eq!(scenario["actual"], outcome, "{scenario}");
        scenario["detail"].as_str().unwrap().to_owned()
    };
    let production = expect("deploys to production from main", "allow");
    assert!(
        production.contains("assumed-role/bitbucket-production-deploy/"),
        "{production}"
    );
    // The same step on a runner outside production's network: AWS sees 198.51.100.7 in aws:SourceIp.
    let outside = expect("outside its network", "deny");
    assert!(outside.contains("AccessDenied"), "{outside}");
    expect("deploys to staging", "allow");
    let feature = expect("feature branch", "deny");
    assert!(feature.contains("AccessDenied"), "{feature}");
    expect("never production", "deny");
    let github = expect("sts.amazonaws.com", "deny");
    assert!(
        github.contains("InvalidIdentityToken") || github.contains("AccessDenied"),
        "{github}"
    );
    for scenario in scenarios {
        assert_eq!(scenario["expected"], scenario["actual"], "{scenario}");
    }

    // The credentials worked: GetCallerIdentity named both assumed roles.
    let whoami = steps
        .iter()
        .find(|s| s["name"] == "caller-identity")
        .unwrap();
    assert_eq!(whoami["lines"].as_array().unwrap().len(), 2, "{whoami}");

    // No token or secret key is ever printed: JWTs start with `eyJ`; full access key ids are truncated.
    assert!(!stdout.contains("eyJ"), "a token leaked:\n{stdout}");
    assert!(!stdout.contains("SecretAccessKey") && !stdout.contains("SessionToken"));
}

#[test]
fn demo_text_narrates_and_suggests_next_commands() {
    let output = Command::cargo_bin("keyless")
        .unwrap()
        .arg("demo")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    for needle in [
        "1. [ok] keyless plan",
        "refused",
        "Next, on your own workspace:",
        "keyless init",
    ] {
        assert!(stdout.contains(needle), "missing `{needle}` in:\n{stdout}");
    }
    assert!(!stdout.contains("eyJ"));
}
