//! Evaluation: the decision (explicit deny wins, then any allow, else implicit deny) and the per-statement
//! trace that explains it. [`PolicyDocument::decide`] is the allocation-free fast path;
//! [`PolicyDocument::evaluate`] builds the full trace. Both share the matching functions below, and tests
//! assert they always agree.

use std::fmt::Write as _;

use serde::Serialize;

use crate::policy::{
    Effect, PolicyDocument, PrincipalEntry, PrincipalSet, SourceLocation, Statement,
};
use crate::request::{Principal, PrincipalType, Request};

/// The outcome of evaluating a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

impl Decision {
    pub fn is_allow(self) -> bool {
        self == Decision::Allow
    }
}

/// How one element (`Principal`, `Action`) of a statement compared with the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElementTrace {
    /// `Principal`/`NotPrincipal`, `Action`/`NotAction`, or `null` when the statement has neither.
    pub element: Option<&'static str>,
    pub matched: bool,
    /// The policy's values, e.g. `Federated arn:aws:iam::…` or `sts:AssumeRole*`.
    pub values: Vec<String>,
}

/// How one condition compared with the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConditionTrace {
    pub operator: String,
    pub key: String,
    pub policy_values: Vec<String>,
    /// The request's values for the key; `null` when the key is absent.
    pub request_values: Option<Vec<String>>,
    pub matched: bool,
    #[serde(flatten)]
    pub location: SourceLocation,
}

/// How one statement compared with the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementTrace {
    pub index: usize,
    pub sid: Option<String>,
    /// `null` when the statement's `Effect` is missing or invalid.
    pub effect: Option<Effect>,
    /// Whether the statement applies: principal, action and every condition match.
    pub applies: bool,
    pub principal: ElementTrace,
    pub action: ElementTrace,
    pub conditions: Vec<ConditionTrace>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_operators: Vec<String>,
    #[serde(flatten)]
    pub location: SourceLocation,
}

/// A decision with the trace that explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub decision: Decision,
    pub statements: Vec<StatementTrace>,
    /// The request's action and principal, for explanations.
    #[serde(skip)]
    pub action: String,
    #[serde(skip)]
    pub principal: String,
}

impl PolicyDocument {
    /// The decision only: no allocation for policies without policy variables. Agrees with
    /// [`PolicyDocument::evaluate`].
    pub fn decide(&self, request: &Request) -> Decision {
        self.decide_where(|statement| statement_applies(statement, request))
    }

    /// Explicit deny wins, then any allow, else implicit deny, over the statements for which `applies` holds.
    fn decide_where(&self, applies: impl Fn(&Statement) -> bool) -> Decision {
        let mut allowed = false;
        for statement in &self.statements {
            let Some(effect) = statement.effect else {
                continue;
            };
            if effect == Effect::Allow && allowed {
                continue;
            }
            if applies(statement) {
                match effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        }
    }

    /// The decision with a trace of every statement: which of Principal, Action and each condition matched,
    /// with the values compared.
    pub fn evaluate(&self, request: &Request) -> Evaluation {
        let statements: Vec<StatementTrace> = self
            .statements
            .iter()
            .map(|s| trace_statement(s, request))
            .collect();
        let applies = |effect| {
            statements
                .iter()
                .any(|t| t.applies && t.effect == Some(effect))
        };
        let decision = if applies(Effect::Deny) {
            Decision::ExplicitDeny
        } else if applies(Effect::Allow) {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        };
        Evaluation {
            decision,
            statements,
            action: request.action.clone(),
            principal: request.principal.to_string(),
        }
    }
}

impl PolicyDocument {
    /// The decision for `request` on `resource` (an ARN, or `*` for an action without resource-level
    /// permissions), as AWS evaluates an identity policy: like [`PolicyDocument::decide`], and a statement applies
    /// only when one of its `Resource` patterns matches `resource` (or none of its `NotResource` patterns does). A
    /// statement with neither element never applies: IAM rejects such an identity policy.
    ///
    /// ```
    /// use keyless_iam::{parse, Context, Decision, Principal, Request};
    ///
    /// let policy = parse(r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
    ///     "Action": "s3:PutObject", "Resource": "arn:aws:s3:::site/*"}}"#).unwrap();
    /// let put = Request {
    ///     principal: Principal::aws("arn:aws:iam::123456789012:role/deploy"),
    ///     action: "s3:PutObject".into(),
    ///     context: Context::new(),
    /// };
    /// assert_eq!(policy.decide_on(&put, "arn:aws:s3:::site/index.html"), Decision::Allow);
    /// assert_eq!(policy.decide_on(&put, "arn:aws:s3:::other/index.html"), Decision::ImplicitDeny);
    /// ```
    pub fn decide_on(&self, request: &Request, resource: &str) -> Decision {
        self.decide_where(|statement| {
            resource_applies(statement, resource) && statement_applies(statement, request)
        })
    }
}

fn resource_applies(statement: &Statement, resource: &str) -> bool {
    match (&statement.resource, &statement.not_resource) {
        (Some(patterns), _) => patterns.iter().any(|p| resource_matches(p, resource)),
        (None, Some(patterns)) => !patterns.iter().any(|p| resource_matches(p, resource)),
        (None, None) => false,
    }
}

/// Whether a `Resource` pattern matches an ARN, as IAM compares them: `*` alone matches everything; otherwise the
/// first five colon-separated segments (`arn`, partition, service, region, account) are matched one by one, and
/// the resource part (which may itself hold colons and slashes) as a whole; `*` and `?` never cross a segment, and
/// matching is case-sensitive. A request resource of `*` (an action without resource-level permissions) is
/// matched only by a pattern that matches the text `*`.
pub fn resource_matches(pattern: &str, resource: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pattern_parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let resource_parts: Vec<&str> = resource.splitn(6, ':').collect();
    if pattern_parts.len() != 6 || resource_parts.len() != 6 {
        return crate::condition::glob::Glob::new(pattern).matches(resource);
    }
    pattern_parts
        .iter()
        .zip(&resource_parts)
        .all(|(p, r)| crate::condition::glob::Glob::new(p).matches(r))
}

fn statement_applies(statement: &Statement, request: &Request) -> bool {
    statement.unknown_operators.is_empty()
        && principal_matches(statement, &request.principal)
        && action_matches(statement, &request.action)
        && statement
            .conditions
            .iter()
            .all(|c| c.condition.evaluate(&request.context))
}

fn principal_matches(statement: &Statement, principal: &Principal) -> bool {
    match (&statement.principal, &statement.not_principal) {
        (Some(set), _) => set_matches(set, principal),
        (None, Some(set)) => !set_matches(set, principal),
        // No principal element: an identity policy, which applies to its holder.
        (None, None) => true,
    }
}

fn action_matches(statement: &Statement, action: &str) -> bool {
    match (&statement.action, &statement.not_action) {
        (Some(set), _) => set.any_matches(action),
        (None, Some(set)) => !set.any_matches(action),
        (None, None) => false,
    }
}

fn set_matches(set: &PrincipalSet, principal: &Principal) -> bool {
    set.wildcard
        || set
            .entries
            .iter()
            .any(|entry| entry_matches(entry, principal))
}

fn entry_matches(entry: &PrincipalEntry, principal: &Principal) -> bool {
    let Some(entry_type) = entry.principal_type else {
        return false;
    };
    // `{"AWS": "*"}` is the same as `"Principal": "*"`: every principal, of every type, and anonymous callers
    // (IAMUG/reference_policies_elements_principal, "All principals").
    if entry_type == PrincipalType::Aws && entry.value == "*" {
        return true;
    }
    match principal {
        Principal::Any => false,
        Principal::Typed {
            principal_type,
            value,
        } => {
            if *principal_type != entry_type {
                return false;
            }
            match entry_type {
                PrincipalType::Aws => {
                    entry.value == "*" || aws_principal_matches(&entry.value, value)
                }
                // Provider ARNs and IdP names compare exactly (the provider URL is case-sensitive).
                PrincipalType::Federated => entry.value == *value,
                PrincipalType::Service => entry.value.eq_ignore_ascii_case(value),
            }
        }
    }
}

/// `{"AWS": "123456789012"}` and `arn:aws:iam::123456789012:root` stand for the whole account: they match
/// any principal of that account. Other ARNs match exactly.
fn aws_principal_matches(policy: &str, request: &str) -> bool {
    if policy == request {
        return true;
    }
    let account_of_policy = if policy.len() == 12 && policy.bytes().all(|b| b.is_ascii_digit()) {
        Some(policy)
    } else {
        let parts: Vec<&str> = policy.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", _, "iam", "", account, "root"] => Some(*account),
            _ => None,
        }
    };
    let Some(account) = account_of_policy else {
        return false;
    };
    let request_account = if request.len() == 12 && request.bytes().all(|b| b.is_ascii_digit()) {
        Some(request)
    } else {
        request.split(':').nth(4)
    };
    request_account == Some(account)
}

fn principal_values(set: &PrincipalSet) -> Vec<String> {
    if set.wildcard {
        return vec!["*".to_string()];
    }
    set.entries
        .iter()
        .map(|e| format!("{} {}", e.type_name, e.value))
        .collect()
}

fn trace_statement(statement: &Statement, request: &Request) -> StatementTrace {
    let principal = match (&statement.principal, &statement.not_principal) {
        (Some(set), _) => ElementTrace {
            element: Some("Principal"),
            matched: set_matches(set, &request.principal),
            values: principal_values(set),
        },
        (None, Some(set)) => ElementTrace {
            element: Some("NotPrincipal"),
            matched: !set_matches(set, &request.principal),
            values: principal_values(set),
        },
        (None, None) => ElementTrace {
            element: None,
            matched: true,
            values: Vec::new(),
        },
    };
    let action = match (&statement.action, &statement.not_action) {
        (Some(set), _) => ElementTrace {
            element: Some("Action"),
            matched: set.any_matches(&request.action),
            values: set.patterns.iter().map(|p| p.text.clone()).collect(),
        },
        (None, Some(set)) => ElementTrace {
            element: Some("NotAction"),
            matched: !set.any_matches(&request.action),
            values: set.patterns.iter().map(|p| p.text.clone()).collect(),
        },
        (None, None) => ElementTrace {
            element: None,
            matched: false,
            values: Vec::new(),
        },
    };
    let conditions: Vec<ConditionTrace> = statement
        .conditions
        .iter()
        .map(|located| {
            let c = &located.condition;
            ConditionTrace {
                operator: c.operator_name.clone(),
                key: c.key.clone(),
                policy_values: c.values.clone(),
                request_values: c.request_values(&request.context).map(<[String]>::to_vec),
                matched: c.evaluate(&request.context),
                location: located.location.clone(),
            }
        })
        .collect();
    let unknown_operators: Vec<String> = statement
        .unknown_operators
        .iter()
        .map(|u| u.name.clone())
        .collect();
    let applies = statement.effect.is_some()
        && unknown_operators.is_empty()
        && principal.matched
        && action.matched
        && conditions.iter().all(|c| c.matched);
    StatementTrace {
        index: statement.index,
        sid: statement.sid.clone(),
        effect: statement.effect,
        applies,
        principal,
        action,
        conditions,
        unknown_operators,
        location: statement.location.clone(),
    }
}

impl Evaluation {
    /// One sentence a person understands, e.g. "DENY: no statement allows it — statement 0 requires
    /// `…:sub` StringLike `{repo}:{env}:*` but the token's sub is `{repo}:{step}`".
    pub fn explain(&self) -> String {
        match self.decision {
            Decision::Allow => self.decided_by(Effect::Allow, "ALLOW", "allows"),
            Decision::ExplicitDeny => self.decided_by(Effect::Deny, "DENY", "explicitly denies"),
            Decision::ImplicitDeny => {
                let allows: Vec<&StatementTrace> = self
                    .statements
                    .iter()
                    .filter(|s| s.effect == Some(Effect::Allow))
                    .collect();
                if allows.is_empty() {
                    return "DENY: no statement allows it — the policy has no statement with a valid `\"Effect\": \"Allow\"`".to_string();
                }
                let reasons: Vec<String> = allows.iter().map(|s| self.why_not(s)).collect();
                format!("DENY: no statement allows it — {}", reasons.join("; "))
            }
        }
    }

    /// `ALLOW: statement 0 allows `sts:…` for … because …; …`: the applying statements of `effect`, each with the
    /// conditions that held.
    fn decided_by(&self, effect: Effect, head: &str, verb: &str) -> String {
        let mut out = format!("{head}: ");
        let deciding = self
            .statements
            .iter()
            .filter(|s| s.applies && s.effect == Some(effect));
        for (i, s) in deciding.enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            let _ = write!(
                out,
                "{} {verb} `{}` for {}",
                statement_name(s),
                self.action,
                self.principal
            );
            let held: Vec<String> = s.conditions.iter().map(describe_held).collect();
            if !held.is_empty() {
                let _ = write!(out, " because {}", held.join(" and "));
            }
        }
        out
    }

    fn why_not(&self, s: &StatementTrace) -> String {
        let name = statement_name(s);
        if !s.unknown_operators.is_empty() {
            return format!(
                "{name} uses the unknown condition operator `{}`, so it never applies",
                s.unknown_operators.join("`, `")
            );
        }
        if !s.principal.matched {
            let verb = if s.principal.element == Some("NotPrincipal") {
                "excludes"
            } else {
                "applies to"
            };
            return format!(
                "{name} {verb} {} but the caller is {}",
                list(&s.principal.values),
                self.principal
            );
        }
        if !s.action.matched {
            return match s.action.element {
                Some("NotAction") => format!(
                    "{name} excludes `{}` (NotAction {})",
                    self.action,
                    list(&s.action.values)
                ),
                Some(_) => format!(
                    "{name} allows {} but the request is `{}`",
                    list(&s.action.values),
                    self.action
                ),
                None => format!("{name} has no Action or NotAction"),
            };
        }
        let failed: Vec<String> = s
            .conditions
            .iter()
            .filter(|c| !c.matched)
            .map(describe_failed)
            .collect();
        if failed.is_empty() {
            format!("{name} does not apply")
        } else {
            format!("{name} requires {}", failed.join(" and "))
        }
    }
}

fn statement_name(s: &StatementTrace) -> String {
    match &s.sid {
        Some(sid) if !sid.is_empty() => format!("statement {} (\"{sid}\")", s.index),
        _ => format!("statement {}", s.index),
    }
}

/// `a`, `b` and 3 more.
fn list(values: &[String]) -> String {
    const SHOWN: usize = 3;
    let shown: Vec<String> = values
        .iter()
        .take(SHOWN)
        .map(|v| format!("`{v}`"))
        .collect();
    let mut out = shown.join(", ");
    if values.len() > SHOWN {
        let _ = write!(out, " and {} more", values.len() - SHOWN);
    }
    if out.is_empty() {
        "nothing".to_string()
    } else {
        out
    }
}

/// "the token's sub" for web-identity claim keys (`<provider host/path>:<claim>`), else "the request's `key`".
fn subject(key: &str) -> String {
    match key.rsplit_once(':') {
        Some((prefix, claim)) if prefix.contains('.') => format!("the token's {claim}"),
        _ => format!("the request's `{key}`"),
    }
}

fn describe_failed(c: &ConditionTrace) -> String {
    let requirement = format!("`{}` {} {}", c.key, c.operator, list(&c.policy_values));
    match &c.request_values {
        None => format!("{requirement} but the request has no `{}`", c.key),
        Some(values) if values.len() == 1 => {
            format!("{requirement} but {} is `{}`", subject(&c.key), values[0])
        }
        Some(values) => format!("{requirement} but {} is {}", subject(&c.key), list(values)),
    }
}

fn describe_held(c: &ConditionTrace) -> String {
    let requirement = format!("`{}` {} {}", c.key, c.operator, list(&c.policy_values));
    match &c.request_values {
        None => format!("{requirement} holds when the key is absent"),
        Some(values) if values.len() == 1 => format!("{requirement} holds for `{}`", values[0]),
        Some(values) => format!("{requirement} holds for {}", list(values)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{Context, parse};

    #[test]
    fn resource_patterns_match_segment_by_segment() {
        for (pattern, resource, expected) in [
            ("*", "arn:aws:s3:::b/k", true),
            ("*", "*", true),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::b/dir/k", true),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::b", false),
            ("arn:aws:s3:::b*", "arn:aws:s3:::bucket/k", true),
            // Case-sensitive, unlike actions.
            ("arn:aws:s3:::B/*", "arn:aws:s3:::b/k", false),
            // A wildcard does not cross a segment: a region `*` matches the region only.
            (
                "arn:aws:dynamodb:*:1:table/t",
                "arn:aws:dynamodb:eu-west-1:2:table/t",
                false,
            ),
            (
                "arn:aws:dynamodb:*:*:table/t",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/t",
                true,
            ),
            (
                "arn:aws:dynamodb:eu-?est-1:*:table/*",
                "arn:aws:dynamodb:eu-west-1:1:table/x",
                true,
            ),
            // The resource part keeps its colons.
            (
                "arn:aws:logs:*:*:log-group:/ci:*",
                "arn:aws:logs:eu-west-1:1:log-group:/ci:log-stream:x",
                true,
            ),
            // A request for `*` (no resource-level permissions) is matched only by a pattern matching `*`.
            ("arn:aws:s3:::b/*", "*", false),
        ] {
            assert_eq!(
                resource_matches(pattern, resource),
                expected,
                "{pattern} ~ {resource}"
            );
        }
    }

    #[test]
    fn decide_on_honours_resource_and_not_resource() {
        let policy = parse(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"},
                {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::site/keep"},
                {"Effect": "Allow", "Action": "sts:GetCallerIdentity"}]}"#,
        )
        .unwrap();
        let request = |action: &str| Request {
            principal: Principal::aws("arn:aws:iam::123456789012:role/r"),
            action: action.into(),
            context: Context::new(),
        };
        let put = request("s3:PutObject");
        assert_eq!(
            policy.decide_on(&put, "arn:aws:s3:::site/a"),
            Decision::Allow
        );
        assert_eq!(
            policy.decide_on(&put, "arn:aws:s3:::secret/a"),
            Decision::ImplicitDeny
        );
        let delete = request("s3:DeleteObject");
        assert_eq!(
            policy.decide_on(&delete, "arn:aws:s3:::site/keep"),
            Decision::ExplicitDeny
        );
        // No Resource and no NotResource: the statement never applies to an identity request.
        assert_eq!(
            policy.decide_on(&request("sts:GetCallerIdentity"), "*"),
            Decision::ImplicitDeny
        );
        // `decide` (trust policies) still ignores Resource.
        assert_eq!(policy.decide(&put), Decision::Allow);
    }
}
