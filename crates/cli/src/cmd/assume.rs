//! `keyless assume [OPTIONS] -- COMMAND [ARGS]...`: run COMMAND with the step's AWS credentials in its
//! environment. Also home of the options every step-credentials command shares.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use keyless_credentials::settings::{self, EnvironmentDefaults, Inputs};
use keyless_credentials::{AssumeError, Env, Session, Settings, render, workspace};

/// Exit code when AWS refused or could not be reached.
pub const EXIT_AWS: u8 = 3;

/// Options shared by `assume`, `env`, `credential-process`, `configure` and `doctor`.
#[derive(Debug, Clone, Args)]
pub struct CredentialOptions {
    /// Role to assume with the step's OIDC token [env: AWS_ROLE_ARN, AWS_OIDC_ROLE_ARN]
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// AWS region; never guessed [env: AWS_REGION, AWS_DEFAULT_REGION]
    #[arg(long)]
    pub region: Option<String>,
    /// Take role and region from this keyless.yml environment [default: $BITBUCKET_DEPLOYMENT_ENVIRONMENT]
    #[arg(long = "env", value_name = "NAME")]
    pub environment: Option<String>,
    /// Read the OIDC token from FILE instead of $BITBUCKET_STEP_OIDC_TOKEN
    #[arg(long, value_name = "FILE", env = "KEYLESS_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Role session name shown in CloudTrail [default: <repo-slug>-<build>-<step-uuid>]
    #[arg(long, value_name = "NAME")]
    pub session_name: Option<String>,
    /// Session length: 3600, 15m, 1h, 12h (900 s to 43200 s) [default: 1h]
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Then assume ROLE_ARN with the credentials so far (AssumeRole); repeat to chain further
    #[arg(long, value_name = "ROLE_ARN")]
    pub chain: Vec<String>,
    /// Inline session policy (JSON file) narrowing the final credentials
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Managed session policy ARN narrowing the final credentials (repeatable, at most 10)
    #[arg(long, value_name = "ARN")]
    pub policy_arn: Vec<String>,
    /// Refuse credentials outside these accounts (comma-separated)
    #[arg(long, value_name = "IDS")]
    pub allowed_account_ids: Vec<String>,
    /// STS endpoint, e.g. the emulator's [env: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL]
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Total time for getting credentials, retries included [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Session tag for the first --chain hop (repeatable); for attribution and ABAC on resources, never for trust
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// Also tag the first --chain hop with Repository, Branch, Commit, BuildNumber, Deployment and StepUuid from the
    /// step's variables (dropped first if AWS finds the tags too large)
    #[arg(long)]
    pub default_tags: bool,
    /// Mark tag KEY transitive, or set KEY=VALUE and mark it (repeatable): it stays on every later --chain session
    #[arg(long = "transitive-tag", value_name = "KEY[=VALUE]")]
    pub transitive_tags: Vec<String>,
    /// Source identity for the first --chain hop; it persists through later hops and cannot be changed
    #[arg(long, value_name = "NAME")]
    pub source_identity: Option<String>,
    /// External ID for a --chain hop: the i-th --external-id for the i-th --chain ('' for none)
    #[arg(long = "external-id", value_name = "ID")]
    pub external_ids: Vec<String>,
}

impl CredentialOptions {
    /// The raw inputs for the library.
    pub fn inputs(&self) -> Inputs {
        Inputs {
            role_arn: self.role_arn.clone(),
            region: self.region.clone(),
            token_file: self.token_file.clone(),
            session_name: self.session_name.clone(),
            duration: self.duration.clone(),
            chain: self.chain.clone(),
            policy_file: self.policy.clone(),
            policy_arns: self.policy_arn.clone(),
            allowed_account_ids: self.allowed_account_ids.clone(),
            endpoint_url: self.endpoint_url.clone(),
            timeout: self.timeout.clone(),
            chain_extras: keyless_credentials::tags::ChainInputs {
                tags: self.tags.clone(),
                default_tags: self.default_tags,
                transitive_tags: self.transitive_tags.clone(),
                source_identity: self.source_identity.clone(),
                external_ids: self.external_ids.clone(),
            },
        }
    }

    /// Role and region from `keyless.yml` for `--env` (or `$BITBUCKET_DEPLOYMENT_ENVIRONMENT`).
    pub fn environment_defaults(&self, env: &Env) -> Result<Option<EnvironmentDefaults>> {
        Ok(workspace::environment_defaults(
            self.environment.as_deref(),
            env,
        )?)
    }

    /// Resolves settings from these options and the process environment.
    pub fn resolve(&self, env: &Env) -> Result<Settings> {
        let defaults = self.environment_defaults(env)?;
        Ok(settings::resolve(
            &self.inputs(),
            env,
            defaults.as_ref(),
            now_unix(),
        )?)
    }
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The step commands' runtime (they make a handful of sequential calls).
pub use crate::runtime::sequential as runtime;

/// Assumes the role, printing a diagnosed error and returning the exit code on failure.
pub fn get_session(options: &CredentialOptions) -> Result<std::result::Result<Session, ExitCode>> {
    let env = Env::from_process();
    let settings = options.resolve(&env)?;
    for warning in workspace::sts_endpoint_warnings(&settings, &env) {
        eprintln!("warning: {warning}");
    }
    let result = runtime()?.block_on(keyless_credentials::assume(&settings));
    if let Ok(session) = &result
        && !session.attributes.dropped_tags.is_empty()
    {
        eprintln!(
            "keyless: warning: AWS refused the session tags as too large (PackedPolicyTooLarge); dropped the optional default tag(s) {} and asked again",
            session.attributes.dropped_tags.join(", ")
        );
    }
    Ok(result.map_err(|mut error| {
        workspace::annotate(&mut error, &settings, &env);
        report_aws_error(&error)
    }))
}

/// Prints an AWS error (never containing secrets) and returns [`EXIT_AWS`].
pub fn report_aws_error(error: &AssumeError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(EXIT_AWS)
}

/// `keyless assume` arguments.
#[derive(Debug, Args)]
pub struct AssumeArgs {
    #[command(flatten)]
    pub options: CredentialOptions,
    /// Record the AWS API calls COMMAND makes (through the SDKs' client-side monitoring on a loopback UDP port)
    /// into FILE as JSON Lines, merged with the calls already there; `keyless permissions from-record FILE` turns
    /// them into a policy. Keys and tokens are never written.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// The command to run with the credentials, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// Runs `keyless assume`.
pub fn run(args: AssumeArgs) -> Result<ExitCode> {
    let session = match get_session(&args.options)? {
        Ok(session) => session,
        Err(code) => return Ok(code),
    };
    let Some((program, rest)) = args.command.split_first() else {
        anyhow::bail!("no command given after `--`");
    };
    let mut command = std::process::Command::new(program);
    command.args(rest);
    for (name, value) in render::variables(&session) {
        command.env(name, value);
    }
    match &args.record {
        Some(path) => run_recorded(command, program, path),
        None => exec(command, program),
    }
}

/// Runs the command as a child with client-side monitoring pointed at a loopback listener, waits for it, writes
/// the recording (even when the command failed: its calls are still what it needs) and passes its exit code on.
fn run_recorded(
    mut command: std::process::Command,
    program: &OsString,
    path: &std::path::Path,
) -> Result<ExitCode> {
    use keyless_credentials::record::{Recorder, write_merged};
    let recorder = Recorder::start().context("starting the loopback listener for --record")?;
    for (name, value) in recorder.variables() {
        command.env(name, value);
    }
    let status = match command.status() {
        Ok(status) => status,
        Err(error) => {
            eprintln!("error: cannot run `{}`: {error}", program.to_string_lossy());
            let _ = recorder.finish();
            return Ok(ExitCode::from(
                if error.kind() == std::io::ErrorKind::NotFound {
                    127
                } else {
                    126
                },
            ));
        }
    };
    let (recording, ignored) = recorder.finish().context("reading the recorded calls")?;
    let calls = recording.total();
    let merged = write_merged(path, recording)
        .with_context(|| format!("writing the recording {}", path.display()))?;
    eprintln!(
        "keyless: recorded {calls} AWS call(s) into {} ({} distinct in the file){}",
        path.display(),
        merged.calls().count(),
        if ignored > 0 {
            format!("; {ignored} datagram(s) that were not client-side-monitoring events ignored")
        } else {
            String::new()
        }
    );
    if calls == 0 {
        eprintln!(
            "keyless: warning: no calls recorded: the command made none, or its AWS SDK does not emit client-side \
             monitoring (botocore does: the AWS CLI v1 and boto3; see docs/permissions.md)"
        );
    }
    Ok(exit_code(status))
}

/// The child's exit code, or 128 + the signal that ended it (as a shell reports it).
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return ExitCode::from(u8::try_from(128 + signal).unwrap_or(255));
        }
    }
    ExitCode::from(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1))
}

/// On Unix the command replaces keyless (exec): signals reach it directly and its exit status is keyless's.
#[cfg(unix)]
fn exec(mut command: std::process::Command, program: &OsString) -> Result<ExitCode> {
    use std::os::unix::process::CommandExt as _;
    let error = command.exec();
    eprintln!("error: cannot run `{}`: {error}", program.to_string_lossy());
    Ok(ExitCode::from(
        if error.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        },
    ))
}

/// Elsewhere keyless waits for the command and passes its exit code on.
#[cfg(not(unix))]
fn exec(mut command: std::process::Command, program: &OsString) -> Result<ExitCode> {
    let status = command
        .status()
        .with_context(|| format!("cannot run `{}`", program.to_string_lossy()))?;
    Ok(ExitCode::from(
        u8::try_from(status.code().unwrap_or(1)).unwrap_or(1),
    ))
}
