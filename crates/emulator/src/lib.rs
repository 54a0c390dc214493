//! `keyless emulate`: a local Bitbucket Pipelines OIDC issuer plus an AWS STS and IAM that enforce trust like
//! AWS, on one HTTP endpoint.
//!
//! - The issuer serves `/2.0/workspaces/<slug>/pipelines-config/identity/oidc/{.well-known/openid-configuration,
//!   keys.json}` and mints tokens (`POST /_keyless/mint`, [`Emulator::mint`]) whose `iss` is the *real* Bitbucket
//!   issuer, so providers and trust policies written for AWS work unchanged.
//! - STS (`AssumeRoleWithWebIdentity`, `AssumeRole`, `GetCallerIdentity`) and IAM (OIDC providers, roles and
//!   their policies) speak the AWS Query protocol on `GET /` and `POST /`, with AWS's codes, messages and XML.
//!
//! Tests start it in-process with [`Emulator::start`] on `127.0.0.1:0`, or drive [`Emulator::app`] with
//! `tower::ServiceExt::oneshot` without a socket.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use keyless_emulator::{Config, Emulator};
//! let running = Emulator::start(Config::local()).await?;
//! println!("{}", running.endpoint);
//! running.shutdown().await;
//! # Ok(()) }
//! ```

pub mod error;
pub mod iam;
pub mod ids;
pub mod issuer;
mod log;
pub mod network;
pub mod query;
pub mod sessions;
pub mod sigv4;
pub mod state;
pub mod sts;
mod trust;
pub mod validate;
pub mod xml;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::any;
use serde::Serialize;

pub use crate::error::AwsError;
pub use crate::state::Secret;
use crate::state::{Account, State};
use crate::xml::Service;

/// The largest request body accepted; larger bodies get 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Default `--max-workspaces`: how many workspaces the issuer holds signing keys for.
pub const DEFAULT_MAX_WORKSPACES: usize = 256;

/// The account created when none is given.
pub const DEFAULT_ACCOUNT: &str = "123456789012";

/// The emulator's notion of "now". Tests replace it to play expired tokens and signatures.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(SystemTime::now))
    }

    /// A clock from a function.
    pub fn from_fn(f: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// The current time.
    pub fn now(&self) -> SystemTime {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// How to run the emulator (the flags of `keyless emulate`).
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`--listen`, default `127.0.0.1:4566`).
    pub listen: SocketAddr,
    /// 12-digit account ids (`--account`, repeatable). Empty: the state file's accounts, or `123456789012`.
    pub accounts: Vec<String>,
    /// Persist IAM state and credentials here (`--state`), atomically after every change.
    pub state_file: Option<PathBuf>,
    /// Take `aws:SourceIp` from `X-Forwarded-For`, and the VPC keys from loopback peers' `X-Keyless-Source-Vpc`,
    /// `-Source-Vpce`, `-Source-Vpc-Arn` and `-Vpc-Source-Ip` headers (`--trust-forwarded-for`).
    pub trust_forwarded_for: bool,
    /// The network of requests without those headers, instead of the peer address: `--source-ip` (the internet
    /// path) or `--source-vpce`/`--source-vpc`/`--source-vpc-arn`/`--vpc-source-ip` (the VPC path), for clients
    /// that cannot add headers (the AWS CLI).
    pub default_network: Option<keyless_iam::network::Network>,
    /// Verify tokens from issuers the emulator holds no keys for via discovery + JWKS (`--remote-issuers`).
    pub remote_issuers: bool,
    /// Connection limits (`--header-timeout`, `--idle-timeout`, `--max-connections`). The header timeout also
    /// bounds reading a request body.
    pub limits: keyless_listen::Limits,
    /// The most workspaces the issuer creates keys for (`--max-workspaces`); past it, minting answers 429.
    pub max_workspaces: usize,
    /// The clock.
    pub clock: Clock,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 4566)),
            accounts: Vec::new(),
            state_file: None,
            trust_forwarded_for: false,
            default_network: None,
            remote_issuers: false,
            limits: keyless_listen::Limits::default(),
            max_workspaces: DEFAULT_MAX_WORKSPACES,
            clock: Clock::system(),
        }
    }
}

impl Config {
    /// The configuration tests use: an ephemeral port on 127.0.0.1, one account, state in memory.
    pub fn local() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Self::default()
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// An `--account` value is not 12 digits.
    #[error("`{0}` is not an AWS account id: use exactly 12 digits, e.g. --account 123456789012")]
    BadAccount(String),
    /// The state file is unusable.
    #[error(transparent)]
    State(#[from] state::StateError),
    /// Binding the listen address failed.
    #[error(
        "cannot listen on {addr}: {source} (is another emulator running? pick another --listen port)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// One account's admin credentials, as printed at start-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountCredentials {
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret (redacted in `Debug`; serialised in the ready file).
    pub secret_access_key: Secret,
}

/// The start-up document: `{"endpoint": URL, "accounts": {"<id>": {"access_key_id", "secret_access_key"}}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadyInfo {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Credentials per account id.
    pub accounts: BTreeMap<String, AccountCredentials>,
}

/// State shared by all requests.
pub(crate) struct Shared {
    pub(crate) state: RwLock<State>,
    pub(crate) state_file: Option<PathBuf>,
    pub(crate) trust_forwarded_for: bool,
    /// `--source-ip` / `--source-vpc*`, changeable in-process ([`Emulator::set_default_network`]).
    pub(crate) default_network: RwLock<Option<keyless_iam::network::Network>>,
    pub(crate) clock: Clock,
    pub(crate) issuer: issuer::Issuer,
    pub(crate) policies: trust::PolicyCache,
    pub(crate) max_workspaces: usize,
    pub(crate) body_timeout: Duration,
    pub(crate) stats: log::Stats,
}

impl Shared {
    /// Writes the state file (if any). Called with the write lock held so that writes are ordered.
    pub(crate) fn persist(&self, state: &State) -> Result<(), AwsError> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        state.save(path).map_err(|error| {
            tracing::error!(%error, "cannot persist emulator state");
            AwsError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceFailure",
                "The emulator could not write its --state file; see its log.",
            )
        })
    }
}

/// An emulator instance (state, keys, configuration) without a socket.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").finish_non_exhaustive()
    }
}

fn valid_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

impl Emulator {
    /// Builds an emulator: loads `--state` if given, creates missing accounts with fresh credentials.
    pub fn new(config: &Config) -> Result<Self, StartError> {
        if let Some(bad) = config.accounts.iter().find(|a| !valid_account_id(a)) {
            return Err(StartError::BadAccount(bad.clone()));
        }
        let mut state = match &config.state_file {
            Some(path) => State::load(path)?,
            None => State::default(),
        };
        let mut wanted = config.accounts.clone();
        if wanted.is_empty() && state.accounts.is_empty() {
            wanted.push(DEFAULT_ACCOUNT.to_owned());
        }
        for id in wanted {
            state.accounts.entry(id).or_insert_with(Account::generate);
        }
        if let Some(path) = &config.state_file {
            state.save(path)?;
        }
        let issuer = issuer::Issuer::new(config.remote_issuers, &state.issuer_keys);
        let shared = Shared {
            state: RwLock::new(state),
            state_file: config.state_file.clone(),
            trust_forwarded_for: config.trust_forwarded_for,
            default_network: RwLock::new(config.default_network.clone()),
            clock: config.clock.clone(),
            issuer,
            policies: trust::PolicyCache::default(),
            max_workspaces: config.max_workspaces,
            body_timeout: config.limits.header_timeout,
            stats: log::Stats::default(),
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// The HTTP application: issuer routes, the mint endpoint and the Query endpoint.
    pub fn app(&self) -> Router {
        Router::new()
            .merge(issuer::routes())
            .route("/", any(query_endpoint))
            .fallback(not_found)
            .with_state(self.shared.clone())
    }

    /// Admin credentials of every account.
    pub fn accounts(&self) -> BTreeMap<String, AccountCredentials> {
        let state = read_lock(&self.shared.state);
        state
            .accounts
            .iter()
            .map(|(id, account)| {
                (
                    id.clone(),
                    AccountCredentials {
                        access_key_id: account.access_key_id.clone(),
                        secret_access_key: account.secret_access_key.clone(),
                    },
                )
            })
            .collect()
    }

    /// Sets the network of requests that carry no forwarding headers (what `--source-ip` / `--source-vpc*` set at
    /// start), so an in-process owner such as `keyless demo` can play a runner inside a network and then one
    /// outside it with clients that cannot add headers. `None`: the peer address.
    pub fn set_default_network(&self, network: Option<keyless_iam::network::Network>) {
        match self.shared.default_network.write() {
            Ok(mut guard) => *guard = network,
            Err(poisoned) => *poisoned.into_inner() = network,
        }
    }

    /// Mints a Bitbucket-shaped token in-process, exactly like `POST /_keyless/mint`.
    pub fn mint(
        &self,
        request: &keyless_oidc::MintRequest,
    ) -> Result<keyless_oidc::MintResponse, issuer::MintError> {
        issuer::mint(&self.shared, request, self.shared.clock.now())
    }

    /// Signs an arbitrary JWT header and payload with the workspace's current RS256 key (creating the workspace
    /// if needed), for tests that need tokens a real issuer would never produce: no `sub`, `nbf` in the future,
    /// a lying `alg`. Without `header`, it is `{"alg":"RS256","kid":<current kid>,"typ":"JWT"}`.
    pub fn sign_raw(
        &self,
        workspace: &str,
        header: Option<&serde_json::Value>,
        payload: &serde_json::Value,
    ) -> Result<keyless_oidc::SecretToken, issuer::MintError> {
        issuer::sign_raw(&self.shared, workspace, header, payload)
    }

    /// Binds `config.listen` and serves until [`RunningEmulator::shutdown`] (or drop). Returns once the socket
    /// accepts connections.
    pub async fn start(config: Config) -> Result<RunningEmulator, StartError> {
        let emulator = Self::new(&config)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let app = emulator.app();
        let limits = config.limits;
        let summary = tokio::spawn(log::summaries(emulator.shared.clone()));
        let task = tokio::spawn(async move {
            let result = keyless_listen::serve(listener, app, limits, async move {
                let _ = stop_rx.await;
            })
            .await;
            summary.abort();
            if let Err(error) = result {
                tracing::error!(%error, "emulator server stopped with an error");
            }
            tracing::info!("emulator stopped");
        });
        tracing::info!(
            endpoint = %format!("http://{addr}"),
            header_timeout = ?limits.header_timeout,
            idle_timeout = ?limits.idle_timeout,
            max_connections = limits.max_connections,
            max_workspaces = config.max_workspaces,
            "emulator listening"
        );
        Ok(RunningEmulator {
            endpoint: format!("http://{addr}"),
            addr,
            accounts: emulator.accounts(),
            emulator,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// A started emulator. Dropping it stops the server (without waiting); [`RunningEmulator::shutdown`] waits for
/// in-flight requests to finish.
#[derive(Debug)]
pub struct RunningEmulator {
    /// `http://127.0.0.1:PORT`: set `AWS_ENDPOINT_URL` to this.
    pub endpoint: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// Admin credentials per account.
    pub accounts: BTreeMap<String, AccountCredentials>,
    emulator: Emulator,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningEmulator {
    /// The instance behind the socket (for [`Emulator::mint`]).
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// The start-up document.
    pub fn ready_info(&self) -> ReadyInfo {
        ReadyInfo {
            endpoint: self.endpoint.clone(),
            accounts: self.accounts.clone(),
        }
    }

    /// Mints a token (see [`Emulator::mint`]).
    pub fn mint(
        &self,
        request: &keyless_oidc::MintRequest,
    ) -> Result<keyless_oidc::MintResponse, issuer::MintError> {
        self.emulator.mint(request)
    }

    /// Stops accepting connections, lets in-flight requests finish, and waits for the server to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub(crate) fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // A panic while holding the lock cannot leave IAM state half-written (every mutation is a single insert
    // or field assignment after validation), so a poisoned lock is still safe to use.
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads a body up to [`BODY_LIMIT`] within the body timeout (`--header-timeout`): `Err(413)` beyond the size,
/// `Err(408)` when the client sends it too slowly.
pub(crate) async fn read_body_within(
    shared: &Shared,
    body: Body,
    headers: &HeaderMap,
) -> Result<Bytes, AwsError> {
    match tokio::time::timeout(shared.body_timeout, read_body(body, headers)).await {
        Ok(result) => result,
        Err(_) => Err(AwsError::new(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeout",
            format!(
                "The request body was not received within {} s (--header-timeout).",
                shared.body_timeout.as_secs_f32()
            ),
        )),
    }
}

/// Reads a body up to [`BODY_LIMIT`]; `Err(413)` beyond it.
pub(crate) async fn read_body(body: Body, headers: &HeaderMap) -> Result<Bytes, AwsError> {
    let too_large = || {
        AwsError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("Request body exceeds the limit of {BODY_LIMIT} bytes."),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return Err(too_large());
    }
    match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, BODY_LIMIT)).await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(AwsError::new(
            StatusCode::BAD_REQUEST,
            "MalformedInput",
            "The request body could not be read.",
        )),
    }
}

/// Everything a Query handler needs about the request.
pub(crate) struct Incoming<'a> {
    pub(crate) method: &'a Method,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    pub(crate) params: &'a query::QueryParams,
    /// The network path the request plays ([`network::of_request`]).
    pub(crate) network: keyless_iam::network::Network,
    pub(crate) now: SystemTime,
}

/// An XML response with `x-amzn-RequestId`.
pub(crate) fn xml_response(status: StatusCode, body: Vec<u8>, request_id: &str) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    response
}

pub(crate) fn error_response(service: Service, error: &AwsError, request_id: &str) -> Response {
    let body = xml::error(
        service,
        error.is_sender_fault(),
        error.code,
        &error.message,
        request_id,
    );
    xml_response(error.status, body, request_id)
}

/// `GET /` and `POST /`: the AWS Query protocol for STS and IAM.
async fn query_endpoint(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let request_id = ids::request_id();
    let (parts, body) = request.into_parts();
    let (body, params) = match read_query(&shared, &parts, body).await {
        Ok(read) => read,
        Err(error) => return failed(&shared, Service::Sts, "<unread>", &error, &request_id),
    };
    let default_network = match shared.default_network.read() {
        Ok(guard) => guard.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    let network = match network::of_request(shared.trust_forwarded_for, default_network, &parts) {
        Ok(network) => network,
        Err(error) => {
            shared.stats.count(error.status);
            return error_response(Service::Sts, &error, &request_id);
        }
    };
    let incoming = Incoming {
        method: &parts.method,
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &body,
        params: &params,
        network,
        now: shared.clock.now(),
    };
    let action = params.get("Action").unwrap_or_default();
    let (service, result) = if sts::ACTIONS.contains(&action) {
        (Service::Sts, sts::handle(&shared, action, &incoming).await)
    } else if iam::ACTIONS.contains(&action) {
        (Service::Iam, handle_iam(&shared, action, &incoming))
    } else {
        let error = if action.is_empty() {
            AwsError::new(StatusCode::BAD_REQUEST, "MissingAction", "Missing Action")
        } else {
            AwsError::new(
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                format!(
                    "Could not find operation {action} for version {}",
                    params.get("Version").unwrap_or("NO_VERSION_SPECIFIED")
                ),
            )
        };
        let service = match sigv4::parse_authorization(&parts.headers) {
            Ok(Some(auth)) if auth.service == "iam" => Service::Iam,
            _ => Service::Sts,
        };
        (service, Err(error))
    };
    let logged = log::action(
        action,
        sts::ACTIONS.contains(&action) || iam::ACTIONS.contains(&action),
    );
    match result {
        Ok(result) => {
            shared.stats.count(StatusCode::OK);
            tracing::debug!(request_id, action = %logged, status = 200, "request");
            xml_response(
                StatusCode::OK,
                xml::success(service, action, result, &request_id),
                &request_id,
            )
        }
        Err(error) => failed(&shared, service, &logged, &error, &request_id),
    }
}

/// The body and the Query parameters of a request: `GET`/`POST` only, the body read within the body timeout,
/// parameters that parse and that XML 1.0 can carry.
async fn read_query(
    shared: &Shared,
    parts: &axum::http::request::Parts,
    body: Body,
) -> Result<(Bytes, query::QueryParams), AwsError> {
    if parts.method != Method::GET && parts.method != Method::POST {
        return Err(AwsError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!(
                "The HTTP method {} is not allowed: the Query protocol uses GET or POST.",
                parts.method
            ),
        ));
    }
    let body = read_body_within(shared, body, &parts.headers).await?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let params = query::parse(parts.uri.query(), content_type, &body).map_err(|error| {
        AwsError::new(
            StatusCode::BAD_REQUEST,
            "MalformedQueryString",
            error.to_string(),
        )
    })?;
    validate::xml_safe(&params)?;
    Ok((body, params))
}

/// Counts, logs (`debug`) and renders a request that failed.
fn failed(
    shared: &Shared,
    service: Service,
    action: &str,
    error: &AwsError,
    request_id: &str,
) -> Response {
    shared.stats.count(error.status);
    tracing::debug!(
        request_id,
        action,
        status = error.status.as_u16(),
        code = error.code,
        "request failed"
    );
    error_response(service, error, request_id)
}

/// The caller of a signed request.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// An account's admin keys: the account root.
    Root { account: String },
    /// A temporary session.
    Session(sessions::SessionInfo),
}

impl Caller {
    pub(crate) fn account(&self) -> &str {
        match self {
            Caller::Root { account } => account,
            Caller::Session(session) => &session.account,
        }
    }

    pub(crate) fn arn(&self) -> String {
        match self {
            Caller::Root { account } => format!("arn:aws:iam::{account}:root"),
            Caller::Session(session) => session.arn(),
        }
    }
}

/// Verifies SigV4 for `service` and identifies the caller.
pub(crate) fn authenticate(
    shared: &Shared,
    incoming: &Incoming<'_>,
    service: Service,
) -> Result<Caller, AwsError> {
    let Some(auth) = sigv4::parse_authorization(incoming.headers)? else {
        return Err(AwsError::new(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        ));
    };
    let invalid_key = || {
        AwsError::new(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )
    };
    let token = incoming
        .headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok());
    let (caller, secret) = {
        let state = read_lock(&shared.state);
        if let Some((id, account)) = state
            .accounts
            .iter()
            .find(|(_, a)| a.access_key_id == auth.access_key_id)
        {
            if token.is_some() {
                return Err(invalid_key());
            }
            (
                Caller::Root {
                    account: id.clone(),
                },
                account.secret_access_key.clone(),
            )
        } else {
            let token = token.ok_or_else(invalid_key)?;
            let (info, secret) = sessions::open(&state.session_key, &auth.access_key_id, token)
                .ok_or_else(invalid_key)?;
            (Caller::Session(info), secret)
        }
    };
    let request = sigv4::SignedRequest {
        method: incoming.method.as_str(),
        path: incoming.path,
        query: incoming.query,
        headers: incoming.headers,
        body: incoming.body,
    };
    sigv4::verify(
        &auth,
        secret.expose(),
        service.signing_name(),
        &request,
        incoming.now,
    )?;
    if let Caller::Session(info) = &caller
        && info.expires_at <= unix(incoming.now)
    {
        return Err(AwsError::new(
            StatusCode::FORBIDDEN,
            "ExpiredToken",
            "The security token included in the request is expired",
        ));
    }
    Ok(caller)
}

pub(crate) fn unix(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn handle_iam(
    shared: &Shared,
    action: &str,
    incoming: &Incoming<'_>,
) -> Result<Option<xml::Xml>, AwsError> {
    let caller = authenticate(shared, incoming, Service::Iam)?;
    let account_id = match &caller {
        Caller::Root { account } => account.clone(),
        Caller::Session(session) => {
            // Identity policies are not evaluated; IAM administration is reserved to the account's admin keys.
            return Err(AwsError::access_denied(format!(
                "User: {} is not authorized to perform: iam:{action} because no identity-based policy allows the \
                 iam:{action} action",
                session.arn()
            )));
        }
    };
    let call = iam::Call {
        account_id: &account_id,
        params: incoming.params,
        now: time::OffsetDateTime::from(incoming.now),
    };
    if iam::is_mutation(action) {
        let mut state = write_lock(&shared.state);
        let account = state
            .accounts
            .get_mut(&account_id)
            .ok_or_else(|| AwsError::access_denied("Unknown account"))?;
        let output = iam::write(action, account, &call)?;
        shared.persist(&state)?;
        Ok(output)
    } else {
        let state = read_lock(&shared.state);
        let account = state
            .accounts
            .get(&account_id)
            .ok_or_else(|| AwsError::access_denied("Unknown account"))?;
        iam::read(action, account, &call)
    }
}

async fn not_found(request: Request) -> Response {
    let request_id = ids::request_id();
    let error = AwsError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!(
            "No such endpoint: {} {}. The emulator serves the AWS Query API on `/`, issuers under \
             /2.0/workspaces/<slug>/pipelines-config/identity/oidc/ and POST /_keyless/mint.",
            request.method(),
            request.uri().path()
        ),
    );
    error_response(Service::Sts, &error, &request_id)
}
