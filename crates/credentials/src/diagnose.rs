//! The error-diagnosis table: each answer STS can give, turned into the likely cause and the fix, using what
//! keyless knows (the token's `iss`/`aud`/`sub`, the role, the options). This is the pain-point table of
//! `bitbucket.md` §7 made executable; `docs/step-credentials.md` lists every row.

use std::fmt;

use crate::duration;
use crate::token::TokenInfo;

/// The STS operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// The web-identity exchange.
    AssumeRoleWithWebIdentity,
    /// A `--chain` hop.
    AssumeRole,
    /// The doctor's identity check.
    GetCallerIdentity,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AssumeRoleWithWebIdentity => "AssumeRoleWithWebIdentity",
            Self::AssumeRole => "AssumeRole",
            Self::GetCallerIdentity => "GetCallerIdentity",
        })
    }
}

/// What keyless knew when AWS said no.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The call that failed.
    pub operation: Operation,
    /// The role requested.
    pub role_arn: &'a str,
    /// For a chain hop: the assumed-role ARN of the previous credentials.
    pub previous: Option<&'a str>,
    /// The token's claims.
    pub token: &'a TokenInfo,
    /// Requested session length.
    pub duration_secs: u64,
    /// Region.
    pub region: &'a str,
    /// A session policy was sent.
    pub has_session_policy: bool,
    /// The session name sent.
    pub session_name: &'a str,
}

/// The likely cause and the fix, plus optional notes (e.g. the offline trust-policy evaluation).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnosis {
    /// Stable kebab-case identifier of the table row (docs anchor).
    pub id: &'static str,
    /// Why AWS most likely said this.
    pub cause: String,
    /// What to change.
    pub fix: String,
    /// Extra findings (the trust-policy evaluation, hints).
    pub notes: Vec<String>,
    /// Whether the token's claims are relevant to show.
    pub show_token: bool,
}

impl Diagnosis {
    fn new(
        id: &'static str,
        cause: impl Into<String>,
        fix: impl Into<String>,
        show_token: bool,
    ) -> Self {
        Self {
            id,
            cause: cause.into(),
            fix: fix.into(),
            notes: Vec::new(),
            show_token,
        }
    }
}

fn account_of_role(role: &str) -> &str {
    crate::arn::account_of(role).unwrap_or("ACCOUNT")
}

/// What the rows name, worked out once from the answer and the context.
struct Facts<'a> {
    code: &'a str,
    message: &'a str,
    ctx: &'a Context<'a>,
    /// The message in lowercase: rows match on its words.
    lower: String,
    iss: &'a str,
    host_path: &'a str,
    account: &'a str,
    provider_arn: String,
}

impl<'a> Facts<'a> {
    fn new(code: &'a str, message: &'a str, ctx: &'a Context<'a>) -> Self {
        let token = ctx.token;
        let iss = token.iss.as_deref().unwrap_or("(no iss claim)");
        let host_path = token.provider_host_path().unwrap_or(iss);
        let account = account_of_role(ctx.role_arn);
        let provider_arn = format!("arn:aws:iam::{account}:oidc-provider/{host_path}");
        Self {
            code,
            message,
            ctx,
            lower: message.to_ascii_lowercase(),
            iss,
            host_path,
            account,
            provider_arn,
        }
    }
}

/// Explains an STS error code and message.
pub fn diagnose(code: &str, message: &str, ctx: &Context<'_>) -> Diagnosis {
    let f = Facts::new(code, message, ctx);
    // Each row group answers only its own codes; what none explains falls to `unmatched`, as the last rows of
    // one table would.
    token_rejected(&f)
        .or_else(|| expired(&f))
        .or_else(|| access_denied(&f))
        .or_else(|| session_tags_refused(&f))
        .or_else(|| validation(&f))
        .or_else(|| session_policy(&f))
        .or_else(|| service(&f))
        .unwrap_or_else(|| unmatched(&f))
}

/// AWS refused the web-identity token itself (`InvalidIdentityToken`): which check failed, by AWS's message.
fn token_rejected(f: &Facts<'_>) -> Option<Diagnosis> {
    let message = f.message;
    let lower = f.lower.as_str();
    let iss = f.iss;
    let provider_arn = f.provider_arn.as_str();
    Some(match (f.code, f.ctx.operation) {
        ("InvalidIdentityToken", _) if lower.contains("no openidconnect provider found") => {
            no_oidc_provider(f)
        }
        ("InvalidIdentityToken", _) if lower.contains("incorrect token audience") => {
            incorrect_audience(f)
        }
        ("InvalidIdentityToken", _) if lower.contains("missing a required claim") => {
            Diagnosis::new(
                "missing-claim",
                format!(
                    "the token lacks a claim AWS requires ({message}); this is not an unmodified Bitbucket step token"
                ),
                "pass the step's own token: $BITBUCKET_STEP_OIDC_TOKEN from a step with `oidc: true`, unmodified (no quotes or extra lines)",
                true,
            )
        }
        ("InvalidIdentityToken", _) if lower.contains("verification key") => Diagnosis::new(
            "jwks-unreachable",
            format!(
                "AWS could not fetch the signing keys from `{iss}/.well-known/openid-configuration` → jwks_uri (a transient outage, a slow issuer, or an issuer URL that is not public)"
            ),
            "retry the step; if it persists, check that the provider URL is the public Bitbucket issuer and that `curl <issuer>/.well-known/openid-configuration` works",
            true,
        ),
        ("InvalidIdentityToken", _) if lower.contains("thumbprint") => Diagnosis::new(
            "thumbprint-mismatch",
            format!(
                "the IAM OIDC provider {provider_arn} pins TLS thumbprints that do not match the certificate the issuer presents"
            ),
            format!(
                "update or remove the provider's thumbprints: `aws iam update-open-id-connect-provider-thumbprint --open-id-connect-provider-arn {provider_arn} --thumbprint-list <sha1-of-top-intermediate>` (AWS uses its trusted CA library for hosts like api.bitbucket.org)"
            ),
            true,
        ),
        ("InvalidIdentityToken", _) => Diagnosis::new(
            "invalid-token",
            format!(
                "AWS rejected the token itself ({message}): a bad signature, an unsupported algorithm, or a token altered on the way"
            ),
            "pass $BITBUCKET_STEP_OIDC_TOKEN unmodified from a step with `oidc: true`; run `keyless token decode` to inspect it",
            true,
        ),
        _ => return None,
    })
}

/// The account has no IAM OIDC provider for the token's issuer.
fn no_oidc_provider(f: &Facts<'_>) -> Diagnosis {
    let (token, iss, host_path, account) = (f.ctx.token, f.iss, f.host_path, f.account);
    let mut d = Diagnosis::new(
        "no-oidc-provider",
        format!(
            "account {account} has no IAM OIDC identity provider whose URL is exactly the token's issuer `{iss}` (AWS compares it without `https://`, case-sensitively; providers in other accounts do not count)"
        ),
        format!(
            "create the provider `https://{host_path}` in account {account} (copy the Identity provider URL from Repository settings → OpenID Connect; it contains the workspace *slug*, not its UUID), with the token's audience {} as client ID; `keyless plan` generates it",
            token.aud_display()
        ),
        true,
    );
    if let Some(slug) = token.workspace_slug()
        && slug.starts_with('{')
    {
        d.notes.push(format!("the issuer contains `{slug}`, a UUID; AWS providers for Bitbucket use the workspace slug"));
    }
    d
}

/// The provider lists none of the token's audiences as a client ID.
fn incorrect_audience(f: &Facts<'_>) -> Diagnosis {
    let (token, provider_arn) = (f.ctx.token, f.provider_arn.as_str());
    let mut d = Diagnosis::new(
        "incorrect-audience",
        format!(
            "the token's aud is {}, and the IAM OIDC provider {provider_arn} lists none of these as a client ID (audience)",
            token.aud_display()
        ),
        format!(
            "add the audience to the provider: `aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {provider_arn} --client-id '{}'`; copy it exactly from Repository settings → OpenID Connect (`ari:cloud:bitbucket::workspace/<uuid>`, without braces)",
            token.aud.first().map(String::as_str).unwrap_or("AUDIENCE")
        ),
        true,
    );
    if token.aud_is_array {
        d.notes.push("aud is an array because this step (or `options.oidc.audiences`) adds custom audiences; Bitbucket appends them to the workspace audience, so keep the workspace audience in the provider's client IDs".to_owned());
    }
    if token.aud.iter().any(|a| a.contains('{') || a.contains('}')) {
        d.notes.push(
            "the audience contains braces; the workspace audience is written without them"
                .to_owned(),
        );
    }
    d
}

/// An expired token (web identity) or expired credentials (the other calls).
fn expired(f: &Facts<'_>) -> Option<Diagnosis> {
    let ctx = f.ctx;
    let token = f.ctx.token;
    Some(match (f.code, f.ctx.operation) {
        ("ExpiredTokenException" | "ExpiredToken", Operation::AssumeRoleWithWebIdentity) => {
            let exp = token.exp.map(|e| format!(" (exp {e})")).unwrap_or_default();
            Diagnosis::new(
                "expired-token",
                format!(
                    "the OIDC token has expired{exp}: Bitbucket mints one token per step and never refreshes it, so a late assume in a long step fails"
                ),
                format!(
                    "assume at the start of the step and ask for a longer session (--duration up to the role's MaxSessionDuration, now {}), or split the work into steps with `oidc: true` each",
                    duration::human(ctx.duration_secs)
                ),
                true,
            )
        }
        ("ExpiredTokenException" | "ExpiredToken", _) => Diagnosis::new(
            "expired-credentials",
            "the temporary credentials used for this call have expired",
            "assume again; sessions last --duration (chained sessions at most 1 hour)",
            false,
        ),
        _ => return None,
    })
}

/// `AccessDenied`, by operation: the trust policy, the tag/source-identity permissions of a chained hop, or the credentials.
fn access_denied(f: &Facts<'_>) -> Option<Diagnosis> {
    let lower = f.lower.as_str();
    let ctx = f.ctx;
    Some(match (f.code, f.ctx.operation) {
        ("AccessDenied", Operation::AssumeRoleWithWebIdentity) => trust_policy_denied(f),
        ("AccessDenied", Operation::AssumeRole) if lower.contains("sts:tagsession") => {
            Diagnosis::new(
                "tag-session-denied",
                format!(
                    "the trust policy of {} does not allow sts:TagSession: a hop that carries session tags (from --tag/--default-tags/--transitive-tag, or transitive tags an earlier hop set, which every later hop inherits) needs it besides sts:AssumeRole",
                    ctx.role_arn
                ),
                format!(
                    "add \"sts:TagSession\" to the Action of the statement in {}'s trust policy that allows {} (narrow it with `ForAllValues:StringEquals` on `aws:TagKeys`), or drop the tags",
                    ctx.role_arn,
                    ctx.previous.unwrap_or("the previous role")
                ),
                false,
            )
        }
        ("AccessDenied", Operation::AssumeRole) if lower.contains("sts:setsourceidentity") => {
            Diagnosis::new(
                "set-source-identity-denied",
                format!(
                    "the trust policy of {} does not allow sts:SetSourceIdentity: a hop that sets a source identity (--source-identity, or one an earlier hop set, which persists through role chaining) needs it besides sts:AssumeRole",
                    ctx.role_arn
                ),
                format!(
                    "add \"sts:SetSourceIdentity\" to the Action of the statement in {}'s trust policy that allows {}, or drop --source-identity",
                    ctx.role_arn,
                    ctx.previous.unwrap_or("the previous role")
                ),
                false,
            )
        }
        ("AccessDenied", Operation::AssumeRole) => Diagnosis::new(
            "chain-denied",
            format!(
                "{} may not assume {}: its trust policy must name the previous role as Principal, and the previous role needs `sts:AssumeRole` on it",
                ctx.previous.unwrap_or("the previous role"),
                ctx.role_arn
            ),
            format!(
                "in the trust policy of {} allow `{{\"AWS\": \"arn:aws:iam::{}:role/<previous-role-name>\"}}` with Action `sts:AssumeRole`, and give the previous role an identity policy allowing `sts:AssumeRole` on {}",
                ctx.role_arn,
                ctx.previous.map_or("ACCOUNT", account_of_role),
                ctx.role_arn
            ),
            false,
        ),
        ("AccessDenied", Operation::GetCallerIdentity) => Diagnosis::new(
            "identity-denied",
            "GetCallerIdentity needs no permission, so AWS rejected the credentials themselves",
            "assume again; check that nothing rewrote AWS_SESSION_TOKEN",
            false,
        ),
        _ => return None,
    })
}

/// The trust policy refused a web-identity token (or the role does not exist).
fn trust_policy_denied(f: &Facts<'_>) -> Diagnosis {
    let (ctx, token, host_path, provider_arn) =
        (f.ctx, f.ctx.token, f.host_path, f.provider_arn.as_str());
    let env_note = if token.deployment_environment_uuid.is_some() {
        "this is a deployment step, so sub is `{repository}:{environment}:{step}`: a condition written as `{repository}:{step}`-shaped (e.g. `{repo}:{step-uuid}`) no longer matches"
    } else {
        "this is not a deployment step, so sub is `{repository}:{step}`: a condition that expects an environment UUID (`{repo}:{env}:*`) cannot match"
    };
    let mut d = Diagnosis::new(
        "trust-policy-denied",
        format!(
            "the trust policy of {} does not allow this token (or the role does not exist: AWS does not say which)",
            ctx.role_arn
        ),
        format!(
            "make the trust policy's Principal `{{\"Federated\": \"{provider_arn}\"}}`, Action `sts:AssumeRoleWithWebIdentity`, and conditions on `{host_path}:aud` / `{host_path}:sub` that match the values above, UUIDs with their braces; `keyless plan` writes such a policy, and `keyless doctor` with a keyless.yml names the failing condition"
        ),
        true,
    );
    d.notes.push(env_note.to_owned());
    d.notes.push("condition keys must be the issuer without `https://` followed by `:sub`/`:aud`; keys that contain `https://` never match".to_owned());
    d.notes.push("an `aws:SourceIp` condition fails on 1x/2x steps, which have no fixed IP ranges: use `runtime.cloud.atlassian-ip-ranges: true` on 4x/8x steps or drop the condition".to_owned());
    d
}

/// `InvalidParameterValue` on a chained hop that sends session tags.
fn session_tags_refused(f: &Facts<'_>) -> Option<Diagnosis> {
    let message = f.message;
    let lower = f.lower.as_str();
    Some(match (f.code, f.ctx.operation) {
        ("InvalidParameterValue", Operation::AssumeRole) if lower.contains("transitive") => {
            Diagnosis::new(
                "transitive-tag-conflict",
                format!("AWS refused the session tags: {message}"),
                "a transitive tag set on an earlier hop cannot be set again, and every --transitive-tag must name a tag sent on the same hop: drop the repeated --tag",
                false,
            )
        }
        ("InvalidParameterValue", Operation::AssumeRole) if lower.contains("tag") => {
            Diagnosis::new(
                "bad-session-tags",
                format!("AWS refused the session tags: {message}"),
                "give each tag key once (keys are case-insensitive) and use only letters, digits, spaces and `_ . : / = + - @`",
                false,
            )
        }
        _ => return None,
    })
}

/// `ValidationError`: the duration, the session name, the role ARN or another parameter.
fn validation(f: &Facts<'_>) -> Option<Diagnosis> {
    let message = f.message;
    let lower = f.lower.as_str();
    let ctx = f.ctx;
    Some(match (f.code, f.ctx.operation) {
        ("ValidationError", _)
            if lower.contains("maxsessionduration")
                || lower.contains("durationseconds exceeds") && !lower.contains("chaining") =>
        {
            Diagnosis::new(
                "duration-exceeds-role-max",
                format!(
                    "--duration {} is longer than the role's MaxSessionDuration",
                    duration::human(ctx.duration_secs)
                ),
                format!(
                    "lower --duration (default 1h), or raise MaxSessionDuration of {} (up to 12h) in IAM",
                    ctx.role_arn
                ),
                false,
            )
        }
        ("ValidationError", _) if lower.contains("chaining") => Diagnosis::new(
            "chained-duration",
            "AWS limits sessions obtained by role chaining to 1 hour",
            "use --duration 1h or less with --chain",
            false,
        ),
        ("ValidationError", _) if lower.contains("source identity is already set") => {
            Diagnosis::new(
                "source-identity-already-set",
                "a source identity set on an earlier hop persists through role chaining and cannot be changed",
                "drop --source-identity, or pass the value the chain already carries",
                false,
            )
        }
        ("ValidationError", _) if lower.contains("rolesessionname") => Diagnosis::new(
            "bad-session-name",
            format!(
                "the session name `{}` breaks STS's rule `[\\w+=,.@-]{{2,64}}`",
                ctx.session_name
            ),
            "pass --session-name with only letters, digits and `_+=,.@-` (2 to 64 characters), or drop it for the default",
            false,
        ),
        ("ValidationError", _) if lower.contains("rolearn") || lower.contains("arn is invalid") => {
            Diagnosis::new(
                "bad-role-arn",
                format!("AWS does not accept `{}` as a role ARN", ctx.role_arn),
                "copy the role ARN from the IAM console: `arn:aws:iam::ACCOUNT:role/NAME`",
                false,
            )
        }
        ("ValidationError", _) => Diagnosis::new(
            "validation",
            format!("AWS rejected a parameter: {message}"),
            "correct the option named in the message",
            false,
        ),
        _ => return None,
    })
}

/// The session policy or the packed size of policies and tags.
fn session_policy(f: &Facts<'_>) -> Option<Diagnosis> {
    let message = f.message;
    let lower = f.lower.as_str();
    let ctx = f.ctx;
    Some(match (f.code, f.ctx.operation) {
        ("PackedPolicyTooLarge", _) if lower.contains("session tags") => Diagnosis::new(
            "session-tags-too-large",
            format!(
                "the session tags (with any transitive tags inherited from earlier hops) exceed the packed size AWS allows: {message}"
            ),
            "send fewer or shorter --tag values (keyless already dropped the optional --default-tags it could)",
            false,
        ),
        ("MalformedPolicyDocument", _) => Diagnosis::new(
            "bad-session-policy",
            format!("the session policy is not a valid IAM policy: {message}"),
            "fix the --policy file (Version \"2012-10-17\", Statement with Effect/Action/Resource) or the --policy-arn values",
            false,
        ),
        ("PackedPolicyTooLarge", _) => Diagnosis::new(
            "session-policy-too-large",
            format!("the session policies (and tags) exceed the packed size AWS allows: {message}"),
            if ctx.has_session_policy {
                "shorten --policy (use wildcards or fewer statements) or move it into a managed policy passed with --policy-arn"
            } else {
                "reduce the number of session tags or --policy-arn values"
            },
            false,
        ),
        _ => return None,
    })
}

/// The region, or the identity provider as AWS reached it.
fn service(f: &Facts<'_>) -> Option<Diagnosis> {
    let message = f.message;
    let ctx = f.ctx;
    let iss = f.iss;
    let account = f.account;
    Some(match (f.code, f.ctx.operation) {
        ("RegionDisabledException", _) => Diagnosis::new(
            "region-disabled",
            format!(
                "STS is not activated in region {} for account {account}",
                ctx.region
            ),
            format!(
                "activate the region in IAM → Account settings → Security Token Service (STS) endpoints, or use --region with an active region (keyless calls sts.{}.amazonaws.com)",
                ctx.region
            ),
            false,
        ),
        ("IDPRejectedClaim", _) => Diagnosis::new(
            "idp-rejected-claim",
            format!("the identity provider rejected the claim: {message}"),
            "check the token's issuer and audience against the IAM provider",
            true,
        ),
        ("IDPCommunicationError", _) => Diagnosis::new(
            "idp-unreachable",
            format!(
                "AWS could not reach the issuer `{iss}` to verify the token (often transient; keyless retried until --timeout)"
            ),
            "re-run the step, or raise --timeout",
            true,
        ),
        _ => return None,
    })
}

/// Any other answer: throttling that outlasted the time budget, credentials STS does not recognise, or an answer
/// no row explains.
fn unmatched(f: &Facts<'_>) -> Diagnosis {
    let code = f.code;
    let message = f.message;
    match (f.code, f.ctx.operation) {
        (c, _) if crate::retry::is_retryable_code(c) => Diagnosis::new(
            "throttled",
            format!("STS kept answering {c} until the time budget ran out"),
            "raise --timeout, or stagger parallel steps that assume at the same moment",
            false,
        ),
        ("InvalidClientTokenId" | "SignatureDoesNotMatch" | "UnrecognizedClientException", _) => {
            Diagnosis::new(
                "bad-credentials",
                "the credentials sent with this call are not valid in this partition/region",
                "assume again; make sure the region and endpoint belong to the same partition as the role",
                false,
            )
        }
        _ => Diagnosis::new(
            "unexplained",
            format!("AWS answered {code}: {message}"),
            "see docs/step-credentials.md#errors; `keyless doctor` checks each prerequisite",
            true,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(env: bool, aud_array: bool) -> TokenInfo {
        TokenInfo {
            iss: Some(
                "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"
                    .into(),
            ),
            aud: if aud_array {
                vec![
                    "ari:cloud:bitbucket::workspace/abc".into(),
                    "https://x".into(),
                ]
            } else {
                vec!["ari:cloud:bitbucket::workspace/abc".into()]
            },
            aud_is_array: aud_array,
            sub: Some(if env {
                "{r}:{e}:{s}".into()
            } else {
                "{r}:{s}".into()
            }),
            exp: Some(1000),
            iat: Some(0),
            deployment_environment_uuid: env.then(|| "{e}".into()),
            repository_uuid: Some("{r}".into()),
        }
    }

    fn ctx(token: &TokenInfo, operation: Operation) -> Context<'_> {
        Context {
            operation,
            role_arn: "arn:aws:iam::123456789012:role/deploy",
            previous: Some("arn:aws:sts::123456789012:assumed-role/deploy/s"),
            token,
            duration_secs: 7200,
            region: "eu-west-1",
            has_session_policy: true,
            session_name: "s",
        }
    }

    #[test]
    fn every_row_has_a_distinct_id_cause_and_fix() {
        let t = token(false, false);
        let w = Operation::AssumeRoleWithWebIdentity;
        let cases = [
            (
                "InvalidIdentityToken",
                "No OpenIDConnect provider found in your account for https://api.bitbucket.org/x",
                w,
                "no-oidc-provider",
                "slug",
            ),
            (
                "InvalidIdentityToken",
                "Incorrect token audience",
                w,
                "incorrect-audience",
                "add-client-id-to-open-id-connect-provider",
            ),
            (
                "InvalidIdentityToken",
                "Missing a required claim: aud",
                w,
                "missing-claim",
                "oidc: true",
            ),
            (
                "InvalidIdentityToken",
                "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
                w,
                "jwks-unreachable",
                "retry",
            ),
            (
                "InvalidIdentityToken",
                "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint",
                w,
                "thumbprint-mismatch",
                "thumbprint",
            ),
            (
                "InvalidIdentityToken",
                "bad signature",
                w,
                "invalid-token",
                "token decode",
            ),
            (
                "ExpiredTokenException",
                "Token expired: current date/time 2 must be before the expiration date/time1",
                w,
                "expired-token",
                "split the work",
            ),
            (
                "AccessDenied",
                "Not authorized to perform sts:AssumeRoleWithWebIdentity",
                w,
                "trust-policy-denied",
                "keyless doctor",
            ),
            (
                "AccessDenied",
                "User: x is not authorized to perform: sts:AssumeRole",
                Operation::AssumeRole,
                "chain-denied",
                "sts:AssumeRole",
            ),
            (
                "ValidationError",
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
                w,
                "duration-exceeds-role-max",
                "MaxSessionDuration",
            ),
            (
                "ValidationError",
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
                Operation::AssumeRole,
                "chained-duration",
                "1h",
            ),
            (
                "ValidationError",
                "1 validation error detected: Value 'a:b' at 'roleSessionName' failed to satisfy constraint",
                w,
                "bad-session-name",
                "--session-name",
            ),
            (
                "ValidationError",
                "Request ARN is invalid",
                w,
                "bad-role-arn",
                "arn:aws:iam",
            ),
            (
                "MalformedPolicyDocument",
                "Syntax errors in policy.",
                w,
                "bad-session-policy",
                "--policy",
            ),
            (
                "PackedPolicyTooLarge",
                "Packed size of session tags consumes 142% of allotted space.",
                Operation::AssumeRole,
                "session-tags-too-large",
                "--tag",
            ),
            (
                "PackedPolicyTooLarge",
                "Packed policy consumes 112% of allotted space, please use smaller policy.",
                w,
                "session-policy-too-large",
                "--policy",
            ),
            (
                "AccessDenied",
                "User: arn:aws:sts::1:assumed-role/a/s is not authorized to perform: sts:TagSession on resource: arn:aws:iam::1:role/b",
                Operation::AssumeRole,
                "tag-session-denied",
                "sts:TagSession",
            ),
            (
                "AccessDenied",
                "User: arn:aws:sts::1:assumed-role/a/s is not authorized to perform: sts:SetSourceIdentity on resource: arn:aws:iam::1:role/b",
                Operation::AssumeRole,
                "set-source-identity-denied",
                "sts:SetSourceIdentity",
            ),
            (
                "InvalidParameterValue",
                "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
                Operation::AssumeRole,
                "transitive-tag-conflict",
                "--tag",
            ),
            (
                "InvalidParameterValue",
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
                Operation::AssumeRole,
                "bad-session-tags",
                "case-insensitive",
            ),
            (
                "ValidationError",
                "The source identity is already set for this assume role session",
                Operation::AssumeRole,
                "source-identity-already-set",
                "--source-identity",
            ),
            (
                "RegionDisabledException",
                "STS is not activated",
                w,
                "region-disabled",
                "Account settings",
            ),
            (
                "IDPCommunicationError",
                "unreachable",
                w,
                "idp-unreachable",
                "--timeout",
            ),
            ("Throttling", "Rate exceeded", w, "throttled", "--timeout"),
            ("SomethingNew", "?", w, "unexplained", "keyless doctor"),
        ];
        for (code, message, op, id, needle) in cases {
            let d = diagnose(code, message, &ctx(&t, op));
            assert_eq!(d.id, id, "{code}: {message}");
            assert!(
                d.fix.contains(needle) || d.cause.contains(needle),
                "{id}: {d:?}"
            );
        }
    }

    #[test]
    fn audience_shows_the_token_aud_and_array_note() {
        let t = token(false, true);
        let d = diagnose(
            "InvalidIdentityToken",
            "Incorrect token audience",
            &ctx(&t, Operation::AssumeRoleWithWebIdentity),
        );
        assert!(
            d.cause.contains("ari:cloud:bitbucket::workspace/abc"),
            "{d:?}"
        );
        assert!(
            d.cause
                .contains("oidc-provider/api.bitbucket.org/2.0/workspaces/acme"),
            "{d:?}"
        );
        assert!(
            d.notes.iter().any(|n| n.contains("custom audiences")),
            "{d:?}"
        );
    }

    #[test]
    fn access_denied_explains_the_sub_shape() {
        let t = token(true, false);
        let d = diagnose(
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            &ctx(&t, Operation::AssumeRoleWithWebIdentity),
        );
        assert!(
            d.notes.iter().any(|n| n.contains("deployment step")),
            "{d:?}"
        );
        assert!(d.notes.iter().any(|n| n.contains("aws:SourceIp")), "{d:?}");
        assert!(
            d.fix.contains(
                "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc:sub"
            ),
            "{d:?}"
        );
    }

    #[test]
    fn provider_message_names_the_issuer() {
        let t = token(false, false);
        let d = diagnose(
            "InvalidIdentityToken",
            "No OpenIDConnect provider found in your account for https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
            &ctx(&t, Operation::AssumeRoleWithWebIdentity),
        );
        assert!(d.cause.contains("account 123456789012"), "{d:?}");
        assert!(
            d.fix.contains(
                "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"
            ),
            "{d:?}"
        );
    }
}
