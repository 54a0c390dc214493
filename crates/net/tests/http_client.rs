//! The shared client of `keyless_net::http`: proxies come from the config (read from a map here, never from this
//! process's environment, so tests in this binary cannot race on it), `NO_PROXY` bypasses them, and idempotent
//! requests are retried on 429/5xx while a POST is not.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keyless_net::http::{HttpClient, HttpConfig, ProxyConfig, RetryPolicy};
use reqwest::Method;
use support::{Answer, Loopback, proxies};

/// The origin's name in URLs; only `HttpConfig::resolve` knows where it is, so a request that reaches the origin
/// directly went through our resolver override, and one that reaches the proxy never resolved it.
const ORIGIN: &str = "origin.keyless.test";

fn client(proxy: ProxyConfig, origin: &Loopback) -> HttpClient {
    let config = HttpConfig::with_proxy(proxy)
        .timeout(Duration::from_secs(5))
        .resolve(ORIGIN, origin.addr);
    HttpClient::new(&config).unwrap()
}

async fn body(client: &HttpClient, url: &str) -> String {
    let response = client.send(client.get(url)).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn http_proxy_carries_plain_http_requests_and_no_proxy_bypasses_it() {
    let origin = Loopback::start(|_| Answer::new(200, "direct"));
    let proxy = Loopback::start(|_| Answer::new(200, "through the proxy"));
    let url = format!("http://{ORIGIN}:{}/path?q=1", origin.addr.port());

    // HTTP_PROXY: an absolute-form request to the proxy, no CONNECT.
    let through = client(proxies(&[("HTTP_PROXY", proxy.url())]), &origin);
    assert_eq!(body(&through, &url).await, "through the proxy");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].line, format!("GET {url} HTTP/1.1"));
    assert_eq!(origin.connections(), 0);

    // ALL_PROXY serves when the scheme's own variable is unset.
    let all = client(proxies(&[("ALL_PROXY", proxy.url())]), &origin);
    assert_eq!(body(&all, &url).await, "through the proxy");
    assert_eq!(proxy.seen().len(), 2);

    // NO_PROXY names the host (as a parent domain here): straight to the origin.
    let bypass = client(
        proxies(&[
            ("http_proxy", proxy.url()),
            ("no_proxy", "localhost, .keyless.test".to_owned()),
        ]),
        &origin,
    );
    assert_eq!(body(&bypass, &url).await, "direct");
    assert_eq!(proxy.seen().len(), 2);

    // No variables at all: direct, whatever this process's own environment holds.
    let none = client(ProxyConfig::none(), &origin);
    assert_eq!(body(&none, &url).await, "direct");
    assert_eq!(proxy.seen().len(), 2);
    assert_eq!(origin.seen().len(), 2);
}

#[tokio::test]
async fn https_proxy_gets_a_connect_and_its_credentials_never_show() {
    let origin = Loopback::start(|_| Answer::new(200, "direct"));
    let proxy = Loopback::start(|_| Answer::new(403, ""));
    let url = format!("https://{ORIGIN}:{}/jwks", origin.addr.port());
    let with_credentials = format!("http://alice:hunter2@{}", proxy.addr);

    let through = client(
        proxies(&[("HTTPS_PROXY", with_credentials.clone())]),
        &origin,
    );
    let error = through.send(through.get(&url)).await.unwrap_err();
    // reqwest reports the refused CONNECT as a connect error, which the client retries: every attempt is a
    // CONNECT carrying the credentials (Basic base64("alice:hunter2")).
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    for request in &seen {
        assert_eq!(
            request.line,
            format!("CONNECT {ORIGIN}:{} HTTP/1.1", origin.addr.port())
        );
        assert_eq!(
            request.header("proxy-authorization"),
            Some("Basic YWxpY2U6aHVudGVyMg==")
        );
    }
    // Nothing a user sees holds them: the error, its Debug, the client's and the config's Debug.
    let config = HttpConfig::with_proxy(proxies(&[("HTTPS_PROXY", with_credentials)]));
    let shown = format!(
        "{error} | {} | {error:?} | {through:?} | {config:?}",
        keyless_net_error_chain(&error)
    );
    for secret in ["hunter2", "YWxpY2U6aHVudGVyMg"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert_eq!(origin.connections(), 0);

    // NO_PROXY: the TLS handshake goes to the origin itself (which speaks plain HTTP, so it fails there).
    let bypass = client(
        proxies(&[
            ("HTTPS_PROXY", proxy.url()),
            ("NO_PROXY", ORIGIN.to_owned()),
        ]),
        &origin,
    );
    let connections = proxy.connections();
    assert!(bypass.send(bypass.get(&url)).await.is_err());
    assert_eq!(proxy.connections(), connections);
    assert!(origin.connections() >= 1);
}

/// The error's sources too, as the crate's messages print them.
fn keyless_net_error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An origin that answers `failures` times with `status` (and `Retry-After: 0`), then 200.
fn flaky(status: u16, failures: usize) -> (Loopback, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let origin = Loopback::start(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) < failures {
            Answer::new(status, "busy").header("Retry-After", "0")
        } else {
            Answer::new(200, "ok")
        }
    });
    (origin, count)
}

fn fast_retries(origin: &Loopback) -> HttpClient {
    let config = HttpConfig::with_proxy(ProxyConfig::none())
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(50),
        })
        .resolve(ORIGIN, origin.addr);
    HttpClient::new(&config).unwrap()
}

#[tokio::test]
async fn idempotent_requests_are_retried_on_5xx_and_429_a_post_is_not() {
    for status in [503, 429, 500] {
        let (origin, count) = flaky(status, 2);
        let client = fast_retries(&origin);
        let url = format!("http://{ORIGIN}:{}/", origin.addr.port());
        let response = client
            .send(client.request(Method::PUT, &url).body("{}"))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{status}");
        assert_eq!(count.load(Ordering::SeqCst), 3, "{status}");
    }

    // Three failures for three attempts: the last answer is returned as it is.
    let (origin, count) = flaky(502, 10);
    let client = fast_retries(&origin);
    let url = format!("http://{ORIGIN}:{}/", origin.addr.port());
    let response = client.send(client.get(&url)).await.unwrap();
    assert_eq!(response.status().as_u16(), 502);
    assert_eq!(count.load(Ordering::SeqCst), 3);

    // A POST is sent once...
    let (origin, count) = flaky(503, 1);
    let client = fast_retries(&origin);
    let url = format!("http://{ORIGIN}:{}/", origin.addr.port());
    let response = client
        .send(client.request(Method::POST, &url).body("[]"))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // ...unless its caller says it is idempotent; the body is sent again.
    let response = client
        .send_idempotent(client.request(Method::POST, &url).body("[1]"))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        origin
            .seen()
            .iter()
            .map(|s| s.body.as_str())
            .collect::<Vec<_>>(),
        ["[]", "[1]"]
    );

    // A 4xx other than 429 is final.
    let (origin, count) = flaky(404, 5);
    let client = fast_retries(&origin);
    let url = format!("http://{ORIGIN}:{}/", origin.addr.port());
    let response = client.send(client.get(&url)).await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}
