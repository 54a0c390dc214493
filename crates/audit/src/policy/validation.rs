//! The one adapter from `keyless-iam`'s validation registry ([`keyless_iam::Code`]) to audit findings: the resolved
//! document is validated exactly as `keyless policy validate` validates a file, each diagnostic's JSON pointer is
//! turned back into the place the user wrote it, and each code is reported under one audit rule, at the
//! severity the registry gives it ([`keyless_iam::Level`]).
//!
//! | codes | audit rule |
//! |---|---|
//! | `wildcard-without-like` | `wildcard-in-equals` |
//! | `key-with-scheme` | `https-in-condition-key` |
//! | `trust-policy-too-large` | `trust-policy-size` |
//! | `set-operator-on-single-valued-key`, `for-all-values-in-allow`, `sub-only-set-operators` | `set-operator-on-single-valued-key` |
//! | `oidc-without-condition` | `oidc-trust-without-condition` |
//! | `source-ip-private-range`, `source-ip-documentation-range` | `source-ip-private-range` |
//! | `source-ip-with-vpc-key` | `source-ip-with-vpc-key` |
//! | `invalid-federated-principal`, `federated-principal-not-a-provider`, `wildcard-federated-principal` | `invalid-federated-principal` |
//! | every other error (IAM rejects the document), and JSON IAM cannot read | `invalid-trust-policy` |
//! | every other warning | `trust-policy-warning` |

use keyless_iam::{Code, Level, PolicyKind, Severity as IamSeverity};

use super::TrustPolicy;
use super::value::{At, RNode, RValue};
use crate::finding::{Persona, Severity};
use crate::rule::{RuleMeta, Sink};

/// A validation diagnostic at the place the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// `None`: the document is not one IAM can read (a value of the wrong JSON type).
    pub code: Option<Code>,
    pub severity: IamSeverity,
    pub level: Level,
    pub message: String,
    pub at: At,
}

/// Codes whose verdict depends on a value: they are not reported on a value known only at deployment.
const VALUE_CODES: [Code; 6] = [
    Code::InvalidFederatedPrincipal,
    Code::FederatedPrincipalNotAProvider,
    Code::InvalidConditionValue,
    Code::KeyWithScheme,
    Code::InvalidCharacter,
    Code::WildcardFederatedPrincipal,
];

/// True when a node or anything in it is known only at deployment.
fn has_holes(node: &RNode) -> bool {
    match &node.value {
        RValue::Unknown(_) => true,
        RValue::String(t) => t.holes,
        RValue::Seq(items) => items.iter().any(has_holes),
        RValue::Map(entries) => entries.iter().any(|e| e.key_holes || has_holes(&e.value)),
        _ => false,
    }
}

/// Validates a resolved trust policy document like `keyless policy validate --kind trust`.
pub fn validate(doc: &RNode) -> Vec<Located> {
    if doc.unknown_ref().is_some() {
        return Vec::new();
    }
    let text = doc.to_json_text();
    let policy = match keyless_iam::parse(&text) {
        Ok(policy) => policy,
        Err(error) => {
            let Some((node, key_at)) = doc.at_pointer(&error.pointer) else {
                return Vec::new();
            };
            if has_holes(node) {
                return Vec::new();
            }
            return vec![Located {
                code: None,
                severity: IamSeverity::Error,
                level: Level::High,
                message: format!("IAM cannot read the policy: {}", error.message),
                at: key_at.cloned().unwrap_or_else(|| node.at.clone()),
            }];
        }
    };
    let mut out = Vec::new();
    for d in policy.validate(PolicyKind::Trust) {
        let Some((node, key_at)) = doc.at_pointer(&d.pointer) else {
            continue;
        };
        if VALUE_CODES.contains(&d.code) && has_holes(node) {
            continue;
        }
        // The size of a document with deployment-time values is a guess: report it only when the known parts
        // alone are over the quota.
        if d.code == Code::TrustPolicyTooLarge && has_holes(doc) {
            continue;
        }
        // Whole-document diagnostics (the size) point at `Statement`, not at the whole file.
        let at = match (d.pointer.is_empty(), doc.entry("Statement")) {
            (true, Some(statement)) => statement.key_at.clone(),
            _ => key_at.cloned().unwrap_or_else(|| node.at.clone()),
        };
        out.push(Located {
            code: Some(d.code),
            severity: d.severity,
            level: d.level,
            message: d.message,
            at,
        });
    }
    out
}

/// The audit rule a validation code is reported under (see the module table).
pub fn rule_for(code: Option<Code>) -> &'static str {
    let Some(code) = code else {
        return "invalid-trust-policy";
    };
    match code {
        Code::WildcardWithoutLike => "wildcard-in-equals",
        Code::KeyWithScheme => "https-in-condition-key",
        Code::TrustPolicyTooLarge => "trust-policy-size",
        Code::SetOperatorOnSingleValuedKey
        | Code::ForAllValuesInAllow
        | Code::SubOnlySetOperators => "set-operator-on-single-valued-key",
        Code::OidcWithoutCondition => "oidc-trust-without-condition",
        Code::SourceIpPrivateRange | Code::SourceIpDocumentationRange => "source-ip-private-range",
        Code::SourceIpWithVpcKey => "source-ip-with-vpc-key",
        Code::InvalidFederatedPrincipal
        | Code::FederatedPrincipalNotAProvider
        | Code::WildcardFederatedPrincipal => "invalid-federated-principal",
        other if other.severity() == IamSeverity::Error => "invalid-trust-policy",
        _ => "trust-policy-warning",
    }
}

/// The audit severity of a registry level.
pub fn severity(level: Level) -> Severity {
    match level {
        Level::Info => Severity::Info,
        Level::Low => Severity::Low,
        Level::Medium => Severity::Medium,
        Level::High => Severity::High,
    }
}

/// Reports the policy's diagnostics that belong to the rule `meta`, each at its registry level, labelled with its
/// code.
pub fn report(policy: &TrustPolicy<'_>, meta: &'static RuleMeta, out: &mut Sink) {
    for (_, finding) in findings(policy, meta) {
        out.push(finding);
    }
}

/// The findings [`report`] pushes, each with its diagnostic (for a rule that adds to them).
pub fn findings<'p>(
    policy: &'p TrustPolicy<'_>,
    meta: &'static RuleMeta,
) -> Vec<(&'p Located, crate::finding::FindingBuilder)> {
    let mut out = Vec::new();
    for d in &policy.diagnostics {
        if rule_for(d.code) != meta.id {
            continue;
        }
        let label = match d.code {
            Some(code) => code.id().to_owned(),
            None => "IAM cannot read this".to_owned(),
        };
        let mut finding = crate::finding::FindingBuilder::new(meta)
            .message(d.message.clone())
            .severity(severity(d.level))
            .label(label)
            .at_loc(&d.at);
        if let Some(code) = d.code {
            finding = finding.help(code.description());
        }
        if d.level == Level::Info {
            finding = finding.persona(Persona::Pedantic);
        }
        out.push((d, finding));
    }
    out
}
