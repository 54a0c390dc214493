//! The emulator server alone, for bench/emulator: the same library code path as `keyless emulate` (which adds
//! only flag parsing and tracing), without building the whole CLI in release mode.
//!
//! Usage: `cargo run --release -p keyless-emulator --example emulate -- READY_FILE`
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use keyless_emulator::{Config, Emulator};

#[tokio::main]
async fn main() {
    let ready_file = std::env::args().nth(1).expect("usage: emulate READY_FILE");
    let running = Emulator::start(Config::local()).await.unwrap();
    let ready = serde_json::to_string_pretty(&running.ready_info()).unwrap();
    keyless_emulator::state::write_atomically(std::path::Path::new(&ready_file), ready.as_bytes())
        .unwrap();
    println!("{ready}");
    tokio::signal::ctrl_c().await.unwrap();
    running.shutdown().await;
}
