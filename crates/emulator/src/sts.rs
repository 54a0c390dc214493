//! STS: `AssumeRoleWithWebIdentity` (unsigned), `AssumeRole` (role chaining, signed) and `GetCallerIdentity`
//! (signed), validating and answering like AWS (aws.md §1, §2, §8).

use std::time::SystemTime;

use axum::http::StatusCode;
use keyless_iam::arn::{ProviderArn, RoleArnParts};
use keyless_iam::{Principal, Request, sts, tag};
use keyless_oidc::{UnverifiedToken, VerifyError, VerifyOptions};
use time::OffsetDateTime;

use crate::error::AwsError;
use crate::iam::iso8601;
use crate::sessions::{self, SessionInfo};
use crate::state::{Role, Secret};
use crate::validate::{Echo, Violations, is_arn_chars, is_name_chars, is_policy_chars};
use crate::xml::{Service, Xml};
use crate::{Caller, Incoming, Shared, authenticate, read_lock, trust, unix};

/// The STS actions.
pub const ACTIONS: &[&str] = &[
    "AssumeRoleWithWebIdentity",
    "AssumeRole",
    "GetCallerIdentity",
    "GetSessionToken",
    "GetAccessKeyInfo",
    "DecodeAuthorizationMessage",
];

/// "Couldn't retrieve verification key…", verbatim from AWS (note the double space).
pub const NO_VERIFICATION_KEY: &str = "Couldn't retrieve verification key from your identity provider,  please reference \
     AssumeRoleWithWebIdentity documentation for requirements";

/// The maximum session of a role assumed with a role session's credentials.
const CHAINED_MAX: i64 = 3600;

/// Runs one STS action.
pub(crate) async fn handle(
    shared: &Shared,
    action: &str,
    incoming: &Incoming<'_>,
) -> Result<Option<Xml>, AwsError> {
    match action {
        "AssumeRoleWithWebIdentity" => assume_role_with_web_identity(shared, incoming).await,
        "AssumeRole" => assume_role(shared, incoming),
        "GetCallerIdentity" => get_caller_identity(shared, incoming),
        "GetSessionToken" => get_session_token(shared, incoming),
        "GetAccessKeyInfo" => get_access_key_info(shared, incoming),
        "DecodeAuthorizationMessage" => decode_authorization_message(shared, incoming),
        _ => Err(AwsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            format!("Could not find operation {action}"),
        )),
    }
}

fn get_caller_identity(shared: &Shared, incoming: &Incoming<'_>) -> Result<Option<Xml>, AwsError> {
    let caller = authenticate(shared, incoming, Service::Sts)?;
    let user_id = match &caller {
        Caller::Root { account } => account.clone(),
        Caller::Session(session) => session.user_id(),
    };
    let mut xml = Xml::new();
    xml.leaf("Arn", &caller.arn())
        .leaf("UserId", &user_id)
        .leaf("Account", caller.account());
    Ok(Some(xml))
}

/// The longest `GetSessionToken` session of an account root ("Sessions for account owners are restricted to a
/// maximum of 3,600 seconds ... If the duration is longer than one hour, the session ... defaults to one hour",
/// STS API model).
const ROOT_SESSION_MAX: i64 = 3600;

/// `GetSessionToken` (SigV4): temporary credentials for the caller's long-term keys. The emulator's long-term
/// keys are its accounts' root keys, so sessions last at most one hour; session credentials cannot call it.
fn get_session_token(shared: &Shared, incoming: &Incoming<'_>) -> Result<Option<Xml>, AwsError> {
    let caller = authenticate(shared, incoming, Service::Sts)?;
    let p = incoming.params;
    let mut v = Violations::default();
    let duration = v.integer("durationSeconds", p.get("DurationSeconds"), 900, 129_600);
    let serial = p.get("SerialNumber");
    v.length("serialNumber", serial, 9, 256, Echo::Value);
    v.pattern("serialNumber", serial, r"[\w+=/:,.@-]*", |s| {
        is_name_chars(&s.replace(['/', ':'], ""))
    });
    let code = p.get("TokenCode");
    v.length("tokenCode", code, 6, 6, Echo::Value);
    v.pattern("tokenCode", code, r"[\d]*", |c| {
        c.bytes().all(|b| b.is_ascii_digit())
    });
    v.finish()?;
    let Caller::Root { account } = &caller else {
        return Err(AwsError::access_denied(
            "Cannot call GetSessionToken with session credentials",
        ));
    };
    if serial.is_some() || code.is_some() {
        // No MFA devices exist in the emulator, so no code can be right.
        return Err(AwsError::access_denied(
            "MultiFactorAuthentication failed with invalid MFA one time pass code.",
        ));
    }
    let duration = duration.unwrap_or(ROOT_SESSION_MAX).min(ROOT_SESSION_MAX);
    let expires_at = unix(incoming.now) + duration;
    let info = SessionInfo {
        access_key_id: crate::ids::temporary_key_id(account),
        account: account.clone(),
        role_name: String::new(),
        role_id: String::new(),
        session_name: String::new(),
        expires_at,
        chained: false,
        root: true,
        tags: Vec::new(),
        transitive_tag_keys: Vec::new(),
        source_identity: None,
    };
    let key: Secret = read_lock(&shared.state).session_key.clone();
    let (secret, token) = sessions::issue(&key, &info);
    let mut xml = Xml::new();
    write_credentials(&mut xml, &info, &secret, &token);
    Ok(Some(xml))
}

/// `GetAccessKeyInfo` (SigV4): the account of an access key id: an account's admin key, or a temporary key
/// (whose id encodes its account). Keys the emulator never issued are a `ValidationError` (AWS decodes any key
/// id; the emulator can only answer for its own, see docs/emulator.md).
fn get_access_key_info(shared: &Shared, incoming: &Incoming<'_>) -> Result<Option<Xml>, AwsError> {
    authenticate(shared, incoming, Service::Sts)?;
    let mut v = Violations::default();
    let key = v.required("accessKeyId", incoming.params.get("AccessKeyId"));
    v.length("accessKeyId", key, 16, 128, Echo::Value);
    v.pattern("accessKeyId", key, r"[\w]*", |k| {
        k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    v.finish()?;
    let key = key.unwrap_or_default();
    let account = {
        let state = read_lock(&shared.state);
        state
            .accounts
            .iter()
            .find(|(_, a)| a.access_key_id == key)
            .map(|(id, _)| id.clone())
    }
    .or_else(|| crate::ids::account_of_temporary_key(key))
    .ok_or_else(|| {
        AwsError::validation(
            "The access key ID was not issued by this emulator, so its account cannot be told.",
        )
    })?;
    let mut xml = Xml::new();
    xml.leaf("Account", &account);
    Ok(Some(xml))
}

/// `DecodeAuthorizationMessage` (SigV4): the emulator's `AccessDenied` errors carry no encoded message, so there
/// is nothing it could decode: every message is `InvalidAuthorizationMessageException`.
fn decode_authorization_message(
    shared: &Shared,
    incoming: &Incoming<'_>,
) -> Result<Option<Xml>, AwsError> {
    authenticate(shared, incoming, Service::Sts)?;
    let mut v = Violations::default();
    let message = v.required("encodedMessage", incoming.params.get("EncodedMessage"));
    v.length("encodedMessage", message, 1, 10_240, Echo::Hidden);
    v.finish()?;
    Err(AwsError::new(
        StatusCode::BAD_REQUEST,
        "InvalidAuthorizationMessageException",
        "The encoded authorization message is invalid: the emulator issues no encoded authorization messages.",
    ))
}

/// The role an ARN names, as keyless-iam splits it; the emulator serves the `aws` partition only.
fn parse_role_arn(arn: &str) -> Option<RoleArnParts<'_>> {
    RoleArnParts::split(arn).filter(|parts| parts.partition == "aws")
}

/// The parameters AssumeRole and AssumeRoleWithWebIdentity share.
struct Common<'a> {
    role_arn: &'a str,
    session_name: &'a str,
    duration: Option<i64>,
    has_session_policy: bool,
}

fn common_params<'a>(
    incoming: &'a Incoming<'_>,
    v: &mut Violations,
) -> Result<Common<'a>, AwsError> {
    let p = incoming.params;
    let role_arn = v.required("roleArn", p.get("RoleArn"));
    v.length("roleArn", role_arn, 20, 2048, Echo::Value);
    v.pattern(
        "roleArn",
        role_arn,
        r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+",
        is_arn_chars,
    );
    let session_name = v.required("roleSessionName", p.get("RoleSessionName"));
    v.length("roleSessionName", session_name, 2, 64, Echo::Value);
    v.pattern(
        "roleSessionName",
        session_name,
        r"[\w+=,.@-]*",
        is_name_chars,
    );
    let policy = p.get("Policy");
    v.length("policy", policy, 1, 2048, Echo::Value);
    v.pattern(
        "policy",
        policy,
        r"[\u0009\u000A\u000D\u0020-\u00FF]+",
        is_policy_chars,
    );
    let arns = p
        .structs("PolicyArns")
        .map_err(|e| {
            AwsError::new(
                StatusCode::BAD_REQUEST,
                "MalformedQueryString",
                e.to_string(),
            )
        })?
        .unwrap_or_default();
    v.list_length("policyArns", arns.len(), 0, 10);
    for (i, arn) in arns.iter().enumerate() {
        let value = arn.get("arn").map(String::as_str);
        v.length(
            &format!("policyArns.{}.member.arn", i + 1),
            value,
            20,
            2048,
            Echo::Value,
        );
    }
    let duration = v.integer("durationSeconds", p.get("DurationSeconds"), 900, 43200);
    Ok(Common {
        role_arn: role_arn.unwrap_or_default(),
        session_name: session_name.unwrap_or_default(),
        duration,
        has_session_policy: policy.is_some() || !arns.is_empty(),
    })
}

fn check_session_policy(incoming: &Incoming<'_>) -> Result<(), AwsError> {
    match incoming.params.get("Policy") {
        Some(policy) => trust::check_permission_policy(policy),
        None => Ok(()),
    }
}

/// Issues credentials for a role session and writes `AssumedRoleUser` + `Credentials`.
/// What a new role session is for.
struct Grant<'a> {
    account: &'a str,
    role: &'a Role,
    session_name: &'a str,
    now: SystemTime,
    duration: i64,
    chained: bool,
    /// Session tags, transitive keys and source identity the new session carries.
    attributes: Attributes,
}

/// What a session carries besides its role: tags (passed or inherited), which are transitive, its source identity.
#[derive(Debug, Default)]
struct Attributes {
    tags: Vec<(String, String)>,
    transitive_tag_keys: Vec<String>,
    source_identity: Option<String>,
}

fn issue(shared: &Shared, xml: &mut Xml, grant: Grant<'_>) {
    let Grant {
        account,
        role,
        session_name,
        now,
        duration,
        chained,
        attributes,
    } = grant;
    let expires_at = unix(now) + duration;
    let info = SessionInfo {
        access_key_id: crate::ids::temporary_key_id(account),
        account: account.to_owned(),
        role_name: role.name.clone(),
        role_id: role.role_id.clone(),
        session_name: session_name.to_owned(),
        expires_at,
        chained,
        root: false,
        tags: attributes.tags,
        transitive_tag_keys: attributes.transitive_tag_keys,
        source_identity: attributes.source_identity,
    };
    let key: Secret = read_lock(&shared.state).session_key.clone();
    let (secret, token) = sessions::issue(&key, &info);
    xml.open("AssumedRoleUser")
        .leaf("Arn", &info.arn())
        .leaf("AssumedRoleId", &info.user_id())
        .close("AssumedRoleUser");
    write_credentials(xml, &info, &secret, &token);
}

fn write_credentials(xml: &mut Xml, info: &SessionInfo, secret: &Secret, token: &Secret) {
    let expiration = OffsetDateTime::from_unix_timestamp(info.expires_at)
        .map(iso8601)
        .unwrap_or_default();
    xml.open("Credentials")
        .leaf("SessionToken", token.expose())
        .leaf("SecretAccessKey", secret.expose())
        .leaf("Expiration", &expiration)
        .leaf("AccessKeyId", &info.access_key_id)
        .close("Credentials");
}

/// `PackedPolicySize`: the percentage of the 2048-character session-policy allowance used. Emitted only when a
/// session policy or policy ARNs were passed (when AWS omits it is UNCONFIRMED; see docs/emulator.md).
fn packed_policy_size(incoming: &Incoming<'_>) -> u64 {
    let mut size = incoming
        .params
        .get("Policy")
        .map_or(0, keyless_iam::size_excluding_whitespace);
    size += incoming
        .params
        .names()
        .filter(|n| n.starts_with("PolicyArns.member."))
        .count()
        * 64;
    (size as u64 * 100).div_ceil(2048)
}

fn duration_exceeds_role() -> AwsError {
    AwsError::validation(
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
}

async fn assume_role_with_web_identity(
    shared: &Shared,
    incoming: &Incoming<'_>,
) -> Result<Option<Xml>, AwsError> {
    // Unsigned call: any Authorization header is ignored (aws.md §1.1; what AWS does with a bad one is UNCONFIRMED).
    let mut v = Violations::default();
    let common = common_params(incoming, &mut v)?;
    let token = v.required("webIdentityToken", incoming.params.get("WebIdentityToken"));
    v.length("webIdentityToken", token, 4, 20_000, Echo::Hidden);
    let provider_id = incoming.params.get("ProviderId");
    v.length("providerId", provider_id, 4, 2048, Echo::Value);
    v.finish()?;
    let token = token.unwrap_or_default();
    let denied = || AwsError::access_denied(sts::NOT_AUTHORIZED);

    // 1. The role, in the account named by the ARN. A missing role is AccessDenied (AWS does not reveal
    //    whether a role exists; UNCONFIRMED, see docs/emulator.md).
    let arn = parse_role_arn(common.role_arn)
        .ok_or_else(|| AwsError::validation("Request ARN is invalid"))?;
    let role = {
        let state = read_lock(&shared.state);
        let account = state.accounts.get(arn.account).ok_or_else(denied)?;
        account
            .role(arn.name)
            .filter(|r| r.path == arn.path && r.name == arn.name)
            .ok_or_else(denied)?
            .clone()
    };
    let duration = common.duration.unwrap_or(3600);
    if duration > role.max_session_duration {
        return Err(duration_exceeds_role());
    }
    check_session_policy(incoming)?;

    // 2. The decision, through keyless_iam::sts (the one STS decision: provider by `iss` → audience ∈ client
    //    IDs → expiry → trust policy), on the token's claims as written. The signature is verified between the
    //    audience stage and the rest: AWS needs the provider before it can fetch the keys. Trailing whitespace
    //    from `echo $TOKEN > file` is dropped first, as AWS does (docs/emulator.md).
    let token = keyless_oidc::strip_wire_whitespace(token).map_err(|e| {
        AwsError::invalid_token(format!("The web identity token is not a valid JWT: {e}"))
    })?;
    let unverified = UnverifiedToken::parse(token).map_err(|e| {
        AwsError::invalid_token(format!("The web identity token is not a valid JWT: {e}"))
    })?;
    let providers: Vec<sts::Provider> = {
        let state = read_lock(&shared.state);
        state
            .accounts
            .get(arn.account)
            .map(|account| {
                account
                    .providers
                    .values()
                    .filter_map(|p| {
                        let arn =
                            ProviderArn::for_issuer(arn.account, &format!("https://{}", p.url))?;
                        Some(sts::Provider::new(arn, Some(p.client_ids.clone())))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // A stored policy that no longer parses (a hand-edited state file) allows nothing.
    let policy = shared.policies.get(&role.trust_policy).ok_or_else(denied)?;
    let context = sts::RequestContext::new(OffsetDateTime::from(incoming.now))
        .role_session_name(common.session_name);
    let context = context.network(incoming.network.clone());
    let decision = sts::decide(&providers, &policy, &unverified.decoded().claims, &context);
    if let Some(rejection) = &decision.rejection
        && matches!(rejection.stage, sts::Stage::Provider | sts::Stage::Audience)
    {
        return Err(rejection_error(rejection));
    }
    let iss = unverified
        .decoded()
        .claims
        .get("iss")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();

    // 3. Keys: the emulator's own issuers, else discovery + JWKS when --remote-issuers is on.
    let jwks = shared
        .issuer
        .jwks_for(&iss)
        .await
        .ok_or_else(|| AwsError::invalid_token(NO_VERIFICATION_KEY))?;

    // 4. Signature, required claims, times (keyless-oidc), then the rest of the decision.
    let verified = unverified
        .verify(&jwks, unix(incoming.now), &verify_options())
        .map_err(token_error)?;
    if let Some(rejection) = &decision.rejection {
        return Err(rejection_error(rejection));
    }
    let audience = decision.audience.clone().unwrap_or_default();

    // 6. Credentials.
    let mut xml = Xml::new();
    xml.leaf("SubjectFromWebIdentityToken", &verified.subject)
        .leaf("Audience", &audience);
    issue(
        shared,
        &mut xml,
        Grant {
            account: arn.account,
            role: &role,
            session_name: common.session_name,
            now: incoming.now,
            duration,
            chained: false,
            attributes: token_attributes(&verified.claims),
        },
    );
    if let Some(source_identity) = verified
        .claims
        .get("https://aws.amazon.com/source_identity")
        .and_then(|v| v.as_str())
    {
        xml.leaf("SourceIdentity", source_identity);
    }
    xml.leaf("Provider", &iss);
    if common.has_session_policy {
        xml.leaf(
            "PackedPolicySize",
            &packed_policy_size(incoming).to_string(),
        );
    }
    Ok(Some(xml))
}

/// STS's refusal as the wire error: `AccessDenied` (403), `ExpiredTokenException` and `InvalidIdentityToken` (400).
fn rejection_error(rejection: &sts::Rejection) -> AwsError {
    match rejection.code {
        sts::ErrorCode::AccessDenied => AwsError::access_denied(rejection.message.clone()),
        sts::ErrorCode::ExpiredTokenException => AwsError::new(
            StatusCode::BAD_REQUEST,
            "ExpiredTokenException",
            rejection.message.clone(),
        ),
        sts::ErrorCode::InvalidIdentityToken => AwsError::invalid_token(rejection.message.clone()),
    }
}

/// The oldest `iat` accepted, in seconds: 24 hours. AWS refuses old tokens with `ExpiredTokenException` "Token
/// too old: N" (observed for N = 441398, about 5.1 days, with `exp` still in the future) and accepts Kubernetes
/// projected tokens through their 24-hour life, so its limit lies between; the value is UNCONFIRMED
/// (docs/emulator.md).
pub const MAX_TOKEN_AGE_SECONDS: i64 = 24 * 60 * 60;

fn verify_options() -> VerifyOptions {
    VerifyOptions {
        max_age_seconds: Some(MAX_TOKEN_AGE_SECONDS),
        ..VerifyOptions::default()
    }
}

/// AWS's code and message for each way a token fails verification. Texts AWS has been observed to use are
/// verbatim; the others are choices documented in docs/emulator.md.
fn token_error(error: VerifyError) -> AwsError {
    match error {
        VerifyError::Malformed(e) => {
            AwsError::invalid_token(format!("The web identity token is not a valid JWT: {e}"))
        }
        VerifyError::AlgorithmNone
        | VerifyError::SymmetricAlgorithm { .. }
        | VerifyError::UnsupportedAlgorithm { .. }
        | VerifyError::AlgorithmNotAllowed { .. } => AwsError::invalid_token(
            "Unsupported token signing algorithm. Tokens must be signed using either RSA keys (RS256, RS384, or \
             RS512) or ECDSA keys (ES256, ES384, or ES512).",
        ),
        VerifyError::MissingKeyId { .. }
        | VerifyError::UnknownKeyId { .. }
        | VerifyError::UnusableKey { .. } => AwsError::invalid_token(NO_VERIFICATION_KEY),
        VerifyError::BadSignature { .. } => AwsError::invalid_token("Invalid token signature"),
        VerifyError::MissingIssuer => AwsError::invalid_token("Missing a required claim: iss"),
        VerifyError::MissingAudience | VerifyError::EmptyAudience => {
            AwsError::invalid_token("Missing a required claim: aud")
        }
        VerifyError::MissingSubject => AwsError::invalid_token("Missing a required claim: sub"),
        VerifyError::MissingExpiry => AwsError::invalid_token("Missing a required claim: exp"),
        VerifyError::MissingIssuedAt => AwsError::invalid_token("Missing a required claim: iat"),
        VerifyError::ClaimType { claim, .. } => {
            AwsError::invalid_token(format!("Invalid type for claim: {claim}"))
        }
        VerifyError::FloatTimestamp { .. } => AwsError::invalid_token(
            "Timestamps in the token must be formatted as either an integer or a long integer.",
        ),
        VerifyError::Expired { now, exp } => AwsError::new(
            StatusCode::BAD_REQUEST,
            "ExpiredTokenException",
            sts::expired_message(now, exp),
        ),
        VerifyError::NotYetValid { now, nbf } => AwsError::invalid_token(format!(
            "Token not yet valid: current date/time {now} must be after the not-before date/time {nbf}"
        )),
        VerifyError::IssuedInFuture { now, iat } => AwsError::invalid_token(format!(
            "Token issued in the future: current date/time {now} must be after the issued-at date/time {iat}"
        )),
        VerifyError::CriticalHeader { names } => AwsError::invalid_token(format!(
            "The web identity token's header lists critical extensions (crit) that are not supported: {names}"
        )),
        VerifyError::TooOld { age, .. } => AwsError::new(
            StatusCode::BAD_REQUEST,
            "ExpiredTokenException",
            format!("Token too old: {age}"),
        ),
    }
}

/// The session tags and source identity a web identity token carries (`https://aws.amazon.com/tags`,
/// `https://aws.amazon.com/source_identity`), already checked well-formed by the trust decision: the session keeps
/// them, and its transitive tags pass on through role chaining like any other session's.
fn token_attributes(claims: &serde_json::Map<String, serde_json::Value>) -> Attributes {
    let tags_claim = claims.get("https://aws.amazon.com/tags");
    let tags = tags_claim
        .and_then(|t| t.get("principal_tags"))
        .and_then(|t| t.as_object())
        .map(|tags| {
            tags.iter()
                .filter_map(|(key, value)| {
                    let value = value.as_array()?.first()?.as_str()?;
                    Some((key.clone(), value.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    let transitive_tag_keys = tags_claim
        .and_then(|t| t.get("transitive_tag_keys"))
        .and_then(|t| t.as_array())
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Attributes {
        tags,
        transitive_tag_keys,
        source_identity: claims
            .get("https://aws.amazon.com/source_identity")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
    }
}

/// A session tag, `(key, value)`.
type SessionTag = (String, String);

/// The allotment the emulator packs session tags into, in characters of keys plus values. AWS does not publish its
/// packed format; this value reproduces the public measurement: nine tags `T1`..`T9` with 250-character values
/// are "Packed size of session tags consumes 498% of allotted space" (2,268 characters;
/// aws-actions/configure-aws-credentials#1898, 2026). UNCONFIRMED for other inputs (docs/emulator.md).
pub const PACKED_TAGS_ALLOTMENT: usize = 456;

/// Percent of the packed allotment used by session tags (`ceil`).
fn packed_tags_percent(tags: &[(String, String)]) -> u64 {
    let chars: usize = tags
        .iter()
        .map(|(k, v)| k.chars().count() + v.chars().count())
        .sum();
    (chars as u64 * 100).div_ceil(PACKED_TAGS_ALLOTMENT as u64)
}

/// `InvalidParameterValue` (400), STS's code for tag parameters that are well-formed but not allowed.
fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::new(StatusCode::BAD_REQUEST, "InvalidParameterValue", message)
}

/// The `Tags` and `TransitiveTagKeys` of an AssumeRole request, model-validated (lengths, patterns, at most 50
/// each), as `(key, value)` pairs and keys.
fn tag_params(
    incoming: &Incoming<'_>,
    v: &mut Violations,
) -> Result<(Vec<SessionTag>, Vec<String>), AwsError> {
    let malformed = |e: crate::query::QueryError| {
        AwsError::new(
            StatusCode::BAD_REQUEST,
            "MalformedQueryString",
            e.to_string(),
        )
    };
    let raw = incoming
        .params
        .structs("Tags")
        .map_err(malformed)?
        .unwrap_or_default();
    let tags = crate::iam::validate_tags(raw, v)
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    let keys = incoming
        .params
        .list("TransitiveTagKeys")
        .map_err(malformed)?
        .unwrap_or_default();
    v.list_length("transitiveTagKeys", keys.len(), 0, tag::MAX_SESSION_TAGS);
    for (i, key) in keys.iter().enumerate() {
        let member = format!("transitiveTagKeys.{}.member", i + 1);
        v.length(&member, Some(key), 1, tag::MAX_KEY_CHARS, Echo::Value);
        v.pattern(&member, Some(key), tag::KEY_PATTERN, |k| {
            !k.is_empty() && tag::is_tag_text(k)
        });
    }
    Ok((tags, keys))
}

/// The tags the new session gets and their checks, as STS makes them (texts observed against AWS and recorded by
/// LocalStack's and others' snapshot tests; docs/emulator.md): keys unique regardless of case, not `aws:`-prefixed,
/// every transitive key among the tags, and no tag overriding a transitive tag the caller's session carries
/// (which the new session inherits, still transitive).
fn session_tags(
    caller: &Caller,
    tags: Vec<(String, String)>,
    transitive: Vec<String>,
) -> Result<Attributes, AwsError> {
    if tag::duplicate_key(tags.iter().map(|(k, _)| k.as_str())).is_some() {
        return Err(invalid_parameter(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        ));
    }
    if let Some((key, _)) = tags
        .iter()
        .find(|(k, _)| k.len() >= 4 && k[..4].eq_ignore_ascii_case("aws:"))
    {
        return Err(invalid_parameter(format!(
            "The tag key {key} uses the reserved prefix aws: and can't be set."
        )));
    }
    if !transitive
        .iter()
        .all(|t| tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(t)))
    {
        return Err(invalid_parameter(
            "The specified transitive tag key must be included in the requested tags.",
        ));
    }
    let mut attributes = Attributes::default();
    if let Caller::Session(session) = caller {
        for (key, value) in session.transitive_tags() {
            if tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
                return Err(invalid_parameter(
                    "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
                ));
            }
            attributes.tags.push((key.clone(), value.clone()));
            attributes.transitive_tag_keys.push(key.clone());
        }
        attributes.source_identity = session.source_identity.clone();
    }
    attributes.tags.extend(tags);
    for key in transitive {
        if !attributes
            .transitive_tag_keys
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&key))
        {
            attributes.transitive_tag_keys.push(key);
        }
    }
    Ok(attributes)
}

/// The tags a caller's requests carry as `aws:PrincipalTag/*`: its role's IAM tags, overridden (regardless of
/// case) by its session tags (IAM User Guide, "Passing session tags in AWS STS").
fn principal_tags(shared: &Shared, caller: &Caller) -> Vec<(String, String)> {
    let Caller::Session(session) = caller else {
        return Vec::new();
    };
    let mut tags: Vec<(String, String)> = {
        let state = read_lock(&shared.state);
        state
            .accounts
            .get(&session.account)
            .and_then(|a| a.role(&session.role_name))
            .map(|r| {
                r.tags
                    .iter()
                    .filter(|t| {
                        !session
                            .tags
                            .iter()
                            .any(|(k, _)| k.eq_ignore_ascii_case(&t.key))
                    })
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    tags.extend(session.tags.iter().cloned());
    tags
}

fn assume_role(shared: &Shared, incoming: &Incoming<'_>) -> Result<Option<Xml>, AwsError> {
    let caller = authenticate(shared, incoming, Service::Sts)?;
    let mut v = Violations::default();
    let common = common_params(incoming, &mut v)?;
    let external_id = incoming.params.get("ExternalId");
    v.length("externalId", external_id, 2, 1224, Echo::Value);
    v.pattern("externalId", external_id, r"[\w+=,.@:\/-]*", |e| {
        is_name_chars(&e.replace([':', '/'], ""))
    });
    let source_identity = incoming.params.get("SourceIdentity");
    v.length("sourceIdentity", source_identity, 2, 64, Echo::Value);
    v.pattern(
        "sourceIdentity",
        source_identity,
        r"[\w+=,.@-]*",
        is_name_chars,
    );
    let (tags, transitive) = tag_params(incoming, &mut v)?;
    v.finish()?;
    let requested_tags = !tags.is_empty();
    let mut attributes = session_tags(&caller, tags, transitive)?;
    // A source identity is set once and then persists through role chaining: another value is refused (observed
    // against AWS: mahitotsu/gekko_08, experiments/multi-hop-propagation, 2026).
    // (`aws:`, which AWS reserves, cannot get here: the model's pattern has no `:`.)
    if let Some(requested) = source_identity {
        match &attributes.source_identity {
            Some(set) if set != requested => {
                return Err(AwsError::validation(
                    "The source identity is already set for this assume role session",
                ));
            }
            _ => attributes.source_identity = Some(requested.to_owned()),
        }
    }
    let caller_arn = caller.arn();
    let denied = |action: &str| {
        AwsError::access_denied(format!(
            "User: {caller_arn} is not authorized to perform: {action} on resource: {}",
            common.role_arn
        ))
    };
    let arn = parse_role_arn(common.role_arn)
        .ok_or_else(|| AwsError::validation("Request ARN is invalid"))?;
    let role = {
        let state = read_lock(&shared.state);
        let account = state
            .accounts
            .get(arn.account)
            .ok_or_else(|| denied("sts:AssumeRole"))?;
        account
            .role(arn.name)
            .filter(|r| r.path == arn.path && r.name == arn.name)
            .cloned()
            .ok_or_else(|| denied("sts:AssumeRole"))?
    };
    // Role chaining: a role session assuming a role (a root GetSessionToken session is not a role session).
    let chained = matches!(&caller, Caller::Session(session) if !session.root);
    let duration = common.duration.unwrap_or(3600);
    if chained && duration > CHAINED_MAX {
        return Err(AwsError::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    if duration > role.max_session_duration {
        return Err(duration_exceeds_role());
    }
    check_session_policy(incoming)?;

    // Principals that name this caller in a trust policy: its own ARN, the role of a session, and its account
    // (an account principal delegates to the account's identity policies, which the emulator treats as
    // allowing everything for its admin credentials and sessions).
    let mut principals = vec![
        caller_arn.clone(),
        format!("arn:aws:iam::{}:root", caller.account()),
    ];
    // aws:PrincipalArn is the role's ARN for a role session (IAM User Guide, global condition keys).
    let mut principal_arn = caller_arn.clone();
    if let Caller::Session(session) = &caller {
        let state = read_lock(&shared.state);
        if let Some(source) = state
            .accounts
            .get(&session.account)
            .and_then(|a| a.role(&session.role_name))
        {
            let role_arn = format!(
                "arn:aws:iam::{}:role{}{}",
                session.account, source.path, source.name
            );
            principal_arn = role_arn.clone();
            principals.push(role_arn);
        }
    }
    let context = assume_role_context(
        shared,
        incoming,
        &caller,
        &principal_arn,
        &common,
        external_id,
        &attributes,
        &role,
    );
    let policy = shared
        .policies
        .get(&role.trust_policy)
        .ok_or_else(|| denied("sts:AssumeRole"))?;
    let allows = |action: &str| {
        let decisions: Vec<keyless_iam::Decision> = principals
            .iter()
            .map(|p| {
                policy.decide(&Request {
                    principal: Principal::aws(p.clone()),
                    action: action.into(),
                    context: context.clone(),
                })
            })
            .collect();
        decisions.contains(&keyless_iam::Decision::Allow)
            && !decisions.contains(&keyless_iam::Decision::ExplicitDeny)
    };
    // sts:TagSession for any tag the session gets, passed or inherited as transitive (a chain hop after a
    // transitive tag needs it: observed against AWS, gekko_08 above; terrapod#1546 for EKS Pod Identity), and
    // sts:SetSourceIdentity whenever the session has a source identity (IAM User Guide, role chaining).
    let mut actions = vec!["sts:AssumeRole"];
    if !attributes.tags.is_empty() {
        actions.push("sts:TagSession");
    }
    if attributes.source_identity.is_some() {
        actions.push("sts:SetSourceIdentity");
    }
    if let Some(action) = actions.into_iter().find(|a| !allows(a)) {
        return Err(denied(action));
    }

    // The packed size of session policies and tags (inherited transitive tags included).
    let policy_percent = if common.has_session_policy {
        packed_policy_size(incoming)
    } else {
        0
    };
    let tags_percent = packed_tags_percent(&attributes.tags);
    let packed = policy_percent + tags_percent;
    if packed > 100 {
        return Err(AwsError::new(
            StatusCode::BAD_REQUEST,
            "PackedPolicyTooLarge",
            if tags_percent >= policy_percent {
                format!("Packed size of session tags consumes {packed}% of allotted space.")
            } else {
                format!(
                    "Packed policy consumes {packed}% of allotted space, please use smaller policy."
                )
            },
        ));
    }
    let source_identity = attributes.source_identity.clone();
    let has_tags = !attributes.tags.is_empty();
    let mut xml = Xml::new();
    issue(
        shared,
        &mut xml,
        Grant {
            account: arn.account,
            role: &role,
            session_name: common.session_name,
            now: incoming.now,
            duration,
            chained,
            attributes,
        },
    );
    if let Some(source_identity) = source_identity {
        xml.leaf("SourceIdentity", &source_identity);
    }
    if common.has_session_policy || has_tags || requested_tags {
        xml.leaf("PackedPolicySize", &packed.to_string());
    }
    Ok(Some(xml))
}

/// The request context of AssumeRole: the global keys, the caller's (`aws:PrincipalArn`, `aws:PrincipalAccount`,
/// `aws:PrincipalTag/*`, `aws:SourceIdentity`), the target role's tags (`aws:ResourceTag/*`, `iam:ResourceTag/*`),
/// and the request's (`sts:RoleSessionName`, `sts:ExternalId`, `sts:SourceIdentity`, `aws:RequestTag/*`,
/// `aws:TagKeys`, `sts:TransitiveTagKeys`, inherited transitive tags included).
#[allow(clippy::too_many_arguments)]
fn assume_role_context(
    shared: &Shared,
    incoming: &Incoming<'_>,
    caller: &Caller,
    principal_arn: &str,
    common: &Common<'_>,
    external_id: Option<&str>,
    attributes: &Attributes,
    role: &Role,
) -> keyless_iam::Context {
    let mut context = keyless_iam::Context::new();
    for (key, value) in incoming.network.context_keys() {
        context.insert(key, value);
    }
    let now = OffsetDateTime::from(incoming.now);
    if let Ok(current) = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
    {
        context.insert("aws:CurrentTime", current);
    }
    context.insert("aws:EpochTime", now.unix_timestamp().to_string());
    context.insert("aws:PrincipalArn", principal_arn);
    context.insert("aws:PrincipalAccount", caller.account().to_owned());
    for (key, value) in principal_tags(shared, caller) {
        context.insert(format!("aws:PrincipalTag/{key}"), value);
    }
    if let Caller::Session(session) = caller
        && let Some(source_identity) = &session.source_identity
    {
        context.insert("aws:SourceIdentity", source_identity.as_str());
    }
    for tag in &role.tags {
        context.insert(format!("aws:ResourceTag/{}", tag.key), tag.value.as_str());
        context.insert(format!("iam:ResourceTag/{}", tag.key), tag.value.as_str());
    }
    context.insert("sts:RoleSessionName", common.session_name);
    if let Some(external_id) = external_id {
        context.insert("sts:ExternalId", external_id);
    }
    if let Some(source_identity) = &attributes.source_identity {
        context.insert("sts:SourceIdentity", source_identity.as_str());
    }
    if !attributes.tags.is_empty() {
        for (key, value) in &attributes.tags {
            context.insert(format!("aws:RequestTag/{key}"), value.as_str());
        }
        context.insert(
            "aws:TagKeys",
            keyless_iam::ContextValue::Multi(
                attributes.tags.iter().map(|(k, _)| k.clone()).collect(),
            ),
        );
    }
    if !attributes.transitive_tag_keys.is_empty() {
        context.insert(
            "sts:TransitiveTagKeys",
            keyless_iam::ContextValue::Multi(attributes.transitive_tag_keys.clone()),
        );
    }
    context
}
