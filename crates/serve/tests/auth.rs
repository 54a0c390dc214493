//! Authentication: Forge-shaped invocation tokens minted with a local key ring whose JWKS a local server
//! publishes (fetched through keyless-net's RemoteJwksFetcher), and the development bearer secret.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use keyless_oidc::KeyRing;
use keyless_serve::{Authenticator, ForgeAuth, Limits, Outcome};
use serde_json::{Value, json};

fn request(authorization: Option<&str>) -> Request<Body> {
    let mut builder =
        Request::post("/dynamic-pipelines").header("content-type", "application/json");
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    builder
        .body(Body::from(
            serde_json::to_vec(&fixture_json("run-main-production.json")).unwrap(),
        ))
        .unwrap()
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

#[tokio::test]
async fn forge_invocation_tokens_are_verified_against_issuer_audience_and_jwks() {
    let ring = KeyRing::generate().unwrap();
    let jwks = jwks_server(&ring).await;
    let state = forge_state(&jwks.url);

    // A valid FIT (no `sub`, as Forge sends it) renders.
    let token = mint(&ring, &fit_claims());
    let (status, body) = send(&state, request(Some(&format!("Bearer {token}")))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("pipelines_configuration").is_some(), "{body}");
    // The scheme is case-insensitive.
    let (status, _) = send(&state, request(Some(&format!("bearer {token}")))).await;
    assert_eq!(status, StatusCode::OK);

    let other_app = "ari:cloud:ecosystem::app/00000000-0000-0000-0000-000000000000";
    let other_ring = KeyRing::generate().unwrap();
    let mut none_token = {
        use base64::Engine as _;
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
        };
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&fit_claims())
        )
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong audience",
            mint(&ring, &with(fit_claims(), "aud", json!(other_app))),
            "is not this app",
        ),
        (
            "wrong issuer",
            mint(
                &ring,
                &with(fit_claims(), "iss", json!("https://evil.example")),
            ),
            "issuer `https://evil.example` is not `forge/invocation-token`",
        ),
        (
            "expired",
            mint(&ring, &with(fit_claims(), "exp", json!(now() - 5))),
            "expired",
        ),
        (
            "not yet valid",
            mint(&ring, &with(fit_claims(), "nbf", json!(now() + 3600))),
            "not valid yet",
        ),
        ("alg none", std::mem::take(&mut none_token), "unsigned"),
        (
            "signed by another key",
            mint(&other_ring, &fit_claims()),
            "not in the issuer's JWKS",
        ),
        (
            "no exp",
            mint(&ring, &{
                let mut c = fit_claims();
                c.as_object_mut().unwrap().remove("exp");
                c
            }),
            "no `exp`",
        ),
        ("garbage", "not.a.jwt".to_string(), "invalid"),
    ];
    for (name, token, says) in cases {
        let (status, body) = send(&state, request(Some(&format!("Bearer {token}")))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        let message = error_message(&body);
        assert!(message.contains(says), "{name}: {message}");
        assert!(
            !message.contains(&token),
            "{name}: the token must not be echoed"
        );
    }
    // The development secret is not accepted when only Forge tokens are configured.
    let (status, _) = send(&state, request(Some(&format!("Bearer {DEV_SECRET}")))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(state.metrics.requests(Outcome::Unauthorized), 9);
}

#[tokio::test]
async fn missing_or_non_bearer_authorization_is_a_401_with_a_challenge() {
    let state = dev_state(Limits::default());
    for (name, header, says) in [
        ("missing", None, "no Authorization header"),
        ("basic", Some("Basic dXNlcjpwYXNz"), "not `Bearer <token>`"),
        ("empty bearer", Some("Bearer "), "not `Bearer <token>`"),
        (
            "wrong secret",
            Some("Bearer dev-secret-0123456789abcdeX"),
            "not the development secret",
        ),
    ] {
        let response =
            tower::ServiceExt::oneshot(keyless_serve::app(state.clone()), request(header))
                .await
                .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert!(
            response
                .headers()
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(error_message(&body).contains(says), "{name}: {body}");
    }
    let (status, _) = send(&state, request(Some(&format!("Bearer {DEV_SECRET}")))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn keys_rotated_after_the_first_fetch_are_picked_up() {
    // The JWKS server publishes the ring as it was when started; a second ring's token names an unknown
    // kid, forcing one refresh (still unknown → 401), and a second unknown kid within 30 s does not refetch.
    let ring = KeyRing::generate().unwrap();
    let jwks = jwks_server(&ring).await;
    let state = forge_state(&jwks.url);
    let (status, _) = send(
        &state,
        request(Some(&format!("Bearer {}", mint(&ring, &fit_claims())))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let stranger = KeyRing::generate().unwrap();
    for _ in 0..2 {
        let (status, body) = send(
            &state,
            request(Some(&format!("Bearer {}", mint(&stranger, &fit_claims())))),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
}

#[tokio::test]
async fn an_unreachable_jwks_is_a_503_not_a_401() {
    let state = forge_state("http://127.0.0.1:9/.well-known/jwks.json");
    let ring = KeyRing::generate().unwrap();
    let (status, body) = send(
        &state,
        request(Some(&format!("Bearer {}", mint(&ring, &fit_claims())))),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(error_message(&body).contains("cannot fetch the keys"));
}

#[test]
fn setup_requires_some_authentication_and_a_real_secret() {
    let error = Authenticator::new(None, None).unwrap_err().to_string();
    assert!(error.contains("--forge-app-id"), "{error}");
    let error = Authenticator::new(Some(ForgeAuth::for_app(" ")), None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("app ID"), "{error}");
    let short = keyless_serve::DevBearerSecret::new("short\n")
        .unwrap_err()
        .to_string();
    assert!(short.contains("at least 16"), "{short}");
    assert!(keyless_serve::DevBearerSecret::new("has a space in it!!").is_err());
    let secret = keyless_serve::DevBearerSecret::new(&format!("{DEV_SECRET}\n")).unwrap();
    assert!(!format!("{secret:?}").contains(DEV_SECRET));
}

/// The claims of Atlassian's documented Forge invocation token ("Forge Remote essentials", fixture
/// `enforce/tests/fixtures/atlassian/forge-fit-claims.json`), with `iat`/`nbf`/`exp` moved to now (the example's
/// expired in 2023); its `aud` is the app the tests configure.
fn documented_claims() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../enforce/tests/fixtures/atlassian/forge-fit-claims.json");
    let mut claims: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(claims["aud"], APP_ID);
    let now = now();
    claims["iat"] = json!(now);
    claims["nbf"] = json!(now);
    claims["exp"] = json!(now + 25);
    claims
}

fn pinned_state(jwks_url: &str, installations: &[&str]) -> keyless_serve::AppState {
    let forge = ForgeAuth {
        jwks_url: jwks_url.to_string(),
        allow_http: true,
        installations: installations.iter().map(|s| s.to_string()).collect(),
        ..ForgeAuth::for_app(APP_ID)
    };
    keyless_serve::AppState::new(
        config(),
        Authenticator::new(Some(forge), None).unwrap(),
        Limits::default(),
    )
}

#[tokio::test]
async fn pinned_installations_only() {
    let ring = KeyRing::generate().unwrap();
    let jwks = jwks_server(&ring).await;
    let token = mint(&ring, &documented_claims());
    let bearer = format!("Bearer {token}");
    let documented = "ari:cloud:ecosystem::installation/0a3a7799-53ae-4a5b-9e7e-03338980abb5";
    // Not pinned: any installation of the app.
    let (status, _) = send(&pinned_state(&jwks.url, &[]), request(Some(&bearer))).await;
    assert_eq!(status, StatusCode::OK);
    // Pinned by the full ARI, or by the bare UUID in any case.
    for pin in [documented, "0A3A7799-53AE-4A5B-9E7E-03338980ABB5"] {
        let state = pinned_state(
            &jwks.url,
            &[
                "ari:cloud:ecosystem::installation/11111111-1111-1111-1111-111111111111",
                pin,
            ],
        );
        let (status, body) = send(&state, request(Some(&bearer))).await;
        assert_eq!(status, StatusCode::OK, "{pin}: {body}");
    }
    // Another installation: 403, naming the installation, counted as forbidden.
    let state = pinned_state(
        &jwks.url,
        &["ari:cloud:ecosystem::installation/11111111-1111-1111-1111-111111111111"],
    );
    let (status, body) = send(&state, request(Some(&bearer))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["key"], "keyless-unauthorized");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(documented) && message.contains("--forge-installation-id"),
        "{message}"
    );
    assert!(!message.contains(&token));
    assert_eq!(state.metrics.requests(Outcome::Forbidden), 1);
    // A token without any installation ID cannot match a pin.
    let mut claims = documented_claims();
    claims["app"]
        .as_object_mut()
        .unwrap()
        .remove("installationId");
    let bare = mint(&ring, &claims);
    let (status, _) = send(&state, request(Some(&format!("Bearer {bare}")))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
