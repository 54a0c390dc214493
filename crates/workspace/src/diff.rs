//! What `keyless apply` must change: the difference between an account's plan and what IAM holds. Pure.
//!
//! Nothing is ever deleted or removed unless `prune` is set: extra client IDs, policies, tags and roles that
//! keyless created earlier (tagged `managed-by: keyless` and `keyless-workspace: <slug>`) stay otherwise.

use std::fmt::Write as _;

use indexmap::IndexMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::plan::{AccountPlan, RolePlan};

/// The workspace's OIDC provider as IAM holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderState {
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
}

/// A role as IAM holds it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoleState {
    pub name: String,
    pub path: String,
    pub trust_policy: Value,
    pub description: Option<String>,
    pub max_session_duration: u32,
    pub permissions_boundary: Option<String>,
    pub managed_policies: Vec<String>,
    pub inline_policies: IndexMap<String, Value>,
    pub tags: IndexMap<String, String>,
}

/// One account as IAM holds it.
#[derive(Clone, Debug, Default)]
pub struct AccountState {
    pub provider: Option<ProviderState>,
    /// The plan's roles that exist, by name.
    pub roles: IndexMap<String, RoleState>,
    /// Roles tagged as keyless-managed for this workspace but absent from the plan (candidates for `--prune`).
    pub orphans: Vec<String>,
}

/// One change to IAM. As JSON (`keyless apply --format json`), `action` names the variant in snake_case and the
/// fields follow; `tag_role`'s tags are an object.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    CreateProvider {
        url: String,
        client_ids: Vec<String>,
        thumbprints: Vec<String>,
    },
    AddClientId {
        provider_arn: String,
        client_id: String,
    },
    RemoveClientId {
        provider_arn: String,
        client_id: String,
    },
    UpdateThumbprints {
        provider_arn: String,
        from: Vec<String>,
        to: Vec<String>,
    },
    CreateRole {
        role: Box<RolePlan>,
    },
    UpdateTrustPolicy {
        role: String,
        from: Value,
        to: Value,
    },
    UpdateRole {
        role: String,
        description: String,
        max_session_duration: u32,
    },
    PutPermissionsBoundary {
        role: String,
        arn: String,
    },
    DeletePermissionsBoundary {
        role: String,
    },
    AttachPolicy {
        role: String,
        arn: String,
    },
    DetachPolicy {
        role: String,
        arn: String,
    },
    PutInlinePolicy {
        role: String,
        name: String,
        document: Value,
        replaces: bool,
    },
    DeleteInlinePolicy {
        role: String,
        name: String,
    },
    TagRole {
        role: String,
        #[serde(serialize_with = "pairs_as_object")]
        tags: Vec<(String, String)>,
    },
    UntagRole {
        role: String,
        keys: Vec<String>,
    },
    DeleteRole {
        role: String,
    },
}

/// `[(key, value)]` as a JSON object, in order.
fn pairs_as_object<S: Serializer>(
    pairs: &[(String, String)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

impl Change {
    /// Whether the change deletes or removes something (only with `--prune`).
    pub fn is_removal(&self) -> bool {
        matches!(
            self,
            Change::RemoveClientId { .. }
                | Change::DeletePermissionsBoundary { .. }
                | Change::DetachPolicy { .. }
                | Change::DeleteInlinePolicy { .. }
                | Change::UntagRole { .. }
                | Change::DeleteRole { .. }
        )
    }

    /// A readable description, `+`/`~`/`-` first, possibly several lines.
    pub fn describe(&self) -> String {
        match self {
            Change::CreateProvider {
                url,
                client_ids,
                thumbprints,
            } => {
                let mut text = format!(
                    "+ create OIDC provider {url}\n    client IDs: {}",
                    client_ids.join(", ")
                );
                if !thumbprints.is_empty() {
                    let _ = write!(text, "\n    thumbprints: {}", thumbprints.join(", "));
                }
                text
            }
            Change::AddClientId { client_id, .. } => {
                format!("~ add client ID {client_id} to the OIDC provider")
            }
            Change::RemoveClientId { client_id, .. } => {
                format!("- remove client ID {client_id} from the OIDC provider")
            }
            Change::UpdateThumbprints { from, to, .. } => {
                format!(
                    "~ set OIDC provider thumbprints: [{}] -> [{}]",
                    from.join(", "),
                    to.join(", ")
                )
            }
            Change::CreateRole { role } => {
                let mut text = format!(
                    "+ create role {} (max session {}s)\n    trusts: {}",
                    role.arn,
                    role.max_session_duration,
                    role.subjects.join(", ")
                );
                if let Some(boundary) = &role.permissions_boundary {
                    let _ = write!(text, "\n    permissions boundary: {boundary}");
                }
                text
            }
            Change::UpdateTrustPolicy { role, from, to } => {
                format!(
                    "~ update trust policy of role {role}\n{}",
                    json_diff(from, to, "    ")
                )
            }
            Change::UpdateRole {
                role,
                description,
                max_session_duration,
            } => format!(
                "~ update role {role}: max session {max_session_duration}s, description \"{description}\""
            ),
            Change::PutPermissionsBoundary { role, arn } => {
                format!("~ set permissions boundary of role {role} to {arn}")
            }
            Change::DeletePermissionsBoundary { role } => {
                format!("- remove the permissions boundary of role {role}")
            }
            Change::AttachPolicy { role, arn } => format!("+ attach {arn} to role {role}"),
            Change::DetachPolicy { role, arn } => format!("- detach {arn} from role {role}"),
            Change::PutInlinePolicy {
                role,
                name,
                replaces,
                ..
            } => {
                let verb = if *replaces { "~ update" } else { "+ add" };
                format!("{verb} inline policy {name} of role {role}")
            }
            Change::DeleteInlinePolicy { role, name } => {
                format!("- delete inline policy {name} of role {role}")
            }
            Change::TagRole { role, tags } => {
                let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("~ tag role {role}: {}", tags.join(", "))
            }
            Change::UntagRole { role, keys } => format!("- untag role {role}: {}", keys.join(", ")),
            Change::DeleteRole { role } => {
                format!("- delete role {role} (no longer in keyless.yml)")
            }
        }
    }
}

/// Compare policy documents the way IAM means them: key order is irrelevant and a one-element array equals
/// its element.
pub fn same_policy(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

fn normalize(value: &Value) -> Value {
    match value {
        Value::Array(items) if items.len() == 1 => normalize(&items[0]),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

/// A line diff of two pretty-printed JSON documents (`-`/`+` lines; unchanged lines omitted).
fn json_diff(from: &Value, to: &Value, indent: &str) -> String {
    let a: Vec<String> = serde_json::to_string_pretty(from)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let b: Vec<String> = serde_json::to_string_pretty(to)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    // Longest common subsequence table; documents are small (a trust policy is at most a few hundred lines).
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("{indent}+ {}", b[j].trim_start()));
            j += 1;
        } else {
            out.push(format!("{indent}- {}", a[i].trim_start()));
            i += 1;
        }
    }
    out.join("\n")
}

/// A role whose path differs cannot be updated in place (IAM paths are immutable).
#[derive(Debug, thiserror::Error)]
#[error(
    "role {role} exists with path {actual} but keyless.yml wants {wanted}; IAM cannot change a role's path: delete the role (or set `path: {actual}`) and apply again"
)]
pub struct PathConflict {
    pub role: String,
    pub actual: String,
    pub wanted: String,
}

/// The changes that bring `state` to `plan`, in execution order.
pub fn diff(
    plan: &AccountPlan,
    state: &AccountState,
    prune: bool,
) -> Result<Vec<Change>, PathConflict> {
    let mut changes = Vec::new();
    let provider = &plan.provider;
    match &state.provider {
        None => changes.push(Change::CreateProvider {
            url: provider.url.clone(),
            client_ids: provider.client_ids.clone(),
            thumbprints: provider.thumbprints.clone(),
        }),
        Some(actual) => {
            for client_id in &provider.client_ids {
                if !actual.client_ids.contains(client_id) {
                    changes.push(Change::AddClientId {
                        provider_arn: provider.arn.clone(),
                        client_id: client_id.clone(),
                    });
                }
            }
            if prune {
                for client_id in &actual.client_ids {
                    if !provider.client_ids.contains(client_id) {
                        changes.push(Change::RemoveClientId {
                            provider_arn: provider.arn.clone(),
                            client_id: client_id.clone(),
                        });
                    }
                }
            }
            let mut wanted = provider.thumbprints.clone();
            let mut have: Vec<String> = actual
                .thumbprints
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect();
            wanted.sort();
            have.sort();
            // An empty list in keyless.yml means "let IAM manage it": only replace thumbprints when some are set.
            if !wanted.is_empty()
                && wanted != have
                && (prune || wanted.iter().any(|t| !have.contains(t)))
            {
                let mut to = wanted.clone();
                if !prune {
                    for t in &have {
                        if !to.contains(t) {
                            to.push(t.clone());
                        }
                    }
                }
                changes.push(Change::UpdateThumbprints {
                    provider_arn: provider.arn.clone(),
                    from: have,
                    to,
                });
            }
        }
    }

    for role in &plan.roles {
        let Some(actual) = state.roles.get(&role.name) else {
            changes.push(Change::CreateRole {
                role: Box::new(role.clone()),
            });
            for arn in &role.managed_policies {
                changes.push(Change::AttachPolicy {
                    role: role.name.clone(),
                    arn: arn.clone(),
                });
            }
            for (name, document) in &role.inline_policies {
                changes.push(Change::PutInlinePolicy {
                    role: role.name.clone(),
                    name: name.clone(),
                    document: document.clone(),
                    replaces: false,
                });
            }
            continue;
        };
        if actual.path != role.path {
            return Err(PathConflict {
                role: role.name.clone(),
                actual: actual.path.clone(),
                wanted: role.path.clone(),
            });
        }
        if !same_policy(&actual.trust_policy, &role.trust_policy) {
            changes.push(Change::UpdateTrustPolicy {
                role: role.name.clone(),
                from: actual.trust_policy.clone(),
                to: role.trust_policy.clone(),
            });
        }
        if actual.max_session_duration != role.max_session_duration
            || actual.description.as_deref() != Some(role.description.as_str())
        {
            changes.push(Change::UpdateRole {
                role: role.name.clone(),
                description: role.description.clone(),
                max_session_duration: role.max_session_duration,
            });
        }
        match (&role.permissions_boundary, &actual.permissions_boundary) {
            (Some(wanted), have) if have.as_ref() != Some(wanted) => {
                changes.push(Change::PutPermissionsBoundary {
                    role: role.name.clone(),
                    arn: wanted.clone(),
                })
            }
            (None, Some(_)) if prune => changes.push(Change::DeletePermissionsBoundary {
                role: role.name.clone(),
            }),
            _ => {}
        }
        for arn in &role.managed_policies {
            if !actual.managed_policies.contains(arn) {
                changes.push(Change::AttachPolicy {
                    role: role.name.clone(),
                    arn: arn.clone(),
                });
            }
        }
        if prune {
            for arn in &actual.managed_policies {
                if !role.managed_policies.contains(arn) {
                    changes.push(Change::DetachPolicy {
                        role: role.name.clone(),
                        arn: arn.clone(),
                    });
                }
            }
        }
        for (name, document) in &role.inline_policies {
            match actual.inline_policies.get(name) {
                Some(have) if same_policy(have, document) => {}
                have => changes.push(Change::PutInlinePolicy {
                    role: role.name.clone(),
                    name: name.clone(),
                    document: document.clone(),
                    replaces: have.is_some(),
                }),
            }
        }
        if prune {
            for name in actual.inline_policies.keys() {
                if !role.inline_policies.contains_key(name) {
                    changes.push(Change::DeleteInlinePolicy {
                        role: role.name.clone(),
                        name: name.clone(),
                    });
                }
            }
        }
        let tags: Vec<(String, String)> = role
            .tags
            .iter()
            .filter(|(key, value)| actual.tags.get(*key) != Some(*value))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if !tags.is_empty() {
            changes.push(Change::TagRole {
                role: role.name.clone(),
                tags,
            });
        }
        if prune {
            let keys: Vec<String> = actual
                .tags
                .keys()
                .filter(|key| !role.tags.contains_key(*key))
                .cloned()
                .collect();
            if !keys.is_empty() {
                changes.push(Change::UntagRole {
                    role: role.name.clone(),
                    keys,
                });
            }
        }
    }
    if prune {
        for orphan in &state.orphans {
            changes.push(Change::DeleteRole {
                role: orphan.clone(),
            });
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn changes_serialize_as_an_action_and_their_fields() {
        let tag = Change::TagRole {
            role: "deploy".into(),
            tags: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
        };
        assert_eq!(
            serde_json::to_string(&tag).unwrap(),
            r#"{"action":"tag_role","role":"deploy","tags":{"b":"2","a":"1"}}"#
        );
        let trust = Change::UpdateTrustPolicy {
            role: "deploy".into(),
            from: json!({"Version": "2012-10-17"}),
            to: json!({"Version": "2012-10-17", "Statement": []}),
        };
        assert_eq!(
            serde_json::to_value(&trust).unwrap(),
            json!({"action": "update_trust_policy", "role": "deploy", "from": {"Version": "2012-10-17"},
                   "to": {"Version": "2012-10-17", "Statement": []}})
        );
    }

    #[test]
    fn policies_compare_like_iam() {
        assert!(same_policy(
            &json!({"A": ["x"], "B": 1}),
            &json!({"B": 1, "A": "x"})
        ));
        assert!(!same_policy(
            &json!({"A": ["x", "y"]}),
            &json!({"A": ["y", "x"]})
        ));
    }

    #[test]
    fn json_diff_shows_changed_lines() {
        let text = json_diff(&json!({"sub": ["a", "b"]}), &json!({"sub": ["a", "c"]}), "");
        assert!(text.contains("- \"b\""), "{text}");
        assert!(text.contains("+ \"c\""), "{text}");
        assert!(!text.contains("\"a\""), "{text}");
    }
}
