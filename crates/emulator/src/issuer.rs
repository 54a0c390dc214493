//! The impersonated Bitbucket Pipelines issuer: per-workspace signing keys, the discovery document and
//! `keys.json` under the real issuer's path, and minting (`POST /_keyless/mint`, [`crate::Emulator::mint`]).
//! Also where STS gets verification keys: the emulator's own workspaces, else (with `--remote-issuers`)
//! discovery + JWKS over HTTPS.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use keyless_oidc::{
    BITBUCKET_API_BASE, DiscoveryDocument, Jwks, KeyRing, KeyRingExport, MintRequest, MintResponse,
    WorkspaceRef,
};

use crate::{Shared, read_lock, unix, write_lock};

/// The issuer's path under the emulator's base, with axum's `{slug}` capture where the workspace slug goes
/// (keyless-oidc builds every issuer string).
fn issuer_path() -> String {
    keyless_oidc::workspace_issuer("", "{slug}")
}

/// Why a token could not be minted (the request's fault, or a key failure).
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// The request is invalid (slug, audiences, lifetime).
    #[error(transparent)]
    Request(#[from] keyless_oidc::MintError),
    /// Generating or using the workspace key failed.
    #[error("signing failed: {0}")]
    Key(#[from] keyless_oidc::KeyError),
    /// Persisting the new workspace key failed.
    #[error("cannot persist the new workspace key to --state: {0}")]
    Persist(String),
    /// The issuer already holds keys for `--max-workspaces` workspaces.
    #[error(
        "the emulator already holds signing keys for {max} workspaces, its --max-workspaces limit: mint for a \
         workspace it knows, or restart it with a higher --max-workspaces"
    )]
    TooManyWorkspaces {
        /// The limit.
        max: usize,
    },
}

struct Workspace {
    ring: KeyRing,
    jwks: Arc<Jwks>,
}

/// Signing keys per workspace slug, plus the optional remote fetcher.
pub struct Issuer {
    workspaces: RwLock<HashMap<String, Arc<Workspace>>>,
    remote: Option<keyless_net::jwks::RemoteJwksFetcher>,
}

impl Issuer {
    /// An issuer with the workspaces' keys from a state file.
    pub(crate) fn new(
        remote_issuers: bool,
        persisted: &std::collections::BTreeMap<String, KeyRingExport>,
    ) -> Self {
        let workspaces = persisted
            .iter()
            .filter_map(|(slug, export)| {
                let ring = KeyRing::import(export).ok()?;
                let jwks = Arc::new(ring.jwks());
                Some((slug.clone(), Arc::new(Workspace { ring, jwks })))
            })
            .collect();
        let remote = if remote_issuers {
            match keyless_net::jwks::RemoteJwksFetcher::new(
                keyless_net::jwks::FetcherOptions::default(),
            ) {
                Ok(fetcher) => Some(fetcher),
                Err(error) => {
                    tracing::error!(%error, "--remote-issuers is unavailable");
                    None
                }
            }
        } else {
            None
        };
        Self {
            workspaces: RwLock::new(workspaces),
            remote,
        }
    }

    /// The keys that verify tokens of `iss`: the emulator's own workspace keys when `iss` is a Bitbucket issuer
    /// it holds keys for, else discovery + JWKS when remote issuers are enabled. `None`: no keys (AWS says
    /// "Couldn't retrieve verification key…").
    pub(crate) async fn jwks_for(&self, iss: &str) -> Option<Arc<Jwks>> {
        if let Some(parts) = keyless_oidc::parse_issuer(iss)
            && parts.base == BITBUCKET_API_BASE
            && let Some(workspace) = read_lock(&self.workspaces).get(parts.slug)
        {
            return Some(workspace.jwks.clone());
        }
        let remote = self.remote.as_ref()?;
        match remote.jwks(iss).await {
            Ok(jwks) => Some(jwks),
            Err(error) => {
                tracing::debug!(error = %crate::log::Quoted(&error.to_string()), "remote issuer keys unavailable");
                None
            }
        }
    }

    fn existing(&self, slug: &str) -> Option<Arc<Workspace>> {
        read_lock(&self.workspaces).get(slug).cloned()
    }
}

/// The workspace's keys, created (and persisted) on first use: only minting creates keys, at most
/// `--max-workspaces` of them; the state file is written only then.
fn workspace(shared: &Shared, slug: &str) -> Result<Arc<Workspace>, MintError> {
    if let Some(existing) = shared.issuer.existing(slug) {
        return Ok(existing);
    }
    let too_many = || MintError::TooManyWorkspaces {
        max: shared.max_workspaces,
    };
    if read_lock(&shared.issuer.workspaces).len() >= shared.max_workspaces {
        return Err(too_many());
    }
    let ring = KeyRing::generate()?;
    let export = ring.export()?;
    let mut workspaces = write_lock(&shared.issuer.workspaces);
    if let Some(existing) = workspaces.get(slug) {
        return Ok(existing.clone());
    }
    if workspaces.len() >= shared.max_workspaces {
        return Err(too_many());
    }
    {
        let mut state = write_lock(&shared.state);
        state.issuer_keys.insert(slug.to_owned(), export);
        shared
            .persist(&state)
            .map_err(|e| MintError::Persist(e.message))?;
    }
    let jwks = Arc::new(ring.jwks());
    let created = Arc::new(Workspace { ring, jwks });
    workspaces.insert(slug.to_owned(), created.clone());
    tracing::info!(
        workspace = slug,
        count = workspaces.len(),
        "created issuer keys"
    );
    Ok(created)
}

/// Mints a token with the real Bitbucket `iss` for the request's workspace.
pub(crate) fn mint(
    shared: &Shared,
    request: &MintRequest,
    now: SystemTime,
) -> Result<MintResponse, MintError> {
    // Validate the request (slug, audiences, lifetime) before creating any key.
    let claims = request.to_claims(BITBUCKET_API_BASE, unix(now), &mut rand::rng())?;
    let workspace = workspace(shared, &request.workspace)?;
    let token = workspace.ring.mint(&claims)?;
    Ok(MintResponse { token })
}

/// See [`crate::Emulator::sign_raw`].
pub(crate) fn sign_raw(
    shared: &Shared,
    slug: &str,
    header: Option<&serde_json::Value>,
    payload: &serde_json::Value,
) -> Result<keyless_oidc::SecretToken, MintError> {
    WorkspaceRef::new(slug, keyless_oidc::BracedUuid::random(&mut rand::rng()))
        .map_err(keyless_oidc::MintError::from)?;
    let workspace = workspace(shared, slug)?;
    let key = workspace.ring.current();
    let default = serde_json::json!({"alg": "RS256", "kid": key.kid(), "typ": "JWT"});
    Ok(key.sign_json(header.unwrap_or(&default), payload)?)
}

/// The issuer routes and `POST /_keyless/mint`.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            &format!("{}/.well-known/openid-configuration", issuer_path()),
            get(discovery),
        )
        .route(&format!("{}/keys.json", issuer_path()), get(keys))
        .route("/_keyless/mint", post(mint_endpoint))
}

fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

fn slug_error(slug: &str) -> Option<Response> {
    // Any valid slug is a workspace; the UUID does not matter for the issuer URL.
    WorkspaceRef::new(slug, keyless_oidc::BracedUuid::random(&mut rand::rng()))
        .err()
        .map(|e| json_error(StatusCode::NOT_FOUND, e.to_string()))
}

/// The keys of a workspace that has some, else the 404 an unknown workspace gets: serving discovery or keys never
/// creates a workspace (an unauthenticated GET must not cost a key generation or a state write).
fn known_workspace(shared: &Shared, slug: &str) -> Result<Arc<Workspace>, Box<Response>> {
    if let Some(response) = slug_error(slug) {
        return Err(Box::new(response));
    }
    shared.issuer.existing(slug).ok_or_else(|| {
        Box::new(json_error(
            StatusCode::NOT_FOUND,
            format!(
                "the emulator holds no keys for workspace `{}`: a workspace's issuer exists once a token was \
                 minted for it (POST /_keyless/mint, or keyless token mint --emulator)",
                crate::log::Quoted(slug)
            ),
        ))
    })
}

async fn discovery(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = known_workspace(&shared, &slug) {
        return *response;
    }
    let issuer = keyless_oidc::workspace_issuer(BITBUCKET_API_BASE, &slug);
    let mut document = DiscoveryDocument::bitbucket(&issuer);
    // `issuer` stays the real one (it must equal the tokens' `iss`); the keys are served here.
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        document.jwks_uri =
            format!("http://{host}/2.0/workspaces/{slug}/pipelines-config/identity/oidc/keys.json");
    }
    Json(document).into_response()
}

async fn keys(AxumState(shared): AxumState<Arc<Shared>>, Path(slug): Path<String>) -> Response {
    match known_workspace(&shared, &slug) {
        Ok(workspace) => Json(workspace.jwks.as_ref().clone()).into_response(),
        Err(response) => *response,
    }
}

async fn mint_endpoint(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match crate::read_body_within(&shared, body, &parts.headers).await {
        Ok(body) => body,
        Err(error) => return json_error(error.status, error.message),
    };
    let mint_request: MintRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "the mint request is not valid JSON of the expected shape ({error}); send \
                     {{\"workspace\": SLUG, \"workspace_uuid\": \"{{UUID}}\", \"repository_uuid\": \"{{UUID}}\", ...}}"
                ),
            );
        }
    };
    match mint(&shared, &mint_request, shared.clock.now()) {
        Ok(response) => {
            tracing::debug!(workspace = %mint_request.workspace, "minted a token");
            Json(response).into_response()
        }
        Err(MintError::Request(error)) => json_error(StatusCode::BAD_REQUEST, error.to_string()),
        Err(error @ MintError::TooManyWorkspaces { .. }) => {
            json_error(StatusCode::TOO_MANY_REQUESTS, error.to_string())
        }
        Err(error) => json_error(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}
