//! A closed-loop HTTP load generator for bench/render: N workers POST the same JSON body (with an optional bearer
//! token read from a file) over keep-alive connections for S seconds, one HTTP/1.1 connection per worker (as wrk
//! does: hyper's connection API, no client pool to check connections in and out per request, so the generator
//! takes less of the CPU it shares with the server; a connection that fails is counted and opened again). An answer is an error unless it is HTTP 200
//! with a body starting `{"pipelines_configuration"` or `{"error"` (the provider contract). Samples the server's
//! RSS from /proc/<pid>/status. Prints one JSON line with requests, errors, req/s and latency percentiles.
//!
//! Usage: loadgen URL BODY_FILE CONCURRENCY --seconds S [--token-file F] [--pid PID]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper_util::rt::TokioIo;

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (`self` for this process).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on Linux for every architecture this runs on.
    Some(ticks / 100.0)
}

#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    micros: Vec<u32>,
}

/// A keep-alive HTTP/1.1 connection to `address` with TCP_NODELAY, as HTTP clients such as reqwest set by default:
/// without it, headers and body go out as two writes and the body waits for the server's delayed ACK (about 40 ms)
/// once it outgrows a segment.
async fn connect(address: &str) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("nodelay: {e}"))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One POST; an error unless HTTP 200 with a body in the provider contract's shape.
async fn post(
    sender: &mut SendRequest<Full<Bytes>>,
    path: &hyper::Uri,
    host: &HeaderValue,
    authorization: Option<&HeaderValue>,
    body: &Bytes,
) -> Result<(), String> {
    sender
        .ready()
        .await
        .map_err(|e| format!("connection: {e}"))?;
    let mut request = hyper::Request::post(path.clone())
        .header(HOST, host.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value.clone());
    }
    let request = request.body(Full::new(body.clone())).expect("request");
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    let contract =
        bytes.starts_with(b"{\"pipelines_configuration\"") || bytes.starts_with(b"{\"error\"");
    if status == 200 && contract {
        Ok(())
    } else {
        Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        ))
    }
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
                token = Some(
                    std::fs::read_to_string(&args[i + 1])
                        .expect("token file")
                        .trim()
                        .to_string(),
                )
            }
            "--pid" => pid = Some(args[i + 1].parse::<u32>().expect("pid")),
            other => panic!("unknown flag {other}; {usage}"),
        }
        i += 2;
    }
    let authorization =
        token.map(|t| HeaderValue::from_str(&format!("Bearer {t}")).expect("token"));
    let authority = url.authority().expect("URL with host:port").clone();
    let host = HeaderValue::from_str(authority.as_str()).expect("host");
    let path: hyper::Uri = url
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .expect("path");
    let rss_before = pid.and_then(rss_kb);
    let server_cpu_before = pid.and_then(|p| cpu_seconds(&p.to_string()));
    let own_cpu_before = cpu_seconds("self");
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (address, path, body, stop, authorization, host) = (
            authority.as_str().to_string(),
            path.clone(),
            body.clone(),
            stop.clone(),
            authorization.clone(),
            host.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut sender: Option<SendRequest<Full<Bytes>>> = None;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let outcome = match &mut sender {
                    Some(s) => post(s, &path, &host, authorization.as_ref(), &body).await,
                    None => match connect(&address).await {
                        Ok(s) => {
                            sender = Some(s);
                            continue;
                        }
                        Err(e) => Err(e),
                    },
                };
                tally
                    .micros
                    .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                match outcome {
                    Ok(()) => tally.ok += 1,
                    Err(e) => {
                        tally.errors += 1;
                        tally.first_error.get_or_insert(e);
                        // Open a new connection for the next request (the server may have closed this one).
                        sender = None;
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
    let server_cpu = pid
        .and_then(|p| cpu_seconds(&p.to_string()))
        .zip(server_cpu_before)
        .map(|(after, before)| after - before);
    let own_cpu = cpu_seconds("self")
        .zip(own_cpu_before)
        .map(|(after, before)| after - before);
    let requests = all.ok + all.errors;
    // CPU time per request in microseconds: the server's (with --pid) and this generator's (the two share the cores).
    let per_request = |cpu: Option<f64>| match cpu {
        Some(seconds) if requests > 0 => format!("{:.0}", seconds * 1e6 / requests as f64),
        _ => "null".to_string(),
    };
    all.micros.sort_unstable();
    let pct = |p: f64| {
        if all.micros.is_empty() {
            0
        } else {
            all.micros[((all.micros.len() - 1) as f64 * p).round() as usize]
        }
    };
    println!(
        "{{\"requests\":{},\"ok\":{},\"errors\":{},\"seconds\":{elapsed:.2},\"rps\":{:.0},\"latency_us\":{{\"p50\":{},\"p99\":{},\"max\":{}}},\"rss_kb\":{{\"before\":{},\"after\":{}}},\"cpu_us_per_request\":{{\"server\":{},\"loadgen\":{}}},\"first_error\":{:?}}}",
        all.ok + all.errors,
        all.ok,
        all.errors,
        (all.ok + all.errors) as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        pct(1.0),
        rss_before.map_or("null".to_string(), |v| v.to_string()),
        rss_after.map_or("null".to_string(), |v| v.to_string()),
        per_request(server_cpu),
        per_request(own_cpu),
        all.first_error.unwrap_or_default(),
    );
}
