//! `keyless emulate`: run the local Bitbucket OIDC issuer + AWS STS/IAM emulator until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use keyless_emulator::{Config, Emulator};
use keyless_iam::network::{self, Network, VpcPath};

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
    /// Take aws:SourceIp from X-Forwarded-For instead of the peer address, and let loopback peers send
    /// X-Keyless-Source-Vpce, X-Keyless-Source-Vpc, X-Keyless-Source-Vpc-Arn and X-Keyless-Vpc-Source-Ip to
    /// play a call through an STS VPC endpoint (the VPC keys, no aws:SourceIp). Plays runners inside and outside
    /// a network from one machine.
    #[arg(long)]
    pub trust_forwarded_for: bool,
    /// The aws:SourceIp of requests that carry no forwarding headers, instead of the peer address: the public
    /// address a runner's call comes from over the internet (for clients that cannot add headers, such as the AWS
    /// CLI).
    #[arg(long, value_name = "IP", conflicts_with_all = ["source_vpce", "source_vpc", "source_vpc_arn", "vpc_source_ip"])]
    pub source_ip: Option<std::net::IpAddr>,
    /// Play every request without forwarding headers as a call through this STS VPC endpoint (aws:SourceVpce;
    /// no aws:SourceIp).
    #[arg(long, value_name = "VPCE_ID")]
    pub source_vpce: Option<String>,
    /// ... through this VPC (aws:SourceVpc).
    #[arg(long, value_name = "VPC_ID")]
    pub source_vpc: Option<String>,
    /// ... through this VPC, by ARN (aws:SourceVpcArn).
    #[arg(long, value_name = "ARN")]
    pub source_vpc_arn: Option<String>,
    /// ... from this private address in the VPC (aws:VpcSourceIp).
    #[arg(long, value_name = "IP")]
    pub vpc_source_ip: Option<std::net::IpAddr>,
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
    let runtime = crate::runtime::concurrent(None)?;
    runtime.block_on(serve(args))
}

/// The network of requests without forwarding headers: `--source-ip`, or the VPC path of `--source-vpce`,
/// `--source-vpc`, `--source-vpc-arn` and `--vpc-source-ip` (each checked), or `None` (the peer address).
fn default_network(args: &EmulateArgs) -> anyhow::Result<Option<Network>> {
    if let Some(ip) = args.source_ip {
        return Ok(Some(Network::Internet {
            source_ip: ip.to_canonical(),
        }));
    }
    if args.source_vpce.is_none()
        && args.source_vpc.is_none()
        && args.source_vpc_arn.is_none()
        && args.vpc_source_ip.is_none()
    {
        return Ok(None);
    }
    let mut path = VpcPath::default();
    if let Some(id) = &args.source_vpce {
        if !network::is_vpc_endpoint_id(id) {
            anyhow::bail!(
                "--source-vpce `{id}` is not a VPC endpoint ID: write `vpce-` and 17 (or 8) lowercase hex digits, e.g. vpce-0a1b2c3d4e5f60718"
            );
        }
        path = path.endpoint(id);
    }
    if let Some(id) = &args.source_vpc {
        if !network::is_vpc_id(id) {
            anyhow::bail!(
                "--source-vpc `{id}` is not a VPC ID: write `vpc-` and 17 (or 8) lowercase hex digits, e.g. vpc-0e9801d129c0ffee1"
            );
        }
        path = path.vpc(id);
    }
    if let Some(arn) = &args.source_vpc_arn {
        if !network::is_vpc_arn(arn) {
            anyhow::bail!(
                "--source-vpc-arn `{arn}` is not a VPC ARN: write arn:aws:ec2:<region>:<account>:vpc/vpc-..."
            );
        }
        path = path.vpc_arn(arn);
    }
    if let Some(ip) = args.vpc_source_ip {
        path = path.private_ip(ip.to_canonical());
    }
    Ok(Some(Network::Vpc(path)))
}

async fn serve(args: EmulateArgs) -> anyhow::Result<ExitCode> {
    let default_network = default_network(&args)?;
    let config = Config {
        listen: args.listen,
        accounts: args.accounts,
        state_file: args.state,
        trust_forwarded_for: args.trust_forwarded_for,
        default_network,
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
