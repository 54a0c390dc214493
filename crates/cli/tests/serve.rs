//! `keyless serve` as a process: the provider answers exactly what `keyless render --payload --format json`
//! prints, SIGHUP reloads keyless.yml (a broken file is logged and the old policy kept), SIGTERM stops it cleanly,
//! logs never carry the bearer secret, and start-up refuses a missing policy or missing authentication.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const SECRET: &str = "cli-test-secret-5f1c9a7e3b2d4e6f";

fn serve_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../serve/tests/fixtures")
        .join(name)
}

/// Kills the server when the test ends, however it ends.
struct Server {
    child: Option<Child>,
    address: String,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Server {
    fn config(&self) -> PathBuf {
        self.dir.path().join("keyless.yml")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into()
    }

    fn post(&self, body: &[u8], secret: &str) -> (u16, Value) {
        let mut response = Self::agent()
            .post(&format!("http://{}/dynamic-pipelines", self.address))
            .header("content-type", "application/json")
            .header("authorization", &format!("Bearer {secret}"))
            .send(body)
            .unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap())
    }

    fn get(&self, path: &str) -> String {
        let mut response = Self::agent()
            .get(&format!("http://{}{path}", self.address))
            .call()
            .unwrap();
        response.body_mut().read_to_string().unwrap()
    }

    fn generation(&self) -> u64 {
        let health: Value = serde_json::from_str(&self.get("/healthz")).unwrap();
        health["config_generation"].as_u64().unwrap()
    }

    /// Polls until `check` holds (bounded).
    fn wait_for(&self, what: &str, check: impl Fn(&Server) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !check(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn write_secret(dir: &Path) -> PathBuf {
    let path = dir.join("dev-secret");
    std::fs::write(&path, format!("{SECRET}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

fn spawn() -> Server {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(serve_fixture("keyless.yml"), dir.path().join("keyless.yml")).unwrap();
    let secret = write_secret(dir.path());
    let ready = dir.path().join("ready");
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let child = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .arg("serve")
        .arg("-c")
        .arg(dir.path().join("keyless.yml"))
        .args(["--listen", "127.0.0.1:0", "--dev-bearer-secret-file"])
        .arg(&secret)
        .arg("--ready-file")
        .arg(&ready)
        .env_remove("KEYLESS_CONFIG")
        .env_remove("KEYLESS_FORGE_APP_ID")
        .env_remove("KEYLESS_DEV_BEARER_SECRET")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut server = Server {
        child: Some(child),
        address: String::new(),
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&ready)
            && text.ends_with('\n')
        {
            server.address = text.trim().to_string();
            break;
        }
        if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
            panic!("keyless serve exited with {status}; log:\n{}", server.log());
        }
        assert!(
            Instant::now() < deadline,
            "keyless serve did not start; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        server.address.starts_with("127.0.0.1:"),
        "{}",
        server.address
    );
    server
}

fn render(config: &Path, payload: &Path) -> (i32, Value) {
    let out = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .arg("render")
        .arg("-c")
        .arg(config)
        .arg("--payload")
        .arg(payload)
        .args(["--format", "json"])
        .env_remove("KEYLESS_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

#[test]
fn serve_answers_what_render_prints_for_the_same_request() {
    let server = spawn();
    for (name, expect_rendered) in [
        ("run-main-production.json", true),
        ("run-feature-production.json", false),
        ("definitions-pull-request.json", true),
    ] {
        let payload = serve_fixture(name);
        let (code, expected) = render(&server.config(), &payload);
        assert_eq!(code, if expect_rendered { 0 } else { 1 }, "{name}");
        let (status, answer) = server.post(&std::fs::read(&payload).unwrap(), SECRET);
        assert_eq!(status, 200, "{name}: {answer}");
        assert_eq!(answer, expected, "{name}");
        assert_eq!(
            answer.get("pipelines_configuration").is_some(),
            expect_rendered,
            "{name}"
        );
    }
    let (status, answer) = server.post(b"{}", "not-the-secret-at-all-000");
    assert_eq!(status, 401, "{answer}");
    let metrics = server.get("/metrics");
    assert!(
        metrics.contains("keyless_serve_requests_total{outcome=\"rendered\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keyless_serve_requests_total{outcome=\"rejected\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keyless_serve_requests_total{outcome=\"unauthorized\"} 1"),
        "{metrics}"
    );
    let log = server.log();
    assert!(
        log.contains("development bearer secret is enabled"),
        "{log}"
    );
    assert!(log.contains("rejected"), "{log}");
    assert!(
        !log.contains(SECRET),
        "the secret leaked into the log:\n{log}"
    );
    assert!(!log.to_ascii_lowercase().contains("bearer cli-"), "{log}");
}

#[test]
fn sighup_reloads_and_a_broken_file_keeps_the_old_policy() {
    let server = spawn();
    let feature = std::fs::read(serve_fixture("run-feature-production.json")).unwrap();
    let (_, answer) = server.post(&feature, SECRET);
    assert_eq!(answer["error"]["key"], "keyless-branches", "{answer}");
    assert_eq!(server.generation(), 1);

    // Production now allows any branch.
    let original = std::fs::read_to_string(server.config()).unwrap();
    let widened = original.replace(
        "branches: [main, master, \"hotfix/*\", \"release/*\"]\n    trigger",
        "branches: [\"**\"]\n    trigger",
    );
    assert_ne!(widened, original);
    std::fs::write(server.config(), &widened).unwrap();
    server.signal("HUP");
    server.wait_for("generation 2", |s| s.generation() == 2);
    let (_, answer) = server.post(&feature, SECRET);
    assert!(answer.get("pipelines_configuration").is_some(), "{answer}");

    // A broken file: reported, counted, and generation 2 keeps answering.
    std::fs::write(server.config(), "environments:\n  production: [unclosed\n").unwrap();
    server.signal("HUP");
    server.wait_for("the failed reload", |s| {
        s.get("/metrics")
            .contains("keyless_serve_config_reloads_total{result=\"error\"} 1")
    });
    assert_eq!(server.generation(), 2);
    let (_, answer) = server.post(&feature, SECRET);
    assert!(answer.get("pipelines_configuration").is_some(), "{answer}");
    assert!(
        server
            .log()
            .contains("did not load; keeping the configuration in use")
    );
}

#[test]
fn sigterm_stops_cleanly_and_removes_the_ready_file() {
    let mut server = spawn();
    server.signal("TERM");
    let mut child = server.child.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("keyless serve ignored SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert!(!server.dir.path().join("ready").exists());
}

#[test]
fn startup_refuses_a_bad_policy_or_no_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keyless.yml");
    std::fs::copy(serve_fixture("keyless.yml"), &config).unwrap();
    let run = |args: &[&str], config: &Path| {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
            .arg("serve")
            .arg("-c")
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("KEYLESS_CONFIG")
            .env_remove("KEYLESS_FORGE_APP_ID")
            .env_remove("KEYLESS_DEV_BEARER_SECRET")
            .env_remove("KEYLESS_DEV_BEARER_SECRET_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (child.wait().unwrap().code(), stderr)
    };
    let (code, stderr) = run(&[], &config);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--forge-app-id"), "{stderr}");

    let short = dir.path().join("short");
    std::fs::write(&short, "tiny").unwrap();
    let (code, stderr) = run(
        &["--dev-bearer-secret-file", short.to_str().unwrap()],
        &config,
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("at least 16"), "{stderr}");

    let broken = dir.path().join("broken.yml");
    std::fs::write(&broken, "environments: [").unwrap();
    let (code, stderr) = run(&["--forge-app-id", "ari:cloud:ecosystem::app/x"], &broken);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot load the policy"), "{stderr}");
}
