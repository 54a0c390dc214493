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
