//! The STS retry loop end to end, through the real SDK client, against a loopback STS that fails on purpose: a 503
//! with no body, then a `Throttling` error (HTTP 400, STS's XML error shape), then the answer. keyless retries
//! both with keyless-net's jittered backoff inside one time budget; a refusal (`AccessDenied`) is never retried;
//! an STS that never recovers ends in `TimedOut` within the budget.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use keyless_credentials::arn::RoleArn;
use keyless_credentials::tags::ChainExtras;
use keyless_credentials::token::{TokenInfo, TokenSource};
use keyless_credentials::{AssumeError, Secret, Settings, assume};
use keyless_net::http::ProxyConfig;

/// One canned HTTP answer: status line and body.
type Answer = (&'static str, String);

fn xml_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    )
}

fn granted() -> String {
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
     <AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>{repo}:{step}</SubjectFromWebIdentityToken>\
     <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/deploy/ci</Arn>\
     <AssumedRoleId>AROA3XFRBF535PLBIFPI4:ci</AssumedRoleId></AssumedRoleUser>\
     <Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>secret-canary</SecretAccessKey>\
     <SessionToken>session-canary</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
     <Provider>api.bitbucket.org</Provider><Audience>ari:cloud:bitbucket::workspace/x</Audience>\
     </AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata>\
     </AssumeRoleWithWebIdentityResponse>"
        .to_owned()
}

/// A loopback STS answering request n with `answers[n]` (the last answer repeats). Returns its URL and the count
/// of requests it has read.
fn sts(answers: Vec<Answer>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let (status, body) = &answers[n.min(answers.len() - 1)];
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (url, count)
}

fn settings(endpoint: &str, timeout: Duration) -> Settings {
    Settings {
        role_arn: RoleArn::parse("arn:aws:iam::123456789012:role/deploy").expect("role ARN"),
        region: "eu-west-1".to_owned(),
        token: Secret::new("header.payload.signature"),
        token_source: TokenSource::EnvVar("BITBUCKET_STEP_OIDC_TOKEN".to_owned()),
        token_info: TokenInfo::default(),
        session_name: "ci".to_owned(),
        duration_secs: 3600,
        chain: Vec::new(),
        policy: None,
        policy_arns: Vec::new(),
        allowed_account_ids: Vec::new(),
        endpoint_url: Some(endpoint.to_owned()),
        timeout,
        environment: None,
        extras: ChainExtras::default(),
        proxy: ProxyConfig::none(),
    }
}

fn run(settings: &Settings) -> Result<keyless_credentials::Session, AssumeError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(assume(settings))
}

#[test]
fn a_503_and_a_throttle_are_retried_until_sts_answers() {
    let (url, count) = sts(vec![
        ("503 Service Unavailable", String::new()),
        ("400 Bad Request", xml_error("Throttling", "Rate exceeded")),
        ("200 OK", granted()),
    ]);
    let session =
        run(&settings(&url, Duration::from_secs(20))).expect("credentials after two retries");
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert_eq!(session.credentials.access_key_id, "ASIAEXAMPLE");
}

#[test]
fn a_refusal_is_not_retried() {
    let (url, count) = sts(vec![(
        "403 Forbidden",
        xml_error(
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        ),
    )]);
    let error = run(&settings(&url, Duration::from_secs(20))).expect_err("refused");
    assert!(
        matches!(&error, AssumeError::Rejected(r) if r.code == "AccessDenied"),
        "{error}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn an_sts_that_never_recovers_ends_within_the_budget() {
    let (url, count) = sts(vec![("503 Service Unavailable", String::new())]);
    let budget = Duration::from_secs(2);
    let started = Instant::now();
    let error = run(&settings(&url, budget)).expect_err("never answers");
    let took = started.elapsed();
    // The loop gives up as soon as the next wait would pass the deadline, so it ends before it.
    assert!(took < budget + Duration::from_millis(500), "took {took:?}");
    let attempts = count.load(Ordering::SeqCst);
    assert!(attempts >= 2, "retried only {attempts} time(s)");
    // A 503 is STS answering, so the last answer is reported (as a throttle that outlasts the budget is).
    assert!(
        matches!(&error, AssumeError::Rejected(r) if r.message.is_empty() || r.code.is_empty()),
        "{error}"
    );
    let text = error.to_string();
    assert!(!text.contains("header.payload.signature"), "{text}");
}
