//! `unsupported-claim-key`: conditions on token claims AWS does not expose (e.g. Bitbucket's `branchName`).

use super::prelude::*;

pub struct UnsupportedClaimKey;

static META: RuleMeta = RuleMeta {
    id: "unsupported-claim-key",
    summary: "the condition uses a token claim AWS does not expose as a condition key",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "For generic OIDC providers AWS only exposes `aud`, `sub`, `amr`, `azp`, `email` and `oaud` as condition keys. \
          Custom claims such as Bitbucket's `branchName`, `repositoryUuid` or `deploymentEnvironmentUuid` are never \
          present: a positive condition on them always denies, a negated one always allows.",
    fix: "Restrict with `:sub` instead (`{REPO_UUID}:{ENV_UUID}:*`), and gate branches in Bitbucket with deployment \
          permissions (branch restrictions on the environment).",
    autofix: false,
};

const SUPPORTED: &[&str] = &["aud", "sub", "amr", "azp", "email", "oaud"];

impl Rule for UnsupportedClaimKey {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        for s in &policy.statements {
            // Provider-specific claims AWS added for GitHub and others (2026) are out of scope here.
            if !s.trusts_bitbucket() {
                continue;
            }
            for c in &s.conditions {
                let Some(prefix) = c.key_prefix() else {
                    continue;
                };
                // Keys of the trusted Bitbucket provider (issuer-mismatch reports keys of other providers).
                let trusted = s.providers().any(|p| {
                    p.provider.as_deref().is_some_and(|p| {
                        p.eq_ignore_ascii_case(prefix) || (p.contains("${") && is_bitbucket(prefix))
                    })
                }) || (s.providers().next().is_none() && is_bitbucket(prefix));
                if !trusted {
                    continue;
                }
                let Some(claim) = c.claim() else { continue };
                if SUPPORTED.contains(&claim.as_str()) {
                    continue;
                }
                let negated = c.is_negated() || c.base_operator().ends_with("IfExists");
                let mut f = self
                    .finding()
                    .message(format!(
                        "`{}` is not a condition key AWS sets for OIDC tokens",
                        c.key
                    ))
                    .at_loc(&c.key_at)
                    .label(if negated {
                        "always true: restricts nothing"
                    } else {
                        "always false: the role can never be assumed"
                    })
                    .help("restrict with :sub and Bitbucket deployment permissions instead");
                if negated {
                    f = f.severity(Severity::Medium);
                }
                out.push(f);
            }
        }
    }
}
