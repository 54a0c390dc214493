//! `keyless permissions check`: does each planned role's policy allow every call its steps need, and what does it
//! allow beyond them. Pure: the caller reads keyless.yml, the recordings and any managed-policy documents.
//!
//! A role's effective permissions are its identity policies (the planned inline policies, and the managed policies
//! whose documents the caller supplies) intersected with its permissions boundary when one is set, evaluated by
//! keyless-iam (`PolicyDocument::decide_on`, with `Resource`). A managed policy or boundary whose document was not
//! supplied cannot be evaluated offline: a call it might decide is `unknown`, never guessed.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use keyless_iam::actions;
use keyless_iam::record::Recording;
use keyless_iam::{Context, Decision, Effect, PolicyDocument, Principal, Request};
use serde::Serialize;
use serde_json::Value;

use crate::plan::{Plan, RoleKind, RolePlan};

/// One call a role's steps need: an IAM action, on a resource when it is known, in a region.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Needed {
    pub action: String,
    /// The resource ARN; `None` when the source cannot know it (a recording): the call is then allowed when the
    /// policy allows the action on some resource.
    pub resource: Option<String>,
    pub region: Option<String>,
    /// Request context the call carries (an inferred statement's condition, e.g. `s3:prefix` = `www/*` for a
    /// listing under a prefix).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, String>,
    /// Where the need comes from, e.g. `recording calls.jsonl: S3 PutObject`.
    pub from: String,
}

/// How a needed call fares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allowed,
    Denied,
    /// A managed policy or boundary keyless could not read might decide it.
    Unknown,
}

/// A needed call and the policy's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallCheck {
    #[serde(flatten)]
    pub needed: Needed,
    pub verdict: Verdict,
    /// For a call without a resource: the resource pattern it is allowed on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_on: Option<String>,
}

/// An `Action` pattern of an Allow statement that grants more than the needed calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Beyond {
    /// `inline policy \`name\`` or `managed policy \`arn\``.
    pub policy: String,
    pub statement: String,
    pub pattern: String,
    /// How many actions of the dataset the pattern grants that no needed call uses.
    pub extra_actions: usize,
    /// A few of them, for the report.
    pub examples: Vec<String>,
    pub resources: Vec<String>,
}

/// One role's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoleCheck {
    pub role: String,
    pub environment: String,
    pub ok: bool,
    pub calls: Vec<CallCheck>,
    pub beyond: Vec<Beyond>,
    /// Why some answers are `unknown`, or why the check proves less than it seems.
    pub notes: Vec<String>,
}

/// The whole check, `keyless permissions check --format json`'s document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub version: u32,
    pub ok: bool,
    pub roles: Vec<RoleCheck>,
}

/// The needed calls of a recording: each call's IAM actions (from the action table), in its region, on no known
/// resource. Calls with no known action are returned apart, as `Service Api`.
pub fn needs_from_recording(recording: &Recording, source: &str) -> (Vec<Needed>, Vec<String>) {
    let policy = keyless_iam::record::policy(recording);
    let mut needed = Vec::new();
    for call in &policy.calls {
        for action in &call.actions {
            needed.push(Needed {
                action: action.clone(),
                resource: None,
                region: call.region.clone(),
                context: BTreeMap::new(),
                from: format!("{source}: {} {}", call.service, call.api),
            });
        }
    }
    let unknown = policy
        .unknown
        .iter()
        .map(|u| format!("{source}: {} {}", u.service, u.api))
        .collect();
    (needed, unknown)
}

/// The needed calls of an inferred IAM statement (`{"Action": [...], "Resource": [...]}`, as `keyless permissions
/// infer` writes them): one per action and resource. Wildcard actions or resources are kept as written (a wildcard
/// resource is a pattern the request is evaluated on as is), except `"Resource": "*"`, which says the resource is
/// not known: such a call is allowed when the policy allows the action on some resource, like a recorded call. The
/// statement's `StringEquals`/`StringLike`/`ArnEquals`/`ArnLike` conditions become the call's context (its first
/// value per key), so the policy is asked about the call the statement describes.
pub fn needs_from_statement(statement: &Value, from: &str) -> Vec<Needed> {
    let strings = |value: Option<&Value>| -> Vec<String> {
        match value {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let resources: Vec<String> = strings(statement.get("Resource"))
        .into_iter()
        .filter(|r| r != "*")
        .collect();
    let mut context = BTreeMap::new();
    if let Some(Value::Object(operators)) = statement.get("Condition") {
        for (operator, keys) in operators {
            if !matches!(
                operator.as_str(),
                "StringEquals" | "StringLike" | "ArnEquals" | "ArnLike"
            ) {
                continue;
            }
            if let Value::Object(keys) = keys {
                for (key, values) in keys {
                    if let Some(first) = strings(Some(values)).into_iter().next() {
                        context.insert(key.clone(), first);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for action in strings(statement.get("Action")) {
        if resources.is_empty() {
            out.push(Needed {
                action: action.clone(),
                resource: None,
                region: None,
                context: context.clone(),
                from: from.to_string(),
            });
        }
        for resource in &resources {
            out.push(Needed {
                action: action.clone(),
                resource: Some(resource.clone()),
                region: None,
                context: context.clone(),
                from: from.to_string(),
            });
        }
    }
    out
}

/// The environment a role belongs to (an extra role: its environment).
fn environment_of(role: &RolePlan) -> &str {
    match &role.kind {
        RoleKind::Environment { environment } | RoleKind::Extra { environment, .. } => environment,
    }
}

struct Parsed {
    name: String,
    document: PolicyDocument,
}

/// Checks every planned role that has needs. `needs` maps a role ARN or an environment name to its calls;
/// `documents` maps managed-policy ARNs (policies or boundaries) to their documents.
pub fn check(
    plan: &Plan,
    needs: &BTreeMap<String, Vec<Needed>>,
    documents: &BTreeMap<String, Value>,
) -> Check {
    let mut roles = Vec::new();
    for account in &plan.accounts {
        for role in &account.roles {
            let environment = environment_of(role);
            let mut wanted: Vec<Needed> = Vec::new();
            for key in [role.arn.as_str(), environment] {
                if let Some(list) = needs.get(key) {
                    wanted.extend(list.iter().cloned());
                }
            }
            if wanted.is_empty() {
                continue;
            }
            wanted.sort();
            wanted.dedup();
            roles.push(check_role(role, &wanted, documents));
        }
    }
    Check {
        version: 1,
        ok: roles.iter().all(|r| r.ok),
        roles,
    }
}

fn parse_all(
    role: &RolePlan,
    documents: &BTreeMap<String, Value>,
    notes: &mut Vec<String>,
) -> (Vec<Parsed>, bool) {
    let mut identity = Vec::new();
    let mut unreadable = false;
    let mut sources: Vec<(String, &Value)> = role
        .inline_policies
        .iter()
        .map(|(name, value)| (format!("inline policy `{name}`"), value))
        .collect();
    for arn in &role.managed_policies {
        match documents.get(arn) {
            Some(value) => sources.push((format!("managed policy `{arn}`"), value)),
            None => {
                notes.push(format!(
                    "managed policy `{arn}`: its document is in the account, not here; calls it might allow are \
                     `unknown` (pass --policy-document {arn}=FILE, e.g. from `aws iam get-policy-version`)"
                ));
                unreadable = true;
            }
        }
    }
    for (name, value) in sources {
        match keyless_iam::parse(&value.to_string()) {
            Ok(document) => identity.push(Parsed { name, document }),
            Err(error) => {
                notes.push(format!(
                    "{name} is not a policy keyless can read: {}",
                    error.message
                ));
                unreadable = true;
            }
        }
    }
    (identity, unreadable)
}

fn inline_map(policies: &[Parsed]) -> IndexMap<&str, &PolicyDocument> {
    policies
        .iter()
        .map(|p| (p.name.as_str(), &p.document))
        .collect()
}

/// Allow when some policy allows and none denies; explicit deny anywhere wins.
fn decide(policies: &[Parsed], request: &Request, resource: &str) -> Decision {
    let mut allowed = false;
    for policy in policies {
        match policy.document.decide_on(request, resource) {
            Decision::ExplicitDeny => return Decision::ExplicitDeny,
            Decision::Allow => allowed = true,
            Decision::ImplicitDeny => {}
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

fn check_role(
    role: &RolePlan,
    wanted: &[Needed],
    documents: &BTreeMap<String, Value>,
) -> RoleCheck {
    let mut notes = Vec::new();
    let (identity, identity_unreadable) = parse_all(role, documents, &mut notes);
    let boundary: Option<Option<Parsed>> = role.permissions_boundary.as_ref().map(|arn| {
        match documents.get(arn).map(|v| keyless_iam::parse(&v.to_string())) {
            Some(Ok(document)) => Some(Parsed {
                name: format!("permissions boundary `{arn}`"),
                document,
            }),
            Some(Err(error)) => {
                notes.push(format!(
                    "permissions boundary `{arn}` is not a policy keyless can read: {}",
                    error.message
                ));
                None
            }
            None => {
                notes.push(format!(
                    "permissions boundary `{arn}`: its document is not here, so allowed calls are `unknown` (pass \
                     --policy-document {arn}=FILE)"
                ));
                None
            }
        }
    });
    // Resources a resource-less need may be allowed on: `*` and every resource an Allow statement names.
    let mut candidates: BTreeSet<String> = BTreeSet::from(["*".to_string()]);
    for policy in &identity {
        for statement in &policy.document.statements {
            if statement.effect == Some(Effect::Allow) {
                candidates.extend(statement.resource.iter().flatten().cloned());
            }
        }
    }
    let mut calls = Vec::new();
    for need in wanted {
        let region = need.region.clone().unwrap_or_else(|| role.region.clone());
        let mut context = Context::new().with("aws:RequestedRegion", region.as_str());
        for (key, value) in &need.context {
            context = context.with(key, value.as_str());
        }
        let request = Request {
            principal: Principal::aws(role.arn.clone()),
            action: need.action.clone(),
            context,
        };
        let resources: Vec<String> = match &need.resource {
            Some(resource) => vec![resource.clone()],
            None => candidates.iter().cloned().collect(),
        };
        let mut verdict = Verdict::Denied;
        let mut allowed_on = None;
        for resource in &resources {
            if decide(&identity, &request, resource) == Decision::Allow {
                let bounded = match &boundary {
                    None => Verdict::Allowed,
                    Some(None) => Verdict::Unknown,
                    Some(Some(b))
                        if b.document.decide_on(&request, resource) == Decision::Allow =>
                    {
                        Verdict::Allowed
                    }
                    Some(Some(_)) => Verdict::Denied,
                };
                if bounded != Verdict::Denied {
                    verdict = bounded;
                    allowed_on = need.resource.is_none().then(|| resource.clone());
                    break;
                }
            }
        }
        if verdict == Verdict::Denied
            && identity_unreadable
            && decide(
                &identity,
                &request,
                resources.first().map_or("*", String::as_str),
            ) != Decision::ExplicitDeny
        {
            verdict = Verdict::Unknown;
        }
        calls.push(CallCheck {
            needed: need.clone(),
            verdict,
            allowed_on,
        });
    }
    let needed_actions: BTreeSet<String> = wanted
        .iter()
        .map(|n| n.action.to_ascii_lowercase())
        .collect();
    let beyond = beyond(&inline_map(&identity), &needed_actions);
    RoleCheck {
        role: role.arn.clone(),
        environment: environment_of(role).to_string(),
        ok: calls.iter().all(|c| c.verdict == Verdict::Allowed),
        calls,
        beyond,
        notes,
    }
}

/// What the Allow statements grant beyond the needed actions, one entry per action pattern.
fn beyond(policies: &IndexMap<&str, &PolicyDocument>, needed: &BTreeSet<String>) -> Vec<Beyond> {
    let mut out = Vec::new();
    for (name, document) in policies {
        for statement in &document.statements {
            if statement.effect != Some(Effect::Allow) {
                continue;
            }
            let statement_name = statement
                .sid
                .clone()
                .unwrap_or_else(|| format!("Statement {}", statement.index));
            let resources = statement
                .resource
                .clone()
                .unwrap_or_else(|| vec!["(NotResource)".into()]);
            if let Some(action_set) = &statement.action {
                for pattern in &action_set.patterns {
                    let extra: Vec<String> = actions::matching(&pattern.text)
                        .iter()
                        .map(ToString::to_string)
                        .filter(|a| !needed.contains(&a.to_ascii_lowercase()))
                        .collect();
                    if !extra.is_empty() {
                        out.push(Beyond {
                            policy: (*name).to_string(),
                            statement: statement_name.clone(),
                            pattern: pattern.text.clone(),
                            extra_actions: extra.len(),
                            examples: extra.into_iter().take(5).collect(),
                            resources: resources.clone(),
                        });
                    }
                }
            }
            if statement.not_action.is_some() {
                out.push(Beyond {
                    policy: (*name).to_string(),
                    statement: statement_name.clone(),
                    pattern: "NotAction".into(),
                    extra_actions: actions::matching("*")
                        .iter()
                        .filter(|a| {
                            statement
                                .not_action
                                .as_ref()
                                .is_some_and(|n| !n.any_matches(&a.to_string()))
                                && !needed.contains(&a.to_string().to_ascii_lowercase())
                        })
                        .count(),
                    examples: Vec::new(),
                    resources,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn plan_with(inline: Value, managed: Vec<String>, boundary: Option<String>) -> Plan {
        let config = crate::parse(
            r#"version: 1
workspace:
  slug: acme
  uuid: "{44444444-4444-4444-8444-444444444444}"
environments:
  production:
    account: "123456789012"
    region: eu-west-1
    branches: [main]
    role:
      name: deploy
repositories:
  site:
    uuid: "{11111111-1111-4111-8111-111111111111}"
    deployments:
      production: "{22222222-2222-4222-8222-222222222222}"
"#,
            "keyless.yml",
        )
        .unwrap();
        let mut plan = crate::plan::plan_unchecked(&config);
        let role = &mut plan.accounts[0].roles[0];
        role.inline_policies = IndexMap::from([("deploy".to_string(), inline)]);
        role.managed_policies = managed;
        role.permissions_boundary = boundary;
        plan
    }

    fn needed(action: &str, resource: Option<&str>) -> Needed {
        Needed {
            context: BTreeMap::new(),
            action: action.into(),
            resource: resource.map(str::to_string),
            region: Some("eu-west-1".into()),
            from: "test".into(),
        }
    }

    fn needs(list: Vec<Needed>) -> BTreeMap<String, Vec<Needed>> {
        BTreeMap::from([("production".to_string(), list)])
    }

    const SITE: &str = r#"{"Version": "2012-10-17", "Statement": [
        {"Sid": "Site", "Effect": "Allow", "Action": ["s3:PutObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::site", "arn:aws:s3:::site/*"]},
        {"Sid": "Everything", "Effect": "Allow", "Action": "cloudfront:*", "Resource": "*"}]}"#;

    #[test]
    fn needed_calls_allowed_denied_and_beyond() {
        let plan = plan_with(serde_json::from_str(SITE).unwrap(), vec![], None);
        let result = check(
            &plan,
            &needs(vec![
                needed("s3:PutObject", Some("arn:aws:s3:::site/index.html")),
                needed("s3:ListBucket", None),
                needed("s3:DeleteObject", Some("arn:aws:s3:::site/old.html")),
                needed("cloudfront:CreateInvalidation", None),
            ]),
            &BTreeMap::new(),
        );
        assert!(!result.ok);
        let role = &result.roles[0];
        let verdicts: Vec<(&str, Verdict)> = role
            .calls
            .iter()
            .map(|c| (c.needed.action.as_str(), c.verdict))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("cloudfront:CreateInvalidation", Verdict::Allowed),
                ("s3:DeleteObject", Verdict::Denied),
                ("s3:ListBucket", Verdict::Allowed),
                ("s3:PutObject", Verdict::Allowed),
            ]
        );
        let list = role
            .calls
            .iter()
            .find(|c| c.needed.action == "s3:ListBucket")
            .unwrap();
        assert_eq!(list.allowed_on.as_deref(), Some("arn:aws:s3:::site"));
        // cloudfront:* grants far more than CreateInvalidation; the S3 statement grants nothing beyond.
        assert_eq!(role.beyond.len(), 1, "{:?}", role.beyond);
        assert_eq!(role.beyond[0].pattern, "cloudfront:*");
        assert!(role.beyond[0].extra_actions > 50);
    }

    #[test]
    fn inferred_statements_become_needed_calls() {
        let needs = needs_from_statement(
            &json!({"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
                    "Resource": "arn:aws:s3:::site/*"}),
            "bitbucket-pipelines.yml:12",
        );
        assert_eq!(needs.len(), 2);
        assert_eq!(needs[1].action, "s3:DeleteObject");
        assert_eq!(needs[1].resource.as_deref(), Some("arn:aws:s3:::site/*"));
        assert_eq!(needs[1].from, "bitbucket-pipelines.yml:12");
        // `*`: the resource is not known; a condition becomes the call's context.
        let needs = needs_from_statement(
            &json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::site",
                    "Condition": {"StringLike": {"s3:prefix": ["www/*"]}}}),
            "x",
        );
        assert_eq!(
            needs[0].context.get("s3:prefix").map(String::as_str),
            Some("www/*")
        );
        let needs = needs_from_statement(
            &json!({"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}),
            "x",
        );
        assert_eq!(needs[0].resource, None);
    }

    #[test]
    fn boundary_and_unreadable_managed_policies() {
        let boundary_arn = "arn:aws:iam::123456789012:policy/boundary".to_string();
        let plan = plan_with(
            serde_json::from_str(SITE).unwrap(),
            vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
            Some(boundary_arn.clone()),
        );
        let wanted = needs(vec![
            needed("s3:PutObject", Some("arn:aws:s3:::site/a")),
            needed("s3:GetObject", Some("arn:aws:s3:::site/a")),
        ]);
        // Without the boundary's document: allowed by the identity policy, but the boundary may cut it.
        let result = check(&plan, &wanted, &BTreeMap::new());
        let verdicts: Vec<Verdict> = result.roles[0].calls.iter().map(|c| c.verdict).collect();
        assert_eq!(verdicts, [Verdict::Unknown, Verdict::Unknown]);
        // With both documents: the boundary allows only writes, ReadOnlyAccess's stand-in allows reads.
        let documents = BTreeMap::from([
            (
                boundary_arn,
                json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}}),
            ),
            (
                "arn:aws:iam::aws:policy/ReadOnlyAccess".to_string(),
                json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}}),
            ),
        ]);
        let result = check(&plan, &wanted, &documents);
        let verdicts: Vec<(&str, Verdict)> = result.roles[0]
            .calls
            .iter()
            .map(|c| (c.needed.action.as_str(), c.verdict))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("s3:GetObject", Verdict::Denied),
                ("s3:PutObject", Verdict::Allowed)
            ]
        );
    }
}
