//! `wildcard-in-equals`: `*` or `?` in a `StringEquals` value, where they are literal.

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
        for s in &policy.statements {
            for c in &s.conditions {
                if !c.base_operator().starts_with("StringEquals")
                    && !c.base_operator().starts_with("StringNotEquals")
                {
                    continue;
                }
                for (value, route) in &c.values {
                    if value.contains('*') || value.contains('?') {
                        out.push(
                            self.finding()
                                .message(format!("`{value}` under {} is compared literally; the wildcard never matches", c.operator))
                                .at(route.clone())
                                .label("literal `*`")
                                .help("use StringLike for patterns"),
                        );
                    }
                }
            }
        }
    }
}
