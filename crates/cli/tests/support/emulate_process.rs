//! Waiting for a spawned `keyless emulate`: shared by the CLI tests that run the real binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// Waits (30 s at most) for the ready file `keyless emulate --ready-file` writes, and returns its document.
pub fn wait_ready(ready_file: &Path) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready_file.exists() {
        assert!(
            Instant::now() < deadline,
            "keyless emulate did not write its ready file within 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(ready_file).expect("read the ready file");
    serde_json::from_str(&text).expect("the ready file is JSON")
}

/// Keeps draining the child's stdout in the background, so it never blocks on a full pipe.
pub fn drain_stdout(child: &mut Child) {
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || for _ in BufReader::new(stdout).lines() {});
    }
}

/// An IAM client for a running emulator, signed with one of its accounts' admin keys.
pub fn iam_client(
    endpoint: &str,
    access_key_id: &str,
    secret: &str,
    region: &str,
) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new(region.to_owned()))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                access_key_id,
                secret,
                None,
                None,
                "emulator-admin",
            ))
            .build(),
    )
}

/// An unsigned STS client for a running emulator (AssumeRoleWithWebIdentity needs no credentials).
pub fn sts_client(endpoint: &str, region: &str) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new(region.to_owned()))
            .endpoint_url(endpoint)
            .build(),
    )
}

/// Registers `issuer` as an OIDC provider trusting `audience`, and creates `role` with the trust policy `trust`.
pub async fn seed_web_identity_role(
    iam: &aws_sdk_iam::Client,
    issuer: &str,
    audience: &str,
    role: &str,
    trust: &serde_json::Value,
) {
    iam.create_open_id_connect_provider()
        .url(issuer)
        .client_id_list(audience)
        .send()
        .await
        .expect("create the OIDC provider");
    iam.create_role()
        .role_name(role)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("create the role");
}
