//! `keyless deploy s3` end to end against moto_server (S3 and CloudFront), started per test on 127.0.0.1.
//!
//! moto comes from KEYLESS_VENV (default `<repo>/.venv`); when it is missing the tests print a skip line, unless
//! KEYLESS_REQUIRE_TOOLS=1, when they fail. Objects are inspected with the AWS SDK for Rust, independently of
//! the code under test; multipart objects "from another tool" are uploaded with it too.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyless_deploy::aws_sdk_s3::primitives::ByteStream;
use keyless_deploy::aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use keyless_deploy::{Clients, Connection, aws_sdk_s3};
use serde_json::Value;

use crate::support::Moto;

/// moto_server with small multipart parts: they keep multipart tests fast (real S3 requires 5 MiB).
fn start_moto() -> Option<Moto> {
    Moto::start(&[("S3_UPLOAD_PART_MIN_SIZE", "1024")])
}

struct World {
    moto: Moto,
    rt: tokio::runtime::Runtime,
    clients: Clients,
    bucket: String,
    home: tempfile::TempDir,
}

fn world() -> Option<World> {
    let moto = start_moto()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let clients = rt
        .block_on(Clients::connect(&Connection {
            region: Some("us-east-1".into()),
            endpoint_url: Some(moto.endpoint.clone()),
            credentials: Some(aws_credential_types_creds()),
        }))
        .unwrap();
    let bucket = "site-bucket".to_owned();
    rt.block_on(clients.s3.create_bucket().bucket(&bucket).send())
        .unwrap();
    Some(World {
        moto,
        rt,
        clients,
        bucket,
        home: tempfile::tempdir().unwrap(),
    })
}

fn aws_credential_types_creds() -> keyless_deploy::aws_sdk_s3::config::Credentials {
    keyless_deploy::aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test")
}

struct Run {
    code: i32,
    json: Value,
    stderr: String,
}

impl World {
    fn command(&self, source: &Path, extra: &[&str]) -> Command {
        self.command_as(source, "json", extra)
    }

    fn command_as(&self, source: &Path, format: &str, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyless"));
        cmd.args(["deploy", "s3", "--bucket", &self.bucket, "--source"])
            .arg(source)
            .args([
                "--region",
                "us-east-1",
                "--endpoint-url",
                &self.moto.endpoint,
                "--format",
                format,
            ])
            .args(extra)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_CONFIG_FILE", self.home.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.home.path().join("credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_ENDPOINT_URL");
        cmd
    }

    fn deploy(&self, source: &Path, extra: &[&str]) -> Run {
        let out = self.command(source, extra).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        Run {
            code: out.status.code().unwrap_or(-1),
            json,
            stderr,
        }
    }

    /// Deploys and asserts success.
    fn ok(&self, source: &Path, extra: &[&str]) -> Value {
        let run = self.deploy(source, extra);
        assert_eq!(run.code, 0, "stderr: {}\nstdout: {}", run.stderr, run.json);
        run.json
    }

    fn keys(&self) -> Vec<String> {
        let out = self
            .rt
            .block_on(
                self.clients
                    .s3
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .send(),
            )
            .unwrap();
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }

    fn head(&self, key: &str) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
        self.rt
            .block_on(
                self.clients
                    .s3
                    .head_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send(),
            )
            .unwrap()
    }

    fn sorted_keys(&self) -> Vec<String> {
        let mut keys = self.keys();
        keys.sort();
        keys
    }

    /// Writes an object directly (as another tool would), bypassing keyless.
    fn put(&self, key: &str, body: &'static [u8]) {
        self.rt
            .block_on(
                self.clients
                    .s3
                    .put_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .body(ByteStream::from_static(body))
                    .send(),
            )
            .unwrap();
    }

    /// A CloudFront distribution in front of the bucket, created with the AWS CLI; returns its id.
    fn distribution(&self) -> String {
        let out = Command::new(crate::support::venv().join("bin/aws"))
            .args([
                "--endpoint-url",
                &self.moto.endpoint,
                "--region",
                "us-east-1",
                "--output",
                "json",
            ])
            .args(["cloudfront", "create-distribution", "--origin-domain-name"])
            .arg(format!("{}.s3.amazonaws.com", self.bucket))
            .args(["--default-root-object", "index.html"])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_CONFIG_FILE", self.home.path().join("config"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let created: Value = serde_json::from_slice(&out.stdout).unwrap();
        created["Distribution"]["Id"].as_str().unwrap().to_owned()
    }

    /// How many invalidations CloudFront holds for a distribution.
    fn invalidation_count(&self, distribution: &str) -> i32 {
        self.rt
            .block_on(
                self.clients
                    .cloudfront
                    .list_invalidations()
                    .distribution_id(distribution)
                    .send(),
            )
            .unwrap()
            .invalidation_list
            .unwrap()
            .quantity
    }

    fn get(&self, key: &str) -> Vec<u8> {
        self.rt.block_on(async {
            let out = self
                .clients
                .s3
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .unwrap();
            out.body.collect().await.unwrap().into_bytes().to_vec()
        })
    }
}

fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "index.html", b"<!doctype html><h1>home</h1>");
    write(root, "docs/index.html", b"<!doctype html><h1>docs</h1>");
    write(
        root,
        "css/site.css",
        b"body { color: #333; margin: 0 auto; max-width: 40em }\n"
            .repeat(20)
            .as_slice(),
    );
    write(root, "js/app.js", b"console.log('hi');\n");
    write(
        root,
        "img/logo.png",
        &[0x89, b'P', b'N', b'G', 0, 1, 2, 3, 255],
    );
    dir
}

fn summary(json: &Value, field: &str) -> u64 {
    json["summary"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("no summary.{field} in {json}"))
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(data))
}

fn keys_of(json: &Value, list: &str) -> Vec<String> {
    json[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["key"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn first_upload_then_noop_after_touch_fresh_clone_and_lost_state() {
    let Some(w) = world() else { return };
    let src = site();
    let first = w.ok(src.path(), &[]);
    assert_eq!(summary(&first, "uploaded"), 5, "{first}");
    assert_eq!(summary(&first, "unchanged"), 0);
    let mut keys = w.keys();
    keys.sort();
    assert_eq!(
        keys,
        [
            ".keyless-deploy.json",
            "css/site.css",
            "docs/index.html",
            "img/logo.png",
            "index.html",
            "js/app.js"
        ]
    );
    let head = w.head("index.html");
    assert_eq!(head.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(w.head("img/logo.png").content_type(), Some("image/png"));
    assert_eq!(
        w.head("js/app.js").content_type(),
        Some("text/javascript; charset=utf-8")
    );
    let html = std::fs::read(src.path().join("index.html")).unwrap();
    assert_eq!(
        head.metadata().unwrap()["keyless-sha256"],
        sha256_hex(&html)
    );
    assert_eq!(w.get("index.html"), html);

    // No-op resync.
    let again = w.ok(src.path(), &[]);
    assert_eq!(
        (summary(&again, "uploaded"), summary(&again, "unchanged")),
        (0, 5),
        "{again}"
    );

    // Touch every file (same content, new mtime): still nothing to do.
    std::thread::sleep(Duration::from_millis(1100));
    for rel in [
        "index.html",
        "docs/index.html",
        "css/site.css",
        "js/app.js",
        "img/logo.png",
    ] {
        let data = std::fs::read(src.path().join(rel)).unwrap();
        std::fs::write(src.path().join(rel), data).unwrap();
    }
    let touched = w.ok(src.path(), &[]);
    assert_eq!(summary(&touched, "uploaded"), 0, "{touched}");

    // A fresh clone (new directory, new mtimes) with the state file gone: HEADs decide, nothing uploads, and the
    // state file is written again.
    let clone = tempfile::tempdir().unwrap();
    for rel in [
        "index.html",
        "docs/index.html",
        "css/site.css",
        "js/app.js",
        "img/logo.png",
    ] {
        write(
            clone.path(),
            rel,
            &std::fs::read(src.path().join(rel)).unwrap(),
        );
    }
    w.rt.block_on(
        w.clients
            .s3
            .delete_object()
            .bucket(&w.bucket)
            .key(".keyless-deploy.json")
            .send(),
    )
    .unwrap();
    let fresh = w.ok(clone.path(), &[]);
    assert_eq!(
        (summary(&fresh, "uploaded"), summary(&fresh, "unchanged")),
        (0, 5),
        "{fresh}"
    );
    assert!(w.keys().contains(&".keyless-deploy.json".to_owned()));
}

#[test]
fn changed_file_of_same_size_uploads_only_that_file() {
    let Some(w) = world() else { return };
    let src = site();
    w.ok(src.path(), &[]);
    write(src.path(), "js/app.js", b"console.log('ho');\n");
    let run = w.ok(src.path(), &[]);
    assert_eq!(keys_of(&run, "uploads"), ["js/app.js"], "{run}");
    assert_eq!(run["uploads"][0]["reason"], "changed");
    assert_eq!(run["uploads"][0]["compared_by"], "sha256");
    assert_eq!(summary(&run, "unchanged"), 4);
    assert_eq!(w.get("js/app.js"), b"console.log('ho');\n");
}

#[test]
fn object_rewritten_by_another_tool_is_compared_by_its_etag_not_the_stale_state() {
    let Some(w) = world() else { return };
    let src = site();
    w.ok(src.path(), &[]);
    // Another tool rewrites js/app.js with other bytes of the same size and no keyless-sha256 metadata. The state
    // entry no longer matches the listing (new ETag), so neither its SHA-256 nor the SHA-256-only digest computed
    // while the listing came in may decide: the HEAD shows no SHA-256, and the local MD5 is compared with the
    // ETag (a SHA-256-only digest would have made this `unverifiable`).
    w.rt.block_on(
        w.clients
            .s3
            .put_object()
            .bucket(&w.bucket)
            .key("js/app.js")
            .content_type("text/javascript; charset=utf-8")
            .body(ByteStream::from_static(b"console.log('ho');\n"))
            .send(),
    )
    .unwrap();
    let run = w.ok(src.path(), &[]);
    assert_eq!(keys_of(&run, "uploads"), ["js/app.js"], "{run}");
    assert_eq!(run["uploads"][0]["compared_by"], "md5", "{run}");
    assert_eq!(summary(&run, "unchanged"), 4, "{run}");
    assert_eq!(w.get("js/app.js"), b"console.log('hi');\n");
    // The rerun finds the state current again: nothing to do.
    let again = w.ok(src.path(), &[]);
    assert_eq!(
        (summary(&again, "uploaded"), summary(&again, "unchanged")),
        (0, 5),
        "{again}"
    );
}

#[test]
fn no_state_compares_by_head_and_never_writes_the_state_file() {
    let Some(w) = world() else { return };
    let src = site();
    let first = w.ok(src.path(), &["--no-state"]);
    assert_eq!(summary(&first, "uploaded"), 5, "{first}");
    let state = ".keyless-deploy.json".to_owned();
    assert!(!w.keys().contains(&state));
    // Without the cache every object on both sides is HEADed: content and headers are still exact.
    let again = w.ok(src.path(), &["--no-state"]);
    assert_eq!(
        (summary(&again, "uploaded"), summary(&again, "unchanged")),
        (0, 5),
        "{again}"
    );
    let rules = ["--no-state", "--cache-control", "*.html=no-cache"];
    let headers = w.ok(src.path(), &rules);
    assert_eq!(
        keys_of(&headers, "updates"),
        ["docs/index.html", "index.html"],
        "{headers}"
    );
    // A file whose size changed is uploaded on the size alone (it is not hashed before the upload).
    write(src.path(), "js/app.js", b"console.log('a longer line');\n");
    let grown = w.ok(src.path(), &rules);
    assert_eq!(keys_of(&grown, "uploads"), ["js/app.js"], "{grown}");
    assert_eq!(grown["uploads"][0]["compared_by"], "size");
    assert_eq!(grown["uploads"][0]["bytes"], 30);
    assert_eq!(
        w.head("js/app.js").metadata().unwrap()["keyless-sha256"],
        sha256_hex(b"console.log('a longer line');\n")
    );
    assert!(!w.keys().contains(&state));
}

#[test]
fn header_only_change_copies_in_place() {
    let Some(w) = world() else { return };
    let src = site();
    w.ok(src.path(), &[]);
    let before = w.head("index.html").e_tag().unwrap().to_owned();
    let rules = [
        "--cache-control",
        "*.html=no-cache",
        "--cache-control",
        "css/**=public, max-age=31536000",
    ];
    let run = w.ok(src.path(), &rules);
    assert_eq!(summary(&run, "uploaded"), 0, "{run}");
    assert_eq!(
        keys_of(&run, "updates"),
        ["css/site.css", "docs/index.html", "index.html"]
    );
    assert_eq!(
        run["updates"][0]["changed"],
        serde_json::json!(["cache-control"])
    );
    let head = w.head("index.html");
    assert_eq!(head.cache_control(), Some("no-cache"));
    assert_eq!(head.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(head.e_tag().unwrap(), before, "same content, same ETag");
    assert_eq!(
        w.head("css/site.css").cache_control(),
        Some("public, max-age=31536000")
    );
    assert_eq!(w.head("js/app.js").cache_control(), None);
    let again = w.ok(src.path(), &rules);
    assert_eq!(
        (summary(&again, "updated"), summary(&again, "unchanged")),
        (0, 5),
        "{again}"
    );
    // Dropping the rule removes the header again.
    let dropped = w.ok(src.path(), &[]);
    assert_eq!(summary(&dropped, "updated"), 3, "{dropped}");
    assert_eq!(w.head("index.html").cache_control(), None);
}

#[test]
fn deletion_and_the_max_delete_guard() {
    let Some(w) = world() else { return };
    let src = site();
    w.ok(src.path(), &[]);
    for rel in ["docs/index.html", "js/app.js", "img/logo.png"] {
        std::fs::remove_file(src.path().join(rel)).unwrap();
    }
    // Without --delete nothing goes.
    let kept = w.ok(src.path(), &[]);
    assert_eq!(summary(&kept, "deleted"), 0);
    assert_eq!(w.keys().len(), 6);

    // More than --max-delete: refused before any change, exit 2.
    let refused = w.deploy(src.path(), &["--delete", "--max-delete", "2"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("refusing to delete 3 objects"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--max-delete 3"),
        "{}",
        refused.stderr
    );
    assert_eq!(w.keys().len(), 6);

    // The dry run lists them and changes nothing.
    let dry = w.ok(
        src.path(),
        &["--delete", "--max-delete", "2", "--force", "--dry-run"],
    );
    assert_eq!(
        keys_of(&dry, "deletes"),
        ["docs/index.html", "img/logo.png", "js/app.js"]
    );
    assert_eq!(dry["dry_run"], true);
    assert_eq!(w.keys().len(), 6);

    let deleted = w.ok(src.path(), &["--delete", "--max-delete", "3"]);
    assert_eq!(
        keys_of(&deleted, "deletes"),
        ["docs/index.html", "img/logo.png", "js/app.js"]
    );
    let mut keys = w.keys();
    keys.sort();
    assert_eq!(keys, [".keyless-deploy.json", "css/site.css", "index.html"]);

    // --force lifts the guard; excluded keys are never deleted.
    write(src.path(), "keep.txt", b"k");
    w.ok(src.path(), &[]);
    std::fs::remove_file(src.path().join("keep.txt")).unwrap();
    std::fs::remove_file(src.path().join("css/site.css")).unwrap();
    let forced = w.ok(
        src.path(),
        &[
            "--delete",
            "--max-delete",
            "0",
            "--force",
            "--exclude",
            "*.txt",
        ],
    );
    assert_eq!(keys_of(&forced, "deletes"), ["css/site.css"]);
    assert!(w.keys().contains(&"keep.txt".to_owned()));
}

#[test]
fn multipart_uploads_and_multipart_objects_from_other_tools() {
    let Some(w) = world() else { return };
    let src = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    write(src.path(), "big.bin", &big);
    write(src.path(), "small.txt", b"small");
    let flags = ["--multipart-threshold", "4KiB", "--part-size", "2KiB"];
    let first = w.ok(src.path(), &flags);
    assert_eq!(summary(&first, "uploaded"), 2, "{first}");
    let big_upload = first["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["key"] == "big.bin")
        .unwrap();
    assert_eq!(big_upload["multipart"], true);
    let head = w.head("big.bin");
    assert!(
        head.e_tag().unwrap().trim_matches('"').ends_with("-5"),
        "{:?}",
        head.e_tag()
    );
    assert_eq!(head.metadata().unwrap()["keyless-part-size"], "2048");
    assert_eq!(head.metadata().unwrap()["keyless-sha256"], sha256_hex(&big));
    assert_eq!(w.get("big.bin"), big);
    let again = w.ok(src.path(), &flags);
    assert_eq!(
        (summary(&again, "uploaded"), summary(&again, "unchanged")),
        (0, 2),
        "{again}"
    );

    // Objects another tool uploaded (no keyless metadata, no state entry): a multipart one with our part size and
    // a single-part one. Their ETags prove them unchanged.
    let other: Vec<u8> = (0..9000u32).map(|i| (i * 7 % 253) as u8).collect();
    write(src.path(), "other.bin", &other);
    write(src.path(), "plain.txt", b"plain text");
    w.rt.block_on(async {
        let s3 = &w.clients.s3;
        let created = s3
            .create_multipart_upload()
            .bucket(&w.bucket)
            .key("other.bin")
            .content_type("application/octet-stream")
            .send()
            .await
            .unwrap();
        let id = created.upload_id().unwrap();
        let mut parts = Vec::new();
        for (i, chunk) in other.chunks(2048).enumerate() {
            let n = i32::try_from(i + 1).unwrap();
            let out = s3
                .upload_part()
                .bucket(&w.bucket)
                .key("other.bin")
                .upload_id(id)
                .part_number(n)
                .body(ByteStream::from(chunk.to_vec()))
                .send()
                .await
                .unwrap();
            parts.push(
                CompletedPart::builder()
                    .part_number(n)
                    .e_tag(out.e_tag().unwrap())
                    .build(),
            );
        }
        s3.complete_multipart_upload()
            .bucket(&w.bucket)
            .key("other.bin")
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        s3.put_object()
            .bucket(&w.bucket)
            .key("plain.txt")
            .content_type("text/plain; charset=utf-8")
            .body(ByteStream::from_static(b"plain text"))
            .send()
            .await
            .unwrap();
    });
    let adopted = w.ok(src.path(), &flags);
    assert_eq!(
        (
            summary(&adopted, "uploaded"),
            summary(&adopted, "updated"),
            summary(&adopted, "unchanged")
        ),
        (0, 0, 4),
        "{adopted}"
    );
    // A changed multipart file is uploaded again, in parts.
    let mut changed = big.clone();
    changed[5000] ^= 0xff;
    write(src.path(), "big.bin", &changed);
    let run = w.ok(src.path(), &flags);
    assert_eq!(keys_of(&run, "uploads"), ["big.bin"], "{run}");
    assert_eq!(w.get("big.bin"), changed);
}

#[test]
fn gzip_rules_store_compressed_bodies_deterministically() {
    use std::io::Read as _;
    let Some(w) = world() else { return };
    let src = site();
    let first = w.ok(src.path(), &["--gzip", "*.css", "--gzip", "*.html"]);
    assert_eq!(summary(&first, "uploaded"), 5);
    let head = w.head("css/site.css");
    assert_eq!(head.content_encoding(), Some("gzip"));
    assert_eq!(head.content_type(), Some("text/css; charset=utf-8"));
    assert_eq!(w.head("js/app.js").content_encoding(), None);
    let stored = w.get("css/site.css");
    let original = std::fs::read(src.path().join("css/site.css")).unwrap();
    assert!(stored.len() < original.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(stored.as_slice())
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, original);
    // Same input, same gzip bytes: a rerun uploads nothing.
    let again = w.ok(src.path(), &["--gzip", "*.css", "--gzip", "*.html"]);
    assert_eq!(summary(&again, "uploaded"), 0, "{again}");
    // Dropping a rule stores the plain body again.
    let plain = w.ok(src.path(), &["--gzip", "*.html"]);
    assert_eq!(keys_of(&plain, "uploads"), ["css/site.css"], "{plain}");
    assert_eq!(w.get("css/site.css"), original);
    assert_eq!(w.head("css/site.css").content_encoding(), None);
}

#[test]
fn invalidation_paths_are_minimised_and_recorded_by_cloudfront() {
    let Some(w) = world() else { return };
    let dist = w.distribution();

    let src = site();
    let first = w.ok(src.path(), &["--invalidate", &dist, "--wait"]);
    let inv = &first["invalidation"];
    assert_eq!(inv["status"], "Completed", "{first}");
    let want = [
        "/",
        "/css/site.css",
        "/docs/",
        "/docs/index.html",
        "/img/logo.png",
        "/index.html",
        "/js/app.js",
    ];
    assert_eq!(inv["paths"], serde_json::json!(want));
    let recorded = w.rt.block_on(async {
        let id = inv["id"].as_str().unwrap();
        let got = w
            .clients
            .cloudfront
            .get_invalidation()
            .distribution_id(&dist)
            .id(id)
            .send()
            .await
            .unwrap();
        let batch = got.invalidation.unwrap().invalidation_batch.unwrap();
        let mut paths = batch.paths.unwrap().items.unwrap_or_default();
        paths.sort();
        paths
    });
    assert_eq!(recorded, want);

    // One changed page: its path and its directory only.
    write(
        src.path(),
        "docs/index.html",
        b"<!doctype html><h1>docs v2</h1>",
    );
    let second = w.ok(src.path(), &["--invalidate", &dist]);
    assert_eq!(
        second["invalidation"]["paths"],
        serde_json::json!(["/docs/", "/docs/index.html"])
    );

    // Over the budget: collapsed to a wildcard per directory, then to /*.
    for i in 0..5 {
        write(src.path(), &format!("docs/page{i}.html"), b"p");
    }
    let third = w.ok(
        src.path(),
        &["--invalidate", &dist, "--max-invalidation-paths", "3"],
    );
    assert_eq!(
        third["invalidation"]["paths"],
        serde_json::json!(["/docs/*"]),
        "{third}"
    );
    write(src.path(), "index.html", b"<h1>home v2</h1>");
    write(src.path(), "js/app.js", b"v2");
    write(src.path(), "css/site.css", b"v2");
    let fourth = w.ok(
        src.path(),
        &["--invalidate", &dist, "--max-invalidation-paths", "2"],
    );
    assert_eq!(
        fourth["invalidation"]["paths"],
        serde_json::json!(["/*"]),
        "{fourth}"
    );

    // Nothing changed: no invalidation is created.
    let before = w.invalidation_count(&dist);
    let noop = w.ok(src.path(), &["--invalidate", &dist]);
    assert_eq!(noop["invalidation"]["status"], "skipped", "{noop}");
    assert_eq!(w.invalidation_count(&dist), before);
}

#[test]
fn per_file_errors_are_collected_and_a_rerun_converges() {
    let Some(w) = world() else { return };
    let src = site();
    // A FIFO cannot be deployed: the other files still go, the run exits 1 listing it.
    let fifo = src.path().join("docs/pipe.html");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let failed = w.deploy(src.path(), &["--delete"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert_eq!(summary(&failed.json, "uploaded"), 5);
    assert_eq!(
        failed.json["errors"][0]["key"], "docs/pipe.html",
        "{}",
        failed.json
    );
    assert_eq!(failed.json["errors"][0]["operation"], "read");
    assert!(
        failed.stderr.contains("docs/pipe.html"),
        "{}",
        failed.stderr
    );

    std::fs::remove_file(&fifo).unwrap();
    write(src.path(), "docs/pipe.html", b"<p>now a file</p>");
    let rerun = w.ok(src.path(), &["--delete"]);
    assert_eq!(keys_of(&rerun, "uploads"), ["docs/pipe.html"], "{rerun}");
    assert_eq!(summary(&rerun, "unchanged"), 5);
}

#[test]
fn killed_run_then_rerun_converges() {
    let Some(w) = world() else { return };
    let src = tempfile::tempdir().unwrap();
    let total = 600;
    for i in 0..total {
        write(
            src.path(),
            &format!("p/{i:04}.html"),
            format!("<p>{i}</p>").as_bytes(),
        );
    }
    let mut child = w
        .command(src.path(), &["--concurrency", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while w.keys().len() < 20 {
        assert!(Instant::now() < deadline, "no uploads within 60s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be interrupted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run finished before it could be interrupted"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let present = w.keys().len();
    assert!(present < total, "{present}");
    assert!(!w.keys().contains(&".keyless-deploy.json".to_owned()));

    let rerun = w.ok(src.path(), &[]);
    let uploaded = usize::try_from(summary(&rerun, "uploaded")).unwrap();
    assert_eq!(
        uploaded + usize::try_from(summary(&rerun, "unchanged")).unwrap(),
        total
    );
    assert_eq!(uploaded, total - present, "{}", rerun["summary"]);
    assert_eq!(w.keys().len(), total + 1);
    let last = w.ok(src.path(), &[]);
    assert_eq!(summary(&last, "uploaded"), 0);
}

#[test]
fn refusals_change_nothing() {
    let Some(w) = world() else { return };
    let src = site();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.txt", b"do not publish");
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        src.path().join("leak.txt"),
    )
    .unwrap();
    let run = w.deploy(src.path(), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("point outside the source"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("leak.txt"), "{}", run.stderr);
    assert!(w.keys().is_empty());

    std::fs::remove_file(src.path().join("leak.txt")).unwrap();
    let bad_glob = w.deploy(src.path(), &["--gzip", "a["]);
    assert_eq!(bad_glob.code, 2);
    assert!(bad_glob.stderr.contains("--gzip"), "{}", bad_glob.stderr);
    let bad_rule = w.deploy(src.path(), &["--cache-control", "no-equals-sign"]);
    assert_eq!(bad_rule.code, 2);
    assert!(
        bad_rule.stderr.contains("GLOB=VALUE"),
        "{}",
        bad_rule.stderr
    );
    let no_bucket = World {
        bucket: "missing-bucket".into(),
        ..w
    };
    let missing = no_bucket.deploy(src.path(), &[]);
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("NoSuchBucket"),
        "{}",
        missing.stderr
    );
}

/// Issue 21: a source holding `.git/`, `.env` files and `.well-known/` publishes only the last by default;
/// `.git` and `.env*` are reported with counts, never contents; hidden keys in the bucket are never deleted.
#[test]
fn hidden_files_are_skipped_reported_and_hidden_keys_left_alone() {
    let Some(w) = world() else { return };
    let src = tempfile::tempdir().unwrap();
    let root = src.path();
    write(root, "index.html", b"<h1>home</h1>");
    write(root, ".env", b"DATABASE_PASSWORD=hunter2-do-not-publish");
    write(
        root,
        "config/.env.production",
        b"API_TOKEN=tok-do-not-publish",
    );
    for object in ["HEAD", "config", "objects/aa/bbbb"] {
        write(root, &format!(".git/{object}"), b"git internals");
    }
    write(
        root,
        ".well-known/security.txt",
        b"Contact: mailto:security@example.com",
    );
    write(root, ".well-known/acme-challenge/tok", b"tok.thumb");
    write(root, "docs/.DS_Store", b"finder");
    // Hidden keys another tool put in the bucket: never deleted, never counted by the guards.
    w.put(".htaccess-from-elsewhere", b"x");
    w.put("assets/.keep", b"");

    let run = w.deploy(root, &["--delete"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = &run.json;
    assert_eq!(
        keys_of(json, "uploads"),
        [
            ".well-known/acme-challenge/tok",
            ".well-known/security.txt",
            "index.html"
        ]
    );
    // .env, config/.env.production, three files in .git, docs/.DS_Store.
    assert_eq!(summary(json, "skipped_hidden"), 6, "{json}");
    assert_eq!(summary(json, "deleted"), 0, "{json}");
    let warnings: Vec<&str> = json["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings[0].contains("`.env`") && warnings[0].contains("1 file"));
    assert!(warnings[1].contains("`.git/`") && warnings[1].contains("3 files"));
    assert!(warnings[2].contains("`config/.env.production`"));
    assert!(warnings.iter().all(|w| w.contains("skipped as hidden")));
    for leaked in ["hunter2", "tok-do-not-publish", "git internals"] {
        assert!(!run.stderr.contains(leaked) && !json.to_string().contains(leaked));
    }
    assert!(
        run.stderr.contains("warning: the source contains `.git/`"),
        "{}",
        run.stderr
    );
    // The share guard counts the objects that take part: none yet (the hidden keys do not count).
    assert!(
        json["guards"][3]["message"]
            .as_str()
            .unwrap()
            .contains("holds 0 objects"),
        "{json}"
    );
    assert_eq!(
        w.sorted_keys(),
        [
            ".htaccess-from-elsewhere",
            ".keyless-deploy.json",
            ".well-known/acme-challenge/tok",
            ".well-known/security.txt",
            "assets/.keep",
            "index.html"
        ]
    );

    // A rerun: nothing to do, the hidden keys still untouched; the share guard now sees 3 objects.
    let again = w.ok(root, &["--delete"]);
    assert_eq!(
        (
            summary(&again, "uploaded"),
            summary(&again, "deleted"),
            summary(&again, "unchanged")
        ),
        (0, 0, 3),
        "{again}"
    );
    assert!(
        again["guards"][3]["message"]
            .as_str()
            .unwrap()
            .contains("holds 3 objects")
    );

    // --include-hidden publishes them, and says so in the warnings; a dry run with --delete shows that the
    // hidden keys now take part (they would be deleted).
    let dry = w.ok(root, &["--include-hidden", "--delete", "--dry-run"]);
    assert_eq!(summary(&dry, "skipped_hidden"), 0);
    assert_eq!(
        keys_of(&dry, "deletes"),
        [".htaccess-from-elsewhere", "assets/.keep"]
    );
    assert_eq!(summary(&dry, "uploaded"), 6, "{dry}");
    let git = dry["warnings"][1].as_str().unwrap();
    assert!(
        git.contains("3 of them uploaded (--include-hidden)")
            && git.contains("--exclude '.git/**'"),
        "{git}"
    );
    w.ok(root, &["--include-hidden"]);
    assert_eq!(w.get(".env"), b"DATABASE_PASSWORD=hunter2-do-not-publish");
    assert!(w.keys().contains(&".git/HEAD".to_owned()));

    // Back to the default: the published hidden objects are hidden keys now, so --delete leaves them (remove
    // them by hand, or with --include-hidden --delete after deleting the files).
    let back = w.ok(root, &["--delete"]);
    assert_eq!(summary(&back, "deleted"), 0, "{back}");
    assert!(w.keys().contains(&".env".to_owned()));
}

/// Issue 21: `--delete` from an empty build directory is refused before any change, and says why with the
/// numbers; `--dry-run` shows each guard's decision; `--force` empties the prefix on purpose.
#[test]
fn an_empty_source_with_delete_is_refused_before_any_change() {
    let Some(w) = world() else { return };
    let src = site();
    w.ok(src.path(), &[]);
    let before = w.sorted_keys();
    assert_eq!(before.len(), 6);
    let empty = tempfile::tempdir().unwrap();
    write(empty.path(), ".gitkeep", b"");

    let refused = w.deploy(empty.path(), &["--delete"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert_eq!(refused.json, Value::Null, "nothing on stdout");
    for part in [
        "refusing to deploy to s3://site-bucket/; nothing was changed",
        "--source holds no file to deploy (1 hidden files skipped)",
        "all 5 objects",
        "--force",
    ] {
        assert!(refused.stderr.contains(part), "{part}: {}", refused.stderr);
    }
    assert_eq!(w.sorted_keys(), before);

    let dry = w.deploy(empty.path(), &["--delete", "--dry-run"]);
    assert_eq!(dry.code, 2, "{}", dry.stderr);
    assert_eq!(dry.json["dry_run"], true);
    let decisions: Vec<(&str, &str)> = dry.json["guards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["guard"].as_str().unwrap(),
                g["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            ("empty-source", "refuse"),
            ("require", "off"),
            ("max-delete", "pass"),
            ("max-delete-percent", "off")
        ]
    );
    assert_eq!(summary(&dry.json, "deleted"), 5);
    assert!(dry.stderr.contains("would be refused"), "{}", dry.stderr);
    assert_eq!(w.sorted_keys(), before);

    // The text plan shows the guards too.
    let text = w
        .command_as(empty.path(), "text", &["--delete", "--dry-run"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("guard   empty-source") && text.contains("refuse: --source holds no file"),
        "{text}"
    );

    // Without --delete an empty source changes nothing and is not refused.
    let plain = w.ok(empty.path(), &[]);
    assert_eq!(summary(&plain, "uploaded"), 0);
    assert_eq!(plain["guards"][0]["decision"], "off");

    let forced = w.ok(empty.path(), &["--delete", "--force"]);
    assert_eq!(summary(&forced, "deleted"), 5, "{forced}");
    assert_eq!(forced["guards"][0]["decision"], "forced");
    assert_eq!(w.sorted_keys(), [".keyless-deploy.json"]);
}

/// Issue 21: a half-built source (most pages missing) is refused by the share guard on a site of 20 or more
/// objects, and by `--require`; the limit and `--force` let it through.
#[test]
fn a_half_built_source_is_refused_by_the_share_and_by_require() {
    let Some(w) = world() else { return };
    let full = tempfile::tempdir().unwrap();
    write(full.path(), "index.html", b"<h1>home</h1>");
    for i in 0..29 {
        write(
            full.path(),
            &format!("p/{i:02}.html"),
            format!("<p>{i}</p>").as_bytes(),
        );
    }
    w.ok(full.path(), &["--delete", "--require", "index.html"]);
    let before = w.sorted_keys();
    assert_eq!(before.len(), 31);

    // The build stopped early: 10 pages, no index.html. Deleting 20 of the 30 objects is 66.7%.
    let half = tempfile::tempdir().unwrap();
    for i in 0..10 {
        write(
            half.path(),
            &format!("p/{i:02}.html"),
            format!("<p>{i}</p>").as_bytes(),
        );
    }
    let refused = w.deploy(half.path(), &["--delete"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    for part in [
        "refusing to delete 20 of the 30 objects under the prefix (66.7%)",
        "more than --max-delete-percent 50",
        "Rerun with --max-delete-percent 67 (or --force)",
    ] {
        assert!(refused.stderr.contains(part), "{part}: {}", refused.stderr);
    }
    assert!(!refused.stderr.contains("--require"), "{}", refused.stderr);
    assert_eq!(w.sorted_keys(), before);

    // --require names what is missing; both refusals are listed.
    let both = w.deploy(
        half.path(),
        &["--delete", "--require", "index.html", "--require", "p"],
    );
    assert_eq!(both.code, 2);
    assert!(
        both.stderr
            .contains("--source lacks `index.html` (--require)"),
        "{}",
        both.stderr
    );
    assert!(both.stderr.contains("66.7%"), "{}", both.stderr);
    // --require applies without --delete too: a half-built site is not uploaded over a whole one.
    let upload_only = w.deploy(half.path(), &["--require", "index.html"]);
    assert_eq!(upload_only.code, 2, "{}", upload_only.stderr);
    assert_eq!(w.sorted_keys(), before);

    // --max-delete still applies on its own.
    let max = w.deploy(
        half.path(),
        &[
            "--delete",
            "--max-delete",
            "19",
            "--max-delete-percent",
            "100",
        ],
    );
    assert_eq!(max.code, 2);
    assert!(
        max.stderr
            .contains("refusing to delete 20 objects, more than --max-delete 19"),
        "{}",
        max.stderr
    );

    // A higher share lets it through.
    let through = w.ok(half.path(), &["--delete", "--max-delete-percent", "67"]);
    assert_eq!(summary(&through, "deleted"), 20, "{through}");
    assert_eq!(through["guards"][3]["decision"], "pass");
    assert_eq!(w.keys().len(), 11);
}

/// Issue 21: `--invalidate` repeats; every distribution gets its own invalidation, reported in command-line
/// order in `invalidations`, with `invalidation` kept as the first.
#[test]
fn two_distributions_are_invalidated() {
    let Some(w) = world() else { return };
    let (a, b) = (w.distribution(), w.distribution());
    let src = site();
    let dry = w.ok(
        src.path(),
        &["--invalidate", &b, "--invalidate", &a, "--dry-run"],
    );
    let planned: Vec<(&str, &str)> = dry["invalidations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["distribution_id"].as_str().unwrap(),
                i["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(planned, [(b.as_str(), "planned"), (a.as_str(), "planned")]);

    let run = w.ok(
        src.path(),
        &[
            "--invalidate",
            &b,
            "--invalidate",
            &a,
            "--invalidate",
            &b,
            "--wait",
        ],
    );
    let reports = run["invalidations"].as_array().unwrap();
    assert_eq!(reports.len(), 2, "a repeated id is invalidated once: {run}");
    assert_eq!(run["invalidation"], reports[0]);
    for (report, dist) in reports.iter().zip([&b, &a]) {
        assert_eq!(report["distribution_id"], dist.as_str());
        assert_eq!(report["status"], "Completed", "{report}");
        assert!(report["id"].is_string());
        assert_eq!(report["paths"].as_array().unwrap().len(), 7, "{report}");
        assert_eq!(w.invalidation_count(dist), 1);
    }
    // One change, both distributions.
    write(src.path(), "js/app.js", b"console.log('v2');\n");
    let second = w.ok(src.path(), &["--invalidate", &a, "--invalidate", &b]);
    for report in second["invalidations"].as_array().unwrap() {
        assert_eq!(report["paths"], serde_json::json!(["/js/app.js"]));
    }
    assert_eq!((w.invalidation_count(&a), w.invalidation_count(&b)), (2, 2));
    // Nothing changed: both skipped, none created.
    let noop = w.ok(src.path(), &["--invalidate", &a, "--invalidate", &b]);
    assert!(
        noop["invalidations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "skipped")
    );
    assert_eq!((w.invalidation_count(&a), w.invalidation_count(&b)), (2, 2));
    // Without --invalidate: null and an empty list.
    let none = w.ok(src.path(), &[]);
    assert_eq!(
        (none["invalidation"].clone(), none["invalidations"].clone()),
        (Value::Null, serde_json::json!([]))
    );
}

/// Issue 21: per-glob Content-Type and website redirects (and the other allowed headers) are set, then changed
/// without re-uploading anything: a copy in place with the REPLACE directive, same ETag.
#[test]
fn per_glob_headers_are_set_then_changed_without_reupload() {
    let Some(w) = world() else { return };
    let src = site();
    write(src.path(), "old/index.html", b"<p>moved</p>");
    write(src.path(), "LICENSE", b"MIT");
    let big: Vec<u8> = (0..9000u32).map(|i| (i % 253) as u8).collect();
    write(src.path(), "downloads/manual.bin", &big);
    let first_rules = [
        "--content-type",
        "LICENSE=text/plain; charset=utf-8",
        "--content-type",
        "*.js=application/javascript",
        "--header",
        "old/index.html=x-amz-website-redirect-location:/docs/",
        "--header",
        "downloads/**=Content-Disposition:attachment; filename=\"manual.bin\"",
        "--header",
        "*.html=Content-Language:en",
        "--header",
        "img/**=Expires:2030-01-01T00:00:00Z",
        "--header",
        "**=x-amz-meta-build:41",
        // Per header, the first matching rule wins whichever flag gave it: HTML gets max-age=60.
        "--header",
        "**=Cache-Control:max-age=60",
        "--cache-control",
        "*.html=no-cache",
        "--multipart-threshold",
        "4KiB",
        "--part-size",
        "2KiB",
    ];
    let first = w.ok(src.path(), &first_rules);
    assert_eq!(summary(&first, "uploaded"), 8, "{first}");
    let js = first["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["key"] == "js/app.js")
        .unwrap();
    assert_eq!(js["content_type"], "application/javascript");
    assert_eq!(js["metadata"]["build"], "41");

    let head = w.head("old/index.html");
    assert_eq!(head.website_redirect_location(), Some("/docs/"));
    assert_eq!(head.content_language(), Some("en"));
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(head.metadata().unwrap()["build"], "41");
    assert!(head.metadata().unwrap().contains_key("keyless-sha256"));
    assert_eq!(
        w.head("LICENSE").content_type(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        w.head("js/app.js").content_type(),
        Some("application/javascript")
    );
    assert_eq!(
        w.head("img/logo.png").expires_string(),
        Some("Tue, 01 Jan 2030 00:00:00 GMT")
    );
    let manual = w.head("downloads/manual.bin");
    assert!(
        manual.e_tag().unwrap().contains('-'),
        "multipart: {:?}",
        manual.e_tag()
    );
    assert_eq!(
        manual.content_disposition(),
        Some("attachment; filename=\"manual.bin\"")
    );
    assert_eq!(manual.metadata().unwrap()["build"], "41");

    let etags: Vec<(String, String)> = w
        .sorted_keys()
        .into_iter()
        .filter(|k| k != ".keyless-deploy.json")
        .map(|k| {
            let etag = w.head(&k).e_tag().unwrap().to_owned();
            (k, etag)
        })
        .collect();

    // Change the rules: a new redirect target, another build number, JavaScript back to its extension's
    // type, Content-Language dropped, another Expires.
    let second_rules = [
        "--content-type",
        "LICENSE=text/plain; charset=utf-8",
        "--header",
        "old/index.html=x-amz-website-redirect-location:https://example.com/docs/",
        "--header",
        "downloads/**=Content-Disposition:attachment; filename=\"manual.bin\"",
        "--header",
        "img/**=Expires:Wed, 01 Jan 2031 00:00:00 GMT",
        "--header",
        "**=x-amz-meta-build:42",
        "--header",
        "**=Cache-Control:max-age=60",
        "--multipart-threshold",
        "4KiB",
        "--part-size",
        "2KiB",
    ];
    let second = w.ok(src.path(), &second_rules);
    assert_eq!(summary(&second, "uploaded"), 0, "{second}");
    assert_eq!(summary(&second, "updated"), 8, "{second}");
    let changed = |key: &str| -> Vec<String> {
        second["updates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["key"] == key)
            .unwrap()["changed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        changed("old/index.html"),
        [
            "content-language",
            "x-amz-website-redirect-location",
            "x-amz-meta-build"
        ]
    );
    assert_eq!(changed("js/app.js"), ["content-type", "x-amz-meta-build"]);
    assert_eq!(changed("img/logo.png"), ["expires", "x-amz-meta-build"]);
    let head = w.head("old/index.html");
    assert_eq!(
        head.website_redirect_location(),
        Some("https://example.com/docs/")
    );
    assert_eq!(head.content_language(), None);
    assert_eq!(head.metadata().unwrap()["build"], "42");
    assert_eq!(head.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(
        w.head("js/app.js").content_type(),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        w.head("img/logo.png").expires_string(),
        Some("Wed, 01 Jan 2031 00:00:00 GMT")
    );
    let manual = w.head("downloads/manual.bin");
    assert_eq!(
        manual.content_disposition(),
        Some("attachment; filename=\"manual.bin\"")
    );
    assert_eq!(
        manual.metadata().unwrap()["keyless-sha256"],
        sha256_hex(&big)
    );
    for (key, etag) in &etags {
        // Same bytes, not uploaded again. (A copy of a multipart object gets a single-part ETag on S3; moto
        // keeps the original.)
        if !key.ends_with(".bin") {
            assert_eq!(w.head(key).e_tag().unwrap(), etag, "{key}");
        }
        assert!(
            w.get(key) == std::fs::read(src.path().join(key)).unwrap(),
            "{key}"
        );
    }

    // The state file recorded every header: the same rules again change nothing, with or without it.
    let again = w.ok(src.path(), &second_rules);
    assert_eq!(
        (summary(&again, "updated"), summary(&again, "unchanged")),
        (0, 8),
        "{again}"
    );
    let mut no_state = second_rules.to_vec();
    no_state.push("--no-state");
    let heads = w.ok(src.path(), &no_state);
    assert_eq!(
        (summary(&heads, "updated"), summary(&heads, "unchanged")),
        (0, 8),
        "{heads}"
    );
}

#[test]
fn header_rule_errors_exit_2_before_any_request() {
    let Some(w) = world() else { return };
    let src = site();
    for (args, expected) in [
        (
            vec!["--header", "*=X-Frame-Options:DENY"],
            "allowed: Cache-Control",
        ),
        (
            vec!["--header", "*=x-amz-meta-keyless-sha256:0"],
            "reserved",
        ),
        (
            vec![
                "--cache-control",
                "*.html=no-cache",
                "--header",
                "*.html=Cache-Control:max-age=1",
            ],
            "would never apply",
        ),
        (
            vec!["--header", "*=x-amz-website-redirect-location:elsewhere"],
            "`http://`",
        ),
        (vec!["--content-type", "*.x=text"], "type/subtype"),
        (vec!["--require", "../outside"], "inside --source"),
        (vec!["--max-delete-percent", "101"], "101"),
    ] {
        let run = w.deploy(src.path(), &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
    assert!(w.keys().is_empty());
}
