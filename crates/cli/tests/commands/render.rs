//! `keyless render`: exit codes, formats, --explain, --diff and --payload, against the enforce fixtures.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use assert_cmd::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../enforce/tests/fixtures")
}

fn keyless() -> Command {
    let mut cmd = Command::cargo_bin("keyless").unwrap();
    cmd.env_remove("KEYLESS_CONFIG");
    cmd.arg("render")
        .arg("-c")
        .arg(fixtures().join("keyless.yml"));
    cmd
}

fn scenario(name: &str) -> PathBuf {
    fixtures().join("scenarios").join(name)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn success_prints_the_rendered_yaml() {
    let out = keyless()
        .args(["--branch", "main"])
        .arg(scenario("01-main-deploys-production.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let expected = std::fs::read_to_string(scenario("01-main-deploys-production.out.yml")).unwrap();
    let yaml = expected.split("# changes:\n").next().unwrap();
    assert_eq!(stdout(&out), yaml);
}

#[test]
fn rejection_json_is_the_provider_error() {
    let out = keyless()
        .args(["--branch", "feature/new-ui", "--format", "json"])
        .arg(scenario("05-feature-may-not-deploy-production.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["key"], "keyless-branches");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("feature/new-ui") && message.contains("hotfix/*"),
        "{message}"
    );
    assert_eq!(v["error"].as_object().unwrap().len(), 2);
}

#[test]
fn rejection_text_and_explain() {
    let out = keyless()
        .args(["--branch", "main", "--explain"])
        .arg(scenario("07-dev-job-on-prod-runner-rejected.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.starts_with("rejected: step `Deploy dev` deploys to `dev`"),
        "{text}"
    );
    assert!(text.contains("rule: runners"), "{text}");
}

#[test]
fn json_success_and_explain_changes() {
    let out = keyless()
        .args(["--branch", "main", "--format", "json", "--explain"])
        .arg(scenario("06-dev-job-on-protected-branch-stays-on-dev.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let step = &v["pipelines_configuration"]["pipelines"]["branches"]["main"][1]["step"];
    assert_eq!(
        step["runs-on"],
        serde_json::json!(["self.hosted", "linux", "dev"])
    );
    let rules: Vec<&str> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"runners") && rules.contains(&"oidc") && rules.contains(&"prepend"));
}

#[test]
fn diff_shows_only_the_changes() {
    let out = keyless()
        .args(["--branch", "feature/a", "--diff"])
        .arg(scenario("13-parallel-prepend-before-group.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.contains("--- input") && text.contains("+++ rendered"),
        "{text}"
    );
    assert!(text.contains("+        name: Security scan"), "{text}");
    assert!(!text.contains("-    - parallel:"), "{text}");
}

#[test]
fn custom_with_branch() {
    let out = keyless()
        .args(["--custom", "deploy-prod", "--branch", "main"])
        .arg(scenario("22-custom-with-variables.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = keyless()
        .args(["--custom", "deploy-prod"])
        .arg(scenario("22-custom-with-variables.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn payload_run_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("request.json");
    let body = serde_json::json!({
        "workspace": {"uuid": "{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}"},
        "repository": {"uuid": "{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}"},
        "trigger": "push",
        "target": {"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "hotfix/x",
                   "commit": {"hash": "abc"}, "selector": {"type": "branches", "pattern": "hotfix/*"}},
        "pipelines_configuration": {"pipelines": {"branches": {"hotfix/*": [
            {"step": {"name": "Deploy", "deployment": "production", "script": ["./deploy.sh"]}}
        ]}}}
    });
    std::fs::write(&path, body.to_string()).unwrap();
    let out = keyless()
        .args(["--format", "json", "--payload"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let step = &v["pipelines_configuration"]["pipelines"]["branches"]["hotfix/*"][1]["step"];
    assert_eq!(step["oidc"], true);
    assert_eq!(step["trigger"], "manual");
    // The flags override the request's own target: a feature branch may not deploy to production. The
    // override needs a definition that the feature branch selects (`**`), else no pipeline runs for it.
    let mut body = body;
    body["target"]["selector"]["pattern"] = serde_json::json!("**");
    let pipelines = body["pipelines_configuration"]["pipelines"]["branches"]
        .as_object_mut()
        .unwrap();
    let definition = pipelines.remove("hotfix/*").unwrap();
    pipelines.insert("**".to_owned(), definition);
    std::fs::write(&path, body.to_string()).unwrap();
    let out = keyless()
        .args(["--format", "json", "--branch", "feature/x", "--payload"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn bad_input_exits_2() {
    let out = keyless()
        .arg(scenario("01-main-deploys-production.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--branch"));
    let out = keyless()
        .args(["--pr", "nocolon"])
        .arg(scenario("01-main-deploys-production.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bitbucket-pipelines.yml");
    std::fs::write(&bad, "pipelines:\n  default: [\n").unwrap();
    let out = keyless()
        .args(["--branch", "main"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bitbucket-pipelines.yml:"), "{err}");
}

/// A target that selects no pipeline (docs/enforce.md): a run judges every pipeline; a definitions request leaves
/// out the pipelines the branch may not run, so the Run-pipeline dialog still lists the rest.
#[test]
fn a_target_that_selects_no_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bitbucket-pipelines.yml");
    std::fs::write(
        &file,
        "pipelines:\n  branches:\n    main:\n      - step:\n          name: deploy\n          deployment: production\n          script: [./deploy]\n",
    )
    .unwrap();
    let out = keyless()
        .args(["--branch", "feature/x", "--format", "json", "--explain"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["error"]["rule"], "branches");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("selects no pipeline"),
        "{v}"
    );

    let request = |trigger: &str| {
        let path = dir.path().join(format!("{trigger}.json"));
        let body = serde_json::json!({
            "workspace": "{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}",
            "trigger": trigger,
            "target": {"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "feature/x"},
            "pipelines_configuration": {"pipelines": {"branches": {"main": [
                {"step": {"name": "deploy", "deployment": "production", "script": ["./deploy"]}}
            ]}}}
        });
        std::fs::write(&path, body.to_string()).unwrap();
        path
    };
    let out = keyless()
        .args(["--format", "json", "--explain", "--payload"])
        .arg(request("definitions"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        v["pipelines_configuration"]["pipelines"],
        serde_json::json!({})
    );
    assert_eq!(v["omitted"][0]["pipeline"], "pipelines.branches.main");
    assert_eq!(v["omitted"][0]["rule"], "branches");
    let out = keyless()
        .args(["--format", "json", "--payload"])
        .arg(request("push"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
