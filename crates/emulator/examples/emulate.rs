//! The emulator server alone, for bench/emulator: the same library code path as `keyless emulate` (which adds
//! only flag parsing), with the same logging (stderr, `RUST_LOG`, default `info`), without building the whole CLI
//! in release mode.
//!
//! Usage: `cargo run --release -p keyless-emulator --example emulate -- READY_FILE`
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use keyless_emulator::{Config, Emulator};

#[tokio::main]
async fn main() {
    let ready_file = std::env::args().nth(1).expect("usage: emulate READY_FILE");
    // As crates/cli/src/cmd/emulate.rs does, so the bench measures the default log volume.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let running = Emulator::start(Config::local()).await.unwrap();
    let ready = serde_json::to_string_pretty(&running.ready_info()).unwrap();
    keyless_emulator::state::write_atomically(std::path::Path::new(&ready_file), ready.as_bytes())
        .unwrap();
    println!("{ready}");
    tokio::signal::ctrl_c().await.unwrap();
    running.shutdown().await;
}
