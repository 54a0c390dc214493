//! A closed-loop HTTP load generator for bench/render: N workers POST the same JSON body (with an optional bearer
//! token read from a file) over keep-alive connections for S seconds. An answer is an error unless it is HTTP 200
//! with a body starting `{"pipelines_configuration"` or `{"error"` (the provider contract). Samples the server's
//! RSS from /proc/<pid>/status. Prints one JSON line with requests, errors, req/s and latency percentiles.
//!
//! Usage: loadgen URL BODY_FILE CONCURRENCY --seconds S [--token-file F] [--pid PID]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    micros: Vec<u32>,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: loadgen URL BODY_FILE CONCURRENCY --seconds S [--token-file F] [--pid PID]";
    let url: hyper::Uri = args.get(1).expect(usage).parse().expect("URL");
    let body = Bytes::from(std::fs::read(args.get(2).expect(usage)).expect("BODY_FILE"));
    let concurrency: usize = args.get(3).expect(usage).parse().expect("CONCURRENCY");
    let (mut seconds, mut token, mut pid) = (10u64, None, None);
    let mut i = 4;
    while i + 1 < args.len() {
        match args[i].as_str() {
            "--seconds" => seconds = args[i + 1].parse().expect("seconds"),
            "--token-file" => {
                token = Some(std::fs::read_to_string(&args[i + 1]).expect("token file").trim().to_string())
            }
            "--pid" => pid = Some(args[i + 1].parse::<u32>().expect("pid")),
            other => panic!("unknown flag {other}; {usage}"),
        }
        i += 2;
    }
    let authorization = token.map(|t| format!("Bearer {t}"));
    // TCP_NODELAY, as HTTP clients such as reqwest set by default: without it, headers and body go out as two
    // writes and the body waits for the server's delayed ACK (about 40 ms) once it outgrows a segment.
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build(connector);
    let rss_before = pid.and_then(rss_kb);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, body, stop, authorization) =
            (client.clone(), url.clone(), body.clone(), stop.clone(), authorization.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while !stop.load(Ordering::Relaxed) {
                let mut request = hyper::Request::post(url.clone())
                    .header("content-type", "application/json")
                    .header("host", url.authority().map(|a| a.as_str()).unwrap_or("localhost"));
                if let Some(value) = &authorization {
                    request = request.header("authorization", value.as_str());
                }
                let request = request.body(Full::new(body.clone())).expect("request");
                let sent = Instant::now();
                let outcome = match client.request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        match response.into_body().collect().await {
                            Ok(collected) => {
                                let bytes = collected.to_bytes();
                                let contract = bytes.starts_with(b"{\"pipelines_configuration\"")
                                    || bytes.starts_with(b"{\"error\"");
                                if status == 200 && contract {
                                    Ok(())
                                } else {
                                    Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)])))
                                }
                            }
                            Err(e) => Err(format!("body: {e}")),
                        }
                    }
                    Err(e) => Err(format!("request: {e}")),
                };
                tally.micros.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                match outcome {
                    Ok(()) => tally.ok += 1,
                    Err(e) => {
                        tally.errors += 1;
                        tally.first_error.get_or_insert(e);
                    }
                }
            }
            tally
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await.expect("worker");
        all.ok += t.ok;
        all.errors += t.errors;
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
        all.micros.extend(t.micros);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rss_after = pid.and_then(rss_kb);
    all.micros.sort_unstable();
    let pct = |p: f64| {
        if all.micros.is_empty() {
            0
        } else {
            all.micros[((all.micros.len() - 1) as f64 * p).round() as usize]
        }
    };
    println!(
        "{{\"requests\":{},\"ok\":{},\"errors\":{},\"seconds\":{elapsed:.2},\"rps\":{:.0},\"latency_us\":{{\"p50\":{},\"p99\":{},\"max\":{}}},\"rss_kb\":{{\"before\":{},\"after\":{}}},\"first_error\":{:?}}}",
        all.ok + all.errors,
        all.ok,
        all.errors,
        (all.ok + all.errors) as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        pct(1.0),
        rss_before.map_or("null".to_string(), |v| v.to_string()),
        rss_after.map_or("null".to_string(), |v| v.to_string()),
        all.first_error.unwrap_or_default(),
    );
}
