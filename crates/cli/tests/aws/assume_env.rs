//! `--env NAME` takes role and region from keyless.yml, and refusals are explained by evaluating the role's
//! intended trust policy offline (doctor's `trust-policy` check and the AccessDenied note).
#![allow(clippy::unwrap_used)]

use crate::support::assume as support;

use support::*;

fn keyless_yml(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("keyless.yml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nworkspace:\n  slug: {WORKSPACE}\n  uuid: \"{WORKSPACE_UUID}\"\nenvironments:\n  production:\n    account: \"{ACCOUNT_A}\"\n    region: eu-central-1\n    branches: [main]\n    role:\n      name: prod\n      managed_policies: [ReadOnlyAccess]\nrepositories:\n  website:\n    uuid: \"{REPO_UUID}\"\n    deployments:\n      production: \"{ENV_UUID}\"\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn env_takes_role_and_region_from_keyless_yml() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let config = keyless_yml(home.path());
    let output = fixture
        .keyless(&fixture.token(true, None), home.path())
        .env("KEYLESS_CONFIG", &config)
        .env_remove("AWS_REGION")
        .env_remove("AWS_ROLE_ARN")
        .args(["env", "--env", "production", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let vars: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(vars["AWS_REGION"], "eu-central-1");

    // The deployment environment variable Bitbucket sets picks the environment by itself.
    let output = fixture
        .keyless(&fixture.token(true, None), home.path())
        .env("KEYLESS_CONFIG", &config)
        .env("BITBUCKET_DEPLOYMENT_ENVIRONMENT", "production")
        .env_remove("AWS_REGION")
        .env_remove("AWS_ROLE_ARN")
        .args(["env", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = fixture
        .keyless(&fixture.token(true, None), home.path())
        .env("KEYLESS_CONFIG", &config)
        .args(["env", "--env", "staging"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("no environment `staging` (it has: production)")
    );
}

#[test]
fn refusals_name_the_failing_trust_condition_from_keyless_yml() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let config = keyless_yml(home.path());
    // A plain (non-deployment) step cannot assume the production role.
    let token = fixture.token(false, None);
    let output = fixture
        .keyless(&token, home.path())
        .env("KEYLESS_CONFIG", &config)
        .args(["env", "--env", "production"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains(
            "note: keyless.yml's trust policy for arn:aws:iam::111111111111:role/prod: DENY"
        ),
        "{err}"
    );
    assert!(err.contains(":sub"), "{err}");

    let output = fixture
        .keyless(&token, home.path())
        .env("KEYLESS_CONFIG", &config)
        .args([
            "doctor",
            "--offline",
            "--env",
            "production",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "trust-policy")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "fail", "{check}");
    assert!(check["fix"].is_string());

    let output = fixture
        .keyless(&fixture.token(true, None), home.path())
        .env("KEYLESS_CONFIG", &config)
        .args([
            "doctor",
            "--offline",
            "--env",
            "production",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "trust-policy")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "pass", "{check}");
}

/// A loopback stand-in for checkip.amazonaws.com: answers every request with `body`, until the test ends.
fn checkip_server(body: &'static str) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0_u8; 4096];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn doctor_checks(output: &std::process::Output) -> Vec<serde_json::Value> {
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    report["checks"].as_array().unwrap().clone()
}

fn check<'a>(checks: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    checks
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check `{id}` in {checks:?}"))
}

/// `doctor --check-ip=URL` prints the public address AWS will see and says why a runner outside `source_ips` is
/// refused; the offline trust decision uses that address as `aws:SourceIp` (issue 20).
#[test]
fn doctor_check_ip_names_the_address_aws_sees() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let config = keyless_yml(home.path());
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "    branches: [main]\n",
        "    branches: [main]\n    source_ips: [203.0.113.0/24]\n",
    );
    std::fs::write(&config, text).unwrap();
    let token = fixture.token(true, None);
    let doctor = |url: &str| {
        fixture
            .keyless(&token, home.path())
            .env("KEYLESS_CONFIG", &config)
            .args([
                "doctor",
                "--offline",
                "--env",
                "production",
                "--format",
                "json",
            ])
            .arg(format!("--check-ip={url}"))
            .output()
            .unwrap()
    };

    // Outside: the NAT gateway's public address is not in source_ips.
    let output = doctor(&checkip_server("198.51.100.7\n"));
    assert_eq!(output.status.code(), Some(1));
    let checks = doctor_checks(&output);
    let ip = check(&checks, "public-ip");
    assert_eq!(ip["status"], "pass", "{ip}");
    assert!(
        ip["detail"].as_str().unwrap().starts_with("198.51.100.7 "),
        "{ip}"
    );
    let network = check(&checks, "network");
    assert_eq!(network["status"], "fail", "{network}");
    let detail = network["detail"].as_str().unwrap();
    assert!(
        detail.contains("AWS sees this machine's public address 198.51.100.7")
            && detail.contains("NAT gateway")
            && detail.contains("203.0.113.0/24"),
        "{network}"
    );
    assert!(
        network["fix"].as_str().unwrap().contains("198.51.100.7/32"),
        "{network}"
    );
    let trust = check(&checks, "trust-policy");
    assert_eq!(trust["status"], "fail", "{trust}");
    assert!(
        trust["detail"].as_str().unwrap().contains("aws:SourceIp"),
        "{trust}"
    );

    // Inside: both pass.
    let output = doctor(&checkip_server("203.0.113.9"));
    let checks = doctor_checks(&output);
    assert_eq!(check(&checks, "network")["status"], "pass");
    assert_eq!(check(&checks, "trust-policy")["status"], "pass");

    // Not an address: a failed check with the fix, not a crash.
    let output = doctor(&checkip_server("<html>hello</html>"));
    let checks = doctor_checks(&output);
    let ip = check(&checks, "public-ip");
    assert_eq!(ip["status"], "fail", "{ip}");
    assert!(
        ip["detail"].as_str().unwrap().contains("not an IP address"),
        "{ip}"
    );
    assert!(checks.iter().all(|c| c["id"] != "network"));
}

/// An environment that trusts the VPC path: `doctor` says the step needs the regional endpoint (and fails on the
/// global one), and `env` warns before calling STS (issue 20).
#[test]
fn the_vpc_path_needs_the_regional_sts_endpoint() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let config = keyless_yml(home.path());
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "    branches: [main]\n",
        "    branches: [main]\n    vpc_endpoints: [vpce-0a1b2c3d4e5f60718]\n",
    );
    std::fs::write(&config, text).unwrap();
    let token = fixture.token(true, None);
    let output = fixture
        .keyless(&token, home.path())
        .env("KEYLESS_CONFIG", &config)
        .env("AWS_ENDPOINT_URL_STS", "https://sts.amazonaws.com")
        .args([
            "doctor",
            "--offline",
            "--env",
            "production",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let checks = doctor_checks(&output);
    let endpoint = check(&checks, "sts-endpoint");
    assert_eq!(endpoint["status"], "fail", "{endpoint}");
    // The step's region (AWS_REGION of the fixture) names the regional endpoint.
    assert!(
        endpoint["fix"]
            .as_str()
            .unwrap()
            .contains("regional endpoint https://sts.eu-west-1.amazonaws.com"),
        "{endpoint}"
    );

    let output = fixture
        .keyless(&token, home.path())
        .env("KEYLESS_CONFIG", &config)
        .env_remove("AWS_ENDPOINT_URL_STS")
        .env("AWS_ENDPOINT_URL_STS", "https://sts.amazonaws.com")
        .args(["env", "--env", "production", "--timeout", "1s"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("warning: `production` trusts calls through its STS VPC endpoint only")
            && err.contains("global endpoint https://sts.amazonaws.com"),
        "{err}"
    );
}
