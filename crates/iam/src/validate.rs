//! Validation like IAM and Access Analyzer: grammar (unknown elements, duplicate keys, bad Effect/Version,
//! unknown operators, empty arrays, invalid values) and the role-trust-policy rules, each at a location.

use serde::Serialize;

use crate::condition::{BaseOperator, SetOperator};
use crate::json::{self, Location, Spanned, Value};
use crate::policy::{Effect, PolicyDocument, SourceLocation};
use crate::request::PrincipalType;

/// The default quota for role trust policies, in characters excluding whitespace (IAMUG/reference_iam-quotas;
/// raisable to 4096).
pub const TRUST_POLICY_SIZE_QUOTA: usize = 2048;

/// What kind of policy a document is; the rules differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum PolicyKind {
    /// An identity-based policy (attached to a user, group or role): no `Principal`, needs `Resource`.
    Identity,
    /// A role trust policy: needs `Principal`, no `NotPrincipal`, no `Resource`, only `sts:` assume actions.
    Trust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// IAM would accept the policy, but it is probably not what the author meant.
    Warning,
    /// IAM would reject the policy (or the statement can never work).
    Error,
}

/// One validation finding at a location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable kebab-case code, e.g. `unknown-operator`.
    pub code: &'static str,
    pub message: String,
    pub pointer: String,
    pub line: usize,
    pub column: usize,
}

/// Actions a role trust policy may name (IAMUG/reference_policies_elements_action; moto's validation).
const TRUST_ACTIONS: [&str; 5] = [
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:TagSession",
    "sts:SetSourceIdentity",
];

const TOP_LEVEL: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Keys that hold at most one value in an AssumeRoleWithWebIdentity request: a set operator on them is an
/// anti-pattern (IAMUG/reference_policies_condition-single-vs-multi-valued-context-keys).
fn is_single_valued_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    [
        "aws:sourceip",
        "aws:currenttime",
        "aws:epochtime",
        "sts:rolesessionname",
        "sts:sourceidentity",
    ]
    .contains(&lower.as_str())
        || lower.starts_with("aws:requesttag/")
        || (lower.ends_with(":sub") && lower.contains('.'))
}

struct Sink {
    diagnostics: Vec<Diagnostic>,
}

impl Sink {
    fn push(
        &mut self,
        severity: Severity,
        code: &'static str,
        at: &SourceLocation,
        message: impl Into<String>,
    ) {
        self.diagnostics.push(Diagnostic {
            severity,
            code,
            message: message.into(),
            pointer: at.pointer.clone(),
            line: at.line,
            column: at.column,
        });
    }
    fn error(&mut self, code: &'static str, at: &SourceLocation, message: impl Into<String>) {
        self.push(Severity::Error, code, at, message);
    }
    fn warning(&mut self, code: &'static str, at: &SourceLocation, message: impl Into<String>) {
        self.push(Severity::Warning, code, at, message);
    }
}

fn loc(location: Location, pointer: &str) -> SourceLocation {
    SourceLocation {
        line: location.line,
        column: location.column,
        pointer: pointer.to_string(),
    }
}

impl PolicyDocument {
    /// Everything IAM would reject (errors) or Access Analyzer would flag (warnings), in source order.
    pub fn validate(&self, kind: PolicyKind) -> Vec<Diagnostic> {
        let mut sink = Sink {
            diagnostics: Vec::new(),
        };
        let root_at = loc(self.root.location, "");
        walk_json(&self.root, "", &mut sink);
        if let Value::Object(members) = &self.root.value {
            for m in members {
                if !TOP_LEVEL.contains(&m.key.as_str()) {
                    sink.error(
                        "unknown-element",
                        &loc(m.key_location, &format!("/{}", json::escape_pointer_token(&m.key))),
                        format!("unknown top-level element `{}`: a policy has only `Version`, `Id` and `Statement`", m.key),
                    );
                }
            }
            match members.iter().rev().find(|m| m.key == "Version") {
                None => sink.warning(
                    "missing-version",
                    &root_at,
                    "no `Version`: IAM treats the policy as 2008-10-17, where policy variables stay literal; add \"Version\": \"2012-10-17\"",
                ),
                Some(m) => {
                    if let Value::String(v) = &m.value.value
                        && v != "2012-10-17"
                        && v != "2008-10-17"
                    {
                        {
                            sink.error(
                                "invalid-version",
                                &loc(m.value.location, "/Version"),
                                format!("`Version` is `{v}`; IAM accepts only \"2012-10-17\" (current) or \"2008-10-17\""),
                            );
                        }
                    }
                }
            }
            match members.iter().rev().find(|m| m.key == "Statement") {
                None => sink.error(
                    "missing-statement",
                    &root_at,
                    "no `Statement`: a policy needs at least one statement",
                ),
                Some(m) => {
                    if matches!(&m.value.value, Value::Array(items) if items.is_empty()) {
                        sink.error(
                            "empty-array",
                            &loc(m.value.location, "/Statement"),
                            "`Statement` is an empty array: add at least one statement",
                        );
                    }
                }
            }
        }
        self.validate_statements(kind, &mut sink);
        if kind == PolicyKind::Trust && self.size > TRUST_POLICY_SIZE_QUOTA {
            sink.error(
                "trust-policy-too-large",
                &root_at,
                format!(
                    "the trust policy is {} characters excluding whitespace; the default IAM quota is {TRUST_POLICY_SIZE_QUOTA} \
                     (raisable to 4096): merge `sub` patterns with wildcards or request a quota increase",
                    self.size
                ),
            );
        }
        sink.diagnostics.sort_by_key(|d| (d.line, d.column));
        sink.diagnostics
    }

    fn validate_statements(&self, kind: PolicyKind, sink: &mut Sink) {
        let mut sids: Vec<&str> = Vec::new();
        let raw_statements: Vec<&Spanned> = match &self.root.value {
            Value::Object(members) => match members
                .iter()
                .rev()
                .find(|m| m.key == "Statement")
                .map(|m| &m.value)
            {
                Some(Spanned {
                    value: Value::Array(items),
                    ..
                }) => items.iter().collect(),
                Some(single) => vec![single],
                None => Vec::new(),
            },
            _ => Vec::new(),
        };
        for (statement, raw) in self.statements.iter().zip(raw_statements) {
            let at = &statement.location;
            let Value::Object(members) = &raw.value else {
                continue;
            };
            let has = |key: &str| members.iter().any(|m| m.key == key);
            for m in members {
                if !STATEMENT_ELEMENTS.contains(&m.key.as_str()) {
                    sink.error(
                        "unknown-element",
                        &loc(
                            m.key_location,
                            &format!("{}/{}", at.pointer, json::escape_pointer_token(&m.key)),
                        ),
                        format!(
                            "unknown statement element `{}`: IAM knows {}",
                            m.key,
                            STATEMENT_ELEMENTS.join(", ")
                        ),
                    );
                }
            }
            if let Some(sid) = &statement.sid {
                let sid_at = element_at(members, "Sid", &at.pointer);
                if !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
                    sink.error(
                        "invalid-sid",
                        &sid_at,
                        format!("`Sid` `{sid}` may contain only letters and digits ([A-Za-z0-9])"),
                    );
                }
                if !sid.is_empty() && sids.contains(&sid.as_str()) {
                    sink.error(
                        "duplicate-sid",
                        &sid_at,
                        format!("`Sid` `{sid}` is used by another statement; Sids must be unique"),
                    );
                }
                sids.push(sid);
            }
            match members.iter().rev().find(|m| m.key == "Effect") {
                None => sink.error(
                    "missing-effect",
                    at,
                    "statement has no `Effect`: add \"Effect\": \"Allow\" or \"Deny\"",
                ),
                Some(m) => {
                    if statement.effect.is_none() {
                        let written = match &m.value.value {
                            Value::String(s) => s.clone(),
                            _ => String::new(),
                        };
                        sink.error(
                            "invalid-effect",
                            &loc(m.value.location, &format!("{}/Effect", at.pointer)),
                            format!("`Effect` is `{written}`; it must be exactly \"Allow\" or \"Deny\" (case-sensitive)"),
                        );
                    }
                }
            }
            for (a, b) in [
                ("Principal", "NotPrincipal"),
                ("Action", "NotAction"),
                ("Resource", "NotResource"),
            ] {
                if has(a) && has(b) {
                    sink.error(
                        "conflicting-elements",
                        &element_at(members, b, &at.pointer),
                        format!("a statement cannot have both `{a}` and `{b}`"),
                    );
                }
            }
            if !has("Action") && !has("NotAction") {
                sink.error(
                    "missing-action",
                    at,
                    "statement has no `Action` (or `NotAction`), so it never applies",
                );
            }
            match kind {
                PolicyKind::Identity => {
                    for element in ["Principal", "NotPrincipal"] {
                        if has(element) {
                            sink.error(
                                "principal-in-identity-policy",
                                &element_at(members, element, &at.pointer),
                                format!("identity-based policies cannot have `{element}`; the principal is whoever holds the policy"),
                            );
                        }
                    }
                    if !has("Resource") && !has("NotResource") {
                        sink.error(
                            "missing-resource",
                            at,
                            "identity-based policy statement has no `Resource`",
                        );
                    }
                }
                PolicyKind::Trust => self.validate_trust_statement(statement, members, sink),
            }
            for set in [&statement.principal, &statement.not_principal]
                .into_iter()
                .flatten()
            {
                for entry in &set.entries {
                    if entry.principal_type.is_none() && entry.type_name != "CanonicalUser" {
                        sink.error(
                            "unknown-principal-type",
                            &entry.location,
                            format!("unknown principal type `{}`: use `AWS`, `Federated`, `Service` or `CanonicalUser`", entry.type_name),
                        );
                    }
                }
            }
            for unknown in &statement.unknown_operators {
                let hint = if unknown.name.to_ascii_lowercase().starts_with("null") {
                    " (`Null` takes no `IfExists`)"
                } else {
                    ""
                };
                sink.error(
                    "unknown-operator",
                    &unknown.location,
                    format!("unknown condition operator `{}`{hint}; see the IAM condition operator reference", unknown.name),
                );
            }
            if let Some(condition) = members.iter().rev().find(|m| m.key == "Condition")
                && let Value::Object(ops) = &condition.value.value
            {
                {
                    for op in ops {
                        if matches!(&op.value.value, Value::Object(keys) if keys.is_empty()) {
                            let p = format!(
                                "{}/Condition/{}",
                                at.pointer,
                                json::escape_pointer_token(&op.key)
                            );
                            sink.error(
                                "empty-condition",
                                &loc(op.value.location, &p),
                                format!("condition operator `{}` has no keys", op.key),
                            );
                        }
                    }
                }
            }
            for located in &statement.conditions {
                let c = &located.condition;
                let at = &located.location;
                if c.operator_name != c.operator.canonical_name() {
                    sink.warning(
                        "operator-case",
                        at,
                        format!(
                            "write the operator as `{}` (not `{}`)",
                            c.operator.canonical_name(),
                            c.operator_name
                        ),
                    );
                }
                for index in c.invalid_values() {
                    sink.error(
                        "invalid-condition-value",
                        at,
                        format!(
                            "`{}` is not a valid value for `{}` on `{}`",
                            c.values[index],
                            c.operator.base.name(),
                            c.key
                        ),
                    );
                }
                if c.operator.base == BaseOperator::Bool && c.values.len() > 1 {
                    sink.error(
                        "multiple-boolean-values",
                        at,
                        format!("`Bool` on `{}` has several values; give exactly one", c.key),
                    );
                }
                if matches!(
                    c.operator.base,
                    BaseOperator::StringEquals | BaseOperator::StringNotEquals
                ) && c.values.iter().any(|v| v.contains('*') || v.contains('?'))
                {
                    sink.warning(
                        "wildcard-without-like",
                        at,
                        format!("`{}` compares `*` and `?` literally; use `StringLike` for wildcards on `{}`", c.operator.base.name(), c.key),
                    );
                }
                if c.key.contains("://") {
                    sink.warning(
                        "key-with-scheme",
                        at,
                        format!("condition key `{}` contains a URL scheme; keys use the provider URL without `https://`, so this never matches", c.key),
                    );
                }
                if c.operator.set.is_some() && is_single_valued_key(&c.key) {
                    sink.warning(
                        "set-operator-on-single-valued-key",
                        at,
                        format!(
                            "`{}` is single-valued; drop the `ForAnyValue:`/`ForAllValues:` prefix",
                            c.key
                        ),
                    );
                }
                if c.operator.set == Some(SetOperator::ForAllValues)
                    && statement.effect == Some(Effect::Allow)
                {
                    sink.warning(
                        "for-all-values-in-allow",
                        at,
                        format!("`ForAllValues:` also matches when `{}` is missing; in an Allow add a `Null: false` check", c.key),
                    );
                }
                if !self.variables_enabled && c.values.iter().any(|v| v.contains("${")) {
                    sink.warning(
                        "variable-in-old-version",
                        at,
                        "policy variables work only with \"Version\": \"2012-10-17\"; here `${...}` is literal text",
                    );
                }
            }
        }
    }

    fn validate_trust_statement(
        &self,
        statement: &crate::policy::Statement,
        members: &[json::Member],
        sink: &mut Sink,
    ) {
        let at = &statement.location;
        let has = |key: &str| members.iter().any(|m| m.key == key);
        if has("NotPrincipal") {
            sink.error(
                "trust-not-principal",
                &element_at(members, "NotPrincipal", &at.pointer),
                "role trust policies cannot use `NotPrincipal`",
            );
        }
        for element in ["Resource", "NotResource"] {
            if has(element) {
                sink.error(
                    "trust-resource",
                    &element_at(members, element, &at.pointer),
                    format!("role trust policies cannot have `{element}`: the resource is the role itself; remove it"),
                );
            }
        }
        if !has("Principal") && !has("NotPrincipal") {
            sink.error(
                "missing-principal",
                at,
                "trust policy statement has no `Principal`: name who may assume the role",
            );
        }
        if has("NotAction") {
            sink.warning(
                "trust-not-action",
                &element_at(members, "NotAction", &at.pointer),
                "`NotAction` in a trust policy allows every other sts action; name the actions with `Action`",
            );
        }
        if let Some(actions) = &statement.action {
            for pattern in &actions.patterns {
                let exact = TRUST_ACTIONS
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&pattern.text));
                if exact {
                    continue;
                }
                let sts_wildcard = pattern.text.len() > 4
                    && pattern.text[..4].eq_ignore_ascii_case("sts:")
                    && pattern.glob.has_wildcard()
                    && TRUST_ACTIONS
                        .iter()
                        .any(|a| pattern.glob.matches_ignore_ascii_case(a));
                if sts_wildcard {
                    sink.warning(
                        "trust-wildcard-action",
                        &pattern.location,
                        format!("`{}` is a wildcard; name the actions (e.g. `sts:AssumeRoleWithWebIdentity`)", pattern.text),
                    );
                } else {
                    sink.error(
                        "trust-action",
                        &pattern.location,
                        format!(
                            "`{}` is not allowed in a trust policy: use sts:AssumeRole, sts:AssumeRoleWithSAML, \
                             sts:AssumeRoleWithWebIdentity, sts:TagSession or sts:SetSourceIdentity",
                            pattern.text
                        ),
                    );
                }
            }
        }
        if let Some(principal) = &statement.principal {
            if principal.wildcard {
                sink.warning(
                    "wildcard-principal",
                    &principal.location,
                    "`\"Principal\": \"*\"` lets anyone assume the role; name the provider",
                );
            }
            for entry in &principal.entries {
                if entry.principal_type == Some(PrincipalType::Federated)
                    && entry.value.contains('*')
                {
                    sink.error(
                        "wildcard-federated-principal",
                        &entry.location,
                        "a `Federated` principal cannot contain `*`: name the identity provider ARN",
                    );
                }
            }
            let federated = principal
                .entries
                .iter()
                .any(|e| e.principal_type == Some(PrincipalType::Federated));
            if federated
                && statement.effect == Some(Effect::Allow)
                && statement.conditions.is_empty()
            {
                sink.warning(
                    "oidc-without-condition",
                    at,
                    "a federated principal without a condition lets every token of the provider assume the role; add `aud` and `sub` conditions",
                );
            }
        }
    }
}

fn element_at(members: &[json::Member], key: &str, statement_pointer: &str) -> SourceLocation {
    let pointer = format!("{statement_pointer}/{key}");
    members.iter().rev().find(|m| m.key == key).map_or_else(
        || SourceLocation {
            pointer: pointer.clone(),
            ..Default::default()
        },
        |m| loc(m.key_location, &pointer),
    )
}

/// Whole-tree checks: duplicate keys, empty arrays, characters IAM does not accept.
fn walk_json(value: &Spanned, pointer: &str, sink: &mut Sink) {
    match &value.value {
        Value::Object(members) => {
            for (i, m) in members.iter().enumerate() {
                let p = format!("{pointer}/{}", json::escape_pointer_token(&m.key));
                if members[..i].iter().any(|earlier| earlier.key == m.key) {
                    sink.error(
                        "duplicate-key",
                        &loc(m.key_location, &p),
                        format!("duplicate key `{}`: IAM rejects it; merge the two", m.key),
                    );
                }
                check_characters(&m.key, m.key_location, &p, sink);
                walk_json(&m.value, &p, sink);
            }
        }
        Value::Array(items) => {
            if items.is_empty() && !pointer.is_empty() && pointer != "/Statement" {
                sink.error(
                    "empty-array",
                    &loc(value.location, pointer),
                    "empty array: IAM rejects it; give at least one value or remove the element",
                );
            }
            for (i, item) in items.iter().enumerate() {
                walk_json(item, &format!("{pointer}/{i}"), sink);
            }
        }
        Value::String(s) => check_characters(s, value.location, pointer, sink),
        _ => {}
    }
}

/// Policy documents may contain only U+0009, U+000A, U+000D and U+0020–U+00FF (IAMUG/reference_iam-quotas).
fn check_characters(text: &str, location: Location, pointer: &str, sink: &mut Sink) {
    if let Some(c) = text
        .chars()
        .find(|&c| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FF}'))
    {
        sink.error(
            "invalid-character",
            &loc(location, pointer),
            format!("character U+{:04X} is not allowed in IAM policies (only tab, newline and U+0020–U+00FF)", u32::from(c)),
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn codes(text: &str, kind: PolicyKind) -> Vec<(&'static str, usize, usize)> {
        crate::parse(text)
            .unwrap()
            .validate(kind)
            .into_iter()
            .map(|d| (d.code, d.line, d.column))
            .collect()
    }

    const PROVIDER: &str = "arn:aws:iam::123456789012:oidc-provider/example.com";

    fn trust(statement: &str) -> String {
        format!(r#"{{"Version": "2012-10-17", "Statement": [{statement}]}}"#)
    }

    #[test]
    fn a_good_trust_policy_has_no_diagnostics() {
        let text = trust(&format!(
            r#"{{"Sid": "Ok1", "Effect": "Allow", "Principal": {{"Federated": "{PROVIDER}"}},
                "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
                "Condition": {{"StringEquals": {{"example.com:aud": "a"}}, "StringLike": {{"example.com:sub": "repo:*"}}}}}}"#
        ));
        assert_eq!(codes(&text, PolicyKind::Trust), []);
    }

    #[test]
    fn grammar_errors_are_located() {
        let cases: &[(&str, &str, usize, usize)] = &[
            (
                "{\"Version\": \"2012-10-17\", \"Statement\": [], \"Extra\": 1}",
                "empty-array",
                1,
                40,
            ),
            (
                "{\"Version\": \"2012-10-17\", \"Statement\": [], \"Extra\": 1}",
                "unknown-element",
                1,
                44,
            ),
            (
                "{\"Version\": \"2012-10-18\", \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}}",
                "invalid-version",
                1,
                13,
            ),
            (
                "{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}}",
                "missing-version",
                1,
                1,
            ),
            (
                "{\"Version\": \"2012-10-17\", \"Statement\": {\"Effect\": \"allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}}",
                "invalid-effect",
                1,
                51,
            ),
            (
                "{\"Version\": \"2012-10-17\", \"Statement\": {\"Effect\": \"Allow\", \"Effect\": \"Deny\", \"Action\": \"s3:*\", \"Resource\": \"*\"}}",
                "duplicate-key",
                1,
                60,
            ),
            (
                "{\"Version\": \"2012-10-17\", \"Statement\": {\"Effect\": \"Allow\", \"Action\": [], \"Resource\": \"*\"}}",
                "empty-array",
                1,
                70,
            ),
            (
                "{\"Version\": \"2012-10-17\", \"Statement\": {\"Sid\": \"a-b\", \"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}}",
                "invalid-sid",
                1,
                41,
            ),
            (
                "{\"Version\": \"2012-10-17\", \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:\u{2603}\", \"Resource\": \"*\"}}",
                "invalid-character",
                1,
                70,
            ),
            (
                "{\"Version\": \"2012-10-17\", \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\", \"Condition\": {\"NumericEquals\": {\"k\": \"ten\"}}}}",
                "invalid-condition-value",
                1,
                127,
            ),
            (
                "{\"Version\": \"2012-10-17\", \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\", \"Condition\": {\"NullIfExists\": {\"k\": \"true\"}}}}",
                "unknown-operator",
                1,
                109,
            ),
        ];
        for (text, code, line, column) in cases {
            let found = codes(text, PolicyKind::Identity);
            assert!(
                found.contains(&(*code, *line, *column)),
                "{code} at {line}:{column} not in {found:?} for {text}"
            );
        }
    }

    #[test]
    fn trust_policy_rules() {
        let text = trust(&format!(
            r#"{{"Effect": "Allow", "NotPrincipal": {{"Federated": "{PROVIDER}"}}, "Action": ["sts:AssumeRole*", "s3:GetObject"], "Resource": "*"}},
               {{"Effect": "Allow", "Principal": {{"Federated": "arn:aws:iam::1:oidc-provider/*"}}, "Action": "sts:AssumeRoleWithWebIdentity"}}"#
        ));
        let found: Vec<&str> = codes(&text, PolicyKind::Trust)
            .into_iter()
            .map(|(c, _, _)| c)
            .collect();
        for code in [
            "trust-not-principal",
            "trust-resource",
            "trust-wildcard-action",
            "trust-action",
            "wildcard-federated-principal",
            "oidc-without-condition",
        ] {
            assert!(found.contains(&code), "{code} not in {found:?}");
        }
        // The same statements as an identity policy: principals are the error there.
        let identity: Vec<&str> = codes(&text, PolicyKind::Identity)
            .into_iter()
            .map(|(c, _, _)| c)
            .collect();
        assert!(
            identity.contains(&"principal-in-identity-policy"),
            "{identity:?}"
        );
        let no_principal =
            trust(r#"{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity"}"#);
        assert!(
            codes(&no_principal, PolicyKind::Trust)
                .iter()
                .any(|(c, _, _)| *c == "missing-principal")
        );
    }

    #[test]
    fn access_analyzer_style_warnings() {
        let text = trust(&format!(
            r#"{{"Effect": "Allow", "Principal": {{"Federated": "{PROVIDER}"}}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {{"StringEquals": {{"example.com:sub": "repo:*"}}, "ForAllValues:StringLike": {{"example.com:sub": "x"}},
                               "stringlike": {{"https://example.com:aud": "a"}}, "Bool": {{"aws:SecureTransport": ["true", "false"]}}}}}}"#
        ));
        let found: Vec<&str> = codes(&text, PolicyKind::Trust)
            .into_iter()
            .map(|(c, _, _)| c)
            .collect();
        for code in [
            "wildcard-without-like",
            "set-operator-on-single-valued-key",
            "for-all-values-in-allow",
            "operator-case",
            "key-with-scheme",
            "multiple-boolean-values",
        ] {
            assert!(found.contains(&code), "{code} not in {found:?}");
        }
    }

    #[test]
    fn trust_policy_size_quota() {
        let patterns: Vec<String> = (0..60)
            .map(|i| format!("\"{{3c2b6f0e-8a41-4d2e-9b7c-5e1f0a9d8c{i:02}}}:*\""))
            .collect();
        let text = trust(&format!(
            r#"{{"Effect": "Allow", "Principal": {{"Federated": "{PROVIDER}"}}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {{"StringLike": {{"example.com:sub": [{}]}}}}}}"#,
            patterns.join(", ")
        ));
        assert!(crate::size_excluding_whitespace(&text) > TRUST_POLICY_SIZE_QUOTA);
        assert!(
            codes(&text, PolicyKind::Trust)
                .iter()
                .any(|(c, _, _)| *c == "trust-policy-too-large")
        );
        assert!(
            !codes(&text, PolicyKind::Identity)
                .iter()
                .any(|(c, _, _)| *c == "trust-policy-too-large")
        );
    }
}
