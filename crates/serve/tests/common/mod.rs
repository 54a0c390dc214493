//! Shared helpers: the fixture policy, app state with a development secret or Forge tokens, a local JWKS server,
//! Forge-shaped invocation tokens, and one-shot requests.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use keyless_oidc::KeyRing;
use keyless_serve::{AppState, Authenticator, DevBearerSecret, ForgeAuth, Limits, LiveConfig};
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub const DEV_SECRET: &str = "dev-secret-0123456789abcdef";
pub const APP_ID: &str = "ari:cloud:ecosystem::app/8db33809-1f32-48bb-8c52-5877dab48107";

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture(name)).unwrap()).unwrap()
}

pub fn config() -> LiveConfig {
    LiveConfig::open(fixture("keyless.yml")).unwrap()
}

/// State accepting only the development secret.
pub fn dev_state(limits: Limits) -> AppState {
    let auth = Authenticator::new(None, Some(DevBearerSecret::new(DEV_SECRET).unwrap())).unwrap();
    AppState::new(config(), auth, limits)
}

/// State accepting Forge tokens whose keys are at `jwks_url` (http allowed).
pub fn forge_state(jwks_url: &str) -> AppState {
    let forge = ForgeAuth {
        jwks_url: jwks_url.to_string(),
        allow_http: true,
        ..ForgeAuth::for_app(APP_ID)
    };
    let auth = Authenticator::new(Some(forge), None).unwrap();
    AppState::new(config(), auth, Limits::default())
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The claims of a Forge invocation token as "Forge Remote essentials" shows them (no `sub`).
pub fn fit_claims() -> Value {
    let now = now();
    json!({
        "app": {
            "id": APP_ID,
            "version": "16",
            "appVersion": "16.0.1",
            "installationId": "ari:cloud:ecosystem::installation/0a3a7799-53ae-4a5b-9e7e-03338980abb5",
            "apiBaseUrl": "https://api.atlassian.com/ex/bitbucket/{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}",
            "environment": {"type": "DEVELOPMENT", "id": "ari:cloud:ecosystem::environment/8db33809/aa911f10"},
            "module": {"type": "core:endpoint", "key": "keyless-provider-endpoint"},
            "installation": {"id": "ari:cloud:ecosystem::installation/0a3a7799-53ae-4a5b-9e7e-03338980abb5", "contexts": []}
        },
        "context": {"workspaceId": "{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}"},
        "aud": APP_ID,
        "iss": "forge/invocation-token",
        "iat": now,
        "nbf": now,
        "exp": now + 25,
        "jti": "d8a496253ec8c18a54631e4c82cbedd5d0ae8570"
    })
}

/// Signs `claims` as Forge does (RS256 with the ring's `kid`).
pub fn mint(ring: &KeyRing, claims: &Value) -> String {
    ring.current()
        .sign_json(
            &json!({"alg": "RS256", "kid": ring.current().kid(), "typ": "JWT"}),
            claims,
        )
        .unwrap()
        .expose()
        .to_string()
}

/// Serves `ring`'s JWKS on 127.0.0.1:0 until the returned guard drops; returns the JWKS URL.
pub struct JwksServer {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn jwks_server(ring: &KeyRing) -> JwksServer {
    let jwks = serde_json::to_value(ring.jwks()).unwrap();
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    JwksServer {
        url: format!("http://{addr}/.well-known/jwks.json"),
        task,
    }
}

/// A POST to the provider with the development secret and JSON content type.
pub fn post(body: impl Into<Body>) -> Request<Body> {
    Request::post("/dynamic-pipelines")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {DEV_SECRET}"))
        .body(body.into())
        .unwrap()
}

pub async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, Value) {
    let response: Response<Body> = keyless_serve::app(state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "status {status}: body is not JSON: {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, body)
}

/// The error message of an error answer; panics if the body is not `{"error": {"key", "message"}}`.
pub fn error_message(body: &Value) -> &str {
    let error = body
        .get("error")
        .unwrap_or_else(|| panic!("not an error: {body}"));
    assert!(error["key"].as_str().unwrap().starts_with("keyless-"));
    assert_eq!(
        error.as_object().unwrap().len(),
        2,
        "only key and message: {error}"
    );
    error["message"].as_str().unwrap()
}
