//! IAM's policy validation on CreateRole/UpdateAssumeRolePolicy/PutRolePolicy, and the parsed-policy cache the STS
//! actions decide with. AssumeRoleWithWebIdentity's decision is `keyless_iam::sts::decide`, the one `check`,
//! `doctor`, `assume` and `policy eval` ask too, so they can never disagree with the emulator.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use keyless_iam::{Code, PolicyDocument, PolicyKind, Severity, TRUST_POLICY_SIZE_QUOTA};

use crate::error::AwsError;

fn parse(text: &str) -> Result<PolicyDocument, AwsError> {
    keyless_iam::parse(text).map_err(|error| {
        AwsError::malformed_policy(format!(
            "Syntax errors in policy. {} (line {}, column {})",
            error.message, error.line, error.column
        ))
    })
}

fn first_error(doc: &PolicyDocument, kind: PolicyKind, skip: &[Code]) -> Result<(), AwsError> {
    match doc
        .validate(kind)
        .into_iter()
        .find(|d| d.severity == Severity::Error && !skip.contains(&d.code))
    {
        None => Ok(()),
        Some(d) => Err(AwsError::malformed_policy(format!(
            "{} (line {}, column {})",
            d.message, d.line, d.column
        ))),
    }
}

/// What IAM checks when a trust policy is set: the size quota (`LimitExceeded`, IAM's own text), then syntax
/// and the trust-policy rules (`MalformedPolicyDocument`).
pub fn check_trust_policy(text: &str) -> Result<(), AwsError> {
    let size = keyless_iam::size_excluding_whitespace(text);
    if size > TRUST_POLICY_SIZE_QUOTA {
        return Err(AwsError::limit_exceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE_QUOTA}"
        )));
    }
    let doc = parse(text)?;
    first_error(&doc, PolicyKind::Trust, &[Code::TrustPolicyTooLarge])
}

/// What IAM checks on an inline permissions policy.
pub fn check_permission_policy(text: &str) -> Result<(), AwsError> {
    let doc = parse(text)?;
    first_error(&doc, PolicyKind::Identity, &[])
}

/// Parsed stored trust policies, keyed by their text, so that a busy role is not re-parsed on every call.
#[derive(Default)]
pub struct PolicyCache {
    parsed: RwLock<HashMap<String, Arc<PolicyDocument>>>,
}

/// Policies kept before the cache starts over (roles are few; this only bounds memory under policy churn).
const CACHE_LIMIT: usize = 1024;

impl PolicyCache {
    /// The parsed policy. Stored policies passed [`check_trust_policy`], so `None` means the state file was
    /// edited by hand; such a policy allows nothing.
    pub fn get(&self, text: &str) -> Option<Arc<PolicyDocument>> {
        if let Some(doc) = crate::read_lock(&self.parsed).get(text) {
            return Some(doc.clone());
        }
        let doc = Arc::new(keyless_iam::parse(text).ok()?);
        let mut parsed = crate::write_lock(&self.parsed);
        if parsed.len() >= CACHE_LIMIT {
            parsed.clear();
        }
        parsed.insert(text.to_owned(), doc.clone());
        Some(doc)
    }
}
