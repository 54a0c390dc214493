//! Every kind of unreadable request gets a 4xx with `{"error": {"key", "message"}}` and a message naming the
//! problem; never a 5xx, never a crash (the same app answers a valid request afterwards).
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use keyless_serve::{Limits, Outcome};
use serde_json::{Value, json};

fn valid() -> Value {
    fixture_json("run-main-production.json")
}

fn with(mut v: Value, pointer: &str, value: Value) -> Value {
    *v.pointer_mut(pointer).unwrap() = value;
    v
}

fn without(mut v: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() {
        &mut v
    } else {
        v.pointer_mut(parent).unwrap()
    };
    parent.as_object_mut().unwrap().remove(key).unwrap();
    v
}

fn json_body(v: &Value) -> Body {
    Body::from(serde_json::to_vec(v).unwrap())
}

struct Case {
    name: &'static str,
    request: Request<Body>,
    status: StatusCode,
    /// A fragment the message must contain.
    says: &'static str,
}

fn case(
    name: &'static str,
    request: Request<Body>,
    status: StatusCode,
    says: &'static str,
) -> Case {
    Case {
        name,
        request,
        status,
        says,
    }
}

fn bad(name: &'static str, body: impl Into<Body>, says: &'static str) -> Case {
    case(name, post(body), StatusCode::BAD_REQUEST, says)
}

fn cases() -> Vec<Case> {
    let deep = format!(
        "{{\"trigger\":\"push\",\"target\":{},\"pipelines_configuration\":{}{}}}",
        serde_json::to_string(&valid()["target"]).unwrap(),
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let big = format!(
        "{{\"trigger\":\"push\",\"pad\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    let mut invalid_utf8 = serde_json::to_vec(&valid()).unwrap();
    let at = invalid_utf8.len() - 3;
    invalid_utf8.insert(at, 0xff);
    let mut bom = vec![0xef, 0xbb, 0xbf];
    bom.extend(serde_json::to_vec(&valid()).unwrap());
    let mut trailing = serde_json::to_vec(&valid()).unwrap();
    trailing.extend_from_slice(b" {}");
    let streamed_big = Body::from_stream(futures::stream::iter(
        (0..100).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])),
    ));
    vec![
        bad("empty body", "", "body is empty"),
        bad("whitespace-only body", " \n\t ", "body is empty"),
        bad(
            "truncated JSON",
            "{\"trigger\": \"push\", \"target\": {",
            "not valid JSON",
        ),
        bad("invalid UTF-8", invalid_utf8, "not UTF-8"),
        bad("UTF-8 byte order mark", bom, "not valid JSON"),
        bad(
            "trailing data after the JSON",
            trailing,
            "trailing characters",
        ),
        bad(
            "lone surrogate escape",
            "{\"trigger\": \"\\ud800\"}",
            "not valid JSON",
        ),
        bad(
            "number out of range",
            "{\"trigger\": \"push\", \"n\": 1e999}",
            "not valid JSON",
        ),
        bad("deep nesting", deep, "recursion limit"),
        bad("top-level array", "[]", "must be a JSON object"),
        bad("top-level string", "\"push\"", "must be a JSON object"),
        bad("top-level null", "null", "must be a JSON object"),
        bad(
            "missing trigger",
            json_body(&without(valid(), "/trigger")),
            "missing field `trigger`",
        ),
        bad(
            "trigger is a number",
            json_body(&with(valid(), "/trigger", json!(1))),
            "`trigger` must be a string",
        ),
        bad(
            "unknown trigger",
            json_body(&with(valid(), "/trigger", json!("explode"))),
            "expected one of definitions, push",
        ),
        bad(
            "missing target",
            json_body(&without(valid(), "/target")),
            "missing field `target`",
        ),
        bad(
            "target is a string",
            json_body(&with(valid(), "/target", json!("main"))),
            "`target` must be an object",
        ),
        bad(
            "unknown target type",
            json_body(&with(
                valid(),
                "/target/type",
                json!("pipeline_tree_target"),
            )),
            "unsupported target.type `pipeline_tree_target`",
        ),
        bad(
            "unknown ref type",
            json_body(&with(valid(), "/target/ref_type", json!("note"))),
            "neither `branch` nor `tag`",
        ),
        bad(
            "missing ref name",
            json_body(&without(valid(), "/target/ref_name")),
            "missing field `target.ref_name`",
        ),
        bad(
            "ref name is a number",
            json_body(&with(valid(), "/target/ref_name", json!(7))),
            "`target.ref_name` must be a string",
        ),
        bad(
            "selector is an array",
            json_body(&with(valid(), "/target/selector", json!([]))),
            "`target.selector` must be an object",
        ),
        bad(
            "custom selector without pattern",
            json_body(&with(
                valid(),
                "/target/selector",
                json!({"type": "custom"}),
            )),
            "missing field `target.selector.pattern`",
        ),
        bad(
            "pull request without source",
            json_body(&without(
                fixture_json("definitions-pull-request.json"),
                "/target/source",
            )),
            "missing field `target.source`",
        ),
        // A commit target (Atlassian's own definitions example) is readable: see tests/provider.rs.
        bad(
            "a target type Atlassian does not document",
            json_body(&with(
                valid(),
                "/target",
                json!({"type": "pipeline_tag_target", "commit": {"hash": "ab"}}),
            )),
            "unsupported target.type `pipeline_tag_target`",
        ),
        bad(
            "missing pipelines_configuration",
            json_body(&without(valid(), "/pipelines_configuration")),
            "missing field `pipelines_configuration`",
        ),
        bad(
            "pipelines_configuration is an array",
            json_body(&with(valid(), "/pipelines_configuration", json!([1]))),
            "pipelines_configuration",
        ),
        bad(
            "pipelines_configuration is a string",
            json_body(&with(
                valid(),
                "/pipelines_configuration",
                json!("image: x"),
            )),
            "pipelines_configuration",
        ),
        case(
            "body over the limit (Content-Length)",
            {
                let len = big.len();
                let mut r = post(big);
                r.headers_mut().insert("content-length", len.into());
                r
            },
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than 65536 bytes",
        ),
        case(
            "body over the limit (streamed, no length)",
            post(streamed_big),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than 65536 bytes",
        ),
        case(
            "text/plain content type",
            Request::post("/dynamic-pipelines")
                .header("content-type", "text/plain")
                .header("authorization", format!("Bearer {DEV_SECRET}"))
                .body(json_body(&valid()))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "`text/plain` is not JSON",
        ),
        case(
            "no content type",
            Request::post("/dynamic-pipelines")
                .header("authorization", format!("Bearer {DEV_SECRET}"))
                .body(json_body(&valid()))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "no Content-Type",
        ),
        case(
            "GET on the provider",
            Request::get("/dynamic-pipelines")
                .body(Body::empty())
                .unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "POST /dynamic-pipelines",
        ),
        case(
            "unknown path",
            Request::post("/dynamic-pipeline")
                .body(Body::empty())
                .unwrap(),
            StatusCode::NOT_FOUND,
            "no such endpoint",
        ),
    ]
}

#[tokio::test]
async fn every_malformed_request_gets_a_clear_4xx() {
    let limits = Limits {
        max_body: 64 * 1024,
        ..Limits::default()
    };
    let state = dev_state(limits);
    let cases = cases();
    assert!(cases.len() >= 20, "at least 20 kinds, got {}", cases.len());
    let mut failures = Vec::new();
    for c in cases {
        let (status, body) = send(&state, c.request).await;
        let message = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if status != c.status || !message.contains(c.says) || !status.is_client_error() {
            failures.push(format!(
                "{}: got {status} {body}, expected {} saying `{}`",
                c.name, c.status, c.says
            ));
            continue;
        }
        error_message(&body);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Still serving, and the refusals were counted.
    let (status, body) = send(&state, post(json_body(&valid()))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("pipelines_configuration").is_some());
    assert!(state.metrics.requests(Outcome::Invalid) >= 25);
    assert_eq!(state.metrics.requests(Outcome::TooLarge), 2);
    assert_eq!(state.metrics.requests(Outcome::UnsupportedMediaType), 2);
}

#[tokio::test]
async fn a_slow_body_times_out_with_408() {
    let limits = Limits {
        timeout: std::time::Duration::from_millis(300),
        ..Limits::default()
    };
    let state = dev_state(limits);
    let stalled = Body::from_stream(futures::stream::pending::<Result<Vec<u8>, std::io::Error>>());
    let (status, body) = send(&state, post(stalled)).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert!(error_message(&body).contains("took longer than 300 ms"));
    assert_eq!(state.metrics.requests(Outcome::Timeout), 1);
}

#[tokio::test]
async fn a_body_that_breaks_off_is_a_400() {
    let state = dev_state(Limits::default());
    let broken = Body::from_stream(futures::stream::iter(vec![
        Ok(b"{\"trigger\":".to_vec()),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "peer went away",
        )),
    ]));
    let (status, body) = send(&state, post(broken)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_message(&body).contains("could not be read to its end"));
}
