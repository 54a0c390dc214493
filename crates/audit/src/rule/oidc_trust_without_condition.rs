//! `oidc-trust-without-condition`: an OIDC provider trusted with no `Condition` at all. Reported from `keyless-iam`'s validation
//! registry (code `oidc-without-condition`), through the one adapter.

use super::prelude::*;

pub struct OidcTrustWithoutCondition;

static META: RuleMeta = RuleMeta {
    id: "oidc-trust-without-condition",
    summary: "an OIDC provider is trusted without any condition",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "Without conditions every token the provider issues can assume the role: for Bitbucket, every step of every \
          repository in the workspace, including pull requests. Access Analyzer reports this as \"Missing condition \
          key for oidc principal\".",
    fix: "Add `StringEquals` on `<provider>:aud` (the workspace audience) and `StringLike` on `<provider>:sub` pinned \
          to `{REPO_UUID}:{ENV_UUID}:*` (`keyless plan` generates this).",
    autofix: false,
};

impl Rule for OidcTrustWithoutCondition {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        validation::report(policy, &META, out);
    }
}
