//! Secrets reach stdout only from `env` and `credential-process` (issue 4, "Secrets"): every other `keyless`
//! command runs here with a canary step token, canary AWS keys and a canary Bitbucket token in its environment,
//! canary values in the files it reads, and `RUST_LOG=trace`; its stdout and stderr must hold none of them, nor
//! anything shaped like the emulator's secret keys, session tokens or a signed JWT, unless the command's
//! contract prints it (listed per case, with the reason). The step-credential commands (env,
//! credential-process, assume, configure, doctor) are covered by `secrets.rs`.
//!
//! The command list comes from `keyless --help` at test time: a new command that no case here runs fails
//! `every_command_is_covered` until it is added.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use crate::support::assume as support;
use crate::support::http;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// Canary environment values. Long and unique so a hit can only be a leak.
const ACCESS_KEY_ID: &str = "AKIACANARY7Q2M4X9Z1B";
const SECRET_ACCESS_KEY: &str = "canarySecretKey9f2b7c1eKeylessMustNotPrnt";
const SESSION_TOKEN: &str = "canary-session-token-3d8e1a6c-keyless-must-never-print-this";
const BITBUCKET_TOKEN: &str = "canary-bitbucket-token-5a7c9e1b-keyless-must-never-print";
const DEV_BEARER_SECRET: &str = "canary-dev-bearer-secret-8b6d4f2a-keyless-never-prints";
const WRONG_BEARER: &str = "canary-wrong-bearer-2c4e6a8b-keyless-never-prints-this";
/// A literal AWS secret key committed to a bitbucket-pipelines.yml (`audit` finds it but must not echo it).
const PIPELINE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARY9KEY";
/// A token in a file some commands read (not the step variable).
const FILE_TOKEN: &str = "canary-token-file-6f1e2d3c-keyless-must-never-print-this";

/// Commands `secrets.rs` runs (the step-credential commands, whose stdout may carry session secrets).
const COVERED_IN_SECRETS_RS: &[&str] =
    &["env", "credential-process", "assume", "configure", "doctor"];
/// Commands a test below runs; `every_command_is_covered` holds this to `keyless --help`.
const COVERED_HERE: &[&str] = &[
    "init",
    "plan",
    "apply",
    "check",
    "resolve",
    "thumbprint",
    "audit",
    "policy eval",
    "policy validate",
    "deploy s3",
    "permissions infer",
    "token mint",
    "token decode",
    "permissions from-record",
    "permissions check",
    "render",
    "serve",
    "emulate",
    "demo",
    "completions",
];

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_keyless"))
}

fn workspace_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../serve/tests/fixtures/keyless.yml")
}

fn serve_payload() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../serve/tests/fixtures/run-main-production.json")
}

const PIPELINES: &str = "image: atlassian/default-image:4
pipelines:
  branches:
    main:
      - step:
          name: deploy
          deployment: production
          oidc: true
          script:
            - export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7CANARY1
            - export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARY9KEY
            - ./deploy
";

/// A keyless.yml whose repository and environment UUIDs are missing, so `resolve` asks Bitbucket.
const UNRESOLVED: &str = "workspace:
  slug: acme
environments:
  production:
    account: \"222222222222\"
    region: eu-west-1
    branches: [main]
repositories:
  web:
    deployments:
      production: null
";

/// Everything a test needs: the emulator (for real tokens and a real STS/IAM endpoint), a home, the files.
struct Setup {
    fixture: Fixture,
    home: tempfile::TempDir,
    token: String,
}

impl Setup {
    fn new() -> Self {
        let fixture = Fixture::start();
        let token = fixture.token(true, None);
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("clone")).unwrap();
        // A shared credentials file with the canary keys under a profile (`--profile ACCOUNT=canary`).
        std::fs::write(
            home.path().join("aws-credentials"),
            format!(
                "[canary]\naws_access_key_id = {ACCESS_KEY_ID}\naws_secret_access_key = {SECRET_ACCESS_KEY}\n\
                 aws_session_token = {SESSION_TOKEN}\n"
            ),
        )
        .unwrap();
        Self {
            fixture,
            home,
            token,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The canaries: none may appear in any output unless a case names it.
    fn canaries(&self) -> Vec<(&'static str, String)> {
        vec![
            ("step token", self.token.clone()),
            (
                "step token signature",
                self.token.split('.').nth(2).unwrap().to_owned(),
            ),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
            ("AWS_SESSION_TOKEN", SESSION_TOKEN.to_owned()),
            ("BITBUCKET_TOKEN", BITBUCKET_TOKEN.to_owned()),
            ("dev bearer secret", DEV_BEARER_SECRET.to_owned()),
            ("wrong bearer", WRONG_BEARER.to_owned()),
            ("pipeline literal secret key", PIPELINE_SECRET.to_owned()),
            ("token file", FILE_TOKEN.to_owned()),
        ]
    }

    /// `keyless ARGS` as a Bitbucket step with every canary in its environment and trace logging.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.fixture.keyless(&self.token, self.home.path());
        cmd.current_dir(self.home.path())
            .env("RUST_LOG", "trace")
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
            .env("BITBUCKET_TOKEN", BITBUCKET_TOKEN)
            .env("AWS_CONFIG_FILE", self.path("aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.path("aws-credentials"))
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null());
        let started = Instant::now();
        let output = cmd.output().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "{args:?} took {:?}",
            started.elapsed()
        );
        output
    }

    /// Runs `args` and checks both streams; `stdout_allowed` lists canaries (by label) the contract prints on
    /// stdout. Returns the output for further checks.
    fn clean(&self, args: &[&str], stdout_allowed: &[&str]) -> Output {
        let output = self.run(args);
        self.assert_clean(
            &format!("keyless {}", args.join(" ")),
            &output,
            stdout_allowed,
            &[],
        );
        output
    }

    fn assert_clean(
        &self,
        what: &str,
        output: &Output,
        stdout_allowed: &[&str],
        shapes_allowed: &[Shape],
    ) {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        for (label, value) in self.canaries() {
            assert!(
                !stderr.contains(&value),
                "{what} leaked the {label} on stderr — add it to the secrets canary fix list:\n{stderr}"
            );
            if !stdout_allowed.contains(&label) {
                assert!(
                    !stdout.contains(&value),
                    "{what} leaked the {label} on stdout:\n{stdout}"
                );
            }
        }
        if let Some((shape, found)) = secret_shaped(&stderr, &[]) {
            panic!("{what} printed a {shape:?}-shaped secret on stderr: {found}\n{stderr}");
        }
        if let Some((shape, found)) = secret_shaped(&stdout, shapes_allowed) {
            panic!("{what} printed a {shape:?}-shaped secret on stdout: {found}\n{stdout}");
        }
    }
}

/// What secrets look like in this project (read from crates/emulator/src/{ids,sessions}.rs and keyless-oidc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// The emulator's session tokens: `KLS1<base64 session>.<64 hex HMAC>`.
    EmulatorSessionToken,
    /// AWS-style session tokens (`IQoJb3JpZ2luX2VjE…`, also the emulator's random ones).
    AwsSessionToken,
    /// A 40-character standard-base64 secret access key (30 random bytes).
    SecretAccessKey,
    /// A signed JWT: `eyJ….eyJ….<signature>`.
    Jwt,
}

fn is_b64(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='
}

fn is_b64url(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Whether `run` (a run of base64url characters and dots) is shaped like a signed JWT.
fn is_jwt(run: &str) -> bool {
    let parts: Vec<&str> = run.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[1].starts_with("eyJ")
        && parts[2].len() >= 20
}

/// `text` with every JWT-shaped run blanked out: an allowed JWT's random signature can hold a 40-character
/// alphanumeric run between two `-`/`_`, which is not a secret access key.
fn without_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if is_jwt(run) {
            out.extend(std::iter::repeat_n(' ', run.len()));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_b64url(c) || c == '.' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The first secret-shaped string in `text` whose shape is not in `allowed`.
fn secret_shaped(text: &str, allowed: &[Shape]) -> Option<(Shape, String)> {
    let masked;
    let text = if allowed.contains(&Shape::Jwt) {
        masked = without_jwts(text);
        masked.as_str()
    } else {
        text
    };
    let runs = |pred: fn(char) -> bool| -> Vec<&str> {
        text.split(|c: char| !pred(c))
            .filter(|s| !s.is_empty())
            .collect()
    };
    if !allowed.contains(&Shape::EmulatorSessionToken) {
        // `KLS1…` followed by the HMAC after a dot.
        let mut rest = text;
        while let Some(at) = rest.find("KLS1") {
            let tail = &rest[at + 4..];
            let body: String = tail.chars().take_while(|&c| is_b64(c)).collect();
            let after = &tail[body.len()..];
            let mac: String = after
                .strip_prefix('.')
                .map(|m| m.chars().take_while(char::is_ascii_hexdigit).collect())
                .unwrap_or_default();
            if body.len() >= 16 && mac.len() >= 16 {
                return Some((Shape::EmulatorSessionToken, format!("KLS1{body}.{mac}")));
            }
            rest = tail;
        }
    }
    if !allowed.contains(&Shape::AwsSessionToken) {
        for run in runs(is_b64) {
            if let Some(at) = run.find("IQoJb3JpZ2luX2VjE")
                && run.len() - at > 40
            {
                return Some((Shape::AwsSessionToken, run.to_owned()));
            }
        }
    }
    if !allowed.contains(&Shape::SecretAccessKey) {
        // Runs take base64url's `-` and `_` too, so a 40-character stretch of a longer base64url value (a JWK
        // `kid`, a signature) is not read as a key: a secret access key is standard base64 and stands alone.
        for run in runs(|c| is_b64url(c) || c == '+' || c == '/') {
            let count = |f: fn(&char) -> bool| run.chars().filter(f).count();
            if run.len() == 40
                && !run.contains(['-', '_'])
                && count(char::is_ascii_digit) >= 3
                && count(char::is_ascii_uppercase) >= 3
                && count(char::is_ascii_lowercase) >= 3
                && !run.contains("//")
            {
                return Some((Shape::SecretAccessKey, run.to_owned()));
            }
        }
    }
    if !allowed.contains(&Shape::Jwt) {
        for run in runs(|c| is_b64url(c) || c == '.') {
            if is_jwt(run) {
                return Some((Shape::Jwt, run.to_owned()));
            }
        }
    }
    None
}

/// The commands `keyless --help` lists, nested ones as `parent child` (clap's `help` left out).
fn commands(prefix: &[&str]) -> Vec<String> {
    let output = Command::new(bin())
        .args(prefix)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    assert!(output.status.success(), "keyless {prefix:?} --help failed");
    let help = String::from_utf8(output.stdout).unwrap();
    let Some(section) = help.split("\nCommands:\n").nth(1) else {
        return vec![prefix.join(" ")];
    };
    let mut found = Vec::new();
    for line in section.lines() {
        if line.is_empty() || !line.starts_with(' ') {
            break;
        }
        // A command line has two spaces then the name; wrapped description lines are indented further.
        let Some(name) = line.strip_prefix("  ") else {
            continue;
        };
        if name.starts_with(' ') {
            continue;
        }
        let name = name.split_whitespace().next().unwrap();
        if name == "help" {
            continue;
        }
        let mut path: Vec<&str> = prefix.to_vec();
        path.push(name);
        found.extend(commands(&path));
    }
    assert!(!found.is_empty(), "no commands parsed from:\n{help}");
    found
}

#[test]
fn every_command_is_covered() {
    let all = commands(&[]);
    // The parser must see the nested commands, or this test proves nothing about them.
    for nested in ["policy eval", "deploy s3", "token mint", "token decode"] {
        assert!(all.iter().any(|c| c == nested), "{nested} not in {all:?}");
    }
    for command in &all {
        assert!(
            COVERED_HERE.contains(&command.as_str())
                || COVERED_IN_SECRETS_RS.contains(&command.as_str()),
            "`keyless {command}` is not run with canary secrets: add it to the secrets canary \
             (crates/cli/tests/aws/secrets_all.rs)"
        );
    }
    for covered in COVERED_HERE.iter().chain(COVERED_IN_SECRETS_RS) {
        assert!(
            all.iter().any(|c| c == covered),
            "`keyless {covered}` is covered here but no longer exists: drop it"
        );
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A one-thread HTTP stub on 127.0.0.1 that answers every request with `status` and `body`.
fn stub(status: &'static str, body: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    format!("http://{address}")
}

#[test]
fn init() {
    let setup = Setup::new();
    let out = setup.path("init/keyless.yml");
    setup.clean(&["init", "-o", out.to_str().unwrap()], &[]);
    setup.clean(&["init", "-o", out.to_str().unwrap()], &[]); // refuses to overwrite
}

#[test]
fn plan() {
    let setup = Setup::new();
    let config = workspace_file();
    let config = config.to_str().unwrap();
    setup.clean(&["plan", "-c", config], &[]);
    setup.clean(&["plan", "-c", config, "--format", "json"], &[]);
    let dir = setup.path("plan-out");
    setup.clean(&["plan", "-c", config, "-o", dir.to_str().unwrap()], &[]);
    // A broken file: the error quotes the file (the user's own text), never the environment's secrets.
    let broken = setup.write("broken.yml", "workspace: [acme\n");
    setup.clean(&["plan", "-c", broken.to_str().unwrap()], &[]);
}

#[test]
fn apply() {
    let setup = Setup::new();
    let config = workspace_file();
    let config = config.to_str().unwrap();
    let endpoint = setup.fixture.endpoint.clone();
    // The canary keys against the emulator: refused by signature, and the refusal must not echo them.
    setup.clean(
        &[
            "apply",
            "-c",
            config,
            "--endpoint-url",
            &endpoint,
            "--dry-run",
        ],
        &[],
    );
    setup.clean(
        &["apply", "-c", config, "--endpoint-url", &endpoint, "--yes"],
        &[],
    );
    let unreachable = format!("http://127.0.0.1:{}", closed_port());
    setup.clean(
        &[
            "apply",
            "-c",
            config,
            "--endpoint-url",
            &unreachable,
            "--dry-run",
        ],
        &[],
    );
    // The canary keys from a profile in the shared credentials file.
    setup.clean(
        &[
            "apply",
            "-c",
            config,
            "--endpoint-url",
            &endpoint,
            "--profile",
            "222222222222=canary",
            "--dry-run",
        ],
        &[],
    );
}

#[test]
fn check() {
    let setup = Setup::new();
    let config = workspace_file();
    let config = config.to_str().unwrap();
    setup.clean(&["check", "-c", config], &[]);
    setup.clean(&["check", "-c", config, "--format", "json"], &[]);
    let endpoint = setup.fixture.endpoint.clone();
    setup.clean(
        &["check", "-c", config, "--live", "--endpoint-url", &endpoint],
        &[],
    );
    setup.clean(
        &[
            "check",
            "-c",
            config,
            "--live",
            "--endpoint-url",
            &endpoint,
            "--profile",
            "111111111111=canary",
        ],
        &[],
    );
}

#[test]
fn resolve() {
    let setup = Setup::new();
    let config = setup.write("resolve/keyless.yml", UNRESOLVED);
    let config = config.to_str().unwrap();
    let unreachable = format!("http://127.0.0.1:{}", closed_port());
    setup.clean(
        &[
            "resolve",
            "-c",
            config,
            "--api-url",
            &unreachable,
            "--dry-run",
        ],
        &[],
    );
    let refusing = stub(
        "401 Unauthorized",
        r#"{"type": "error", "error": {"message": "Access token expired."}}"#,
    );
    setup.clean(
        &["resolve", "-c", config, "--api-url", &refusing, "--dry-run"],
        &[],
    );
    setup.clean(&["resolve", "-c", config, "--api-url", &refusing], &[]);
}

#[test]
fn thumbprint() {
    let setup = Setup::new();
    let port = closed_port();
    setup.clean(
        &[
            "thumbprint",
            &format!("https://127.0.0.1:{port}/issuer"),
            "--timeout",
            "2",
        ],
        &[],
    );
    let plain = stub("200 OK", "{}");
    setup.clean(
        &["thumbprint", &plain, "--timeout", "2", "--format", "json"],
        &[],
    );
}

fn audit_setup() -> (Setup, String) {
    let setup = Setup::new();
    let pipelines = setup.write("clone/bitbucket-pipelines.yml", PIPELINES);
    let pipelines = pipelines.to_str().unwrap().to_owned();
    (setup, pipelines)
}

#[test]
fn audit_structured() {
    let (setup, pipelines) = audit_setup();
    for format in ["json", "sarif", "code-insights"] {
        let output = setup.clean(
            &[
                "audit",
                &pipelines,
                "--format",
                format,
                "--persona",
                "auditor",
            ],
            &[],
        );
        // The finding itself is reported, just not the value.
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("long-lived-aws-keys"), "{format}: {stdout}");
    }
}

/// The plain format quotes the source line of a finding; `keyless_audit::redact` masks a committed secret key
/// in it (first 4 characters + `*`, same length). `--publish` prints the same plain report.
#[test]
fn audit_plain() {
    let (setup, pipelines) = audit_setup();
    let output = setup.clean(
        &[
            "audit",
            &pipelines,
            "--persona",
            "auditor",
            "--color",
            "never",
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("long-lived-aws-keys"), "{stdout}");
    // --publish to an unreachable Code Insights proxy: neither the report nor the error may carry the secret.
    let proxy = format!("http://127.0.0.1:{}", closed_port());
    setup.clean(
        &[
            "audit",
            &pipelines,
            "--publish",
            "--proxy",
            &proxy,
            "--repo",
            "acme/web",
            "--commit",
            "0123abc",
        ],
        &[],
    );
}

#[test]
fn permissions_from_record_and_check() {
    let setup = Setup::new();
    let recording = setup.write(
        "calls.jsonl",
        "{\"v\":1,\"service\":\"S3\",\"api\":\"PutObject\",\"region\":\"eu-west-1\",\"fqdn\":null,\"count\":1}\n",
    );
    let recording = recording.to_str().unwrap();
    let output = setup.clean(&["permissions", "from-record", recording], &[]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/keyless.yml");
    let output = setup.clean(
        &[
            "permissions",
            "check",
            "-c",
            config.to_str().unwrap(),
            "--record",
            &format!("production={recording}"),
        ],
        &[],
    );
    assert!(output.status.code().is_some_and(|c| c <= 1), "{output:?}");
}

#[test]
fn policy_eval() {
    let setup = Setup::new();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policy");
    let policy = fixtures.join("branch-condition-policy.json");
    let policy = policy.to_str().unwrap();
    let token_file = setup.write("token.jwt", &setup.token);
    let provider = format!(
        "arn:aws:iam::{ACCOUNT_A}:oidc-provider/{}",
        issuer().trim_start_matches("https://")
    );
    let output = setup.clean(
        &[
            "policy",
            "eval",
            "--policy",
            policy,
            "--token",
            token_file.to_str().unwrap(),
            "--provider-arn",
            &provider,
        ],
        &[],
    );
    assert!(output.status.code().is_some_and(|c| c <= 1), "{output:?}");
    setup.clean(
        &[
            "policy",
            "eval",
            "--policy",
            policy,
            "--token",
            token_file.to_str().unwrap(),
            "--provider-arn",
            &provider,
            "--format",
            "json",
        ],
        &[],
    );
    // Validation reads the policy only; nothing from the environment may reach its output.
    setup.clean(&["policy", "validate", policy], &[]);
    // A token file that is no JWT: the error names the file, not its content.
    let bad = setup.write("bad.jwt", FILE_TOKEN);
    setup.clean(
        &[
            "policy",
            "eval",
            "--policy",
            policy,
            "--token",
            bad.to_str().unwrap(),
        ],
        &[],
    );
}

#[test]
fn deploy_s3() {
    let setup = Setup::new();
    let site = setup.path("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "<h1>hello</h1>").unwrap();
    let site = site.to_str().unwrap();
    let unreachable = format!("http://127.0.0.1:{}", closed_port());
    let base = [
        "deploy",
        "s3",
        "--bucket",
        "canary-site",
        "--source",
        site,
        "--region",
        "eu-west-1",
        "--endpoint-url",
    ];
    // The canary keys in the environment, S3 unreachable.
    let mut args = base.to_vec();
    args.extend([unreachable.as_str(), "--dry-run"]);
    setup.clean(&args, &[]);
    let mut args = base.to_vec();
    args.extend([unreachable.as_str(), "--dry-run", "--format", "json"]);
    setup.clean(&args, &[]);
    // S3 answering 403 (the canary keys refused).
    let refusing = stub(
        "403 Forbidden",
        "<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>",
    );
    let mut args = base.to_vec();
    args.extend([refusing.as_str(), "--dry-run"]);
    setup.clean(&args, &[]);
    // Credentials from the step token (real emulator session secrets), then S3 unreachable: neither the token
    // nor the session secrets may show.
    let role = role(ACCOUNT_A, "deploy");
    let mut args = base.to_vec();
    args.extend([unreachable.as_str(), "--dry-run", "--role-arn", &role]);
    setup.clean(&args, &[]);
}

/// `permissions infer` quotes pipeline lines (`from`, `unknown`): a secret written in one is hidden, in every format
/// and in the comments `--write` puts into keyless.yml.
#[test]
fn permissions_infer() {
    let setup = Setup::new();
    let config = setup.write(
        "infer/keyless.yml",
        "version: 1\nworkspace:\n  slug: acme\n  uuid: \"{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}\"\nenvironments:\n  production:\n    account: \"222222222222\"\n    region: eu-west-1\n    branches: [main]\n    role:\n      name: deploy\n      permissions: todo\nrepositories:\n  web:\n    uuid: \"{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}\"\n    deployments:\n      production: \"{7e6d5c4b-3a2f-4e1d-9c0b-8a7f6e5d4c31}\"\n",
    );
    let pipeline = setup.write(
        "infer/web/bitbucket-pipelines.yml",
        &format!(
            "pipelines:\n  branches:\n    main:\n      - step:\n          deployment: production\n          oidc: true\n          script:\n            - AWS_SECRET_ACCESS_KEY={PIPELINE_SECRET} AWS_SESSION_TOKEN={SESSION_TOKEN} aws s3 ls\n            - keyless deploy s3 --bucket web-site --source dist --invalidate E2WEBSITE00001 --role-arn arn:aws:iam::222222222222:role/deploy\n            - pipe: atlassian/aws-s3-deploy:1.1.0\n              variables:\n                S3_BUCKET: web-site\n                EXTRA_ARGS: --sse-c-key {PIPELINE_SECRET}\n"
        ),
    );
    let (config, pipeline) = (config.to_str().unwrap(), pipeline.to_str().unwrap());
    for format in ["json", "keyless-yml", "cloudformation", "terraform"] {
        setup.clean(
            &[
                "permissions",
                "infer",
                "-c",
                config,
                pipeline,
                "--format",
                format,
            ],
            &[],
        );
    }
    setup.clean(
        &["permissions", "infer", "-c", config, pipeline, "--write"],
        &[],
    );
    let written = std::fs::read_to_string(config).unwrap();
    assert!(
        !written.contains(PIPELINE_SECRET) && !written.contains(SESSION_TOKEN),
        "{written}"
    );
}

#[test]
fn token_mint() {
    let setup = Setup::new();
    let endpoint = setup.fixture.endpoint.clone();
    let workspace_uuid = WORKSPACE_UUID;
    let output = setup.run(&[
        "token",
        "mint",
        "--emulator",
        &endpoint,
        "--workspace",
        WORKSPACE,
        "--workspace-uuid",
        workspace_uuid,
        "--repository-uuid",
        REPO_UUID,
    ]);
    assert!(output.status.success(), "{output:?}");
    // Contract: the freshly minted JWT alone on stdout (a new token, never the canary).
    setup.assert_clean("keyless token mint", &output, &[], &[Shape::Jwt]);
    let unreachable = format!("http://127.0.0.1:{}", closed_port());
    setup.clean(
        &[
            "token",
            "mint",
            "--emulator",
            &unreachable,
            "--workspace",
            WORKSPACE,
            "--workspace-uuid",
            workspace_uuid,
            "--repository-uuid",
            REPO_UUID,
            "--timeout",
            "2s",
        ],
        &[],
    );
}

#[test]
fn token_decode() {
    let setup = Setup::new();
    // From BITBUCKET_STEP_OIDC_TOKEN: the claims, never the signature or the token.
    let output = setup.clean(&["token", "decode"], &[]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&REPO_UUID[1..37]),
        "claims missing:\n{stdout}"
    );
    let output = setup.clean(&["token", "decode", "--format", "json"], &[]);
    assert!(output.status.success(), "{output:?}");
    let file = setup.write("token.jwt", &setup.token);
    setup.clean(&["token", "decode", file.to_str().unwrap()], &[]);
    let bad = setup.write("bad.jwt", FILE_TOKEN);
    setup.clean(&["token", "decode", bad.to_str().unwrap()], &[]);
    let tampered = setup.write(
        "tampered.jwt",
        &format!(
            "{}.not-base64!{FILE_TOKEN}",
            setup.token.split('.').next().unwrap()
        ),
    );
    setup.clean(&["token", "decode", tampered.to_str().unwrap()], &[]);
}

#[test]
fn render() {
    let setup = Setup::new();
    let config = workspace_file();
    let config = config.to_str().unwrap();
    let pipelines = setup.write("clone/bitbucket-pipelines.yml", PIPELINES);
    let pipelines = pipelines.to_str().unwrap();
    // Contract: render prints the pipeline configuration the user wrote, so a literal committed in it comes back
    // on stdout (the configuration is the output; `audit` is what flags it). Never on stderr.
    let echoes = ["pipeline literal secret key"];
    setup.clean(
        &["render", "-c", config, "--branch", "main", pipelines],
        &echoes,
    );
    setup.clean(
        &[
            "render",
            "-c",
            config,
            "--branch",
            "main",
            "--format",
            "json",
            "--explain",
            pipelines,
        ],
        &echoes,
    );
    setup.clean(
        &[
            "render", "-c", config, "--branch", "main", "--diff", pipelines,
        ],
        &echoes,
    );
    setup.clean(
        &[
            "render",
            "-c",
            config,
            "--branch",
            "feature/x",
            "--explain",
            pipelines,
        ],
        &echoes,
    );
    let payload = serve_payload();
    setup.clean(
        &[
            "render",
            "-c",
            config,
            "--payload",
            payload.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    );
}

/// A background `keyless` process that is killed when dropped, its output captured to files.
struct Background {
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Background {
    fn spawn(setup: &Setup, name: &str, args: &[&str]) -> Self {
        let stdout = setup.path(&format!("{name}.out"));
        let stderr = setup.path(&format!("{name}.err"));
        let child = setup
            .command(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Self {
            child: Some(child),
            stdout,
            stderr,
        }
    }

    /// Waits (bounded) for the ready file to hold a complete line or document, and returns it.
    fn ready(&mut self, file: &Path, complete: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = std::fs::read_to_string(file)
                && complete(&text)
            {
                return text;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "exited with {status}:\n{}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the captured output once it has exited (bounded).
    fn stop(mut self) -> Output {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: std::fs::read(&self.stdout).unwrap(),
            stderr: std::fs::read(&self.stderr).unwrap(),
        }
    }
}

#[test]
fn serve() {
    let setup = Setup::new();
    let secret = setup.write("serve/dev-secret", &format!("{DEV_BEARER_SECRET}\n"));
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let ready = setup.path("serve/ready");
    let config = workspace_file();
    let mut server = Background::spawn(
        &setup,
        "serve",
        &[
            "serve",
            "-c",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--dev-bearer-secret-file",
            secret.to_str().unwrap(),
            "--ready-file",
            ready.to_str().unwrap(),
        ],
    );
    let address = server
        .ready(&ready, |t| t.ends_with('\n'))
        .trim()
        .to_owned();
    let url = format!("http://{address}/dynamic-pipelines");
    let body = std::fs::read(serve_payload()).unwrap();
    let mut statuses = Vec::new();
    // The right secret, a wrong one, the step token as if it were a Forge invocation token, and no JSON.
    for (bearer, body) in [
        (DEV_BEARER_SECRET, body.as_slice()),
        (WRONG_BEARER, body.as_slice()),
        (setup.token.as_str(), body.as_slice()),
        (DEV_BEARER_SECRET, SESSION_TOKEN.as_bytes()),
    ] {
        let response = http::post(&url)
            .header("content-type", "application/json")
            .header("authorization", &format!("Bearer {bearer}"))
            .body(body)
            .send();
        statuses.push(response.status);
        let text = response.body;
        for (label, value) in setup.canaries() {
            assert!(
                !text.contains(&value),
                "serve answered with the {label}: {text}"
            );
        }
    }
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(statuses[1] == 401 && statuses[2] == 401, "{statuses:?}");
    let output = server.stop();
    setup.assert_clean("keyless serve", &output, &[], &[]);
}

#[test]
fn emulate() {
    let setup = Setup::new();
    let ready = setup.path("emulate/ready.json");
    std::fs::create_dir_all(ready.parent().unwrap()).unwrap();
    let mut emulator = Background::spawn(
        &setup,
        "emulate",
        &[
            "emulate",
            "--listen",
            "127.0.0.1:0",
            "--ready-file",
            ready.to_str().unwrap(),
        ],
    );
    let text = emulator.ready(&ready, |t| {
        serde_json::from_str::<serde_json::Value>(t).is_ok()
    });
    let started: serde_json::Value = serde_json::from_str(&text).unwrap();
    let endpoint = started["endpoint"].as_str().unwrap().to_owned();
    // The canary step token (signed by another emulator's key, so refused) and a request signed with the canary
    // keys: the refusals are logged at trace, without the values.
    let role_arn = role(ACCOUNT_A, "deploy");
    let form = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn.as_str()),
        ("RoleSessionName", "canary"),
        ("WebIdentityToken", setup.token.as_str()),
    ];
    let text = http::post(&endpoint).form(&form).send().body;
    assert!(!text.contains(&setup.token), "{text}");
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20260101/us-east-1/sts/aws4_request, \
         SignedHeaders=host;x-amz-date;x-amz-security-token, Signature={}",
        "0".repeat(64)
    );
    let _ = http::post(&endpoint)
        .header("authorization", &authorization)
        .header("x-amz-date", "20260101T000000Z")
        .header("x-amz-security-token", SESSION_TOKEN)
        .form(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")])
        .send();
    let output = emulator.stop();
    // Contract: emulate prints its own admin access keys (freshly generated) on stdout so clients can sign.
    setup.assert_clean("keyless emulate", &output, &[], &[Shape::SecretAccessKey]);
}

#[test]
fn demo() {
    let setup = Setup::new();
    // The demo obtains real session secrets and tokens from its in-process emulator: none may be printed.
    let output = setup.clean(&["demo"], &[]);
    assert!(output.status.success(), "{output:?}");
    let output = setup.clean(&["demo", "--format", "json"], &[]);
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn completions() {
    let setup = Setup::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let output = setup.clean(&["completions", shell], &[]);
        assert!(output.status.success());
    }
}

#[test]
fn an_allowed_jwt_is_not_read_as_a_secret_access_key() {
    // Seen once in a CI-like run: a random RS256 signature held a 40-character alphanumeric run between two `-`.
    let run = "Ab3Cd4Ef5Gh6Ij7Kl8Mn9Op0Qr1St2Uv3Wx4Yz5A";
    assert_eq!(run.len(), 40);
    let jwt = format!("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA-{run}-BBBB_CCCC");
    assert_eq!(secret_shaped(&format!("{jwt}\n"), &[Shape::Jwt]), None);
    // Still found when JWTs are not allowed, and a key beside an allowed JWT is still a key.
    assert!(secret_shaped(&format!("{jwt}\n"), &[]).is_some());
    assert_eq!(
        secret_shaped(&format!("{jwt} {run}\n"), &[Shape::Jwt]).map(|f| f.0),
        Some(Shape::SecretAccessKey)
    );
    // Seen in token decode: a random 43-character `kid` whose last 40 characters follow a `_`.
    let kid = format!("PG_{run}");
    assert_eq!(secret_shaped(&format!("kid: {kid}\n"), &[]), None);
}

#[test]
fn the_shape_detector_finds_what_the_emulator_hands_out() {
    let fixture = Fixture::start();
    let creds = &fixture.emulator.as_ref().unwrap().accounts[ACCOUNT_A];
    let secret = creds.secret_access_key.expose().to_owned();
    let found = secret_shaped(&format!("key: {secret}\n"), &[]);
    // A random 40-character key almost always has 3+ digits, upper and lower case letters.
    if secret.chars().filter(char::is_ascii_digit).count() >= 3 {
        assert_eq!(found.map(|f| f.0), Some(Shape::SecretAccessKey), "{secret}");
    }
    let token = fixture.token(false, None);
    assert_eq!(
        secret_shaped(&format!("token={token} "), &[]).map(|f| f.0),
        Some(Shape::Jwt)
    );
    let session = "KLS1eyJrIjoiQVNJQUFBQUFBQUFBQUFBQUFBQUEifQ==.0123456789abcdef0123456789abcdef";
    assert_eq!(
        secret_shaped(session, &[]).map(|f| f.0),
        Some(Shape::EmulatorSessionToken)
    );
    // Not secrets: a SHA-1 thumbprint, an ARN, a path.
    assert_eq!(
        secret_shaped(
            "9e99a48a9960b14926bb7f3b02e22da2b0ab7280 arn:aws:iam::111111111111:role/deploy /work/main/target",
            &[]
        ),
        None
    );
}
