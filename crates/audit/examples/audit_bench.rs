//! Throughput of parse + audit over a directory of pipeline files (used by `bench/audit/run.sh`).
//! Reads every file first (I/O is not timed), then prints two lines, `files seconds findings` each:
//! 1. per file, one thread: `Input::parse` and `Auditor::audit` on each file alone, one after another;
//! 2. as `keyless audit DIR` does: `parse_inputs` and one `Auditor::audit` over all files, which spread the
//!    per-file work over the available cores.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use keyless_audit::{AuditConfig, Auditor, Input, Options, parse_inputs};

fn main() {
    let dir = std::env::args().nth(1).expect("usage: audit_bench <dir>");
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

    let start = Instant::now();
    let mut findings = 0;
    for (path, text) in &files {
        let input = Input::parse(path, text).unwrap();
        findings += auditor.audit(std::slice::from_ref(&input)).findings.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{} {secs:.6} {findings}", files.len());

    let start = Instant::now();
    let inputs = parse_inputs(&files).unwrap();
    let findings = auditor.audit(&inputs).findings.len();
    let secs = start.elapsed().as_secs_f64();
    println!("{} {secs:.6} {findings}", files.len());
}
