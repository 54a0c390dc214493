//! The AWS SDK clients of `keyless_net::aws` go through the same proxies as the reqwest clients: an STS call
//! reaches a loopback proxy (absolute form for `http://`, `CONNECT` for `https://`), and `NO_PROXY` sends it
//! straight to the endpoint. The proxies come from a map here, never from this process's environment.
#![cfg(feature = "sdk")]
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use keyless_net::aws::{SdkOptions, Timeouts, fixed};
use keyless_net::http::ProxyConfig;
use support::{Answer, Loopback, proxies};

/// A name only the proxy ever sees: a request for it that succeeds went through the proxy.
const STS_HOST: &str = "sts.keyless.test";

const IDENTITY: &str = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::123456789012:user/proxied</Arn>
    <UserId>AIDAPROXIEDEXAMPLE</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>4f5c0b8e-0000-4000-8000-000000000000</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"#;

fn identity(_: &support::Seen) -> Answer {
    Answer::new(200, IDENTITY).header("Content-Type", "text/xml")
}

fn sts(proxy: ProxyConfig, endpoint_url: Option<String>) -> aws_sdk_sts::Client {
    let config = fixed(&SdkOptions {
        region: Some("us-east-1".to_owned()),
        endpoint_url,
        credentials: Some(SharedCredentialsProvider::new(Credentials::new(
            "AKIDPROXYTEST",
            "proxy-test-secret",
            None,
            None,
            "test",
        ))),
        timeouts: Some(Timeouts {
            connect: Duration::from_secs(5),
            attempt: Duration::from_secs(5),
        }),
        max_attempts: Some(1),
        proxy: Some(proxy),
        ..SdkOptions::default()
    })
    .unwrap();
    aws_sdk_sts::Client::new(&config)
}

#[tokio::test]
async fn plain_http_sts_goes_through_http_proxy_and_no_proxy_bypasses_it() {
    let origin = Loopback::start(identity);
    let proxy = Loopback::start(identity);

    // HTTP_PROXY: the proxy gets the STS POST in absolute form; the name never had to resolve.
    let endpoint = format!("http://{STS_HOST}:{}", origin.addr.port());
    let client = sts(
        proxies(&[("HTTP_PROXY", proxy.url())]),
        Some(endpoint.clone()),
    );
    let answer = client.get_caller_identity().send().await.unwrap();
    assert_eq!(answer.account(), Some("123456789012"));
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].line, format!("POST {endpoint}/ HTTP/1.1"));
    assert!(
        seen[0].body.contains("Action=GetCallerIdentity"),
        "{seen:?}"
    );
    assert_eq!(origin.connections(), 0);

    // ALL_PROXY when the scheme's own variable is unset.
    let all = sts(proxies(&[("ALL_PROXY", proxy.url())]), Some(endpoint));
    all.get_caller_identity().send().await.unwrap();
    assert_eq!(proxy.seen().len(), 2);

    // NO_PROXY names the endpoint's host: straight to it.
    let direct = format!("http://127.0.0.1:{}", origin.addr.port());
    let bypass = sts(
        proxies(&[
            ("http_proxy", proxy.url()),
            ("no_proxy", "localhost,127.0.0.1".to_owned()),
        ]),
        Some(direct.clone()),
    );
    let answer = bypass.get_caller_identity().send().await.unwrap();
    assert_eq!(answer.account(), Some("123456789012"));
    assert_eq!(proxy.seen().len(), 2);
    assert_eq!(origin.seen()[0].line, "POST / HTTP/1.1");

    // No proxy at all: direct too.
    let none = sts(ProxyConfig::none(), Some(direct));
    none.get_caller_identity().send().await.unwrap();
    assert_eq!(proxy.seen().len(), 2);
    assert_eq!(origin.seen().len(), 2);
}

#[tokio::test]
async fn https_sts_gets_a_connect_and_proxy_credentials_never_show() {
    let origin = Loopback::start(identity);
    let proxy = Loopback::start(|_| Answer::new(403, ""));
    let with_credentials = format!("http://alice:hunter2@{}", proxy.addr);

    // AWS's own STS endpoint (no override): a CONNECT to it, which this proxy refuses.
    let client = sts(proxies(&[("HTTPS_PROXY", with_credentials.clone())]), None);
    let error = client.get_caller_identity().send().await.unwrap_err();
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].line,
        "CONNECT sts.us-east-1.amazonaws.com:443 HTTP/1.1"
    );
    assert_eq!(
        seen[0].header("proxy-authorization"),
        Some("Basic YWxpY2U6aHVudGVyMg==")
    );
    let config = fixed(&SdkOptions {
        proxy: Some(proxies(&[("HTTPS_PROXY", with_credentials)])),
        ..SdkOptions::default()
    })
    .unwrap();
    let shown = format!(
        "{error} | {} | {error:?} | {client:?} | {config:?}",
        aws_sdk_sts::error::DisplayErrorContext(&error)
    );
    for secret in ["hunter2", "YWxpY2U6aHVudGVyMg"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }

    // NO_PROXY: the TLS handshake goes to the endpoint itself (which speaks plain HTTP, so it fails there).
    let bypass = sts(
        proxies(&[
            ("HTTPS_PROXY", proxy.url()),
            ("NO_PROXY", "127.0.0.1".to_owned()),
        ]),
        Some(format!("https://127.0.0.1:{}", origin.addr.port())),
    );
    let connections = proxy.connections();
    assert!(bypass.get_caller_identity().send().await.is_err());
    assert_eq!(proxy.connections(), connections);
    assert!(origin.connections() >= 1);
}

#[test]
fn a_proxy_variable_that_is_no_url_is_an_error_without_its_credentials() {
    let error = fixed(&SdkOptions {
        proxy: Some(proxies(&[(
            "ALL_PROXY",
            "socks9://carol:s3cret@proxy.example:1080".to_owned(),
        )])),
        ..SdkOptions::default()
    })
    .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("ALL_PROXY"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");
}
