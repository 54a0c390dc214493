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

/// For every scenario, an unknown key added to the root or to any step is rejected (rule
/// `structure`), wherever the step sits (parallel, stage, custom, any pipeline).
#[test]
fn an_unknown_key_anywhere_is_rejected() {
    let cfg = config();
    let mut checked = 0;
    for text in scenario_files() {
        let file = parse(&text).unwrap();
        if render(&cfg, parse(&text).unwrap(), &main_branch())
            .is_err_and(|e| e.rule == rules::STRUCTURE)
        {
            continue;
        }
        let mut routes: Vec<_> = file.steps().iter().map(|s| s.route.clone()).collect();
        routes.push(keyless_pipelines::Route::root());
        for route in routes {
            let mut edited = parse(&text).unwrap();
            edited
                .set_key(&route, "x-keyless-unknown", Node::string("?"))
                .unwrap();
            let err = render(&cfg, edited, &main_branch())
                .err()
                .unwrap_or_else(|| panic!("unknown key at {route} passed:\n{text}"));
            assert_eq!(err.rule, rules::STRUCTURE, "{route}: {err:?}");
            assert!(err.message.contains("x-keyless-unknown"), "{err:?}");
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
}

fn rejected(json: serde_json::Value) -> keyless_enforce::Rejection {
    let file = PipelineFile::from_json(json).unwrap();
    render(&config(), file, &main_branch()).unwrap_err()
}

#[test]
fn unknown_item_is_rejected() {
    let e = rejected(
        serde_json::json!({"pipelines": {"branches": {"main": [{"job": {"script": ["x"]}}]}}}),
    );
    assert_eq!(e.rule, rules::STRUCTURE);
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

#[test]
fn bad_policy_is_a_load_error() {
    let text = "environments: {}\npolicy:\n  setup: shell\n  forbid: []\n";
    let err = EnforceConfig::from_yaml(text, "k.yml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("forbid"), "{err}");
    let text = "environments: {}\npolicy:\n  forbidden:\n    scripts: [{regex: '(', message: m}]\n";
    let err = EnforceConfig::from_yaml(text, "k.yml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("forbidden.scripts[0]"), "{err}");
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
        assert_eq!(r.invocation.target, Target::Branch("main".into()));
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
        assert_eq!(r.invocation.target, Target::Custom("deploy".into()));
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
            Target::PullRequest {
                source: "feat".into(),
                destination: "main".into()
            }
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
