//! `keyless token mint` (ask a running `keyless emulate` for a Bitbucket-shaped token) and `keyless token decode`
//! (show a token's header and claims, never its signature, with expiry in human time and `sub` broken down).

use std::io::Read as _;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use keyless_oidc::{BracedUuid, Decoded, Header, MintRequest, Subject, decode_unverified};
use serde::Serialize;
use serde_json::{Map, Value};

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

/// Output format of `keyless token decode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people
    Text,
    /// One JSON object (a stable contract, see docs/token.md)
    Json,
}

/// `keyless token decode` arguments.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// File holding the token, or `-` for stdin. Default: the BITBUCKET_STEP_OIDC_TOKEN variable
    #[arg(value_name = "FILE|-")]
    pub input: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
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
    let report = Report::new(decoded, now);
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => print!("{}", report.render_text()),
    }
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

/// What `keyless token decode` shows; `--format json` prints exactly this.
#[derive(Debug, Serialize)]
struct Report {
    header: Header,
    claims: Map<String, Value>,
    times: Times,
    subject: Option<SubjectReport>,
    signature: &'static str,
}

#[derive(Debug, Serialize)]
struct Times {
    now: i64,
    issued_at: Option<Instant>,
    not_before: Option<Instant>,
    expires_at: Option<Instant>,
    /// `null` when the token has no integer `exp`.
    expired: Option<bool>,
}

#[derive(Debug, Serialize)]
struct Instant {
    epoch: i64,
    utc: String,
    relative: String,
}

#[derive(Debug, Serialize)]
struct SubjectReport {
    value: String,
    /// `step`, `deployment`, or `null` when `sub` is not in Bitbucket's grammar.
    kind: Option<&'static str>,
    repository: Option<String>,
    environment: Option<String>,
    step: Option<String>,
    /// Why `sub` is not a Bitbucket subject, when it is not.
    error: Option<String>,
}

impl Report {
    fn new(decoded: Decoded, now: i64) -> Self {
        let instant = |claim: &str, describe: fn(i64) -> String| {
            decoded.timestamp(claim).map(|epoch| Instant {
                epoch,
                utc: utc(epoch),
                relative: describe(epoch - now),
            })
        };
        let expires_at = instant("exp", |delta| {
            if delta > 0 {
                format!("expires in {}", span(delta))
            } else {
                format!("expired {} ago", span(-delta))
            }
        });
        let times = Times {
            now,
            issued_at: instant("iat", relative),
            not_before: instant("nbf", relative),
            expired: expires_at.as_ref().map(|exp| exp.epoch <= now),
            expires_at,
        };
        let subject = decoded
            .subject()
            .map(|value| match value.parse::<Subject>() {
                Ok(subject) => SubjectReport {
                    value: value.to_owned(),
                    kind: Some(if subject.environment().is_some() {
                        "deployment"
                    } else {
                        "step"
                    }),
                    repository: Some(subject.repository().to_string()),
                    environment: subject.environment().map(|uuid| uuid.to_string()),
                    step: Some(subject.step().to_string()),
                    error: None,
                },
                Err(error) => SubjectReport {
                    value: value.to_owned(),
                    kind: None,
                    repository: None,
                    environment: None,
                    step: None,
                    error: Some(error.to_string()),
                },
            });
        Self {
            header: decoded.header,
            claims: decoded.claims,
            times,
            subject,
            signature: "not shown",
        }
    }

    fn render_text(&self) -> String {
        let mut out = String::new();
        let mut header = Map::new();
        header.insert("alg".into(), Value::String(self.header.alg.clone()));
        if let Some(kid) = &self.header.kid {
            header.insert("kid".into(), Value::String(kid.clone()));
        }
        if let Some(typ) = &self.header.typ {
            header.insert("typ".into(), Value::String(typ.clone()));
        }
        header.extend(self.header.extra.clone());
        section(
            &mut out,
            "header",
            header
                .iter()
                .map(|(key, value)| (key.as_str(), show(value))),
        );
        section(
            &mut out,
            "claims",
            self.claims
                .iter()
                .map(|(key, value)| (key.as_str(), show(value))),
        );
        if let Some(subject) = &self.subject {
            let rows: Vec<(&str, String)> = match (&subject.kind, &subject.error) {
                (Some(kind), _) => [
                    ("kind", Some(format!("{kind} step"))),
                    ("repository", subject.repository.clone()),
                    ("environment", subject.environment.clone()),
                    ("step", subject.step.clone()),
                ]
                .into_iter()
                .filter_map(|(key, value)| value.map(|value| (key, value)))
                .collect(),
                (None, error) => {
                    vec![("not Bitbucket's grammar", error.clone().unwrap_or_default())]
                }
            };
            section(&mut out, "subject", rows.into_iter());
        }
        let times = [
            ("issued", &self.times.issued_at),
            ("not before", &self.times.not_before),
            ("expires", &self.times.expires_at),
        ];
        let mut rows: Vec<(&str, String)> = times
            .iter()
            .filter_map(|(label, instant)| {
                instant
                    .as_ref()
                    .map(|instant| (*label, format!("{} ({})", instant.utc, instant.relative)))
            })
            .collect();
        if self.times.expires_at.is_none() {
            rows.push((
                "expires",
                "never: the token has no integer `exp`, so AWS will reject it".to_owned(),
            ));
        }
        section(&mut out, "time", rows.into_iter());
        out.push_str("signature: not shown\n");
        out
    }
}

fn section<'a>(out: &mut String, title: &str, rows: impl Iterator<Item = (&'a str, String)>) {
    let rows: Vec<(&str, String)> = rows.collect();
    if rows.is_empty() {
        return;
    }
    let width = rows
        .iter()
        .map(|(key, _)| key.chars().count())
        .max()
        .unwrap_or(0);
    out.push_str(title);
    out.push('\n');
    for (key, value) in rows {
        out.push_str(&format!("  {key:<width$}  {value}\n"));
    }
}

/// A claim value for text output: strings bare, everything else as compact JSON.
fn show(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn utc(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|moment| {
            moment
                .format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
                ))
                .ok()
        })
        .unwrap_or_else(|| format!("{epoch} (out of range)"))
}

/// "in 42 minutes" / "3 hours ago" for an offset from now.
fn relative(delta: i64) -> String {
    if delta > 0 {
        format!("in {}", span(delta))
    } else {
        format!("{} ago", span(-delta))
    }
}

/// A duration in the largest unit that keeps it readable: seconds under 2 minutes, minutes under 2 hours, hours
/// under 2 days, then days.
fn span(seconds: i64) -> String {
    let (amount, unit) = match seconds {
        s if s < 120 => (s, "second"),
        s if s < 2 * 3600 => (s / 60, "minute"),
        s if s < 2 * 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{amount} {unit}{}", if amount == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_pick_a_readable_unit() {
        assert_eq!(span(0), "0 seconds");
        assert_eq!(span(1), "1 second");
        assert_eq!(span(119), "119 seconds");
        assert_eq!(span(42 * 60 + 59), "42 minutes");
        assert_eq!(span(3 * 3600 + 5), "3 hours");
        assert_eq!(span(86_400), "24 hours");
        assert_eq!(span(3 * 86_400), "3 days");
        assert_eq!(relative(-10_800), "3 hours ago");
        assert_eq!(relative(2520), "in 42 minutes");
    }
}
