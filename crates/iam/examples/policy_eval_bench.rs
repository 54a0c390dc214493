//! Benchmark driver for `bench/policy-eval/run`: evaluations per second of a realistic Bitbucket trust policy
//! (workspace audience, 50 `sub` StringLike patterns, a SourceIp allow-list) on one core.
//!
//! `policy_eval_bench <cases.json> [seconds]` writes the policy and the requests to `cases.json` (so
//! iam-simulate evaluates the very same cases) and prints one line per mode:
//! `keyless-decide <evals per CPU second> <allows> <evals per wall second>`, likewise `keyless-evaluate`.
//!
//! The condition keys use the `accounts.google.com:` prefix instead of Bitbucket's path-bearing prefix because
//! iam-simulate drops path-bearing provider keys; the work per evaluation is the same.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use keyless_iam::{Context, Decision, Principal, Request};
use serde_json::json;

const PROVIDER: &str = "arn:aws:iam::123456789012:oidc-provider/accounts.google.com";
const PREFIX: &str = "accounts.google.com";
const AUDIENCE: &str = "ari:cloud:bitbucket::workspace/9f1c3a52-7d4b-4e8a-b0c6-2f5e8d7a1b34";

/// A deterministic UUID-looking string for index `i` (braced, like Bitbucket's).
fn uuid(kind: u32, i: u32) -> String {
    let x = (kind.wrapping_mul(2_654_435_761) ^ i.wrapping_mul(40_503)).wrapping_add(i);
    format!(
        "{{{x:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}}}",
        i & 0xffff,
        kind & 0xfff,
        i & 0xfff,
        u64::from(x) * 7919
    )
}

/// CPU time of this thread (Linux `/proc/thread-self/schedstat`, nanoseconds on CPU): evaluations per CPU
/// second is "on one core" even when other processes share the machine.
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: policy_eval_bench <cases.json> [seconds]");
        std::process::exit(2);
    };
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3.0);

    // 50 repository/environment patterns, as a team with 25 repositories and 2 deployment environments has.
    let patterns: Vec<String> = (0..50)
        .map(|i| format!("{}:{}:*", uuid(1, i / 2), uuid(2, i % 2)))
        .collect();
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AcmeDeployments",
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {format!("{PREFIX}:aud"): AUDIENCE},
                "StringLike": {format!("{PREFIX}:sub"): patterns},
                "IpAddress": {"aws:SourceIp": ["34.199.54.113/32", "34.232.25.90/32", "34.232.119.183/32", "52.202.195.162/32", "104.192.136.0/21", "185.166.140.0/22"]}
            }
        }]
    });
    // Requests: deployment steps of listed repositories and environments (allowed), build steps and unknown
    // repositories (denied on sub), and runners outside the IP ranges (denied on SourceIp).
    let mut requests = Vec::new();
    for i in 0..1000u32 {
        let repo = uuid(1, i % 30);
        let sub = match i % 4 {
            0 | 1 => format!("{repo}:{}:{}", uuid(2, i % 2), uuid(3, i)),
            2 => format!("{repo}:{}", uuid(3, i)),
            _ => format!("{repo}:{}:{}", uuid(2, 7), uuid(3, i)),
        };
        let ip = if i % 5 == 0 {
            "198.51.100.7"
        } else {
            "104.192.137.20"
        };
        requests.push(json!({"sub": sub, "aud": AUDIENCE, "ip": ip}));
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&json!({"provider": PROVIDER, "prefix": PREFIX, "policy": policy, "requests": requests})).unwrap())
        .unwrap();

    let document = keyless_iam::parse(&policy.to_string()).unwrap();
    let requests: Vec<Request> = requests
        .iter()
        .map(|r| Request {
            principal: Principal::federated(PROVIDER),
            action: "sts:AssumeRoleWithWebIdentity".into(),
            context: Context::new()
                .with(format!("{PREFIX}:aud"), r["aud"].as_str().unwrap())
                .with(format!("{PREFIX}:sub"), r["sub"].as_str().unwrap())
                .with("aws:SourceIp", r["ip"].as_str().unwrap())
                .with("aws:CurrentTime", "2026-11-22T04:00:00Z")
                .with("aws:EpochTime", "1795320000"),
        })
        .collect();
    let allows = requests
        .iter()
        .filter(|r| document.decide(r) == Decision::Allow)
        .count();
    let traced_allows = requests
        .iter()
        .filter(|r| document.evaluate(r).decision == Decision::Allow)
        .count();
    assert_eq!(allows, traced_allows, "decide and evaluate disagree");

    let budget = Duration::from_secs_f64(seconds);
    for (mode, traced) in [("keyless-decide", false), ("keyless-evaluate", true)] {
        let start = Instant::now();
        let cpu_start = cpu_time();
        let mut evaluations = 0u64;
        // Budget in CPU time, so a loaded machine slows the run down instead of skewing the figure.
        while cpu_time().map_or(start.elapsed(), |now| now - cpu_start.unwrap_or_default()) < budget
            && start.elapsed() < budget * 20
        {
            for request in &requests {
                if traced {
                    black_box(document.evaluate(black_box(request)));
                } else {
                    black_box(document.decide(black_box(request)));
                }
            }
            evaluations += requests.len() as u64;
        }
        let wall = start.elapsed().as_secs_f64();
        let cpu = cpu_time()
            .zip(cpu_start)
            .map_or(wall, |(now, then)| (now - then).as_secs_f64());
        println!(
            "{mode} {:.0} {allows} {:.0}",
            evaluations as f64 / cpu,
            evaluations as f64 / wall
        );
    }
}
