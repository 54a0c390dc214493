//! What the integration-test binaries of `crates/cli/tests` share. Each binary is one area
//! (`tests/<area>/main.rs`, one module per test file) and declares `#[path = "../support/mod.rs"] mod support;`.
//! Here: the repository root, the pinned third-party tools (`KEYLESS_VENV`, `KEYLESS_NODE_MODULES`), moto_server,
//! and the fixtures several areas use, in submodules.
//!
//! A few binaries by area rather than one per file, because each binary links the dev-dependencies (the AWS SDK,
//! the emulator) on its own: relinking 36 binaries took 95 s on 2 cores, the 5 areas take 30 s (issue 23). A new
//! test file is a `mod` line in its area's `main.rs`.
//!
//! The tests of one binary run in one process, in parallel threads: nothing here (or in a test) may change the
//! process's environment or working directory. A child gets its variables and directory through its `Command`.
#![allow(dead_code, clippy::unwrap_used, clippy::print_stderr)]

pub mod assume;
pub mod cli_tree;
pub mod clients;
pub mod emulate_process;
pub mod http;
pub mod tls_server;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `KEYLESS_REQUIRE_TOOLS=1` (as `scripts/test` and CI set it): a missing tool fails the test instead of
/// skipping it, so a missing tool can never turn into a silent pass.
pub fn require_tools() -> bool {
    std::env::var("KEYLESS_REQUIRE_TOOLS").as_deref() == Ok("1")
}

/// `Some(path)` when it exists; otherwise skips (prints why) or, under `KEYLESS_REQUIRE_TOOLS=1`, panics.
pub fn require(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(
        !require_tools(),
        "{what} is missing at {} and KEYLESS_REQUIRE_TOOLS=1: install the pinned tools (scripts/setup-tools)",
        path.display()
    );
    eprintln!("skip: {what} not found at {}", path.display());
    None
}

/// The project venv (`KEYLESS_VENV`, default `<repo>/.venv`).
pub fn venv() -> PathBuf {
    std::env::var_os("KEYLESS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"))
}

/// The project node_modules (`KEYLESS_NODE_MODULES`, default `<repo>/node_modules`).
pub fn node_modules() -> PathBuf {
    std::env::var_os("KEYLESS_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("node_modules"))
}

/// `<venv>/bin/<name>`, or skip/fail.
pub fn venv_tool(name: &str) -> Option<PathBuf> {
    require(venv().join("bin").join(name), name)
}

/// Kills the child on drop so no server outlives a failed test.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port that was free a moment ago, for a server that cannot listen on port 0 and report it (moto_server).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// moto_server from the venv on an ephemeral 127.0.0.1 port, killed on drop; one per test, so no test sees
/// another's resources.
pub struct Moto {
    _guard: Guard,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Moto {
    /// Starts moto_server with `env` added to its environment and waits (60 s at most) until it accepts
    /// connections; `None` (after a skip line) when moto_server is missing, a panic under
    /// `KEYLESS_REQUIRE_TOOLS=1`.
    pub fn start(env: &[(&str, &str)]) -> Option<Self> {
        let binary = venv_tool("moto_server")?;
        let port = free_port();
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut guard = Guard(child);
        // Loading AWS-managed policies (MOTO_IAM_LOAD_MANAGED_POLICIES) makes start-up slow on a busy machine.
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = guard.0.try_wait().unwrap() {
                panic!("moto_server exited early: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not start within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self {
            _guard: guard,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }
}
