//! The release (issue 24): keyless's own `bitbucket-pipelines.yml` (schema-valid, `keyless audit` clean, its
//! Downloads upload against a loopback stub of Bitbucket's API), and the artifacts `scripts/dist` writes:
//! checksums, SBOM, licences, the minisign signature, and the static binary run in an empty root filesystem
//! (binary + CA bundle: `--version`, `demo`, `audit`, and `assume` reaching the host's emulator by a name that a
//! loopback DNS responder answers) and, in a minimal Debian root made by debootstrap, the README's step script
//! from download to credentials.
//!
//! The artifact tests read `KEYLESS_DIST_DIR` (scripts/test runs scripts/dist first and sets it, with a throwaway
//! minisign key whose public half is `KEYLESS_DIST_PUBKEY`, wherever the tests can run, and sets `KEYLESS_DIST=1`);
//! without it they say so and skip, except under `KEYLESS_DIST=1` with `KEYLESS_REQUIRE_TOOLS=1`, where they
//! fail. Root (chroot, port 53),
//! debootstrap's root and minisign are tools: missing ones fail the tests under `KEYLESS_REQUIRE_TOOLS=1` and skip
//! them otherwise.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use crate::support::assume as support;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::Digest as _;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn require_tools() -> bool {
    std::env::var("KEYLESS_REQUIRE_TOOLS").as_deref() == Ok("1")
}

/// `Ok(())` when `available`; otherwise a failure under KEYLESS_REQUIRE_TOOLS=1 and a skip (false) elsewhere.
fn have(available: bool, what: &str) -> bool {
    if !available {
        assert!(!require_tools(), "{what} (KEYLESS_REQUIRE_TOOLS=1)");
        println!("skip: {what}");
    }
    available
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn artifact_name() -> String {
    format!("keyless-{VERSION}-x86_64-linux")
}

/// The artifacts directory scripts/dist wrote, when the caller built it.
fn dist_dir() -> Option<PathBuf> {
    match std::env::var_os("KEYLESS_DIST_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("SHA256SUMS").is_file(),
                "KEYLESS_DIST_DIR={} holds no SHA256SUMS: run scripts/dist",
                dir.display()
            );
            Some(dir)
        }
        None => {
            // Under KEYLESS_DIST=1 (scripts/test then builds them) the artifacts must be there: with
            // KEYLESS_REQUIRE_TOOLS=1 their absence fails rather than passing by skipping.
            assert!(
                !(require_tools() && std::env::var("KEYLESS_DIST").as_deref() == Ok("1")),
                "KEYLESS_DIST=1 but KEYLESS_DIST_DIR is not set: scripts/test runs scripts/dist and sets it \
                 (KEYLESS_REQUIRE_TOOLS=1)"
            );
            println!(
                "skip: KEYLESS_DIST_DIR is not set (scripts/test runs scripts/dist and sets it where the artifact tests \
                 can run, and says why where they cannot)"
            );
            None
        }
    }
}

/// The static binary inside the tarball, extracted into `dir`.
fn extract_binary(dist: &Path, dir: &Path) -> PathBuf {
    let tarball = dist.join(format!("{}.tar.gz", artifact_name()));
    let output = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir)
        .arg("keyless")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    dir.join("keyless")
}

// ---------------------------------------------------------------------------------------------------------------
// keyless's own bitbucket-pipelines.yml

fn own_pipeline() -> String {
    std::fs::read_to_string(repo_root().join("bitbucket-pipelines.yml")).unwrap()
}

#[test]
fn own_pipeline_is_schema_valid_and_audit_clean() {
    let text_ = own_pipeline();
    let file = keyless_pipelines::parse(&text_).unwrap();
    let diagnostics = keyless_pipelines::validate(&file);
    assert!(
        diagnostics.is_empty(),
        "bitbucket-pipelines.yml against Atlassian's schema: {diagnostics:?}"
    );
    // keyless audits itself at the default threshold (--fail-on's default).
    let output = Command::new(env!("CARGO_BIN_EXE_keyless"))
        .current_dir(repo_root())
        .args(["audit", "bitbucket-pipelines.yml"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "keyless audit bitbucket-pipelines.yml:\n{}",
        text(&output)
    );

    // Tests on every push; on version tags the tests, then the artifacts, then the upload.
    let doc: serde_json::Value = serde_saphyr_like(&text_);
    let default = &doc["pipelines"]["default"];
    assert_eq!(default.as_array().unwrap().len(), 1, "{default}");
    let tag = doc["pipelines"]["tags"]["v*"].as_array().unwrap();
    let names: Vec<&str> = tag
        .iter()
        .map(|s| s["step"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Format, lints and tests",
            "Release artifacts",
            "Publish to Downloads"
        ]
    );
    let dist_script = tag[1]["step"]["script"].to_string();
    assert!(dist_script.contains("scripts/dist"), "{dist_script}");
    assert_eq!(tag[1]["step"]["artifacts"][0], "target/artifacts/**");
}

/// The YAML as JSON (through the pipelines crate's located tree), for structural checks.
fn serde_saphyr_like(text_: &str) -> serde_json::Value {
    let file = keyless_pipelines::parse(text_).unwrap();
    file.root().to_json()
}

/// The pipeline's upload line, as the publish step runs it.
fn publish_line() -> String {
    let doc = serde_saphyr_like(&own_pipeline());
    let steps = doc["pipelines"]["tags"]["v*"].as_array().unwrap();
    let publish = steps
        .iter()
        .find(|s| s["step"]["name"] == "Publish to Downloads")
        .unwrap();
    publish["step"]["script"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|line| line.as_str())
        .find(|line| line.starts_with("scripts/publish-downloads"))
        .unwrap()
        .to_owned()
}

/// One request the Downloads stub received: method, path, headers (lower-case names), body.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// A loopback stand-in for `POST /2.0/repositories/{workspace}/{repo_slug}/downloads`: records each request and
/// answers `status` (Bitbucket answers 201 Created to an upload).
struct DownloadsStub {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    _runtime: tokio::runtime::Runtime,
}

impl DownloadsStub {
    fn start(status: u16) -> Self {
        use axum::body::Bytes;
        use axum::extract::State;
        use axum::http::{HeaderMap, Method, StatusCode, Uri};

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let state = (received.clone(), status);
        let app = axum::Router::new()
            .fallback(
                |State((log, status)): State<(Arc<Mutex<Vec<Received>>>, u16)>,
                 method: Method,
                 uri: Uri,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    log.lock().unwrap().push(Received {
                        method: method.to_string(),
                        path: uri.path().to_owned(),
                        headers: headers
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                            })
                            .collect(),
                        body: body.to_vec(),
                    });
                    let status = StatusCode::from_u16(status).unwrap();
                    let body = if status.is_success() {
                        String::new()
                    } else {
                        r#"{"type": "error", "error": {"message": "Access denied"}}"#.to_owned()
                    };
                    (status, body)
                },
            )
            .with_state(state);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            received,
            _runtime: runtime,
        }
    }
}

/// The parts of a multipart/form-data body: (field name, file name, content).
fn multipart_parts(content_type: &str, body: &[u8]) -> Vec<(String, String, Vec<u8>)> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .unwrap_or_else(|| panic!("no boundary in {content_type}"))
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let start = find(rest, &delimiter).expect("the body opens with the boundary");
    rest = &rest[start + delimiter.len()..];
    while !rest.starts_with(b"--") {
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after a boundary");
        let head_end = find(rest, b"\r\n\r\n").expect("part headers end");
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let content_start = head_end + 4;
        let next = find(
            &rest[content_start..],
            &[b"\r\n".as_slice(), &delimiter].concat(),
        )
        .expect("the part ends with a boundary");
        let content = rest[content_start..content_start + next].to_vec();
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .expect("a Content-Disposition header")
            .to_owned();
        let field = |key: &str| {
            disposition
                .split(';')
                .find_map(|p| {
                    p.trim()
                        .strip_prefix(&format!("{key}="))
                        .map(|v| v.trim_matches('"').to_owned())
                })
                .unwrap_or_default()
        };
        parts.push((field("name"), field("filename"), content));
        rest = &rest[content_start + next + 2 + delimiter.len()..];
    }
    parts
}

/// A directory laid out as the publish step sees the clone: scripts/ and the artifacts under target/artifacts.
fn publish_workdir() -> (tempfile::TempDir, Vec<(String, Vec<u8>)>) {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo_root().join("scripts"), dir.path().join("scripts")).unwrap();
    let dist = dir.path().join("target/artifacts");
    std::fs::create_dir_all(&dist).unwrap();
    let name = artifact_name();
    let files: Vec<(String, Vec<u8>)> = [
        format!("{name}.tar.gz"),
        format!("{name}.cdx.json"),
        format!("{name}.THIRD-PARTY-LICENSES.md"),
        "SHA256SUMS".to_owned(),
        "SHA256SUMS.minisig".to_owned(),
        "glibc_2.36-9+deb12u14.dsc".to_owned(),
        "glibc_2.36.orig.tar.xz".to_owned(),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, file)| {
        // Binary content, with bytes a careless encoder would mangle.
        let content: Vec<u8> = (0..(300 + i * 97)).map(|n| (n * 31 + i) as u8).collect();
        std::fs::write(dist.join(&file), &content).unwrap();
        (file, content)
    })
    .collect();
    (dir, files)
}

const DOWNLOADS_TOKEN: &str = "ATCTT3xFfGF0-test-downloads-token";

fn run_publish(dir: &Path, api: &str) -> Output {
    Command::new("bash")
        .arg("-e")
        .arg("-c")
        .arg(publish_line())
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("BITBUCKET_REPO_FULL_NAME", "acme/keyless")
        .env("BITBUCKET_DOWNLOADS_TOKEN", DOWNLOADS_TOKEN)
        .env("BITBUCKET_API", api)
        .output()
        .unwrap()
}

#[test]
fn own_pipeline_uploads_every_artifact_as_bitbuckets_downloads_api_documents() {
    let stub = DownloadsStub::start(201);
    let (dir, files) = publish_workdir();
    let output = run_publish(dir.path(), &stub.url);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        !text(&output).contains(DOWNLOADS_TOKEN),
        "the token was printed:\n{}",
        text(&output)
    );

    let received = stub.received.lock().unwrap().clone();
    assert_eq!(
        received.len(),
        1,
        "one request uploads every file: {received:?}"
    );
    let request = &received[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/2.0/repositories/acme/keyless/downloads");
    assert_eq!(
        request.headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {DOWNLOADS_TOKEN}").as_str())
    );
    let content_type = &request.headers["content-type"];
    assert!(
        content_type.starts_with("multipart/form-data"),
        "{content_type}"
    );
    let parts = multipart_parts(content_type, &request.body);
    let mut got: Vec<(String, Vec<u8>)> = parts
        .into_iter()
        .map(|(field, file, content)| {
            assert_eq!(
                field, "files",
                "Bitbucket reads each upload from a `files` field"
            );
            (file, content)
        })
        .collect();
    got.sort();
    let mut want = files;
    want.sort();
    assert_eq!(
        got.iter()
            .map(|(f, c)| (f.as_str(), c.len()))
            .collect::<Vec<_>>(),
        want.iter()
            .map(|(f, c)| (f.as_str(), c.len()))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        got, want,
        "each file arrives byte for byte under its own name"
    );
}

#[test]
fn upload_errors_name_the_cause_and_never_print_the_token() {
    let stub = DownloadsStub::start(403);
    let (dir, _) = publish_workdir();
    let output = run_publish(dir.path(), &stub.url);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("HTTP 403") && stderr.contains("Access denied"),
        "{stderr}"
    );
    assert!(stderr.contains("repository:write"), "{stderr}");
    assert!(!text(&output).contains(DOWNLOADS_TOKEN));

    // Nothing listening: curl's error, exit 1.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let output = run_publish(dir.path(), &url);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("could not reach"));

    // Bad input: exit 2 with a fix, before any request.
    let output = Command::new(repo_root().join("scripts/publish-downloads"))
        .arg(dir.path().join("target/artifacts/SHA256SUMS"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("BITBUCKET_REPO_FULL_NAME", "acme/keyless")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("BITBUCKET_DOWNLOADS_TOKEN is not set")
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The artifacts

#[test]
fn release_artifacts_are_checksummed_and_complete() {
    let Some(dist) = dist_dir() else { return };
    let name = artifact_name();
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    let mut listed = Vec::new();
    for line in sums.lines() {
        let (sum, file) = line.split_once("  ").unwrap();
        let bytes = std::fs::read(dist.join(file)).unwrap();
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), sum, "{file}");
        listed.push(file.to_owned());
    }
    listed.sort();
    assert_eq!(
        listed,
        [
            format!("{name}.THIRD-PARTY-LICENSES.md"),
            format!("{name}.cdx.json"),
            format!("{name}.tar.gz"),
        ]
    );

    // The tarball: the binary, keyless's licences and the third-party licences, owned by root, at the epoch.
    let output = Command::new("tar")
        .args(["--numeric-owner", "-tvzf"])
        .arg(dist.join(format!("{name}.tar.gz")))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let listing = String::from_utf8_lossy(&output.stdout);
    let entries: Vec<(&str, &str, &str)> = listing
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0], w[1], *w.last().unwrap())
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("-rw-r--r--", "0/0", "LICENSE-APACHE"),
            ("-rw-r--r--", "0/0", "LICENSE-MIT"),
            ("-rw-r--r--", "0/0", "THIRD-PARTY-LICENSES.md"),
            ("-rwxr-xr-x", "0/0", "keyless"),
        ]
    );

    // Static: no loader, no shared library (the ELF program headers and dynamic section).
    let dir = tempfile::tempdir().unwrap();
    let binary = extract_binary(&dist, dir.path());
    let headers = Command::new("readelf")
        .args(["-lW"])
        .arg(&binary)
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&headers.stdout);
    assert!(
        !headers.contains("INTERP"),
        "the binary asks for a loader:\n{headers}"
    );
    let dynamic = Command::new("readelf")
        .args(["-dW"])
        .arg(&binary)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&dynamic.stdout).contains("(NEEDED)"));
    let symbols = Command::new("readelf")
        .args(["-SW"])
        .arg(&binary)
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&symbols.stdout).contains(".symtab"),
        "the binary is not stripped"
    );

    // The SBOM: CycloneDX, every crate of the binary's dependency tree and the three C components.
    let sbom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join(format!("{name}.cdx.json"))).unwrap())
            .unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    let components: BTreeMap<String, &serde_json::Value> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c))
        .collect();
    for crate_name in [
        "keyless-audit",
        "aws-lc-sys",
        "libmimalloc-sys",
        "tokio",
        "aws-sdk-sts",
        "rustls",
    ] {
        assert!(
            components.contains_key(crate_name),
            "the SBOM lacks {crate_name}"
        );
    }
    for (c_name, licence) in [
        ("glibc", "LGPL-2.1-or-later"),
        ("aws-lc", "ISC AND (Apache-2.0 OR ISC) AND OpenSSL"),
        ("mimalloc", "MIT"),
    ] {
        let component = components
            .get(c_name)
            .unwrap_or_else(|| panic!("the SBOM lacks the C component {c_name}"));
        assert_eq!(component["licenses"][0]["expression"], licence, "{c_name}");
        assert!(!component["version"].as_str().unwrap().is_empty());
    }
    let info = std::fs::read_to_string(dist.join("BUILD-INFO")).unwrap();
    let glibc_line = info.lines().find(|l| l.starts_with("glibc ")).unwrap();
    assert!(
        glibc_line.contains(components["glibc"]["version"].as_str().unwrap()),
        "the SBOM's glibc is the one linked: {glibc_line}"
    );

    // The licences: the LGPL notice and text, aws-lc's and mimalloc's, and the crates'.
    let licences =
        std::fs::read_to_string(dist.join(format!("{name}.THIRD-PARTY-LICENSES.md"))).unwrap();
    for needed in [
        "How this release meets the GNU C Library's LGPL",
        "GNU LESSER GENERAL PUBLIC LICENSE",
        "Version 2.1, February 1999",
        "AWS Libcrypto (AWS-LC)",
        "Microsoft Corporation",
        "## Rust crates",
        "aws-lc-sys",
        "tokio",
    ] {
        assert!(
            licences.contains(needed),
            "THIRD-PARTY-LICENSES.md lacks `{needed}`"
        );
    }
    println!("{info}");
}

/// cargo-cyclonedx writes `<name>.sbom.json` beside the Cargo.toml of every workspace member (it has no output
/// directory); scripts/dist, which ran before this test, keeps crates/cli's as the SBOM and must remove the rest.
#[test]
fn dist_leaves_no_sbom_files_in_the_tree() {
    let Some(_dist) = dist_dir() else { return };
    let root = repo_root();
    let crates = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|entry| entry.unwrap().path());
    let mut litter = Vec::new();
    for dir in std::iter::once(root.clone()).chain(crates) {
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if [".sbom.json", ".sbom.xml", ".cdx.json", ".cdx.xml"]
                .iter()
                .any(|suffix| name.ends_with(suffix))
            {
                litter.push(dir.join(name));
            }
        }
    }
    assert!(
        litter.is_empty(),
        "scripts/dist left SBOM files in the working tree: {litter:?}"
    );
}

#[test]
fn sha256sums_carry_a_minisign_signature() {
    let Some(dist) = dist_dir() else { return };
    let minisign = repo_root().join(".tools/bin/minisign");
    if !have(
        minisign.exists(),
        "minisign is not installed (scripts/setup-dist-tools minisign)",
    ) {
        return;
    }
    let Some(public_key) = std::env::var_os("KEYLESS_DIST_PUBKEY") else {
        assert!(
            !require_tools(),
            "KEYLESS_DIST_PUBKEY is not set: scripts/test signs the artifacts with a throwaway key"
        );
        println!("skip: KEYLESS_DIST_PUBKEY is not set (scripts/test signs with a throwaway key)");
        return;
    };
    let verify = |dir: &Path| {
        Command::new(&minisign)
            .args(["-V", "-q", "-p"])
            .arg(&public_key)
            .arg("-m")
            .arg(dir.join("SHA256SUMS"))
            .output()
            .unwrap()
    };
    let output = verify(&dist);
    assert!(output.status.success(), "{}", text(&output));

    // One changed byte in SHA256SUMS and the signature no longer verifies.
    let copy = tempfile::tempdir().unwrap();
    let mut sums = std::fs::read(dist.join("SHA256SUMS")).unwrap();
    sums[0] = if sums[0] == b'0' { b'1' } else { b'0' };
    std::fs::write(copy.path().join("SHA256SUMS"), sums).unwrap();
    std::fs::copy(
        dist.join("SHA256SUMS.minisig"),
        copy.path().join("SHA256SUMS.minisig"),
    )
    .unwrap();
    let output = verify(copy.path());
    assert!(
        !output.status.success(),
        "a tampered SHA256SUMS verified:\n{}",
        text(&output)
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The empty root: the binary, a CA bundle and (for the DNS part) a resolv.conf

/// A loopback DNS responder: answers A queries for `name` with 127.0.0.1, NXDOMAIN for other names, and no
/// records for other types of `name` (what a real server answers for AAAA when there is none). glibc's stub
/// resolver only talks to port 53, so it binds port 53 on a random 127.x.y.z address: loopback, and never the
/// 127.0.0.1:53 or 127.0.0.53:53 a host resolver may hold. RFC 1035 §4.1 is the whole wire format needed here,
/// which is why it is written out rather than pulled in as a DNS server crate.
struct DnsResponder {
    address: Ipv4Addr,
    queries: Arc<Mutex<Vec<(String, u16)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl DnsResponder {
    fn start(name: &str) -> Self {
        let seed = std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64;
        let mut socket = None;
        for attempt in 0..20u64 {
            let n = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(attempt * 1442695040888963407);
            let address = Ipv4Addr::new(127, 53, (n >> 24) as u8, ((n >> 32) as u8).max(2));
            if let Ok(s) = UdpSocket::bind(SocketAddr::from((address, 53))) {
                socket = Some((s, address));
                break;
            }
        }
        let (socket, address) = socket.expect("bind a loopback DNS responder on port 53");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let queries: Arc<Mutex<Vec<(String, u16)>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (log, done, known) = (queries.clone(), stop.clone(), name.to_ascii_lowercase());
        std::thread::spawn(move || {
            let mut buffer = [0u8; 512];
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((len, peer)) = socket.recv_from(&mut buffer) else {
                    continue;
                };
                if let Some((answer, qname, qtype)) = dns_answer(&buffer[..len], &known) {
                    log.lock().unwrap().push((qname, qtype));
                    let _ = socket.send_to(&answer, peer);
                }
            }
        });
        Self {
            address,
            queries,
            stop,
        }
    }
}

impl Drop for DnsResponder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The answer to one query: (response, queried name, queried type), or None for what is not a standard query.
fn dns_answer(query: &[u8], known: &str) -> Option<(Vec<u8>, String, u16)> {
    if query.len() < 12 || query[2] & 0x80 != 0 || query[2] & 0x78 != 0 || query[4..6] != [0, 1] {
        return None;
    }
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = &query[12..at + 4];
    let name = labels.join(".");
    let found = name == known;
    let answers: u16 = if found && qtype == 1 { 1 } else { 0 };
    let mut response = Vec::with_capacity(64);
    response.extend_from_slice(&query[0..2]); // ID
    // QR, opcode 0, AA, RD copied; RA; RCODE 0 or 3 (NXDOMAIN).
    response.push(0x84 | (query[2] & 0x01));
    response.push(0x80 | if found { 0 } else { 3 });
    response.extend_from_slice(&[0, 1, 0, answers as u8, 0, 0, 0, 0]);
    response.extend_from_slice(question);
    if answers == 1 {
        response.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
    }
    Some((response, name, qtype))
}

/// An empty root for the binary: /keyless, the CA bundle, /etc/resolv.conf naming `nameserver`.
fn empty_root(binary: &Path, nameserver: Option<Ipv4Addr>) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(binary, root.path().join("keyless")).unwrap();
    let certs = root.path().join("etc/ssl/certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(
        "/etc/ssl/certs/ca-certificates.crt",
        certs.join("ca-certificates.crt"),
    )
    .unwrap();
    if let Some(ns) = nameserver {
        std::fs::write(
            root.path().join("etc/resolv.conf"),
            format!("nameserver {ns}\noptions timeout:2 attempts:1\n"),
        )
        .unwrap();
    }
    root
}

/// `chroot`, found on the test's own PATH: the commands below clear the environment, and with it the PATH a
/// bare `chroot` would be looked up on (it lives in /usr/sbin, which the default search path leaves out).
fn chroot() -> Command {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("chroot"))
        .find(|path| path.is_file());
    Command::new(found.unwrap_or_else(|| PathBuf::from("chroot")))
}

fn in_root(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    chroot()
        .arg(root)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn listing(root: &Path) -> Vec<String> {
    let mut files: Vec<String> = walk(root)
        .into_iter()
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn dist_binary_runs_in_an_empty_root_and_resolves_names_without_nss_modules() {
    let Some(dist) = dist_dir() else { return };
    if !have(
        is_root(),
        "not root: chroot and a DNS responder on port 53 need root",
    ) {
        return;
    }
    let unpacked = tempfile::tempdir().unwrap();
    let binary = extract_binary(&dist, unpacked.path());
    let dns = DnsResponder::start("emulator.keyless.test");
    let root = empty_root(&binary, Some(dns.address));
    assert_eq!(
        listing(root.path()),
        [
            "etc/resolv.conf",
            "etc/ssl/certs/ca-certificates.crt",
            "keyless"
        ],
        "nothing but the binary, the CA bundle and resolv.conf"
    );

    let output = in_root(root.path(), &["/keyless", "--version"], &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("keyless {VERSION}")
    );

    let output = in_root(root.path(), &["/keyless", "demo"], &[]);
    assert!(
        output.status.success(),
        "keyless demo in an empty root:\n{}",
        text(&output)
    );

    // audit on a fixture: the same findings and exit code as the binary under test on the host.
    std::fs::create_dir_all(root.path().join("work")).unwrap();
    std::fs::copy(
        repo_root().join("examples/demo/bitbucket-pipelines.yml"),
        root.path().join("work/bitbucket-pipelines.yml"),
    )
    .unwrap();
    let args = ["audit", "--format", "json", "work/bitbucket-pipelines.yml"];
    let inside = in_root(root.path(), &[&["/keyless"], &args[..]].concat(), &[]);
    let host = Command::new(env!("CARGO_BIN_EXE_keyless"))
        .current_dir(root.path())
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(
        inside.status.code(),
        Some(1),
        "the demo pipeline has findings:\n{}",
        text(&inside)
    );
    assert_eq!(inside.status.code(), host.status.code());
    let findings: serde_json::Value = serde_json::from_slice(&inside.stdout).unwrap();
    assert_eq!(
        findings,
        serde_json::from_slice::<serde_json::Value>(&host.stdout).unwrap()
    );

    // assume, reaching the host's emulator by name through the loopback DNS responder.
    let fixture = support::Fixture::start();
    let token = fixture.token(false, None);
    let port = fixture.endpoint.rsplit(':').next().unwrap().to_owned();
    let by_name = format!("http://emulator.keyless.test:{port}");
    let step_env = |endpoint: &str| -> Vec<(&'static str, String)> {
        vec![
            ("BITBUCKET_STEP_OIDC_TOKEN", token.clone()),
            ("BITBUCKET_BUILD_NUMBER", "7".to_owned()),
            ("BITBUCKET_REPO_SLUG", "website".to_owned()),
            ("AWS_REGION", "eu-west-1".to_owned()),
            ("AWS_ROLE_ARN", support::role(support::ACCOUNT_A, "deploy")),
            ("AWS_ENDPOINT_URL_STS", endpoint.to_owned()),
            ("HOME", "/".to_owned()),
        ]
    };
    let run = |endpoint: &str, args: &[&str]| {
        let env = step_env(endpoint);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        in_root(root.path(), args, &env)
    };
    let output = run(
        &by_name,
        &["/keyless", "assume", "--", "/keyless", "--version"],
    );
    assert!(
        output.status.success(),
        "keyless assume by name in an empty root:\n{}",
        text(&output)
    );
    assert!(
        dns.queries
            .lock()
            .unwrap()
            .iter()
            .any(|(name, qtype)| name == "emulator.keyless.test" && *qtype == 1),
        "the name was not resolved through the responder: {:?}",
        dns.queries.lock().unwrap()
    );
    // The credentials are real: the emulator's STS says whose they are.
    let output = run(&by_name, &["/keyless", "env", "--format", "json"]);
    assert!(output.status.success(), "{}", text(&output));
    let vars: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        vars["AWS_ACCESS_KEY_ID"]
            .as_str()
            .unwrap()
            .starts_with("ASIA")
    );
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("eu-west-1"))
            .endpoint_url(&fixture.endpoint)
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                vars["AWS_ACCESS_KEY_ID"].as_str().unwrap(),
                vars["AWS_SECRET_ACCESS_KEY"].as_str().unwrap(),
                vars["AWS_SESSION_TOKEN"].as_str().map(str::to_owned),
                None,
                "test",
            ))
            .build(),
    );
    let arn = fixture
        .runtime
        .block_on(sts.get_caller_identity().send())
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:sts::{}:assumed-role/deploy/",
            support::ACCOUNT_A
        )),
        "{arn}"
    );

    // A name the responder does not know fails to resolve: the answer really comes from the responder.
    let output = run(
        &format!("http://nowhere.keyless.test:{port}"),
        &["/keyless", "assume", "--", "/keyless", "--version"],
    );
    assert!(
        !output.status.success(),
        "an unknown name resolved:\n{}",
        text(&output)
    );
    assert!(
        dns.queries
            .lock()
            .unwrap()
            .iter()
            .any(|(name, _)| name == "nowhere.keyless.test")
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The README's step script in a minimal Debian root

/// The step script the README leads with: the YAML block after the `release.rs` marker.
fn readme_step_script() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let marker = "<!-- crates/cli/tests/release/release.rs runs this step's script -->";
    let after = &readme[readme
        .find(marker)
        .expect("the README marks its step script")..];
    let start = after.find("```yaml\n").unwrap() + "```yaml\n".len();
    let block = &after[start..start + after[start..].find("```").unwrap()];
    // A list of steps, as a pipeline's `steps:` holds them (so not a whole pipeline file).
    let doc = keyless_pipelines::parse_document(block).unwrap().to_json();
    doc[0]["step"]["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect()
}

const README_DOWNLOADS: &str = "https://bitbucket.org/WORKSPACE/keyless/downloads";

#[test]
fn readme_step_script_gets_credentials_in_a_minimal_debian_root() {
    let script = readme_step_script();
    // The README's download-and-verify lines name this version's tarball and never pipe into a shell.
    assert!(
        script[0].starts_with("curl -fsSLO ")
            && script[0].ends_with(&format!("{}.tar.gz", artifact_name()))
    );
    assert!(script[0].contains(README_DOWNLOADS), "{}", script[0]);
    assert!(script[1].contains("sha256sum -c"), "{}", script[1]);
    // No command of a pipeline is a shell (`| sha256sum -c -` is fine, `| sh` or `| sudo bash` is not).
    let shells = ["sh", "bash", "dash", "zsh", "sudo"];
    for line in &script {
        for command in line.split('|').skip(1) {
            let program = command.split_whitespace().next().unwrap_or("");
            assert!(!shells.contains(&program), "piped into a shell: {line}");
        }
    }

    let Some(dist) = dist_dir() else { return };
    if !have(is_root(), "not root: chroot needs root") {
        return;
    }
    let debian = std::env::var_os("KEYLESS_DEBIAN_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools/debian-bookworm"));
    if !have(
        debian.join("usr/bin/curl").exists() && debian.join("bin/bash").exists(),
        &format!(
            "no minimal Debian root at {} (scripts/setup-dist-tools debian makes it)",
            debian.display()
        ),
    ) {
        return;
    }
    // "Nothing installed": no keyless in the root before the script runs (a previous run cleans up; so does this).
    let installed = debian.join("usr/local/bin/keyless");
    let _ = std::fs::remove_file(&installed);
    let build = debian.join("build-release-test");
    let _ = std::fs::remove_dir_all(&build);
    std::fs::create_dir_all(&build).unwrap();
    struct Cleanup(Vec<PathBuf>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for path in &self.0 {
                let _ = std::fs::remove_dir_all(path).or_else(|_| std::fs::remove_file(path));
            }
        }
    }
    let _cleanup = Cleanup(vec![installed.clone(), build.clone()]);
    // The step's own deploy command: it records who it runs as (0600, inside the root's build directory).
    std::fs::write(
        build.join("deploy.sh"),
        "#!/bin/sh\nset -e\ntest -n \"$AWS_SESSION_TOKEN\"\numask 077\nprintf '%s\\n' \"$AWS_ACCESS_KEY_ID\" \"$AWS_SECRET_ACCESS_KEY\" \"$AWS_SESSION_TOKEN\" > credentials\n",
    )
    .unwrap();
    std::fs::set_permissions(
        build.join("deploy.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    // The host: the emulator, and the release's Downloads served over HTTP from the dist directory.
    let fixture = support::Fixture::start();
    let token = fixture.token(false, None);
    let served = dist.clone();
    let app = axum::Router::new().route(
        "/downloads/{file}",
        axum::routing::get(
            move |axum::extract::Path(file): axum::extract::Path<String>| {
                let path = served.join(&file);
                async move {
                    if file.contains('/') || !path.is_file() {
                        return Err(axum::http::StatusCode::NOT_FOUND);
                    }
                    Ok(std::fs::read(path).unwrap())
                }
            },
        ),
    );
    let listener = fixture
        .runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let downloads = format!("http://{}/downloads", listener.local_addr().unwrap());
    fixture
        .runtime
        .spawn(async move { axum::serve(listener, app).await });

    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    let sha256 = sums
        .lines()
        .find(|l| l.ends_with(&format!("{}.tar.gz", artifact_name())))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let lines: Vec<String> = script
        .iter()
        .map(|l| l.replace(README_DOWNLOADS, &downloads))
        .collect();
    // Bitbucket runs a step's script lines in order and stops at the first that fails (a line, not a command:
    // `bash -e` would go on after a failed `a && b` list, so each line's status is checked).
    let body = std::iter::once("cd /build-release-test".to_owned())
        .chain(lines.iter().cloned())
        .map(|line| format!("{line}\nstatus=$?; if [ $status -ne 0 ]; then exit $status; fi\n"))
        .collect::<String>();
    let env = [
        (
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        ),
        ("HOME", "/root".to_owned()),
        ("BITBUCKET_STEP_OIDC_TOKEN", token),
        ("BITBUCKET_BUILD_NUMBER", "7".to_owned()),
        ("BITBUCKET_REPO_SLUG", "website".to_owned()),
        ("BITBUCKET_CLONE_DIR", "/build-release-test".to_owned()),
        ("AWS_REGION", "eu-west-1".to_owned()),
        ("AWS_ROLE_ARN", support::role(support::ACCOUNT_A, "deploy")),
        ("AWS_ENDPOINT_URL_STS", fixture.endpoint.clone()),
        ("KEYLESS_SHA256", sha256.clone()),
    ];
    let start = Instant::now();
    let output = chroot()
        .arg(&debian)
        .args(["/bin/bash", "-c", &body])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    assert!(
        output.status.success(),
        "the README's step script in a minimal Debian root:\n{}",
        text(&output)
    );
    let mut credentials = String::new();
    std::fs::File::open(build.join("credentials"))
        .unwrap()
        .read_to_string(&mut credentials)
        .unwrap();
    let creds: Vec<&str> = credentials.lines().collect();
    assert!(
        creds[0].starts_with("ASIA"),
        "deploy.sh did not get credentials"
    );
    println!(
        "nothing installed -> credentials (download {} bytes from a loopback HTTP server, sha256sum -c, tar, keyless \
         assume against the emulator): {} ms",
        std::fs::metadata(dist.join(format!("{}.tar.gz", artifact_name())))
            .unwrap()
            .len(),
        elapsed.as_millis()
    );

    // A tarball that does not match the pinned checksum is never unpacked.
    let _ = std::fs::remove_file(&installed);
    let wrong = "0".repeat(64);
    let output = chroot()
        .arg(&debian)
        .args(["/bin/bash", "-c", &body])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("KEYLESS_SHA256", &wrong)
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "a wrong checksum passed:\n{}",
        text(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("FAILED")
            && String::from_utf8_lossy(&output.stderr).contains("did NOT match"),
        "{}",
        text(&output)
    );
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("keyless: command not found"),
        "the step went on after the failed checksum line:\n{}",
        text(&output)
    );
    assert!(
        !installed.exists(),
        "keyless was installed although its checksum did not match"
    );
}

#[test]
fn shellcheck_accepts_the_release_scripts() {
    let venv = std::env::var_os("KEYLESS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"));
    let shellcheck = venv.join("bin/shellcheck");
    if !have(
        shellcheck.exists(),
        "shellcheck is not installed (scripts/setup-tools installs it into .venv)",
    ) {
        return;
    }
    let output = Command::new(&shellcheck)
        .args([
            "scripts/demo",
            "scripts/dist",
            "scripts/setup-dist-tools",
            "scripts/publish-downloads",
            "scripts/glibc-source",
            "scripts/test",
            "scripts/check-reproducible",
        ])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
}
