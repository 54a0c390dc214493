//! `keyless check`'s pipeline verdict from the real render engine (`RenderJudge`), on the example workspace and
//! the seed-004 fixture: the matrix proves both layers together.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use keyless_enforce::judge::RenderJudge;
use keyless_workspace::Config;
use keyless_workspace::matrix::{self, AwsVerdict, PipelineVerdict, TrustView};
use time::macros::datetime;

const NOW: time::OffsetDateTime = datetime!(2026-11-22 05:00 UTC);

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn example_text() -> String {
    std::fs::read_to_string(root().join("examples/keyless.yml")).unwrap()
}

fn matrix_of(config: &Config) -> matrix::Matrix {
    let plan = keyless_workspace::plan(config).unwrap();
    let judge = RenderJudge::new(config.clone());
    matrix::build(config, &TrustView::from_plan(&plan), Some(&judge), NOW)
}

#[test]
fn the_example_workspace_has_no_unintended_path_with_the_pipeline_layer() {
    let config = keyless_workspace::parse(&example_text(), "examples/keyless.yml").unwrap();
    let m = matrix_of(&config);
    let unintended: Vec<_> = m.unintended().collect();
    assert!(unintended.is_empty(), "{unintended:#?}");
    assert_eq!(m.unintended, 0);
    assert_eq!(m.missing().count(), 0);

    // What AWS alone lets through on a disallowed branch, the pipeline layer blocks.
    let blocked: Vec<_> = m
        .scenarios
        .iter()
        .filter(|s| s.aws == AwsVerdict::Allow && !s.intended)
        .collect();
    assert!(!blocked.is_empty());
    assert!(
        blocked
            .iter()
            .all(|s| s.pipeline == PipelineVerdict::Deny && s.branch == "feature/keyless-check"),
        "{blocked:#?}"
    );
    // Every intended path passes both layers.
    assert!(
        m.scenarios
            .iter()
            .filter(|s| s.intended)
            .all(|s| s.pipeline == PipelineVerdict::Allow && s.aws == AwsVerdict::Allow)
    );
    // A step without a deployment is not judged by branch: render lets it run.
    assert!(
        m.scenarios
            .iter()
            .filter(|s| s.deployment.is_none() && !s.repository.starts_with('<'))
            .all(|s| s.pipeline == PipelineVerdict::Allow)
    );
    // Another workspace's pipelines never reach this workspace's provider.
    let other: Vec<_> = m
        .scenarios
        .iter()
        .filter(|s| s.repository == "<other workspace>")
        .collect();
    assert!(!other.is_empty());
    assert!(
        other
            .iter()
            .all(|s| s.pipeline == PipelineVerdict::NotApplicable)
    );
    // An unknown repository of the same workspace is judged like any other (its pipelines run in the workspace).
    assert!(
        m.scenarios
            .iter()
            .filter(|s| s.repository == "<unknown repository>")
            .all(|s| s.pipeline == PipelineVerdict::Allow)
    );
}

/// The verdict is render's own (the branch rule is not copied): it follows the environments' branches, and the
/// step it judges is rendered like any other (runners, OIDC setup, approval).
#[test]
fn the_verdict_follows_the_environments_branches() {
    let text = example_text();
    let config = keyless_workspace::parse(&text, "k.yml").unwrap();
    let judge = RenderJudge::new(config);
    assert!(judge.explain(Some("staging"), "feature/x").is_err());
    assert!(judge.explain(Some("staging"), "release/1.2").is_ok());
    assert!(judge.explain(Some("production"), "release/1.2").is_err());
    assert!(judge.explain(Some("production"), "hotfix/urgent").is_ok());
    // Render also gave the production step its runners, OIDC setup and approval.
    let rendered = judge.explain(Some("production"), "main").unwrap();
    let yaml = rendered.file.to_yaml_string();
    assert!(yaml.contains("self.hosted"), "{yaml}");
    assert!(yaml.contains("oidc: true"), "{yaml}");
    assert!(yaml.contains("trigger: manual"), "{yaml}");

    let widened = text.replace(
        r#"branches: [main, "release/*"]"#,
        r#"branches: [main, "release/*", "feature/**"]"#,
    );
    assert_ne!(widened, text);
    let config = keyless_workspace::parse(&widened, "k.yml").unwrap();
    let judge = RenderJudge::new(config);
    assert!(judge.explain(Some("staging"), "feature/x").is_ok());
}

/// A rejection of the synthetic step's own content (its script) says nothing about the scenario: `n/a`, so the
/// matrix does not credit the pipeline layer with blocking anything.
#[test]
fn a_content_rule_on_the_synthetic_step_is_not_a_deny() {
    let text = format!(
        "{}\npolicy:\n  forbidden:\n    scripts:\n      - regex: deploy\n        message: no deploys\n",
        example_text()
    );
    let config = keyless_workspace::parse(&text, "k.yml").unwrap();
    let m = matrix_of(&config);
    assert!(
        m.scenarios
            .iter()
            .filter(|s| s.repository != "<other workspace>")
            .all(|s| s.pipeline == PipelineVerdict::NotApplicable)
    );
    // So AWS alone decides, and the disallowed branches are unintended again.
    assert!(m.unintended > 0);
    assert!(m.unintended().all(|s| s.branch == "feature/keyless-check"));
}

/// The seed-004 fixture: dev takes any branch; production only main, master, hotfix/* and release/*.
#[test]
fn seed_004_strategy() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keyless.yml");
    let config = keyless_workspace::load(Path::new(path)).unwrap();
    let m = matrix_of(&config);
    assert_eq!(m.unintended, 0, "{:#?}", m.unintended().collect::<Vec<_>>());
    let verdicts = |deployment: &str| -> Vec<(String, PipelineVerdict)> {
        let mut v: Vec<_> = m
            .scenarios
            .iter()
            .filter(|s| {
                s.repository == "platform-app" && s.deployment.as_deref() == Some(deployment)
            })
            .map(|s| (s.branch.clone(), s.pipeline))
            .collect();
        v.dedup();
        v
    };
    let production = verdicts("production");
    assert!(production.contains(&("main".to_owned(), PipelineVerdict::Allow)));
    assert!(
        production
            .iter()
            .any(|(b, v)| b != "main" && *v == PipelineVerdict::Deny),
        "{production:?}"
    );
    // `**` leaves no disallowed branch to try for dev.
    assert!(
        verdicts("dev")
            .iter()
            .all(|(_, v)| *v == PipelineVerdict::Allow)
    );
}
