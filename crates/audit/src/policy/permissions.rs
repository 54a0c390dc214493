//! What a deployment role may do once assumed, wherever its permissions are written: the managed policy ARNs and
//! inline policy documents attached to a role in CloudFormation (`ManagedPolicyArns`, `Policies`, and
//! `AWS::IAM::Policy`/`ManagedPolicy`/`RolePolicy` resources that name it), Terraform (`managed_policy_arns`,
//! `inline_policy`, `aws_iam_role_policy_attachment`, `aws_iam_role_policy`), an `aws iam get-role` object that
//! carries `AttachedManagedPolicies`/`RolePolicyList` (the `RoleDetailList` shape of
//! `aws iam get-account-authorization-details`), and keyless.yml (`managed_policies`, `inline_policies`,
//! `permissions`). `keyless_iam::privilege` judges them; this module only finds them and locates each verdict.

use keyless_iam::privilege::{self, ExcessKind};

use super::value::{At, REntry, RNode, RValue};
use super::{CValue, cloudformation::Template};
use crate::source::{Node, Route};

/// A permission policy attached to a role.
#[derive(Debug, Clone)]
pub enum Attached {
    /// A managed policy ARN, as resolved.
    Managed(CValue),
    /// An inline policy (or a managed policy defined in the same file), as resolved.
    Inline { name: String, doc: RNode },
}

/// One reason a role's permissions are not minimal, where the user wrote it.
#[derive(Debug, Clone)]
pub struct Judged {
    pub kind: ExcessKind,
    pub message: String,
    pub at: At,
}

/// The ARN IAM attaches for a managed policy value, when it is one keyless can judge: any partition's AWS managed
/// policy (`arn:${AWS::Partition}:iam::aws:policy/...` included) or a fully known customer policy ARN.
fn managed_arn(value: &CValue) -> Option<String> {
    if let Some((_, rest)) = value.text.split_once(":iam::aws:policy/")
        && !rest.contains("${")
    {
        return Some(format!("arn:aws:iam::aws:policy/{rest}"));
    }
    (value.known && value.text.starts_with("arn:")).then(|| value.text.clone())
}

/// Every reason the attached policies are not minimal (customer managed policies, whose documents are not in the
/// file, are left out: the audit judges what it can read).
pub fn judge(attached: &[Attached]) -> Vec<Judged> {
    let mut out = Vec::new();
    for item in attached {
        match item {
            Attached::Managed(value) => {
                let Some(arn) = managed_arn(value) else {
                    continue;
                };
                let Some(excess) = privilege::judge_managed(&arn) else {
                    continue;
                };
                if matches!(
                    excess.kind,
                    ExcessKind::AdminPolicy | ExcessKind::BroadPolicy
                ) {
                    out.push(Judged {
                        kind: excess.kind,
                        message: excess.message,
                        at: value.at.clone(),
                    });
                }
            }
            Attached::Inline { name, doc } => {
                if doc.unknown_ref().is_some() {
                    continue;
                }
                let Ok(policy) = keyless_iam::parse(&doc.to_json_text()) else {
                    continue;
                };
                for excess in privilege::judge(&policy) {
                    let at = doc
                        .at_pointer(&excess.pointer)
                        .map(|(node, key_at)| key_at.cloned().unwrap_or_else(|| node.at.clone()))
                        .unwrap_or_else(|| doc.at.clone());
                    out.push(Judged {
                        kind: excess.kind,
                        message: format!("policy `{name}`: {}", excess.message),
                        at,
                    });
                }
            }
        }
    }
    out
}

/// A managed policy value as keyless.yml writes it: an ARN, or the bare name of an AWS managed policy.
fn keyless_managed(text: &str, route: Route) -> Attached {
    let text = text.trim();
    let arn = if text.starts_with("arn:") {
        text.to_owned()
    } else {
        format!("arn:aws:iam::aws:policy/{text}")
    };
    Attached::Managed(CValue {
        text: arn,
        known: true,
        at: At::node(route),
    })
}

/// One role of keyless.yml: its name, where it is, what is attached, and where `permissions: todo` is written.
#[derive(Debug, Clone)]
pub struct KeylessRole {
    /// `environment <name>` or `extra role of <repository> for <environment>`.
    pub what: String,
    pub at: At,
    pub attached: Vec<Attached>,
    pub todo: Option<At>,
}

/// Every role of a keyless.yml (environment roles, then repositories' extra roles): which roles exist and what they
/// hold come from keyless-workspace's model; the policy documents are resolved from the located tree at the model's
/// routes (so every verdict points into the file).
pub fn keyless_roles(keyless: &crate::keyless::KeylessFile<'_>) -> Vec<KeylessRole> {
    use crate::keyless::RawRole;
    let doc = keyless.doc;
    let template = Template::new(doc.root());
    let mut out = Vec::new();
    let mut read = |what: String, role: &RawRole, route: Route| {
        let mut attached = Vec::new();
        for (index, policy) in role.managed_policies.iter().enumerate() {
            attached.push(keyless_managed(
                &policy.value,
                route.key("managed_policies").index(index),
            ));
        }
        for name in role.inline_policies.keys() {
            let policy_route = route.key("inline_policies").key(name.value.as_str());
            if let Some(node) = doc.resolve(&policy_route) {
                attached.push(Attached::Inline {
                    name: name.value.clone(),
                    doc: template.resolve(node, &policy_route),
                });
            }
        }
        let mut todo = None;
        if let Some(permissions) = &role.permissions {
            let permissions_route = route.key("permissions");
            if permissions.value.as_str() == Some("todo") {
                todo = Some(At::node(permissions_route));
            } else if permissions.value.is_array()
                && let Some(node) = doc.resolve(&permissions_route)
            {
                // `permissions:` renders as `{"Version": "2012-10-17", "Statement": [...]}`.
                let statements = template.resolve(node, &permissions_route);
                let at = At::key(permissions_route);
                attached.push(Attached::Inline {
                    name: crate::policy::permissions::PERMISSIONS_POLICY_NAME.to_owned(),
                    doc: RNode::new(
                        RValue::Map(vec![
                            REntry {
                                key: "Version".to_owned(),
                                key_holes: false,
                                key_at: at.clone(),
                                value: RNode::string("2012-10-17", false, at.clone()),
                            },
                            REntry {
                                key: "Statement".to_owned(),
                                key_holes: false,
                                key_at: at.clone(),
                                value: statements,
                            },
                        ]),
                        at,
                    ),
                });
            }
        }
        let at = if role.name.is_some() {
            At::node(route.key("name"))
        } else {
            At::key(route.clone())
        };
        out.push(KeylessRole {
            what,
            at,
            attached,
            todo,
        });
    };
    for (name, env) in keyless.environments() {
        if let Some(role) = &env.role {
            read(
                format!("environment `{name}`"),
                role,
                crate::keyless::environment_route(name).key("role"),
            );
        }
    }
    for (slug, repo) in keyless.repositories() {
        for (index, extra) in repo.extra_roles.iter().enumerate() {
            read(
                format!(
                    "the extra role of repository `{slug}` in `{}`",
                    extra.environment.value
                ),
                &extra.role,
                crate::keyless::repository_route(slug)
                    .key("extra_roles")
                    .index(index)
                    .key("role"),
            );
        }
    }
    out
}

/// The name `keyless.yml`'s `permissions:` renders as (the same as `keyless_workspace`'s).
pub const PERMISSIONS_POLICY_NAME: &str = "keyless-permissions";

/// The `Ref` target of a CloudFormation value (`{"Ref": "Role"}`, `!Ref Role`).
pub(crate) fn ref_target(node: &Node) -> Option<&str> {
    match super::cloudformation::intrinsic(node) {
        Some(("Ref", arg)) => arg.as_str(),
        _ => None,
    }
}
