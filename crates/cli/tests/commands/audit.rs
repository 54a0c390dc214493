//! `keyless audit` end to end: exit codes, formats, directory walking with keyless.yml, `--fix` on disk, and
//! `--publish` against a local Code Insights stub standing in for the Pipelines proxy.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use assert_cmd::Command;

fn keyless() -> Command {
    let mut cmd = Command::cargo_bin("keyless").unwrap();
    for var in [
        "KEYLESS_CONFIG",
        "BITBUCKET_REPO_FULL_NAME",
        "BITBUCKET_COMMIT",
        "KEYLESS_AUDIT_FORMAT",
        "KEYLESS_AUDIT_FAIL_ON",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

const MEDIUM_ONLY: &str = "pipelines:\n  default:\n    - step:\n        script:\n          - curl -s https://x.example/i.sh | sh\n";

#[test]
fn exit_codes_follow_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bitbucket-pipelines.yml");
    std::fs::write(&file, MEDIUM_ONLY).unwrap();
    let out = keyless()
        .current_dir(dir.path())
        .arg("audit")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("warning[curl-pipe-shell]"), "{stdout}");
    assert!(stdout.contains("bitbucket-pipelines.yml:5:13"), "{stdout}");
    assert!(
        !stdout.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );
    keyless()
        .current_dir(dir.path())
        .args(["audit", "--fail-on", "high"])
        .assert()
        .code(0);
    keyless()
        .current_dir(dir.path())
        .args(["audit", "--min-severity", "high"])
        .assert()
        .code(0);

    std::fs::write(
        &file,
        "pipelines:\n  default:\n    - step:\n        script:\n          - make\n",
    )
    .unwrap();
    keyless()
        .current_dir(dir.path())
        .arg("audit")
        .assert()
        .code(0)
        .stdout(predicates::str::contains("no findings"));

    std::fs::write(&file, "pipelines:\n  default: [\n").unwrap();
    let out = keyless()
        .current_dir(dir.path())
        .arg("audit")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("bitbucket-pipelines.yml:"), "{stderr}");

    keyless()
        .current_dir(dir.path())
        .args(["audit", "missing.yml"])
        .assert()
        .code(2);
}

#[test]
fn json_and_sarif_formats() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bitbucket-pipelines.yml"), MEDIUM_ONLY).unwrap();
    let out = keyless()
        .current_dir(dir.path())
        .args(["audit", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"version": 1, "findings": [{
            "rule": "curl-pipe-shell", "severity": "medium", "confidence": "high",
            "message": "the output of curl is piped into sh",
            "location": {"path": "bitbucket-pipelines.yml", "line": 5, "column": 13}
        }]})
    );
    let out = keyless()
        .current_dir(dir.path())
        .args(["audit", "--format", "sarif"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(v["runs"][0]["results"][0]["ruleId"], "curl-pipe-shell");
}

#[test]
fn directory_walk_with_keyless_yml() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bitbucket-pipelines.yml"),
        "image: node\n".to_owned() + MEDIUM_ONLY,
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("infra")).unwrap();
    std::fs::write(
        dir.path().join("infra/role.json"),
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/api.bitbucket.org/2.0/workspaces/w/pipelines-config/identity/oidc"},
            "Action": "sts:AssumeRoleWithWebIdentity"}]}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.json"), r#"{"not": "a policy"}"#).unwrap();
    std::fs::write(
        dir.path().join("keyless.yml"),
        "audit:\n  rules:\n    unpinned-image:\n      disable: true\n      reason: internal registry\n",
    )
    .unwrap();
    let out = keyless()
        .current_dir(dir.path())
        .args(["audit", ".", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["location"]["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "curl-pipe-shell".to_owned(),
                "bitbucket-pipelines.yml".to_owned()
            ),
            (
                "oidc-trust-without-condition".to_owned(),
                "infra/role.json".to_owned()
            ),
        ]
    );
    // A config without a reason is an `invalid-input` finding naming the fix; the audit runs with the defaults
    // (so unpinned-image is back) and nothing else is lost.
    std::fs::write(
        dir.path().join("keyless.yml"),
        "audit:\n  rules:\n    unpinned-image:\n      disable: true\n",
    )
    .unwrap();
    let out = keyless()
        .current_dir(dir.path())
        .args(["audit", ".", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<(&str, &str)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap(),
                f["location"]["path"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(got.contains(&("invalid-input", "keyless.yml")), "{got:?}");
    assert!(
        got.contains(&("unpinned-image", "bitbucket-pipelines.yml")),
        "{got:?}"
    );
    assert!(
        got.contains(&("oidc-trust-without-condition", "infra/role.json")),
        "{got:?}"
    );
    assert!(v.to_string().contains("need a `reason:`"), "{v}");
    // --config naming a file that does not exist is bad input.
    keyless()
        .current_dir(dir.path())
        .args(["audit", ".", "--config", "nope.yml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("nope.yml: no such file"));
}

#[test]
fn fix_edits_the_file_and_keeps_comments() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bitbucket-pipelines.yml");
    let before = "\
# header comment
pipelines:
  branches:
    main:
      - step:
          name: Deploy  # keep me
          deployment: staging
          script:
            - pipe: atlassian/aws-s3-deploy:1.7.0
              variables:
                AWS_OIDC_ROLE_ARN: arn:aws:iam::123456789012:role/deploy
                S3_BUCKET: site
                LOCAL_PATH: dist
";
    std::fs::write(&file, before).unwrap();
    let out = keyless()
        .current_dir(dir.path())
        .args(["audit", "--fix", "--format", "json"])
        .output()
        .unwrap();
    let after = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        after,
        before
            .replace("          name: Deploy  # keep me\n", "          oidc: true\n          name: Deploy  # keep me\n")
            .replace("              variables:\n", "              variables:\n                AWS_DEFAULT_REGION: $AWS_DEFAULT_REGION\n")
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("fixed 2 finding(s)"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(
        !rules.contains(&"oidc-missing") && !rules.contains(&"region-missing"),
        "{rules:?}"
    );
}

/// `(method, request target, body)` of each request the stub saw.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// A minimal HTTP/1.1 proxy stand-in: records `(method, request target, body)` and answers 200/204.
fn stub() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let log = log.clone();
            std::thread::spawn(move || {
                stream
                    .set_read_timeout(Some(std::time::Duration::from_secs(10)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let (method, target) = (
                        parts.next().unwrap_or("").to_owned(),
                        parts.next().unwrap_or("").to_owned(),
                    );
                    let mut length = 0;
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let status = if method == "DELETE" {
                        "204 No Content"
                    } else {
                        "200 OK"
                    };
                    log.lock()
                        .unwrap()
                        .push((method, target, String::from_utf8(body).unwrap()));
                    write!(writer, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").unwrap();
                    writer.flush().unwrap();
                }
            });
        }
    });
    (format!("http://{addr}"), seen)
}

#[test]
fn publish_sends_report_then_batched_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("pipelines:\n  default:\n    - step:\n        script:\n");
    for i in 0..250 {
        text.push_str(&format!("          - curl -s https://x{i}.example | sh\n"));
    }
    std::fs::write(dir.path().join("bitbucket-pipelines.yml"), text).unwrap();
    let (proxy, seen) = stub();
    keyless()
        .current_dir(dir.path())
        .args(["audit", "--publish", "--format", "json"])
        .env("KEYLESS_CODE_INSIGHTS_PROXY", &proxy)
        .env("BITBUCKET_REPO_FULL_NAME", "acme/web")
        .env("BITBUCKET_COMMIT", "0123abc")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("published 250 annotation(s)"));
    let seen = seen.lock().unwrap();
    let base =
        "http://api.bitbucket.org/2.0/repositories/acme/web/commit/0123abc/reports/keyless-audit";
    let calls: Vec<(&str, &str)> = seen
        .iter()
        .map(|(m, t, _)| (m.as_str(), t.as_str()))
        .collect();
    let annotations = format!("{base}/annotations");
    assert_eq!(
        calls,
        vec![
            ("DELETE", base),
            ("PUT", base),
            ("POST", annotations.as_str()),
            ("POST", annotations.as_str()),
            ("POST", annotations.as_str())
        ]
    );
    let report: serde_json::Value = serde_json::from_str(&seen[1].2).unwrap();
    assert_eq!(report["report_type"], "SECURITY");
    assert_eq!(report["result"], "FAILED");
    let sizes: Vec<usize> = seen[2..]
        .iter()
        .map(|(_, _, b)| {
            serde_json::from_str::<serde_json::Value>(b)
                .unwrap()
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    let first: serde_json::Value = serde_json::from_str(&seen[2].2).unwrap();
    assert_eq!(first[0]["path"], "bitbucket-pipelines.yml");
    assert_eq!(first[0]["title"], "curl-pipe-shell");
}

#[test]
fn publish_without_commit_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bitbucket-pipelines.yml"), MEDIUM_ONLY).unwrap();
    keyless()
        .current_dir(dir.path())
        .args(["audit", "--publish", "--repo", "a/b"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("BITBUCKET_COMMIT"));
}

#[test]
fn repo_names_the_repository_for_keyless_yml() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bitbucket-pipelines.yml"),
        "pipelines:\n  default:\n    - step:\n        deployment: staging\n        oidc: true\n        script:\n          - pipe: atlassian/aws-s3-deploy:1.7.0\n            variables:\n              AWS_OIDC_ROLE_ARN: arn:aws:iam::111111111111:role/r\n              AWS_DEFAULT_REGION: eu-west-1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("keyless.yml"),
        "version: 1\nenvironments:\n  staging: {}\nrepositories:\n  web:\n    deployments:\n      staging: \"{0f9d8c7b-6a5e-4d3c-8b2a-1c0e9f8d7a61}\"\n",
    )
    .unwrap();
    let run = |repo: &str| -> Vec<(String, String)> {
        let out = keyless()
            .current_dir(dir.path())
            .args(["audit", ".", "--format", "json", "--repo", repo])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "repository-without-role")
            .map(|f| {
                (
                    f["confidence"].as_str().unwrap().to_owned(),
                    f["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let got = run("acme/api");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "high");
    assert!(got[0].1.contains("repository `api`"), "{}", got[0].1);
    assert!(run("acme/web").is_empty());
}

/// Issue 18: one unreadable file no longer kills a directory audit. A pipeline that is not YAML, a policy that is
/// not JSON and a file that is not UTF-8 are findings at their location; the good files are audited; every
/// format is complete; the exit code follows severity (2 only when nothing at all could be read).
#[test]
fn directory_audit_never_loses_a_report() {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in [
        ("web/bitbucket-pipelines.yml", MEDIUM_ONLY.as_bytes()),
        (
            "api/bitbucket-pipelines.yml",
            b"pipelines:\n  default: [\n".as_slice(),
        ),
        (
            "infra/role.json",
            b"{\"Version\": \"2012-10-17\", \"Statement\": [\n".as_slice(),
        ),
        (
            "ops/bitbucket-pipelines.yml",
            b"pipelines:\n  default:\n    - step:\n        script:\n          - echo \xff\n"
                .as_slice(),
        ),
    ] {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let out = keyless()
        .current_dir(dir.path())
        .args(["audit", ".", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{} {}",
                f["location"]["path"].as_str().unwrap(),
                f["location"]["line"],
                f["location"]["column"],
                f["rule"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "api/bitbucket-pipelines.yml:3:1 invalid-pipeline",
            "infra/role.json:2:1 invalid-input",
            "ops/bitbucket-pipelines.yml:1:1 invalid-pipeline",
            "web/bitbucket-pipelines.yml:5:13 curl-pipe-shell",
        ]
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("ops/bitbucket-pipelines.yml:1:1: not UTF-8 text"),
        "{stderr}"
    );
    // SARIF: the same results, and each unreadable file as a tool notification.
    let out = keyless()
        .current_dir(dir.path())
        .args(["audit", ".", "--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 4);
    let notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 3);
    // Plain output names every file too; with only the medium finding counted, --fail-on high still fails on the
    // unreadable files (high).
    keyless()
        .current_dir(dir.path())
        .args(["audit", ".", "--fail-on", "high"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("error[invalid-input]"))
        .stdout(predicates::str::contains("warning[curl-pipe-shell]"));
    // Nothing readable at all: the report is still printed, and the exit code is 2.
    let out = keyless()
        .current_dir(dir.path())
        .args(["audit", "api", "infra", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 2);
    // A path that does not exist is bad input, as before.
    keyless()
        .current_dir(dir.path())
        .args(["audit", "web", "missing"])
        .assert()
        .code(2);
}
