//! Table-driven tests per condition operator, including the worked examples from AWS's documentation.
#![allow(clippy::unwrap_used)]

use super::*;

fn condition(operator: &str, key: &str, values: &[&str]) -> Condition {
    let op = Operator::parse(operator).unwrap();
    Condition::new(
        op,
        operator.to_string(),
        key.to_string(),
        values.iter().map(|v| v.to_string()).collect(),
        true,
    )
}

#[test]
fn operator_names_parse() {
    let op = Operator::parse("ForAnyValue:StringLikeIfExists").unwrap();
    assert_eq!(op.set, Some(SetOperator::ForAnyValue));
    assert_eq!(op.base, BaseOperator::StringLike);
    assert!(op.if_exists);
    assert_eq!(op.canonical_name(), "ForAnyValue:StringLikeIfExists");
    assert!(Operator::parse("NullIfExists").is_none());
    assert!(Operator::parse("StringEqualz").is_none());
    assert!(Operator::parse("ForSomeValues:StringEquals").is_none());
    assert_eq!(
        Operator::parse("stringequals").unwrap().base,
        BaseOperator::StringEquals
    );
}

#[test]
fn string_equals_basic() {
    let c = condition("StringEquals", "k", &["a", "b"]);
    assert!(c.evaluate(&Context::new().with("k", "b")));
    assert!(!c.evaluate(&Context::new().with("k", "B")));
    assert!(!c.evaluate(&Context::new()));
}
