//! `keyless policy eval`'s answer as one value: the decision on a request file ([`Verdict::of_request`]) or STS's
//! decision on a token's claims ([`Verdict::of_token`], through [`crate::sts::decide`]), with the traced evaluation
//! of each request and, for a token, the extra actions it needs (`sts:TagSession`, `sts:SetSourceIdentity`). The
//! CLI parses arguments, asks for the verdict and renders it.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::sts::{self, Rejection, RequestContext};
use crate::{Decision, Evaluation, PolicyDocument, Request, StatementTrace, web_identity};

/// How the policy answers a request, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The answer: the policy's on a request; STS's (as a policy decision) on a token.
    pub decision: Decision,
    /// One paragraph a person understands.
    pub explanation: String,
    /// The main request's evaluation first, then each extra action's.
    pub evaluations: Vec<Evaluation>,
    /// `Some` with a token: STS's refusal, or `None` inside when it accepts.
    pub rejection: Option<Option<Rejection>>,
    /// The audience STS matched (tokens only).
    pub audience: Option<String>,
    /// What the answer relied on that a reader should know.
    pub notes: Vec<String>,
}

/// One action the token needs beyond `sts:AssumeRoleWithWebIdentity`, and how the policy answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtraAction {
    pub action: String,
    /// Why the token needs it.
    pub reason: &'static str,
    pub decision: Decision,
    pub explanation: String,
}

impl Verdict {
    /// The policy's decision on `request`.
    pub fn of_request(policy: &PolicyDocument, request: &Request) -> Self {
        let evaluation = policy.evaluate(request);
        Self {
            decision: evaluation.decision,
            explanation: evaluation.explain(),
            evaluations: vec![evaluation],
            rejection: None,
            audience: None,
            notes: Vec::new(),
        }
    }

    /// STS's decision on a token's `claims` for a role with trust policy `policy`, `providers` being the account's
    /// OIDC providers. `assumed` is a fact the caller filled in itself (e.g. the provider's client IDs it took to
    /// be the workspace audience): it comes first among the notes and closes the explanation.
    pub fn of_token(
        providers: &[sts::Provider],
        policy: &PolicyDocument,
        claims: &Map<String, Value>,
        context: &RequestContext<'_>,
        assumed: Option<String>,
    ) -> Self {
        let decision = sts::decide(providers, policy, claims, context);
        let mut explanation = decision.explain(policy);
        if let Some(note) = &assumed {
            explanation = format!("{explanation}\nnote: {note}");
        }
        Self {
            decision: decision.verdict(),
            explanation,
            evaluations: decision.evaluations(policy),
            rejection: Some(decision.rejection.clone()),
            audience: decision.audience.clone(),
            notes: assumed.into_iter().chain(decision.notes).collect(),
        }
    }

    /// The main request's statement traces (empty when no request could be built).
    pub fn statements(&self) -> &[StatementTrace] {
        self.evaluations
            .first()
            .map_or(&[][..], |e| e.statements.as_slice())
    }

    /// The extra actions, each with the policy's answer.
    pub fn additional_actions(&self) -> Vec<ExtraAction> {
        self.evaluations
            .iter()
            .skip(1)
            .map(|e| ExtraAction {
                action: e.action.clone(),
                reason: if e.action == web_identity::TAG_SESSION {
                    "the token carries session tags (https://aws.amazon.com/tags)"
                } else {
                    "the token carries a source identity (https://aws.amazon.com/source_identity)"
                },
                decision: e.decision,
                explanation: e.explain(),
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::arn::ProviderArn;
    use serde_json::json;

    const URL: &str = "example.com";

    fn policy() -> PolicyDocument {
        crate::parse(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/example.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {"example.com:sub": "ci-main"}}}]}"#,
        )
        .unwrap()
    }

    fn token(claims: Value, assumed: Option<String>) -> Verdict {
        let arn =
            ProviderArn::parse(&format!("arn:aws:iam::123456789012:oidc-provider/{URL}")).unwrap();
        let providers = [sts::Provider::new(arn, Some(vec!["client".into()]))];
        let now = time::OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        Verdict::of_token(
            &providers,
            &policy(),
            claims.as_object().unwrap(),
            &RequestContext::new(now),
            assumed,
        )
    }

    #[test]
    fn a_token_sts_accepts_is_allowed_with_its_audience() {
        let claims = json!({"iss": "https://example.com", "aud": "client", "sub": "ci-main", "exp": 2_000_000_000});
        let verdict = token(claims, None);
        assert_eq!(verdict.decision, Decision::Allow);
        assert_eq!(verdict.rejection, Some(None));
        assert_eq!(verdict.audience.as_deref(), Some("client"));
        assert!(
            verdict.explanation.starts_with("ALLOW: statement 0"),
            "{}",
            verdict.explanation
        );
        assert_eq!(verdict.statements().len(), 1);
        assert!(verdict.additional_actions().is_empty());
    }

    #[test]
    fn the_callers_assumption_leads_the_notes_and_closes_the_explanation() {
        let claims = json!({"iss": "https://example.com", "aud": "client", "sub": "ci-other", "exp": 2_000_000_000});
        let verdict = token(claims, Some("assumed the client IDs".to_owned()));
        assert_eq!(verdict.decision, Decision::ImplicitDeny);
        assert!(verdict.rejection.as_ref().unwrap().is_some());
        assert_eq!(
            verdict.notes.first().map(String::as_str),
            Some("assumed the client IDs")
        );
        assert!(
            verdict
                .explanation
                .ends_with("\nnote: assumed the client IDs"),
            "{}",
            verdict.explanation
        );
    }

    #[test]
    fn session_tags_are_an_extra_action_with_the_reason() {
        let claims = json!({"iss": "https://example.com", "aud": "client", "sub": "ci-main", "exp": 2_000_000_000,
            "https://aws.amazon.com/tags": {"principal_tags": {"team": ["web"]}}});
        let verdict = token(claims, None);
        let extra = verdict.additional_actions();
        assert_eq!(extra.len(), 1, "{extra:?}");
        assert_eq!(extra[0].action, web_identity::TAG_SESSION);
        assert!(extra[0].reason.contains("session tags"));
        // The policy allows only sts:AssumeRoleWithWebIdentity, so STS refuses the tags.
        assert_ne!(verdict.decision, Decision::Allow);
    }
}
