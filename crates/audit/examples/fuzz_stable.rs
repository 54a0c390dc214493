//! A small mutation fuzzer on stable Rust for the same property as `fuzz/fuzz_targets/parse_audit.rs` (parse +
//! audit + every output format + fixes never panic), for machines without nightly/libFuzzer.
//! Usage: `cargo run --release -p keyless-audit --example fuzz_stable -- <seconds> <seed files>...`
//! Crashing inputs are written to `fuzz-crash-<n>.yml` in the current directory.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use keyless_audit::output::{code_insights, json, plain, sarif};
use keyless_audit::{AuditConfig, Auditor, Input, Options, Persona, Severity};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&str] = &[
    "- step:\n",
    "  ",
    "\n",
    ": ",
    "&a ",
    "*a",
    "<<: *a\n",
    "oidc: true\n",
    "oidc:\n  audiences: [x]\n",
    "- parallel:\n",
    "- stage:\n",
    "steps:\n",
    "script:\n",
    "- pipe: atlassian/aws-s3-deploy:1\n",
    "variables:\n",
    "deployment: prod\n",
    "$BITBUCKET_STEP_OIDC_TOKEN",
    " >> ",
    " | sh",
    "\"",
    "'",
    "{",
    "}",
    "[",
    "]",
    "# keyless: ignore[curl-pipe-shell] x",
    "\"Condition\": {",
    "\"StringLike\": {\"a:sub\": \"*\"}",
    "ForAllValues:",
    "Federated",
    "!Sub ",
    "|\n",
    ">-\n",
    "\t",
    "é",
];

fn run(text: &str) {
    let _ = AuditConfig::from_keyless_yml(text, "keyless.yml");
    let inputs: Vec<Input> = [
        "bitbucket-pipelines.yml",
        "policy.json",
        "template.yml",
        "keyless.yml",
    ]
    .iter()
    .filter_map(|p| Input::parse(p, text).ok())
    .collect();
    let report = Auditor::new(
        AuditConfig::default(),
        Options {
            persona: Persona::Auditor,
            ..Options::default()
        },
    )
    .audit(&inputs);
    let _ = plain::render(&report.findings, false);
    let _ = json::render(&report.findings);
    let _ = sarif::render(&report.findings, "fuzz");
    let _ = code_insights::to_json(&report.findings, Severity::Low);
    if let Some(first) = inputs.first() {
        let fixable: Vec<_> = report.findings.iter().filter(|f| f.fix.is_some()).collect();
        let fixed = keyless_audit::fix::apply(first.source(), &fixable);
        let _ = Input::parse("bitbucket-pipelines.yml", &fixed.text);
    }
}

fn mutate(rng: &mut Rng, seeds: &[String], base: &str) -> String {
    let mut s: Vec<char> = base.chars().collect();
    for _ in 0..=rng.below(4) {
        let at = rng.below(s.len() + 1);
        match rng.below(5) {
            0 if !s.is_empty() => {
                let end = (at + rng.below(16)).min(s.len());
                s.drain(at.min(end)..end);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                for (i, c) in t.chars().enumerate() {
                    s.insert(at + i, c);
                }
            }
            2 => {
                let other: Vec<char> = seeds[rng.below(seeds.len())].chars().collect();
                let from = rng.below(other.len());
                let to = (from + rng.below(200)).min(other.len());
                for (i, c) in other[from..to].iter().enumerate() {
                    s.insert(at + i, *c);
                }
            }
            3 if !s.is_empty() => {
                let i = at.min(s.len() - 1);
                s[i] = char::from(b" \n:-#&*'\"{}[]|>!%@`"[rng.below(19)]);
            }
            _ => {
                let end = (at + rng.below(40)).min(s.len());
                let chunk: Vec<char> = s[at.min(end)..end].to_vec();
                for (i, c) in chunk.into_iter().enumerate() {
                    s.insert(at + i, c);
                }
            }
        }
    }
    s.into_iter().collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().expect("seconds").parse().unwrap();
    let seeds: Vec<String> = args.map(|p| std::fs::read_to_string(p).unwrap()).collect();
    assert!(!seeds.is_empty(), "give seed files");
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut execs, mut crashes) = (0u64, 0u64);
    let mut pool: Vec<String> = seeds.clone();
    while Instant::now() < deadline {
        let base = pool[rng.below(pool.len())].clone();
        let input = mutate(&mut rng, &seeds, &base);
        execs += 1;
        let candidate = input.clone();
        if std::panic::catch_unwind(move || run(&candidate)).is_err() {
            crashes += 1;
            std::fs::write(format!("fuzz-crash-{crashes}.yml"), &input).unwrap();
        } else if pool.len() < 5000 && rng.below(8) == 0 {
            pool.push(input);
        }
    }
    println!("{execs} executions in {seconds}s, {crashes} panics");
}
