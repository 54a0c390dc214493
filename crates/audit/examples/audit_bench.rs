//! Throughput of parse + audit over a directory of pipeline files (used by `bench/audit/run.sh`).
//! Reads every file first, then times parsing and auditing each one, like `keyless audit` does per input.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use keyless_audit::{AuditConfig, Auditor, Input, Options};

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
}
