//! `trust-policy-size`: a trust policy over IAM's 2048-character quota (whitespace not counted).

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

impl Rule for TrustPolicySize {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        // CloudFormation sends the JSON form of the document; measure that, not the YAML.
        let json = serde_json::to_string(&policy.node.to_json()).unwrap_or_default();
        let size = keyless_iam::size_excluding_whitespace(&json);
        let quota = keyless_iam::TRUST_POLICY_SIZE_QUOTA;
        if size > quota {
            let mut f = self
                .finding()
                .message(format!("trust policy is {size} characters without whitespace; IAM's default quota is {quota}"))
                .label("too large for the default quota")
                .help("shorten or split it, or raise the quota (max 4096)");
            f = if policy.route.is_root() {
                f.at(policy.route.key("Statement"))
            } else {
                f.at_key(policy.route.clone())
            };
            if size > 4096 {
                f = f.severity(Severity::High).message(format!("trust policy is {size} characters without whitespace; even the raised quota is 4096"));
            }
            out.push(f);
        }
    }
}
