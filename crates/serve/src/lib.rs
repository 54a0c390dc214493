//! `keyless serve`: the Dynamic Pipelines provider (bitbucket.md §4) over HTTP, for a Forge app whose
//! `bitbucket:dynamicPipelinesProvider` module points at it through Forge Remote.
//!
//! - `POST /dynamic-pipelines`: a *definitions* or *run* request in, `{"pipelines_configuration": ...}` or
//!   `{"error": {"key", "message"}}` out (HTTP 200), rendered by `keyless-enforce` under the live `keyless.yml`
//!   (a request for another workspace is answered `keyless-workspace`). Unreadable requests get a 4xx with the
//!   same error shape and a message naming the problem.
//! - `GET /healthz`, `GET /metrics` (OpenMetrics text).
//! - Authentication: Forge invocation tokens ([`auth`]), or a development bearer secret.
//! - A body size limit, a request timeout, structured logs (`tracing`) without tokens or headers.
//! - SIGHUP reloads `keyless.yml`; a file that does not load is logged and the previous configuration stays.
//!
//! Tests drive [`app`] with `tower::ServiceExt::oneshot`, or [`Server::bind`] on `127.0.0.1:0`.

pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
pub mod provider;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

pub use crate::auth::{Authenticator, DevBearerSecret, ForgeAuth, Principal};
pub use crate::config::LiveConfig;
pub use crate::error::ApiError;
pub use crate::metrics::{Metrics, Outcome};
use crate::provider::Answer;

/// The provider's path.
pub const PROVIDER_PATH: &str = "/dynamic-pipelines";
/// Default largest request body: 1 MiB (a `pipelines_configuration` of several thousand steps).
pub const DEFAULT_MAX_BODY: usize = 1 << 20;
/// Default time to answer a request: 4 s, below the 5 s Forge Remote documents for invocations that are not UI
/// modules ("Events and scheduled triggers": the budget that applies to a Dynamic Pipelines provider, which
/// Bitbucket invokes from its backend; docs/enforce.md, "Time budget").
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(4);

/// Request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted; larger gets 413.
    pub max_body: usize,
    /// Longest time a request may take, reading the body included; longer gets 408.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: DEFAULT_MAX_BODY,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// What every request sees.
#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<LiveConfig>,
    pub auth: Arc<Authenticator>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
}

impl AppState {
    pub fn new(config: LiveConfig, auth: Authenticator, limits: Limits) -> AppState {
        let metrics = Metrics::new();
        metrics.set_generation(config.current().generation);
        AppState {
            config: Arc::new(config),
            auth: Arc::new(auth),
            metrics: Arc::new(metrics),
            limits,
        }
    }

    /// Re-reads keyless.yml (what SIGHUP does): logs the result, counts it, keeps the old configuration on error.
    pub fn reload(&self) -> bool {
        match self.config.reload() {
            Ok(generation) => {
                self.metrics.set_generation(generation);
                self.metrics.reload(true);
                tracing::info!(
                    generation,
                    path = %self.config.path().display(),
                    "reloaded keyless.yml"
                );
                true
            }
            Err(error) => {
                self.metrics.reload(false);
                tracing::error!(
                    %error,
                    generation = self.config.current().generation,
                    "keyless.yml did not load; keeping the configuration in use"
                );
                false
            }
        }
    }
}

/// The HTTP application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(
            PROVIDER_PATH,
            post(dynamic_pipelines).fallback(method_not_allowed),
        )
        .route("/healthz", get(healthz).fallback(method_not_allowed))
        .route("/metrics", get(metrics).fallback(method_not_allowed))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), timeout))
        .with_state(state)
}

async fn timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    match tokio::time::timeout(state.limits.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let error = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "keyless-timeout",
                format!(
                    "the request took longer than {} ms (a body sent too slowly?); the limit is `--timeout`",
                    state.limits.timeout.as_millis()
                ),
            );
            state.metrics.request(Outcome::Timeout, started.elapsed());
            tracing::warn!(outcome = "timeout", "request timed out");
            error.into_response()
        }
    }
}

async fn not_found(State(state): State<AppState>) -> Response {
    state.metrics.request(Outcome::NotFound, Duration::ZERO);
    ApiError::new(
        StatusCode::NOT_FOUND,
        "keyless-not-found",
        format!("no such endpoint; keyless serve answers POST {PROVIDER_PATH}, GET /healthz and GET /metrics"),
    )
    .into_response()
}

async fn method_not_allowed(State(state): State<AppState>) -> Response {
    state.metrics.request(Outcome::NotFound, Duration::ZERO);
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "keyless-method-not-allowed",
        format!("method not allowed; keyless serve answers POST {PROVIDER_PATH}, GET /healthz and GET /metrics"),
    )
    .into_response()
}

async fn healthz(State(state): State<AppState>) -> Response {
    axum::Json(serde_json::json!({
        "status": "ok",
        "config_generation": state.config.current().generation,
    }))
    .into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(metrics::CONTENT_TYPE),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// `x-b3-traceid` (Forge sends it) when it looks like one, to correlate logs with Forge's.
fn trace_id(headers: &HeaderMap) -> String {
    headers
        .get("x-b3-traceid")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_default()
        .to_string()
}

async fn dynamic_pipelines(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let trace = trace_id(&headers);
    match handle(&state, &headers, body).await {
        Ok((answer, summary, principal)) => {
            let elapsed = started.elapsed();
            let caller = match &principal {
                Principal::Forge { installation, .. } => {
                    installation.clone().unwrap_or_else(|| "forge".to_string())
                }
                Principal::DevBearer => "dev-bearer".to_string(),
            };
            match &answer {
                Answer::Rendered(rendered) => {
                    state.metrics.request(Outcome::Rendered, elapsed);
                    record(&state, rendered, &summary, &caller, &trace);
                    tracing::debug!(
                        outcome = "rendered",
                        trigger = %summary.trigger,
                        target = %summary.target,
                        parent = %summary.parent,
                        %caller,
                        trace,
                        micros = elapsed.as_micros() as u64,
                        "rendered"
                    );
                }
                Answer::Rejected(rejection) => {
                    state.metrics.request(Outcome::Rejected, elapsed);
                    tracing::info!(
                        outcome = "rejected",
                        trigger = %summary.trigger,
                        target = %summary.target,
                        parent = %summary.parent,
                        rule = %rejection.rule,
                        route = %rejection.route,
                        %caller,
                        trace,
                        micros = elapsed.as_micros() as u64,
                        "rejected: {}",
                        rejection.message
                    );
                }
                Answer::Internal => {
                    state.metrics.request(Outcome::Internal, elapsed);
                    tracing::error!(
                        outcome = "internal",
                        trigger = %summary.trigger,
                        target = %summary.target,
                        %caller,
                        trace,
                        "the renderer failed; refused the pipeline"
                    );
                }
            }
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                answer.to_body(),
            )
                .into_response()
        }
        Err(error) => {
            let elapsed = started.elapsed();
            let outcome = error.outcome();
            state.metrics.request(outcome, elapsed);
            tracing::warn!(
                outcome = outcome.as_str(),
                status = error.status.as_u16(),
                key = error.key,
                trace,
                "refused request: {}",
                error.message
            );
            error.into_response()
        }
    }
}

/// Metrics and log lines for what a rendered answer left out, let through, or (report mode) would have done.
fn record(
    state: &AppState,
    rendered: &keyless_enforce::Rendered,
    summary: &provider::Summary,
    caller: &str,
    trace: &str,
) {
    for omission in &rendered.omitted {
        state.metrics.definitions_omitted(&omission.rule);
        tracing::info!(
            outcome = "omitted",
            trigger = %summary.trigger,
            target = %summary.target,
            pipeline = %omission.pipeline,
            rule = %omission.rule,
            route = %omission.route,
            %caller,
            trace,
            "left out of the definitions: {}",
            omission.message
        );
    }
    for note in &rendered.notes {
        // Unknown keys are a warning (Atlassian changed the schema, or a typo); a pipe keyless gives no OIDC is
        // information about the pipeline, logged at `info` so a busy workspace is not flooded at `warn`.
        match note.location {
            Some(location) => {
                state.metrics.unknown_key(location);
                tracing::warn!(
                    outcome = "passed",
                    trigger = %summary.trigger,
                    target = %summary.target,
                    rule = %note.rule,
                    route = %note.route,
                    %caller,
                    trace,
                    "{}",
                    note.message
                );
            }
            None => tracing::info!(
                outcome = "noted",
                trigger = %summary.trigger,
                target = %summary.target,
                rule = %note.rule,
                route = %note.route,
                %caller,
                trace,
                "{}",
                note.message
            ),
        }
    }
    // Report mode: one line and one count per change, omission or refusal enforcing would have made.
    let report = |would: &'static str, rule: &str, route: &str, message: &str| {
        state.metrics.report(would, rule);
        tracing::info!(
            outcome = "report",
            would,
            trigger = %summary.trigger,
            target = %summary.target,
            rule,
            route,
            %caller,
            trace,
            "policy.mode report: answered unchanged; enforcing would {would}: {message}"
        );
    };
    match rendered.would.as_deref() {
        None => {}
        Some(Err(rejection)) => report(
            "reject",
            &rejection.rule,
            &rejection.route,
            &rejection.message,
        ),
        Some(Ok(would)) => {
            for change in &would.changes {
                report("change", &change.rule, &change.route, &change.message);
            }
            for omission in &would.omitted {
                report(
                    "omit",
                    &omission.rule,
                    &omission.pipeline,
                    &omission.message,
                );
            }
            for location in would.notes.iter().filter_map(|n| n.location) {
                state.metrics.unknown_key(location);
            }
        }
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Answer, provider::Summary, Principal), ApiError> {
    let principal = state
        .auth
        .authenticate(headers)
        .await
        .map_err(auth::AuthError::into_api_error)?;
    provider::check_content_type(headers)?;
    let limit = state.limits.max_body;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "keyless-body-too-large",
            format!("the request body is larger than {limit} bytes (`--max-body`)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => return Err(too_large()),
        Err(error) => {
            return Err(ApiError::invalid(
                "keyless-unreadable-body",
                format!("the request body could not be read to its end: {error}"),
            ));
        }
    };
    let request = provider::read_request(&bytes)?;
    let summary = provider::summary(&request);
    let loaded = state.config.current();
    Ok((
        provider::answer(&loaded.config, request),
        summary,
        principal,
    ))
}

/// A bound server.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    state: AppState,
    connection_limits: keyless_listen::Limits,
}

impl Server {
    /// Binds exactly `listen` (use port 0 for any free port).
    pub async fn bind(listen: SocketAddr, state: AppState) -> std::io::Result<Server> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        Ok(Server {
            listener,
            state,
            connection_limits: keyless_listen::Limits::default(),
        })
    }

    /// Sets the connection-level limits (`--header-timeout`, `--idle-timeout`, `--max-connections`).
    pub fn with_connection_limits(mut self, limits: keyless_listen::Limits) -> Server {
        self.connection_limits = limits;
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (reload, metrics).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish. On Unix, SIGHUP reloads
    /// keyless.yml meanwhile.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        #[cfg(unix)]
        let reloader = {
            let state = self.state.clone();
            let mut hangup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
            tokio::spawn(async move {
                while hangup.recv().await.is_some() {
                    tracing::info!("SIGHUP: reloading keyless.yml");
                    state.reload();
                }
            })
        };
        // keyless-listen sets TCP_NODELAY (an answer written in more than one segment must not wait for the
        // client's delayed ACK) and bounds connections: header and idle timeouts, a connection limit.
        let result = keyless_listen::serve(
            self.listener,
            app(self.state),
            self.connection_limits,
            shutdown,
        )
        .await;
        #[cfg(unix)]
        reloader.abort();
        result
    }
}

/// Completes on SIGINT or SIGTERM; the handlers are installed when this is called (`keyless_listen::shutdown_signal`),
/// so call it before announcing readiness.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    keyless_listen::shutdown_signal()
}
