//! `keyless deploy s3`: sync a directory to S3 by content and invalidate CloudFront, through `keyless-deploy`.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use keyless_deploy::guard::{DEFAULT_MAX_DELETE, DEFAULT_MAX_DELETE_PERCENT, normalize_required};
use keyless_deploy::invalidation::DEFAULT_MAX_PATHS;
use keyless_deploy::rules::{HeaderRule, RuleError, RuleSpec, Rules};
use keyless_deploy::{Clients, Connection, DeployError, DeployOptions, Progress, Report, Silent};

use crate::EXIT_BAD_INPUT;
use crate::cmd::assume::{CredentialOptions, EXIT_AWS, get_session};
use crate::format::Format;

/// Exit code when some files (or the invalidation) failed; everything else was done.
pub const EXIT_PARTIAL: u8 = 1;
const MIB: u64 = 1024 * 1024;
/// S3's minimum part size (all parts but the last).
const MIN_PART_SIZE: u64 = 5 * MIB;
const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;

#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// Sync a directory to an S3 bucket by content (not timestamps), then invalidate CloudFront minimally.
    S3(S3Args),
}

/// `keyless deploy s3` arguments.
#[derive(Debug, Args)]
pub struct S3Args {
    /// Destination bucket
    #[arg(long)]
    pub bucket: String,
    /// Directory to deploy (the build output)
    #[arg(long, value_name = "DIR")]
    pub source: PathBuf,
    /// Key prefix inside the bucket
    #[arg(long, value_name = "P", default_value = "")]
    pub prefix: String,
    /// Upload hidden files too (any path component starting with `.`; `.well-known/` at the source root is
    /// always uploaded). `.git` and `.env*` are reported either way
    #[arg(long)]
    pub include_hidden: bool,
    /// Delete objects under the prefix that are gone from the source (refused for an empty source)
    #[arg(long)]
    pub delete: bool,
    /// Refuse to run when more than N objects would be deleted
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_DELETE)]
    pub max_delete: usize,
    /// Refuse to run when more than this share of the objects under the prefix would be deleted (checked when
    /// the prefix holds at least 20 objects)
    #[arg(long, value_name = "PERCENT", default_value_t = DEFAULT_MAX_DELETE_PERCENT,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub max_delete_percent: u8,
    /// Refuse to run when the source lacks PATH, a file or a directory (repeatable), e.g. index.html
    #[arg(long, value_name = "PATH", value_parser = parse_required)]
    pub require: Vec<String>,
    /// Run even when a guard refuses (empty source, --require, --max-delete, --max-delete-percent)
    #[arg(long)]
    pub force: bool,
    /// Print the plan and each guard's decision; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Requests in flight at once
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub concurrency: u16,
    #[command(flatten)]
    pub headers: HeaderFlags,
    /// Store files matching GLOB gzip-compressed with Content-Encoding: gzip (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub gzip: Vec<String>,
    /// Neither upload nor delete paths matching GLOB (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Invalidate the changed paths in this CloudFront distribution (repeatable)
    #[arg(long, value_name = "DISTRIBUTION_ID")]
    pub invalidate: Vec<String>,
    /// Wait until the invalidations have completed
    #[arg(long, requires = "invalidate")]
    pub wait: bool,
    /// Give up waiting after this many seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    pub wait_timeout: u64,
    /// Collapse invalidation paths into wildcards beyond this many (at most 3000)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PATHS)]
    pub max_invalidation_paths: usize,
    /// Upload with credentials from this role, via the step's OIDC token (as `keyless assume`)
    #[arg(long, value_name = "ARN", conflicts_with = "environment")]
    pub role_arn: Option<String>,
    /// Upload with the role of this keyless.yml environment (as `keyless assume --env`)
    #[arg(long = "env", value_name = "NAME")]
    pub environment: Option<String>,
    /// The bucket's region [default: AWS_REGION, AWS_DEFAULT_REGION, the profile]
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// S3 and CloudFront endpoint (a local emulator); S3 is then addressed path-style
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Bodies larger than this are uploaded in parts: bytes, or with KiB/MiB/GiB
    #[arg(long, value_name = "SIZE", default_value = "8MiB", value_parser = parse_size)]
    pub multipart_threshold: u64,
    /// Part size for multipart uploads (at least 5MiB on AWS), recorded in the object's metadata
    #[arg(long, value_name = "SIZE", default_value = "8MiB", value_parser = parse_size)]
    pub part_size: u64,
    /// Neither read nor write the deploy state file <prefix>.keyless-deploy.json (a cache of headers and
    /// hashes, readable wherever the bucket is); HEAD every object present on both sides instead
    #[arg(long)]
    pub no_state: bool,
    /// Output format of the plan and summary
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Print the IAM policy these flags need (JSON; --bucket, --prefix, --delete and --invalidate decide it)
    /// and exit without reading the source or calling AWS
    #[arg(long)]
    pub print_policy: bool,
}

/// The three header flags, kept in command-line order across all of them: for each header the first matching
/// rule wins, whichever flag gave it. (Clap's derive keeps each flag's values apart; the order across flags is
/// only in the argument indices, read here.)
#[derive(Debug, Default)]
pub struct HeaderFlags {
    pub rules: Vec<HeaderRule>,
}

const HEADER_FLAGS: [(&str, &str, &str, &str); 3] = [
    (
        "header",
        "header",
        "GLOB=NAME:VALUE",
        "Set a header on files matching GLOB (repeatable; per header the first matching rule of --header, \
         --content-type and --cache-control wins): Cache-Control, Content-Disposition, Content-Language, \
         Content-Type, Expires, x-amz-website-redirect-location, x-amz-meta-*. E.g. \
         '*.pdf=Content-Disposition:attachment'",
    ),
    (
        "content_type",
        "content-type",
        "GLOB=TYPE",
        "Content-Type for files matching GLOB, instead of the one from the extension (repeatable), e.g. \
         '*.webp=image/webp'",
    ),
    (
        "cache_control",
        "cache-control",
        "GLOB=VALUE",
        "Cache-Control for files matching GLOB (repeatable), e.g. '*.html=no-cache'; shorthand for --header \
         GLOB=Cache-Control:VALUE",
    ),
];

type RuleParser = fn(&str) -> Result<HeaderRule, RuleError>;

fn header_parser(id: &str) -> RuleParser {
    match id {
        "content_type" => HeaderRule::content_type,
        "cache_control" => HeaderRule::cache_control,
        _ => HeaderRule::header,
    }
}

impl clap::FromArgMatches for HeaderFlags {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut indexed: Vec<(usize, HeaderRule)> = Vec::new();
        for (id, ..) in HEADER_FLAGS {
            let (Some(values), Some(indices)) =
                (matches.get_many::<HeaderRule>(id), matches.indices_of(id))
            else {
                continue;
            };
            indexed.extend(indices.zip(values.cloned()));
        }
        indexed.sort_by_key(|(index, _)| *index);
        Ok(Self {
            rules: indexed.into_iter().map(|(_, rule)| rule).collect(),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for HeaderFlags {
    fn augment_args(mut command: clap::Command) -> clap::Command {
        for (id, long, value_name, help) in HEADER_FLAGS {
            let parse = header_parser(id);
            command = command.arg(
                clap::Arg::new(id)
                    .long(long)
                    .value_name(value_name)
                    .help(help)
                    .action(clap::ArgAction::Append)
                    .value_parser(move |s: &str| parse(s).map_err(|e| e.to_string())),
            );
        }
        command
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

fn parse_required(s: &str) -> std::result::Result<String, String> {
    normalize_required(s)
}

pub fn run(command: DeployCommand) -> Result<ExitCode> {
    match command {
        DeployCommand::S3(args) => run_s3(args),
    }
}

fn run_s3(args: S3Args) -> Result<ExitCode> {
    if args.print_policy {
        println!(
            "{}",
            serde_json::to_string_pretty(&keyless_deploy::policy::document(&policy_request(
                &args
            )))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if args.endpoint_url.is_none() && args.part_size < MIN_PART_SIZE {
        anyhow::bail!(
            "--part-size {} is below S3's 5MiB minimum part size; use at least 5MiB (smaller parts only work \
             against a local --endpoint-url)",
            args.part_size
        );
    }
    if args.part_size > MAX_PART_SIZE {
        anyhow::bail!(
            "--part-size {} is above S3's 5GiB maximum part size",
            args.part_size
        );
    }
    let rules = Rules::new(RuleSpec {
        headers: args.headers.rules.clone(),
        gzip: args.gzip.clone(),
        exclude: args.exclude.clone(),
        include_hidden: args.include_hidden,
    })?;
    let mut invalidate: Vec<String> = Vec::with_capacity(args.invalidate.len());
    for id in &args.invalidate {
        if !invalidate.contains(id) {
            invalidate.push(id.clone());
        }
    }

    let mut connection = Connection {
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
        credentials: None,
    };
    if args.role_arn.is_some() || args.environment.is_some() {
        let session = match get_session(&credential_options(&args)?)? {
            Ok(session) => session,
            Err(code) => return Ok(code),
        };
        connection.region = Some(session.region.clone());
        connection.credentials = Some(session.credentials.to_sdk());
    }

    let options = DeployOptions {
        bucket: args.bucket.clone(),
        source: args.source.clone(),
        prefix: args.prefix.clone(),
        delete: args.delete,
        max_delete: args.max_delete,
        max_delete_percent: args.max_delete_percent,
        require: args.require.clone(),
        force: args.force,
        dry_run: args.dry_run,
        concurrency: usize::from(args.concurrency),
        rules,
        multipart_threshold: args.multipart_threshold,
        part_size: args.part_size,
        invalidate,
        max_invalidation_paths: args.max_invalidation_paths,
        wait: args.wait,
        wait_timeout: Duration::from_secs(args.wait_timeout),
        wait_interval: Duration::from_secs(5),
        state: !args.no_state,
    };
    let bar = (args.format == Format::Text && !args.dry_run && std::io::stderr().is_terminal())
        .then(Bar::new);
    let progress: &dyn Progress = match &bar {
        Some(bar) => bar,
        None => &Silent,
    };
    let runtime = crate::runtime::concurrent(None)?;
    let result = runtime.block_on(async {
        let clients = Clients::connect(&connection).await?;
        keyless_deploy::deploy(&clients, &options, progress).await
    });
    let report = match result {
        Ok(report) => report,
        Err(error @ DeployError::List { .. }) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(EXIT_AWS));
        }
        Err(DeployError::Refused(report)) => {
            // Nothing was changed: the warnings (a `.git` found, say) still matter, then every refusal.
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            eprintln!("error: {}", DeployError::Refused(report));
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        Err(error) => return Err(error.into()),
    };
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    args.format.print(&report, render_text)?;
    if report.is_refused() {
        eprintln!("error: without --dry-run this run would be refused, before any change:");
        for refusal in report.refusals() {
            eprintln!("  - {refusal}");
        }
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    if report.is_success() {
        Ok(ExitCode::SUCCESS)
    } else {
        for failure in &report.errors {
            eprintln!(
                "error: {} {}: {}",
                failure.operation, failure.key, failure.message
            );
        }
        eprintln!(
            "error: {} operation(s) failed; everything else was done. Fix the cause and rerun: the rerun \
             uploads only what is still missing",
            report.errors.len()
        );
        Ok(ExitCode::from(EXIT_PARTIAL))
    }
}

/// The same web-identity flow as `keyless assume`: its options, parsed from the few this command exposes so
/// that new credential options never need changes here.
/// What `--print-policy` scopes the policy to: the flags, and the distributions' account and partition from
/// `--role-arn` or the `--env` environment of keyless.yml (`KEYLESS_CONFIG`), else `*`.
fn policy_request(args: &S3Args) -> keyless_deploy::policy::PolicyRequest {
    let mut request = keyless_deploy::policy::PolicyRequest::new(args.bucket.clone());
    request.prefix = args.prefix.clone();
    request.delete = args.delete;
    for id in &args.invalidate {
        if !request.distributions.contains(id) {
            request.distributions.push(id.clone());
        }
    }
    if let Some(arn) = &args.role_arn {
        if let Some(parts) = keyless_iam::arn::RoleArnParts::split(arn) {
            request.partition = parts.partition.to_owned();
            request.account = Some(parts.account.to_owned());
        }
    } else if let Some(name) = &args.environment {
        let path = std::env::var_os("KEYLESS_CONFIG").unwrap_or_else(|| "keyless.yml".into());
        if let Ok(config) = keyless_workspace::load(std::path::Path::new(&path))
            && let Some(env) = config.environments.get(name)
        {
            request.account = Some(env.account.clone());
        }
    }
    request
}

fn credential_options(args: &S3Args) -> Result<CredentialOptions> {
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        options: CredentialOptions,
    }
    let mut argv = vec!["keyless".to_owned()];
    for (flag, value) in [
        ("--role-arn", &args.role_arn),
        ("--env", &args.environment),
        ("--region", &args.region),
    ] {
        if let Some(value) = value {
            argv.push(format!("{flag}={value}"));
        }
    }
    Ok(Wrapper::try_parse_from(argv)
        .context("building the credential options")?
        .options)
}

/// Parses `1024`, `64KiB`, `8MiB`, `1GiB` (also `K`/`M`/`G`, `KB`/`MB`/`GB` as binary units).
fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        format!("`{s}` is not a size: use bytes or a number with KiB, MiB or GiB, e.g. 8MiB")
    })?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => 1024 * MIB,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}`: use KiB, MiB or GiB"
            ));
        }
    };
    match n.checked_mul(factor) {
        Some(0) | None => Err(format!("`{s}` must be between 1 byte and 16 EiB")),
        Some(size) => Ok(size),
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

fn render_text(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let s = &report.summary;
    let target = format!("s3://{}/{}", report.bucket, report.prefix);
    if report.dry_run {
        let _ = writeln!(out, "plan for {target} (dry run: nothing was changed)");
        for u in &report.uploads {
            let why = match u.compared_by {
                Some(by) => format!(
                    "changed, by {}",
                    serde_json::to_value(by)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                ),
                None => "new".to_owned(),
            };
            let _ = writeln!(
                out,
                "  upload  {}  ({why}, {})",
                u.key,
                human_bytes(u.bytes)
            );
        }
        for u in &report.updates {
            let what = if u.changed.is_empty() {
                "headers".to_owned()
            } else {
                u.changed.join(", ")
            };
            let _ = writeln!(out, "  update  {}  ({what})", u.key);
        }
        for d in &report.deletes {
            let _ = writeln!(out, "  delete  {}", d.key);
        }
        for v in &report.guards {
            let decision = serde_json::to_value(v.decision)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(out, "  guard   {:<18}  {decision}: {}", v.guard, v.message);
        }
        let _ = writeln!(
            out,
            "would upload {} ({}), update {}, delete {}; {} unchanged{}",
            s.uploaded,
            human_bytes(s.bytes_uploaded),
            s.updated,
            s.deleted,
            s.unchanged,
            hidden_note(s.skipped_hidden)
        );
    } else {
        let _ = writeln!(
            out,
            "{target}: uploaded {} ({}), updated {}, deleted {}, unchanged {}, failed {}{}",
            s.uploaded,
            human_bytes(s.bytes_uploaded),
            s.updated,
            s.deleted,
            s.unchanged,
            s.failed,
            hidden_note(s.skipped_hidden)
        );
    }
    for inv in &report.invalidations {
        let id = inv
            .id
            .as_deref()
            .map(|id| format!(" {id}"))
            .unwrap_or_default();
        if inv.paths.is_empty() {
            let _ = writeln!(
                out,
                "invalidation of {}: nothing changed, skipped",
                inv.distribution_id
            );
        } else {
            let _ = writeln!(
                out,
                "invalidation{id} of {} ({}): {}",
                inv.distribution_id,
                inv.status,
                inv.paths.join(" ")
            );
        }
    }
    out
}

fn hidden_note(skipped: usize) -> String {
    match skipped {
        0 => String::new(),
        1 => "; 1 hidden file skipped".to_owned(),
        n => format!("; {n} hidden files skipped"),
    }
}

/// A byte progress bar on stderr, with operations counted in its message.
struct Bar {
    bar: indicatif::ProgressBar,
    done: AtomicU64,
    total: AtomicU64,
}

impl Bar {
    fn new() -> Self {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Self {
            bar,
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }
}

impl Progress for Bar {
    fn start(&self, operations: u64, bytes: u64) {
        self.total.store(operations, Ordering::Relaxed);
        self.bar.set_length(bytes);
        self.bar.set_message(format!("0/{operations} files"));
        self.bar.enable_steady_tick(Duration::from_millis(200));
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn operation_done(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.bar.set_message(format!(
            "{done}/{} files",
            self.total.load(Ordering::Relaxed)
        ));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let table = [
            ("1024", Some(1024)),
            ("8MiB", Some(8 * MIB)),
            ("8 mib", Some(8 * MIB)),
            ("5M", Some(5 * MIB)),
            ("1GiB", Some(1024 * MIB)),
            ("64KiB", Some(64 * 1024)),
            ("0", None),
            ("x", None),
            ("8XB", None),
            ("99999999999999999999GiB", None),
        ];
        for (input, want) in table {
            assert_eq!(parse_size(input).ok(), want, "{input}");
        }
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(8 * MIB), "8.0 MiB");
    }
}
