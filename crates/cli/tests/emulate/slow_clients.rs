//! The bounded slow-client test, against each server (`keyless emulate` and `keyless serve`): with many idle
//! connections and many half-sent request heads held open, and more of them than `--max-connections`, real
//! requests are still answered, because `--header-timeout` closes the slow ones and frees their slots. There is
//! no timed assertion: each real request only has to complete (under a generous client timeout), and the number
//! of slow connections is bounded.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use crate::support::{self, clients, http};

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Slow connections opened against each server: idle ones, and ones that sent half a request head.
const IDLE: usize = 48;
const HALF_OPEN: usize = 24;
/// `--max-connections` for the test: well below the slow connections, so the real requests wait in the backlog.
const MAX_CONNECTIONS: &str = "16";

/// Opens the slow connections and keeps them open while `real` runs.
fn with_slow_clients(address: &str, real: impl FnOnce()) {
    let mut held = Vec::new();
    for _ in 0..IDLE {
        held.push(TcpStream::connect(address).unwrap());
    }
    for _ in 0..HALF_OPEN {
        let mut stream = TcpStream::connect(address).unwrap();
        // Part of a request head, never finished (a slow-loris client).
        let _ = stream
            .write_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www");
        held.push(stream);
    }
    real();
    // Every slow connection the server accepted was closed by it (the header timeout), not by us.
    let mut closed = 0;
    for mut stream in held {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut buf = [0u8; 256];
        if matches!(stream.read(&mut buf), Ok(0) | Err(_)) {
            closed += 1;
        }
    }
    assert_eq!(closed, IDLE + HALF_OPEN, "slow connections left open");
}

/// A real request, with a generous timeout (it waits in the backlog behind the slow clients).
const REAL_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn the_emulator_answers_real_requests_while_slow_clients_hold_connections() {
    let emu = clients::SpawnedEmulator::start(
        &["123456789012"],
        &[
            "--header-timeout",
            "1s",
            "--idle-timeout",
            "2s",
            "--max-connections",
            MAX_CONNECTIONS,
        ],
    );
    let address = emu.endpoint.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    with_slow_clients(&address, || {
        // A mint, an STS call and an issuer fetch: each answered although the slow connections came first.
        let token = emu.mint(
            "slowws",
            "{11111111-1111-4111-8111-111111111111}",
            serde_json::json!({}),
        );
        assert_eq!(token.split('.').count(), 3);
        let response = http::post(&emu.endpoint)
            .timeout(REAL_TIMEOUT)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("Action=GetCallerIdentity&Version=2011-06-15")
            .send();
        assert_eq!(response.status, 403);
        assert!(
            response
                .body
                .contains("<Code>MissingAuthenticationToken</Code>")
        );
        let keys = http::get(&format!(
            "{}/2.0/workspaces/slowws/pipelines-config/identity/oidc/keys.json",
            emu.endpoint
        ))
        .timeout(REAL_TIMEOUT)
        .send();
        assert_eq!(keys.status, 200);
    });
    eprintln!(
        "emulator: real requests answered and slow clients closed in {:?}",
        started.elapsed()
    );
}

fn serve_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../serve/tests/fixtures")
        .join(name)
}

#[test]
fn serve_answers_real_requests_while_slow_clients_hold_connections() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(serve_fixture("keyless.yml"), dir.path().join("keyless.yml")).unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "slow-client-test-secret-0123456789abcdef\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let ready = dir.path().join("ready");
    let child = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .arg("serve")
        .arg("-c")
        .arg(dir.path().join("keyless.yml"))
        .args(["--listen", "127.0.0.1:0", "--dev-bearer-secret-file"])
        .arg(&secret)
        .arg("--ready-file")
        .arg(&ready)
        .args([
            "--header-timeout",
            "1s",
            "--idle-timeout",
            "2s",
            "--max-connections",
            MAX_CONNECTIONS,
        ])
        .env_remove("KEYLESS_CONFIG")
        .env_remove("KEYLESS_FORGE_APP_ID")
        .env_remove("KEYLESS_DEV_BEARER_SECRET")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = support::Guard(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let address = loop {
        if let Ok(text) = std::fs::read_to_string(&ready)
            && text.ends_with('\n')
        {
            break text.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "keyless serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    let started = Instant::now();
    with_slow_clients(&address, || {
        let health = http::get(&format!("http://{address}/healthz"))
            .timeout(REAL_TIMEOUT)
            .send();
        assert_eq!(health.status, 200);
        assert!(health.body.contains("\"ok\""));
        let body = std::fs::read(serve_fixture("run-main-production.json")).unwrap();
        let response = http::post(&format!("http://{address}/dynamic-pipelines"))
            .timeout(REAL_TIMEOUT)
            .header("content-type", "application/json")
            .header(
                "authorization",
                "Bearer slow-client-test-secret-0123456789abcdef",
            )
            .body(body)
            .send();
        assert_eq!(response.status, 200);
    });
    eprintln!(
        "serve: real requests answered and slow clients closed in {:?}",
        started.elapsed()
    );
}
