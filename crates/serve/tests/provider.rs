//! The provider contract over HTTP: run and definitions payloads, rendered and rejected answers identical to
//! `keyless_enforce::render`, the Forge envelope, health, metrics, reload, and a short concurrent load over a
//! real socket.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use http_body_util::BodyExt as _;
use keyless_serve::{Limits, Outcome, Server};
use serde_json::{Value, json};
use tower::ServiceExt as _;

fn body(v: &Value) -> Body {
    Body::from(serde_json::to_vec(v).unwrap())
}

/// What the library says for the same request.
fn expected(request: &Value) -> Value {
    let config = config();
    let parsed = keyless_enforce::payload::parse_request(request).unwrap();
    match keyless_enforce::render_request(&config.current().config, parsed) {
        Ok(rendered) => json!({"pipelines_configuration": rendered.file.to_json()}),
        Err(rejection) => rejection.to_error_json(),
    }
}

#[tokio::test]
async fn run_payloads_render_or_reject_exactly_as_the_library() {
    let state = dev_state(Limits::default());
    let allowed = fixture_json("run-main-production.json");
    let (status, answer) = send(&state, post(body(&allowed))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, expected(&allowed));
    // The policy did its work: runners, OIDC and approval on the production step, the scan prepended.
    let steps = answer["pipelines_configuration"]["pipelines"]["branches"]["main"]
        .as_array()
        .unwrap();
    assert_eq!(steps[0]["step"]["name"], "Security scan");
    let deploy = &steps[2]["step"];
    assert_eq!(deploy["oidc"], true);
    assert_eq!(deploy["trigger"], "manual");
    assert_eq!(deploy["runs-on"], json!(["self.hosted", "linux", "prod"]));

    let refused = fixture_json("run-feature-production.json");
    let (status, answer) = send(&state, post(body(&refused))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a policy rejection is a contract answer, not an HTTP error"
    );
    assert_eq!(answer, expected(&refused));
    assert_eq!(answer["error"]["key"], "keyless-branches");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("feature/login")
    );
    assert_eq!(answer.as_object().unwrap().len(), 1);
    assert_eq!(state.metrics.requests(Outcome::Rendered), 1);
    assert_eq!(state.metrics.requests(Outcome::Rejected), 1);
}

#[tokio::test]
async fn definitions_payloads_and_the_forge_envelope_are_read() {
    let state = dev_state(Limits::default());
    let definitions = fixture_json("definitions-pull-request.json");
    let (status, answer) = send(&state, post(body(&definitions))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, expected(&definitions));
    assert!(answer.get("pipelines_configuration").is_some(), "{answer}");

    // `{"payload": <request>, "context": ...}` as Forge delivers events to functions.
    let wrapped = json!({"payload": definitions, "context": {"cloudId": "x", "moduleKey": "keyless-provider"}});
    let (status, wrapped_answer) = send(&state, post(body(&wrapped))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(wrapped_answer, answer);

    // An empty configuration ("may be empty") is echoed, not refused.
    let mut empty = fixture_json("run-main-production.json");
    empty["pipelines_configuration"] = Value::Null;
    let (status, answer) = send(&state, post(body(&empty))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(answer.get("pipelines_configuration").is_some(), "{answer}");
}

#[tokio::test]
async fn healthz_and_metrics() {
    let state = dev_state(Limits::default());
    let (status, health) = send(
        &state,
        Request::get("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health, json!({"status": "ok", "config_generation": 1}));

    send(
        &state,
        post(body(&fixture_json("run-main-production.json"))),
    )
    .await;
    send(
        &state,
        post(body(&fixture_json("run-feature-production.json"))),
    )
    .await;
    send(&state, post("[]")).await;
    let response = keyless_serve::app(state.clone())
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    for line in [
        "keyless_serve_requests_total{outcome=\"rendered\"} 1",
        "keyless_serve_requests_total{outcome=\"rejected\"} 1",
        "keyless_serve_requests_total{outcome=\"invalid\"} 1",
        "keyless_serve_requests_total{outcome=\"unauthorized\"} 0",
        "keyless_serve_request_duration_seconds_count 3",
        "keyless_serve_config_generation 1",
        "keyless_serve_config_reloads_total{result=\"ok\"} 0",
        "keyless_serve_config_reloads_total{result=\"error\"} 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
    assert!(text.contains("# TYPE keyless_serve_request_duration_seconds histogram"));
}

#[tokio::test]
async fn reload_swaps_a_good_file_and_keeps_the_old_one_on_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyless.yml");
    let original = std::fs::read_to_string(fixture("keyless.yml")).unwrap();
    std::fs::write(&path, &original).unwrap();
    let auth = keyless_serve::Authenticator::new(
        None,
        Some(keyless_serve::DevBearerSecret::new(DEV_SECRET).unwrap()),
    )
    .unwrap();
    let state = keyless_serve::AppState::new(
        keyless_serve::LiveConfig::open(&path).unwrap(),
        auth,
        Limits::default(),
    );
    let feature = fixture_json("run-feature-production.json");
    let (_, answer) = send(&state, post(body(&feature))).await;
    assert_eq!(answer["error"]["key"], "keyless-branches");

    // Production now allows every branch.
    std::fs::write(
        &path,
        original.replace(
            "branches: [main, master, \"hotfix/*\", \"release/*\"]\n    trigger",
            "branches: [\"**\"]\n    trigger",
        ),
    )
    .unwrap();
    assert!(state.reload());
    let (_, answer) = send(&state, post(body(&feature))).await;
    assert!(answer.get("pipelines_configuration").is_some(), "{answer}");
    assert_eq!(state.config.current().generation, 2);

    // A broken file is refused; generation 2 stays in use.
    std::fs::write(&path, "environments: [not, a, map\n").unwrap();
    assert!(!state.reload());
    assert_eq!(state.config.current().generation, 2);
    let (_, answer) = send(&state, post(body(&feature))).await;
    assert!(answer.get("pipelines_configuration").is_some(), "{answer}");
    let text = state.metrics.render();
    assert!(
        text.contains("keyless_serve_config_reloads_total{result=\"error\"} 1"),
        "{text}"
    );
    assert!(text.contains("keyless_serve_config_generation 2"), "{text}");
}

#[tokio::test]
async fn short_concurrent_load_over_a_socket_has_no_errors() {
    let state = dev_state(Limits::default());
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), state.clone())
        .await
        .unwrap();
    let address = server.local_addr().unwrap();
    assert!(address.ip().is_loopback());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let url = format!("http://{address}/dynamic-pipelines");
    let allowed = serde_json::to_vec(&fixture_json("run-main-production.json")).unwrap();
    let refused = serde_json::to_vec(&fixture_json("run-feature-production.json")).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let mut workers = Vec::new();
    for worker in 0..16 {
        let (client, url) = (client.clone(), url.clone());
        let payload = if worker % 2 == 0 {
            allowed.clone()
        } else {
            refused.clone()
        };
        workers.push(tokio::spawn(async move {
            let mut done = 0u64;
            while tokio::time::Instant::now() < deadline {
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {DEV_SECRET}"))
                    .body(payload.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let answer: Value = response.json().await.unwrap();
                let key = if worker % 2 == 0 {
                    "pipelines_configuration"
                } else {
                    "error"
                };
                assert!(answer.get(key).is_some(), "{answer}");
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap();
    }
    assert!(total > 16, "only {total} requests in 2 s");
    assert_eq!(
        state.metrics.requests(Outcome::Rendered) + state.metrics.requests(Outcome::Rejected),
        total
    );
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}

/// The metrics text of `state`.
async fn metrics_text(state: &keyless_serve::AppState) -> String {
    let response = keyless_serve::app(state.clone())
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn has_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "missing `{line}` in\n{text}"
    );
}

/// A definitions or run request for the fixture workspace, as Atlassian's examples write them.
fn request(trigger: &str, target: Value, configuration: Value) -> Value {
    json!({
        "workspace": "{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}",
        "repository": "{2fc883c6-3dee-4e73-a354-ccee4bd77938}",
        "creator": "{cda97709-b1a9-4544-9a8d-750f1b3a12c4}",
        "trigger": trigger,
        "target": target,
        "pipelines_configuration": configuration,
    })
}

fn deploying() -> Value {
    json!({
        "x-new-top-level-key": 1,
        "pipelines": {
            "default": [{"step": {"name": "Build", "script": ["make"]}}],
            "custom": {"deploy-prod": [{"step": {"name": "Deploy", "deployment": "production", "script": ["./deploy.sh"]}}]}
        }
    })
}

/// Commit targets (Atlassian's definitions example) are answered, never a 4xx; what a definitions answer leaves
/// out and what is let through are counted; a foreign workspace gets the contract's error.
#[tokio::test]
async fn commit_targets_omissions_unknown_keys_and_workspaces() {
    let state = dev_state(Limits::default());
    let commit = json!({"type": "pipeline_commit_target", "commit": {"hash": "e34ad324d1e4334777dca3e56c04eba36c2a68c6"}});
    // Definitions on a commit: every definition, no branch rule.
    let (status, answer) = send(
        &state,
        post(body(&request("definitions", commit.clone(), deploying()))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let pipelines = &answer["pipelines_configuration"]["pipelines"];
    assert!(pipelines["custom"]["deploy-prod"].is_array(), "{answer}");
    assert_eq!(answer["pipelines_configuration"]["x-new-top-level-key"], 1);
    // Definitions on a feature branch: the production deployment is left out.
    let feature = json!({"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "feature/login",
                         "commit": {"hash": "e34ad324d1e4334777dca3e56c04eba36c2a68c6"}});
    let (status, answer) = send(
        &state,
        post(body(&request("definitions", feature, deploying()))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        answer["pipelines_configuration"]["pipelines"]
            .get("custom")
            .is_none(),
        "{answer}"
    );
    // A custom run of it on a commit is branchless: refused with the contract's error.
    let custom = json!({"type": "pipeline_commit_target", "selector": {"type": "custom", "pattern": "deploy-prod"},
                        "commit": {"hash": "82dec1c48c8d3aa75e9e246646894ed952216f3d"}});
    let (status, answer) = send(&state, post(body(&request("manual", custom, deploying())))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["error"]["key"], "keyless-branches");
    // Another workspace's request: HTTP 200, `keyless-workspace`.
    let mut foreign = request("definitions", commit, deploying());
    foreign["workspace"] = json!("{308ce669-576d-4fa7-b4d4-15e8171f0c8c}");
    let (status, answer) = send(&state, post(body(&foreign))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["error"]["key"], "keyless-workspace");

    let text = metrics_text(&state).await;
    has_line(
        &text,
        "keyless_serve_definitions_omitted_total{rule=\"branches\"} 1",
    );
    // The unknown top-level key passed through in the three requests that were rendered or judged.
    has_line(
        &text,
        "keyless_serve_unknown_keys_total{location=\"top-level\"} 2",
    );
    has_line(
        &text,
        "keyless_serve_requests_total{outcome=\"rendered\"} 2",
    );
    has_line(
        &text,
        "keyless_serve_requests_total{outcome=\"rejected\"} 2",
    );
}

/// `policy.mode: report`: the answer is the input, and what enforcing would have done is counted.
#[tokio::test]
async fn report_mode_answers_unchanged_and_counts_what_it_would_do() {
    let path = fixture("keyless.yml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\npolicy:\n", "\npolicy:\n  mode: report\n");
    let config = keyless_enforce::EnforceConfig::from_yaml(&text, "keyless.yml").unwrap();
    let auth = keyless_serve::Authenticator::new(
        None,
        Some(keyless_serve::DevBearerSecret::new(DEV_SECRET).unwrap()),
    )
    .unwrap();
    let state = keyless_serve::AppState::new(
        keyless_serve::LiveConfig::from_config(path, config),
        auth,
        Limits::default(),
    );
    let refused = fixture_json("run-feature-production.json");
    let (status, answer) = send(&state, post(body(&refused))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer["pipelines_configuration"],
        refused["pipelines_configuration"]
    );
    let allowed = fixture_json("run-main-production.json");
    let (_, answer) = send(&state, post(body(&allowed))).await;
    assert_eq!(
        answer["pipelines_configuration"],
        allowed["pipelines_configuration"]
    );
    let text = metrics_text(&state).await;
    has_line(
        &text,
        "keyless_serve_report_total{would=\"reject\",rule=\"branches\"} 1",
    );
    has_line(
        &text,
        "keyless_serve_report_total{would=\"change\",rule=\"oidc\"} 2",
    );
    has_line(
        &text,
        "keyless_serve_requests_total{outcome=\"rendered\"} 2",
    );
}
