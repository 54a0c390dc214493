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

/// How bad a diagnostic is for the role, on the audit's scale (the audit adapts each code to a finding of this
/// severity; `policy validate` prints it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Low,
    Medium,
    High,
}

macro_rules! codes {
    ($($variant:ident => $id:literal, $severity:ident, $level:ident, $description:literal;)*) => {
        /// Every validation check, in one registry: a stable kebab-case id, whether IAM rejects the policy
        /// ([`Severity::Error`]) or accepts something that is probably wrong ([`Severity::Warning`]), how bad it is
        /// ([`Level`]), and a one-line description. `keyless policy validate` and the audit (through one adapter)
        /// both report these; `docs/policy-validate.md` documents every id (a test keeps them in step).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in registry order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable kebab-case id, e.g. `unknown-operator`.
            pub fn id(self) -> &'static str {
                match self {
                    $(Code::$variant => $id,)*
                }
            }

            /// One line saying what the code means.
            pub fn description(self) -> &'static str {
                match self {
                    $(Code::$variant => $description,)*
                }
            }

            pub fn severity(self) -> Severity {
                match self {
                    $(Code::$variant => Severity::$severity,)*
                }
            }

            pub fn level(self) -> Level {
                match self {
                    $(Code::$variant => Level::$level,)*
                }
            }

            /// The code with this id.
            pub fn from_id(id: &str) -> Option<Code> {
                Code::ALL.iter().copied().find(|c| c.id() == id)
            }
        }
    };
}

codes! {
    // Grammar: IAM rejects the document (MalformedPolicyDocument).
    DuplicateKey => "duplicate-key", Error, High, "a JSON object has the same key twice";
    InvalidCharacter => "invalid-character", Error, High, "a character outside tab, newline and U+0020–U+00FF";
    EmptyArray => "empty-array", Error, High, "an element is an empty array";
    UnknownElement => "unknown-element", Error, High, "an element IAM does not know, at the top level or in a statement";
    MissingVersion => "missing-version", Warning, Low, "no `Version`: the policy is 2008-10-17, where policy variables stay literal";
    InvalidVersion => "invalid-version", Error, High, "`Version` is neither 2012-10-17 nor 2008-10-17";
    MissingStatement => "missing-statement", Error, High, "the policy has no `Statement`";
    InvalidSid => "invalid-sid", Error, High, "a `Sid` with characters other than letters and digits";
    DuplicateSid => "duplicate-sid", Error, High, "two statements share a `Sid`";
    MissingEffect => "missing-effect", Error, High, "a statement without `Effect`";
    InvalidEffect => "invalid-effect", Error, High, "`Effect` is not exactly `Allow` or `Deny`";
    ConflictingElements => "conflicting-elements", Error, High, "a statement has both an element and its `Not` form";
    MissingAction => "missing-action", Error, High, "a statement without `Action` or `NotAction`";
    PrincipalInIdentityPolicy => "principal-in-identity-policy", Error, High, "an identity-based policy names a `Principal`";
    MissingResource => "missing-resource", Error, High, "an identity-based policy statement without `Resource`";
    UnknownPrincipalType => "unknown-principal-type", Error, High, "a principal type other than `AWS`, `Federated`, `Service` or `CanonicalUser`";
    UnknownOperator => "unknown-operator", Error, High, "a condition operator IAM does not know";
    EmptyCondition => "empty-condition", Error, High, "a condition operator with no keys";
    InvalidConditionValue => "invalid-condition-value", Error, High, "a condition value the operator cannot read (a number, date, IP, boolean)";
    MultipleBooleanValues => "multiple-boolean-values", Error, High, "`Bool` with more than one value";
    // Role trust policies: IAM rejects these on CreateRole / UpdateAssumeRolePolicy.
    TrustNotPrincipal => "trust-not-principal", Error, High, "a trust policy uses `NotPrincipal`";
    TrustResource => "trust-resource", Error, High, "a trust policy has `Resource` or `NotResource`";
    MissingPrincipal => "missing-principal", Error, High, "a trust policy statement names no principal";
    TrustAction => "trust-action", Error, High, "a trust policy allows an action other than the sts assume actions";
    WildcardFederatedPrincipal => "wildcard-federated-principal", Error, High, "a `Federated` principal contains `*`";
    InvalidFederatedPrincipal => "invalid-federated-principal", Error, High, "a `Federated` principal that is neither an identity provider ARN nor a domain name";
    TrustPolicyTooLarge => "trust-policy-too-large", Error, Medium, "the trust policy is over IAM's default quota of 2048 characters without whitespace";
    // Accepted by IAM, probably not what the author meant (Access Analyzer's warnings and keyless's own).
    FederatedPrincipalNotAProvider => "federated-principal-not-a-provider", Warning, High, "a `Federated` domain name that no web identity token ever presents";
    OperatorCase => "operator-case", Warning, Info, "a condition operator written in another case than AWS documents";
    WildcardWithoutLike => "wildcard-without-like", Warning, Medium, "`*` or `?` under `StringEquals`, where they are literal";
    KeyWithScheme => "key-with-scheme", Warning, High, "a condition key with `https://`, which AWS never sets";
    SetOperatorOnSingleValuedKey => "set-operator-on-single-valued-key", Warning, Low, "`ForAnyValue:` (or `ForAllValues:` in a Deny) on a single-valued key such as `sub`";
    ForAllValuesInAllow => "for-all-values-in-allow", Warning, Medium, "`ForAllValues:` in an Allow, which is also true when the key is missing";
    SubOnlySetOperators => "sub-only-set-operators", Warning, High, "an Allow whose only `sub` restriction is `ForAllValues:`, true when the key is missing";
    VariableInOldVersion => "variable-in-old-version", Warning, Medium, "a `${...}` policy variable in a 2008-10-17 policy, where it is literal text";
    TrustNotAction => "trust-not-action", Warning, Medium, "`NotAction` in a trust policy allows every other sts action";
    TrustWildcardAction => "trust-wildcard-action", Warning, Low, "a wildcard action in a trust policy";
    WildcardPrincipal => "wildcard-principal", Warning, High, "`\"Principal\": \"*\"` in a trust policy";
    OidcWithoutCondition => "oidc-without-condition", Warning, High, "a federated principal allowed without any condition";
    // Network conditions AWS can never satisfy (IAMUG reference_sts_vpc_condition_keys_federated).
    SourceIpPrivateRange => "source-ip-private-range", Warning, High, "a private, loopback or other non-public range in `aws:SourceIp`, which holds only public addresses";
    SourceIpDocumentationRange => "source-ip-documentation-range", Warning, Info, "a documentation range (RFC 5737, RFC 3849) in `aws:SourceIp`: fine in an example, never a real runner";
    SourceIpWithVpcKey => "source-ip-with-vpc-key", Warning, High, "`aws:SourceIp` and a VPC key (`aws:SourceVpce`, `aws:SourceVpc`, `aws:SourceVpcArn`, `aws:VpcSourceIp`) required in one statement, which are never present together";
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// One validation finding at a location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The check (serialized as its kebab-case id, e.g. `unknown-operator`).
    pub code: Code,
    /// How bad it is ([`Code::level`]).
    pub level: Level,
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
        || ((lower.ends_with(":sub") || lower.ends_with(":aud"))
            && provider_claim(&lower).is_some())
}

struct Sink {
    diagnostics: Vec<Diagnostic>,
}

impl Sink {
    fn push(&mut self, code: Code, at: &SourceLocation, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            severity: code.severity(),
            code,
            level: code.level(),
            message: message.into(),
            pointer: at.pointer.clone(),
            line: at.line,
            column: at.column,
        });
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
                    sink.push(
                        Code::UnknownElement,
                        &loc(m.key_location, &format!("/{}", json::escape_pointer_token(&m.key))),
                        format!("unknown top-level element `{}`: a policy has only `Version`, `Id` and `Statement`", m.key),
                    );
                }
            }
            match members.iter().rev().find(|m| m.key == "Version") {
                None => sink.push(
                    Code::MissingVersion,
                    &root_at,
                    "no `Version`: IAM treats the policy as 2008-10-17, where policy variables stay literal; add \"Version\": \"2012-10-17\"",
                ),
                Some(m) => {
                    if let Value::String(v) = &m.value.value
                        && v != "2012-10-17"
                        && v != "2008-10-17"
                    {
                        {
                            sink.push(
                                Code::InvalidVersion,
                                &loc(m.value.location, "/Version"),
                                format!("`Version` is `{v}`; IAM accepts only \"2012-10-17\" (current) or \"2008-10-17\""),
                            );
                        }
                    }
                }
            }
            match members.iter().rev().find(|m| m.key == "Statement") {
                None => sink.push(
                    Code::MissingStatement,
                    &root_at,
                    "no `Statement`: a policy needs at least one statement",
                ),
                Some(m) => {
                    if matches!(&m.value.value, Value::Array(items) if items.is_empty()) {
                        sink.push(
                            Code::EmptyArray,
                            &loc(m.value.location, "/Statement"),
                            "`Statement` is an empty array: add at least one statement",
                        );
                    }
                }
            }
        }
        self.validate_statements(kind, &mut sink);
        if kind == PolicyKind::Trust && self.size > TRUST_POLICY_SIZE_QUOTA {
            sink.push(
                Code::TrustPolicyTooLarge,
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
                    sink.push(
                        Code::UnknownElement,
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
                    sink.push(
                        Code::InvalidSid,
                        &sid_at,
                        format!("`Sid` `{sid}` may contain only letters and digits ([A-Za-z0-9])"),
                    );
                }
                if !sid.is_empty() && sids.contains(&sid.as_str()) {
                    sink.push(
                        Code::DuplicateSid,
                        &sid_at,
                        format!("`Sid` `{sid}` is used by another statement; Sids must be unique"),
                    );
                }
                sids.push(sid);
            }
            match members.iter().rev().find(|m| m.key == "Effect") {
                None => sink.push(
                    Code::MissingEffect,
                    at,
                    "statement has no `Effect`: add \"Effect\": \"Allow\" or \"Deny\"",
                ),
                Some(m) => {
                    if statement.effect.is_none() {
                        let written = match &m.value.value {
                            Value::String(s) => s.clone(),
                            _ => String::new(),
                        };
                        sink.push(
                            Code::InvalidEffect,
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
                    sink.push(
                        Code::ConflictingElements,
                        &element_at(members, b, &at.pointer),
                        format!("a statement cannot have both `{a}` and `{b}`"),
                    );
                }
            }
            if !has("Action") && !has("NotAction") {
                sink.push(
                    Code::MissingAction,
                    at,
                    "statement has no `Action` (or `NotAction`), so it never applies",
                );
            }
            match kind {
                PolicyKind::Identity => {
                    for element in ["Principal", "NotPrincipal"] {
                        if has(element) {
                            sink.push(
                                Code::PrincipalInIdentityPolicy,
                                &element_at(members, element, &at.pointer),
                                format!("identity-based policies cannot have `{element}`; the principal is whoever holds the policy"),
                            );
                        }
                    }
                    if !has("Resource") && !has("NotResource") {
                        sink.push(
                            Code::MissingResource,
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
                        sink.push(
                            Code::UnknownPrincipalType,
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
                sink.push(
                    Code::UnknownOperator,
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
                            sink.push(
                                Code::EmptyCondition,
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
                    sink.push(
                        Code::OperatorCase,
                        at,
                        format!(
                            "write the operator as `{}` (not `{}`)",
                            c.operator.canonical_name(),
                            c.operator_name
                        ),
                    );
                }
                for index in c.invalid_values() {
                    sink.push(
                        Code::InvalidConditionValue,
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
                    sink.push(
                        Code::MultipleBooleanValues,
                        at,
                        format!("`Bool` on `{}` has several values; give exactly one", c.key),
                    );
                }
                if matches!(
                    c.operator.base,
                    BaseOperator::StringEquals | BaseOperator::StringNotEquals
                ) && c.values.iter().any(|v| v.contains('*') || v.contains('?'))
                {
                    sink.push(
                        Code::WildcardWithoutLike,
                        at,
                        format!("`{}` compares `*` and `?` literally; use `StringLike` for wildcards on `{}`", c.operator.base.name(), c.key),
                    );
                }
                if crate::network::is_source_ip_key(&c.key) {
                    network_values(c, at, sink);
                }
                if c.key.contains("://") {
                    sink.push(
                        Code::KeyWithScheme,
                        at,
                        format!(
                            "condition key `{}` contains a URL scheme: keys use the provider URL without it, so AWS never sets this one; write `{}`",
                            c.key,
                            c.key.split_once("://").map_or(c.key.as_str(), |(_, rest)| rest)
                        ),
                    );
                }
                if let Some(set) = c.operator.set {
                    set_operator_diagnostic(statement, c, set, at, sink);
                }
                if !self.variables_enabled && c.values.iter().any(|v| v.contains("${")) {
                    sink.push(
                        Code::VariableInOldVersion,
                        at,
                        "policy variables work only with \"Version\": \"2012-10-17\"; here `${...}` is literal text",
                    );
                }
            }
            source_ip_with_vpc_key(statement, sink);
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
            sink.push(
                Code::TrustNotPrincipal,
                &element_at(members, "NotPrincipal", &at.pointer),
                "role trust policies cannot use `NotPrincipal`",
            );
        }
        for element in ["Resource", "NotResource"] {
            if has(element) {
                sink.push(
                    Code::TrustResource,
                    &element_at(members, element, &at.pointer),
                    format!("role trust policies cannot have `{element}`: the resource is the role itself; remove it"),
                );
            }
        }
        if !has("Principal") && !has("NotPrincipal") {
            sink.push(
                Code::MissingPrincipal,
                at,
                "trust policy statement has no `Principal`: name who may assume the role",
            );
        }
        if has("NotAction") {
            sink.push(
                Code::TrustNotAction,
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
                    sink.push(
                        Code::TrustWildcardAction,
                        &pattern.location,
                        format!("`{}` is a wildcard; name the actions (e.g. `sts:AssumeRoleWithWebIdentity`)", pattern.text),
                    );
                } else {
                    sink.push(
                        Code::TrustAction,
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
                sink.push(
                    Code::WildcardPrincipal,
                    &principal.location,
                    "`\"Principal\": \"*\"` lets anyone assume the role; name the provider",
                );
            }
            for entry in &principal.entries {
                if entry.principal_type == Some(PrincipalType::Federated) {
                    check_federated(&entry.value, &entry.location, sink);
                }
                if entry.principal_type == Some(PrincipalType::Federated)
                    && entry.value.contains('*')
                {
                    sink.push(
                        Code::WildcardFederatedPrincipal,
                        &entry.location,
                        "a `Federated` principal cannot contain `*`: name the identity provider ARN",
                    );
                }
            }
            let federated = principal
                .entries
                .iter()
                .find(|e| e.principal_type == Some(PrincipalType::Federated));
            if let Some(entry) = federated
                && statement.effect == Some(Effect::Allow)
                && statement.conditions.is_empty()
                && statement.unknown_operators.is_empty()
            {
                let provider = entry
                    .value
                    .split_once(":oidc-provider/")
                    .map_or(entry.value.as_str(), |(_, p)| p);
                sink.push(
                    Code::OidcWithoutCondition,
                    &entry.location,
                    format!(
                        "the role trusts every token from `{provider}`: the statement has no Condition; add \
                         StringEquals on `:aud` and StringLike on `:sub` pinned to a repository and environment"
                    ),
                );
            }
        }
    }
}

/// `aws:SourceIp` values AWS never sees (`source-ip-private-range`) and documentation ranges
/// (`source-ip-documentation-range`), per value.
fn network_values(c: &crate::condition::Condition, at: &SourceLocation, sink: &mut Sink) {
    use crate::network::{AddressClass, classify, parse_net};
    for value in &c.values {
        let Some(net) = parse_net(value) else {
            continue; // invalid-condition-value says it
        };
        match classify(net) {
            AddressClass::Refused(range) => sink.push(
                Code::SourceIpPrivateRange,
                at,
                format!(
                    "`{value}` is {} ({}): `aws:SourceIp` holds only the public address a call arrives from (a runner \
                     behind NAT is seen with the gateway's public address) and is absent through a VPC endpoint, so \
                     this value never matches; list public egress addresses, or use `aws:SourceVpce`/`aws:VpcSourceIp` \
                     in a statement of its own",
                    range.name, range.range
                ),
            ),
            AddressClass::Documentation(range) => sink.push(
                Code::SourceIpDocumentationRange,
                at,
                format!(
                    "`{value}` is a {} address ({}): no real runner has it; replace it with your runners' public egress \
                     addresses",
                    range.name, range.range
                ),
            ),
            AddressClass::Public => {}
        }
    }
}

/// A statement that requires both `aws:SourceIp` and a VPC key can never match: AWS sets the first only over the
/// internet and the others only through a VPC endpoint.
fn source_ip_with_vpc_key(statement: &crate::policy::Statement, sink: &mut Sink) {
    let required = |c: &crate::condition::Condition| {
        !c.operator.base.is_negated()
            && !c.operator.if_exists
            && c.operator.base != BaseOperator::Null
            && c.operator.set != Some(SetOperator::ForAllValues)
    };
    let Some(ip) = statement
        .conditions
        .iter()
        .find(|l| required(&l.condition) && crate::network::is_source_ip_key(&l.condition.key))
    else {
        return;
    };
    let Some(vpc) = statement
        .conditions
        .iter()
        .find(|l| required(&l.condition) && crate::network::is_vpc_key(&l.condition.key))
    else {
        return;
    };
    sink.push(
        Code::SourceIpWithVpcKey,
        &vpc.location,
        format!(
            "this statement requires both `{}` and `{}`, which are never present together: AWS sets `aws:SourceIp` only \
             for calls over the internet and the VPC keys only for calls through a VPC endpoint, so the statement never \
             matches; put each path in a statement of its own",
            ip.condition.key, vpc.condition.key
        ),
    );
}

/// The claim of a provider condition key (`sub` in `api.bitbucket.org/...:sub`), lower-cased; `None` for global
/// and service keys (`aws:`, `sts:`).
fn provider_claim(key: &str) -> Option<String> {
    let (prefix, claim) = key.rsplit_once(':')?;
    (prefix.contains('.') || prefix.contains('/')).then(|| claim.to_ascii_lowercase())
}

/// The set-operator table (docs/rules/set-operator-on-single-valued-key.md publishes it):
///
/// | condition | code | level |
/// |---|---|---|
/// | `ForAllValues:` on `<provider>:aud` | none: `aud` may be an array, and STS requires it | — |
/// | `ForAnyValue:` on `<provider>:sub` or `:aud`, or on another single-valued key | `set-operator-on-single-valued-key` | low |
/// | `ForAllValues:` on `<provider>:sub` in an Allow with another, plain `sub` condition | `for-all-values-in-allow` | medium |
/// | `ForAllValues:` on `<provider>:sub` as the Allow's only `sub` restriction | `sub-only-set-operators` | high |
/// | `ForAllValues:` on any other key in an Allow | `for-all-values-in-allow` | medium |
/// | `ForAllValues:` on a single-valued key in a Deny | `set-operator-on-single-valued-key` | low |
fn set_operator_diagnostic(
    statement: &crate::policy::Statement,
    c: &crate::condition::Condition,
    set: SetOperator,
    at: &SourceLocation,
    sink: &mut Sink,
) {
    let claim = provider_claim(&c.key);
    let allow = statement.effect == Some(Effect::Allow);
    match (set, claim.as_deref()) {
        (SetOperator::ForAllValues, Some("aud")) => {}
        (SetOperator::ForAnyValue, _) => {
            if is_single_valued_key(&c.key) {
                sink.push(
                    Code::SetOperatorOnSingleValuedKey,
                    at,
                    format!(
                        "`{}` is single-valued: `{}` behaves like the plain operator here; drop the `ForAnyValue:` prefix",
                        c.key,
                        c.operator_name
                    ),
                );
            }
        }
        (SetOperator::ForAllValues, Some("sub")) if allow => {
            let only_set = statement
                .conditions
                .iter()
                .filter(|other| provider_claim(&other.condition.key).as_deref() == Some("sub"))
                .all(|other| other.condition.operator.set == Some(SetOperator::ForAllValues));
            if only_set {
                sink.push(
                    Code::SubOnlySetOperators,
                    at,
                    format!(
                        "the statement's only `sub` restriction is `{}`, which is also true when `{}` is missing or empty; \
                         use `{}` without the prefix",
                        c.operator_name,
                        c.key,
                        c.operator.base.name()
                    ),
                );
            } else {
                sink.push(
                    Code::ForAllValuesInAllow,
                    at,
                    format!("`ForAllValues:` also matches when `{}` is missing; `sub` is single-valued, use `{}`", c.key, c.operator.base.name()),
                );
            }
        }
        (SetOperator::ForAllValues, _) if allow => sink.push(
            Code::ForAllValuesInAllow,
            at,
            format!("`ForAllValues:` also matches when `{}` is missing; in an Allow add a `Null: false` check", c.key),
        ),
        (SetOperator::ForAllValues, _) => {
            if is_single_valued_key(&c.key) {
                sink.push(
                    Code::SetOperatorOnSingleValuedKey,
                    at,
                    format!("`{}` is single-valued; drop the `ForAllValues:` prefix", c.key),
                );
            }
        }
    }
}

/// Federated principals IAM accepts: an identity provider ARN (`oidc-provider/` or `saml-provider/`), or a
/// domain name (the built-in web identity providers). IAM's own text for anything else: "Federated principals
/// must be valid domain names or SAML metadata ARNs" (terraform-aws-modules/terraform-aws-iam#202).
fn check_federated(value: &str, at: &SourceLocation, sink: &mut Sink) {
    const BUILT_IN: [&str; 4] = [
        "accounts.google.com",
        "graph.facebook.com",
        "www.amazon.com",
        "cognito-identity.amazonaws.com",
    ];
    if value.contains('*') {
        return; // wildcard-federated-principal says it
    }
    if value.starts_with("arn:") {
        if value.contains(":saml-provider/") {
            return;
        }
        if let Err(error) = crate::arn::ProviderArn::parse(value) {
            sink.push(
                Code::InvalidFederatedPrincipal,
                at,
                format!("IAM rejects `{value}` (\"Federated principals must be valid domain names or SAML metadata ARNs\"): {}", error.reason),
            );
        }
        return;
    }
    let domain = !value.is_empty()
        && value.len() <= 253
        && value.split('.').count() >= 2
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !domain {
        let hint = match value.strip_prefix("https://").unwrap_or(value).split_once('/') {
            Some(_) => format!(
                "an OIDC provider is named by its ARN: `arn:aws:iam::<account>:oidc-provider/{}`",
                value.strip_prefix("https://").unwrap_or(value)
            ),
            None => "name the identity provider by its ARN, `arn:aws:iam::<account>:oidc-provider/<host>[/<path>]`".to_owned(),
        };
        sink.push(
            Code::InvalidFederatedPrincipal,
            at,
            format!("IAM rejects `{value}` as a `Federated` principal (\"Federated principals must be valid domain names or SAML metadata ARNs\"); {hint}"),
        );
    } else if !BUILT_IN.contains(&value) {
        sink.push(
            Code::FederatedPrincipalNotAProvider,
            at,
            format!(
                "`{value}` is a domain name, which only matches the built-in identity providers ({}); an IAM OIDC provider \
                 is matched by its ARN, `arn:aws:iam::<account>:oidc-provider/{value}`, so this statement never applies",
                BUILT_IN.join(", ")
            ),
        );
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
                    sink.push(
                        Code::DuplicateKey,
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
                sink.push(
                    Code::EmptyArray,
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
        sink.push(
            Code::InvalidCharacter,
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
            .map(|d| (d.code.id(), d.line, d.column))
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
                               "ForAnyValue:StringLike": {{"example.com:sub": "y"}},
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

    /// The published set-operator table (docs/rules/set-operator-on-single-valued-key.md), row by row.
    #[test]
    fn set_operator_table() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            // `aud` may be an array (custom audiences) and STS requires it: ForAllValues is right.
            (
                r#""ForAllValues:StringEquals": {"example.com:aud": "a"}, "StringLike": {"example.com:sub": "r:*"}"#,
                "Allow",
                None,
            ),
            (
                r#""ForAnyValue:StringEquals": {"example.com:aud": "a"}, "StringLike": {"example.com:sub": "r:*"}"#,
                "Allow",
                Some("set-operator-on-single-valued-key"),
            ),
            (
                r#""StringEquals": {"example.com:aud": "a"}, "ForAnyValue:StringLike": {"example.com:sub": "r:*"}"#,
                "Allow",
                Some("set-operator-on-single-valued-key"),
            ),
            (
                r#""StringEquals": {"example.com:aud": "a"}, "ForAllValues:StringLike": {"example.com:sub": "r:*"}, "StringLike": {"example.com:sub": "r:e:*"}"#,
                "Allow",
                Some("for-all-values-in-allow"),
            ),
            (
                r#""StringEquals": {"example.com:aud": "a"}, "ForAllValues:StringLike": {"example.com:sub": "r:*"}"#,
                "Allow",
                Some("sub-only-set-operators"),
            ),
            (
                r#""ForAllValues:IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "StringLike": {"example.com:sub": "r:*"}"#,
                "Allow",
                Some("for-all-values-in-allow"),
            ),
            (
                r#""ForAllValues:StringLike": {"example.com:sub": "r:*"}"#,
                "Deny",
                Some("set-operator-on-single-valued-key"),
            ),
        ];
        for (condition, effect, expected) in cases {
            let text = trust(&format!(
                r#"{{"Effect": "{effect}", "Principal": {{"Federated": "{PROVIDER}"}}, "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {{{condition}}}}}"#
            ));
            let found: Vec<&str> = codes(&text, PolicyKind::Trust)
                .into_iter()
                .map(|(c, _, _)| c)
                .filter(|c| {
                    c.contains("set-operator") || c.contains("for-all") || c.contains("sub-only")
                })
                .collect();
            assert_eq!(
                found,
                expected.iter().copied().collect::<Vec<_>>(),
                "{condition}"
            );
        }
    }

    #[test]
    fn federated_principals() {
        let cases: &[(&str, Option<&str>)] = &[
            (PROVIDER, None),
            ("arn:aws:iam::123456789012:saml-provider/corp", None),
            ("accounts.google.com", None),
            (
                "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
                Some("invalid-federated-principal"),
            ),
            (
                "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
                Some("invalid-federated-principal"),
            ),
            (
                "arn:aws:iam::123456789012:oidc-provider/https://example.com",
                Some("invalid-federated-principal"),
            ),
            (
                "arn:aws:iam::acme:oidc-provider/example.com",
                Some("invalid-federated-principal"),
            ),
            (
                "api.bitbucket.org",
                Some("federated-principal-not-a-provider"),
            ),
        ];
        for (value, expected) in cases {
            let text = trust(&format!(
                r#"{{"Effect": "Allow", "Principal": {{"Federated": "{value}"}}, "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {{"StringLike": {{"example.com:sub": "r:*"}}}}}}"#
            ));
            let found: Vec<&str> = codes(&text, PolicyKind::Trust)
                .into_iter()
                .map(|(c, _, _)| c)
                .filter(|c| c.contains("federated"))
                .collect();
            assert_eq!(
                found,
                expected.iter().copied().collect::<Vec<_>>(),
                "{value}"
            );
        }
    }

    #[test]
    fn registry_ids_are_unique_and_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.id()), "duplicate id {}", code.id());
            assert!(
                code.id()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                code.id()
            );
            assert_eq!(Code::from_id(code.id()), Some(*code));
            assert!(!code.description().is_empty());
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

    #[test]
    fn network_conditions_aws_cannot_satisfy() {
        // Article 004's condition: a VPC's private CIDR in aws:SourceIp.
        let text = trust(&format!(
            r#"{{"Effect": "Allow", "Principal": {{"Federated": "{PROVIDER}"}}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {{"IpAddress": {{"aws:SourceIp": ["10.0.0.0/24", "203.0.113.0/24", "34.199.54.113"]}}}}}}"#
        ));
        let found: Vec<&str> = codes(&text, PolicyKind::Trust)
            .iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(
            found,
            ["source-ip-private-range", "source-ip-documentation-range"]
        );
        // Both paths required in one statement.
        let text = trust(&format!(
            r#"{{"Effect": "Allow", "Principal": {{"Federated": "{PROVIDER}"}}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {{"IpAddress": {{"aws:SourceIp": "34.199.54.113"}},
                              "StringEquals": {{"example.com:aud": "a", "aws:SourceVpce": "vpce-0a1b2c3d4e5f60718"}}}}}}"#
        ));
        assert_eq!(
            codes(&text, PolicyKind::Trust)
                .iter()
                .map(|c| c.0)
                .collect::<Vec<_>>(),
            ["source-ip-with-vpc-key"]
        );
        // IfExists on one of them is the documented way to accept either path: not reported.
        let text = trust(&format!(
            r#"{{"Effect": "Allow", "Principal": {{"Federated": "{PROVIDER}"}}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {{"IpAddressIfExists": {{"aws:SourceIp": "34.199.54.113"}},
                              "StringEqualsIfExists": {{"aws:SourceVpce": "vpce-0a1b2c3d4e5f60718"}},
                              "StringEquals": {{"example.com:aud": "a"}}}}}}"#
        ));
        assert_eq!(codes(&text, PolicyKind::Trust), []);
    }
}
