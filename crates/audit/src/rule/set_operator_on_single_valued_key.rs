//! `set-operator-on-single-valued-key`: `ForAnyValue:`/`ForAllValues:` where they change or hide what a condition
//! means. Reported from `keyless-iam`'s validation registry (codes `set-operator-on-single-valued-key`,
//! `for-all-values-in-allow`, `sub-only-set-operators`), through the one adapter.

use super::prelude::*;

pub struct SetOperatorOnSingleValuedKey;

static META: RuleMeta = RuleMeta {
    id: "set-operator-on-single-valued-key",
    summary: "a set operator is used where it changes or hides what the condition means",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "`ForAllValues:` is true when the key is missing or empty (IAMUG/reference_policies_condition-single-vs-multi-valued-context-keys), \
          so in an Allow it can match requests without the value at all; `ForAnyValue:` on a single-valued key \
          behaves like the plain operator and only hides intent. One table decides, the same in `keyless policy \
          validate` and in the audit:\n\n\
          | condition | severity | why |\n\
          |---|---|---|\n\
          | `ForAllValues:` on `<provider>:aud` | no finding | `aud` is an array when a step adds custom audiences, and STS rejects a token without `aud` (\"Missing a required claim: aud\") |\n\
          | `ForAnyValue:` on `<provider>:sub` or `:aud` (or another single-valued key) | low | false when the key is missing, like the plain operator: the risk is intent, not bypass |\n\
          | `ForAllValues:` on `<provider>:sub` next to a plain `sub` condition | medium | true when `sub` is missing; `sub` is always present in Bitbucket tokens (STS rejects a token without it), so the risk is intent |\n\
          | `ForAllValues:` as the Allow's only `sub` restriction | high | the statement's whole repository restriction rests on a vacuous truth; IAM's identity-provider controls for shared providers require `StringEquals`, `StringLike` or `StringEqualsIgnoreCase` on `sub` |\n\
          | `ForAllValues:` on another key in an Allow (e.g. `aws:SourceIp`, absent on the VPC-endpoint path) | medium | true when the key is missing |\n\
          | `ForAllValues:` on a single-valued key in a Deny | low | the Deny does not apply when the key is missing |\n\n\
          The issue that set this table asked for high on an Allow whose only `sub` conditions use any set operator; \
          `ForAnyValue:` alone is false when `sub` is missing, exactly like `StringLike`, so that row is low here.",
    fix: "Use plain `StringEquals`/`StringLike` on `:sub`; keep `ForAllValues:StringEquals` on `:aud` if steps add custom audiences.",
    autofix: false,
};

impl Rule for SetOperatorOnSingleValuedKey {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        validation::report(policy, &META, out);
    }
}
