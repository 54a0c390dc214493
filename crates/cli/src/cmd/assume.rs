//! `keyless assume [OPTIONS] -- COMMAND [ARGS]...`: run COMMAND with the step's AWS credentials in its
//! environment. Also home of the options every step-credentials command shares.

use std::ffi::OsString;
use std::net::IpAddr;
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
    for warning in sts_endpoint_warnings(&settings, &env) {
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

// The bridge to keyless.yml: `--env NAME` defaults and the offline trust-policy evaluation.

/// Where keyless.yml is: `$KEYLESS_CONFIG`, else `keyless.yml` in the current directory, else in
/// `$BITBUCKET_CLONE_DIR`.
fn workspace_file(env: &Env) -> Option<std::path::PathBuf> {
    if let Some(path) = env.get("KEYLESS_CONFIG") {
        return Some(PathBuf::from(path));
    }
    [
        Some(PathBuf::from("keyless.yml")),
        env.get("BITBUCKET_CLONE_DIR")
            .map(|d| PathBuf::from(d).join("keyless.yml")),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.is_file())
}

fn load_workspace(env: &Env) -> Result<Option<keyless_workspace::Config>> {
    let Some(path) = workspace_file(env) else {
        return Ok(None);
    };
    let config = keyless_workspace::load(&path)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(config))
}

/// Role and region of the `keyless.yml` environment named by `--env`, or by `$BITBUCKET_DEPLOYMENT_ENVIRONMENT`
/// when a keyless.yml defines an environment of that name.
pub fn environment_defaults(name: Option<&str>, env: &Env) -> Result<Option<EnvironmentDefaults>> {
    let (name, explicit) = match name {
        Some(name) => (name.to_owned(), true),
        None => match env.get("BITBUCKET_DEPLOYMENT_ENVIRONMENT") {
            Some(name) => (name.to_owned(), false),
            None => return Ok(None),
        },
    };
    let config = match load_workspace(env) {
        Ok(Some(config)) => config,
        Ok(None) if explicit => anyhow::bail!(
            "--env {name}: no keyless.yml found (looked at $KEYLESS_CONFIG, ./keyless.yml and $BITBUCKET_CLONE_DIR/keyless.yml)\n  fix: run from the repository root, set KEYLESS_CONFIG, or pass --role-arn and --region instead"
        ),
        Ok(None) => return Ok(None),
        Err(error) if explicit => return Err(error),
        Err(_) => return Ok(None),
    };
    match config.environments.get(&name) {
        Some(environment) => Ok(Some(EnvironmentDefaults {
            name,
            role_arn: Some(environment.role_arn()),
            region: Some(environment.region.clone()),
        })),
        None if explicit => {
            let known: Vec<&str> = config.environments.keys().map(String::as_str).collect();
            anyhow::bail!(
                "--env {name}: keyless.yml has no environment `{name}` (it has: {})\n  fix: use one of those names",
                known.join(", ")
            )
        }
        None => Ok(None),
    }
}

/// STS's decision, offline, on the token for `settings.role_arn` as keyless.yml plans it (provider, audience,
/// expiry, trust policy: `keyless_iam::sts::decide`, the emulator's decision): `None` when there is no keyless.yml
/// or it does not manage the role.
fn decide_offline(
    settings: &Settings,
    env: &Env,
    public_ip: Option<IpAddr>,
) -> Option<keyless_workspace::plan::RoleDecision> {
    let config = load_workspace(env).ok()??;
    let plan = keyless_workspace::plan::plan_unchecked(&config);
    let decoded = keyless_oidc::decode_unverified(settings.token.expose()).ok()?;
    let context = keyless_iam::sts::RequestContext::new(time::OffsetDateTime::now_utc())
        .role_session_name(&settings.session_name);
    // With `doctor --check-ip`, the address AWS will see over the internet.
    let context = match public_ip {
        Some(ip) => context.source_ip(ip),
        None => context,
    };
    keyless_workspace::plan::decide_for_role(
        &plan,
        settings.role_arn.as_str(),
        &decoded.claims,
        &context,
    )
}

/// The keyless.yml environment whose role `settings` assumes, if a keyless.yml manages it.
fn managing_environment(settings: &Settings, env: &Env) -> Option<keyless_workspace::Environment> {
    let config = load_workspace(env).ok()??;
    config
        .environments
        .values()
        .find(|e| e.role_arn() == settings.role_arn.as_str())
        .cloned()
}

/// The STS endpoint a step uses: the configured one, or the regional endpoint the AWS SDK calls by default.
fn sts_endpoint(settings: &Settings) -> String {
    settings
        .endpoint_url
        .clone()
        .unwrap_or_else(|| format!("https://sts.{}.amazonaws.com", settings.region))
}

/// Whether `endpoint` is STS's global endpoint, which never goes through an interface VPC endpoint.
fn is_global_sts(endpoint: &str) -> bool {
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    host == "sts.amazonaws.com"
}

/// What `assume` says before calling STS when the role trusts the VPC path: the global endpoint never reaches
/// an interface VPC endpoint, and the regional one only through the endpoint's private DNS.
pub fn sts_endpoint_warnings(settings: &Settings, env: &Env) -> Vec<String> {
    let Some(environment) = managing_environment(settings, env) else {
        return Vec::new();
    };
    if !environment.has_vpc_path() {
        return Vec::new();
    }
    let endpoint = sts_endpoint(settings);
    let only = if environment.has_internet_path() {
        " (or over the internet from its source_ips)"
    } else {
        " only"
    };
    if is_global_sts(&endpoint) {
        vec![format!(
            "`{}` trusts calls through its STS VPC endpoint{only}, but this step calls the global endpoint {endpoint}, \
             which never goes through a VPC endpoint: AWS will see no aws:SourceVpce and refuse. Use the regional \
             endpoint https://sts.{}.amazonaws.com (unset the endpoint, or set AWS_ENDPOINT_URL_STS to it) with the \
             endpoint's private DNS enabled",
            environment.name, settings.region
        )]
    } else if settings.endpoint_url.is_none() {
        vec![format!(
            "`{}` trusts calls through its STS VPC endpoint{only}: this step calls the regional endpoint {endpoint}, \
             which reaches the VPC endpoint only when its private DNS is enabled in the runner's VPC (else set the \
             endpoint's own DNS name as AWS_ENDPOINT_URL_STS)",
            environment.name
        )]
    } else {
        Vec::new()
    }
}

/// `doctor`'s network checks for the keyless.yml environment of the role: is the public address AWS will see
/// (`--check-ip`) inside `source_ips`, and does the VPC path get the regional endpoint it needs.
pub fn network_checks(settings: &Settings, env: &Env, public_ip: Option<IpAddr>) -> Vec<Check> {
    const TITLE: &str = "the network AWS sees is one the role trusts";
    let Some(environment) = managing_environment(settings, env) else {
        return Vec::new();
    };
    let mut checks = Vec::new();
    if environment.has_vpc_path() {
        let endpoint = sts_endpoint(settings);
        checks.push(if is_global_sts(&endpoint) {
            Check::fail(
                "sts-endpoint",
                "the STS endpoint reaches the VPC endpoint",
                format!(
                    "`{}` trusts calls through its STS VPC endpoint, but the step calls the global endpoint {endpoint}, which never goes through one",
                    environment.name
                ),
                format!(
                    "use the regional endpoint https://sts.{}.amazonaws.com with the VPC endpoint's private DNS enabled",
                    settings.region
                ),
            )
        } else {
            Check::warn(
                "sts-endpoint",
                "the STS endpoint reaches the VPC endpoint",
                format!(
                    "`{}` trusts calls through its STS VPC endpoint: {endpoint} reaches it only when the endpoint's private DNS is enabled in this VPC",
                    environment.name
                ),
                "check that `sts.<region>.amazonaws.com` resolves to a private address of the endpoint here, or set AWS_ENDPOINT_URL_STS to the endpoint's own DNS name",
            )
        });
    }
    let Some(ip) = public_ip else {
        return checks;
    };
    let family = if ip.is_ipv6() {
        " (IPv6 egress: a call to STS's dual-stack endpoint presents this IPv6 address)"
    } else {
        ""
    };
    let internet = keyless_iam::network::Network::Internet { source_ip: ip };
    if !environment.has_network_condition() {
        checks.push(Check::pass(
            "network",
            TITLE,
            format!("`{}` has no network condition", environment.name),
        ));
    } else if environment.has_internet_path() && environment.allows_network(&internet) {
        checks.push(Check::pass(
            "network",
            TITLE,
            format!(
                "AWS sees {ip}{family}, inside source_ips of `{}`",
                environment.name
            ),
        ));
    } else if environment.has_internet_path() {
        let listed: Vec<String> = environment
            .source_ips
            .iter()
            .map(ToString::to_string)
            .collect();
        checks.push(Check::fail(
            "network",
            TITLE,
            format!(
                "AWS sees this machine's public address {ip}{family} (your NAT gateway's, not the runner's private one), \
                 which is not in source_ips of `{}` [{}]{}",
                environment.name,
                listed.join(", "),
                if environment.has_vpc_path() {
                    "; the role's VPC path needs the call to go through its STS VPC endpoint instead"
                } else {
                    ""
                }
            ),
            format!(
                "run the step on runners that egress from source_ips, or add {}/{} to source_ips of `{}` and `keyless apply`",
                ip,
                if ip.is_ipv4() { 32 } else { 128 },
                environment.name
            ),
        ));
    } else {
        checks.push(Check::warn(
            "network",
            TITLE,
            format!(
                "`{}` trusts only calls through its STS VPC endpoint; over the internet AWS would see {ip}{family} and \
                 no VPC keys, and refuse",
                environment.name
            ),
            "make sure the step's STS call goes through the VPC endpoint (see sts-endpoint)",
        ));
    }
    checks
}

/// The offline trust check (needs a keyless.yml that manages the role); empty otherwise.
pub fn trust_check(settings: &Settings, env: &Env, public_ip: Option<IpAddr>) -> Vec<Check> {
    const TITLE: &str = "keyless.yml trust policy allows this token (offline)";
    match decide_offline(settings, env, public_ip) {
        None => vec![Check::skip(
            "trust-policy",
            TITLE,
            "no keyless.yml managing this role",
        )],
        Some(verdict) if verdict.decision.is_allow() => {
            vec![Check::pass("trust-policy", TITLE, verdict.explain())]
        }
        Some(verdict) => vec![Check::fail(
            "trust-policy",
            TITLE,
            format!("{}: {}", verdict.role_arn, verdict.explain()),
            "run this step from a branch/environment keyless.yml allows, or change keyless.yml and `keyless apply`",
        )],
    }
}

/// Adds STS's offline decision (from keyless.yml's plan) to a refusal of AssumeRoleWithWebIdentity: the same
/// decision names the failing stage (provider, audience, expiry or the trust condition that did not hold).
pub fn annotate(
    error: &mut AssumeError,
    settings: &Settings,
    _options: &CredentialOptions,
    env: &Env,
) {
    let Some(rejection) = error.rejection_mut() else {
        return;
    };
    if !matches!(
        rejection.code.as_str(),
        "AccessDenied" | "InvalidIdentityToken" | "ExpiredTokenException"
    ) || rejection.operation
        != keyless_credentials::diagnose::Operation::AssumeRoleWithWebIdentity
    {
        return;
    }
    if let Some(verdict) = decide_offline(settings, env, None) {
        rejection.diagnosis.notes.insert(
            0,
            format!(
                "keyless.yml's trust policy for {}: {}",
                verdict.role_arn,
                verdict.explain()
            ),
        );
    }
}
