//! The one place commands get an async runtime. The libraries are async (the AWS SDK, reqwest, axum); each command
//! is synchronous and blocks on its futures here.

use anyhow::Context as _;
use tokio::runtime::{Builder, Runtime};

/// For a handful of sequential calls (a step's STS exchange, GetCallerIdentity, one HTTPS fetch): one thread and
/// no worker pool to start.
pub fn sequential() -> anyhow::Result<Runtime> {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// For concurrent work (servers, accounts read in turn while the SDK's connections run, S3 transfers): a worker pool
/// of `workers` threads, or one per core.
pub fn concurrent(workers: Option<usize>) -> anyhow::Result<Runtime> {
    let mut builder = Builder::new_multi_thread();
    if let Some(workers) = workers {
        builder.worker_threads(workers);
    }
    builder
        .enable_all()
        .build()
        .context("starting the async runtime")
}
