//! Table-driven tests per condition operator, including the worked examples from AWS's documentation of
//! condition operators and multivalued conditions (each quoted with its source).
#![allow(clippy::unwrap_used)]

use super::*;
use crate::{Decision, Principal, Request, parse};

fn condition(operator: &str, key: &str, values: &[&str]) -> Condition {
    let op = Operator::parse(operator).unwrap_or_else(|| panic!("operator {operator}"));
    Condition::new(
        op,
        operator.to_string(),
        key.to_string(),
        values.iter().map(|v| v.to_string()).collect(),
        true,
    )
}

/// `(operator, policy values, request value or None for a missing key, expected)`.
type Row<'a> = (&'a str, &'a [&'a str], Option<&'a str>, bool);

fn check_rows(key: &str, rows: &[Row]) {
    for (i, (operator, values, request, expected)) in rows.iter().enumerate() {
        let c = condition(operator, key, values);
        let context = match request {
            Some(v) => Context::new().with(key, *v),
            None => Context::new(),
        };
        assert_eq!(
            c.evaluate(&context),
            *expected,
            "row {i}: {operator} {values:?} vs {request:?}"
        );
    }
}

fn multi(values: &[&str]) -> ContextValue {
    ContextValue::Multi(values.iter().map(|v| v.to_string()).collect())
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
    for base in BaseOperator::all() {
        assert_eq!(Operator::parse(base.name()).unwrap().base, *base);
    }
}

#[test]
fn string_operators() {
    check_rows(
        "k",
        &[
            ("StringEquals", &["a", "b"], Some("b"), true),
            ("StringEquals", &["a"], Some("A"), false),
            ("StringEquals", &["a*"], Some("abc"), false),
            ("StringEquals", &["a*"], Some("a*"), true),
            ("StringEquals", &["a"], None, false),
            ("StringEqualsIfExists", &["a"], None, true),
            ("StringEqualsIfExists", &["a"], Some("b"), false),
            ("StringNotEquals", &["a", "b"], Some("c"), true),
            ("StringNotEquals", &["a", "b"], Some("b"), false),
            ("StringNotEquals", &["a"], None, true),
            ("StringEqualsIgnoreCase", &["ABC"], Some("abc"), true),
            (
                "StringEqualsIgnoreCase",
                &["\u{c9}COLE"],
                Some("\u{e9}cole"),
                true,
            ),
            ("StringNotEqualsIgnoreCase", &["ABC"], Some("abc"), false),
            ("StringNotEqualsIgnoreCase", &["ABC"], Some("abd"), true),
            ("StringLike", &["repo:*"], Some("repo:main"), true),
            ("StringLike", &["repo:?ain"], Some("repo:main"), true),
            ("StringLike", &["repo:?ain"], Some("repo:mmain"), false),
            ("StringLike", &["Repo:*"], Some("repo:main"), false),
            ("StringLike", &[""], Some(""), true),
            ("StringNotLike", &["a*", "b*"], Some("cat"), true),
            ("StringNotLike", &["a*", "b*"], Some("bat"), false),
            ("StringNotLikeIfExists", &["a*"], None, true),
        ],
    );
}

#[test]
fn numeric_operators() {
    check_rows(
        "n",
        &[
            ("NumericEquals", &["10"], Some("10"), true),
            ("NumericEquals", &["10"], Some("10.0"), true),
            ("NumericEquals", &["10"], Some("11"), false),
            ("NumericNotEquals", &["10", "11"], Some("12"), true),
            ("NumericNotEquals", &["10", "11"], Some("11"), false),
            ("NumericLessThan", &["10"], Some("9.5"), true),
            ("NumericLessThan", &["10"], Some("10"), false),
            ("NumericLessThanEquals", &["10"], Some("10"), true),
            ("NumericGreaterThan", &["-1.5"], Some("-1"), true),
            ("NumericGreaterThan", &["-1.5"], Some("-2"), false),
            ("NumericGreaterThanEquals", &["0"], Some("0"), true),
            ("NumericEquals", &["10"], Some("ten"), false),
            ("NumericEquals", &["10"], None, false),
            ("NumericNotEquals", &["10"], None, true),
            // An unusable policy value matches nothing, and a negated operator cannot prove "matches none".
            ("NumericEquals", &["ten"], Some("10"), false),
            ("NumericNotEquals", &["ten"], Some("10"), false),
        ],
    );
}

#[test]
fn date_operators() {
    check_rows(
        "aws:CurrentTime",
        &[
            (
                "DateEquals",
                &["2026-11-22T04:00:00Z"],
                Some("2026-11-22T04:00:00Z"),
                true,
            ),
            (
                "DateEquals",
                &["2026-11-22T05:00:00+01:00"],
                Some("2026-11-22T04:00:00Z"),
                true,
            ),
            (
                "DateEquals",
                &["2026-11-22"],
                Some("2026-11-22T00:00:00Z"),
                true,
            ),
            (
                "DateNotEquals",
                &["2026-11-22"],
                Some("2026-11-22T00:00:01Z"),
                true,
            ),
            (
                "DateLessThan",
                &["2027-01-01T00:00:00Z"],
                Some("2026-11-22T04:00:00Z"),
                true,
            ),
            (
                "DateLessThan",
                &["2026-01-01T00:00:00Z"],
                Some("2026-11-22T04:00:00Z"),
                false,
            ),
            (
                "DateLessThanEquals",
                &["2026-11-22T04:00:00Z"],
                Some("2026-11-22T04:00:00Z"),
                true,
            ),
            (
                "DateGreaterThan",
                &["2020-01-01T00:00:01Z"],
                Some("2026-11-22T04:00:00Z"),
                true,
            ),
            (
                "DateGreaterThanEquals",
                &["2026-11-22T04:00:01Z"],
                Some("2026-11-22T04:00:00Z"),
                false,
            ),
            // Epoch seconds compare with ISO 8601 on the same time line.
            (
                "DateEquals",
                &["1795320000"],
                Some("2026-11-22T04:00:00Z"),
                true,
            ),
            ("DateLessThan", &["1795320001"], Some("1795320000"), true),
            (
                "DateEquals",
                &["tomorrow"],
                Some("2026-11-22T04:00:00Z"),
                false,
            ),
            ("DateGreaterThan", &["2020"], None, false),
            ("DateNotEquals", &["2020"], None, true),
        ],
    );
}

#[test]
fn bool_binary_ip_arn_null_operators() {
    check_rows(
        "aws:SecureTransport",
        &[
            ("Bool", &["true"], Some("true"), true),
            ("Bool", &["TRUE"], Some("true"), true),
            ("Bool", &["false"], Some("true"), false),
            ("Bool", &["yes"], Some("true"), false),
            ("Bool", &["false"], None, false),
            ("BoolIfExists", &["false"], None, true),
        ],
    );
    check_rows(
        "k",
        &[
            (
                "BinaryEquals",
                &["QmluYXJ5VmFsdWVJbkJhc2U2NA=="],
                Some("QmluYXJ5VmFsdWVJbkJhc2U2NA=="),
                true,
            ),
            ("BinaryEquals", &["QQ=="], Some("Qg=="), false),
            ("BinaryEquals", &["QQ=="], Some("not base64"), false),
        ],
    );
    check_rows(
        "aws:SourceIp",
        &[
            (
                "IpAddress",
                &["203.0.113.0/24"],
                Some("203.0.113.255"),
                true,
            ),
            ("IpAddress", &["203.0.113.0/24"], Some("203.0.114.0"), false),
            ("IpAddress", &["203.0.113.7"], Some("203.0.113.7"), true),
            (
                "IpAddress",
                &["203.0.113.0/24", "2001:DB8:1234:5678::/64"],
                Some("2001:db8:1234:5678::9"),
                true,
            ),
            ("IpAddress", &["0.0.0.0/0"], Some("198.51.100.1"), true),
            ("IpAddress", &["2001:db8::/32"], Some("203.0.113.7"), false),
            // IPv4-mapped IPv6 addresses (a dual-stack socket's view of an IPv4 peer) match IPv4 ranges, and
            // mapped ranges match IPv4 addresses.
            ("IpAddress", &["10.1.0.0/16"], Some("::ffff:10.1.0.7"), true),
            (
                "IpAddress",
                &["10.1.0.0/16"],
                Some("::FFFF:10.2.0.7"),
                false,
            ),
            (
                "NotIpAddress",
                &["10.1.0.0/16"],
                Some("::ffff:10.1.0.7"),
                false,
            ),
            (
                "IpAddress",
                &["::ffff:10.1.0.0/112"],
                Some("10.1.0.7"),
                true,
            ),
            ("IpAddress", &["::ffff:10.1.0.7"], Some("10.1.0.7"), true),
            ("IpAddress", &["::ffff:0:0/96"], Some("198.51.100.1"), true),
            // A plain IPv6 range still does not match an IPv4 address.
            ("IpAddress", &["::/1"], Some("::ffff:10.1.0.7"), false),
            (
                "NotIpAddress",
                &["203.0.113.0/24"],
                Some("198.51.100.1"),
                true,
            ),
            (
                "NotIpAddress",
                &["203.0.113.0/24"],
                Some("203.0.113.1"),
                false,
            ),
            ("NotIpAddress", &["203.0.113.0/24"], None, true),
            ("IpAddress", &["203.0.113.0/24"], None, false),
        ],
    );
    check_rows(
        "aws:SourceArn",
        &[
            (
                "ArnEquals",
                &["arn:aws:sns:us-east-1:123456789012:*"],
                Some("arn:aws:sns:us-east-1:123456789012:topic"),
                true,
            ),
            (
                "ArnLike",
                &["arn:aws:iam::*:role/deploy-*"],
                Some("arn:aws:iam::123456789012:role/deploy-prod"),
                true,
            ),
            (
                "ArnLike",
                &["arn:aws:iam::*:role/deploy-*"],
                Some("arn:aws:iam::123456789012:user/deploy-prod"),
                false,
            ),
            (
                "ArnNotLike",
                &["arn:aws:iam::*:role/*"],
                Some("arn:aws:iam::123456789012:user/x"),
                true,
            ),
            (
                "ArnNotEquals",
                &["arn:aws:iam::*:role/*"],
                Some("arn:aws:iam::123456789012:role/x"),
                false,
            ),
            (
                "ArnLike",
                &["arn:aws:iam::*"],
                Some("arn:aws:iam::123456789012:role/x"),
                false,
            ),
            (
                "ArnNotLike",
                &["arn:aws:iam::*"],
                Some("arn:aws:iam::123456789012:role/x"),
                true,
            ),
            ("ArnLike", &["arn:*:*:*:*:*"], Some("not-an-arn"), false),
        ],
    );
    check_rows(
        "aws:TokenIssueTime",
        &[
            ("Null", &["true"], None, true),
            ("Null", &["true"], Some("2026-01-01T00:00:00Z"), false),
            ("Null", &["false"], Some(""), true),
            ("Null", &["false"], None, false),
        ],
    );
}

/// AWS: "There are certain cases when a string operator would match when an ARN operator would not match ...
/// `arn:aws:someservice:*:111122223333:finance/*` ... `arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt`
/// With a StringLike condition, the match succeeds ... With an ArnLike condition ... the match fails."
/// (IAMUG/reference_policies_elements_condition_operators, "Amazon Resource Name (ARN) condition operators")
#[test]
fn aws_example_arn_like_versus_string_like() {
    let pattern = ["arn:aws:someservice:*:111122223333:finance/*"];
    let value =
        "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
    let context = Context::new().with("k", value);
    assert!(condition("StringLike", "k", &pattern).evaluate(&context));
    assert!(!condition("ArnLike", "k", &pattern).evaluate(&context));
}

/// AWS: "If the key that you specify in a policy condition is not present in the request context, the values
/// do not match and the condition is false. If the policy condition requires that the key is not matched,
/// such as StringNotLike or ArnNotLike, and the right key is not present, the condition is true."
/// (IAMUG/reference_policies_elements_condition_operators, opening "Important" note)
#[test]
fn aws_example_missing_keys() {
    let empty = Context::new();
    for op in [
        "StringLike",
        "ArnLike",
        "StringEquals",
        "NumericEquals",
        "DateEquals",
        "IpAddress",
        "Bool",
        "BinaryEquals",
    ] {
        assert!(!condition(op, "k", &["x"]).evaluate(&empty), "{op}");
    }
    for op in [
        "StringNotLike",
        "ArnNotLike",
        "StringNotEquals",
        "NumericNotEquals",
        "DateNotEquals",
        "NotIpAddress",
    ] {
        assert!(condition(op, "k", &["x"]).evaluate(&empty), "{op}");
    }
}

fn dynamodb_request(action: &str, attributes: &[&str]) -> Request {
    Request {
        principal: Principal::aws("arn:aws:iam::123456789012:user/bob"),
        action: action.into(),
        context: Context::new().with("dynamodb:requestedAttributes", multi(attributes)),
    }
}

/// AWS's ForAllValues example: "The condition allows a user to request only the attributes PostDateTime,
/// Message, or Tags ... if the user's request includes the ID attribute, the request fails" and, in the
/// evaluation section, "Suppose that the user makes a request ... to get the attributes PostDateTime and
/// UserName ... There's no match for UserName, so the condition operator returns false".
/// (IAMUG/reference_policies_multi-value-conditions)
#[test]
fn aws_example_for_all_values() {
    let policy = parse(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "GetItem",
            "Resource": "arn:aws:dynamodb:REGION:ACCOUNT-ID-WITHOUT-HYPHENS:table/Thread",
            "Condition": {"ForAllValues:StringLike": {"dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]}}}]}"#,
    )
    .unwrap();
    assert_eq!(
        policy.decide(&dynamodb_request("GetItem", &["PostDateTime", "Message"])),
        Decision::Allow
    );
    assert_eq!(
        policy.decide(&dynamodb_request(
            "GetItem",
            &["PostDateTime", "Message", "ID"]
        )),
        Decision::ImplicitDeny
    );
    assert_eq!(
        policy.decide(&dynamodb_request("GetItem", &["PostDateTime", "UserName"])),
        Decision::ImplicitDeny
    );
    // "If the key values in the request resolve to an empty data set ... ForAllValues returns true".
    assert_eq!(
        policy.decide(&dynamodb_request("GetItem", &[])),
        Decision::Allow
    );
}

/// AWS's ForAnyValue example: "denies access to the ID and PostDateTime attributes if the user tries to
/// perform the PutItem action ... a request to update the PostDateTime and Message attributes ... there is
/// one match (PostDateTime), so the condition is true ... the request is denied"; "a request to perform
/// PutItem with just the UserName attribute ... The condition returns false"; the evaluation section's
/// request with UserName, Message and PostDateTime is denied.
/// (IAMUG/reference_policies_multi-value-conditions)
#[test]
fn aws_example_for_any_value() {
    let policy = parse(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "PutItem",
            "Resource": "arn:aws:dynamodb:REGION:ACCOUNT-ID-WITHOUT-HYPHENS:table/Thread",
            "Condition": {"ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}}}]}"#,
    )
    .unwrap();
    assert_eq!(
        policy.decide(&dynamodb_request("PutItem", &["PostDateTime", "Message"])),
        Decision::ExplicitDeny
    );
    assert_eq!(
        policy.decide(&dynamodb_request("PutItem", &["UserName"])),
        Decision::ImplicitDeny
    );
    assert_eq!(
        policy.decide(&dynamodb_request(
            "PutItem",
            &["UserName", "Message", "PostDateTime"]
        )),
        Decision::ExplicitDeny
    );
    // "... a condition operator modified by ForAnyValue returns false" for an empty data set.
    assert_eq!(
        policy.decide(&dynamodb_request("PutItem", &[])),
        Decision::ImplicitDeny
    );
}

/// AWS: "Example Deny a single policy condition value for a multivalued context key ... the policy denies
/// requests where the values for aws:TagKeys in the request do not include the prefix key1"
/// (`ForAllValues:StringNotLike` on `key1*`), and the Null-guarded variant `"Null": {"aws:TagKeys": "false"}`
/// with `ForAllValues:StringLike` (IAMUG/reference_policies_condition_examples-multi-valued-context-keys).
#[test]
fn aws_example_tag_keys_deny() {
    let not_like = parse(
        r#"{"Version": "2012-10-17", "Statement": [{"Sid": "DenyRestrictedTags", "Effect": "Deny",
            "Action": ["iam:Tag*", "iam:UnTag*"], "Resource": ["*"],
            "Condition": {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}}]}"#,
    )
    .unwrap();
    let tag = |keys: &[&str]| Request {
        principal: Principal::aws("arn:aws:iam::123456789012:user/bob"),
        action: "iam:TagUser".into(),
        context: Context::new().with("aws:TagKeys", multi(keys)),
    };
    assert_eq!(
        not_like.decide(&tag(&["key2", "key3"])),
        Decision::ExplicitDeny
    );
    assert_eq!(
        not_like.decide(&tag(&["key1a", "key2"])),
        Decision::ImplicitDeny
    );
    let null_guarded = parse(
        r#"{"Version": "2012-10-17", "Statement": [{"Sid": "DenyRestrictedTags", "Effect": "Deny",
            "Action": ["iam:Tag*", "iam:UnTag*"], "Resource": ["*"],
            "Condition": {"Null": {"aws:TagKeys": "false"},
                          "ForAllValues:StringLike": {"aws:TagKeys": ["key1*", "key2*", "key3*"]}}}]}"#,
    )
    .unwrap();
    assert_eq!(
        null_guarded.decide(&tag(&["key1x", "key3"])),
        Decision::ExplicitDeny
    );
    assert_eq!(
        null_guarded.decide(&tag(&["key1x", "other"])),
        Decision::ImplicitDeny
    );
    // "To prevent missing context keys or context keys with empty values from evaluating to true, include
    // the Null condition operator": an empty list does not satisfy Null false.
    assert_eq!(null_guarded.decide(&tag(&[])), Decision::ImplicitDeny);
}

/// AWS's IfExists example: `StringLikeIfExists` on `ec2:InstanceType` "t1.*", "t2.*", "m3.*": "If the
/// resource being checked has an ec2:InstanceType condition key, then allow the action only if the key value
/// begins with t1., t2., or m3. ... If the resource being checked does not have that condition key, then don't
/// worry about it." (IAMUG/reference_policies_elements_condition_operators, "...IfExists")
#[test]
fn aws_example_if_exists() {
    let c = condition(
        "StringLikeIfExists",
        "ec2:InstanceType",
        &["t1.*", "t2.*", "m3.*"],
    );
    assert!(c.evaluate(&Context::new().with("ec2:InstanceType", "t2.micro")));
    assert!(!c.evaluate(&Context::new().with("ec2:InstanceType", "c5.large")));
    assert!(c.evaluate(&Context::new()));
    let without = condition("StringLike", "ec2:InstanceType", &["t1.*", "t2.*", "m3.*"]);
    assert!(
        !without.evaluate(&Context::new()),
        "THISPOLICYDOESNOTWORK: the plain operator fails without the key"
    );
}

/// AWS's home-directory example: `StringLike` on `s3:prefix` with ["", "home/", "home/${aws:username}/"]
/// (IAMUG/reference_policies_elements_condition_operators, "String condition operators").
#[test]
fn aws_example_string_like_with_policy_variable() {
    let c = condition(
        "StringLike",
        "s3:prefix",
        &["", "home/", "home/${aws:username}/"],
    );
    let with = |prefix: &str| {
        Context::new()
            .with("aws:username", "alice")
            .with("s3:prefix", prefix)
    };
    assert!(c.evaluate(&with("home/alice/")));
    assert!(c.evaluate(&with("")));
    assert!(!c.evaluate(&with("home/bob/")));
    // Version 2008-10-17 keeps `${...}` literal.
    let old = Condition::new(
        Operator::parse("StringLike").unwrap(),
        "StringLike".into(),
        "s3:prefix".into(),
        vec!["home/${aws:username}/".into()],
        false,
    );
    assert!(!old.evaluate(&with("home/alice/")));
    assert!(old.evaluate(&with("home/${aws:username}/")));
}

#[test]
fn multivalued_keys_need_a_set_operator() {
    let context = Context::new().with("aws:TagKeys", multi(&["a", "b"]));
    // "Multivalued context keys require a condition set operator": without one nothing matches.
    assert!(!condition("StringEquals", "aws:TagKeys", &["a"]).evaluate(&context));
    assert!(!condition("StringNotEquals", "aws:TagKeys", &["c"]).evaluate(&context));
    assert!(condition("ForAnyValue:StringEquals", "aws:TagKeys", &["a"]).evaluate(&context));
    assert!(!condition("ForAllValues:StringEquals", "aws:TagKeys", &["a"]).evaluate(&context));
    assert!(
        condition("ForAllValues:StringEquals", "aws:TagKeys", &["a", "b", "c"]).evaluate(&context)
    );
    assert!(condition("ForAnyValue:StringNotEquals", "aws:TagKeys", &["a"]).evaluate(&context));
    assert!(!condition("ForAllValues:StringNotEquals", "aws:TagKeys", &["a"]).evaluate(&context));
    // Missing keys: ForAnyValue false (even with IfExists), ForAllValues true.
    let empty = Context::new();
    assert!(!condition("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", &["a"]).evaluate(&empty));
    assert!(!condition("ForAnyValue:StringNotEquals", "aws:TagKeys", &["a"]).evaluate(&empty));
    assert!(condition("ForAllValues:StringEquals", "aws:TagKeys", &["a"]).evaluate(&empty));
    // A set operator on a single value treats it as a one-element set.
    assert!(
        condition("ForAnyValue:IpAddress", "aws:SourceIp", &["10.0.0.0/8"])
            .evaluate(&Context::new().with("aws:SourceIp", "10.1.1.1"))
    );
}

#[test]
fn policy_variables() {
    let ctx = Context::new()
        .with("aws:username", "alice")
        .with("k", "alice")
        .with("list", multi(&["alice"]));
    assert!(condition("StringEquals", "k", &["${aws:username}"]).evaluate(&ctx));
    assert!(
        condition("StringEquals", "k", &["${AWS:USERNAME}"]).evaluate(&ctx),
        "variable keys are case-insensitive"
    );
    assert!(condition("StringEquals", "k", &["${missing, 'alice'}"]).evaluate(&ctx));
    assert!(!condition("StringEquals", "k", &["${missing}"]).evaluate(&ctx));
    // A negated operator cannot prove "matches none" when a value is unresolvable.
    assert!(!condition("StringNotEquals", "k", &["${missing}"]).evaluate(&ctx));
    // "You cannot use a multivalued context key as a policy variable".
    assert!(!condition("StringEquals", "k", &["${list}"]).evaluate(&ctx));
    assert!(condition("StringEquals", "k", &["${list, 'alice'}"]).evaluate(&ctx));
    // Special characters are literal, also in StringEquals.
    let star = Context::new().with("k", "a*");
    assert!(condition("StringEquals", "k", &["a${*}"]).evaluate(&star));
    assert!(condition("StringLike", "k", &["a${*}"]).evaluate(&star));
    assert!(!condition("StringLike", "k", &["a${*}"]).evaluate(&Context::new().with("k", "ab")));
    // Variables are not substituted in Numeric operators.
    assert!(
        !condition("NumericEquals", "n", &["${aws:username}"])
            .evaluate(&Context::new().with("n", "1"))
    );
    // ARN operators substitute variables in any component.
    let arn = Context::new()
        .with("acct", "123456789012")
        .with("aws:SourceArn", "arn:aws:iam::123456789012:role/x");
    assert!(condition("ArnLike", "aws:SourceArn", &["arn:aws:iam::${acct}:role/*"]).evaluate(&arn));
}
