//! `invalid-trust-policy`: IAM would reject the trust policy (MalformedPolicyDocument), so the role cannot be
//! created or updated. Every error of `keyless-iam`'s validation registry that no more specific rule reports,
//! through the one adapter: the same codes `keyless policy validate` prints.

use super::prelude::*;

pub struct InvalidTrustPolicy;

static META: RuleMeta = RuleMeta {
    id: "invalid-trust-policy",
    summary: "IAM would reject this trust policy",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "IAM validates a role's trust policy when the role is created or the policy updated, and rejects it with \
          `MalformedPolicyDocument`: `Resource` or `NotPrincipal` in a trust policy, an action other than the sts \
          assume actions, an unknown condition operator, a bad `Effect` or `Version`, duplicate keys, an empty array. \
          The stack or plan then fails at deploy time, after review. The codes are keyless-iam's validation registry, \
          the same `keyless policy validate` reports (docs/policy-validate.md).",
    fix: "Fix the element the finding points at; `keyless policy validate FILE` lists every problem of a policy JSON \
          file with its code.",
    autofix: false,
};

impl Rule for InvalidTrustPolicy {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        validation::report(policy, &META, out);
    }
}
