//! The request an IAM policy is evaluated against: principal, action and the request context.

use serde::{Deserialize, Serialize};

use crate::error::ParseError;
use crate::json::{self, Spanned, Value};

/// The kind of principal making the request, as written in a policy's `Principal` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PrincipalType {
    /// An identity provider: an IAM OIDC/SAML provider ARN or a built-in web IdP (`accounts.google.com`).
    Federated,
    /// An AWS account, user, role or session.
    #[serde(rename = "AWS")]
    Aws,
    /// An AWS service principal such as `ec2.amazonaws.com`.
    Service,
}

impl PrincipalType {
    /// The name used in policy documents (`Federated`, `AWS`, `Service`).
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::Federated => "Federated",
            PrincipalType::Aws => "AWS",
            PrincipalType::Service => "Service",
        }
    }

    /// Parses a policy-document principal type name; IAM spells these exactly.
    pub fn from_policy_name(name: &str) -> Option<Self> {
        match name {
            "Federated" => Some(PrincipalType::Federated),
            "AWS" => Some(PrincipalType::Aws),
            "Service" => Some(PrincipalType::Service),
            _ => None,
        }
    }
}

/// Who makes the request: anyone (`*`, an anonymous caller) or a typed identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Principal {
    /// An anonymous caller; matched only by `"Principal": "*"` or `{"AWS": "*"}`.
    Any,
    /// A typed principal: the provider ARN for `Federated`, an ARN or account ID for `AWS`, a service name.
    Typed {
        principal_type: PrincipalType,
        value: String,
    },
}

impl Principal {
    pub fn federated(provider: impl Into<String>) -> Self {
        Principal::Typed {
            principal_type: PrincipalType::Federated,
            value: provider.into(),
        }
    }
    pub fn aws(arn: impl Into<String>) -> Self {
        Principal::Typed {
            principal_type: PrincipalType::Aws,
            value: arn.into(),
        }
    }
    pub fn service(name: impl Into<String>) -> Self {
        Principal::Typed {
            principal_type: PrincipalType::Service,
            value: name.into(),
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Any => f.write_str("*"),
            Principal::Typed {
                principal_type,
                value,
            } => write!(f, "{} {value}", principal_type.as_str()),
        }
    }
}

/// The value of one context key: a single string or a list (a multivalued key such as `aws:TagKeys`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ContextValue {
    Single(String),
    Multi(Vec<String>),
}

impl ContextValue {
    /// The values as a slice: one element for `Single`.
    pub fn as_slice(&self) -> &[String] {
        match self {
            ContextValue::Single(value) => std::slice::from_ref(value),
            ContextValue::Multi(values) => values,
        }
    }
}

impl From<&str> for ContextValue {
    fn from(value: &str) -> Self {
        ContextValue::Single(value.to_string())
    }
}
impl From<String> for ContextValue {
    fn from(value: String) -> Self {
        ContextValue::Single(value)
    }
}
impl From<Vec<String>> for ContextValue {
    fn from(values: Vec<String>) -> Self {
        ContextValue::Multi(values)
    }
}
impl From<Vec<&str>> for ContextValue {
    fn from(values: Vec<&str>) -> Self {
        ContextValue::Multi(values.into_iter().map(str::to_string).collect())
    }
}

/// The request context: condition keys and their values. Key names are case-insensitive, as in IAM
/// (`aws:SourceIP` and `AWS:sourceip` are the same key); values keep their case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    // A Vec, not a map: request contexts hold a handful of keys, and a linear scan with an ASCII
    // case-insensitive compare beats hashing a lower-cased copy of the key on every lookup.
    entries: Vec<(String, ContextValue)>,
}

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    /// Sets `key` (replacing a value under the same key in any letter case).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<ContextValue>) -> &mut Self {
        let key = key.into();
        let value = value.into();
        match self
            .entries
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
        {
            Some(entry) => *entry = (key, value),
            None => self.entries.push((key, value)),
        }
        self
    }

    /// Builder form of [`Context::insert`].
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<ContextValue>) -> Self {
        self.insert(key, value);
        self
    }

    /// The value of `key`, matched case-insensitively.
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    /// Removes `key` (any letter case), returning its value.
    pub fn remove(&mut self, key: &str) -> Option<ContextValue> {
        let index = self
            .entries
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(key))?;
        Some(self.entries.remove(index).1)
    }

    /// Keys and values in insertion order, keys spelled as inserted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Serialize for Context {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (key, value) in &self.entries {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// One request: who (principal), what (action, e.g. `sts:AssumeRoleWithWebIdentity`) and the context keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    pub principal: Principal,
    pub action: String,
    pub context: Context,
}

impl Request {
    /// Parses the request-file format of `keyless policy eval --request`:
    /// `{"principal": "<ARN or *>", "principal_type": "Federated|AWS|Service", "action": "...",
    ///   "context": {"<key>": "<value>" | ["<v1>", "<v2>"]}}`.
    /// Errors carry the line, column and JSON pointer of the offending value.
    pub fn from_json(text: &str) -> Result<Request, ParseError> {
        let root = json::parse(text).map_err(ParseError::from)?;
        let Value::Object(members) = &root.value else {
            return Err(ParseError::at(
                &root,
                "",
                "a request must be a JSON object with `principal`, `action` and `context`",
            ));
        };
        let mut principal = None;
        let mut principal_type = None;
        let mut action = None;
        let mut context = Context::new();
        let mut seen: Vec<&str> = Vec::new();
        for member in members {
            let pointer = format!("/{}", json::escape_pointer_token(&member.key));
            if seen.contains(&member.key.as_str()) {
                return Err(ParseError::at_location(
                    member.key_location,
                    &pointer,
                    format!("duplicate key `{}`", member.key),
                ));
            }
            seen.push(&member.key);
            match member.key.as_str() {
                "principal" => principal = Some(expect_string(&member.value, &pointer)?),
                "principal_type" => {
                    let name = expect_string(&member.value, &pointer)?;
                    let parsed = PrincipalType::from_policy_name(&name).ok_or_else(|| {
                        ParseError::at(&member.value, &pointer, format!("unknown principal_type `{name}`: use `Federated`, `AWS` or `Service`"))
                    })?;
                    principal_type = Some(parsed);
                }
                "action" => action = Some(expect_string(&member.value, &pointer)?),
                "context" => {
                    let Value::Object(keys) = &member.value.value else {
                        return Err(ParseError::at(
                            &member.value,
                            &pointer,
                            "`context` must be an object of condition keys",
                        ));
                    };
                    for key in keys {
                        let key_pointer =
                            format!("{pointer}/{}", json::escape_pointer_token(&key.key));
                        if context.get(&key.key).is_some() {
                            return Err(ParseError::at_location(
                                key.key_location,
                                &key_pointer,
                                format!(
                                    "duplicate context key `{}` (key names are case-insensitive)",
                                    key.key
                                ),
                            ));
                        }
                        let value = match &key.value.value {
                            Value::String(s) => ContextValue::Single(s.clone()),
                            Value::Array(items) => {
                                let mut values = Vec::with_capacity(items.len());
                                for (i, item) in items.iter().enumerate() {
                                    values
                                        .push(expect_string(item, &format!("{key_pointer}/{i}"))?);
                                }
                                ContextValue::Multi(values)
                            }
                            other => {
                                return Err(ParseError::at(
                                    &key.value,
                                    &key_pointer,
                                    format!(
                                        "context value is {}; write it as a string or an array of strings",
                                        other.type_name()
                                    ),
                                ));
                            }
                        };
                        context.insert(key.key.clone(), value);
                    }
                }
                other => {
                    return Err(ParseError::at_location(
                        member.key_location,
                        &pointer,
                        format!(
                            "unknown field `{other}`: a request has `principal`, `principal_type`, `action` and `context`"
                        ),
                    ));
                }
            }
        }
        let principal = principal
            .ok_or_else(|| ParseError::at(&root, "", "missing `principal` (an ARN, or `*`)"))?;
        let action = action.ok_or_else(|| {
            ParseError::at(
                &root,
                "",
                "missing `action` (e.g. `sts:AssumeRoleWithWebIdentity`)",
            )
        })?;
        let principal = if principal == "*" && principal_type.is_none() {
            Principal::Any
        } else {
            let principal_type = principal_type.ok_or_else(|| {
                ParseError::at(&root, "", "missing `principal_type`: use `Federated`, `AWS` or `Service` (only `*` needs none)")
            })?;
            Principal::Typed {
                principal_type,
                value: principal,
            }
        };
        Ok(Request {
            principal,
            action,
            context,
        })
    }
}

fn expect_string(value: &Spanned, pointer: &str) -> Result<String, ParseError> {
    match &value.value {
        Value::String(s) => Ok(s.clone()),
        other => Err(ParseError::at(
            value,
            pointer,
            format!("expected a string, found {}", other.type_name()),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn context_keys_are_case_insensitive() {
        let mut context = Context::new().with("aws:SourceIp", "1.2.3.4");
        assert_eq!(
            context.get("AWS:SOURCEIP"),
            Some(&ContextValue::Single("1.2.3.4".into()))
        );
        context.insert("aws:sourceip", "5.6.7.8");
        assert_eq!(context.len(), 1);
        assert_eq!(context.get("aws:SourceIp").unwrap().as_slice(), ["5.6.7.8"]);
    }

    #[test]
    fn request_file_parses() {
        let request = Request::from_json(
            r#"{"principal": "arn:aws:iam::1:oidc-provider/x", "principal_type": "Federated",
                "action": "sts:AssumeRoleWithWebIdentity", "context": {"x:aud": "a", "aws:TagKeys": ["k1", "k2"]}}"#,
        )
        .unwrap();
        assert_eq!(
            request.principal,
            Principal::federated("arn:aws:iam::1:oidc-provider/x")
        );
        assert_eq!(
            request.context.get("aws:tagkeys").unwrap().as_slice(),
            ["k1", "k2"]
        );
    }

    #[test]
    fn request_file_errors_are_located() {
        let error = Request::from_json("{\"principal\": \"*\",\n \"action\": 3}").unwrap_err();
        assert_eq!((error.line, error.column), (2, 12));
        assert_eq!(error.pointer, "/action");
        let error = Request::from_json("{\"principal\": \"x\", \"action\": \"a\"}").unwrap_err();
        assert!(error.message.contains("principal_type"), "{error}");
    }
}
