//! The one AWS SDK configuration of keyless (feature `sdk`, part of `aws`): every service client (STS for `assume`, IAM for
//! `apply`/`check --live`/`demo`, S3 and CloudFront for `deploy`) is built from an [`SdkConfig`] made here, so the
//! region, an endpoint override (the emulator, moto, LocalStack), the credentials, timeouts and retries are set
//! in one place.
//!
//! - [`load`]: through aws-config's loader, i.e. the SDK's default credential chain and shared config files
//!   (`AWS_PROFILE`, `~/.aws/config`, IMDS...), for commands that act as the user (`apply`, `deploy`).
//! - [`fixed`]: without the loader, for clients whose credentials keyless already holds (the web-identity
//!   session, the emulator's admin keys) or needs none (`AssumeRoleWithWebIdentity`): nothing is read from the
//!   environment or the disk.
//!
//! A plain `http://` endpoint gets an HTTP client that never loads the platform's root certificates
//! ([`plain_http_client`]).

use std::time::Duration;

pub use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::config::SharedHttpClient;

/// What a client needs; unset fields keep the SDK's defaults (for [`load`]: what the environment says).
#[derive(Clone, Debug, Default)]
pub struct SdkOptions {
    pub region: Option<String>,
    /// Every service's endpoint (`--endpoint-url`).
    pub endpoint_url: Option<String>,
    /// Explicit credentials; `None` leaves the default chain (for [`load`]) or none (for [`fixed`]).
    pub credentials: Option<SharedCredentialsProvider>,
    /// A named profile of the shared config files, for its credentials too (only [`load`] reads profiles).
    pub profile: Option<String>,
    /// `connect` and whole-attempt timeouts.
    pub timeouts: Option<Timeouts>,
    /// `None` keeps the SDK's standard retries; `Some(1)` turns them off.
    pub max_attempts: Option<u32>,
}

/// Timeouts of one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub attempt: Duration,
}

impl SdkOptions {
    fn timeout_config(&self) -> Option<TimeoutConfig> {
        self.timeouts.map(|t| {
            TimeoutConfig::builder()
                .connect_timeout(t.connect)
                .operation_attempt_timeout(t.attempt)
                .build()
        })
    }

    fn retry_config(&self) -> Option<RetryConfig> {
        self.max_attempts.map(|attempts| {
            if attempts <= 1 {
                RetryConfig::disabled()
            } else {
                RetryConfig::standard().with_max_attempts(attempts)
            }
        })
    }
}

/// The configuration through aws-config's loader (credential chain, profiles, environment).
pub async fn load(options: &SdkOptions) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &options.profile {
        // `profile_name` alone is not enough: the default chain reads AWS_ACCESS_KEY_ID first, so in CI (where
        // those are set for one account) every other account's profile would be ignored.
        let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_name(profile)
            .build();
        loader = loader
            .profile_name(profile)
            .credentials_provider(credentials);
    }
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
        if let Some(client) = plain_http_client(url) {
            loader = loader.http_client(client);
        }
    }
    if let Some(credentials) = &options.credentials {
        loader = loader.credentials_provider(credentials.clone());
    }
    if let Some(timeouts) = options.timeout_config() {
        loader = loader.timeout_config(timeouts);
    }
    if let Some(retry) = options.retry_config() {
        loader = loader.retry_config(retry);
    }
    loader.load().await
}

/// The configuration from `options` alone: nothing read from the environment, the disk or IMDS.
pub fn fixed(options: &SdkOptions) -> SdkConfig {
    let mut builder = SdkConfig::builder().behavior_version(BehaviorVersion::latest());
    if let Some(region) = &options.region {
        builder = builder.region(Region::new(region.clone()));
    }
    if let Some(url) = &options.endpoint_url {
        builder = builder.endpoint_url(url);
        if let Some(client) = plain_http_client(url) {
            builder = builder.http_client(client);
        }
    }
    if let Some(credentials) = &options.credentials {
        builder = builder.credentials_provider(credentials.clone());
    }
    if let Some(timeouts) = options.timeout_config() {
        builder = builder.timeout_config(timeouts);
    }
    if let Some(retry) = options.retry_config() {
        builder = builder.retry_config(retry);
    }
    builder.build()
}

/// For a plain-HTTP endpoint (a local emulator, moto): an HTTP client that never loads the platform's root
/// certificates; `None` for anything else, which keeps the SDK's default client. The default client reads and
/// parses every trusted root (about 150 files on Debian) before its first request, even one over plain HTTP:
/// measured as most of `keyless assume`'s own system calls against `keyless emulate` (bench/assume), and used by
/// `keyless deploy s3` against moto too. Any AWS SDK client takes it (`SharedHttpClient` is one type).
pub fn plain_http_client(endpoint_url: &str) -> Option<SharedHttpClient> {
    if !endpoint_url.starts_with("http://") {
        return None;
    }
    use aws_smithy_http_client::tls::{
        Provider, TlsContext, TrustStore, rustls_provider::CryptoMode,
    };
    let tls = TlsContext::builder()
        .with_trust_store(TrustStore::empty())
        .build()
        .ok()?;
    Some(
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(tls)
            .build_https(),
    )
}
