//! The one AWS SDK configuration of keyless (feature `sdk`, part of `aws`): every service client (STS for `assume`, IAM for
//! `apply`/`check --live`/`demo`, S3 and CloudFront for `deploy`) is built from an [`SdkConfig`] made here, so the
//! region, an endpoint override (the emulator, moto, LocalStack), the credentials, timeouts, retries and proxies
//! are set in one place.
//!
//! - [`load`]: through aws-config's loader, i.e. the SDK's default credential chain and shared config files
//!   (`AWS_PROFILE`, `~/.aws/config`, IMDS...), for commands that act as the user (`apply`, `deploy`).
//! - [`fixed`]: without the loader, for clients whose credentials keyless already holds (the web-identity
//!   session, the emulator's admin keys) or needs none (`AssumeRoleWithWebIdentity`): nothing but the proxy
//!   variables is read from the environment, nothing from the disk or IMDS.
//!
//! Proxies: the SDK's default HTTP client connects directly whatever `HTTPS_PROXY` says (aws-smithy-http-client's
//! `default_connector` builds its `Connector` without a proxy configuration). When the [`ProxyConfig`] of
//! [`SdkOptions::proxy`] (by default [`ProxyConfig::from_env`], the one [`crate::http`] reads) names a proxy, the
//! clients get an HTTP client whose connectors are built with aws-smithy-http-client's own proxy support
//! (`ConnectorBuilder::proxy_config`, hyper-util's matcher: the `NO_PROXY` rules reqwest uses too):
//! `https://` requests through `HTTPS_PROXY` (or `ALL_PROXY`) with `CONNECT`, `http://` requests through
//! `HTTP_PROXY` (or `ALL_PROXY`) in absolute form, both bypassed for the hosts of `NO_PROXY`.
//!
//! A plain `http://` endpoint gets an HTTP client that never loads the platform's root certificates
//! ([`plain_http_client`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

pub use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::Connector;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use crate::http::{HttpError, ProxyConfig, without_credentials};

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
    /// Proxies for every request of the clients; `None` reads them from this process's environment
    /// ([`ProxyConfig::from_env`]), as every reqwest client of [`crate::http`] does.
    pub proxy: Option<ProxyConfig>,
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

/// Applies the options both configurations share (region, endpoint, HTTP client, credentials, timeouts, retries)
/// to aws-config's `ConfigLoader` or to `SdkConfig`'s builder: two types with methods of the same names and no
/// common trait. Evaluates to the builder; returns early from the function with a proxy variable's error.
macro_rules! with_options {
    ($builder:expr, $options:expr) => {{
        let options: &SdkOptions = $options;
        let mut builder = $builder;
        if let Some(region) = &options.region {
            builder = builder.region(Region::new(region.clone()));
        }
        if let Some(url) = &options.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        if let Some(client) = http_client(options)? {
            builder = builder.http_client(client);
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
        builder
    }};
}

/// The configuration through aws-config's loader (credential chain, profiles, environment). Fails only on a
/// proxy variable that is not a proxy URL.
pub async fn load(options: &SdkOptions) -> Result<SdkConfig, HttpError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
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
    let loader = with_options!(loader, options);
    Ok(loader.load().await)
}

/// The configuration from `options` alone: nothing read from the environment (but the proxy variables when
/// `options.proxy` is `None`), the disk or IMDS. Fails only on a proxy variable that is not a proxy URL.
pub fn fixed(options: &SdkOptions) -> Result<SdkConfig, HttpError> {
    let builder = SdkConfig::builder().behavior_version(BehaviorVersion::latest());
    let builder = with_options!(builder, options);
    Ok(builder.build())
}

/// The HTTP client for `options`: `None` keeps the SDK's default one (no proxy, an `https://` endpoint or none).
fn http_client(options: &SdkOptions) -> Result<Option<SharedHttpClient>, HttpError> {
    let endpoint = options.endpoint_url.as_deref();
    let proxy = match &options.proxy {
        Some(proxy) => proxy.clone(),
        None => ProxyConfig::from_env(),
    };
    if proxy.is_empty() {
        return Ok(endpoint.and_then(plain_http_client));
    }
    let tls = tls_context(endpoint.is_some_and(is_plain_http));
    Ok(Some(SharedHttpClient::new(ProxiedClient::new(
        &proxy, tls,
    )?)))
}

fn is_plain_http(url: &str) -> bool {
    url.starts_with("http://")
}

/// The SDK default's TLS settings (rustls with aws-lc-rs, the platform's roots), without the roots for a
/// plain-HTTP endpoint.
fn tls_context(plain_http: bool) -> TlsContext {
    let trust = if plain_http {
        TrustStore::empty()
    } else {
        TrustStore::default()
    };
    TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .unwrap_or_default()
}

/// For a plain-HTTP endpoint (a local emulator, moto): an HTTP client that never loads the platform's root
/// certificates; `None` for anything else, which keeps the SDK's default client. The default client reads and
/// parses every trusted root (about 150 files on Debian) before its first request, even one over plain HTTP:
/// measured as most of `keyless assume`'s own system calls against `keyless emulate` (bench/assume), and used by
/// `keyless deploy s3` against moto too. Any AWS SDK client takes it (`SharedHttpClient` is one type).
pub fn plain_http_client(endpoint_url: &str) -> Option<SharedHttpClient> {
    if !is_plain_http(endpoint_url) {
        return None;
    }
    Some(
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(tls_context(true))
            .build_https(),
    )
}

/// aws-smithy-http-client's proxy settings for one scheme: `for_https` picks `HTTPS_PROXY`, else `HTTP_PROXY`,
/// with `ALL_PROXY` when the scheme's own is unset, and `NO_PROXY` for both.
fn scheme_proxy(
    proxy: &ProxyConfig,
    for_https: bool,
) -> Result<aws_smithy_http_client::proxy::ProxyConfig, HttpError> {
    use aws_smithy_http_client::proxy::ProxyConfig as Sdk;
    let (variable, own) = if for_https {
        ("HTTPS_PROXY", &proxy.https)
    } else {
        ("HTTP_PROXY", &proxy.http)
    };
    let (variable, url) = match (own, &proxy.all) {
        (Some(url), _) => (variable, url),
        (None, Some(url)) => ("ALL_PROXY", url),
        (None, None) => return Ok(Sdk::disabled()),
    };
    let config = if for_https {
        Sdk::https(url.as_str())
    } else {
        Sdk::http(url.as_str())
    }
    .map_err(|error| HttpError::BadProxy {
        variable,
        url: without_credentials(url),
        detail: crate::error_chain(&error),
    })?;
    Ok(match &proxy.no_proxy {
        Some(rules) => config.no_proxy(rules),
        None => config,
    })
}

/// An SDK HTTP client whose requests go through the proxies of a [`ProxyConfig`]: one aws-smithy-http-client
/// connector per scheme (its proxy settings hold one proxy per connector), chosen by the request's URL. Connectors
/// are made once per timeout setting, as the SDK's own client does, so connections are pooled across requests.
struct ProxiedClient {
    https: aws_smithy_http_client::proxy::ProxyConfig,
    http: aws_smithy_http_client::proxy::ProxyConfig,
    tls: TlsContext,
    /// What `Debug` shows: the proxy URLs without credentials (the SDK's own proxy settings print them).
    shown: String,
    connectors: Mutex<HashMap<TimeoutKey, SharedHttpConnector>>,
}

/// A connector's connect and read timeouts: what makes two connectors differ (the SDK's client keys its own
/// cache the same way).
type TimeoutKey = (Option<Duration>, Option<Duration>);

impl ProxiedClient {
    fn new(proxy: &ProxyConfig, tls: TlsContext) -> Result<Self, HttpError> {
        Ok(Self {
            https: scheme_proxy(proxy, true)?,
            http: scheme_proxy(proxy, false)?,
            tls,
            shown: format!("{proxy:?}"),
            connectors: Mutex::new(HashMap::new()),
        })
    }

    fn connector(
        &self,
        proxy: &aws_smithy_http_client::proxy::ProxyConfig,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let mut builder = Connector::builder()
            .connector_settings(settings.clone())
            .proxy_config(proxy.clone());
        builder.set_sleep_impl(components.sleep_impl());
        SharedHttpConnector::new(
            builder
                .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(self.tls.clone())
                .build(),
        )
    }
}

impl fmt::Debug for ProxiedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxiedClient")
            .field("proxy", &self.shown)
            .finish_non_exhaustive()
    }
}

impl HttpClient for ProxiedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connectors
            .entry(key)
            .or_insert_with(|| {
                SharedHttpConnector::new(ByScheme {
                    https: self.connector(&self.https, settings, components),
                    http: self.connector(&self.http, settings, components),
                })
            })
            .clone()
    }
}

/// `http://` requests to one connector, everything else to the other.
struct ByScheme {
    https: SharedHttpConnector,
    http: SharedHttpConnector,
}

impl fmt::Debug for ByScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ByScheme")
    }
}

impl HttpConnector for ByScheme {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if is_plain_http(request.uri()) {
            self.http.call(request)
        } else {
            self.https.call(request)
        }
    }
}
