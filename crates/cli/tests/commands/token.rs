//! `keyless token mint` against a stub emulator on 127.0.0.1, and `keyless token decode` from a file, stdin and
//! `BITBUCKET_STEP_OIDC_TOKEN`, in text and JSON.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use assert_cmd::Command;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const WS: &str = "{44444444-4444-4444-8444-444444444444}";
const REPO: &str = "{11111111-1111-4111-8111-111111111111}";
const ENV: &str = "{22222222-2222-4222-8222-222222222222}";
const STEP: &str = "{33333333-3333-4333-8333-333333333333}";
const PIPELINE: &str = "{55555555-5555-4555-8555-555555555555}";
const IAT: i64 = 1_700_000_000;
const SIGNATURE: &[u8] = b"this-signature-must-never-be-printed";

fn keyless() -> Command {
    let mut command = Command::cargo_bin("keyless").unwrap();
    command
        .env_remove("BITBUCKET_STEP_OIDC_TOKEN")
        .env_remove("KEYLESS_EMULATOR_URL");
    command
}

/// One request as the stub saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    content_type: String,
    body: Value,
}

/// A stub `POST /_keyless/mint`: answers every connection with `status` and `body`, records what it got. The
/// accept thread ends with the test process.
struct Stub {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    fn start(status: u16, body: Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let seen = handle(stream, status, &body.to_string());
                record.lock().unwrap().push(seen);
            }
        });
        Self { url, seen }
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn handle(stream: TcpStream, status: u16, answer: &str) -> Seen {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    );
    let (mut length, mut content_type) = (0, String::new());
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap(),
            "content-type" => content_type = value.trim().to_owned(),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    )
    .unwrap();
    Seen {
        method,
        path,
        content_type,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

/// A Bitbucket-shaped token with a fixed header and a signature the decoder must not show.
fn token(claims: &Value) -> String {
    keyless_oidc::encode_compact(
        &json!({"alg": "RS256", "kid": "test-key", "typ": "JWT"}),
        claims,
        SIGNATURE,
    )
}

fn deployment_claims() -> Value {
    json!({
        "sub": format!("{REPO}:{ENV}:{STEP}"),
        "aud": "ari:cloud:bitbucket::workspace/44444444-4444-4444-8444-444444444444",
        "stepUuid": STEP,
        "iss": "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
        "repositoryUuid": REPO,
        "branchName": "main",
        "exp": IAT + 3600,
        "iat": IAT,
        "pipelineUuid": PIPELINE,
        "workspaceUuid": WS,
        "deploymentEnvironmentUuid": ENV
    })
}

#[test]
fn mint_posts_the_request_and_prints_the_token_alone() {
    let minted = token(&deployment_claims());
    let stub = Stub::start(200, json!({ "token": minted }));
    let output = keyless()
        .args([
            "token",
            "mint",
            "--emulator",
            &format!("{}/", stub.url),
            "--workspace",
            "acme",
        ])
        .args([
            "--workspace-uuid",
            "44444444-4444-4444-8444-444444444444",
            "--repository-uuid",
            REPO,
        ])
        .args([
            "--deployment-uuid",
            ENV,
            "--branch",
            "main",
            "--step-uuid",
            STEP,
            "--pipeline-uuid",
            PIPELINE,
        ])
        .args([
            "--audience",
            "https://vault.example",
            "--audience",
            "https://other.example",
            "--lifetime",
            "15m",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("{minted}\n")
    );
    assert!(output.stderr.is_empty());
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/_keyless/mint")
    );
    assert_eq!(request.content_type, "application/json");
    assert_eq!(
        request.body,
        json!({
            "workspace": "acme",
            "workspace_uuid": WS,
            "repository_uuid": REPO,
            "deployment_uuid": ENV,
            "branch": "main",
            "step_uuid": STEP,
            "pipeline_uuid": PIPELINE,
            "audiences": ["https://vault.example", "https://other.example"],
            "lifetime_seconds": 900
        })
    );
}

#[test]
fn mint_sends_only_what_was_given() {
    let stub = Stub::start(200, json!({ "token": token(&deployment_claims()) }));
    keyless()
        .args([
            "token",
            "mint",
            "--workspace",
            "acme",
            "--workspace-uuid",
            WS,
            "--repository-uuid",
            REPO,
        ])
        .args(["--issued-at", "-5"])
        .env("KEYLESS_EMULATOR_URL", &stub.url)
        .assert()
        .success();
    assert_eq!(
        stub.requests()[0].body,
        json!({"workspace": "acme", "workspace_uuid": WS, "repository_uuid": REPO, "issued_at": -5})
    );
}

#[test]
fn mint_reports_the_emulators_refusal() {
    let stub = Stub::start(
        400,
        json!({"error": "11 custom audiences requested; Bitbucket allows at most 10"}),
    );
    let output = keyless()
        .args([
            "token",
            "mint",
            "--emulator",
            &stub.url,
            "--workspace",
            "acme",
            "--workspace-uuid",
            WS,
        ])
        .args(["--repository-uuid", REPO])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(
            "refused to mint (HTTP 400): 11 custom audiences requested; Bitbucket allows at most 10"
        ),
        "{stderr}"
    );
}

#[test]
fn mint_rejects_a_non_token_answer_and_an_unreachable_emulator() {
    let stub = Stub::start(200, json!({"token": "nope"}));
    let output = keyless()
        .args([
            "token",
            "mint",
            "--emulator",
            &stub.url,
            "--workspace",
            "acme",
            "--workspace-uuid",
            WS,
        ])
        .args(["--repository-uuid", REPO])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("returned something that is not a token")
    );

    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let output = keyless()
        .args([
            "token",
            "mint",
            "--emulator",
            &format!("http://{address}"),
            "--workspace",
            "acme",
        ])
        .args(["--workspace-uuid", WS, "--repository-uuid", REPO])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!(
            "cannot reach the emulator at http://{address}/_keyless/mint"
        )),
        "{stderr}"
    );
}

#[test]
fn mint_validates_arguments_before_calling() {
    let output = keyless()
        .args([
            "token",
            "mint",
            "--emulator",
            "http://127.0.0.1:9",
            "--workspace",
            "acme",
        ])
        .args(["--workspace-uuid", "not-a-uuid", "--repository-uuid", REPO])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("`not-a-uuid` is not a UUID"));
    let output = keyless()
        .args([
            "token",
            "mint",
            "--emulator",
            "127.0.0.1:4566",
            "--workspace",
            "acme",
        ])
        .args(["--workspace-uuid", WS, "--repository-uuid", REPO])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a URL"));
}

#[test]
fn decode_text_shows_claims_subject_and_human_expiry_but_no_signature() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{}\n", token(&deployment_claims()))).unwrap();
    let output = keyless()
        .args([
            "token",
            "decode",
            path.to_str().unwrap(),
            "--now",
            &(IAT + 18 * 60).to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let expected = format!(
        "header
  alg  RS256
  kid  test-key
  typ  JWT
claims
  sub                        {REPO}:{ENV}:{STEP}
  aud                        ari:cloud:bitbucket::workspace/44444444-4444-4444-8444-444444444444
  stepUuid                   {STEP}
  iss                        https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc
  repositoryUuid             {REPO}
  branchName                 main
  exp                        1700003600
  iat                        1700000000
  pipelineUuid               {PIPELINE}
  workspaceUuid              {WS}
  deploymentEnvironmentUuid  {ENV}
subject
  kind         deployment step
  repository   {REPO}
  environment  {ENV}
  step         {STEP}
time
  issued   2023-11-14 22:13:20 UTC (18 minutes ago)
  expires  2023-11-14 23:13:20 UTC (expires in 42 minutes)
signature: not shown
"
    );
    assert_eq!(text, expected);
    assert!(!text.contains(&URL_SAFE_NO_PAD.encode(SIGNATURE)));
}

#[test]
fn decode_json_from_stdin_reports_expiry_and_subject_parts() {
    let claims = json!({"sub": format!("{REPO}:{STEP}"), "aud": ["a", "b"], "iss": "i", "iat": IAT, "exp": IAT + 3600});
    let output = keyless()
        .args([
            "token",
            "decode",
            "-",
            "--format",
            "json",
            "--now",
            &(IAT + 3600 + 3 * 3600).to_string(),
        ])
        .write_stdin(token(&claims))
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains(&URL_SAFE_NO_PAD.encode(SIGNATURE)));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["header"],
        json!({"alg": "RS256", "kid": "test-key", "typ": "JWT"})
    );
    assert_eq!(report["claims"], claims);
    assert_eq!(report["times"]["expired"], json!(true));
    assert_eq!(
        report["times"]["expires_at"],
        json!({"epoch": IAT + 3600, "utc": "2023-11-14 23:13:20 UTC", "relative": "expired 3 hours ago"})
    );
    assert_eq!(report["times"]["not_before"], Value::Null);
    assert_eq!(
        report["subject"],
        json!({"value": format!("{REPO}:{STEP}"), "kind": "step", "repository": REPO, "environment": null,
               "step": STEP, "error": null})
    );
    assert_eq!(report["signature"], json!("not shown"));
}

#[test]
fn decode_reads_the_step_variable_by_default_and_explains_other_subjects() {
    let claims = json!({"sub": "repo:acme/app:ref:refs/heads/main", "iss": "https://token.actions.githubusercontent.com"});
    let output = keyless()
        .args(["token", "decode", "--format", "json", "--now", "0"])
        .env("BITBUCKET_STEP_OIDC_TOKEN", token(&claims))
        .output()
        .unwrap();
    assert!(output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["subject"]["kind"], Value::Null);
    assert!(
        report["subject"]["error"]
            .as_str()
            .unwrap()
            .contains("is not a Bitbucket Pipelines subject")
    );
    assert_eq!(report["times"]["expired"], Value::Null);
    let text = keyless()
        .args(["token", "decode", "--now", "0"])
        .env("BITBUCKET_STEP_OIDC_TOKEN", token(&claims))
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("expires  never: the token has no integer `exp`, so AWS will reject it"),
        "{text}"
    );
}

#[test]
fn decode_errors_name_the_cause_and_never_echo_the_token() {
    let output = keyless()
        .args(["token", "decode", "-"])
        .write_stdin("hunter2-secret-looking-text")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("cannot decode the token from stdin: this is not a JWT: expected 3 dot-separated parts, found 1"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"));

    let output = keyless().args(["token", "decode"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("BITBUCKET_STEP_OIDC_TOKEN is not set (add `oidc: true` to the step)"),
        "{stderr}"
    );

    let output = keyless()
        .args(["token", "decode", "/nonexistent/token"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("cannot read the token file `/nonexistent/token`")
    );

    let bad_payload = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
        "a*b",
        "c"
    );
    let output = keyless()
        .args(["token", "decode", "-"])
        .write_stdin(bad_payload)
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("its payload is not base64url"), "{stderr}");
}
