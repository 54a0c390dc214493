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
use crate::source::{Document, Node, Route};

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
fn keyless_managed(node: &Node, route: Route) -> Option<Attached> {
    let text = node.as_str()?.trim();
    let arn = if text.starts_with("arn:") {
        text.to_owned()
    } else {
        format!("arn:aws:iam::aws:policy/{text}")
    };
    Some(Attached::Managed(CValue {
        text: arn,
        known: true,
        at: At::node(route),
    }))
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

/// Every role of a keyless.yml (environment roles, then repositories' extra roles), read from the located tree.
pub fn keyless_roles(doc: &Document) -> Vec<KeylessRole> {
    let root = doc.root();
    let template = Template::new(root);
    let mut out = Vec::new();
    let mut read = |what: String, role: &Node, route: Route, fallback: Route| {
        let mut attached = Vec::new();
        for (index, policy) in role
            .get("managed_policies")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            attached.extend(keyless_managed(
                policy,
                route.key("managed_policies").index(index),
            ));
        }
        for e in role
            .get("inline_policies")
            .and_then(Node::as_map)
            .unwrap_or_default()
        {
            let policy_route = route.key("inline_policies").key(e.key.as_str());
            attached.push(Attached::Inline {
                name: e.key.as_str().to_owned(),
                doc: template.resolve(&e.value, &policy_route),
            });
        }
        let mut todo = None;
        if let Some(permissions) = role.get("permissions") {
            let permissions_route = route.key("permissions");
            if permissions.as_str() == Some("todo") {
                todo = Some(At::node(permissions_route));
            } else if permissions.as_seq().is_some() {
                // `permissions:` renders as `{"Version": "2012-10-17", "Statement": [...]}`.
                let statements = template.resolve(permissions, &permissions_route);
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
        let at = if role.get("name").is_some() {
            At::node(route.key("name"))
        } else {
            At::key(fallback)
        };
        out.push(KeylessRole {
            what,
            at,
            attached,
            todo,
        });
    };
    for e in root
        .get("environments")
        .and_then(Node::as_map)
        .unwrap_or_default()
    {
        let env_route = Route::root().key("environments").key(e.key.as_str());
        if let Some(role) = e.value.get("role") {
            read(
                format!("environment `{}`", e.key.as_str()),
                role,
                env_route.key("role"),
                env_route.key("role"),
            );
        }
    }
    for e in root
        .get("repositories")
        .and_then(Node::as_map)
        .unwrap_or_default()
    {
        let repo_route = Route::root().key("repositories").key(e.key.as_str());
        for (index, extra) in e
            .value
            .get("extra_roles")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let extra_route = repo_route.key("extra_roles").index(index);
            let Some(role) = extra.get("role") else {
                continue;
            };
            let environment = extra
                .get("environment")
                .and_then(Node::as_str)
                .unwrap_or("?");
            read(
                format!(
                    "the extra role of repository `{}` in `{environment}`",
                    e.key.as_str()
                ),
                role,
                extra_route.key("role"),
                extra_route.key("role"),
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
