//! `keyless assume [OPTIONS] -- COMMAND [ARGS]...`: run COMMAND with the step's AWS credentials in its
//! environment. Also home of the options every step-credentials command shares.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use keyless_credentials::doctor::Check;
use keyless_credentials::settings::{self, EnvironmentDefaults, Inputs};
use keyless_credentials::{AssumeError, Env, Session, Settings, render};

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
        }
    }

    /// Role and region from `keyless.yml` for `--env` (or `$BITBUCKET_DEPLOYMENT_ENVIRONMENT`).
    pub fn environment_defaults(&self, env: &Env) -> Result<Option<EnvironmentDefaults>> {
        environment_defaults(self.environment.as_deref(), env)
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

/// A small single-threaded runtime: keyless makes a handful of sequential calls.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Assumes the role, printing a diagnosed error and returning the exit code on failure.
pub fn get_session(options: &CredentialOptions) -> Result<std::result::Result<Session, ExitCode>> {
    let env = Env::from_process();
    let settings = options.resolve(&env)?;
    let result = runtime()?.block_on(keyless_credentials::assume(&settings));
    Ok(result.map_err(|mut error| {
        annotate(&mut error, &settings, options, &env);
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
    exec(command, program)
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

// The bridge to keyless.yml: `--env NAME` defaults and the offline trust-policy evaluation.

/// Role and region of the `keyless.yml` environment named by `--env` (or `$BITBUCKET_DEPLOYMENT_ENVIRONMENT`
/// when a keyless.yml exists).
pub fn environment_defaults(name: Option<&str>, env: &Env) -> Result<Option<EnvironmentDefaults>> {
    match name {
        // NOTE: reading keyless.yml lands with the workspace crate's loader; until then --env says so plainly.
        Some(name) => anyhow::bail!(
            "--env {name}: reading roles from keyless.yml is not available in this build yet\n  fix: pass --role-arn and --region (or AWS_ROLE_ARN / AWS_REGION) instead"
        ),
        None => {
            let _ = env;
            Ok(None)
        }
    }
}

/// The offline trust-policy check (needs keyless.yml); empty when there is none.
pub fn trust_check(_settings: &Settings, _env: &Env) -> Vec<Check> {
    Vec::new()
}

/// Adds what keyless.yml knows to an AWS refusal.
pub fn annotate(
    _error: &mut AssumeError,
    _settings: &Settings,
    _options: &CredentialOptions,
    _env: &Env,
) {
}
