//! Condition operators: parsing operator names (`ForAnyValue:StringLikeIfExists`), compiling policy values
//! once, and evaluating one condition against a request context with IAM's rules for missing keys,
//! multivalued keys, negated operators and policy variables.

pub mod glob;
pub mod typed;
pub mod variables;

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::request::{Context, ContextValue};
use glob::Glob;
use typed::ArnPattern;
use variables::Template;

/// The base operator, without set prefix or `IfExists` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum BaseOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

use BaseOperator as B;

const ALL_BASE: [BaseOperator; 27] = [
    B::StringEquals,
    B::StringNotEquals,
    B::StringEqualsIgnoreCase,
    B::StringNotEqualsIgnoreCase,
    B::StringLike,
    B::StringNotLike,
    B::NumericEquals,
    B::NumericNotEquals,
    B::NumericLessThan,
    B::NumericLessThanEquals,
    B::NumericGreaterThan,
    B::NumericGreaterThanEquals,
    B::DateEquals,
    B::DateNotEquals,
    B::DateLessThan,
    B::DateLessThanEquals,
    B::DateGreaterThan,
    B::DateGreaterThanEquals,
    B::Bool,
    B::BinaryEquals,
    B::IpAddress,
    B::NotIpAddress,
    B::ArnEquals,
    B::ArnLike,
    B::ArnNotEquals,
    B::ArnNotLike,
    B::Null,
];

impl BaseOperator {
    pub fn name(self) -> &'static str {
        match self {
            B::StringEquals => "StringEquals",
            B::StringNotEquals => "StringNotEquals",
            B::StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            B::StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            B::StringLike => "StringLike",
            B::StringNotLike => "StringNotLike",
            B::NumericEquals => "NumericEquals",
            B::NumericNotEquals => "NumericNotEquals",
            B::NumericLessThan => "NumericLessThan",
            B::NumericLessThanEquals => "NumericLessThanEquals",
            B::NumericGreaterThan => "NumericGreaterThan",
            B::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            B::DateEquals => "DateEquals",
            B::DateNotEquals => "DateNotEquals",
            B::DateLessThan => "DateLessThan",
            B::DateLessThanEquals => "DateLessThanEquals",
            B::DateGreaterThan => "DateGreaterThan",
            B::DateGreaterThanEquals => "DateGreaterThanEquals",
            B::Bool => "Bool",
            B::BinaryEquals => "BinaryEquals",
            B::IpAddress => "IpAddress",
            B::NotIpAddress => "NotIpAddress",
            B::ArnEquals => "ArnEquals",
            B::ArnLike => "ArnLike",
            B::ArnNotEquals => "ArnNotEquals",
            B::ArnNotLike => "ArnNotLike",
            B::Null => "Null",
        }
    }

    /// Every base operator, in documentation order.
    pub fn all() -> &'static [BaseOperator] {
        &ALL_BASE
    }

    /// Negated operators match when the value matches *none* of the policy values, and match a missing key.
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            B::StringNotEquals
                | B::StringNotEqualsIgnoreCase
                | B::StringNotLike
                | B::NumericNotEquals
                | B::DateNotEquals
                | B::NotIpAddress
                | B::ArnNotEquals
                | B::ArnNotLike
        )
    }

    /// Policy variables are substituted only in String and ARN operators (IAMUG/reference_policies_variables).
    pub fn allows_variables(self) -> bool {
        matches!(
            self,
            B::StringEquals
                | B::StringNotEquals
                | B::StringEqualsIgnoreCase
                | B::StringNotEqualsIgnoreCase
                | B::StringLike
                | B::StringNotLike
                | B::ArnEquals
                | B::ArnLike
                | B::ArnNotEquals
                | B::ArnNotLike
        )
    }
}

/// A set operator prefix for multivalued keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SetOperator {
    ForAnyValue,
    ForAllValues,
}

/// A full condition operator: optional set prefix, base operator, optional `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operator {
    pub set: Option<SetOperator>,
    pub base: BaseOperator,
    pub if_exists: bool,
}

impl Operator {
    /// Parses an operator name. Names are matched without regard to case (IAM's own case rule is
    /// UNCONFIRMED; iam-simulate lower-cases); `validate` warns when the spelling is not canonical.
    /// `IfExists` is not allowed on `Null`.
    pub fn parse(name: &str) -> Option<Operator> {
        let (set, rest) = match name.split_once(':') {
            Some((prefix, rest)) if prefix.eq_ignore_ascii_case("ForAnyValue") => {
                (Some(SetOperator::ForAnyValue), rest)
            }
            Some((prefix, rest)) if prefix.eq_ignore_ascii_case("ForAllValues") => {
                (Some(SetOperator::ForAllValues), rest)
            }
            Some(_) => return None,
            None => (None, name),
        };
        let (base_name, if_exists) = match rest.len().checked_sub("IfExists".len()) {
            Some(cut)
                if rest.is_char_boundary(cut) && rest[cut..].eq_ignore_ascii_case("IfExists") =>
            {
                (&rest[..cut], true)
            }
            _ => (rest, false),
        };
        let base = ALL_BASE
            .iter()
            .copied()
            .find(|b| b.name().eq_ignore_ascii_case(base_name))?;
        if base == B::Null && if_exists {
            return None;
        }
        Some(Operator {
            set,
            base,
            if_exists,
        })
    }

    /// The canonical spelling, e.g. `ForAnyValue:StringLikeIfExists`.
    pub fn canonical_name(&self) -> String {
        let prefix = match self.set {
            Some(SetOperator::ForAnyValue) => "ForAnyValue:",
            Some(SetOperator::ForAllValues) => "ForAllValues:",
            None => "",
        };
        format!(
            "{prefix}{}{}",
            self.base.name(),
            if self.if_exists { "IfExists" } else { "" }
        )
    }
}

/// One compiled policy value.
#[derive(Debug, Clone)]
enum Compiled {
    /// Exact comparison (case-sensitive, or lower-cased for IgnoreCase operators).
    Text(Template),
    Glob(Glob),
    GlobTemplate(Template),
    Number(f64),
    Date(i128),
    Bool(bool),
    Binary(Vec<u8>),
    Cidr(IpNet),
    Arn(ArnPattern),
    ArnTemplate(Template),
    Null(bool),
    /// A value the operator cannot use (a non-number for NumericEquals, ...): matches nothing.
    /// `validate` reports it.
    Invalid,
}

/// One condition: an operator applied to one key with one or more policy values (OR between values).
#[derive(Debug, Clone)]
pub struct Condition {
    pub operator: Operator,
    /// The operator as written in the policy.
    pub operator_name: String,
    pub key: String,
    /// The policy values as written (booleans and numbers in their JSON text).
    pub values: Vec<String>,
    compiled: Vec<Compiled>,
}

impl Condition {
    /// Compiles a condition. `variables` says whether `${...}` policy variables are live
    /// (policy Version 2012-10-17) or literal text (2008-10-17).
    pub fn new(
        operator: Operator,
        operator_name: String,
        key: String,
        values: Vec<String>,
        variables: bool,
    ) -> Self {
        let variables = variables && operator.base.allows_variables();
        let compiled = values
            .iter()
            .map(|v| compile(operator.base, v, variables))
            .collect();
        Condition {
            operator,
            operator_name,
            key,
            values,
            compiled,
        }
    }

    /// Indexes of policy values the operator cannot use (reported by validation).
    pub fn invalid_values(&self) -> impl Iterator<Item = usize> + '_ {
        self.compiled
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c, Compiled::Invalid))
            .map(|(i, _)| i)
    }

    /// Whether the condition holds for `context`.
    pub fn evaluate(&self, context: &Context) -> bool {
        let base = self.operator.base;
        let value = context.get(&self.key);
        let values: &[String] = value.map_or(&[], ContextValue::as_slice);
        // An empty list counts as absent: AWS says `ForAllValues` is true for a missing key "or if the context
        // key value resolves to a null dataset", and that `Null: false` guards against "context keys with empty
        // values" (IAMUG/reference_policies_condition_examples-multi-valued-context-keys).
        let present = !values.is_empty();
        if base == B::Null {
            return self
                .compiled
                .iter()
                .any(|c| matches!(c, Compiled::Null(expect_absent) if *expect_absent != present));
        }
        match self.operator.set {
            None => match value {
                None => self.operator.if_exists || base.is_negated(),
                Some(ContextValue::Single(v)) => self.single_value_matches(v, context),
                // "Multivalued context keys require a condition set operator"
                // (IAMUG/reference_policies_condition-single-vs-multi-valued-context-keys): without one the
                // condition does not match, negated or not (iam-simulate agrees; docs/iam-divergences.md).
                Some(ContextValue::Multi(_)) => false,
            },
            // NOTE: `IfExists` has no effect under a set operator: a missing key gives ForAnyValue false and
            // ForAllValues true either way (IfExists is applied per value inside the loop, where values exist).
            Some(SetOperator::ForAnyValue) => {
                values.iter().any(|v| self.single_value_matches(v, context))
            }
            Some(SetOperator::ForAllValues) => {
                values.iter().all(|v| self.single_value_matches(v, context))
            }
        }
    }

    /// One request value against the policy values, with the operator's negation applied.
    fn single_value_matches(&self, value: &str, context: &Context) -> bool {
        let hit = self.any_policy_value_matches(value, context);
        if self.operator.base.is_negated() {
            !hit
        } else {
            hit
        }
    }

    /// Whether `value` matches at least one policy value under the *positive* form of the operator.
    ///
    /// A policy value that cannot be used (not a number for NumericEquals, a policy variable without value
    /// or default) matches nothing under a positive operator, and makes a negated operator fail: "matches
    /// none of the values" can only hold when every policy value could be compared.
    fn any_policy_value_matches(&self, value: &str, context: &Context) -> bool {
        let base = self.operator.base;
        let unusable = base.is_negated();
        match base {
            B::NumericEquals
            | B::NumericNotEquals
            | B::NumericLessThan
            | B::NumericLessThanEquals
            | B::NumericGreaterThan
            | B::NumericGreaterThanEquals => {
                let Some(n) = typed::parse_number(value) else {
                    return false;
                };
                self.compiled.iter().any(|c| match c {
                    Compiled::Number(p) => compare(base, n.partial_cmp(p)),
                    _ => unusable,
                })
            }
            B::DateEquals
            | B::DateNotEquals
            | B::DateLessThan
            | B::DateLessThanEquals
            | B::DateGreaterThan
            | B::DateGreaterThanEquals => {
                let Some(d) = typed::parse_date(value) else {
                    return false;
                };
                self.compiled.iter().any(|c| match c {
                    Compiled::Date(p) => compare(base, Some(d.cmp(p))),
                    _ => unusable,
                })
            }
            B::Bool => {
                let Some(b) = typed::parse_bool(value) else {
                    return false;
                };
                self.compiled
                    .iter()
                    .any(|c| matches!(c, Compiled::Bool(p) if *p == b))
            }
            B::BinaryEquals => {
                let Some(bytes) = typed::parse_binary(value) else {
                    return false;
                };
                self.compiled
                    .iter()
                    .any(|c| matches!(c, Compiled::Binary(p) if *p == bytes))
            }
            B::IpAddress | B::NotIpAddress => {
                let Some(ip): Option<IpAddr> = typed::parse_ip(value) else {
                    return false;
                };
                self.compiled.iter().any(|c| match c {
                    Compiled::Cidr(net) => net.contains(&ip),
                    _ => unusable,
                })
            }
            B::StringEqualsIgnoreCase | B::StringNotEqualsIgnoreCase => {
                self.compiled.iter().any(|c| match c {
                    Compiled::Text(t) => t
                        .resolve_with(context, |p| eq_ignore_case(p, value))
                        .unwrap_or(unusable),
                    _ => unusable,
                })
            }
            B::StringEquals | B::StringNotEquals => self.compiled.iter().any(|c| match c {
                Compiled::Text(t) => t.resolve_with(context, |p| p == value).unwrap_or(unusable),
                _ => unusable,
            }),
            B::StringLike | B::StringNotLike => self.compiled.iter().any(|c| match c {
                Compiled::Glob(g) => g.matches(value),
                Compiled::GlobTemplate(t) => t
                    .resolve_glob(context)
                    .map_or(unusable, |g| g.matches(value)),
                _ => unusable,
            }),
            B::ArnEquals | B::ArnLike | B::ArnNotEquals | B::ArnNotLike => {
                // A pattern with fewer than six components is not an ARN pattern: it matches nothing, so
                // `ArnNot*` holds (as in iam-simulate). An unresolvable variable is handled like the String
                // family: the negated operator fails.
                self.compiled.iter().any(|c| match c {
                    Compiled::Arn(a) => a.matches(value),
                    Compiled::Invalid => false,
                    Compiled::ArnTemplate(t) => t
                        .resolve_arn(context)
                        .map_or(unusable, |a| a.matches(value)),
                    _ => unusable,
                })
            }
            B::Null => false,
        }
    }

    /// The request's values for this condition's key (for explanations).
    pub fn request_values<'c>(&self, context: &'c Context) -> Option<&'c [String]> {
        context.get(&self.key).map(ContextValue::as_slice)
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
}

/// Applies a comparison operator to `request.cmp(policy)`.
fn compare(base: BaseOperator, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let Some(o) = ordering else { return false };
    match base {
        B::NumericEquals | B::NumericNotEquals | B::DateEquals | B::DateNotEquals => o == Equal,
        B::NumericLessThan | B::DateLessThan => o == Less,
        B::NumericLessThanEquals | B::DateLessThanEquals => o != Greater,
        B::NumericGreaterThan | B::DateGreaterThan => o == Greater,
        B::NumericGreaterThanEquals | B::DateGreaterThanEquals => o != Less,
        _ => false,
    }
}

fn compile(base: BaseOperator, value: &str, variables: bool) -> Compiled {
    match base {
        B::StringEquals
        | B::StringNotEquals
        | B::StringEqualsIgnoreCase
        | B::StringNotEqualsIgnoreCase => Compiled::Text(Template::new(value, variables)),
        B::StringLike | B::StringNotLike => {
            let template = Template::new(value, variables);
            if template.is_static() {
                Compiled::Glob(Glob::new(value))
            } else {
                Compiled::GlobTemplate(template)
            }
        }
        B::ArnEquals | B::ArnLike | B::ArnNotEquals | B::ArnNotLike => {
            let template = Template::new(value, variables);
            if template.is_static() {
                ArnPattern::new(value).map_or(Compiled::Invalid, Compiled::Arn)
            } else {
                Compiled::ArnTemplate(template)
            }
        }
        B::NumericEquals
        | B::NumericNotEquals
        | B::NumericLessThan
        | B::NumericLessThanEquals
        | B::NumericGreaterThan
        | B::NumericGreaterThanEquals => {
            typed::parse_number(value).map_or(Compiled::Invalid, Compiled::Number)
        }
        B::DateEquals
        | B::DateNotEquals
        | B::DateLessThan
        | B::DateLessThanEquals
        | B::DateGreaterThan
        | B::DateGreaterThanEquals => {
            typed::parse_date(value).map_or(Compiled::Invalid, Compiled::Date)
        }
        B::Bool => typed::parse_bool(value).map_or(Compiled::Invalid, Compiled::Bool),
        B::BinaryEquals => typed::parse_binary(value).map_or(Compiled::Invalid, Compiled::Binary),
        B::IpAddress | B::NotIpAddress => {
            typed::parse_cidr(value).map_or(Compiled::Invalid, Compiled::Cidr)
        }
        B::Null => match typed::parse_bool(value) {
            Some(absent) => Compiled::Null(absent),
            None => Compiled::Invalid,
        },
    }
}

#[cfg(test)]
mod tests;
