//! `keyless token mint` (ask a running `keyless emulate` for a Bitbucket-shaped token) and `keyless token decode`
//! (show a token's header and claims, never its signature, with expiry in human time and `sub` broken down).

use std::io::Read as _;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use keyless_oidc::{BracedUuid, MintRequest, decode_unverified};

use crate::format::Format;

/// The variable Bitbucket puts a step's token in (with `oidc: true`).
const TOKEN_VARIABLE: &str = "BITBUCKET_STEP_OIDC_TOKEN";

/// `keyless token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a Bitbucket Pipelines OIDC token from a running `keyless emulate`; prints the JWT alone on stdout.
    Mint(MintArgs),
    /// Show a token's header and claims (never its signature), its expiry in human time, and its `sub` broken
    /// into repository / environment / step.
    Decode(DecodeArgs),
}

/// `keyless token mint` arguments.
#[derive(Debug, Args)]
pub struct MintArgs {
    /// Base URL of the emulator, e.g. http://127.0.0.1:4566
    #[arg(long, env = "KEYLESS_EMULATOR_URL", value_name = "URL")]
    pub emulator: String,
    /// Workspace slug (the `<workspace>` in bitbucket.org/<workspace>/...)
    #[arg(long, value_name = "SLUG")]
    pub workspace: String,
    /// Workspace UUID, with or without braces
    #[arg(long, value_name = "UUID")]
    pub workspace_uuid: BracedUuid,
    /// Repository UUID
    #[arg(long, value_name = "UUID")]
    pub repository_uuid: BracedUuid,
    /// Deployment environment UUID: mints a deployment step's token (sub = {repo}:{env}:{step})
    #[arg(long, value_name = "UUID")]
    pub deployment_uuid: Option<BracedUuid>,
    /// `branchName` claim (omitted when not given)
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// Step UUID (random when not given)
    #[arg(long, value_name = "UUID")]
    pub step_uuid: Option<BracedUuid>,
    /// Pipeline UUID (random when not given)
    #[arg(long, value_name = "UUID")]
    pub pipeline_uuid: Option<BracedUuid>,
    /// Custom audience appended to the workspace audience (repeatable; `aud` becomes an array)
    #[arg(long = "audience", value_name = "AUDIENCE")]
    pub audiences: Vec<String>,
    /// Token lifetime: `3600`, `15m`, `1h` (default 1h, at most 24h)
    #[arg(long, value_name = "DURATION", value_parser = parse_lifetime)]
    pub lifetime: Option<Duration>,
    /// `iat` as epoch seconds instead of now, e.g. to mint a token that has already expired (for tests)
    #[arg(long, value_name = "EPOCH_SECONDS", allow_hyphen_values = true)]
    pub issued_at: Option<i64>,
    /// Give up after this long
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_lifetime)]
    pub timeout: Duration,
}

/// `keyless token decode` arguments.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// File holding the token, or `-` for stdin. Default: the BITBUCKET_STEP_OIDC_TOKEN variable
    #[arg(value_name = "FILE|-")]
    pub input: Option<String>,
    /// Output format
    #[arg(long, default_value = "text", value_parser = Format::described(
        "For people",
        "One JSON object (a stable contract, see docs/token.md)",
    ))]
    pub format: Format,
    /// Treat this epoch second as now (for reproducible output)
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub now: Option<i64>,
}

/// Runs `keyless token ...`.
pub fn run(command: TokenCommand) -> Result<ExitCode> {
    match command {
        TokenCommand::Mint(args) => mint(args),
        TokenCommand::Decode(args) => decode(args),
    }
}

fn parse_lifetime(value: &str) -> Result<Duration, String> {
    keyless_credentials::duration::parse(value)
}

fn mint(args: MintArgs) -> Result<ExitCode> {
    let lifetime_seconds = args
        .lifetime
        .map(|lifetime| i64::try_from(lifetime.as_secs()))
        .transpose()
        .context("--lifetime is too large")?;
    let request = MintRequest {
        workspace: args.workspace,
        workspace_uuid: args.workspace_uuid,
        repository_uuid: args.repository_uuid,
        deployment_uuid: args.deployment_uuid,
        branch: args.branch,
        step_uuid: args.step_uuid,
        pipeline_uuid: args.pipeline_uuid,
        audiences: (!args.audiences.is_empty()).then_some(args.audiences),
        lifetime_seconds,
        issued_at: args.issued_at,
    };
    let base = args.emulator.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        bail!(
            "--emulator `{base}` is not a URL: use the endpoint `keyless emulate` printed, e.g. http://127.0.0.1:4566"
        );
    }
    let url = format!("{base}/_keyless/mint");
    let config = keyless_net::http::HttpConfig::from_env().timeout(args.timeout);
    let minted =
        crate::runtime::sequential()?.block_on(keyless_net::mint::mint(base, &request, &config))?;
    let token = minted.expose().trim();
    decode_unverified(token)
        .with_context(|| format!("{url} returned something that is not a token"))?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

fn decode(args: DecodeArgs) -> Result<ExitCode> {
    let (source, raw) = read_token(args.input.as_deref())?;
    let token = raw.trim();
    let decoded = decode_unverified(token)
        .with_context(|| format!("cannot decode the token from {source}"))?;
    let now = match args.now {
        Some(now) => now,
        None => i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?,
    };
    let report = keyless_oidc::report(decoded, now);
    args.format.print(&report, keyless_oidc::Report::text)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the token, saying where it came from (for error messages; never the token itself).
fn read_token(input: Option<&str>) -> Result<(String, String)> {
    match input {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the token from stdin")?;
            Ok(("stdin".to_owned(), text))
        }
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file `{path}`"))?;
            Ok((format!("`{path}`"), text))
        }
        None => match std::env::var(TOKEN_VARIABLE) {
            Ok(text) if !text.trim().is_empty() => Ok((TOKEN_VARIABLE.to_owned(), text)),
            _ => bail!(
                "no token to decode: {TOKEN_VARIABLE} is not set (add `oidc: true` to the step), so pass a FILE \
                 or `-` to read stdin"
            ),
        },
    }
}
