//! `missing-sub-condition`: an OIDC statement with conditions but none on `:sub`: the whole workspace can assume.

use super::prelude::*;

pub struct MissingSubCondition;

static META: RuleMeta = RuleMeta {
    id: "missing-sub-condition",
    summary: "the trust policy does not check the token subject: every repository can assume the role",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "The Bitbucket audience is the same for every repository of the workspace. Only `sub` \
          (`{repo}:{step}` or `{repo}:{env}:{step}`) says which repository and environment the token belongs to; \
          without it any repository, branch or pull request of the workspace can assume the role.",
    fix: "Add `\"StringLike\": {\"<provider>:sub\": \"{REPO_UUID}:{ENV_UUID}:*\"}`.",
    autofix: false,
};

impl Rule for MissingSubCondition {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        for s in policy
            .statements
            .iter()
            .filter(|s| s.lacks_positive_condition_on("sub"))
        {
            out.push(
                self.finding()
                    .at_loc(s.condition_at.as_ref().unwrap_or(&s.at))
                    .label("no condition on :sub")
                    .help("add StringLike on <provider>:sub pinned to {REPO_UUID}:{ENV_UUID}:*"),
            );
        }
    }
}
