//! Issuers without discovery (Forge invocation tokens): `RemoteJwksFetcher::jwks_at`/`refresh_at` fetch a JWKS
//! URL directly, cached apart from issuers; `VerifyOptions::require_subject = false` accepts tokens with no `sub`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keyless_net::jwks::{FetchError, FetcherOptions, RemoteJwksFetcher};
use keyless_oidc::{KeyRing, VerifyError, VerifyOptions, verify};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `body` as JSON for every request on 127.0.0.1:0, counting requests.
async fn serve(body: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let (body, counter) = (body.clone(), Arc::clone(&counter));
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let read = socket.read(&mut buffer).await.unwrap();
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (url, hits)
}

fn fetcher(allow_http: bool) -> RemoteJwksFetcher {
    RemoteJwksFetcher::new(FetcherOptions {
        timeout: Duration::from_secs(2),
        allow_http,
        ..FetcherOptions::default()
    })
    .unwrap()
}

#[tokio::test]
async fn a_jwks_url_is_fetched_cached_and_refreshed() {
    let ring = KeyRing::generate().unwrap();
    let (url, hits) = serve(serde_json::to_string(&ring.jwks()).unwrap()).await;
    let fetcher = fetcher(true);
    let first = fetcher.jwks_at(&url).await.unwrap();
    assert_eq!(first.keys.len(), 1);
    let again = fetcher.jwks_at(&url).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the second call is cached");
    fetcher.refresh_at(&url).await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2, "refresh_at always fetches");

    let error = self::fetcher(false).jwks_at(&url).await.unwrap_err();
    assert!(matches!(error, FetchError::NotHttps { .. }), "{error}");
}

#[test]
fn a_token_without_sub_passes_only_when_the_subject_is_optional() {
    let ring = KeyRing::generate().unwrap();
    let now = 1_800_000_000;
    let token = ring
        .current()
        .sign_json(
            &json!({"alg": "RS256", "kid": ring.current().kid(), "typ": "JWT"}),
            &json!({"iss": "forge/invocation-token", "aud": "ari:cloud:ecosystem::app/x", "iat": now, "exp": now + 25}),
        )
        .unwrap();
    assert_eq!(
        verify(
            token.expose(),
            ring.jwks_ref(),
            now,
            &VerifyOptions::default()
        )
        .unwrap_err(),
        VerifyError::MissingSubject
    );
    let optional = VerifyOptions {
        require_subject: false,
        ..VerifyOptions::default()
    };
    let verified = verify(token.expose(), ring.jwks_ref(), now, &optional).unwrap();
    assert_eq!(verified.subject, "");
    assert_eq!(verified.issuer, "forge/invocation-token");
}
