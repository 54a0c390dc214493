//! `keyless emulate`: run the local Bitbucket OIDC issuer + AWS STS/IAM emulator until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use keyless_emulator::{Config, Emulator};

/// Flags of `keyless emulate`.
#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// Address to listen on (use port 0 for any free port).
    #[arg(
        long,
        default_value = "127.0.0.1:4566",
        env = "KEYLESS_EMULATOR_LISTEN"
    )]
    pub listen: SocketAddr,
    /// An AWS account to emulate (12 digits); repeat for several. Default: 123456789012.
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,
    /// Persist IAM state and credentials in FILE (written atomically, mode 0600). Default: in memory.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Once accepting connections, write the start-up JSON (endpoint and admin credentials) to FILE (0600).
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
    /// Take aws:SourceIp from X-Forwarded-For instead of the peer address (to play runners inside and
    /// outside a CIDR from one machine).
    #[arg(long)]
    pub trust_forwarded_for: bool,
    /// Verify tokens from issuers the emulator holds no keys for via discovery + JWKS over HTTPS.
    #[arg(long)]
    pub remote_issuers: bool,
    /// The most workspaces the issuer creates signing keys for (each costs a key generation); past it, minting
    /// for a new workspace answers 429. Discovery and keys.json never create a workspace.
    #[arg(long, value_name = "N", default_value_t = keyless_emulator::DEFAULT_MAX_WORKSPACES)]
    pub max_workspaces: usize,
    #[command(flatten)]
    pub connection: super::connection::ConnectionArgs,
}

pub fn run(args: EmulateArgs) -> anyhow::Result<ExitCode> {
    if args.max_workspaces == 0 {
        anyhow::bail!("--max-workspaces must be at least 1");
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: EmulateArgs) -> anyhow::Result<ExitCode> {
    let config = Config {
        listen: args.listen,
        accounts: args.accounts,
        state_file: args.state,
        trust_forwarded_for: args.trust_forwarded_for,
        remote_issuers: args.remote_issuers,
        limits: args.connection.limits()?,
        max_workspaces: args.max_workspaces,
        ..Config::default()
    };
    let running = Emulator::start(config)
        .await
        .context("cannot start the emulator")?;
    // Before the ready file: a SIGTERM sent as soon as it appears must reach the handler.
    let shutdown = keyless_listen::shutdown_signal();
    let ready = serde_json::to_string_pretty(&running.ready_info())
        .context("cannot render the start-up JSON")?;
    if let Some(path) = &args.ready_file {
        keyless_emulator::state::write_atomically(path, format!("{ready}\n").as_bytes())
            .with_context(|| format!("cannot write --ready-file {}", path.display()))?;
    }
    println!("{ready}");
    shutdown.await;
    tracing::info!("shutting down");
    running.shutdown().await;
    if let Some(path) = &args.ready_file {
        // A stale ready file would tell scripts that a stopped emulator is up.
        let _ = std::fs::remove_file(path);
    }
    Ok(ExitCode::SUCCESS)
}
