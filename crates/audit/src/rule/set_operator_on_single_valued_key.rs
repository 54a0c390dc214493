//! `set-operator-on-single-valued-key`: `ForAnyValue:`/`ForAllValues:` on `sub`, `aud` or other claims.

use super::prelude::*;

pub struct SetOperatorOnSingleValuedKey;

static META: RuleMeta = RuleMeta {
    id: "set-operator-on-single-valued-key",
    summary: "a set operator is used on a single-valued token claim",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "`ForAllValues:` is true when the key is missing or empty, so in an Allow statement it can match tokens \
          without the claim at all; `ForAnyValue:` on a single-valued key such as `sub` is a documented \
          anti-pattern that hides intent and behaves differently when the key is absent. pipeline-check's IAM-008 \
          does not look at set operators.",
    fix: "Use plain `StringEquals`/`StringLike` on `:sub` and `:aud`.",
    autofix: false,
};

impl Rule for SetOperatorOnSingleValuedKey {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        for s in &policy.statements {
            if !s.allow {
                continue;
            }
            for c in &s.conditions {
                let Some(set) = c.set_operator() else {
                    continue;
                };
                let Some(claim) = c.claim() else { continue };
                if !matches!(claim.as_str(), "sub" | "aud" | "azp" | "email" | "oaud") {
                    continue;
                }
                let all = set.eq_ignore_ascii_case("ForAllValues");
                let mut f = self
                    .finding()
                    .message(format!(
                        "`{}` on the single-valued claim `{claim}`",
                        c.operator
                    ))
                    .at_key(c.operator_route.clone())
                    .help(format!(
                        "use `{}` without the set prefix",
                        c.base_operator()
                    ));
                if all {
                    f = f.label("also true when the claim is missing");
                } else {
                    f = f
                        .label("set operator on a single value")
                        .severity(Severity::Medium);
                }
                if claim == "aud" && !all {
                    // `aud` becomes an array with custom audiences; how STS treats it is UNCONFIRMED.
                    f = f.severity(Severity::Low).confidence(Confidence::Medium);
                }
                out.push(f);
            }
        }
    }
}
