//! `wildcard-in-equals`: `*` or `?` in a `StringEquals` value, where they are literal. Reported from `keyless-iam`'s validation
//! registry (code `wildcard-without-like`), through the one adapter.

use super::prelude::*;

pub struct WildcardInEquals;

static META: RuleMeta = RuleMeta {
    id: "wildcard-in-equals",
    summary: "a wildcard is used with StringEquals, where it is matched literally",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "`StringEquals` compares literally: `{repo}:*` only matches a subject that is exactly `{repo}:*`, so the role \
          can never be assumed (AccessDenied). Access Analyzer: \"Wildcard without like operator\".",
    fix: "Use `StringLike` for patterns; keep `StringEquals` for exact values.",
    autofix: false,
};

impl Rule for WildcardInEquals {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        validation::report(policy, &META, out);
    }
}
