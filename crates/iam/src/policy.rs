//! The policy document model: statements with their principals, actions and compiled conditions, each with
//! the source location it came from. Built from the located JSON tree by [`parse`].

use serde::Serialize;

use crate::condition::glob::Glob;
use crate::condition::{Condition, Operator};
use crate::error::ParseError;
use crate::json::{self, Location, Member, Spanned, Value};
use crate::request::PrincipalType;

/// Where an element sits in the source: 1-based line and column, and its JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SourceLocation {
    pub line: usize,
    pub column: usize,
    pub pointer: String,
}

impl SourceLocation {
    fn new(location: Location, pointer: &str) -> Self {
        SourceLocation {
            line: location.line,
            column: location.column,
            pointer: pointer.to_string(),
        }
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// One entry of a `Principal`/`NotPrincipal` element, e.g. `"Federated": "arn:aws:iam::1:oidc-provider/x"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalEntry {
    /// `None` for a type keyless does not model (`CanonicalUser`, or a misspelling `validate` reports).
    pub principal_type: Option<PrincipalType>,
    pub type_name: String,
    pub value: String,
    pub location: SourceLocation,
}

/// A `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalSet {
    /// `"Principal": "*"`: everyone, including anonymous callers.
    pub wildcard: bool,
    pub entries: Vec<PrincipalEntry>,
    pub location: SourceLocation,
}

/// One pattern of an `Action`/`NotAction` element (case-insensitive, `*` and `?` wildcards).
#[derive(Debug, Clone)]
pub struct ActionPattern {
    pub text: String,
    pub(crate) glob: Glob,
    pub location: SourceLocation,
}

/// An `Action` or `NotAction` element.
#[derive(Debug, Clone)]
pub struct ActionSet {
    pub patterns: Vec<ActionPattern>,
    pub location: SourceLocation,
}

impl ActionSet {
    /// Whether any pattern matches `action` (case-insensitive).
    pub fn any_matches(&self, action: &str) -> bool {
        self.patterns
            .iter()
            .any(|p| p.glob.matches_ignore_ascii_case(action))
    }
}

/// A condition with the location of its key in the source.
#[derive(Debug, Clone)]
pub struct LocatedCondition {
    pub condition: Condition,
    pub location: SourceLocation,
}

/// A condition operator keyless does not know; the statement can never apply (IAM would reject the policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownOperator {
    pub name: String,
    pub location: SourceLocation,
}

/// One statement of a policy.
#[derive(Debug, Clone)]
pub struct Statement {
    pub index: usize,
    pub sid: Option<String>,
    /// `None` when `Effect` is missing or not exactly `Allow`/`Deny`; such a statement never applies.
    pub effect: Option<Effect>,
    pub principal: Option<PrincipalSet>,
    pub not_principal: Option<PrincipalSet>,
    pub action: Option<ActionSet>,
    pub not_action: Option<ActionSet>,
    pub resource: Option<Vec<String>>,
    pub not_resource: Option<Vec<String>>,
    pub conditions: Vec<LocatedCondition>,
    pub unknown_operators: Vec<UnknownOperator>,
    pub location: SourceLocation,
}

/// A parsed IAM policy document.
#[derive(Debug, Clone)]
pub struct PolicyDocument {
    pub version: Option<String>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
    /// Whether `${...}` policy variables are substituted (Version `2012-10-17`).
    pub variables_enabled: bool,
    pub(crate) root: Spanned,
    pub(crate) size: usize,
}

/// Parses an IAM policy document. Fails on malformed JSON and on elements of the wrong JSON type (with line,
/// column and JSON pointer); everything IAM would reject beyond that is reported by
/// [`PolicyDocument::validate`].
pub fn parse(text: &str) -> Result<PolicyDocument, ParseError> {
    let root = json::parse(text)?;
    let Value::Object(members) = &root.value else {
        return Err(ParseError::at(
            &root,
            "",
            format!(
                "a policy document must be a JSON object, found {}",
                root.value.type_name()
            ),
        ));
    };
    let version = last(members, "Version")
        .map(|m| expect_string(&m.value, "/Version"))
        .transpose()?;
    let id = last(members, "Id")
        .map(|m| expect_string(&m.value, "/Id"))
        .transpose()?;
    let variables_enabled = version.as_deref() == Some("2012-10-17");
    let mut statements = Vec::new();
    if let Some(member) = last(members, "Statement") {
        match &member.value.value {
            Value::Object(_) => statements.push(statement(
                &member.value,
                "/Statement",
                0,
                variables_enabled,
            )?),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    statements.push(statement(
                        item,
                        &format!("/Statement/{index}"),
                        index,
                        variables_enabled,
                    )?);
                }
            }
            other => {
                return Err(ParseError::at(
                    &member.value,
                    "/Statement",
                    format!(
                        "`Statement` must be an object or an array of objects, found {}",
                        other.type_name()
                    ),
                ));
            }
        }
    }
    Ok(PolicyDocument {
        version,
        id,
        statements,
        variables_enabled,
        size: crate::size_excluding_whitespace(text),
        root,
    })
}

/// The last member named `key`: duplicates are a validation error, and like `JSON.parse` the last one wins.
fn last<'a>(members: &'a [Member], key: &str) -> Option<&'a Member> {
    members.iter().rev().find(|m| m.key == key)
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

/// A string or an array of strings (IAM accepts a single string wherever an array is allowed).
fn string_list(
    value: &Spanned,
    pointer: &str,
) -> Result<Vec<(String, SourceLocation)>, ParseError> {
    match &value.value {
        Value::String(s) => Ok(vec![(
            s.clone(),
            SourceLocation::new(value.location, pointer),
        )]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let p = format!("{pointer}/{i}");
                expect_string(item, &p).map(|s| (s, SourceLocation::new(item.location, &p)))
            })
            .collect(),
        other => Err(ParseError::at(
            value,
            pointer,
            format!(
                "expected a string or an array of strings, found {}",
                other.type_name()
            ),
        )),
    }
}

fn statement(
    value: &Spanned,
    pointer: &str,
    index: usize,
    variables: bool,
) -> Result<Statement, ParseError> {
    let Value::Object(members) = &value.value else {
        return Err(ParseError::at(
            value,
            pointer,
            format!(
                "a statement must be an object, found {}",
                value.value.type_name()
            ),
        ));
    };
    let child = |key: &str| format!("{pointer}/{key}");
    let sid = last(members, "Sid")
        .map(|m| expect_string(&m.value, &child("Sid")))
        .transpose()?;
    let effect = match last(members, "Effect") {
        Some(m) => match expect_string(&m.value, &child("Effect"))?.as_str() {
            "Allow" => Some(Effect::Allow),
            "Deny" => Some(Effect::Deny),
            _ => None,
        },
        None => None,
    };
    let principal = last(members, "Principal")
        .map(|m| principal_set(&m.value, &child("Principal")))
        .transpose()?;
    let not_principal = last(members, "NotPrincipal")
        .map(|m| principal_set(&m.value, &child("NotPrincipal")))
        .transpose()?;
    let action = last(members, "Action")
        .map(|m| action_set(&m.value, &child("Action")))
        .transpose()?;
    let not_action = last(members, "NotAction")
        .map(|m| action_set(&m.value, &child("NotAction")))
        .transpose()?;
    let strings = |v: &Spanned, p: &str| {
        string_list(v, p).map(|l| l.into_iter().map(|(s, _)| s).collect::<Vec<_>>())
    };
    let resource = last(members, "Resource")
        .map(|m| strings(&m.value, &child("Resource")))
        .transpose()?;
    let not_resource = last(members, "NotResource")
        .map(|m| strings(&m.value, &child("NotResource")))
        .transpose()?;
    let mut conditions = Vec::new();
    let mut unknown_operators = Vec::new();
    if let Some(m) = last(members, "Condition") {
        let condition_pointer = child("Condition");
        let Value::Object(operators) = &m.value.value else {
            return Err(ParseError::at(
                &m.value,
                &condition_pointer,
                format!(
                    "`Condition` must be an object of operators, found {}",
                    m.value.value.type_name()
                ),
            ));
        };
        for op in operators {
            let op_pointer = format!(
                "{condition_pointer}/{}",
                json::escape_pointer_token(&op.key)
            );
            let Value::Object(keys) = &op.value.value else {
                return Err(ParseError::at(
                    &op.value,
                    &op_pointer,
                    format!(
                        "condition operator `{}` must map to an object of condition keys, found {}",
                        op.key,
                        op.value.value.type_name()
                    ),
                ));
            };
            let operator = Operator::parse(&op.key);
            if operator.is_none() {
                unknown_operators.push(UnknownOperator {
                    name: op.key.clone(),
                    location: SourceLocation::new(op.key_location, &op_pointer),
                });
            }
            for key in keys {
                let key_pointer = format!("{op_pointer}/{}", json::escape_pointer_token(&key.key));
                let values = condition_values(&key.value, &key_pointer)?;
                if let Some(operator) = operator {
                    conditions.push(LocatedCondition {
                        condition: Condition::new(
                            operator,
                            op.key.clone(),
                            key.key.clone(),
                            values,
                            variables,
                        ),
                        location: SourceLocation::new(key.key_location, &key_pointer),
                    });
                }
            }
        }
    }
    Ok(Statement {
        index,
        sid,
        effect,
        principal,
        not_principal,
        action,
        not_action,
        resource,
        not_resource,
        conditions,
        unknown_operators,
        location: SourceLocation::new(value.location, pointer),
    })
}

/// Condition values: strings, numbers and booleans (IAM accepts `true` and `10` unquoted), or arrays of them.
fn condition_values(value: &Spanned, pointer: &str) -> Result<Vec<String>, ParseError> {
    fn scalar(value: &Spanned, pointer: &str) -> Result<String, ParseError> {
        match &value.value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(ParseError::at(
                value,
                pointer,
                format!(
                    "a condition value must be a string, number or boolean, found {}",
                    other.type_name()
                ),
            )),
        }
    }
    match &value.value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| scalar(item, &format!("{pointer}/{i}")))
            .collect(),
        _ => scalar(value, pointer).map(|s| vec![s]),
    }
}

fn principal_set(value: &Spanned, pointer: &str) -> Result<PrincipalSet, ParseError> {
    let location = SourceLocation::new(value.location, pointer);
    match &value.value {
        Value::String(s) if s == "*" => Ok(PrincipalSet {
            wildcard: true,
            entries: Vec::new(),
            location,
        }),
        Value::String(s) => Err(ParseError::at(
            value,
            pointer,
            format!(
                "principal `{s}` needs a type: write {{\"AWS\": \"{s}\"}}, {{\"Federated\": ...}} or {{\"Service\": ...}}; only `*` stands alone"
            ),
        )),
        Value::Object(members) => {
            let mut entries = Vec::new();
            for member in members {
                let type_pointer = format!("{pointer}/{}", json::escape_pointer_token(&member.key));
                for (value, location) in string_list(&member.value, &type_pointer)? {
                    entries.push(PrincipalEntry {
                        principal_type: PrincipalType::from_policy_name(&member.key),
                        type_name: member.key.clone(),
                        value,
                        location,
                    });
                }
            }
            Ok(PrincipalSet {
                wildcard: false,
                entries,
                location,
            })
        }
        other => Err(ParseError::at(
            value,
            pointer,
            format!(
                "a principal must be `*` or an object such as {{\"Federated\": \"<provider ARN>\"}}, found {}",
                other.type_name()
            ),
        )),
    }
}

fn action_set(value: &Spanned, pointer: &str) -> Result<ActionSet, ParseError> {
    let patterns = string_list(value, pointer)?
        .into_iter()
        .map(|(text, location)| ActionPattern {
            glob: Glob::new(&text),
            text,
            location,
        })
        .collect();
    Ok(ActionSet {
        patterns,
        location: SourceLocation::new(value.location, pointer),
    })
}
