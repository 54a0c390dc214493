//! The one HTTP client builder. Every reqwest client of keyless (issuer keys, the Bitbucket API, Code Insights
//! publishing, `thumbprint`'s fetches, `doctor --check-ip`, the emulator mint client) is built by
//! [`HttpClient::new`] or [`HttpClient::with`] from an [`HttpConfig`]: one place for timeouts, retries and proxies.
//!
//! - Timeouts: a connect timeout and a total timeout per attempt (connect, request, whole response body).
//! - Retries ([`HttpClient::send`]): only idempotent requests (GET, HEAD, PUT, DELETE, OPTIONS, TRACE; a POST
//!   only through [`HttpClient::send_idempotent`], when its caller knows it is an upsert), and only when retrying
//!   can help: a connection that could not be made (refused, unreachable, DNS, connect timeout), HTTP 429, and
//!   HTTP 5xx. Never after a timeout of a sent request (the server may have acted on it) or a 4xx other than 429.
//!   The wait is exponential backoff with full jitter (a random delay between 0 and `base · 2ⁿ`, capped), or the
//!   server's `Retry-After` in seconds when it sends one (capped the same way; the HTTP-date form is ignored).
//! - Proxies: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case, upper case first, curl's
//!   meaning) are read into a [`ProxyConfig`] by [`ProxyConfig::from_env`], or from any map with
//!   [`ProxyConfig::from_vars`]; the client is then built with reqwest's own environment lookup switched off
//!   (`no_proxy()`) and exactly those proxies, so what a client does is decided by the config it was given.
//! - DNS: reqwest's default resolver, glibc `getaddrinfo` on a worker thread (no hickory, no NSS-free resolver
//!   of our own: docs/release.md "Name resolution without NSS modules"); [`HttpConfig::resolve`] pins a host to
//!   an address, as curl's `--resolve` does.
//! - TLS: reqwest's rustls with aws-lc-rs, the only crypto provider in the tree.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use rand::Rng as _;
use reqwest::Method;
/// The status type of [`is_retryable_status`] (reqwest's, i.e. the `http` crate's).
pub use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Why a client could not be built (the user's proxy setting, or reqwest's TLS setup).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A proxy variable holds something that is not a proxy URL. The URL is shown without its credentials.
    #[error("{variable} `{url}` is not a usable proxy URL ({detail}); use http://host:port")]
    BadProxy {
        variable: &'static str,
        url: String,
        detail: String,
    },
    /// reqwest refused the configuration (its TLS backend could not start).
    #[error("cannot build an HTTP client: {0}")]
    Build(String),
}

/// Proxies, as the environment gives them (`HTTPS_PROXY`...), or as a caller sets them. `Debug` hides any
/// `user:password@` of the URLs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Proxy for `https://` requests (`HTTPS_PROXY`): reqwest tunnels through it with `CONNECT`.
    pub https: Option<String>,
    /// Proxy for `http://` requests (`HTTP_PROXY`): reqwest sends it absolute-form requests
    /// (`GET http://host/path HTTP/1.1`), no `CONNECT`.
    pub http: Option<String>,
    /// Proxy for either, when the scheme's own is not set (`ALL_PROXY`).
    pub all: Option<String>,
    /// Hosts that bypass every proxy (`NO_PROXY`): comma-separated domains (matching subdomains too), IP
    /// addresses, CIDR ranges, or `*`.
    pub no_proxy: Option<String>,
}

impl ProxyConfig {
    /// No proxy at all, whatever the environment says.
    pub fn none() -> Self {
        Self::default()
    }

    /// Every request through `url` (the Pipelines auth proxy of Code Insights publishing), no exceptions.
    pub fn only(url: &str) -> Self {
        Self {
            all: Some(url.to_owned()),
            ..Self::default()
        }
    }

    /// `HTTPS_PROXY`/`https_proxy`, `HTTP_PROXY`/`http_proxy`, `ALL_PROXY`/`all_proxy`, `NO_PROXY`/`no_proxy`
    /// of this process.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The same variables read through `var` (a test passes a map instead of changing the process
    /// environment, which other threads read). Empty values count as unset.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let first = |names: [&str; 2]| {
            names
                .into_iter()
                .filter_map(&var)
                .map(|value| value.trim().to_owned())
                .find(|value| !value.is_empty())
        };
        Self {
            https: first(["HTTPS_PROXY", "https_proxy"]),
            http: first(["HTTP_PROXY", "http_proxy"]),
            all: first(["ALL_PROXY", "all_proxy"]),
            no_proxy: first(["NO_PROXY", "no_proxy"]),
        }
    }

    /// Whether any proxy is set.
    pub fn is_empty(&self) -> bool {
        self.https.is_none() && self.http.is_none() && self.all.is_none()
    }

    fn proxies(&self) -> Result<Vec<reqwest::Proxy>, HttpError> {
        let no_proxy = || {
            self.no_proxy
                .as_deref()
                .and_then(reqwest::NoProxy::from_string)
        };
        // reqwest asks the proxies in order; the first whose scheme matches wins, so `all` comes last.
        let entries: [(&'static str, &Option<String>, MakeProxy); 3] = [
            ("HTTPS_PROXY", &self.https, |url| reqwest::Proxy::https(url)),
            ("HTTP_PROXY", &self.http, |url| reqwest::Proxy::http(url)),
            ("ALL_PROXY", &self.all, |url| reqwest::Proxy::all(url)),
        ];
        let mut proxies = Vec::new();
        for (variable, url, make) in entries {
            let Some(url) = url else { continue };
            let proxy = make(url).map_err(|error| HttpError::BadProxy {
                variable,
                url: without_credentials(url),
                detail: crate::error_chain(&error),
            })?;
            proxies.push(proxy.no_proxy(no_proxy()));
        }
        Ok(proxies)
    }
}

/// `reqwest::Proxy::https`, `::http` or `::all`.
type MakeProxy = fn(&str) -> reqwest::Result<reqwest::Proxy>;

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |url: &Option<String>| url.as_deref().map(without_credentials);
        f.debug_struct("ProxyConfig")
            .field("https", &shown(&self.https))
            .field("http", &shown(&self.http))
            .field("all", &shown(&self.all))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// `http://user:secret@proxy:3128` → `http://<credentials>@proxy:3128`: a proxy URL as it may be shown.
pub fn without_credentials(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let prefix = if scheme.is_empty() {
                String::new()
            } else {
                format!("{scheme}://")
            };
            format!("{prefix}<credentials>{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

/// How often and how long to wait before trying a request again (see the module documentation for when).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub attempts: u32,
    /// The backoff ceiling of the first retry; it doubles for each further one.
    pub base_delay: Duration,
    /// No wait is longer, `Retry-After` included.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub const NONE: RetryPolicy = RetryPolicy {
        attempts: 1,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    /// Three attempts, waits of up to 0.25 s then 0.5 s, `Retry-After` honoured up to 10 s.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(250),
        max_delay: Duration::from_secs(10),
    };

    /// The wait before retry number `retry` (1 for the first retry): the server's `Retry-After` when it sent
    /// one, else a random duration in `[0, min(max_delay, base_delay · 2^(retry-1))]` (full jitter).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_delay);
        }
        let ceiling = self
            .base_delay
            .saturating_mul(1 << retry.saturating_sub(1).min(16))
            .min(self.max_delay);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What every client is built from.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// TCP connect (and proxy connect) limit, per attempt.
    pub connect_timeout: Duration,
    /// Whole-attempt limit: connect, send, and the response body read to its end.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub proxy: ProxyConfig,
    /// Hosts pinned to an address, bypassing DNS (curl's `--resolve`); the URL's port is used.
    pub resolve: Vec<(String, SocketAddr)>,
}

impl HttpConfig {
    /// 10 s to connect, 30 s per attempt, [`RetryPolicy::DEFAULT`], proxies from this process's environment.
    pub fn from_env() -> Self {
        Self::with_proxy(ProxyConfig::from_env())
    }

    /// The same defaults with the given proxies.
    pub fn with_proxy(proxy: ProxyConfig) -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::DEFAULT,
            proxy,
            resolve: Vec::new(),
        }
    }

    /// Sets both the total timeout and the connect timeout (which never exceeds the total).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.connect_timeout = self.connect_timeout.min(timeout);
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Pins `host` to `address` (its port is ignored: the URL's is used).
    pub fn resolve(mut self, host: &str, address: SocketAddr) -> Self {
        self.resolve.push((host.to_owned(), address));
        self
    }

    /// The reqwest builder with all of the above applied, for a caller that adds its own settings (TLS roots,
    /// redirect policy, `https_only`). [`HttpClient::with`] wraps it with the retries.
    pub fn builder(&self) -> Result<reqwest::ClientBuilder, HttpError> {
        let mut builder = reqwest::Client::builder()
            // Nothing from the environment behind our back: exactly the proxies of `self.proxy`.
            .no_proxy()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .user_agent(concat!("keyless/", env!("CARGO_PKG_VERSION")));
        for proxy in self.proxy.proxies()? {
            builder = builder.proxy(proxy);
        }
        for (host, address) in &self.resolve {
            builder = builder.resolve(host, *address);
        }
        Ok(builder)
    }
}

/// A reqwest client with the retry policy of its [`HttpConfig`]. Cheap to clone (reqwest's client is an `Arc`).
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    retry: RetryPolicy,
}

impl HttpClient {
    /// A client as `config` says.
    pub fn new(config: &HttpConfig) -> Result<Self, HttpError> {
        Self::with(config, |builder| builder)
    }

    /// A client as `config` says, with more settings made by `customize` on the reqwest builder.
    pub fn with(
        config: &HttpConfig,
        customize: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> Result<Self, HttpError> {
        let client = customize(config.builder()?)
            .build()
            .map_err(|error| HttpError::Build(crate::error_chain(&error)))?;
        Ok(Self {
            client,
            retry: config.retry,
        })
    }

    /// A request to build and pass to [`HttpClient::send`].
    pub fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// A GET request to build and pass to [`HttpClient::send`].
    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.client.get(url)
    }

    /// Sends the request, retrying as the module documentation says when its method is idempotent. The last
    /// response is returned whatever its status (a 503 after the last attempt is the caller's to report).
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let request = request.build()?;
        let retry = is_idempotent(request.method());
        self.execute(request, retry).await
    }

    /// [`HttpClient::send`] for a request the caller knows to be idempotent whatever its method (a POST that
    /// creates-or-updates by a key, as Code Insights' annotations do by `external_id`).
    pub async fn send_idempotent(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let request = request.build()?;
        self.execute(request, true).await
    }

    async fn execute(
        &self,
        request: reqwest::Request,
        retry: bool,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let attempts = if retry { self.retry.attempts.max(1) } else { 1 };
        let mut request = request;
        let mut attempt = 1;
        loop {
            // A streamed body cannot be cloned: such a request gets one attempt.
            let again = (attempt < attempts).then(|| request.try_clone()).flatten();
            let outcome = self.client.execute(request).await;
            let Some(next) = again else {
                return outcome;
            };
            let wait = match &outcome {
                Err(error) if error.is_connect() => self.retry.delay(attempt, None),
                Ok(response) if is_retryable_status(response.status()) => {
                    self.retry.delay(attempt, retry_after(response.headers()))
                }
                _ => return outcome,
            };
            drop(outcome);
            tokio::time::sleep(wait).await;
            request = next;
            attempt += 1;
        }
    }
}

/// RFC 9110 §9.2.2: GET, HEAD, PUT, DELETE, OPTIONS and TRACE.
pub fn is_idempotent(method: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
    ]
    .contains(method)
}

/// 429 Too Many Requests and every 5xx.
pub fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `Retry-After: <seconds>`; the HTTP-date form is not worth a date parser here.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn proxy_variables_upper_case_first_empty_is_unset() {
        let config = ProxyConfig::from_vars(vars(&[
            ("HTTPS_PROXY", "http://upper:3128"),
            ("https_proxy", "http://lower:3128"),
            ("http_proxy", "http://plain:8080"),
            ("ALL_PROXY", " "),
            ("no_proxy", "localhost,.internal"),
        ]));
        assert_eq!(config.https.as_deref(), Some("http://upper:3128"));
        assert_eq!(config.http.as_deref(), Some("http://plain:8080"));
        assert_eq!(config.all, None);
        assert_eq!(config.no_proxy.as_deref(), Some("localhost,.internal"));
        assert!(ProxyConfig::from_vars(vars(&[])).is_empty());
    }

    #[test]
    fn debug_and_errors_hide_proxy_credentials() {
        let config = ProxyConfig::from_vars(vars(&[(
            "HTTPS_PROXY",
            "http://alice:hunter2@proxy.example:3128/",
        )]));
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("alice"),
            "{debug}"
        );
        assert!(debug.contains("proxy.example:3128"), "{debug}");
        assert_eq!(
            without_credentials("http://a:b@c@h:1/p@q"),
            "http://<credentials>@h:1/p@q"
        );
        assert_eq!(without_credentials("http://h:1"), "http://h:1");

        let bad = ProxyConfig::from_vars(vars(&[("HTTP_PROXY", "http://bob:s3cret@[::1")]));
        let error = HttpConfig::with_proxy(bad).builder().unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("HTTP_PROXY"), "{shown}");
    }

    #[test]
    fn backoff_is_jittered_exponential_and_capped() {
        let policy = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        for _ in 0..50 {
            assert!(policy.delay(1, None) <= Duration::from_millis(100));
            assert!(policy.delay(2, None) <= Duration::from_millis(200));
            assert!(policy.delay(9, None) <= Duration::from_millis(300));
        }
        // Jitter: 50 draws from [0, 300] ms are not all the same.
        let draws: std::collections::HashSet<_> = (0..50).map(|_| policy.delay(4, None)).collect();
        assert!(draws.len() > 1, "{draws:?}");
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(60))),
            Duration::from_millis(300)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_millis(5))),
            Duration::from_millis(5)
        );
    }

    #[test]
    fn idempotent_methods_and_retryable_statuses() {
        assert!(is_idempotent(&Method::PUT) && is_idempotent(&Method::DELETE));
        assert!(!is_idempotent(&Method::POST) && !is_idempotent(&Method::PATCH));
        assert!(is_retryable_status(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_retryable_status(StatusCode::BAD_GATEWAY));
        assert!(!is_retryable_status(StatusCode::FORBIDDEN));
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
