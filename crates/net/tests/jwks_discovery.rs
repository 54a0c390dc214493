//! `RemoteJwksFetcher` against a local issuer on 127.0.0.1: discovery → jwks_uri, caching, issuer checks,
//! status/size/timeout errors, and the https-only default.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use keyless_net::jwks::{FetchError, FetcherOptions, RemoteJwksFetcher};
use keyless_oidc::{DiscoveryDocument, KeyRing, VerifyOptions, verify};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

static RING: LazyLock<KeyRing> = LazyLock::new(|| KeyRing::generate().unwrap());

/// What the stub serves for a path: status, body, and an optional delay.
#[derive(Clone)]
struct Route {
    status: u16,
    body: String,
    delay: Duration,
}

/// A minimal HTTP/1.1 server: one response per connection, routes by path, counts requests. Dropped with the
/// runtime at the end of the test.
struct Stub {
    base: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    hits: Arc<AtomicUsize>,
}

impl Stub {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let hits = Arc::new(AtomicUsize::new(0));
        let (server_routes, server_hits) = (Arc::clone(&routes), Arc::clone(&hits));
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let routes = Arc::clone(&server_routes);
                let hits = Arc::clone(&server_hits);
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                        let read = socket.read(&mut buffer).await.unwrap();
                        if read == 0 {
                            return;
                        }
                        request.extend_from_slice(&buffer[..read]);
                    }
                    hits.fetch_add(1, Ordering::SeqCst);
                    let text = String::from_utf8_lossy(&request);
                    let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let route = routes.lock().unwrap().get(&path).cloned().unwrap_or(Route {
                        status: 404,
                        body: "{}".into(),
                        delay: Duration::ZERO,
                    });
                    tokio::time::sleep(route.delay).await;
                    let response = format!(
                        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                        route.status,
                        route.body.len(),
                        route.body
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        Self { base, routes, hits }
    }

    fn serve(&self, path: &str, status: u16, body: String) {
        self.routes.lock().unwrap().insert(
            path.to_owned(),
            Route {
                status,
                body,
                delay: Duration::ZERO,
            },
        );
    }

    fn serve_slowly(&self, path: &str, delay: Duration) {
        self.routes.lock().unwrap().insert(
            path.to_owned(),
            Route {
                status: 200,
                body: "{}".into(),
                delay,
            },
        );
    }

    /// An issuer at `<base>/<name>` with discovery and keys.json.
    fn issuer(&self, name: &str) -> String {
        let issuer = format!("{}/{name}", self.base);
        let discovery = serde_json::to_string(&DiscoveryDocument::bitbucket(&issuer)).unwrap();
        self.serve(
            &format!("/{name}/.well-known/openid-configuration"),
            200,
            discovery,
        );
        self.serve(
            &format!("/{name}/keys.json"),
            200,
            serde_json::to_string(&RING.jwks()).unwrap(),
        );
        issuer
    }
}

fn insecure(ttl: Duration) -> RemoteJwksFetcher {
    RemoteJwksFetcher::new(FetcherOptions {
        timeout: Duration::from_millis(500),
        ttl,
        allow_http: true,
        max_body_bytes: 64 * 1024,
    })
    .unwrap()
}

#[tokio::test]
async fn fetches_discovery_then_jwks_and_caches_them() {
    let stub = Stub::start().await;
    let issuer = stub.issuer("ws");
    let fetcher = insecure(Duration::from_secs(60));
    let jwks = fetcher.jwks(&issuer).await.unwrap();
    assert_eq!(*jwks, RING.jwks());
    assert_eq!(stub.hits.load(Ordering::SeqCst), 2);
    // Cached: no new requests.
    fetcher.jwks(&issuer).await.unwrap();
    assert_eq!(stub.hits.load(Ordering::SeqCst), 2);
    // The fetched keys verify a token.
    let claims = keyless_oidc::MintRequest::new(
        "acme",
        "{44444444-4444-4444-8444-444444444444}".parse().unwrap(),
        "{11111111-1111-4111-8111-111111111111}".parse().unwrap(),
    )
    .to_claims(&stub.base, 100, &mut rand::rng())
    .unwrap();
    let token = RING.mint(&claims).unwrap();
    verify(token.expose(), &jwks, 100, &VerifyOptions::default()).unwrap();
    // Refresh and invalidate go back to the network.
    fetcher.refresh(&issuer).await.unwrap();
    assert_eq!(stub.hits.load(Ordering::SeqCst), 4);
    fetcher.invalidate(&issuer);
    fetcher.jwks(&issuer).await.unwrap();
    assert_eq!(stub.hits.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn an_expired_cache_entry_is_refetched() {
    let stub = Stub::start().await;
    let issuer = stub.issuer("ws");
    let fetcher = insecure(Duration::ZERO);
    fetcher.jwks(&issuer).await.unwrap();
    fetcher.jwks(&issuer).await.unwrap();
    assert_eq!(stub.hits.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn https_is_required_unless_explicitly_relaxed() {
    let stub = Stub::start().await;
    let issuer = stub.issuer("ws");
    let fetcher = RemoteJwksFetcher::new(FetcherOptions::default()).unwrap();
    let error = fetcher.jwks(&issuer).await.unwrap_err();
    assert!(matches!(error, FetchError::NotHttps { .. }), "{error}");
    assert_eq!(stub.hits.load(Ordering::SeqCst), 0);
    // A discovery document pointing jwks_uri at plain http is refused the same way.
    let relaxed = insecure(Duration::from_secs(60));
    let document = DiscoveryDocument {
        jwks_uri: "ftp://example.invalid/keys".into(),
        ..DiscoveryDocument::bitbucket(&issuer)
    };
    stub.serve(
        "/ws/.well-known/openid-configuration",
        200,
        serde_json::to_string(&document).unwrap(),
    );
    assert!(matches!(
        relaxed.jwks(&issuer).await.unwrap_err(),
        FetchError::NotHttps { .. }
    ));
}

#[tokio::test]
async fn issuer_mismatch_status_size_json_and_timeout_errors() {
    let stub = Stub::start().await;
    let fetcher = insecure(Duration::from_secs(60));

    let issuer = stub.issuer("ws");
    let document = DiscoveryDocument::bitbucket(&format!("{issuer}/"));
    stub.serve(
        "/ws/.well-known/openid-configuration",
        200,
        serde_json::to_string(&document).unwrap(),
    );
    let error = fetcher.jwks(&issuer).await.unwrap_err();
    assert!(
        matches!(&error, FetchError::IssuerMismatch { found, .. } if found.ends_with('/')),
        "{error}"
    );

    let missing = format!("{}/nowhere", stub.base);
    assert!(matches!(
        fetcher.jwks(&missing).await.unwrap_err(),
        FetchError::Status { status: 404, .. }
    ));

    let issuer = stub.issuer("big");
    stub.serve(
        "/big/keys.json",
        200,
        format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(70 * 1024)),
    );
    assert!(matches!(
        fetcher.jwks(&issuer).await.unwrap_err(),
        FetchError::TooLarge { .. }
    ));

    let issuer = stub.issuer("junk");
    stub.serve("/junk/keys.json", 200, "<html>".into());
    let error = fetcher.jwks(&issuer).await.unwrap_err();
    assert!(
        matches!(error, FetchError::InvalidDocument { what: "JWKS", .. }),
        "{error}"
    );

    let issuer = stub.issuer("slow");
    stub.serve_slowly(
        "/slow/.well-known/openid-configuration",
        Duration::from_secs(3),
    );
    let error = fetcher.jwks(&issuer).await.unwrap_err();
    assert!(matches!(error, FetchError::Timeout { .. }), "{error}");

    // Nothing listens on a port we just closed.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let error = fetcher
        .jwks(&format!("http://{address}/x"))
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Request { .. }), "{error}");
}
