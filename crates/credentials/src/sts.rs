//! Calls to AWS STS through the official AWS SDK for Rust: the web-identity exchange, `--chain` hops with
//! `AssumeRole`, and `GetCallerIdentity`. The region is always explicit, the endpoint honours
//! `--endpoint-url`/`AWS_ENDPOINT_URL_STS`/`AWS_ENDPOINT_URL`, and retries (jittered backoff on throttling,
//! `IDPCommunicationError`, 5xx and transport failures) stay inside one total time budget.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use aws_sdk_sts::config::SharedCredentialsProvider;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sts::types::PolicyDescriptorType;
use keyless_net::aws::{SdkOptions, Timeouts};
use keyless_net::http::{HttpError, ProxyConfig};
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::credentials::{Credentials, Hop, Session, SessionAttributes};
use crate::diagnose::{self, Context, Diagnosis, Operation};
use crate::duration::{self, MIN_SESSION};
use crate::retry;
use crate::secret::Secret;
use crate::settings::Settings;
use crate::token::TokenInfo;

/// Why no credentials came back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AssumeError {
    /// AWS answered with an error (the usual case: a trust or provider problem on the AWS side).
    #[error("{0}")]
    Rejected(Box<Rejection>),
    /// STS could not be reached at all.
    #[error(
        "could not reach STS at {endpoint} for {operation}: {detail}\n  fix: check the region `{region}`{hint} and the step's network access (proxies: HTTPS_PROXY)"
    )]
    Unreachable {
        /// The failing call.
        operation: Operation,
        /// The endpoint tried.
        endpoint: String,
        /// Region.
        region: String,
        /// Transport error (no secrets: request bodies are never included).
        detail: String,
        /// Extra hint.
        hint: String,
    },
    /// The time budget ran out while retrying.
    #[error(
        "gave up on {operation} after {attempts} attempt(s) in {budget} (--timeout): {last}\n  fix: raise --timeout, or re-run the step if AWS or the issuer had an outage"
    )]
    TimedOut {
        /// The failing call.
        operation: Operation,
        /// Attempts made.
        attempts: u32,
        /// The budget, human form.
        budget: String,
        /// The last failure seen.
        last: String,
    },
    /// The credentials belong to an account outside `--allowed-account-ids`.
    #[error(
        "the assumed role {assumed} is in account {account}, which --allowed-account-ids ({allowed}) does not allow; the credentials were discarded"
    )]
    AccountNotAllowed {
        /// The assumed-role ARN.
        assumed: String,
        /// Its account.
        account: String,
        /// The allowed list.
        allowed: String,
    },
    /// AWS's answer lacked required parts.
    #[error("STS returned an unusable {operation} response: {detail}")]
    InvalidResponse {
        /// The call.
        operation: Operation,
        /// What was missing.
        detail: String,
    },
}

/// AWS's refusal, with the diagnosis.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// The failing call.
    pub operation: Operation,
    /// The role requested.
    pub role_arn: String,
    /// AWS's error code.
    pub code: String,
    /// AWS's message.
    pub message: String,
    /// Cause and fix.
    pub diagnosis: Diagnosis,
    /// The token's claims, when known.
    pub token: Option<TokenInfo>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.diagnosis;
        write!(
            f,
            "AWS STS refused {} for {}: {}: {}\n  cause: {}",
            self.operation, self.role_arn, self.code, self.message, d.cause
        )?;
        if let Some(token) = self.token.as_ref().filter(|_| d.show_token) {
            write!(f, "\n  token: {}", token.summary())?;
        }
        for note in &d.notes {
            write!(f, "\n  note: {note}")?;
        }
        write!(f, "\n  fix: {}", d.fix)
    }
}

impl AssumeError {
    /// AWS's refusal, when that is what happened (callers add notes to its diagnosis).
    pub fn rejection_mut(&mut self) -> Option<&mut Rejection> {
        match self {
            Self::Rejected(rejection) => Some(rejection),
            _ => None,
        }
    }
}

/// The caller identity GetCallerIdentity reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// Account ID.
    pub account: String,
    /// ARN of the caller.
    pub arn: String,
    /// Unique ID (`AROA…:session`).
    pub user_id: String,
}

/// One failed attempt, classified.
enum Failure {
    Service {
        code: String,
        message: String,
        status: u16,
    },
    Transport {
        detail: String,
        retryable: bool,
    },
    Other(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Service {
                code,
                message,
                status,
            } => write!(f, "{code} (HTTP {status}): {message}"),
            Self::Transport { detail, .. } | Self::Other(detail) => f.write_str(detail),
        }
    }
}

fn classify<E>(err: SdkError<E>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(ctx) => Failure::Service {
            code: ctx.err().code().unwrap_or("Unknown").to_owned(),
            message: ctx.err().message().unwrap_or_default().to_owned(),
            status: ctx.raw().status().as_u16(),
        },
        SdkError::TimeoutError(_) => Failure::Transport {
            detail: "the request timed out".to_owned(),
            retryable: true,
        },
        SdkError::DispatchFailure(d) => Failure::Transport {
            detail: DisplayErrorContext(&err).to_string(),
            retryable: d.is_io() || d.is_timeout() || d.is_other(),
        },
        SdkError::ResponseError(r) => {
            let status = r.raw().status().as_u16();
            Failure::Transport {
                detail: format!(
                    "unparseable response (HTTP {status}): {}",
                    DisplayErrorContext(&err)
                ),
                retryable: retry::is_retryable_status(status),
            }
        }
        _ => Failure::Other(DisplayErrorContext(&err).to_string()),
    }
}

/// Everything a call needs to turn a failure into an [`AssumeError`].
struct CallInfo<'a> {
    operation: Operation,
    role_arn: &'a str,
    previous: Option<&'a str>,
    settings: Option<&'a Settings>,
    region: &'a str,
    endpoint: String,
}

/// Runs `call` until it succeeds, fails for good, or the deadline passes.
async fn with_retries<T, E, F, Fut>(
    info: &CallInfo<'_>,
    deadline: Instant,
    budget: Duration,
    mut call: F,
) -> Result<T, AssumeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut attempts = 0u32;
    let timed_out = |attempts, last: String| AssumeError::TimedOut {
        operation: info.operation,
        attempts,
        budget: duration::human(budget.as_secs().max(1)),
        last,
    };
    loop {
        attempts += 1;
        let failure = match tokio::time::timeout_at(deadline, call()).await {
            Err(_) => {
                return Err(timed_out(
                    attempts,
                    "no answer before the deadline".to_owned(),
                ));
            }
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) => classify(err),
        };
        let retryable = match &failure {
            Failure::Service { code, status, .. } => {
                retry::is_retryable_code(code) || retry::is_retryable_status(*status)
            }
            Failure::Transport { retryable, .. } => *retryable,
            Failure::Other(_) => false,
        };
        if !retryable {
            return Err(final_error(info, failure));
        }
        let wait = retry::backoff(attempts);
        if Instant::now() + wait >= deadline {
            return Err(match failure {
                Failure::Service { .. } => final_error(info, failure),
                other => timed_out(attempts, other.to_string()),
            });
        }
        tokio::time::sleep(wait).await;
    }
}

fn final_error(info: &CallInfo<'_>, failure: Failure) -> AssumeError {
    match failure {
        Failure::Service { code, message, .. } => {
            let empty = TokenInfo::default();
            let token = info.settings.map(|s| &s.token_info).unwrap_or(&empty);
            let ctx = Context {
                operation: info.operation,
                role_arn: info.role_arn,
                previous: info.previous,
                token,
                duration_secs: info.settings.map(|s| s.duration_secs).unwrap_or(3600),
                region: info.region,
                has_session_policy: info
                    .settings
                    .is_some_and(|s| s.policy.is_some() || !s.policy_arns.is_empty()),
                session_name: info
                    .settings
                    .map(|s| s.session_name.as_str())
                    .unwrap_or_default(),
            };
            let diagnosis = diagnose::diagnose(&code, &message, &ctx);
            AssumeError::Rejected(Box::new(Rejection {
                operation: info.operation,
                role_arn: info.role_arn.to_owned(),
                code,
                message,
                diagnosis,
                token: info.settings.map(|s| s.token_info.clone()),
            }))
        }
        Failure::Transport { detail, .. } | Failure::Other(detail) => {
            let hint = if info.endpoint.contains(".amazonaws.com") {
                " (a misspelt region resolves to a host that does not exist)".to_owned()
            } else {
                " and --endpoint-url".to_owned()
            };
            AssumeError::Unreachable {
                operation: info.operation,
                endpoint: info.endpoint.clone(),
                region: info.region.to_owned(),
                detail,
                hint,
            }
        }
    }
}

/// The endpoint keyless will call, for messages.
pub fn endpoint_for(region: &str, endpoint_url: Option<&str>) -> String {
    endpoint_url.map(str::to_owned).unwrap_or_else(|| {
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("https://sts.{region}.{suffix}")
    })
}

/// Builds the STS client configuration: explicit region, optional endpoint, SDK retries off (keyless retries
/// with its own budget), from keyless-net's one SDK configuration (no credentials: web identity needs none;
/// proxies from `HTTPS_PROXY`/`NO_PROXY`...). Fails only on a proxy variable that is not a proxy URL.
pub fn sts_config(
    region: &str,
    endpoint_url: Option<&str>,
    budget: Duration,
    proxy: &ProxyConfig,
) -> Result<aws_sdk_sts::Config, HttpError> {
    let sdk = keyless_net::aws::fixed(&SdkOptions {
        region: Some(region.to_owned()),
        endpoint_url: endpoint_url.map(str::to_owned),
        timeouts: Some(Timeouts {
            connect: budget.min(Duration::from_secs(10)),
            attempt: budget,
        }),
        max_attempts: Some(1),
        proxy: Some(proxy.clone()),
        ..SdkOptions::default()
    })?;
    Ok(aws_sdk_sts::Config::from(&sdk))
}

/// A proxy variable that cannot be used: STS cannot be reached through it.
fn unreachable(
    operation: Operation,
    endpoint: &str,
    region: &str,
    error: &HttpError,
) -> AssumeError {
    AssumeError::Unreachable {
        operation,
        endpoint: endpoint.to_owned(),
        region: region.to_owned(),
        detail: error.to_string(),
        hint: String::new(),
    }
}

fn convert(
    operation: Operation,
    creds: Option<&aws_sdk_sts::types::Credentials>,
) -> Result<Credentials, AssumeError> {
    let creds = creds.ok_or_else(|| AssumeError::InvalidResponse {
        operation,
        detail: "no Credentials element".to_owned(),
    })?;
    let expiration =
        OffsetDateTime::from_unix_timestamp(creds.expiration().secs()).map_err(|_| {
            AssumeError::InvalidResponse {
                operation,
                detail: "Expiration out of range".to_owned(),
            }
        })?;
    Ok(Credentials {
        access_key_id: creds.access_key_id().to_owned(),
        secret_access_key: Secret::new(creds.secret_access_key()),
        session_token: Secret::new(creds.session_token()),
        expiration,
    })
}

/// Exchanges the step's OIDC token for credentials of `settings.role_arn`, then walks `settings.chain`. Session
/// policies apply to the last hop (the credentials you get); intermediate hops ask for the shortest session.
pub async fn assume(settings: &Settings) -> Result<Session, AssumeError> {
    let deadline = Instant::now() + settings.timeout;
    let endpoint = endpoint_for(&settings.region, settings.endpoint_url.as_deref());
    let config = sts_config(
        &settings.region,
        settings.endpoint_url.as_deref(),
        settings.timeout,
        &settings.proxy,
    )
    .map_err(|error| {
        unreachable(
            Operation::AssumeRoleWithWebIdentity,
            &endpoint,
            &settings.region,
            &error,
        )
    })?;
    let client = aws_sdk_sts::Client::from_conf(config.clone());
    let hops_total = 1 + settings.chain.len();
    let policy_arns: Vec<PolicyDescriptorType> = settings
        .policy_arns
        .iter()
        .map(|arn| PolicyDescriptorType::builder().arn(arn).build())
        .collect();

    let is_last = |index: usize| index + 1 == hops_total;
    let info = CallInfo {
        operation: Operation::AssumeRoleWithWebIdentity,
        role_arn: settings.role_arn.as_str(),
        previous: None,
        settings: Some(settings),
        region: &settings.region,
        endpoint: endpoint.clone(),
    };
    let duration = if is_last(0) {
        settings.duration_secs
    } else {
        MIN_SESSION
    };
    let output = with_retries(&info, deadline, settings.timeout, || {
        let mut request = client
            .assume_role_with_web_identity()
            .role_arn(settings.role_arn.as_str())
            .role_session_name(&settings.session_name)
            .web_identity_token(settings.token.expose())
            .duration_seconds(i32::try_from(duration).unwrap_or(3600));
        if is_last(0) {
            request = request
                .set_policy(settings.policy.clone())
                .set_policy_arns((!policy_arns.is_empty()).then(|| policy_arns.clone()));
        }
        request.send()
    })
    .await?;
    let mut credentials = convert(Operation::AssumeRoleWithWebIdentity, output.credentials())?;
    let mut hops = vec![Hop {
        role_arn: settings.role_arn.to_string(),
        assumed_role_arn: output
            .assumed_role_user()
            .map(|u| u.arn().to_owned())
            .unwrap_or_default(),
    }];

    // Tags, transitive keys and the source identity go on the first --chain hop (AWS carries transitive tags and
    // the source identity into later hops by itself); external IDs go on the hop they are given for.
    let mut extras = settings.extras.clone();
    let mut dropped_tags = Vec::new();
    for (index, role) in settings.chain.iter().enumerate() {
        let hop_index = index + 1;
        let previous = hops
            .last()
            .map(|h| h.assumed_role_arn.clone())
            .unwrap_or_default();
        let hop_client = aws_sdk_sts::Client::from_conf(
            config
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(credentials.to_sdk()))
                .build(),
        );
        let info = CallInfo {
            operation: Operation::AssumeRole,
            role_arn: role.as_str(),
            previous: Some(&previous),
            settings: Some(settings),
            region: &settings.region,
            endpoint: endpoint.clone(),
        };
        let duration = if is_last(hop_index) {
            settings.duration_secs.min(duration::MAX_CHAINED_SESSION)
        } else {
            MIN_SESSION
        };
        let output = loop {
            let result = with_retries(&info, deadline, settings.timeout, || {
                let mut request = hop_client
                    .assume_role()
                    .role_arn(role.as_str())
                    .role_session_name(&settings.session_name)
                    .duration_seconds(i32::try_from(duration).unwrap_or(3600))
                    .set_external_id(extras.external_id(index).map(str::to_owned));
                if index == 0 {
                    request = request
                        .set_tags(sdk_tags(&extras.tags))
                        .set_transitive_tag_keys(
                            (!extras.transitive_keys.is_empty())
                                .then(|| extras.transitive_keys.clone()),
                        )
                        .set_source_identity(extras.source_identity.clone());
                }
                if is_last(hop_index) {
                    request = request
                        .set_policy(settings.policy.clone())
                        .set_policy_arns((!policy_arns.is_empty()).then(|| policy_arns.clone()));
                }
                request.send()
            })
            .await;
            // AWS packs session policies and tags into a size limit of its own that plain-text limits do not
            // predict: drop the optional (default) tags one at a time and ask again, as configure-aws-credentials
            // does (aws-actions/configure-aws-credentials#1803).
            match result {
                Err(AssumeError::Rejected(rejection))
                    if index == 0 && rejection.code == "PackedPolicyTooLarge" =>
                {
                    match extras.drop_optional() {
                        Some(tag) => dropped_tags.push(tag.key),
                        None => return Err(AssumeError::Rejected(rejection)),
                    }
                }
                other => break other?,
            }
        };
        credentials = convert(Operation::AssumeRole, output.credentials())?;
        hops.push(Hop {
            role_arn: role.to_string(),
            assumed_role_arn: output
                .assumed_role_user()
                .map(|u| u.arn().to_owned())
                .unwrap_or_default(),
        });
    }
    let attributes = if settings.chain.is_empty() {
        SessionAttributes::default()
    } else {
        SessionAttributes {
            tags: extras
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect(),
            transitive_tag_keys: extras.transitive_keys.clone(),
            source_identity: extras.source_identity.clone(),
            dropped_tags,
        }
    };

    let account = hops
        .last()
        .and_then(|h| crate::arn::account_of(&h.assumed_role_arn))
        .map(str::to_owned);
    if !settings.allowed_account_ids.is_empty() {
        let actual = account.clone().unwrap_or_else(|| "(unknown)".to_owned());
        if !settings.allowed_account_ids.contains(&actual) {
            return Err(AssumeError::AccountNotAllowed {
                assumed: hops
                    .last()
                    .map(|h| h.assumed_role_arn.clone())
                    .unwrap_or_default(),
                account: actual,
                allowed: settings.allowed_account_ids.join(","),
            });
        }
    }
    Ok(Session {
        credentials,
        region: settings.region.clone(),
        hops,
        account,
        attributes,
    })
}

/// The SDK's tag list, or `None` for no tags (so the parameter is left out).
fn sdk_tags(tags: &[crate::tags::SessionTag]) -> Option<Vec<aws_sdk_sts::types::Tag>> {
    (!tags.is_empty()).then(|| {
        tags.iter()
            .filter_map(|t| {
                aws_sdk_sts::types::Tag::builder()
                    .key(&t.key)
                    .value(&t.value)
                    .build()
                    .ok()
            })
            .collect()
    })
}

/// Calls `GetCallerIdentity` with the session's credentials (the doctor's final check), through `proxy`
/// (the [`Settings::proxy`] the session was assumed with).
pub async fn caller_identity(
    session: &Session,
    endpoint_url: Option<&str>,
    budget: Duration,
    proxy: &ProxyConfig,
) -> Result<Identity, AssumeError> {
    let deadline = Instant::now() + budget;
    let endpoint = endpoint_for(&session.region, endpoint_url);
    let config = sts_config(&session.region, endpoint_url, budget, proxy)
        .map_err(|error| {
            unreachable(
                Operation::GetCallerIdentity,
                &endpoint,
                &session.region,
                &error,
            )
        })?
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(session.credentials.to_sdk()))
        .build();
    let client = aws_sdk_sts::Client::from_conf(config);
    let info = CallInfo {
        operation: Operation::GetCallerIdentity,
        role_arn: session.assumed_role_arn(),
        previous: None,
        settings: None,
        region: &session.region,
        endpoint,
    };
    let output = with_retries(&info, deadline, budget, || {
        client.get_caller_identity().send()
    })
    .await?;
    Ok(Identity {
        account: output.account().unwrap_or_default().to_owned(),
        arn: output.arn().unwrap_or_default().to_owned(),
        user_id: output.user_id().unwrap_or_default().to_owned(),
    })
}
