//! `unresolved-reference`: a value the trust rules need is known only at deployment (a parameter without a
//! default, `Fn::ImportValue`, an `Fn::If` on a deployment-time condition, another module's output), so those
//! rules could not run on it. Says which, instead of passing silently.

use super::prelude::*;
use crate::policy::{ProviderResource, Statement};

pub struct UnresolvedReference;

static META: RuleMeta = RuleMeta {
    id: "unresolved-reference",
    summary: "a value is known only at deployment, so some trust rules could not check it",
    severity: Severity::Info,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "keyless resolves what a template or module will produce (parameter defaults, `Ref`/`GetAtt` to resources \
          of the same file, `Fn::Sub`, Terraform variables and locals). A value that only exists at deployment (a \
          parameter without a default, `Fn::ImportValue`, a condition on one, another stack's or module's output) \
          cannot be judged offline. A principal hidden behind such a reference used to pass every provider rule \
          silently; this finding names the rules that could not run, so a clean report means checked, not skipped. \
          Terraform `module` calls: a local module (`source = \"./modules/x\"`) whose files are among the audited \
          inputs is read with the caller's inputs; a published module is judged from its inputs by keyless's model \
          of it (the trust policy the module renders, findings at the `module` block or at the input) when it is \
          one of: `terraform-aws-modules/iam/aws//modules/iam-assumable-role-with-oidc` 5.x, \
          `terraform-aws-modules/iam/aws//modules/iam-role` 6.x (the call's `version`, or a git source's `?ref=`, \
          must allow no other major release), `calidae/bitbucket-oidc/aws` and `pelotech/oidc-bitbucket/aws` \
          (also as git sources of their GitHub repositories). Any other module call that makes roles or OIDC \
          providers is reported here, never passed. A statement list built as a union of known statements and \
          ones known only at apply (`concat`, `setunion`, `flatten`, `compact`, a `for` or `dynamic \"statement\"` \
          over one: `setunion([local.oidc], var.account != \"\" ? [local.other] : [])`) keeps the known \
          statements, since the other operand can add statements but never remove one: they are judged, and the \
          unknown part is reported here (Terraform itself makes the whole list unknown). A `Deny` among the \
          unknown statements could narrow a known `Allow`; keyless judges the `Allow` as written, and this \
          finding says what it could not see. A `merge` of objects is not a union (a later object may replace a \
          known key), so a `Condition` block built with `merge(known, var.x)` stays unknown as a whole.",
    fix: "Give the parameter or variable a default (or pass `--tf-var-file`), or audit the deployed role with \
          `aws iam get-role --role-name NAME > role.json && keyless audit role.json`.",
    autofix: false,
};

/// Rules that need the statement's provider (a Bitbucket issuer) to judge anything.
const PROVIDER_RULES: [&str; 5] = [
    "aud-format",
    "sub-without-braces",
    "sub-never-matches",
    "unsupported-claim-key",
    "issuer-mismatch",
];
/// Rules that read the conditions.
const CONDITION_RULES: [&str; 10] = [
    "oidc-trust-without-condition",
    "missing-aud-condition",
    "missing-sub-condition",
    "broad-sub",
    "sub-never-matches",
    "sub-without-braces",
    "aud-format",
    "set-operator-on-single-valued-key",
    "unsupported-claim-key",
    "issuer-mismatch",
];

/// The `${Name}` parts of a value. A value unknown as a whole is written `${what it depends on}`, already quoted
/// where it names expressions: that is said as it is.
fn holes(text: &str) -> String {
    if let Some(inner) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}'))
        && inner.contains('`')
    {
        return inner.to_owned();
    }
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start..];
        let end = after.find('}').map_or(after.len(), |e| e + 1);
        names.push(format!("`{}`", &after[..end]));
        rest = &after[end..];
    }
    names.dedup();
    names.join(", ")
}

/// One value rules could not judge: what it depends on, where it is, and which rules.
struct Blocked {
    depends_on: String,
    at: At,
    rules: Vec<&'static str>,
}

fn statement_blocked(s: &Statement, out: &mut Vec<Blocked>) {
    for p in &s.federated {
        let provider_unknown = p.unknown.is_some()
            || p.provider.is_none() && p.holes
            || p.provider.as_deref().is_some_and(|x| x.contains("${"));
        if !provider_unknown {
            continue;
        }
        // The keys still name the provider: only the comparison with the principal is lost.
        let rules = if s.trusts_bitbucket() {
            vec!["issuer-mismatch"]
        } else {
            PROVIDER_RULES.to_vec()
        };
        let depends_on = match &p.unknown {
            Some(u) => u.depends_on.clone(),
            None => holes(&p.value),
        };
        out.push(Blocked {
            depends_on,
            at: p.at.clone(),
            rules,
        });
    }
    for (u, at) in &s.conditions_unknown {
        out.push(Blocked {
            depends_on: u.depends_on.clone(),
            at: at.clone(),
            rules: CONDITION_RULES.to_vec(),
        });
    }
    for c in &s.conditions {
        let rules: &[&str] = match c.claim().as_deref() {
            Some("aud") => &["aud-format"],
            Some("sub") => &["broad-sub", "sub-without-braces", "sub-never-matches"],
            _ => &[],
        };
        for v in c.values.iter().filter(|v| !v.known) {
            if !rules.is_empty() {
                out.push(Blocked {
                    depends_on: holes(&v.text),
                    at: v.at.clone(),
                    rules: rules.to_vec(),
                });
            }
        }
        if c.key_holes && c.key_prefix().is_some_and(|p| p.contains("${")) {
            out.push(Blocked {
                depends_on: holes(&c.key),
                at: c.key_at.clone(),
                rules: vec!["issuer-mismatch", "unsupported-claim-key"],
            });
        }
    }
}

fn provider_blocked(p: &ProviderResource, out: &mut Vec<Blocked>) {
    if let Err((u, at)) = &p.client_ids {
        out.push(Blocked {
            depends_on: u.depends_on.clone(),
            at: at.clone(),
            rules: vec!["provider-client-id"],
        });
    } else if let Ok(ids) = &p.client_ids {
        for v in ids.iter().filter(|v| !v.known) {
            out.push(Blocked {
                depends_on: holes(&v.text),
                at: v.at.clone(),
                rules: vec!["provider-client-id"],
            });
        }
    }
}

impl UnresolvedReference {
    fn report(&self, blocked: Vec<Blocked>, out: &mut Sink) {
        let mut seen: Vec<At> = Vec::new();
        for b in blocked {
            if seen.contains(&b.at) {
                continue;
            }
            seen.push(b.at.clone());
            let depends_on = if b.depends_on.is_empty() {
                "a value".to_owned()
            } else {
                b.depends_on
            };
            out.push(
                self.finding()
                    .message(format!(
                        "{depends_on} is known only at deployment, so these rules could not check it: {}",
                        b.rules.join(", ")
                    ))
                    .at_loc(&b.at)
                    .label("not checked")
                    .help("give it a default, or audit the deployed role (`aws iam get-role` output)"),
            );
        }
    }
}

impl Rule for UnresolvedReference {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        let mut blocked = Vec::new();

        let all = || -> Vec<&'static str> {
            super::registry()
                .iter()
                .map(|r| r.meta())
                .filter(|m| m.kind == RuleKind::TrustPolicy && m.id != META.id)
                .map(|m| m.id)
                .collect()
        };
        if let Some(u) = policy.unknown() {
            blocked.push(Blocked {
                depends_on: u.depends_on.clone(),
                at: policy.at.clone(),
                rules: all(),
            });
        }
        // The statement list, a statement or a principal as a whole (a Terraform `concat`/`setunion` with a
        // statement chosen at apply, a principal block from another module's output).
        if policy.unknown().is_none() {
            match policy.doc.get("Statement") {
                Some(list) if list.unknown_ref().is_some() => blocked.push(Blocked {
                    depends_on: list
                        .unknown_ref()
                        .map(|u| u.depends_on.clone())
                        .unwrap_or_default(),
                    at: list.at.clone(),
                    rules: all(),
                }),
                Some(list) => {
                    for item in list.items() {
                        if let Some(u) = item.unknown_ref() {
                            blocked.push(Blocked {
                                depends_on: u.depends_on.clone(),
                                at: item.at.clone(),
                                rules: all(),
                            });
                        } else if let Some(principal) = item.get("Principal")
                            && let Some(u) = principal.unknown_ref()
                        {
                            blocked.push(Blocked {
                                depends_on: u.depends_on.clone(),
                                at: principal.at.clone(),
                                rules: PROVIDER_RULES.to_vec(),
                            });
                        }
                    }
                }
                None => {}
            }
        }
        for s in &policy.statements {
            statement_blocked(s, &mut blocked);
        }
        self.report(blocked, out);
    }

    fn check_trust_file(&self, file: &TrustFile<'_>, out: &mut Sink) {
        let mut blocked = Vec::new();
        for p in &file.providers {
            provider_blocked(p, &mut blocked);
        }
        self.report(blocked, out);
    }
}

#[cfg(test)]
mod tests {
    use super::holes;

    #[test]
    fn holes_name_what_a_value_depends_on() {
        assert_eq!(
            holes("arn:aws:iam::${AWS::AccountId}:oidc-provider/${Host}"),
            "`${AWS::AccountId}`, `${Host}`"
        );
        // A value unknown as a whole already quotes what it depends on.
        assert_eq!(
            holes("${`var.audiences` (no `variable \"audiences\"` in the files read)}"),
            "`var.audiences` (no `variable \"audiences\"` in the files read)"
        );
    }
}
