//! Code Insights publishing through the Pipelines auth proxy (issue 23's contract): the proxy takes plain-HTTP
//! requests in absolute form and is not documented to support CONNECT, so the loopback proxy here refuses CONNECT
//! (405) and the test checks every request line, for the step's `http://localhost:29418` and the pipe's
//! `http://host.docker.internal:29418`.
//!
//! How those exact proxy URLs reach a loopback proxy: the proxy listens on port 29418 of a loopback address of
//! its own, `127.a.b.c` picked from this process's id (Linux routes all of 127.0.0.0/8 to `lo`, so it collides
//! neither with a real service on 127.0.0.1:29418 nor with a parallel test run), and the client's
//! `HttpConfig::resolve` pins `localhost` and `host.docker.internal` to that address (reqwest's resolve override,
//! which applies to the proxy's host too; the port stays the URL's 29418). Nothing resolves
//! `host.docker.internal` through DNS.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keyless_net::bitbucket::Credential;
use keyless_net::code_insights::{PublishError, Publisher, Route};
use keyless_net::http::{HttpConfig, ProxyConfig, RetryPolicy};
use keyless_oidc::Secret;
use support::{Answer, Loopback, Seen};

const REPORT: &str =
    "http://api.bitbucket.org/2.0/repositories/acme/web/commit/0123abc/reports/keyless-audit";

/// A Pipelines-proxy stand-in on `127.a.b.c:29418`: CONNECT is refused with 405; DELETE answers 204, anything
/// else 200, except that the first PUT gets a 503 (the client must retry it).
fn pipelines_proxy(salt: u8) -> Loopback {
    let pid = std::process::id();
    let puts = Arc::new(AtomicUsize::new(0));
    for attempt in 0..8u8 {
        let ip = Ipv4Addr::new(
            127,
            (pid >> 8) as u8,
            pid as u8,
            salt.wrapping_mul(16).wrapping_add(attempt).max(2),
        );
        let addr = SocketAddr::new(IpAddr::V4(ip), 29418);
        if std::net::TcpListener::bind(addr).is_err() {
            continue;
        }
        let puts = puts.clone();
        return Loopback::start_on(addr, move |seen: &Seen| {
            if seen.line.starts_with("CONNECT ") {
                Answer::new(405, "CONNECT is not supported")
            } else if seen.line.starts_with("DELETE ") {
                Answer::new(204, "")
            } else if seen.line.starts_with("PUT ") && puts.fetch_add(1, Ordering::SeqCst) == 0 {
                Answer::new(503, "busy").header("Retry-After", "0")
            } else {
                Answer::new(200, "{}")
            }
        });
    }
    panic!("no free 127.x.y.z:29418 address");
}

fn config() -> HttpConfig {
    // The environment's proxies must not matter on the proxy route: a bogus one proves it.
    HttpConfig::with_proxy(ProxyConfig::only("http://127.0.0.1:9"))
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        })
}

async fn publish_through(proxy_url: &str, host: &str, proxy: &Loopback) -> Vec<Seen> {
    let publisher = Publisher::new(
        Route::PipelinesProxy(proxy_url.to_owned()),
        config().resolve(host, proxy.addr),
    )
    .unwrap();
    publisher
        .publish(
            REPORT,
            r#"{"report_type":"SECURITY"}"#.to_owned(),
            [r#"[{"external_id":"a"}]"#.to_owned(), "[]".to_owned()],
        )
        .await
        .unwrap();
    proxy.seen()
}

fn assert_absolute_form(seen: &[Seen]) {
    let lines: Vec<&str> = seen.iter().map(|s| s.line.as_str()).collect();
    let annotations = format!("POST {REPORT}/annotations HTTP/1.1");
    assert_eq!(
        lines,
        [
            format!("DELETE {REPORT} HTTP/1.1").as_str(),
            format!("PUT {REPORT} HTTP/1.1").as_str(),
            format!("PUT {REPORT} HTTP/1.1").as_str(),
            annotations.as_str(),
            annotations.as_str(),
        ],
        "absolute-form requests, no CONNECT, the 503'd PUT sent again"
    );
    for request in seen {
        assert_eq!(request.header("host"), Some("api.bitbucket.org"));
        // The proxy adds the credentials; we send none.
        assert_eq!(request.header("authorization"), None);
        assert_eq!(request.header("proxy-authorization"), None);
    }
    assert_eq!(seen[1].body, r#"{"report_type":"SECURITY"}"#);
    assert_eq!(seen[1].header("content-type"), Some("application/json"));
    assert_eq!(seen[3].body, r#"[{"external_id":"a"}]"#);
}

#[tokio::test]
async fn a_step_publishes_through_localhost_29418_in_absolute_form() {
    let proxy = pipelines_proxy(1);
    let seen = publish_through("http://localhost:29418", "localhost", &proxy).await;
    assert_absolute_form(&seen);
}

#[tokio::test]
async fn a_pipe_publishes_through_host_docker_internal_29418_in_absolute_form() {
    let proxy = pipelines_proxy(2);
    let seen = publish_through(
        "http://host.docker.internal:29418/",
        "host.docker.internal",
        &proxy,
    )
    .await;
    assert_absolute_form(&seen);
}

#[tokio::test]
async fn https_api_base_and_non_http_proxy_are_refused_before_any_request() {
    let error = Publisher::new(
        Route::PipelinesProxy("https://localhost:29418".to_owned()),
        config(),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("must be an http:// URL"),
        "{error}"
    );
    let publisher = Publisher::new(
        Route::PipelinesProxy("http://localhost:29418".to_owned()),
        config(),
    )
    .unwrap();
    let error = publisher
        .publish(&REPORT.replace("http://", "https://"), String::new(), [])
        .await
        .unwrap_err();
    assert!(matches!(error, PublishError::Usage(_)), "{error:?}");
}

#[tokio::test]
async fn direct_calls_authenticate_and_never_show_the_secret() {
    let origin = Loopback::start(|seen: &Seen| {
        if seen.line.starts_with("PUT ") {
            Answer::new(401, "token rejected")
        } else {
            Answer::new(204, "")
        }
    });
    let url = format!(
        "http://api.keyless.test:{}/2.0/repositories/a/b/commit/c/reports/keyless-audit",
        origin.addr.port()
    );
    let cases = [
        (
            Credential::from_value("dev@example.com:ATATT-canary-api-token"),
            // base64("dev@example.com:ATATT-canary-api-token")
            "Basic ZGV2QGV4YW1wbGUuY29tOkFUQVRULWNhbmFyeS1hcGktdG9rZW4=",
        ),
        (
            Credential::Bearer(Secret::new("ATCTT-canary-access-token".to_owned())),
            "Bearer ATCTT-canary-access-token",
        ),
    ];
    for (credential, header) in cases {
        let before = origin.seen().len();
        let publisher = Publisher::new(
            Route::Direct(credential),
            HttpConfig::with_proxy(ProxyConfig::none())
                .timeout(Duration::from_secs(5))
                .resolve("api.keyless.test", origin.addr),
        )
        .unwrap();
        let error = publisher
            .publish(&url, "{}".to_owned(), [])
            .await
            .unwrap_err();
        let seen = origin.seen();
        assert_eq!(seen[before].header("authorization"), Some(header));
        assert_eq!(seen[before + 1].header("authorization"), Some(header));
        assert!(matches!(error, PublishError::Status { status: 401, .. }));

        // A refused connection's error too.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let refused = publisher
            .publish(
                &format!("http://127.0.0.1:{port}/reports/x"),
                String::new(),
                [],
            )
            .await
            .unwrap_err();
        let shown = format!("{error} {error:?} {refused} {refused:?} {publisher:?}");
        for secret in ["canary", "Y2FuYXJ5", "ZGV2QGV4YW1wbGUuY29tOkFUQVRU"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
    assert_eq!(
        format!(
            "{:?}",
            Credential::from_value("dev@example.com:ATATT-canary")
        ),
        r#"Basic { email: "dev@example.com", token: Secret(<redacted>) }"#
    );
    assert!(matches!(
        Credential::from_value("ATCTT-no-colon"),
        Credential::Bearer(_)
    ));
}
