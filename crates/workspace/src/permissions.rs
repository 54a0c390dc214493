//! What each planned role may do once assumed: `keyless check`'s "can then do" (`minimal | broad | admin |
//! unknown`), judged by `keyless_iam::privilege` from the role's managed and inline policies.

use indexmap::IndexMap;
use keyless_iam::privilege::{self, Excess, ExcessKind, Reach};
use serde::Serialize;
use serde_json::Value;

/// The name of the inline policy that renders a role's `permissions:` list.
pub const PERMISSIONS_POLICY_NAME: &str = "keyless-permissions";

/// One role's verdict, with every reason (in `keyless check --format json` as `roles[]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RolePermissions {
    /// The role ARN.
    pub role: String,
    pub can_then_do: Reach,
    /// Why it is not `minimal`: one sentence per policy element, naming the policy.
    pub reasons: Vec<String>,
}

/// A reason with the policy it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// `managed policy arn:...` or `inline policy `name``.
    pub policy: String,
    pub excess: Excess,
}

impl Reason {
    pub fn text(&self) -> String {
        match self.excess.kind {
            ExcessKind::AdminPolicy
            | ExcessKind::BroadPolicy
            | ExcessKind::UnlistedAwsPolicy
            | ExcessKind::CustomerPolicy => self.excess.message.clone(),
            _ => format!("{}: {}", self.policy, self.excess.message),
        }
    }
}

/// Every reason a role with these policies is not minimal. `todo` is the `permissions: todo` placeholder: the
/// role's permissions are not written yet, which is `unknown`.
pub fn reasons(
    managed_policies: &[String],
    inline_policies: &IndexMap<String, Value>,
    todo: bool,
) -> (Reach, Vec<Reason>) {
    let mut out = Vec::new();
    let mut reach = Reach::Minimal;
    for arn in managed_policies {
        if let Some(excess) = privilege::judge_managed(arn) {
            reach = reach.worst(excess.kind.reach());
            out.push(Reason {
                policy: format!("managed policy `{arn}`"),
                excess,
            });
        }
    }
    for (name, document) in inline_policies {
        let text = serde_json::to_string(document).unwrap_or_default();
        match keyless_iam::parse(&text) {
            Ok(doc) => {
                for excess in privilege::judge(&doc) {
                    reach = reach.worst(excess.kind.reach());
                    out.push(Reason {
                        policy: format!("inline policy `{name}`"),
                        excess,
                    });
                }
            }
            Err(error) => {
                // IAM would refuse it (plan reports that); what it allows cannot be judged.
                reach = reach.worst(Reach::Unknown);
                out.push(Reason {
                    policy: format!("inline policy `{name}`"),
                    excess: Excess {
                        kind: ExcessKind::CustomerPolicy,
                        message: format!("not a policy IAM can read: {}", error.message),
                        pointer: String::new(),
                    },
                });
            }
        }
    }
    if todo {
        reach = reach.worst(Reach::Unknown);
    }
    (reach, out)
}

/// The verdict and reasons for one role, as `check` reports it.
pub fn judge_role(
    arn: &str,
    managed_policies: &[String],
    inline_policies: &IndexMap<String, Value>,
    todo: bool,
) -> RolePermissions {
    let (can_then_do, reasons) = reasons(managed_policies, inline_policies, todo);
    let mut reasons: Vec<String> = reasons.iter().map(Reason::text).collect();
    if todo {
        reasons.push(
            "`permissions: todo`: the role's permissions are not written yet (`keyless apply` refuses it)"
                .to_owned(),
        );
    }
    RolePermissions {
        role: arn.to_owned(),
        can_then_do,
        reasons,
    }
}

/// Every role whose `permissions:` is the `todo` placeholder: `(role name, where it is written)`, in file order.
pub fn todos(config: &crate::Config) -> Vec<(String, crate::Location)> {
    let environment_roles = config.environments.values().map(|env| &env.role);
    let extra_roles = config
        .repositories
        .values()
        .flat_map(|repo| repo.extra_roles.iter().map(|extra| &extra.role));
    environment_roles
        .chain(extra_roles)
        .filter_map(|role| match &role.permissions {
            crate::Permissions::Todo(location) => Some((role.name.clone(), *location)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn admin_wins_over_everything() {
        let inline: IndexMap<String, Value> = [(
            "deploy".to_owned(),
            serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::site/*"}]}),
        )]
        .into_iter()
        .collect();
        let role = judge_role(
            "arn:aws:iam::1:role/r",
            &["arn:aws:iam::aws:policy/AdministratorAccess".to_owned()],
            &inline,
            false,
        );
        assert_eq!(role.can_then_do, Reach::Admin);
        assert_eq!(role.reasons.len(), 1);
        let minimal = judge_role("arn:aws:iam::1:role/r", &[], &inline, false);
        assert_eq!(minimal.can_then_do, Reach::Minimal);
        assert!(minimal.reasons.is_empty());
        let todo = judge_role("arn:aws:iam::1:role/r", &[], &IndexMap::new(), true);
        assert_eq!(todo.can_then_do, Reach::Unknown);
        let customer = judge_role(
            "arn:aws:iam::1:role/r",
            &["arn:aws:iam::123456789012:policy/deploy".to_owned()],
            &inline,
            false,
        );
        assert_eq!(customer.can_then_do, Reach::Unknown);
    }
}
