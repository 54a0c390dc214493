//! THE trust decision: would STS accept this token for this role, and why not. One function, [`decide`], asked by
//! the emulator, `keyless check`, `keyless policy eval`, `doctor`'s offline check and `assume`'s error
//! explanation, so that they can never disagree.
//!
//! It takes already-decoded claims: signature verification stays in `keyless-oidc` (the emulator verifies the
//! signature after the provider and audience stages, as AWS needs the provider to know where the keys are). The
//! stages run in AWS's precedence (aws.md §2):
//!
//! 1. **provider**: `iss` must be the URL of an IAM OIDC provider in the role's account →
//!    `InvalidIdentityToken: No OpenIDConnect provider found in your account for <iss>`;
//! 2. **audience**: one of the token's audiences must be a client ID of that provider →
//!    `InvalidIdentityToken: Incorrect token audience` (`Missing a required claim: aud` without one);
//! 3. **token**: `exp` in the future (`ExpiredTokenException`), `sub` present;
//! 4. **trust**: the role's trust policy allows `sts:AssumeRoleWithWebIdentity` (and `sts:TagSession` /
//!    `sts:SetSourceIdentity` when the token carries session tags or a source identity) →
//!    `AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity`.
//!
//! **Audience arrays** (Bitbucket appends custom audiences to the workspace audience) are decided here, one way:
//! the audience stage takes the first of the token's audiences, in token order, that is a client ID of the
//! provider; STS reports that value as `Audience`, and `<provider>:aud` holds that same value, so the condition
//! key and the audience check always agree. AWS does not document which value it puts in the key for an array
//! (UNCONFIRMED, docs/iam-divergences.md); the matched client ID is the only value both checks can agree on.

use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::arn::ProviderArn;
use crate::evaluate::{Decision as PolicyDecision, Evaluation};
use crate::policy::PolicyDocument;
use crate::request::Request;
use crate::web_identity::{self, WebIdentityInput};

/// `AccessDenied`'s message for the web-identity call, verbatim from AWS (aws.md §1.4).
pub const NOT_AUTHORIZED: &str = "Not authorized to perform sts:AssumeRoleWithWebIdentity";

/// An IAM OIDC identity provider as IAM holds it: its ARN (account + URL) and its client IDs (audiences).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub arn: ProviderArn,
    /// The provider's `ClientIDList`; `None` when unknown (e.g. `policy eval` without `--client-id` for a
    /// non-Bitbucket issuer): the audience stage is then skipped and the decision says so.
    pub client_ids: Option<Vec<String>>,
}

impl Provider {
    pub fn new(arn: ProviderArn, client_ids: Option<Vec<String>>) -> Self {
        Provider { arn, client_ids }
    }
}

pub use crate::network::{Network, VpcPath};

/// Everything about the call that is not in the token: the time, the session name, the network path.
///
/// ```
/// use keyless_iam::sts::RequestContext;
/// let context = RequestContext::new(time::OffsetDateTime::UNIX_EPOCH)
///     .role_session_name("deploy")
///     .source_ip("203.0.113.7".parse().unwrap());
/// assert_eq!(context.role_session_name, Some("deploy"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RequestContext<'a> {
    /// The time of the call (`aws:CurrentTime`, `aws:EpochTime`, the expiry check).
    pub now: OffsetDateTime,
    /// `RoleSessionName` (`sts:RoleSessionName`).
    pub role_session_name: Option<&'a str>,
    pub network: Network,
}

impl<'a> RequestContext<'a> {
    pub fn new(now: OffsetDateTime) -> Self {
        RequestContext {
            now,
            role_session_name: None,
            network: Network::Unspecified,
        }
    }

    #[must_use]
    pub fn role_session_name(mut self, name: &'a str) -> Self {
        self.role_session_name = Some(name);
        self
    }

    /// The call arrives over the public internet from `ip` (`aws:SourceIp`).
    #[must_use]
    pub fn source_ip(mut self, ip: IpAddr) -> Self {
        self.network = Network::Internet { source_ip: ip };
        self
    }

    /// The call arrives through an STS interface VPC endpoint (`aws:SourceVpce`, `aws:SourceVpc`,
    /// `aws:SourceVpcArn`, `aws:VpcSourceIp`; no `aws:SourceIp`).
    #[must_use]
    pub fn vpc(mut self, path: VpcPath) -> Self {
        self.network = Network::Vpc(path);
        self
    }

    #[must_use]
    pub fn network(mut self, network: Network) -> Self {
        self.network = network;
        self
    }
}

/// Which check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Provider,
    Audience,
    Token,
    Trust,
}

/// STS's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorCode {
    InvalidIdentityToken,
    /// The wire code really ends in `Exception` (aws.md §1.4).
    ExpiredTokenException,
    AccessDenied,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidIdentityToken => "InvalidIdentityToken",
            ErrorCode::ExpiredTokenException => "ExpiredTokenException",
            ErrorCode::AccessDenied => "AccessDenied",
        }
    }
}

/// Why STS refuses: the stage, AWS's code and AWS's message, and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub stage: Stage,
    pub code: ErrorCode,
    /// The message STS answers with (verbatim where AWS's text is known, aws.md §1.4).
    pub message: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// STS's answer, with what it was based on.
#[derive(Debug, Clone)]
pub struct Decision {
    /// `None`: STS issues credentials.
    pub rejection: Option<Rejection>,
    /// The provider that `iss` named (or, when none did and only one was given, that one: the trust policy is
    /// still evaluated against it so the answer can say what the policy itself would do).
    pub provider: Option<ProviderArn>,
    /// The audience STS matched (what it reports as `Audience`, and the value of `<provider>:aud`).
    pub audience: Option<String>,
    /// The requests the trust policy is asked: `sts:AssumeRoleWithWebIdentity` first, then each extra action the
    /// token needs. Empty when no request could be built.
    pub requests: Vec<Request>,
    /// The trust policy's answer for each request, in the same order.
    pub policy_decisions: Vec<PolicyDecision>,
    /// Facts the decision relied on that a reader should know (audience arrays, unknown client IDs).
    pub notes: Vec<String>,
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        self.rejection.is_none()
    }

    /// The trust policy's own answer (all requests allowed), whatever the earlier stages said; `None` when it
    /// could not be asked.
    pub fn policy_allows(&self) -> Option<bool> {
        (!self.policy_decisions.is_empty())
            .then(|| self.policy_decisions.iter().all(|d| d.is_allow()))
    }

    /// STS's answer as a policy decision: `Allow` when it issues credentials; when the trust policy refused, the
    /// policy's own decision on the first request it did not allow (explicit or implicit deny); when STS refused
    /// before asking the policy (provider, audience, expiry), `ImplicitDeny`: nothing allowed the call.
    pub fn verdict(&self) -> PolicyDecision {
        match &self.rejection {
            None => PolicyDecision::Allow,
            Some(rejection) if rejection.stage == Stage::Trust => self
                .policy_decisions
                .iter()
                .copied()
                .find(|d| !d.is_allow())
                .unwrap_or(PolicyDecision::ImplicitDeny),
            Some(_) => PolicyDecision::ImplicitDeny,
        }
    }

    /// The traced evaluation of each request (same order as [`Decision::requests`]).
    pub fn evaluations(&self, policy: &PolicyDocument) -> Vec<Evaluation> {
        self.requests.iter().map(|r| policy.evaluate(r)).collect()
    }

    /// One paragraph: the verdict with STS's code and message, why, and the notes.
    pub fn explain(&self, policy: &PolicyDocument) -> String {
        let evaluations = self.evaluations(policy);
        let mut out = match &self.rejection {
            None => evaluations
                .first()
                .map_or_else(|| "ALLOW".to_owned(), Evaluation::explain),
            // The trust policy's own words, as `policy eval` has always said them.
            Some(rejection) if rejection.stage == Stage::Trust => {
                match self.policy_decisions.iter().position(|d| !d.is_allow()) {
                    Some(0) => evaluations[0].explain(),
                    _ => format!("DENY: {}", rejection.reason),
                }
            }
            Some(rejection) => {
                let mut out = format!(
                    "DENY ({}: {}): {}",
                    rejection.code.as_str(),
                    rejection.message,
                    rejection.reason
                );
                match self.policy_allows() {
                    Some(true) => out.push_str(
                        " (the trust policy itself would allow the token: STS rejects it before evaluating it)",
                    ),
                    Some(false) => {
                        let _ = write!(
                            out,
                            " (and the trust policy would not allow it either: {})",
                            evaluations
                                .iter()
                                .find(|e| !e.decision.is_allow())
                                .map(|e| strip_verdict(&e.explain()).to_owned())
                                .unwrap_or_default()
                        );
                    }
                    None => {}
                }
                out
            }
        };
        for note in &self.notes {
            let _ = write!(out, "\nnote: {note}");
        }
        out
    }
}

fn strip_verdict(explanation: &str) -> &str {
    explanation
        .split_once(": ")
        .map_or(explanation, |(_, rest)| rest)
}

/// The token's audiences: a string, or an array of strings (non-strings are a type error).
fn audiences(claims: &Map<String, Value>) -> Result<Vec<&str>, &'static str> {
    match claims.get("aud") {
        None => Ok(Vec::new()),
        Some(Value::String(aud)) => Ok(vec![aud.as_str()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or("an array with a non-string element"))
            .collect(),
        Some(_) => Err("neither a string nor an array of strings"),
    }
}

/// `Token expired: ...`, AWS's text as observed (no space before the expiry; aws.md §1.4).
pub fn expired_message(now: i64, exp: i64) -> String {
    format!("Token expired: current date/time {now} must be before the expiration date/time{exp}")
}

/// Would STS accept this token for a role with this trust policy? `providers` are the IAM OIDC providers of the
/// role's account; `claims` the token's decoded payload. Pure: the time comes from `request`.
///
/// ```
/// use keyless_iam::arn::ProviderArn;
/// use keyless_iam::sts::{self, Provider, RequestContext, Stage};
/// let arn = ProviderArn::parse("arn:aws:iam::123456789012:oidc-provider/example.com").unwrap();
/// let providers = [Provider::new(arn, Some(vec!["client".into()]))];
/// let policy = keyless_iam::parse(r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
///     "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/example.com"},
///     "Action": "sts:AssumeRoleWithWebIdentity",
///     "Condition": {"StringEquals": {"example.com:sub": "ci-main"}}}}"#).unwrap();
/// let claims = serde_json::json!({"iss": "https://example.com", "aud": "client", "sub": "ci-main", "exp": 2000000000});
/// let now = time::OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
/// let decision = sts::decide(&providers, &policy, claims.as_object().unwrap(), &RequestContext::new(now));
/// assert!(decision.is_allow());
/// let other = serde_json::json!({"iss": "https://other.example", "aud": "client", "sub": "ci-main", "exp": 2000000000});
/// let decision = sts::decide(&providers, &policy, other.as_object().unwrap(), &RequestContext::new(now));
/// assert_eq!(decision.rejection.unwrap().stage, Stage::Provider);
/// ```
pub fn decide(
    providers: &[Provider],
    policy: &PolicyDocument,
    claims: &Map<String, Value>,
    request: &RequestContext<'_>,
) -> Decision {
    let mut decision = Decision {
        rejection: None,
        provider: None,
        audience: None,
        requests: Vec::new(),
        policy_decisions: Vec::new(),
        notes: Vec::new(),
    };
    let invalid = |stage: Stage, message: &str, reason: String| Rejection {
        stage,
        code: ErrorCode::InvalidIdentityToken,
        message: message.to_owned(),
        reason,
    };

    // 1. Provider lookup by `iss`: exact, case-sensitive, without the scheme (aws.md §2 step 2).
    let provider = match claims.get("iss") {
        None => {
            decision.rejection = Some(invalid(
                Stage::Provider,
                "Missing a required claim: iss",
                "the token has no `iss` claim, so STS cannot find its identity provider".to_owned(),
            ));
            None
        }
        Some(Value::String(iss)) => {
            let found = iss
                .strip_prefix("https://")
                .and_then(|url| providers.iter().find(|p| p.arn.url() == url));
            if found.is_none() {
                let known: Vec<String> = providers.iter().map(|p| p.arn.issuer()).collect();
                let reason = if known.is_empty() {
                    format!("the account has no IAM OIDC provider; create one for `{iss}`")
                } else {
                    format!(
                        "the token was issued by `{iss}`, but the account's OIDC provider{} {} `{}`; STS compares the \
                         issuer with each provider's URL exactly. Use a token from that issuer, or create a provider \
                         for `{iss}`",
                        if known.len() == 1 { "" } else { "s" },
                        if known.len() == 1 { "is" } else { "are" },
                        known.join("`, `")
                    )
                };
                decision.rejection = Some(invalid(
                    Stage::Provider,
                    &format!("No OpenIDConnect provider found in your account for {iss}"),
                    reason,
                ));
            }
            found
        }
        Some(_) => {
            decision.rejection = Some(invalid(
                Stage::Provider,
                "Invalid type for claim: iss",
                "the token's `iss` is not a string".to_owned(),
            ));
            None
        }
    };
    // The provider the trust policy is asked about: the one `iss` named, else the only one given (so that a
    // rejected token still shows what the policy says).
    let asked = provider.or(match providers {
        [only] => Some(only),
        _ => None,
    });
    decision.provider = asked.map(|p| p.arn.clone());

    // 2. Audience: one of the token's audiences must be a client ID of the provider (aws.md §2 step 3).
    let audiences = audiences(claims);
    if let Some(provider) = provider
        && decision.rejection.is_none()
    {
        match &audiences {
            Err(found) => {
                decision.rejection = Some(invalid(
                    Stage::Audience,
                    "Incorrect token audience",
                    format!("the token's `aud` is {found}"),
                ));
            }
            Ok(list) if list.is_empty() => {
                decision.rejection = Some(invalid(
                    Stage::Audience,
                    "Missing a required claim: aud",
                    "the token has no audience".to_owned(),
                ));
            }
            Ok(list) => match &provider.client_ids {
                Some(ids) => match list.iter().find(|a| ids.iter().any(|id| id == *a)) {
                    Some(aud) => decision.audience = Some((*aud).to_owned()),
                    None => {
                        decision.rejection = Some(invalid(
                            Stage::Audience,
                            "Incorrect token audience",
                            format!(
                                "the token's audience{} `{}`, and the provider's client IDs are `{}`: add the token's \
                                 audience to the provider's client IDs (for Bitbucket, \
                                 `ari:cloud:bitbucket::workspace/<workspace-uuid>` without braces)",
                                if list.len() == 1 { " is" } else { "s are" },
                                list.join("`, `"),
                                ids.join("`, `")
                            ),
                        ));
                    }
                },
                None => {
                    decision.audience = list.first().map(|a| (*a).to_owned());
                    decision.notes.push(format!(
                        "the provider's client IDs are not known, so the audience check was skipped; STS also \
                         requires one of the token's audiences (`{}`) to be a client ID of {}",
                        list.join("`, `"),
                        provider.arn
                    ));
                }
            },
        }
    }
    if let Ok(list) = &audiences
        && list.len() > 1
    {
        let chosen = decision
            .audience
            .clone()
            .or_else(|| list.first().map(|a| (*a).to_owned()))
            .unwrap_or_default();
        decision.notes.push(format!(
            "the token's aud is an array (`{}`): STS accepts it when one of them is a client ID of the provider, \
             reports that one as Audience, and `<provider>:aud` holds it: `{chosen}`",
            list.join("`, `")
        ));
    }

    // 3. The token itself: expiry, then the subject (aws.md §2 steps 7-8).
    if decision.rejection.is_none() {
        decision.rejection = token_problem(claims, request.now.unix_timestamp());
    }

    // 4. The trust policy, through the same evaluator as everything else.
    if let Some(provider) = asked {
        let input = WebIdentityInput {
            provider_arn: provider.arn.as_str(),
            claims,
            network: &request.network,
            now: request.now,
            role_session_name: request.role_session_name,
            audience: decision.audience.as_deref(),
        };
        match web_identity::requests(&input) {
            Ok(requests) => {
                decision.policy_decisions = requests.iter().map(|r| policy.decide(r)).collect();
                decision.requests = requests;
            }
            Err(error) => {
                if decision.rejection.is_none() {
                    decision.rejection = Some(invalid(
                        Stage::Token,
                        &error.to_string(),
                        format!("STS cannot build the request from this token: {error}"),
                    ));
                }
            }
        }
    }
    if decision.rejection.is_none() && decision.policy_allows() != Some(true) {
        decision.rejection = Some(Rejection {
            stage: Stage::Trust,
            code: ErrorCode::AccessDenied,
            message: NOT_AUTHORIZED.to_owned(),
            reason: trust_reason(&decision, policy),
        });
    }
    // Why the network part of the policy cannot hold for this call (a private range in aws:SourceIp, a VPC key
    // over the internet, ...): the trust policy's own words name the failing condition, this says why.
    if decision
        .rejection
        .as_ref()
        .is_some_and(|r| r.stage == Stage::Trust)
    {
        decision
            .notes
            .extend(crate::network::explain_mismatch(policy, &request.network));
    }
    decision
}

/// Why the trust policy said no, for the first request it refused.
fn trust_reason(decision: &Decision, policy: &PolicyDocument) -> String {
    let Some(index) = decision.policy_decisions.iter().position(|d| !d.is_allow()) else {
        return "the trust policy could not be evaluated".to_owned();
    };
    let evaluation = policy.evaluate(&decision.requests[index]);
    let why = strip_verdict(&evaluation.explain()).to_owned();
    if index == 0 {
        why
    } else {
        let action = &decision.requests[index].action;
        let cause = if action == web_identity::TAG_SESSION {
            "the token carries session tags (https://aws.amazon.com/tags)"
        } else {
            "the token carries a source identity (https://aws.amazon.com/source_identity)"
        };
        format!("{cause}, so the trust policy must also allow `{action}` — {why}")
    }
}

/// `exp` (required, an integer, in the future) and `sub` (required, 6 to 255 characters).
fn token_problem(claims: &Map<String, Value>, now: i64) -> Option<Rejection> {
    let rejection = |code: ErrorCode, message: String, reason: &str| {
        Some(Rejection {
            stage: Stage::Token,
            code,
            message,
            reason: reason.to_owned(),
        })
    };
    let invalid = ErrorCode::InvalidIdentityToken;
    match claims.get("exp") {
        None => {
            return rejection(
                invalid,
                "Missing a required claim: exp".into(),
                "the token has no expiry (`exp`)",
            );
        }
        Some(Value::Number(n)) => match n.as_i64() {
            Some(exp) if now >= exp => {
                return rejection(
                    ErrorCode::ExpiredTokenException,
                    expired_message(now, exp),
                    "the token has expired: Bitbucket mints one token per step and never refreshes it (with \
                     `policy eval`, pass --at with a time when the token was valid)",
                );
            }
            Some(_) => {}
            None => {
                return rejection(
                    invalid,
                    "Timestamps in the token must be formatted as either an integer or a long integer.".into(),
                    "the token's `exp` is not an integer",
                );
            }
        },
        Some(_) => {
            return rejection(
                invalid,
                "Invalid type for claim: exp".into(),
                "the token's `exp` is not a number",
            );
        }
    }
    match claims.get("sub") {
        None => rejection(
            invalid,
            "Missing a required claim: sub".into(),
            "the token has no subject (`sub`)",
        ),
        Some(Value::String(sub)) if !(6..=255).contains(&sub.chars().count()) => rejection(
            invalid,
            "The sub claim must be 6 to 255 characters long".into(),
            "STS returns the subject as SubjectFromWebIdentityToken, which is 6 to 255 characters",
        ),
        Some(Value::String(_)) => None,
        Some(_) => rejection(
            invalid,
            "Invalid type for claim: sub".into(),
            "the token's `sub` is not a string",
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";
    const AUD: &str = "ari:cloud:bitbucket::workspace/9f1c3a52-7d4b-4e8a-b0c6-2f5e8d7a1b34";
    const REPO: &str = "{3c2b6f0e-8a41-4d2e-9b7c-5e1f0a9d8c72}";

    fn provider(client_ids: Option<Vec<String>>) -> Provider {
        Provider::new(
            ProviderArn::parse(&format!("arn:aws:iam::123456789012:oidc-provider/{URL}")).unwrap(),
            client_ids,
        )
    }

    fn policy() -> PolicyDocument {
        crate::parse(&format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow",
                "Principal": {{"Federated": "arn:aws:iam::123456789012:oidc-provider/{URL}"}},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {{"StringEquals": {{"{URL}:aud": "{AUD}"}},
                               "StringLike": {{"{URL}:sub": "{REPO}:*"}}}}}}}}"#
        ))
        .unwrap()
    }

    fn claims(extra: Value) -> Map<String, Value> {
        let mut claims = json!({
            "iss": format!("https://{URL}"), "aud": AUD, "sub": format!("{REPO}:{{step}}"),
            "iat": 1_000, "exp": 2_000
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims.as_object().unwrap().clone()
    }

    fn at(now: i64) -> RequestContext<'static> {
        RequestContext::new(OffsetDateTime::from_unix_timestamp(now).unwrap())
    }

    fn stage(d: &Decision) -> Option<(Stage, ErrorCode, String)> {
        d.rejection
            .as_ref()
            .map(|r| (r.stage, r.code, r.message.clone()))
    }

    #[test]
    fn allows_and_reports_the_audience() {
        let d = decide(
            &[provider(Some(vec![AUD.into()]))],
            &policy(),
            &claims(json!({})),
            &at(1_500),
        );
        assert!(d.is_allow(), "{:?}", d.rejection);
        assert_eq!(d.audience.as_deref(), Some(AUD));
        assert!(d.explain(&policy()).starts_with("ALLOW: statement 0"));
    }

    #[test]
    fn verdict_is_the_policy_decision_sts_stands_on() {
        let providers = [provider(Some(vec![AUD.into()]))];
        let allowed = decide(&providers, &policy(), &claims(json!({})), &at(1_500));
        assert_eq!(allowed.verdict(), PolicyDecision::Allow);
        // The trust policy's own answer: no statement matches another repository's `sub`.
        let other_repo = claims(json!({"sub": "{00000000-0000-4000-8000-000000000000}:{step}"}));
        let trust = decide(&providers, &policy(), &other_repo, &at(1_500));
        assert_eq!(stage(&trust).unwrap().0, Stage::Trust);
        assert_eq!(trust.verdict(), PolicyDecision::ImplicitDeny);
        let denying = crate::parse(&format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Deny",
                "Principal": {{"Federated": "arn:aws:iam::123456789012:oidc-provider/{URL}"}},
                "Action": "sts:AssumeRoleWithWebIdentity"}}}}"#
        ))
        .unwrap();
        let denied = decide(&providers, &denying, &claims(json!({})), &at(1_500));
        assert_eq!(denied.verdict(), PolicyDecision::ExplicitDeny);
        // Refused before the policy is asked (the policy itself would allow): nothing allowed the call.
        let expired = decide(&providers, &policy(), &claims(json!({})), &at(2_500));
        assert_ne!(stage(&expired).unwrap().0, Stage::Trust);
        assert_eq!(expired.policy_allows(), Some(true));
        assert_eq!(expired.verdict(), PolicyDecision::ImplicitDeny);
    }

    #[test]
    fn stages_in_aws_precedence() {
        let providers = [provider(Some(vec![AUD.into()]))];
        // Another workspace's token: provider lookup fails first, even though it is also expired.
        let other = claims(
            json!({"iss": "https://api.bitbucket.org/2.0/workspaces/other/pipelines-config/identity/oidc", "exp": 10}),
        );
        let d = decide(&providers, &policy(), &other, &at(1_500));
        let (s, code, message) = stage(&d).unwrap();
        assert_eq!(
            (s, code),
            (Stage::Provider, ErrorCode::InvalidIdentityToken)
        );
        assert_eq!(
            message,
            "No OpenIDConnect provider found in your account for https://api.bitbucket.org/2.0/workspaces/other/pipelines-config/identity/oidc"
        );
        // The trust policy is still asked about the one provider, and the explanation says what it would do.
        assert_eq!(d.policy_allows(), Some(true));
        assert!(
            d.explain(&policy()).contains("would allow"),
            "{}",
            d.explain(&policy())
        );
        // Audience before expiry.
        let d = decide(
            &providers,
            &policy(),
            &claims(json!({"aud": "sts.amazonaws.com", "exp": 10})),
            &at(1_500),
        );
        assert_eq!(stage(&d).unwrap().2, "Incorrect token audience");
        let d = decide(
            &providers,
            &policy(),
            &claims(json!({"aud": null})),
            &at(1_500),
        );
        assert_eq!(stage(&d).unwrap().2, "Missing a required claim: aud");
        // Expiry before trust.
        let d = decide(
            &providers,
            &policy(),
            &claims(json!({"sub": "{other}:{step}", "exp": 1_500})),
            &at(1_500),
        );
        assert_eq!(
            stage(&d).unwrap(),
            (
                Stage::Token,
                ErrorCode::ExpiredTokenException,
                expired_message(1_500, 1_500)
            )
        );
        let d = decide(
            &providers,
            &policy(),
            &claims(json!({"sub": null})),
            &at(1_500),
        );
        assert_eq!(stage(&d).unwrap().2, "Missing a required claim: sub");
        // Trust last.
        let d = decide(
            &providers,
            &policy(),
            &claims(json!({"sub": "{other}:{step}"})),
            &at(1_500),
        );
        assert_eq!(
            stage(&d).unwrap(),
            (
                Stage::Trust,
                ErrorCode::AccessDenied,
                NOT_AUTHORIZED.to_owned()
            )
        );
        assert!(
            d.explain(&policy()).contains("StringLike"),
            "{}",
            d.explain(&policy())
        );
    }

    #[test]
    fn audience_arrays_are_decided_once() {
        // Bitbucket appends custom audiences after the workspace audience; STS matches against the client IDs,
        // and the condition key holds the value that matched.
        let custom = "https://vault.example.com";
        let providers = [provider(Some(vec![AUD.into()]))];
        let d = decide(
            &providers,
            &policy(),
            &claims(json!({"aud": [custom, AUD]})),
            &at(1_500),
        );
        assert!(d.is_allow(), "{:?}", d.rejection);
        assert_eq!(d.audience.as_deref(), Some(AUD));
        assert_eq!(
            d.requests[0]
                .context
                .get(&format!("{URL}:aud"))
                .unwrap()
                .as_slice(),
            [AUD]
        );
        assert!(d.notes.iter().any(|n| n.contains("array")), "{:?}", d.notes);
        // A provider that lists only the custom audience: the key holds it, and the policy's aud condition fails.
        let providers = [provider(Some(vec![custom.into()]))];
        let d = decide(
            &providers,
            &policy(),
            &claims(json!({"aud": [AUD, custom]})),
            &at(1_500),
        );
        assert_eq!(d.audience.as_deref(), Some(custom));
        assert_eq!(stage(&d).unwrap().0, Stage::Trust);
        // Unknown client IDs: the first value, with a note.
        let d = decide(
            &[provider(None)],
            &policy(),
            &claims(json!({"aud": [AUD, custom]})),
            &at(1_500),
        );
        assert!(d.is_allow());
        assert!(
            d.notes.iter().any(|n| n.contains("not known")),
            "{:?}",
            d.notes
        );
    }

    #[test]
    fn extra_actions_are_required() {
        let tagged =
            claims(json!({"https://aws.amazon.com/tags": {"principal_tags": {"team": ["web"]}}}));
        let d = decide(
            &[provider(Some(vec![AUD.into()]))],
            &policy(),
            &tagged,
            &at(1_500),
        );
        assert_eq!(d.requests.len(), 2);
        let rejection = d.rejection.unwrap();
        assert_eq!(rejection.stage, Stage::Trust);
        assert!(
            rejection.reason.contains("sts:TagSession"),
            "{}",
            rejection.reason
        );
    }

    #[test]
    fn the_vpc_path_has_the_vpc_keys_and_no_source_ip() {
        let vpc_policy = |condition: &str| {
            crate::parse(&format!(
                r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow",
                    "Principal": {{"Federated": "arn:aws:iam::123456789012:oidc-provider/{URL}"}},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {condition}}}}}"#
            ))
            .unwrap()
        };
        let providers = [provider(Some(vec![AUD.into()]))];
        let endpoint = vpc_policy(
            r#"{"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d4e5f60718"}, "IpAddress": {"aws:VpcSourceIp": "10.20.0.0/24"}}"#,
        );
        let inside = at(1_500).vpc(
            VpcPath::default()
                .endpoint("vpce-0a1b2c3d4e5f60718")
                .vpc("vpc-0e9801d129c0ffee1")
                .private_ip("10.20.0.7".parse().unwrap()),
        );
        let d = decide(&providers, &endpoint, &claims(json!({})), &inside);
        assert!(d.is_allow(), "{:?}", d.rejection);
        let keys = &d.requests[0].context;
        assert!(keys.get("aws:SourceIp").is_none());
        assert_eq!(
            keys.get("aws:VpcSourceIp").unwrap().as_slice(),
            ["10.20.0.7"]
        );
        // Another endpoint, or the right one from another subnet: denied.
        let other = at(1_500).vpc(
            VpcPath::default()
                .endpoint("vpce-0fffffffffffffff0")
                .private_ip("10.20.0.7".parse().unwrap()),
        );
        assert!(!decide(&providers, &endpoint, &claims(json!({})), &other).is_allow());
        // Over the internet, from any address: no VPC keys, denied, and the notes say why.
        let internet = at(1_500).source_ip("203.0.113.7".parse().unwrap());
        let d = decide(&providers, &endpoint, &claims(json!({})), &internet);
        assert_eq!(d.rejection.as_ref().unwrap().stage, Stage::Trust);
        assert!(
            d.notes.iter().any(|n| n.contains("came over the internet")),
            "{:?}",
            d.notes
        );
        // Article 004: a private range in aws:SourceIp never matches, on either path.
        let article = vpc_policy(r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/24"}}"#);
        for context in [
            at(1_500).source_ip("10.0.0.7".parse().unwrap()),
            at(1_500).source_ip("203.0.113.7".parse().unwrap()),
            inside.clone(),
        ] {
            let d = decide(&providers, &article, &claims(json!({})), &context);
            // 10.0.0.7 as aws:SourceIp is what a wrong emulator would claim; AWS never sends it, and the
            // decision still explains the range.
            if context
                .network
                .context_keys()
                .iter()
                .any(|(_, v)| v == "10.0.0.7")
            {
                assert!(d.is_allow());
                continue;
            }
            assert!(!d.is_allow());
            assert!(
                d.notes.iter().any(|n| n.contains("never 10.0.0.0/24")),
                "{:?}",
                d.notes
            );
        }
        // Both in one statement: never.
        let both = vpc_policy(
            r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}, "StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d4e5f60718"}}"#,
        );
        for context in [internet, inside] {
            let d = decide(&providers, &both, &claims(json!({})), &context);
            assert!(!d.is_allow());
            assert!(
                d.notes.iter().any(|n| n.contains("never present together")),
                "{:?}",
                d.notes
            );
        }
    }

    #[test]
    fn network_and_session_name_reach_the_context() {
        let context = at(1_500)
            .role_session_name("deploy")
            .source_ip("203.0.113.7".parse().unwrap());
        let d = decide(
            &[provider(Some(vec![AUD.into()]))],
            &policy(),
            &claims(json!({})),
            &context,
        );
        let keys = &d.requests[0].context;
        assert_eq!(
            keys.get("aws:SourceIp").unwrap().as_slice(),
            ["203.0.113.7"]
        );
        assert_eq!(
            keys.get("sts:RoleSessionName").unwrap().as_slice(),
            ["deploy"]
        );
        let d = decide(
            &[provider(Some(vec![AUD.into()]))],
            &policy(),
            &claims(json!({})),
            &at(1_500),
        );
        assert!(d.requests[0].context.get("aws:SourceIp").is_none());
    }
}
