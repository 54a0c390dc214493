//! A tiny closed-loop HTTP load generator for bench/emulator: N workers POST the same form body over
//! keep-alive connections for a duration or a request count, counting non-200 answers as errors, and sample
//! the server's RSS from /proc/<pid>/status. Prints one JSON line.
//!
//! Usage: loadgen URL BODY_FILE CONCURRENCY (--seconds S | --requests N) [--pid PID] [--sample-every N]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: loadgen URL BODY_FILE CONCURRENCY (--seconds S | --requests N) [--pid PID] [--sample-every N]";
    let url: hyper::Uri = args.get(1).expect(usage).parse().expect("URL");
    let body = Bytes::from(std::fs::read(args.get(2).expect(usage)).expect("BODY_FILE"));
    let concurrency: usize = args.get(3).expect(usage).parse().expect("CONCURRENCY");
    let (mut seconds, mut requests, mut pid, mut sample_every) = (None, None, None, 100_000u64);
    let mut i = 4;
    while i + 1 < args.len() {
        match args[i].as_str() {
            "--seconds" => seconds = Some(args[i + 1].parse::<u64>().expect("seconds")),
            "--requests" => requests = Some(args[i + 1].parse::<u64>().expect("requests")),
            "--pid" => pid = Some(args[i + 1].parse::<u32>().expect("pid")),
            "--sample-every" => sample_every = args[i + 1].parse().expect("sample-every"),
            other => panic!("unknown flag {other}; {usage}"),
        }
        i += 2;
    }
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build_http();
    let sent = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    if let Some(pid) = pid {
        samples.lock().await.push((0u64, rss_kb(pid).unwrap_or(0)));
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        let (sent, ok, errors, stop, samples) = (
            sent.clone(),
            ok.clone(),
            errors.clone(),
            stop.clone(),
            samples.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let n = sent.fetch_add(1, Ordering::Relaxed) + 1;
                if requests.is_some_and(|max| n > max) {
                    break;
                }
                let request = hyper::Request::post(url.clone())
                    .header(
                        "content-type",
                        "application/x-www-form-urlencoded; charset=utf-8",
                    )
                    .header(
                        "host",
                        url.authority().map(|a| a.as_str()).unwrap_or("localhost"),
                    )
                    .body(Full::new(body.clone()))
                    .expect("request");
                match client.request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        let drained = response.into_body().collect().await.is_ok();
                        if status == 200 && drained {
                            ok.fetch_add(1, Ordering::Relaxed);
                        } else {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if let Some(pid) = pid {
                    if n % sample_every == 0 {
                        samples.lock().await.push((n, rss_kb(pid).unwrap_or(0)));
                    }
                }
            }
        }));
    }
    if let Some(seconds) = seconds {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (ok, errors) = (ok.load(Ordering::Relaxed), errors.load(Ordering::Relaxed));
    let mut samples = samples.lock().await.clone();
    if let Some(pid) = pid {
        samples.push((ok + errors, rss_kb(pid).unwrap_or(0)));
    }
    let samples: Vec<String> = samples
        .iter()
        .map(|(n, kb)| format!("[{n},{kb}]"))
        .collect();
    println!(
        "{{\"requests\":{},\"ok\":{ok},\"errors\":{errors},\"seconds\":{elapsed:.2},\"rps\":{:.0},\"rss_kb\":[{}]}}",
        ok + errors,
        (ok + errors) as f64 / elapsed,
        samples.join(",")
    );
}
