//! `missing-aud-condition`: an OIDC statement with conditions but none on `:aud`.

use super::prelude::*;

pub struct MissingAudCondition;

static META: RuleMeta = RuleMeta {
    id: "missing-aud-condition",
    summary: "the trust policy does not check the token audience",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "Without an `:aud` condition the role relies only on the provider's client-ID list. If that list gains an \
          audience for another verifier (custom audiences are appended to the token), tokens minted for that \
          verifier also assume this role.",
    fix: "Add `\"StringEquals\": {\"<provider>:aud\": \"ari:cloud:bitbucket::workspace/<workspace-uuid>\"}`.",
    autofix: false,
};

impl Rule for MissingAudCondition {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        for s in policy
            .statements
            .iter()
            .filter(|s| s.lacks_positive_condition_on("aud"))
        {
            out.push(
                self.finding()
                    .at_loc(s.condition_at.as_ref().unwrap_or(&s.at))
                    .label("no condition on :aud")
                    .help("add StringEquals on <provider>:aud with the workspace audience"),
            );
        }
    }
}
