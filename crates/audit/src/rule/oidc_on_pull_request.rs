//! `oidc-on-pull-request`: OIDC enabled in a `pull-requests` pipeline.

use super::prelude::*;

pub struct OidcOnPullRequest;

static META: RuleMeta = RuleMeta {
    id: "oidc-on-pull-request",
    summary: "a pull-request pipeline gets an OIDC token",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Pull-request pipelines run the code of the source branch, which anyone with write access (and on some \
          setups, fork authors) controls. The token's `sub` carries no branch, so an AWS role that trusts the \
          repository trusts every pull request too.",
    fix: "Remove `oidc` from pull-request steps. Deploy from branch or tag pipelines with a `deployment` environment \
          and pin the role to that environment.",
    autofix: false,
};

impl Rule for OidcOnPullRequest {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        let Selector::PullRequests { source: glob, .. } = step.selector else {
            return;
        };
        let Some(route) = &step.oidc_route else {
            return;
        };
        if !step.oidc {
            return;
        }
        let mut f = self
            .finding()
            .message(format!(
                "{} in the pull-requests pipeline `{glob}` gets an OIDC token",
                step.describe()
            ))
            .at_key(route.clone())
            .label("any pull request can assume the roles that trust this repository")
            .help(
                "remove `oidc` here; deploy from a branch pipeline with a deployment environment",
            );
        if step.deployment.is_some() {
            // A deployment environment lets the role pin `{repo}:{env}:*`, and deployment permissions can block PRs.
            f = f.severity(Severity::Medium).confidence(Confidence::Medium);
        }
        out.push(f);
    }
}
