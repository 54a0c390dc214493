//! `trust-policy-size`: a trust policy over IAM's 2048-character quota (whitespace not counted). Reported from
//! `keyless-iam`'s validation registry (code `trust-policy-too-large`), through the one adapter, measured on the
//! JSON IAM receives (a CloudFormation template's resolved document, not its YAML).

use super::prelude::*;

pub struct TrustPolicySize;

static META: RuleMeta = RuleMeta {
    id: "trust-policy-size",
    summary: "the trust policy is larger than IAM's default quota",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "IAM rejects trust policies over 2048 characters (whitespace not counted) unless the account's quota was \
          raised (up to 4096). Long IP allow-lists and per-branch subject lists hit this; the deploy then fails late.",
    fix: "Shorten the policy (one StringLike pattern per environment instead of lists), split roles per environment, \
          or request a quota increase.",
    autofix: false,
};

/// The quota an account can raise trust policies to (IAMUG/reference_iam-quotas).
const RAISED_QUOTA: usize = 4096;

impl Rule for TrustPolicySize {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        for (_, mut finding) in validation::findings(policy, &META) {
            let size = keyless_iam::size_excluding_whitespace(&policy.doc.to_json_text());
            if size > RAISED_QUOTA {
                finding = finding.severity(Severity::High).message(format!(
                    "trust policy is {size} characters without whitespace; even the raised quota is {RAISED_QUOTA}"
                ));
            }
            out.push(finding.label("too large for the default quota"));
        }
    }
}
