//! `keyless serve`: the Dynamic Pipelines provider over HTTP for a Forge Remote endpoint (keyless-serve), until
//! SIGINT/SIGTERM; SIGHUP reloads keyless.yml.
//!
//! Exit codes: 0 after a clean shutdown, 2 when it cannot start (bad keyless.yml, no authentication, address in
//! use).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use keyless_serve::auth::{FORGE_ISSUER, FORGE_JWKS_URL};
use keyless_serve::{
    AppState, Authenticator, DevBearerSecret, ForgeAuth, Limits, LiveConfig, Server,
};

/// Environment variable holding the development bearer secret itself (alternative to the file flag).
const DEV_SECRET_ENV: &str = "KEYLESS_DEV_BEARER_SECRET";

#[derive(Debug, Args)]
#[command(mut_arg("config", |arg| arg.help("The workspace file (its `environments:` and `policy:`); SIGHUP re-reads it")))]
pub struct ServeArgs {
    #[command(flatten)]
    pub workspace: super::WorkspaceFile,
    /// The address to bind, exactly (port 0: any free port).
    #[arg(long, env = "KEYLESS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The Forge app ID that calls keyless (`ari:cloud:ecosystem::app/<uuid>`, from `forge register`): the
    /// audience Forge invocation tokens must carry.
    #[arg(
        long,
        visible_alias = "forge-audience",
        env = "KEYLESS_FORGE_APP_ID",
        value_name = "ARI"
    )]
    pub forge_app_id: Option<String>,
    /// The issuer Forge invocation tokens must carry.
    #[arg(long, env = "KEYLESS_FORGE_ISSUER", default_value = FORGE_ISSUER)]
    pub forge_issuer: String,
    /// Where the keys that sign Forge invocation tokens are published.
    #[arg(long, env = "KEYLESS_FORGE_JWKS_URL", default_value = FORGE_JWKS_URL)]
    pub forge_jwks_url: String,
    /// Accept Forge invocation tokens of these installations only (`app.installationId`, the full
    /// `ari:cloud:ecosystem::installation/<uuid>` or the UUID; repeatable). Others get 403. Without it, any
    /// installation of the app is accepted.
    #[arg(
        long = "forge-installation-id",
        env = "KEYLESS_FORGE_INSTALLATION_ID",
        value_name = "ID",
        value_delimiter = ',',
        requires = "forge_app_id"
    )]
    pub forge_installation_ids: Vec<String>,
    /// Allow an http:// --forge-jwks-url (local tests only).
    #[arg(long, hide = true)]
    pub forge_jwks_allow_http: bool,
    /// DEVELOPMENT ONLY: also accept `Authorization: Bearer <secret>` with the secret read from FILE (or from
    /// the KEYLESS_DEV_BEARER_SECRET environment variable). Never a command-line value, which `ps` would show.
    #[arg(long, env = "KEYLESS_DEV_BEARER_SECRET_FILE", value_name = "FILE")]
    pub dev_bearer_secret_file: Option<PathBuf>,
    /// The largest request body, in bytes (suffixes KiB, MiB accepted).
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    pub max_body: usize,
    /// The longest a request may take, body upload included (e.g. 4s, 500ms). The default stays under the 5 s
    /// Forge Remote gives invocations that are not UI modules.
    #[arg(long, default_value = "4s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Once listening, write the bound address (`127.0.0.1:PORT`) to FILE.
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
    #[command(flatten)]
    pub connection: super::connection::ConnectionArgs,
}

fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (digits, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use bytes, KiB or MiB)"
            ));
        }
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 1048576, 512KiB, 1MiB)"))?;
    match n.checked_mul(factor) {
        Some(0) | None => Err(format!("`{text}` is not a usable size")),
        Some(bytes) => Ok(bytes),
    }
}

pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("`{text}` is not a duration (e.g. 20s, 500ms)");
    let (number, unit) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000)
    } else {
        (text, 1000)
    };
    let n: u64 = number.trim().parse().map_err(|_| bad())?;
    match n.checked_mul(unit) {
        Some(0) | None => Err(bad()),
        Some(ms) => Ok(Duration::from_millis(ms)),
    }
}

fn dev_secret(args: &ServeArgs) -> anyhow::Result<Option<DevBearerSecret>> {
    let text = match &args.dev_bearer_secret_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --dev-bearer-secret-file {}", path.display()))?,
        None => match std::env::var(DEV_SECRET_ENV) {
            Ok(value) => value,
            Err(_) => return Ok(None),
        },
    };
    Ok(Some(DevBearerSecret::new(&text)?))
}

/// Logs go to stderr as `key=value` fields (RUST_LOG filters; default info).
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or journald gets plain `key=value` fields.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .try_init();
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logs();
    let config = LiveConfig::open(&args.workspace.config).context("cannot load the policy")?;
    let forge = args.forge_app_id.as_ref().map(|app| ForgeAuth {
        issuer: args.forge_issuer.clone(),
        audience: app.clone(),
        jwks_url: args.forge_jwks_url.clone(),
        allow_http: args.forge_jwks_allow_http,
        installations: args
            .forge_installation_ids
            .iter()
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty())
            .collect(),
    });
    if let Some(forge) = &forge
        && !forge.jwks_url.starts_with("https://")
        && !(forge.allow_http && forge.jwks_url.starts_with("http://"))
    {
        bail!(
            "--forge-jwks-url must be an https:// URL, got `{}`",
            forge.jwks_url
        );
    }
    if let Some(forge) = &forge {
        if forge.installations.is_empty() {
            tracing::info!(
                "any installation of the Forge app may call (pin them with --forge-installation-id)"
            );
        } else {
            tracing::info!(
                installations = %forge.installations.join(", "),
                "only these Forge installations may call"
            );
        }
    }
    let auth = Authenticator::new(forge, dev_secret(&args)?)?;
    if auth.dev_bearer_enabled() {
        tracing::warn!(
            "the development bearer secret is enabled: anyone holding it can call the provider; use Forge invocation tokens (--forge-app-id) in production"
        );
    }
    let limits = Limits {
        max_body: args.max_body,
        timeout: args.timeout,
    };
    let state = AppState::new(config, auth, limits);
    let connection_limits = args.connection.limits()?;
    let runtime = crate::runtime::concurrent(None)?;
    runtime.block_on(async move {
        let server = Server::bind(args.listen, state)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?
            .with_connection_limits(connection_limits);
        let address = server.local_addr().context("cannot read the bound address")?;
        // Before the ready file: a SIGTERM sent as soon as it appears must reach the handler.
        let shutdown = keyless_serve::shutdown_signal();
        tracing::info!(%address, config = %args.workspace.config.display(), "keyless serve: POST /dynamic-pipelines, GET /healthz, GET /metrics");
        println!("keyless serve: listening on http://{address}");
        if let Some(path) = &args.ready_file {
            std::fs::write(path, format!("{address}\n"))
                .with_context(|| format!("cannot write --ready-file {}", path.display()))?;
        }
        server
            .run(shutdown)
            .await
            .context("the server stopped with an error")?;
        tracing::info!("shut down");
        if let Some(path) = &args.ready_file {
            // A stale ready file would tell scripts that a stopped server is up.
            let _ = std::fs::remove_file(path);
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1GiB").is_err());
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
