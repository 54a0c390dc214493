//! Shared by the permission rules (`admin-permissions`, `broad-permissions`, `pass-role-any-role`): report the
//! reasons `keyless_iam::privilege` gives for a deployment role's attached policies, in a trust-policy file
//! (CloudFormation, Terraform, get-role output) or in keyless.yml.

use keyless_iam::privilege::ExcessKind;

use super::prelude::*;
use crate::policy::permissions::{self, Judged};

/// A role that a CI provider's OIDC token can assume: the roles whose permissions a pipeline leak exposes.
pub(crate) fn is_deployment_role(policy: &TrustPolicy<'_>) -> bool {
    policy.statements.iter().any(|s| s.is_oidc_allow())
}

fn role_name(policy: &TrustPolicy<'_>) -> String {
    policy
        .role
        .as_deref()
        .map_or_else(|| "the role".to_owned(), |r| format!("role `{r}`"))
}

/// The reasons of `kinds` for a deployment role of a trust-policy file.
pub(crate) fn check_policy(
    rule: &dyn Rule,
    kinds: &[ExcessKind],
    label: &str,
    policy: &TrustPolicy<'_>,
    out: &mut Sink,
) {
    // A role whose trust policy is known only at deployment (a module's output, an import) may be a deployment
    // role: reported with low confidence rather than passed silently.
    let unknown_trust = policy.unknown().is_some();
    if !is_deployment_role(policy) && !unknown_trust {
        return;
    }
    for judged in permissions::judge(&policy.permissions) {
        if kinds.contains(&judged.kind) {
            let mut f = finding(rule, &role_name(policy), label, &judged);
            if unknown_trust {
                f = f.confidence(Confidence::Low).message(format!(
                    "{} can then do too much, if a pipeline can assume it (its trust policy is known only at \
                     deployment): {}",
                    role_name(policy),
                    judged.message
                ));
            }
            out.push(f);
        }
    }
}

/// The reasons of `kinds` for every role of every audited keyless.yml.
pub(crate) fn check_workspace(
    rule: &dyn Rule,
    kinds: &[ExcessKind],
    label: &str,
    ws: &Workspace<'_>,
    out: &mut Sink,
) {
    for (input, doc) in &ws.keyless {
        for role in permissions::keyless_roles(doc) {
            for judged in permissions::judge(&role.attached) {
                if kinds.contains(&judged.kind) {
                    out.push(
                        finding(rule, &format!("the role of {}", role.what), label, &judged)
                            .in_input(*input),
                    );
                }
            }
        }
    }
}

fn finding(rule: &dyn Rule, role: &str, label: &str, judged: &Judged) -> FindingBuilder {
    rule.finding()
        .message(format!("{role} can then do too much: {}", judged.message))
        .at_loc(&judged.at)
        .label(label.to_owned())
        .help(
            "derive the permissions the pipeline needs (`keyless permissions infer`), write them as the role's \
             `permissions:` in keyless.yml (or a policy scoped to its resources), and prove them with `keyless check`",
        )
}
