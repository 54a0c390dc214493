//! The decided details of the Dynamic Pipelines contract (issue 16), each as a test: definitions answers that
//! leave out what may not run, branchless runs, Bitbucket's selector, the workspace binding, unknown keys and
//! anchor holders, OIDC for pipes, and report mode. The requests follow the shapes of Atlassian's documented
//! examples (`fixtures/atlassian/`); `tests/conformance` drives the examples themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keyless_enforce::payload::{TriggerContext, parse_request};
use keyless_enforce::{EnforceConfig, Mode, Rejection, Rendered, render_for, render_request};
use keyless_pipelines::{PipelineFile, Severity, Target, parse, validate};
use serde_json::{Value, json};

const WORKSPACE: &str = "{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}";

fn fixture_config() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keyless.yml");
    std::fs::read_to_string(path).unwrap()
}

fn config() -> EnforceConfig {
    EnforceConfig::from_yaml(&fixture_config(), "keyless.yml").unwrap()
}

/// The fixture keyless.yml with `extra` lines appended under `policy:`.
fn config_with(extra: &str) -> EnforceConfig {
    let text = fixture_config().replace("\npolicy:\n", &format!("\npolicy:\n{extra}"));
    EnforceConfig::from_yaml(&text, "keyless.yml").unwrap()
}

fn commit() -> Value {
    json!({"type": "pipeline_commit_target", "commit": {"hash": "e34ad324d1e4334777dca3e56c04eba36c2a68c6"}})
}

fn branch(name: &str) -> Value {
    json!({"type": "pipeline_ref_target", "commit": {"hash": "ca0beaeaf9c4d6ef07e9abf2de0d262014f23dd5"},
           "ref_type": "branch", "ref_name": name})
}

fn request(trigger: &str, target: Value, configuration: Value) -> Value {
    json!({
        "workspace": WORKSPACE,
        "repository": "{2fc883c6-3dee-4e73-a354-ccee4bd77938}",
        "creator": "{cda97709-b1a9-4544-9a8d-750f1b3a12c4}",
        "trigger": trigger,
        "target": target,
        "pipelines_configuration": configuration,
    })
}

fn answer(config: &EnforceConfig, body: &Value) -> Result<Rendered, Rejection> {
    render_request(config, parse_request(body).unwrap())
}

fn step(name: &str, deployment: Option<&str>, script: Value) -> Value {
    let mut s = json!({"name": name, "script": script});
    if let Some(d) = deployment {
        s["deployment"] = d.into();
    }
    json!({"step": s})
}

/// A configuration with a build pipeline, a production deployment and a dev deployment.
fn three_pipelines() -> Value {
    json!({"pipelines": {
        "default": [step("Build", None, json!(["make"]))],
        "custom": {
            "deploy-prod": [step("Deploy prod", Some("production"), json!(["./deploy.sh"]))],
            "deploy-dev": [step("Deploy dev", Some("dev"), json!(["./deploy.sh"]))]
        }
    }})
}

fn pipelines_of(rendered: &Rendered) -> Value {
    rendered.file.to_json()["pipelines"].clone()
}

/// The step named `name` in a pipeline's items (the policy prepends a security scan before it).
fn named<'a>(items: &'a Value, name: &str) -> &'a Value {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["step"])
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step `{name}` in {items}"))
}

/// A keyless.yml with the fixture's environments and no policy beyond the given lines.
fn plain_config(policy: &str) -> EnforceConfig {
    let text = fixture_config();
    let environments = text.split("\npolicy:\n").next().unwrap();
    EnforceConfig::from_yaml(
        &format!("{environments}\npolicy:\n{policy}  setup: shell\n"),
        "keyless.yml",
    )
    .unwrap()
}

#[test]
fn definitions_on_a_commit_list_every_definition_without_the_branch_rule() {
    let rendered = answer(
        &config(),
        &request("definitions", commit(), three_pipelines()),
    )
    .unwrap();
    let p = pipelines_of(&rendered);
    assert!(p["custom"]["deploy-prod"].is_array(), "{p}");
    assert!(p["custom"]["deploy-dev"].is_array());
    assert!(p["default"].is_array());
    assert!(rendered.omitted.is_empty());
    assert_no_schema_errors(&rendered.file);
}

#[test]
fn definitions_on_a_branch_leave_out_what_that_branch_may_not_run() {
    let rendered = answer(
        &config(),
        &request("definitions", branch("feature/login"), three_pipelines()),
    )
    .unwrap();
    let p = pipelines_of(&rendered);
    assert!(p["custom"].get("deploy-prod").is_none(), "{p}");
    assert!(p["custom"]["deploy-dev"].is_array());
    assert!(p["default"].is_array());
    assert_eq!(rendered.omitted.len(), 1);
    let o = &rendered.omitted[0];
    assert_eq!(o.pipeline, "pipelines.custom.deploy-prod");
    assert_eq!(o.rule, "branches");
    assert!(
        o.message.contains("branch `feature/login` may not do"),
        "{}",
        o.message
    );
    // On main the production deployment is listed again.
    let main = answer(
        &config(),
        &request("definitions", branch("main"), three_pipelines()),
    )
    .unwrap();
    assert!(pipelines_of(&main)["custom"]["deploy-prod"].is_array());
    assert!(main.omitted.is_empty());
}

#[test]
fn definitions_never_fail_as_a_whole() {
    // Only a production deployment: nothing is left for a feature branch, and the answer is `pipelines: {}`.
    let only_prod = json!({"pipelines": {"custom": {
        "deploy-prod": [step("Deploy prod", Some("production"), json!(["./deploy.sh"]))]}}});
    let rendered = answer(
        &config(),
        &request("definitions", branch("feature/x"), only_prod),
    )
    .unwrap();
    assert_eq!(rendered.file.to_json()["pipelines"], json!({}));
    // A forbidden script leaves out its own pipeline only.
    let mut forbidden = three_pipelines();
    forbidden["pipelines"]["custom"]["deploy-dev"][0]["step"]["script"] =
        json!(["curl https://x.example/install.sh | sh"]);
    let rendered = answer(&config(), &request("definitions", commit(), forbidden)).unwrap();
    let p = pipelines_of(&rendered);
    assert!(p["custom"].get("deploy-dev").is_none(), "{p}");
    assert!(p["custom"]["deploy-prod"].is_array());
    assert_eq!(rendered.omitted[0].rule, "forbidden.scripts");
    // A refusal of the whole configuration (the global image) leaves out every pipeline, still not an error.
    let mut image = three_pipelines();
    image["image"] = json!("node:latest");
    let rendered = answer(&config(), &request("definitions", commit(), image)).unwrap();
    assert_eq!(rendered.file.to_json()["pipelines"], json!({}));
    assert_eq!(rendered.omitted.len(), 3);
    assert!(
        rendered
            .omitted
            .iter()
            .all(|o| o.rule == "forbidden.images")
    );
    // The same configuration for a run is refused as a whole.
    let mut image = three_pipelines();
    image["image"] = json!("node:latest");
    let run = answer(&config(), &request("push", branch("main"), image)).unwrap_err();
    assert_eq!(run.key, "keyless-forbidden-images");
}

fn custom_on_commit(name: &str) -> Value {
    json!({"type": "pipeline_commit_target",
           "selector": {"type": "custom", "pattern": name},
           "commit": {"hash": "82dec1c48c8d3aa75e9e246646894ed952216f3d"}})
}

#[test]
fn branchless_runs_deploy_only_where_every_branch_or_the_policy_allows() {
    // `dev` allows `**`: a custom run on a commit (a child pipeline, a manual run) may deploy there.
    let rendered = answer(
        &config(),
        &request("manual", custom_on_commit("deploy-dev"), three_pipelines()),
    )
    .unwrap();
    assert_eq!(
        named(
            &pipelines_of(&rendered)["custom"]["deploy-dev"],
            "Deploy dev"
        )["oidc"],
        json!(true)
    );
    // `production` allows named branches only: refused, naming the policy key that would allow it.
    let refused = answer(
        &config(),
        &request("manual", custom_on_commit("deploy-prod"), three_pipelines()),
    )
    .unwrap_err();
    assert_eq!(refused.key, "keyless-branches");
    assert!(
        refused.message.contains("policy.branchless_environments"),
        "{}",
        refused.message
    );
    assert!(
        refused.message.contains("commit `82dec1c48c8d`"),
        "{}",
        refused.message
    );
    // Listed in policy.branchless_environments: allowed.
    let listed = config_with("  branchless_environments: [production]\n");
    answer(
        &listed,
        &request("manual", custom_on_commit("deploy-prod"), three_pipelines()),
    )
    .unwrap();
    // A tag is branchless too.
    let tag = json!({"type": "pipeline_ref_target", "ref_type": "tag", "ref_name": "v1.0.0",
                     "selector": {"type": "custom", "pattern": "deploy-prod"}});
    let refused = answer(
        &config(),
        &request("manual", tag.clone(), three_pipelines()),
    )
    .unwrap_err();
    assert!(
        refused.message.contains("on tag `v1.0.0`"),
        "{}",
        refused.message
    );
    answer(&listed, &request("manual", tag, three_pipelines())).unwrap();
}

#[test]
fn parent_step_runs_carry_their_trigger_context() {
    let mut body = request(
        "parent_step",
        custom_on_commit("deploy-dev"),
        three_pipelines(),
    );
    body["trigger_context"] = json!({
        "type": "parent_step",
        "parent_pipeline_uuid": "{11111111-1111-1111-1111-111111111111}",
        "parent_pipeline_run_uuid": "{22222222-2222-2222-2222-222222222222}",
        "parent_step_uuid": "{33333333-3333-3333-3333-333333333333}"
    });
    let parsed = parse_request(&body).unwrap();
    assert_eq!(
        parsed.trigger_context,
        Some(TriggerContext {
            kind: Some("parent_step".into()),
            parent_pipeline_uuid: Some("{11111111-1111-1111-1111-111111111111}".into()),
            parent_pipeline_run_uuid: Some("{22222222-2222-2222-2222-222222222222}".into()),
            parent_step_uuid: Some("{33333333-3333-3333-3333-333333333333}".into()),
        })
    );
    assert_eq!(Mode::of_trigger(&parsed.trigger), Mode::Run);
    render_request(&config(), parsed).unwrap();
    // A child run that deploys to production from a commit is branchless: refused.
    body["target"] = custom_on_commit("deploy-prod");
    assert_eq!(answer(&config(), &body).unwrap_err().rule, "branches");
}

#[test]
fn the_selector_bitbucket_sent_is_the_pipeline_judged() {
    // `feature/*` deploys to production; `**` does not. For branch `feature/x` keyless alone would select
    // `feature/*` (the more specific glob); Bitbucket says it selected `**`: only that one is judged.
    let configuration = json!({"pipelines": {"branches": {
        "feature/*": [step("Deploy prod", Some("production"), json!(["./deploy.sh"]))],
        "**": [step("Build", None, json!(["make"]))]
    }}});
    let mut target = branch("feature/x");
    let derived = answer(
        &config(),
        &request("push", target.clone(), configuration.clone()),
    );
    assert_eq!(derived.unwrap_err().rule, "branches");
    target["selector"] = json!({"type": "branches", "pattern": "**"});
    answer(
        &config(),
        &request("push", target.clone(), configuration.clone()),
    )
    .unwrap();
    // A selector naming no pipeline of the configuration selects nothing: every pipeline is judged.
    target["selector"] = json!({"type": "branches", "pattern": "release/*"});
    let none = answer(&config(), &request("push", target, configuration)).unwrap_err();
    assert!(
        none.message.contains("selects no pipeline"),
        "{}",
        none.message
    );
}

#[test]
fn a_request_for_another_workspace_is_refused() {
    let mut body = request("push", branch("main"), three_pipelines());
    body["workspace"] = json!("{308ce669-576d-4fa7-b4d4-15e8171f0c8c}");
    let refused = answer(&config(), &body).unwrap_err();
    assert_eq!(refused.key, "keyless-workspace");
    assert!(
        refused
            .message
            .contains("{308ce669-576d-4fa7-b4d4-15e8171f0c8c}")
    );
    assert!(refused.message.contains(WORKSPACE), "{}", refused.message);
    // The same UUID without braces and in upper case is the same workspace.
    body["workspace"] = json!(WORKSPACE.trim_matches(['{', '}']).to_uppercase());
    answer(&config(), &body).unwrap();
    // A request that names no workspace is not judged under this workspace's policy either.
    body.as_object_mut().unwrap().remove("workspace");
    assert_eq!(
        answer(&config(), &body).unwrap_err().key,
        "keyless-workspace"
    );
}

fn run_yaml(config: &EnforceConfig, yaml: &str) -> Result<Rendered, Rejection> {
    render_for(
        config,
        parse(yaml).unwrap(),
        &Target::Branch("main".into()).into(),
        Mode::Run,
    )
}

#[test]
fn unknown_keys_pass_with_a_report_unless_they_could_move_a_deployment() {
    let yaml = "new-top-level: 1\npipelines:\n  default:\n    - step:\n        name: Build\n        future-key: on\n        script: [make]\n";
    let rendered = run_yaml(&config(), yaml).unwrap();
    let out = rendered.file.to_json();
    assert_eq!(out["new-top-level"], json!(1));
    // Pipelines are read as Bitbucket reads them, with YAML 1.1 scalars: `on` is true.
    assert_eq!(
        named(&out["pipelines"]["default"], "Build")["future-key"],
        json!(true)
    );
    let located: Vec<_> = rendered
        .notes
        .iter()
        .map(|n| (n.route.as_str(), n.location))
        .collect();
    assert_eq!(
        located,
        vec![
            ("new-top-level", Some("top-level")),
            ("pipelines.default[0].step.future-key", Some("step")),
        ]
    );
    // Inside a deployment step, a stage with a deployment, or any step's runtime: refused under warn.
    for (yaml, route) in [
        (
            "pipelines:\n  default:\n    - step:\n        deployment: dev\n        future-key: on\n        script: [make]\n",
            "pipelines.default[0].step.future-key",
        ),
        (
            "pipelines:\n  default:\n    - stage:\n        deployment: dev\n        future-key: on\n        steps:\n          - step: {script: [make]}\n",
            "pipelines.default[0].stage.future-key",
        ),
        (
            "pipelines:\n  default:\n    - step:\n        runtime: {cloud: {arch: arm, region: eu}}\n        script: [make]\n",
            "pipelines.default[0].step.runtime.cloud.region",
        ),
        (
            "pipelines:\n  default:\n    - job:\n        deployment: production\n        script: [make]\n",
            "pipelines.default[0]",
        ),
    ] {
        let refused = run_yaml(&config(), yaml).unwrap_err();
        assert_eq!(
            (refused.rule.as_str(), refused.route.as_str()),
            ("unknown_keys", route),
            "{yaml}"
        );
        assert!(
            refused.message.contains("policy.unknown_keys: warn"),
            "{}",
            refused.message
        );
    }
    // An unknown item that holds no deployment passes through under warn.
    run_yaml(
        &config(),
        "pipelines:\n  default:\n    - job:\n        script: [make]\n",
    )
    .unwrap();
    // refuse: every unknown key is refused; pass: none is, and nothing is reported.
    let refused = run_yaml(&config_with("  unknown_keys: refuse\n"), yaml).unwrap_err();
    assert_eq!(refused.key, "keyless-unknown-keys");
    let passed = run_yaml(&config_with("  unknown_keys: pass\n"), yaml).unwrap();
    assert!(passed.notes.is_empty());
}

#[test]
fn anchor_holders_are_dropped_with_one_explain_line() {
    let yaml = "x-deploy: &deploy\n  name: Deploy\n  deployment: dev\n  script: [./deploy.sh]\npipelines:\n  default:\n    - step: *deploy\n";
    let rendered = run_yaml(&config(), yaml).unwrap();
    let out = rendered.file.to_json();
    assert!(out.get("x-deploy").is_none(), "{out}");
    assert_eq!(
        named(&out["pipelines"]["default"], "Deploy")["deployment"],
        json!("dev")
    );
    let lines: Vec<_> = rendered
        .changes
        .iter()
        .filter(|c| c.rule == "anchors")
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].route, "x-deploy");
    assert!(
        rendered.notes.is_empty(),
        "an anchor holder is not an unknown key"
    );
    // Rendering the rendered file changes nothing.
    let again = run_yaml(&config(), &rendered.file.to_yaml_string()).unwrap();
    assert_eq!(again.file.root(), rendered.file.root());
}

const PIPE_STEP: &str = "pipelines:\n  default:\n    - step:\n        name: Invalidate\n        deployment: dev\n        script:\n          - pipe: atlassian/aws-cloudfront-invalidate:0.6.0\n            variables:\n              DISTRIBUTION_ID: '123xyz'\n";

#[test]
fn known_aws_pipes_get_the_role_as_a_pipe_variable() {
    let rendered = run_yaml(&plain_config(""), PIPE_STEP).unwrap();
    let step = &rendered.file.to_json()["pipelines"]["default"][0]["step"];
    let variables = &step["script"][0]["variables"];
    assert_eq!(
        variables["AWS_OIDC_ROLE_ARN"],
        json!("arn:aws:iam::111111111111:role/bitbucket-dev-deploy")
    );
    assert_eq!(variables["AWS_DEFAULT_REGION"], json!("eu-west-1"));
    assert_eq!(variables["DISTRIBUTION_ID"], json!("123xyz"));
    assert_eq!(step["oidc"], json!(true));
    // A script of pipes only gets no shell setup: the pipe's container would never see it.
    assert_eq!(step["script"].as_array().unwrap().len(), 1);
    assert!(rendered.changes.iter().any(|c| {
        c.message
            .starts_with("OIDC for pipe `atlassian/aws-cloudfront-invalidate:0.6.0`")
    }));
    assert!(
        !rendered
            .changes
            .iter()
            .any(|c| c.message.contains("prepended the"))
    );
    let again = run_yaml(&plain_config(""), &rendered.file.to_yaml_string()).unwrap();
    assert_eq!(again.file.root(), rendered.file.root());
}

#[test]
fn static_keys_next_to_the_role_are_refused_or_removed() {
    let with_keys = PIPE_STEP.replace(
        "              DISTRIBUTION_ID: '123xyz'\n",
        "              DISTRIBUTION_ID: '123xyz'\n              AWS_ACCESS_KEY_ID: $AWS_ACCESS_KEY_ID\n              AWS_SECRET_ACCESS_KEY: $AWS_SECRET_ACCESS_KEY\n",
    );
    let refused = run_yaml(&plain_config(""), &with_keys).unwrap_err();
    assert_eq!(refused.key, "keyless-pipe-static-keys");
    assert_eq!(
        refused.route,
        "pipelines.default[0].step.script[0].variables.AWS_ACCESS_KEY_ID"
    );
    let removed = run_yaml(&plain_config("  pipe_static_keys: remove\n"), &with_keys).unwrap();
    let variables =
        &removed.file.to_json()["pipelines"]["default"][0]["step"]["script"][0]["variables"];
    assert!(variables.get("AWS_ACCESS_KEY_ID").is_none(), "{variables}");
    assert!(variables.get("AWS_SECRET_ACCESS_KEY").is_none());
    assert!(variables["AWS_OIDC_ROLE_ARN"].is_string());
}

#[test]
fn pipes_keyless_does_not_know_are_reported_never_applied() {
    for (pipe, why) in [
        ("atlassian/aws-s3-deploy:1.1.0", "unknown pipe"),
        (
            "atlassian/aws-cloudfront-invalidate:0.4.1",
            "older than 0.5.0",
        ),
        ("atlassian/aws-cloudfront-invalidate", "none is pinned"),
    ] {
        let yaml = PIPE_STEP.replace("atlassian/aws-cloudfront-invalidate:0.6.0", pipe);
        let rendered = run_yaml(&plain_config(""), &yaml).unwrap();
        let variables =
            &rendered.file.to_json()["pipelines"]["default"][0]["step"]["script"][0]["variables"];
        assert!(
            variables.get("AWS_OIDC_ROLE_ARN").is_none(),
            "{pipe}: {variables}"
        );
        let note = rendered
            .notes
            .iter()
            .find(|n| n.rule == "oidc")
            .expect(pipe);
        assert!(
            note.message.starts_with("OIDC not applied"),
            "{}",
            note.message
        );
        assert!(note.message.contains(why), "{pipe}: {}", note.message);
    }
}

#[test]
fn report_mode_answers_the_input_unchanged_with_what_enforcing_would_do() {
    let report = config_with("  mode: report\n");
    let mut target = branch("feature/x");
    target["selector"] = json!({"type": "custom", "pattern": "deploy-prod"});
    let body = request("manual", target, three_pipelines());
    let rendered = answer(&report, &body).unwrap();
    assert_eq!(rendered.file.to_json(), three_pipelines());
    let would = rendered.would.as_deref().unwrap();
    let rejection = would.as_ref().unwrap_err();
    assert_eq!(rejection.rule, "branches");
    // A run that would pass: the changes it would have made are listed, the answer is unchanged.
    let rendered = answer(&report, &request("push", branch("main"), three_pipelines())).unwrap();
    assert_eq!(rendered.file.to_json(), three_pipelines());
    let would = rendered.would.as_deref().unwrap().as_ref().unwrap();
    assert!(would.changes.iter().any(|c| c.rule == "oidc"));
    // The workspace binding is not a policy rule: it applies in report mode too.
    let mut foreign = request("push", branch("main"), three_pipelines());
    foreign["workspace"] = json!("{308ce669-576d-4fa7-b4d4-15e8171f0c8c}");
    assert_eq!(
        answer(&report, &foreign).unwrap_err().key,
        "keyless-workspace"
    );
}

fn assert_no_schema_errors(file: &PipelineFile) {
    let errors: Vec<String> = validate(file)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}
