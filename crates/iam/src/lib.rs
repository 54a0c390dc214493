//! IAM policy documents: parsing with source locations, validation like IAM, and evaluation that answers
//! exactly like AWS. Pure: no I/O, no clock, no randomness.
//!
//! ```
//! use keyless_iam::{parse, Context, Decision, Principal, Request};
//!
//! let policy = parse(r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
//!     "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/example.com"},
//!     "Action": "sts:AssumeRoleWithWebIdentity",
//!     "Condition": {"StringLike": {"example.com:sub": "repo:*"}}}}"#).unwrap();
//! let request = Request {
//!     principal: Principal::federated("arn:aws:iam::123456789012:oidc-provider/example.com"),
//!     action: "sts:AssumeRoleWithWebIdentity".into(),
//!     context: Context::new().with("example.com:sub", "repo:main"),
//! };
//! assert_eq!(policy.decide(&request), Decision::Allow);
//! assert_eq!(policy.evaluate(&request).decision, Decision::Allow);
//! ```

pub mod actions;
pub mod arn;
pub mod condition;
pub mod duration;
mod error;
mod evaluate;
pub mod json;
pub mod network;
mod policy;
pub mod privilege;
pub mod record;
mod request;
pub mod sts;
pub mod tag;
mod validate;
pub mod verdict;
pub mod web_identity;

pub use condition::{BaseOperator, Condition, Operator, SetOperator};
pub use error::ParseError;
pub use evaluate::{
    ConditionTrace, Decision, ElementTrace, Evaluation, StatementTrace, resource_matches,
};
pub use policy::{
    ActionPattern, ActionSet, Effect, LocatedCondition, PolicyDocument, PrincipalEntry,
    PrincipalSet, SourceLocation, Statement, UnknownOperator, parse,
};
pub use request::{Context, ContextValue, Principal, PrincipalType, Request};
pub use validate::{Code, Diagnostic, Level, PolicyKind, Severity, TRUST_POLICY_SIZE_QUOTA};

/// The size IAM counts against the trust-policy quota: characters, not counting whitespace.
pub fn size_excluding_whitespace(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}
