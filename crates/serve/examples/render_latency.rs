//! bench/render: p50/p99 latency of rendering a 100-step pipeline in process, (a) `keyless_enforce::render_request`
//! alone (with the list of changes, as `keyless render --explain` needs), (a') `render_request_file` (the file
//! alone, as keyless serve renders) and (b) what `POST /dynamic-pipelines` does per request after authentication:
//! read the request JSON, parse it, render, serialise the answer (`Answer::to_body`, as the handler does). Prints
//! one JSON line.
//!
//! Usage: render_latency KEYLESS_YML [ITERATIONS] [--write-request FILE]
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::print_stderr)]

use std::time::Instant;

use serde_json::{Value, json};

/// A push to `main` whose default pipeline has 100 steps: 90 build/test steps (every fifth in a parallel group of
/// five), 8 dev deployments' worth of work in a stage, one staging and one production deployment.
fn request() -> Value {
    let mut items = Vec::new();
    let mut n = 0;
    while n < 90 {
        if n % 25 == 0 {
            let steps: Vec<Value> = (0..5)
                .map(|i| {
                    json!({"step": {"name": format!("Test shard {}", n + i), "image": "node:22.11.0",
                        "caches": ["node"], "script": ["npm ci", format!("npm test -- --shard={}/5", i + 1)]}})
                })
                .collect();
            items.push(json!({"parallel": {"steps": steps}}));
            n += 5;
        } else {
            items.push(
                json!({"step": {"name": format!("Build {n}"), "image": "rust:1.95.0",
                "script": ["cargo build --release", format!("./ci/check.sh part-{n}"), "echo done"],
                "artifacts": [format!("target/part-{n}/**")]}}),
            );
            n += 1;
        }
    }
    let dev_steps: Vec<Value> = (0..8)
        .map(|i| {
            json!({"step": {"name": format!("Dev job {i}"), "script": [format!("./deploy.sh dev {i}")]}})
        })
        .collect();
    items.push(json!({"stage": {"name": "Dev", "deployment": "dev", "steps": dev_steps}}));
    items.push(json!({"step": {"name": "Staging", "deployment": "staging", "script": ["./deploy.sh staging"]}}));
    items.push(json!({"step": {"name": "Production", "deployment": "production", "script": [
        "./deploy.sh production",
        {"pipe": "atlassian/aws-s3-deploy:2.0.1", "variables": {"S3_BUCKET": "site", "LOCAL_PATH": "dist"}}
    ]}}));
    json!({
        "workspace": "{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}",
        "repository": "{2fc883c6-3dee-4e73-a354-ccee4bd77938}",
        "creator": "{cda97709-b1a9-4544-9a8d-750f1b3a12c4}",
        "trigger": "push",
        "target": {"type": "pipeline_ref_target", "commit": {"hash": "ca0beaeaf9c4d6ef07e9abf2de0d262014f23dd5"},
                   "ref_type": "branch", "ref_name": "main", "selector": {"type": "default"}},
        "pipeline": "{7e1f0b43-6a9e-4c7f-8f52-3c1d2b6a9e01}",
        "created_on": "2026-11-22T06:00:00.000Z",
        "pipelines_configuration": {
            "image": {"name": "atlassian/default-image:4"},
            "definitions": {"caches": {"node": "node_modules"}},
            "pipelines": {"default": items}
        }
    })
}

fn count_steps(v: &Value) -> usize {
    match v {
        Value::Object(m) => {
            usize::from(m.contains_key("step") && m["step"].is_object())
                + m.values().map(count_steps).sum::<usize>()
        }
        Value::Array(a) => a.iter().map(count_steps).sum(),
        _ => 0,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn summary(mut micros: Vec<f64>) -> Value {
    micros.sort_by(f64::total_cmp);
    let mean = micros.iter().sum::<f64>() / micros.len() as f64;
    json!({
        "p50_us": (percentile(&micros, 0.50) * 10.0).round() / 10.0,
        "p99_us": (percentile(&micros, 0.99) * 10.0).round() / 10.0,
        "max_us": (micros[micros.len() - 1] * 10.0).round() / 10.0,
        "mean_us": (mean * 10.0).round() / 10.0,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: render_latency KEYLESS_YML [ITERATIONS] [--write-request FILE]";
    let config_path = args.get(1).expect(usage);
    let iterations: usize = args
        .get(2)
        .filter(|a| !a.starts_with("--"))
        .map_or(2000, |a| a.parse().expect("ITERATIONS"));
    let config = keyless_serve::config::load(std::path::Path::new(config_path)).unwrap();
    let request = request();
    let steps = count_steps(&request["pipelines_configuration"]);
    assert_eq!(steps, 100, "the benchmark pipeline must have 100 steps");
    if let Some(i) = args.iter().position(|a| a == "--write-request") {
        std::fs::write(
            args.get(i + 1).expect(usage),
            serde_json::to_vec(&request).unwrap(),
        )
        .unwrap();
    }
    let body = serde_json::to_vec(&request).unwrap();
    let parsed = keyless_serve::provider::read_request(&body).unwrap();

    // Warm up, and check the pipeline is rendered, not refused.
    for _ in 0..50 {
        let answer = keyless_serve::provider::answer(&config, parsed.clone());
        assert!(
            matches!(answer, keyless_serve::provider::Answer::Rendered(_)),
            "the benchmark pipeline must render: {}",
            answer.to_json()
        );
    }
    let render_only = time_renders(iterations, &parsed, |r| {
        keyless_enforce::render_request(&config, r)
    });
    // What keyless serve renders: the same, without listing the changes (render_request_file).
    let render_file = time_renders(iterations, &parsed, |r| {
        keyless_enforce::render_request_file(&config, r)
    });
    let mut request_path = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let request = keyless_serve::provider::read_request(&body).unwrap();
        let answer = keyless_serve::provider::answer(&config, request);
        let out = answer.to_body();
        request_path.push(started.elapsed().as_secs_f64() * 1e6);
        assert!(!out.is_empty());
    }
    println!(
        "{}",
        json!({
            "steps": steps,
            "iterations": iterations,
            "request_bytes": body.len(),
            "render": summary(render_only),
            "render_file": summary(render_file),
            "parse_render_serialise": summary(request_path),
        })
    );
}

/// Microseconds of each of `iterations` renders of a fresh copy of `request` (neither the copy nor dropping the
/// result is timed).
fn time_renders<T, E>(
    iterations: usize,
    request: &keyless_enforce::payload::Request,
    render: impl Fn(keyless_enforce::payload::Request) -> Result<T, E>,
) -> Vec<f64> {
    (0..iterations)
        .map(|_| {
            let request = request.clone();
            let started = Instant::now();
            let rendered = render(request);
            let us = started.elapsed().as_secs_f64() * 1e6;
            assert!(rendered.is_ok());
            us
        })
        .collect()
}
