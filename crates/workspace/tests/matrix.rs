#![allow(clippy::unwrap_used)]
//! The who-can-assume-what matrix on the example workspace.

use std::path::Path;

use keyless_workspace::Config;
use keyless_workspace::matrix::{
    self, AwsVerdict, Identity, PipelineJudge, PipelineVerdict, TrustView,
};
use time::macros::datetime;

fn example() -> Config {
    keyless_workspace::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/keyless.yml"),
    )
    .unwrap()
}

/// Stands in for the enforce engine (whose real judge is tested in crates/enforce/tests/judge.rs): deployments
/// only from the environment's branches.
struct BranchJudge(Config);

impl PipelineJudge for BranchJudge {
    fn judge(&self, identity: &Identity) -> PipelineVerdict {
        match identity
            .deployment
            .as_deref()
            .and_then(|d| self.0.environment(d))
        {
            Some(env) if !env.allows_branch(&identity.branch) => PipelineVerdict::Deny,
            _ => PipelineVerdict::Allow,
        }
    }
}

const NOW: time::OffsetDateTime = datetime!(2026-11-22 05:00 UTC);

#[test]
fn example_matrix_has_no_unintended_path_once_branches_are_enforced() {
    let config = example();
    let plan = keyless_workspace::plan(&config).unwrap();
    let view = TrustView::from_plan(&plan);
    let m = matrix::build(&config, &view, Some(&BranchJudge(config.clone())), NOW);
    let unintended: Vec<_> = m.unintended().collect();
    assert!(unintended.is_empty(), "{unintended:#?}");
    assert_eq!(m.missing().count(), 0);

    let production = "arn:aws:iam::222222222222:role/keyless/bitbucket-production-deploy";
    // data-sandbox never reaches production, from anywhere.
    assert!(
        m.scenarios
            .iter()
            .filter(|s| s.repository == "data-sandbox" && s.role == production)
            .all(|s| s.aws == AwsVerdict::Deny)
    );
    // web-frontend reaches production only from the runner CIDR, with its production deployment.
    let allowed: Vec<_> = m
        .scenarios
        .iter()
        .filter(|s| s.role == production && s.aws == AwsVerdict::Allow)
        .map(|s| {
            (
                s.repository.as_str(),
                s.deployment.as_deref(),
                s.source_ip.to_string(),
            )
        })
        .collect();
    assert!(
        allowed
            .iter()
            .all(|(_, d, ip)| *d == Some("production") && ip == "203.0.113.1"),
        "{allowed:?}"
    );
    assert!(allowed.iter().any(|(r, _, _)| *r == "web-frontend"));
    // Adversaries reach nothing.
    assert!(
        m.scenarios
            .iter()
            .filter(|s| s.repository.starts_with('<'))
            .all(|s| s.aws == AwsVerdict::Deny)
    );
    // The synth role: orders-api steps without a deployment only.
    let synth = "arn:aws:iam::111111111111:role/orders-api-synth";
    for s in m.scenarios.iter().filter(|s| s.role == synth) {
        let expected = s.repository == "orders-api" && s.deployment.is_none();
        assert_eq!(s.aws == AwsVerdict::Allow, expected, "{s:?}");
        assert_eq!(s.intended, expected);
    }
}

#[test]
fn without_a_pipeline_layer_disallowed_branches_are_unintended() {
    let config = example();
    let plan = keyless_workspace::plan(&config).unwrap();
    let m = matrix::build(&config, &TrustView::from_plan(&plan), None, NOW);
    assert!(m.unintended > 0);
    assert!(
        m.unintended()
            .all(|s| s.pipeline == PipelineVerdict::NotApplicable && s.deployment.is_some())
    );
    assert!(m.unintended().all(|s| {
        !config
            .environment(s.deployment.as_deref().unwrap())
            .unwrap()
            .allows_branch(&s.branch)
    }));
    let json = serde_json::to_value(&m).unwrap();
    let first = &json["scenarios"][0];
    let keys: Vec<&str> = first
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
    assert_eq!(first["pipeline"], "n/a");
    assert_eq!(json["unintended"], m.unintended);
}

#[test]
fn a_hand_widened_trust_policy_is_caught() {
    let config = example();
    let plan = keyless_workspace::plan(&config).unwrap();
    let mut view = TrustView::from_plan(&plan);
    // Drift: someone widened production to the whole workspace (the seed articles' setup).
    let production = view
        .roles
        .iter_mut()
        .find(|r| r.name == "bitbucket-production-deploy")
        .unwrap();
    let widened = production.trust_policy.as_ref().unwrap().replace(
        "\"StringLike\":{\"api.bitbucket.org/2.0/workspaces/acme-platform/pipelines-config/identity/oidc:sub\":[",
        "\"StringLike\":{\"api.bitbucket.org/2.0/workspaces/acme-platform/pipelines-config/identity/oidc:sub\":[\"*\",",
    );
    assert_ne!(&widened, production.trust_policy.as_ref().unwrap());
    production.trust_policy = Some(widened);
    let m = matrix::build(&config, &view, Some(&BranchJudge(config.clone())), NOW);
    let unintended: Vec<_> = m.unintended().collect();
    assert!(
        unintended.iter().any(|s| s.repository == "data-sandbox"),
        "{unintended:#?}"
    );
    assert!(
        unintended
            .iter()
            .any(|s| s.repository == "<unknown repository>")
    );
}

#[test]
fn dangerously_allow_any_step_is_reported() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/keyless.yml"),
    )
    .unwrap()
    .replace(
        "      staging: \"{3c4d5e6f-7a8b-4c9d-8e0f-2a3b4c5d6e71}\"",
        "      staging: ~\n    dangerously_allow_any_step: true",
    );
    let config = keyless_workspace::parse(&text, "keyless.yml").unwrap();
    let plan = keyless_workspace::plan(&config).unwrap();
    let m = matrix::build(
        &config,
        &TrustView::from_plan(&plan),
        Some(&BranchJudge(config.clone())),
        NOW,
    );
    assert!(
        m.unintended()
            .any(|s| s.repository == "data-sandbox" && s.deployment.is_none())
    );
}

#[test]
fn a_missing_provider_denies_everything_and_is_reported_as_missing() {
    let config = example();
    let plan = keyless_workspace::plan(&config).unwrap();
    let mut view = TrustView::from_plan(&plan);
    view.providers.remove("222222222222");
    let m = matrix::build(&config, &view, Some(&BranchJudge(config.clone())), NOW);
    assert!(m.missing().all(|s| s.role.contains("222222222222")));
    assert!(m.missing().count() > 0);
}
