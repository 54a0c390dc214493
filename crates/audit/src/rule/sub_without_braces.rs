//! `sub-without-braces`: Bitbucket `sub` values with UUIDs written without their braces.

use super::prelude::*;

pub struct SubWithoutBraces;

static META: RuleMeta = RuleMeta {
    id: "sub-without-braces",
    summary: "the subject pattern writes Bitbucket UUIDs without braces",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "Bitbucket's `sub` is `{repositoryUuid}:{stepUuid}` or `{repositoryUuid}:{environmentUuid}:{stepUuid}` with \
          the braces. A pattern with bare UUIDs never matches, so the role cannot be assumed (AccessDenied).",
    fix: "Write the UUIDs with braces: `{2e9e429c-…}:{8d8a…}:*`, exactly as the OpenID Connect settings page shows.",
    autofix: false,
};

/// Whether `s` contains a bare (unbraced) UUID.
pub(crate) fn bare_uuid(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(35)).find_map(|i| {
        let cand = s.get(i..i + 36)?;
        let shape = cand.char_indices().all(|(j, c)| {
            if [8, 13, 18, 23].contains(&j) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
        let braced = i > 0 && b[i - 1] == b'{' && b.get(i + 36) == Some(&b'}');
        let edge_ok = (i == 0 || !b[i - 1].is_ascii_hexdigit())
            && b.get(i + 36).is_none_or(|c| !c.is_ascii_hexdigit());
        (shape && !braced && edge_ok).then_some(cand)
    })
}

impl Rule for SubWithoutBraces {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        for s in &policy.statements {
            if !s.trusts_bitbucket() {
                continue;
            }
            for c in s.conditions_on("sub") {
                for v in &c.values {
                    if let Some(uuid) = bare_uuid(&v.text) {
                        let value = &v.text;
                        out.push(
                            self.finding()
                                .message(format!("sub `{value}` has the UUID {uuid} without braces; Bitbucket subjects keep them"))
                                .at_loc(&v.at)
                                .label("never matches")
                                .help(format!("write {{{uuid}}}")),
                        );
                    }
                }
            }
        }
    }
}
