//! `issuer-mismatch`: condition keys naming a different provider than the statement's `Federated` principal.

use super::prelude::*;

pub struct IssuerMismatch;

static META: RuleMeta = RuleMeta {
    id: "issuer-mismatch",
    summary: "condition keys name a different OIDC provider than the trusted principal",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "Condition keys are `<provider host/path>:<claim>` of the provider that issued the token. A key for another \
          provider (a different workspace slug, GitHub's host copied from a guide, a typo) is never present, so \
          positive conditions always fail and negated ones always pass.",
    fix: "Use the provider path of the `Federated` ARN (after `oidc-provider/`) as the key prefix.",
    autofix: false,
};

impl Rule for IssuerMismatch {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        for s in &policy.statements {
            let providers: Vec<&str> = s
                .providers()
                .filter_map(|p| p.provider.as_deref())
                .collect();
            // Providers known only at deployment (`${Workspace}`) cannot be compared (`unresolved-reference` says so).
            if providers.is_empty()
                || s.federated
                    .iter()
                    .any(|p| p.holes && p.provider.as_deref().is_some_and(|x| x.contains("${")))
            {
                continue;
            }
            for c in &s.conditions {
                let Some(prefix) = c.key_prefix() else {
                    continue;
                };
                if c.claim().is_none()
                    || prefix.starts_with("https://")
                    || c.key_holes
                    || prefix.contains("${")
                {
                    continue;
                }
                if providers.iter().any(|p| p.eq_ignore_ascii_case(prefix)) {
                    continue;
                }
                out.push(
                    self.finding()
                        .message(format!("condition key `{}` is for provider `{prefix}`, but the statement trusts `{}`", c.key, providers.join("`, `")))
                        .at_loc(&c.key_at)
                        .label("key never present in this provider's tokens")
                        .help(match prefix.split_once(":oidc-provider/") {
                            // The provider's ARN written as the key prefix: only the URL part names the key.
                            Some(_) => format!(
                                "the key prefix is the provider's ARN; condition keys use its URL part: `{}:{}`",
                                providers[0],
                                c.key.rsplit(':').next().unwrap_or("sub")
                            ),
                            None => format!("use `{}:{}`", providers[0], c.key.rsplit(':').next().unwrap_or("sub")),
                        }),
                );
            }
        }
    }
}
