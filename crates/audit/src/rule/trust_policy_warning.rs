//! `trust-policy-warning`: IAM accepts the trust policy, but part of it is probably not what the author meant
//! (Access Analyzer's warnings and keyless's own). Every warning of `keyless-iam`'s validation registry that no
//! more specific rule reports, through the one adapter, at the level the registry gives it.

use super::prelude::*;

pub struct TrustPolicyWarning;

static META: RuleMeta = RuleMeta {
    id: "trust-policy-warning",
    summary: "IAM accepts this part of the trust policy, but it is probably not what was meant",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "Some policies IAM accepts still do something else than they say: `\"Principal\": \"*\"` lets anyone \
          assume the role; `NotAction` allows every other sts action; a policy without `Version` (2008-10-17) reads \
          `${...}` policy variables as literal text; a wildcard action; an operator in another case than AWS \
          documents. The codes and their levels are keyless-iam's validation registry (docs/policy-validate.md).",
    fix: "Change the element the finding points at as its message says.",
    autofix: false,
};

impl Rule for TrustPolicyWarning {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        validation::report(policy, &META, out);
    }
}
