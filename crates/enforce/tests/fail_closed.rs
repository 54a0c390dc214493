//! Fail-closed: whatever the policy cannot judge is a rejection naming a rule, never a pass-through.
#![allow(clippy::unwrap_used)]

use keyless_enforce::{EnforceConfig, Invocation, render, rules};
use keyless_pipelines::{Node, PipelineFile, Target, parse};

fn config() -> EnforceConfig {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keyless.yml");
    EnforceConfig::from_yaml(&std::fs::read_to_string(path).unwrap(), path).unwrap()
}

fn main_branch() -> Invocation {
    Target::Branch("main".into()).into()
}

fn scenario_files() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/scenarios");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yml") && !p.to_string_lossy().ends_with(".out.yml")
        })
        .collect();
    v.sort();
    v.into_iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// The fixture keyless.yml with `policy.unknown_keys` set to `mode`.
fn config_unknown(mode: &str) -> EnforceConfig {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keyless.yml");
    let text = std::fs::read_to_string(path).unwrap().replace(
        "\npolicy:\n",
        &format!("\npolicy:\n  unknown_keys: {mode}\n"),
    );
    EnforceConfig::from_yaml(&text, path).unwrap()
}

/// For every scenario, an unknown key added to the root or to any step: refused everywhere under
/// `policy.unknown_keys: refuse` (rule `unknown_keys`); under the default `warn`, refused in a step that deploys
/// (its own `deployment` or its stage's) and passed through with a note everywhere else.
#[test]
fn an_unknown_key_anywhere_follows_the_unknown_keys_policy() {
    let warn = config();
    let refuse = config_unknown("refuse");
    let mut checked = 0;
    for text in scenario_files() {
        let file = parse(&text).unwrap();
        if render(&warn, parse(&text).unwrap(), &main_branch()).is_err() {
            continue;
        }
        let mut routes: Vec<_> = file
            .steps()
            .iter()
            .map(|s| (s.route.clone(), s.effective.deployment.is_some()))
            .collect();
        routes.push((keyless_pipelines::Route::root(), false));
        for (route, deploys) in routes {
            let mut edited = parse(&text).unwrap();
            edited
                .set_key(&route, "x-keyless-unknown", Node::string("?"))
                .unwrap();
            let err = render(&refuse, edited.clone(), &main_branch())
                .err()
                .unwrap_or_else(|| panic!("unknown key at {route} passed under refuse:\n{text}"));
            assert_eq!(err.rule, rules::UNKNOWN_KEYS, "{route}: {err:?}");
            assert!(err.message.contains("x-keyless-unknown"), "{err:?}");
            match render(&warn, edited, &main_branch()) {
                Err(e) => {
                    assert!(
                        deploys,
                        "{route}: refused under warn outside a deployment: {e:?}"
                    );
                    assert_eq!(e.rule, rules::UNKNOWN_KEYS);
                    assert!(e.message.contains("deployment"), "{e:?}");
                }
                Ok(rendered) => {
                    assert!(
                        !deploys,
                        "{route}: passed under warn inside a deployment step"
                    );
                    assert!(
                        rendered
                            .notes
                            .iter()
                            .any(|n| n.route == route.key("x-keyless-unknown").to_string()),
                        "{route}: {:?}",
                        rendered.notes
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
}

fn rejected(json: serde_json::Value) -> keyless_enforce::Rejection {
    let file = PipelineFile::from_json(json).unwrap();
    render(&config(), file, &main_branch()).unwrap_err()
}

/// An item that is none of `step`, `parallel`, `stage` cannot be judged: refused when it holds anything that
/// decides where steps run or what they deploy to; otherwise an unknown key like any other.
#[test]
fn unknown_item_is_rejected_when_it_could_deploy() {
    let e = rejected(serde_json::json!({"pipelines": {"branches": {"main": [
        {"job": {"deployment": "production", "script": ["x"]}}]}}}));
    assert_eq!(e.rule, rules::UNKNOWN_KEYS);
    assert_eq!(e.route, "pipelines.branches.main[0]");
    let e = rejected(serde_json::json!({"pipelines": {"branches": {"main": [
        {"job": {"runs-on": ["self.hosted", "prod"], "script": ["x"]}}]}}}));
    assert_eq!(e.rule, rules::UNKNOWN_KEYS);
    let harmless = PipelineFile::from_json(
        serde_json::json!({"pipelines": {"branches": {"main": [{"job": {"script": ["x"]}}]}}}),
    )
    .unwrap();
    let rendered = render(&config(), harmless.clone(), &main_branch()).unwrap();
    assert_eq!(rendered.notes[0].route, "pipelines.branches.main[0]");
    let e = render(&config_unknown("refuse"), harmless, &main_branch()).unwrap_err();
    assert_eq!(e.rule, rules::UNKNOWN_KEYS);
}

#[test]
fn invalid_pipeline_body_is_rejected() {
    let e = rejected(serde_json::json!({"pipelines": {"branches": {"main": "make"}}}));
    assert_eq!(e.rule, rules::STRUCTURE);
}

#[test]
fn invalid_oidc_is_rejected() {
    let e = rejected(serde_json::json!({"pipelines": {"branches": {"main": [
        {"step": {"name": "x", "oidc": 3, "script": ["make"]}}
    ]}}}));
    assert_eq!(e.rule, rules::STRUCTURE);
}

#[test]
fn invalid_script_entry_is_rejected() {
    let e = rejected(serde_json::json!({"pipelines": {"branches": {"main": [
        {"step": {"name": "x", "script": [{"not-a-pipe": 1}]}}
    ]}}}));
    assert_eq!(e.rule, rules::STRUCTURE);
}

#[test]
fn unknown_trigger_is_rejected() {
    let e = rejected(serde_json::json!({"pipelines": {"branches": {"main": [
        {"step": {"name": "x", "script": ["make"]}},
        {"step": {"name": "y", "trigger": "sometimes", "script": ["make"]}}
    ]}}}));
    assert_eq!(e.rule, rules::STRUCTURE);
}

#[test]
fn unresolved_import_is_rejected_even_when_not_selected() {
    let e = rejected(serde_json::json!({"pipelines": {
        "default": [{"step": {"name": "x", "script": ["make"]}}],
        "custom": {"shared": {"import": "lib:main:deploy"}}
    }}));
    assert_eq!(e.rule, rules::STRUCTURE);
    assert!(e.message.contains("lib:main:deploy"));
}

/// The fixture with its `policy:` section replaced by `policy` (YAML text starting with `policy:`).
fn with_policy(policy: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keyless.yml");
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find("\npolicy:\n").unwrap();
    format!("{}\n{policy}", &text[..start])
}

/// keyless-workspace owns the file: a bad `policy:` is a load error with line, column and fix.
#[test]
fn bad_policy_is_a_load_error() {
    let text = with_policy("policy:\n  setup: shell\n  forbid: []\n");
    let line = text.lines().count();
    let err = EnforceConfig::from_yaml(&text, "k.yml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown key `forbid`"), "{err}");
    assert!(err.contains("did you mean `forbidden`?"), "{err}");
    assert!(err.contains(&format!("k.yml:{line}:3")), "{err}");

    let text = with_policy(
        "policy:\n  forbidden:\n    scripts: [{regex: '(', message: m}]\n  production_environments: [prod]\n",
    );
    let line = text.lines().count();
    let err = EnforceConfig::from_yaml(&text, "k.yml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("forbidden.scripts[0].regex"), "{err}");
    assert!(err.contains(&format!("k.yml:{}:", line - 1)), "{err}");
    // Every mistake at once: the undefined production environment too, with a suggestion.
    assert!(err.contains("names `prod`, which is not defined"), "{err}");
    assert!(err.contains("(dev, staging, production)"), "{err}");
    assert!(err.contains("2 errors"), "{err}");

    let text = with_policy("policy:\n  atlassian_ip_size: 2x\n");
    let err = EnforceConfig::from_yaml(&text, "k.yml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("need 4x or 8x"), "{err}");
}

/// No `policy:` section: the defaults apply (and the config says so).
#[test]
fn no_policy_section_means_the_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keyless.yml");
    let text = std::fs::read_to_string(path).unwrap();
    let text = &text[..text.find("\npolicy:\n").unwrap()];
    let cfg = EnforceConfig::from_yaml(text, "k.yml").unwrap();
    assert!(!cfg.has_policy_section());
    assert!(cfg.policy().prepend.is_empty());
    assert!(cfg.policy().atlassian_ip_ranges);
    assert_eq!(cfg.policy().atlassian_ip_size, "4x");
    assert!(config().has_policy_section());
}

#[test]
fn error_json_shape() {
    let e = rejected(serde_json::json!({"pipelines": {"branches": {"main": "make"}}}));
    let v = e.to_error_json();
    assert_eq!(v["error"]["key"], "keyless-structure");
    assert!(v["error"]["message"].is_string());
    assert_eq!(v.as_object().unwrap().len(), 1);
}

mod payload {
    use keyless_enforce::payload::{PayloadError, parse_request};
    use keyless_pipelines::Target;
    use serde_json::json;

    #[test]
    fn run_payload_branch() {
        let r = parse_request(&json!({
            "trigger": "push",
            "target": {"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main",
                       "selector": {"type": "branches", "pattern": "main"}},
            "pipelines_configuration": {"pipelines": {"branches": {"main": [{"step": {"script": ["x"]}}]}}}
        }))
        .unwrap();
        assert_eq!(r.invocation.target, Some(Target::Branch("main".into())));
    }

    #[test]
    fn custom_run_keeps_branch() {
        let r = parse_request(&json!({
            "trigger": "manual",
            "target": {"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "release/1",
                       "selector": {"type": "custom", "pattern": "deploy"}},
            "pipelines_configuration": {}
        }))
        .unwrap();
        assert_eq!(r.invocation.target, Some(Target::Custom("deploy".into())));
        assert_eq!(r.invocation.branch.as_deref(), Some("release/1"));
    }

    #[test]
    fn pull_request() {
        let r = parse_request(&json!({
            "trigger": "push",
            "target": {"type": "pipeline_pullrequest_target", "source": "feat", "destination": "main"},
            "pipelines_configuration": null
        }))
        .unwrap();
        assert_eq!(
            r.invocation.target,
            Some(Target::PullRequest {
                source: "feat".into(),
                destination: "main".into()
            })
        );
    }

    #[test]
    fn malformed() {
        assert_eq!(
            parse_request(&json!([])).unwrap_err(),
            PayloadError::NotAnObject
        );
        assert_eq!(
            parse_request(&json!({})).unwrap_err(),
            PayloadError::Missing("trigger")
        );
        assert_eq!(
            parse_request(&json!({"trigger": 1})).unwrap_err(),
            PayloadError::WrongType {
                field: "trigger",
                expected: "a string"
            }
        );
        assert_eq!(
            parse_request(&json!({"trigger": "push", "target": {"type": "x"}})).unwrap_err(),
            PayloadError::UnknownTarget("x".into())
        );
        assert!(matches!(
            parse_request(&json!({"trigger": "push",
                "target": {"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "m"},
                "pipelines_configuration": 3})),
            Err(PayloadError::Configuration(_))
        ));
        assert_eq!(
            parse_request(&json!({"trigger": "push",
                "target": {"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "m"}}))
            .unwrap_err(),
            PayloadError::Missing("pipelines_configuration")
        );
    }
}

/// Targets that select no pipeline (docs/enforce.md): a run judges every pipeline with the branch rule, so a
/// deployment step never runs unjudged if Bitbucket's selection differs from keyless's; a definitions request
/// (nothing runs) leaves out each pipeline the branch may not run.
mod no_selected_pipeline {
    use keyless_enforce::payload::parse_request;
    use keyless_enforce::{Mode, render, render_for, render_request, rules};
    use keyless_pipelines::{PipelineFile, Target};
    use serde_json::json;

    fn production_on_main() -> serde_json::Value {
        json!({"pipelines": {"branches": {"main": [
            {"step": {"name": "build", "script": ["make"]}},
            {"step": {"name": "deploy", "deployment": "production", "script": ["./deploy"]}}
        ]}}})
    }

    fn feature() -> keyless_enforce::Invocation {
        Target::Branch("feature/x".into()).into()
    }

    #[test]
    fn a_run_rejects_a_deployment_the_branch_may_not_make() {
        let file = PipelineFile::from_json(production_on_main()).unwrap();
        let e = render(&super::config(), file, &feature()).unwrap_err();
        assert_eq!(e.rule, rules::BRANCHES);
        assert_eq!(e.route, "pipelines.branches.main[1].step.deployment");
        assert!(e.message.contains("selects no pipeline"), "{e:?}");
        assert!(e.message.contains("branch `feature/x`"), "{e:?}");
    }

    #[test]
    fn a_run_passes_when_nothing_could_deploy_against_the_branch() {
        // No deployment at all: nothing for the branch rule to refuse; rendered (prepend etc.) as usual.
        let file = PipelineFile::from_json(json!({"pipelines": {"branches": {"main": [
            {"step": {"name": "build", "script": ["make"]}}
        ]}}}))
        .unwrap();
        let rendered = render(&super::config(), file, &feature()).unwrap();
        assert!(rendered.changes.iter().all(|c| c.rule == rules::PREPEND));
        // A deployment the branch may make (dev allows `**`) passes too.
        let file = PipelineFile::from_json(json!({"pipelines": {"branches": {"main": [
            {"step": {"name": "deploy", "deployment": "dev", "script": ["./deploy"]}}
        ]}}}))
        .unwrap();
        assert!(render(&super::config(), file, &feature()).is_ok());
        // An empty configuration (a run payload filtered to nothing) is echoed.
        let empty = PipelineFile::from_json(json!({})).unwrap();
        let rendered = render(&super::config(), empty, &feature()).unwrap();
        assert!(rendered.changes.is_empty());
    }

    #[test]
    fn definitions_leave_out_what_the_branch_may_not_run() {
        // feature/x may not deploy to production: the pipeline is left out, the answer is not an error.
        let file = PipelineFile::from_json(production_on_main()).unwrap();
        let rendered = render_for(&super::config(), file, &feature(), Mode::Definitions).unwrap();
        assert_eq!(rendered.omitted.len(), 1);
        assert_eq!(rendered.omitted[0].pipeline, "pipelines.branches.main");
        assert_eq!(rendered.omitted[0].rule, rules::BRANCHES);
        assert_eq!(rendered.file.to_json(), json!({"pipelines": {}}));
        // main may: kept.
        let file = PipelineFile::from_json(production_on_main()).unwrap();
        let rendered = render_for(
            &super::config(),
            file,
            &Target::Branch("main".into()).into(),
            Mode::Definitions,
        )
        .unwrap();
        assert!(rendered.omitted.is_empty());
        assert!(rendered.file.to_json()["pipelines"]["branches"]["main"].is_array());
        // The message names the branch, not a selection.
        let file = PipelineFile::from_json(json!({"pipelines": {"default": [
            {"step": {"name": "deploy", "deployment": "production", "script": ["./deploy"]}}
        ]}}))
        .unwrap();
        let rendered = render_for(&super::config(), file, &feature(), Mode::Definitions).unwrap();
        let message = &rendered.omitted[0].message;
        assert!(
            message.contains("branch `feature/x` may not do"),
            "{message}"
        );
        assert!(!message.contains("selects no pipeline"), "{message}");
    }

    #[test]
    fn requests_take_their_mode_from_the_trigger() {
        let request = |trigger: &str| {
            parse_request(&json!({
                "workspace": "{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}",
                "trigger": trigger,
                "target": {"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "feature/x",
                           "selector": {"type": "branches", "pattern": "feature/*"}},
                "pipelines_configuration": production_on_main()
            }))
            .unwrap()
        };
        let definitions = render_request(&super::config(), request("definitions")).unwrap();
        assert_eq!(definitions.omitted.len(), 1);
        for trigger in ["push", "manual", "schedule", "parent_step"] {
            let e = render_request(&super::config(), request(trigger)).unwrap_err();
            assert_eq!(e.rule, rules::BRANCHES, "{trigger}");
        }
        assert_eq!(Mode::of_trigger("definitions"), Mode::Definitions);
        assert_eq!(Mode::of_trigger("push"), Mode::Run);
    }
}

/// An environment whose role trusts only calls through an STS VPC endpoint (issue 20): a cloud step deploying to
/// it is refused (rule `runners`), since a cloud runner never reaches the endpoint; on self-hosted runners it
/// renders.
#[test]
fn a_vpc_only_environment_refuses_cloud_steps() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keyless.yml");
    let text = std::fs::read_to_string(path).unwrap().replace(
        "    source_ips: [104.192.136.0/21]\n",
        "    vpc_endpoints: [vpce-0a1b2c3d4e5f60718]\n",
    );
    let config = EnforceConfig::from_yaml(&text, path).unwrap();
    let step = |runs_on: &str| {
        format!(
            "pipelines:\n  branches:\n    main:\n      - step:\n          name: Deploy\n          deployment: staging\n{runs_on}          script:\n            - ./deploy.sh\n"
        )
    };
    let cloud = render(&config, parse(&step("")).unwrap(), &main_branch()).unwrap_err();
    assert_eq!(cloud.rule, rules::RUNNERS, "{cloud}");
    assert!(cloud.message.contains("vpce-0a1b2c3d4e5f60718"), "{cloud}");
    assert!(cloud.message.contains("self-hosted"), "{cloud}");
    let own = render(
        &config,
        parse(&step("          runs-on: [self.hosted, linux]\n")).unwrap(),
        &main_branch(),
    );
    assert!(own.is_ok(), "{own:?}");
    // With the internet path too, a cloud step is judged as before (not refused for its runner).
    let both = text.replace(
        "    vpc_endpoints: [vpce-0a1b2c3d4e5f60718]\n",
        "    vpc_endpoints: [vpce-0a1b2c3d4e5f60718]\n    source_ips: [104.192.136.0/21]\n",
    );
    let config = EnforceConfig::from_yaml(&both, path).unwrap();
    let rendered = render(&config, parse(&step("")).unwrap(), &main_branch());
    assert!(rendered.is_ok(), "{rendered:?}");
}
