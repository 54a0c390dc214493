//! Publishing a Code Insights report (`keyless audit --publish`): DELETE the commit's previous report (a rerun
//! must not keep stale annotations), PUT the report, then POST the annotations in batches.
//!
//! Inside Bitbucket Pipelines the calls go through the Pipelines auth proxy (`http://localhost:29418` in a step,
//! `http://host.docker.internal:29418` in a pipe's container), which adds the credentials itself. That proxy
//! takes plain-HTTP requests in absolute form (`PUT http://api.bitbucket.org/2.0/... HTTP/1.1`, what `curl
//! --proxy http://localhost:29418 http://api.bitbucket.org/...` sends) and is not documented to support CONNECT.
//! reqwest sends exactly that for an `http://` URL through an HTTP proxy: absolute form, no CONNECT
//! (`tests/code_insights.rs` checks it against a proxy that refuses CONNECT). Outside Pipelines a
//! [`Credential`] authenticates the calls instead (Bearer access token, or Basic `email:api-token`).

use std::fmt;
use std::time::Duration;

use reqwest::Method;

use crate::bitbucket::Credential;
use crate::http::{HttpClient, HttpConfig, HttpError, ProxyConfig, without_credentials};

/// How much of an error response body is quoted.
const MAX_ERROR_BODY: usize = 2000;

/// Why publishing failed: the proxy or API could not be reached (the runner's network), or Bitbucket refused
/// (the report, the repository, the commit, or the credential).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// `--proxy`/`--api-base` are not plain `http://` URLs.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Client(#[from] HttpError),
    /// No connection to the Pipelines proxy.
    #[error(
        "{method} {url}: cannot reach the Pipelines proxy at {proxy} (run inside a Pipelines step, or set --proxy): {detail}"
    )]
    ProxyUnreachable {
        method: Method,
        url: String,
        proxy: String,
        detail: String,
    },
    /// The request failed after it was sent (a timeout, a connection reset).
    #[error("{method} {url}: no answer: {detail}")]
    Transport {
        method: Method,
        url: String,
        detail: String,
    },
    /// Bitbucket (or the proxy) answered with an unexpected status.
    #[error("{method} {url}: Bitbucket answered HTTP {status}: {body}")]
    Status {
        method: Method,
        url: String,
        status: u16,
        body: String,
    },
}

/// Where the calls go and how they authenticate.
pub enum Route {
    /// Through the Pipelines auth proxy at this `http://` URL, without a credential of ours.
    PipelinesProxy(String),
    /// Straight to the API (proxies from the [`HttpConfig`]), with this credential.
    Direct(Credential),
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::PipelinesProxy(url) => f
                .debug_tuple("PipelinesProxy")
                .field(&without_credentials(url))
                .finish(),
            Route::Direct(credential) => f.debug_tuple("Direct").field(credential).finish(),
        }
    }
}

/// The Code Insights client.
#[derive(Debug)]
pub struct Publisher {
    http: HttpClient,
    route: Route,
}

impl Publisher {
    /// A publisher on `route`; `config` gives the timeouts and retries (its proxies are replaced by the Pipelines
    /// proxy on that route). 30 s per attempt and three attempts are what the hand-written client had.
    pub fn new(route: Route, config: HttpConfig) -> Result<Self, PublishError> {
        let config = match &route {
            Route::PipelinesProxy(proxy) => {
                if !proxy.starts_with("http://") {
                    return Err(PublishError::Usage(format!(
                        "--proxy `{}` must be an http:// URL",
                        without_credentials(proxy)
                    )));
                }
                HttpConfig {
                    proxy: ProxyConfig::only(proxy),
                    ..config
                }
            }
            Route::Direct(_) => config,
        };
        Ok(Self {
            http: HttpClient::new(&config)?,
            route,
        })
    }

    /// The defaults for [`Publisher::new`]: 10 s to connect, 30 s per attempt, three attempts, proxies from the
    /// environment (used on the direct route only).
    pub fn default_config() -> HttpConfig {
        HttpConfig::from_env().timeout(Duration::from_secs(30))
    }

    /// Replaces the report at `report_url` (`.../commit/{commit}/reports/{id}`) with `report` (its JSON), then
    /// adds the annotations, one POST per batch (each a JSON array; Bitbucket takes at most 100 per request).
    pub async fn publish(
        &self,
        report_url: &str,
        report: String,
        annotation_batches: impl IntoIterator<Item = String>,
    ) -> Result<(), PublishError> {
        if matches!(self.route, Route::PipelinesProxy(_)) && !report_url.starts_with("http://") {
            // The proxy forwards plain HTTP only; an https:// URL would need CONNECT.
            return Err(PublishError::Usage(format!(
                "{report_url}: the API base must be http:// (the Pipelines proxy forwards only plain HTTP)"
            )));
        }
        self.call(Method::DELETE, report_url, None, &[200, 204, 404])
            .await?;
        self.call(Method::PUT, report_url, Some(report), &[200, 201])
            .await?;
        let annotations = format!("{report_url}/annotations");
        for batch in annotation_batches {
            self.call(Method::POST, &annotations, Some(batch), &[200, 201])
                .await?;
        }
        Ok(())
    }

    async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<String>,
        ok: &[u16],
    ) -> Result<(), PublishError> {
        let mut request = self.http.request(method.clone(), url);
        if let Route::Direct(credential) = &self.route {
            request = credential.apply(request);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        // The annotations POST is Bitbucket's "bulk create or update" (operation bulkCreateOrUpdateAnnotations):
        // an annotation is keyed by its external_id, so sending a batch again replaces, never duplicates.
        let response = self
            .http
            .send_idempotent(request)
            .await
            .map_err(|error| self.transport_error(&method, url, &error))?;
        let status = response.status().as_u16();
        if ok.contains(&status) {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        let mut end = text.len().min(MAX_ERROR_BODY);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Err(PublishError::Status {
            method,
            url: url.to_owned(),
            status,
            body: text[..end].trim().to_owned(),
        })
    }

    fn transport_error(&self, method: &Method, url: &str, error: &reqwest::Error) -> PublishError {
        let detail = crate::error_chain(error);
        match &self.route {
            Route::PipelinesProxy(proxy) if error.is_connect() => PublishError::ProxyUnreachable {
                method: method.clone(),
                url: url.to_owned(),
                proxy: without_credentials(proxy),
                detail,
            },
            _ => PublishError::Transport {
                method: method.clone(),
                url: url.to_owned(),
                detail,
            },
        }
    }
}
