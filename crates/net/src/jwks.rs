//! `RemoteJwksFetcher`: an issuer's keys through `<issuer>/.well-known/openid-configuration` → `jwks_uri`, over
//! HTTPS with a timeout, a body-size limit and a TTL cache (aws.md §2 step 4). `keyless serve` verifies Forge
//! invocation tokens with it; `keyless emulate` trusts remote issuers through it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use keyless_oidc::{DiscoveryDocument, Jwks};

use crate::http::{HttpClient, HttpConfig};

/// Tunables for [`RemoteJwksFetcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetcherOptions {
    /// Per request (connect + response). Default 5 s: STS gives up on an IdP slower than that (aws.md §2, KC-IIT).
    pub timeout: Duration,
    /// How long fetched keys are reused. Default 5 minutes (AWS's TTL is UNCONFIRMED).
    pub ttl: Duration,
    /// Allow `http://` issuers and `jwks_uri`s. Only for tests against a local server; default false.
    pub allow_http: bool,
    /// Largest discovery document or JWKS accepted. Default 1 MiB.
    pub max_body_bytes: usize,
}

impl Default for FetcherOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            ttl: Duration::from_secs(300),
            allow_http: false,
            max_body_bytes: 1 << 20,
        }
    }
}

/// Why an issuer's keys could not be fetched (the remote issuer, the network, or a non-HTTPS URL from the user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// An `http://` URL without [`FetcherOptions::allow_http`], or another scheme.
    #[error("refusing to fetch `{url}`: issuer keys are fetched over https:// only")]
    NotHttps {
        /// The URL.
        url: String,
    },
    /// The request failed: DNS, connection, TLS, timeout.
    #[error("could not fetch `{url}`: {detail}")]
    Request {
        /// The URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The request took longer than [`FetcherOptions::timeout`].
    #[error("fetching `{url}` timed out after {timeout:?}")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
    /// A non-2xx status.
    #[error("`{url}` answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body exceeds [`FetcherOptions::max_body_bytes`].
    #[error("`{url}` sent more than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// The body is not the expected JSON document.
    #[error("`{url}` did not return a valid {what}: {detail}")]
    InvalidDocument {
        /// The URL.
        url: String,
        /// `discovery document` or `JWKS`.
        what: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// The discovery document names another issuer (OpenID Connect Discovery §4.3 requires them to be identical).
    #[error("the discovery document at `{url}` is for issuer `{found}`, not `{expected}`")]
    IssuerMismatch {
        /// The discovery URL.
        url: String,
        /// The issuer asked for.
        expected: String,
        /// The issuer the document names.
        found: String,
    },
}

struct Entry {
    fetched: Instant,
    jwks: Arc<Jwks>,
}

/// Fetches and caches issuers' JWKS. Cheap to share behind an `Arc`; safe to call concurrently.
pub struct RemoteJwksFetcher {
    client: HttpClient,
    options: FetcherOptions,
    cache: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for RemoteJwksFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwksFetcher")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RemoteJwksFetcher {
    /// A fetcher with its own HTTP client (rustls, the platform's trusted roots), proxies from the environment
    /// (`HTTPS_PROXY`, `NO_PROXY`), retries on refused connections, 429 and 5xx ([`crate::http`]).
    pub fn new(options: FetcherOptions) -> Result<Self, FetchError> {
        Self::with_config(options, &HttpConfig::from_env())
    }

    /// A fetcher whose client is built from `config`, with [`FetcherOptions::timeout`] as its timeouts.
    pub fn with_config(options: FetcherOptions, config: &HttpConfig) -> Result<Self, FetchError> {
        let config = config
            .clone()
            .timeout(options.timeout)
            .connect_timeout(options.timeout);
        let client = HttpClient::with(&config, |builder| {
            builder
                .https_only(!options.allow_http)
                .redirect(reqwest::redirect::Policy::limited(3))
        })
        .map_err(|error| FetchError::Request {
            url: String::new(),
            detail: error.to_string(),
        })?;
        Ok(Self {
            client,
            options,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The issuer's JWKS, from the cache when fetched less than [`FetcherOptions::ttl`] ago.
    pub async fn jwks(&self, issuer: &str) -> Result<Arc<Jwks>, FetchError> {
        if let Some(jwks) = self.cached(issuer) {
            return Ok(jwks);
        }
        self.refresh(issuer).await
    }

    /// Fetches the issuer's JWKS now, replacing any cached copy (e.g. after a token names an unknown `kid`, which
    /// usually means the issuer rotated its keys).
    pub async fn refresh(&self, issuer: &str) -> Result<Arc<Jwks>, FetchError> {
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let document: DiscoveryDocument =
            self.get_json(&discovery_url, "discovery document").await?;
        if document.issuer != issuer {
            return Err(FetchError::IssuerMismatch {
                url: discovery_url,
                expected: issuer.to_owned(),
                found: document.issuer,
            });
        }
        let jwks: Arc<Jwks> = Arc::new(self.get_json(&document.jwks_uri, "JWKS").await?);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                issuer.to_owned(),
                Entry {
                    fetched: Instant::now(),
                    jwks: Arc::clone(&jwks),
                },
            );
        }
        Ok(jwks)
    }

    /// The JWKS published at `jwks_url` itself, without discovery (for issuers that have no discovery document,
    /// such as Forge invocation tokens, `iss: forge/invocation-token`), cached like [`RemoteJwksFetcher::jwks`].
    pub async fn jwks_at(&self, jwks_url: &str) -> Result<Arc<Jwks>, FetchError> {
        if let Some(jwks) = self.cached(&url_cache_key(jwks_url)) {
            return Ok(jwks);
        }
        self.refresh_at(jwks_url).await
    }

    /// Fetches the JWKS at `jwks_url` now, replacing any cached copy.
    pub async fn refresh_at(&self, jwks_url: &str) -> Result<Arc<Jwks>, FetchError> {
        let jwks: Arc<Jwks> = Arc::new(self.get_json(jwks_url, "JWKS").await?);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                url_cache_key(jwks_url),
                Entry {
                    fetched: Instant::now(),
                    jwks: Arc::clone(&jwks),
                },
            );
        }
        Ok(jwks)
    }

    /// Forgets the cached keys of `issuer`.
    pub fn invalidate(&self, issuer: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(issuer);
        }
    }

    fn cached(&self, issuer: &str) -> Option<Arc<Jwks>> {
        let cache = self.cache.lock().ok()?;
        let entry = cache.get(issuer)?;
        (entry.fetched.elapsed() < self.options.ttl).then(|| Arc::clone(&entry.jwks))
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        what: &'static str,
    ) -> Result<T, FetchError> {
        let scheme_ok =
            url.starts_with("https://") || (self.options.allow_http && url.starts_with("http://"));
        if !scheme_ok {
            return Err(FetchError::NotHttps {
                url: url.to_owned(),
            });
        }
        let request_error = |error: reqwest::Error| {
            if error.is_timeout() {
                FetchError::Timeout {
                    url: url.to_owned(),
                    timeout: self.options.timeout,
                }
            } else {
                FetchError::Request {
                    url: url.to_owned(),
                    detail: describe(&error),
                }
            }
        };
        let request = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        let mut response = self.client.send(request).await.map_err(request_error)?;
        if !response.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: response.status().as_u16(),
            });
        }
        let limit = self.options.max_body_bytes;
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge {
                    url: url.to_owned(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|error| FetchError::InvalidDocument {
            url: url.to_owned(),
            what,
            detail: error.to_string(),
        })
    }
}

/// reqwest's top-level message is generic ("error sending request"); the cause chain says what happened.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Cache key of a JWKS fetched by URL; the prefix keeps it apart from issuers' keys (an issuer is never `jwks:`).
fn url_cache_key(jwks_url: &str) -> String {
    format!("jwks:{jwks_url}")
}
