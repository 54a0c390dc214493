//! Throughput of parse + audit over a directory of pipeline files (used by `bench/audit/run.sh`).
//! Usage: `audit_bench <dir> [runs] [per-file|whole|split]` (a mode limits the rounds to one mode, for profiling;
//! `split` times parsing and auditing apart). Reads every file first (I/O is not timed), warms up (the schema validator is
//! compiled once per process, on first use), then times `runs` rounds (default 5) and prints the fastest of each
//! mode as `files seconds findings`:
//! 1. per file, one thread: `Input::parse` and `Auditor::audit` on each file alone, one after another;
//! 2. as `keyless audit DIR` does: one `Auditor::audit_files` over all files, which spreads the per-file work
//!    (parse, per-file rules, locating findings) over the available cores.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use keyless_audit::{AuditConfig, Auditor, Input, Options};

/// The allocator the `keyless` binary uses, so the figures are the shipped program's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: audit_bench <dir> [runs]");
    let runs: usize = args
        .next()
        .map_or(5, |r| r.parse().expect("runs is a number"));
    let only = args.next();
    let (run_per_file, run_whole) = match only.as_deref() {
        None => (true, true),
        Some("per-file") => (true, false),
        Some("whole") => (false, true),
        Some("split") => (false, false),
        Some(other) => panic!("mode is per-file or whole, not {other}"),
    };
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    let auditor = Auditor::new(AuditConfig::default(), Options::default());
    if !run_per_file && !run_whole {
        split(&auditor, &files, runs);
        return;
    }
    // Warm-up: one file, so one-time set-up (the compiled schema) is not charged to the first round.
    let (path, text) = &files[0];
    auditor.audit(&[Input::parse(path, text).unwrap()]);

    let mut per_file = (f64::MAX, 0);
    let mut whole = (f64::MAX, 0);
    for _ in 0..runs.max(1) {
        if run_per_file {
            let start = Instant::now();
            let mut findings = 0;
            for (path, text) in &files {
                let input = Input::parse(path, text).unwrap();
                findings += auditor.audit(std::slice::from_ref(&input)).findings.len();
            }
            let secs = start.elapsed().as_secs_f64();
            if secs < per_file.0 {
                per_file = (secs, findings);
            }
        }
        if !run_whole {
            continue;
        }

        let start = Instant::now();
        let (inputs, report) = auditor.audit_files(&files, None);
        let findings = report.findings.len();
        drop(inputs);
        let secs = start.elapsed().as_secs_f64();
        if secs < whole.0 {
            whole = (secs, findings);
        }
    }
    println!("{} {:.6} {}", files.len(), per_file.0, per_file.1);
    println!("{} {:.6} {}", files.len(), whole.0, whole.1);
}

/// Per file, one thread: parsing alone, then auditing already-parsed inputs alone (fastest of `runs`).
fn split(auditor: &Auditor, files: &[(String, String)], runs: usize) {
    let mut parse = f64::MAX;
    let mut audit = f64::MAX;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let inputs: Vec<Input> = files
            .iter()
            .map(|(p, t)| Input::parse(p, t).unwrap())
            .collect();
        parse = parse.min(start.elapsed().as_secs_f64());
        let start = Instant::now();
        for input in &inputs {
            std::hint::black_box(auditor.audit(std::slice::from_ref(input)));
        }
        audit = audit.min(start.elapsed().as_secs_f64());
    }
    let us = |s: f64| s / files.len() as f64 * 1e6;
    println!(
        "parse {:.2} us/file, audit {:.2} us/file",
        us(parse),
        us(audit)
    );
}
