#![allow(clippy::unwrap_used)]
//! `keyless resolve` against a local stub shaped like Bitbucket's REST API.

use std::net::SocketAddr;

use assert_cmd::Command;
use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};

const TOKEN: &str = "test-token-not-secret";

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

async fn workspace(headers: HeaderMap, Path(slug): Path<String>) -> (StatusCode, Json<Value>) {
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"type": "error"})));
    }
    (
        StatusCode::OK,
        Json(
            json!({"type": "workspace", "slug": slug, "uuid": "{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}"}),
        ),
    )
}

async fn repository(
    headers: HeaderMap,
    Path((_, repo)): Path<(String, String)>,
) -> (StatusCode, Json<Value>) {
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({})));
    }
    match repo.as_str() {
        "web" => (
            StatusCode::OK,
            Json(json!({"type": "repository", "uuid": "{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}"})),
        ),
        _ => (StatusCode::NOT_FOUND, Json(json!({"type": "error"}))),
    }
}

/// Two pages, as Bitbucket paginates (`next` is an absolute URL).
async fn environments(
    headers: HeaderMap,
    Path((_, repo)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    axum::extract::State(base): axum::extract::State<String>,
) -> (StatusCode, Json<Value>) {
    if !authorized(&headers) || repo != "web" {
        return (StatusCode::NOT_FOUND, Json(json!({})));
    }
    if query.get("page").map(String::as_str) == Some("2") {
        return (
            StatusCode::OK,
            Json(
                json!({"values": [{"type": "deployment_environment", "uuid": "{7e6d5c4b-3a2f-4e1d-9c0b-8a7f6e5d4c31}", "name": "Production", "slug": "production"}], "page": 2}),
            ),
        );
    }
    (
        StatusCode::OK,
        Json(json!({
            "values": [{"type": "deployment_environment", "uuid": "{0f9d8c7b-6a5e-4d3c-8b2a-1c0e9f8d7a61}", "name": "staging", "slug": "staging"}],
            "page": 1,
            "next": format!("{base}/2.0/repositories/acme/web/environments?pagelen=100&page=2"),
        })),
    )
}

fn start_stub() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let base = format!("http://{address}");
    let state = base.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let app = Router::new()
                .route("/2.0/workspaces/{slug}", get(workspace))
                .route("/2.0/repositories/{ws}/{repo}", get(repository))
                .route(
                    "/2.0/repositories/{ws}/{repo}/environments",
                    get(environments),
                )
                .with_state(state);
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    base
}

const UNRESOLVED: &str = "# our workspace
workspace:
  slug: acme   # the slug
environments:
  staging:
    account: \"111111111111\"
    region: eu-west-1
    branches: [main]
  production:
    account: \"222222222222\"
    region: eu-west-1
    branches: [main]
repositories:
  web:
    deployments:
      staging: ~     # filled by resolve
      production:
";

#[test]
fn resolve_fills_every_missing_uuid_and_keeps_comments() {
    let base = start_stub();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyless.yml");
    std::fs::write(&path, UNRESOLVED).unwrap();
    // Without a token: a clear error, no change.
    let output = Command::cargo_bin("keyless")
        .unwrap()
        .args(["resolve", "--api-url", &base, "-c"])
        .arg(&path)
        .env_remove("BITBUCKET_TOKEN")
        .assert()
        .code(2);
    assert!(
        String::from_utf8_lossy(&output.get_output().stderr).contains("BITBUCKET_TOKEN is not set")
    );
    // A wrong token: the 401 is explained.
    let output = Command::cargo_bin("keyless")
        .unwrap()
        .args(["resolve", "--api-url", &base, "-c"])
        .arg(&path)
        .env("BITBUCKET_TOKEN", "wrong")
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&output.get_output().stderr).contains("401"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), UNRESOLVED);

    Command::cargo_bin("keyless")
        .unwrap()
        .args(["resolve", "--api-url", &base, "-c"])
        .arg(&path)
        .env("BITBUCKET_TOKEN", TOKEN)
        .assert()
        .success();
    let resolved = std::fs::read_to_string(&path).unwrap();
    assert!(
        resolved.contains(
            "  slug: acme   # the slug\n  uuid: \"{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}\"\n"
        ),
        "{resolved}"
    );
    assert!(
        resolved.contains("  web:\n    uuid: \"{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}\"\n"),
        "{resolved}"
    );
    assert!(
        resolved.contains(
            "      staging: \"{0f9d8c7b-6a5e-4d3c-8b2a-1c0e9f8d7a61}\"     # filled by resolve\n"
        ),
        "{resolved}"
    );
    assert!(
        resolved.contains("      production: \"{7e6d5c4b-3a2f-4e1d-9c0b-8a7f6e5d4c31}\"\n"),
        "{resolved}"
    );
    assert!(resolved.starts_with("# our workspace\n"));
    // The result is a valid workspace, and a second resolve has nothing to do.
    Command::cargo_bin("keyless")
        .unwrap()
        .args(["plan", "-c"])
        .arg(&path)
        .assert()
        .success();
    let output = Command::cargo_bin("keyless")
        .unwrap()
        .args(["resolve", "--api-url", &base, "-c"])
        .arg(&path)
        .env("BITBUCKET_TOKEN", TOKEN)
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&output.get_output().stdout).contains("Nothing to resolve"));
}
