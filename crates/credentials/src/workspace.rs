//! The bridge from a step to keyless.yml: `--env NAME` defaults, STS's decision offline on the step's token for
//! the role keyless.yml plans (`keyless_iam::sts::decide` through keyless-workspace's plan, the emulator's
//! decision), `doctor`'s network and trust checks, `assume`'s STS-endpoint warnings and the note a refusal gets.
//! keyless.yml is read through keyless-workspace's model, never walked here.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::doctor::Check;
use crate::settings::EnvironmentDefaults;
use crate::{AssumeError, Env, Settings};

/// keyless.yml could not give what `--env` asked for.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(
        "--env {name}: no keyless.yml found (looked at $KEYLESS_CONFIG, ./keyless.yml and $BITBUCKET_CLONE_DIR/keyless.yml)\n  fix: run from the repository root, set KEYLESS_CONFIG, or pass --role-arn and --region instead"
    )]
    NotFound { name: String },
    #[error("reading {path}: {message}")]
    Load { path: String, message: String },
    #[error(
        "--env {name}: keyless.yml has no environment `{name}` (it has: {known})\n  fix: use one of those names"
    )]
    NoEnvironment { name: String, known: String },
}

/// Where keyless.yml is: `$KEYLESS_CONFIG`, else `keyless.yml` in the current directory, else in
/// `$BITBUCKET_CLONE_DIR`.
pub fn workspace_file(env: &Env) -> Option<std::path::PathBuf> {
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

/// keyless.yml, if [`workspace_file`] finds one.
pub fn load_workspace(env: &Env) -> Result<Option<keyless_workspace::Config>, WorkspaceError> {
    let Some(path) = workspace_file(env) else {
        return Ok(None);
    };
    let config = keyless_workspace::load(&path).map_err(|e| WorkspaceError::Load {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(Some(config))
}

/// Role and region of the `keyless.yml` environment named by `--env`, or by `$BITBUCKET_DEPLOYMENT_ENVIRONMENT`
/// when a keyless.yml defines an environment of that name.
pub fn environment_defaults(
    name: Option<&str>,
    env: &Env,
) -> Result<Option<EnvironmentDefaults>, WorkspaceError> {
    let (name, explicit) = match name {
        Some(name) => (name.to_owned(), true),
        None => match env.get("BITBUCKET_DEPLOYMENT_ENVIRONMENT") {
            Some(name) => (name.to_owned(), false),
            None => return Ok(None),
        },
    };
    let config = match load_workspace(env) {
        Ok(Some(config)) => config,
        Ok(None) if explicit => return Err(WorkspaceError::NotFound { name }),
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
            Err(WorkspaceError::NoEnvironment {
                name,
                known: known.join(", "),
            })
        }
        None => Ok(None),
    }
}

/// STS's decision, offline, on the token for `settings.role_arn` as keyless.yml plans it (provider, audience,
/// expiry, trust policy: `keyless_iam::sts::decide`, the emulator's decision): `None` when there is no keyless.yml
/// or it does not manage the role.
pub fn decide_offline(
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
pub fn annotate(error: &mut AssumeError, settings: &Settings, env: &Env) {
    let Some(rejection) = error.rejection_mut() else {
        return;
    };
    if !matches!(
        rejection.code.as_str(),
        "AccessDenied" | "InvalidIdentityToken" | "ExpiredTokenException"
    ) || rejection.operation != crate::diagnose::Operation::AssumeRoleWithWebIdentity
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
