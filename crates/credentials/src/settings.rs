//! Turning flags and a step's environment into [`Settings`]: the role, region, token and session options of one
//! assume. Every way this can fail is a [`SettingsError`] that names the missing or wrong input and the line to
//! add to the pipeline.

use std::path::{Path, PathBuf};
use std::time::Duration;

use keyless_net::http::ProxyConfig;

use crate::arn::{self, RoleArn};
use crate::duration;
use crate::env::Env;
use crate::secret::Secret;
use crate::session_name;
use crate::tags::{self, ChainExtras, ChainInputs};
use crate::token::{TokenError, TokenInfo, TokenSource};

/// Environment variables that name the role, in order of precedence.
pub const ROLE_ENV: [&str; 2] = ["AWS_ROLE_ARN", "AWS_OIDC_ROLE_ARN"];
/// Environment variables that name the region, in order of precedence.
pub const REGION_ENV: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];
/// Environment variables that override the STS endpoint, in order of precedence.
pub const ENDPOINT_ENV: [&str; 2] = ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"];
/// The variable Bitbucket puts the step's OIDC token in.
pub const TOKEN_ENV: &str = "BITBUCKET_STEP_OIDC_TOKEN";
/// Default total time budget for getting credentials.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Clock skew tolerated before calling a token expired locally.
pub const EXPIRY_SKEW_SECS: i64 = 60;

/// The raw options, as given on the command line (environment fallbacks are applied by [`resolve`]).
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `--role-arn`.
    pub role_arn: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--token-file`.
    pub token_file: Option<PathBuf>,
    /// `--session-name`.
    pub session_name: Option<String>,
    /// `--duration`.
    pub duration: Option<String>,
    /// `--chain` (repeatable, in order).
    pub chain: Vec<String>,
    /// `--policy FILE`.
    pub policy_file: Option<PathBuf>,
    /// `--policy-arn` (repeatable).
    pub policy_arns: Vec<String>,
    /// `--allowed-account-ids` (comma-separated values, repeatable).
    pub allowed_account_ids: Vec<String>,
    /// `--endpoint-url`.
    pub endpoint_url: Option<String>,
    /// `--timeout`.
    pub timeout: Option<String>,
    /// `--tag`, `--default-tags`, `--transitive-tag`, `--source-identity`, `--external-id` (for `--chain` hops).
    pub chain_extras: ChainInputs,
}

/// Role and region taken from a `keyless.yml` environment (`--env NAME`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentDefaults {
    /// The environment's name.
    pub name: String,
    /// Its deploy role, if it names one.
    pub role_arn: Option<String>,
    /// Its region, if it names one.
    pub region: Option<String>,
}

/// Everything one assume needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The role assumed with the web-identity token.
    pub role_arn: RoleArn,
    /// The region (always explicit: the Rust SDK has no global fallback).
    pub region: String,
    /// The OIDC token.
    pub token: Secret,
    /// Where the token came from.
    pub token_source: TokenSource,
    /// What the token says (unverified).
    pub token_info: TokenInfo,
    /// Role session name.
    pub session_name: String,
    /// Requested session length in seconds.
    pub duration_secs: u64,
    /// Roles to assume in turn with `AssumeRole`, after the web-identity role.
    pub chain: Vec<RoleArn>,
    /// Inline session policy (minified JSON).
    pub policy: Option<String>,
    /// Managed session policies.
    pub policy_arns: Vec<String>,
    /// Accounts the final credentials may belong to (empty = any).
    pub allowed_account_ids: Vec<String>,
    /// STS endpoint override.
    pub endpoint_url: Option<String>,
    /// Total time budget, retries included.
    pub timeout: Duration,
    /// The `keyless.yml` environment used, if any.
    pub environment: Option<String>,
    /// Session tags, source identity and external IDs for the `--chain` hops.
    pub extras: ChainExtras,
    /// Proxies for the STS calls: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY` of the same environment.
    pub proxy: ProxyConfig,
}

impl Settings {
    /// The role whose credentials come out at the end (the last `--chain` role, or the web-identity role).
    pub fn final_role(&self) -> &RoleArn {
        self.chain.last().unwrap_or(&self.role_arn)
    }
}

/// A problem with the inputs, found before any call to AWS. Always the user's (or the pipeline's) to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// No token anywhere.
    #[error(
        "no OIDC token: ${TOKEN_ENV} is not set{hint}.\n  fix: add `oidc: true` to this step in bitbucket-pipelines.yml (Bitbucket only gives the token to steps that ask for it){outside}"
    )]
    MissingToken {
        /// Extra context (e.g. a role variable is set, so OIDC was intended).
        hint: String,
        /// Advice when not running in Pipelines.
        outside: String,
    },
    /// The token file could not be read.
    #[error(
        "cannot read the token file {path}: {reason}\n  fix: point --token-file at a readable file that holds the OIDC token, or drop it to use ${TOKEN_ENV}"
    )]
    TokenFile {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The token is not a JWT.
    #[error("the OIDC token from {from} is unusable: {error}")]
    BadToken {
        /// Where it came from.
        from: TokenSource,
        /// What is wrong.
        error: TokenError,
    },
    /// The token's `exp` is in the past.
    #[error(
        "the OIDC token from {from} expired {ago} ago (exp {exp}).\n  cause: Bitbucket mints one token per step and never refreshes it, so a step that runs longer than the token's lifetime cannot assume a role late.\n  fix: run keyless at the start of the step (credentials last --duration, up to the role's MaxSessionDuration), or split the work into separate steps with `oidc: true` each"
    )]
    TokenExpired {
        /// Where it came from.
        from: TokenSource,
        /// The `exp` claim (Unix seconds).
        exp: i64,
        /// How long ago, human form.
        ago: String,
    },
    /// No region.
    #[error(
        "no AWS region{context}.\n  fix: pass --region, or set AWS_REGION (or AWS_DEFAULT_REGION) as a repository or deployment variable, e.g. `export AWS_REGION=eu-west-1`. keyless never guesses: without a region the AWS SDKs fail to assume a role (\"Missing Region\")"
    )]
    MissingRegion {
        /// E.g. " (the keyless.yml environment `prod` names none)".
        context: String,
    },
    /// The region is not a region name.
    #[error(
        "`{0}` is not an AWS region name (expected lowercase letters, digits and dashes, like `eu-west-1`)\n  fix: set --region / AWS_REGION to a region such as `us-east-1`{1}"
    )]
    InvalidRegion(String, String),
    /// No role.
    #[error(
        "no role to assume{context}.\n  fix: pass --role-arn, or set AWS_ROLE_ARN (or AWS_OIDC_ROLE_ARN, as the Atlassian pipes use) to `arn:aws:iam::ACCOUNT:role/NAME`, or use --env NAME with a keyless.yml environment"
    )]
    MissingRoleArn {
        /// Extra context.
        context: String,
    },
    /// A role ARN is malformed.
    #[error("{from}: {error}")]
    InvalidRoleArn {
        /// Which input (e.g. `--role-arn`, `AWS_ROLE_ARN`, `--chain`).
        from: String,
        /// The parse error.
        error: arn::ArnError,
    },
    /// A managed policy ARN is malformed.
    #[error("--policy-arn: {0}")]
    InvalidPolicyArn(arn::ArnError),
    /// More than 10 managed session policies.
    #[error("{0} --policy-arn values; STS accepts at most 10 managed session policies")]
    TooManyPolicyArns(usize),
    /// The session policy file is unreadable or not JSON.
    #[error("--policy {path}: {reason}\n  fix: {fix}")]
    Policy {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// How to fix it.
        fix: String,
    },
    /// Bad `--duration`.
    #[error("--duration {0}")]
    InvalidDuration(String),
    /// Chained sessions are capped at 1 h.
    #[error(
        "--duration {0} with --chain: AWS limits sessions obtained by role chaining to 1 hour.\n  fix: use --duration 1h or less, or assume the final role directly with its own trust policy for the web identity"
    )]
    ChainedDurationTooLong(String),
    /// Bad `--session-name`.
    #[error(
        "--session-name: {0}\n  fix: drop --session-name to use the default built from the repository, build number and step"
    )]
    InvalidSessionName(String),
    /// Bad `--allowed-account-ids` value.
    #[error("--allowed-account-ids: `{0}` is not a 12-digit AWS account ID")]
    InvalidAccountId(String),
    /// The role is in an account that is not allowed.
    #[error(
        "role {role} is in account {account}, which --allowed-account-ids ({allowed}) does not allow.\n  fix: check the role ARN (a copy from another environment?) or add the account to --allowed-account-ids"
    )]
    AccountNotAllowed {
        /// The role.
        role: String,
        /// Its account.
        account: String,
        /// The allowed list.
        allowed: String,
    },
    /// Bad endpoint URL.
    #[error(
        "{from}: `{value}` is not an http(s) URL\n  fix: use e.g. `https://sts.eu-west-1.amazonaws.com` or the emulator's `http://127.0.0.1:PORT`"
    )]
    InvalidEndpoint {
        /// Which input.
        from: String,
        /// The value.
        value: String,
    },
    /// Bad `--timeout`.
    #[error("--timeout {0}")]
    InvalidTimeout(String),
    /// A bad `--tag`, `--default-tags`, `--transitive-tag`, `--source-identity` or `--external-id`, or one of
    /// them without `--chain`.
    #[error("{0}")]
    ChainExtras(String),
    /// Several of the above at once.
    #[error("{}", .0.iter().map(|e| format!("- {e}")).collect::<Vec<_>>().join("\n"))]
    Several(Vec<SettingsError>),
}

/// Resolves the role ARN: flag, then `keyless.yml` environment, then `AWS_ROLE_ARN`, then `AWS_OIDC_ROLE_ARN`.
pub fn resolve_role(
    inputs: &Inputs,
    env: &Env,
    defaults: Option<&EnvironmentDefaults>,
) -> Result<RoleArn, SettingsError> {
    let (from, value) = if let Some(v) = inputs.role_arn.as_deref().filter(|v| !v.trim().is_empty())
    {
        ("--role-arn".to_owned(), v.to_owned())
    } else if let Some(v) = defaults.and_then(|d| d.role_arn.clone()) {
        (
            format!(
                "keyless.yml environment `{}`",
                defaults.map(|d| d.name.as_str()).unwrap_or_default()
            ),
            v,
        )
    } else if let Some((name, v)) = env.first(&ROLE_ENV) {
        (name.to_owned(), v.to_owned())
    } else {
        let context = match defaults {
            Some(d) => format!(
                " (the keyless.yml environment `{}` names no role, and AWS_ROLE_ARN is not set)",
                d.name
            ),
            None => " (no --role-arn, AWS_ROLE_ARN or AWS_OIDC_ROLE_ARN)".to_owned(),
        };
        return Err(SettingsError::MissingRoleArn { context });
    };
    RoleArn::parse(&value).map_err(|error| SettingsError::InvalidRoleArn { from, error })
}

/// Resolves the region: flag, then `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the `keyless.yml` environment.
pub fn resolve_region(
    inputs: &Inputs,
    env: &Env,
    defaults: Option<&EnvironmentDefaults>,
) -> Result<String, SettingsError> {
    let (from, region) = if let Some(v) = inputs
        .region
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        ("--region", v.to_owned())
    } else if let Some((name, v)) = env.first(&REGION_ENV) {
        (name, v.to_owned())
    } else if let Some(v) = defaults.and_then(|d| d.region.clone()) {
        ("keyless.yml", v)
    } else {
        let context = match defaults {
            Some(d) => format!(
                " (the keyless.yml environment `{}` names none, and AWS_REGION/AWS_DEFAULT_REGION are unset)",
                d.name
            ),
            None => " (no --region, AWS_REGION or AWS_DEFAULT_REGION)".to_owned(),
        };
        return Err(SettingsError::MissingRegion { context });
    };
    // Every AWS region name is lowercase words and ends in `-<digits>` (us-east-1, us-gov-west-1, eu-isoe-west-1).
    let valid = region
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && region.rsplit_once('-').is_some_and(|(head, tail)| {
            !head.is_empty() && !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit())
        });
    if !valid {
        let hint = if region.ends_with(|c: char| c.is_ascii_lowercase())
            && region.len() > 2
            && region[..region.len() - 1].ends_with(|c: char| c.is_ascii_digit())
        {
            format!(
                " (`{region}` looks like an availability zone; the region is `{}`)",
                &region[..region.len() - 1]
            )
        } else {
            format!(" (from {from})")
        };
        return Err(SettingsError::InvalidRegion(region, hint));
    }
    Ok(region)
}

/// Reads the token: `--token-file`, then `$BITBUCKET_STEP_OIDC_TOKEN`, then `AWS_WEB_IDENTITY_TOKEN_FILE`.
pub fn resolve_token(inputs: &Inputs, env: &Env) -> Result<(Secret, TokenSource), SettingsError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map(|s| Secret::new(s.trim()))
            .map_err(|e| SettingsError::TokenFile {
                path: path.to_owned(),
                reason: e.to_string(),
            })
    };
    let (token, source) = if let Some(path) = &inputs.token_file {
        (read(path)?, TokenSource::File(path.clone()))
    } else if let Some(value) = env.get(TOKEN_ENV) {
        (
            Secret::new(value),
            TokenSource::EnvVar(TOKEN_ENV.to_owned()),
        )
    } else if let Some(path) = env.get("AWS_WEB_IDENTITY_TOKEN_FILE") {
        let path = PathBuf::from(path);
        (read(&path)?, TokenSource::WebIdentityTokenFile(path))
    } else {
        let hint = match env.first(&ROLE_ENV) {
            Some((name, _)) => format!(
                " although {name} is set, so this step is meant to use OIDC (Atlassian pipes silently fall back to access keys here)"
            ),
            None => String::new(),
        };
        let outside = if env.in_pipelines() {
            String::new()
        } else {
            "; not running in Bitbucket Pipelines, so pass --token-file FILE with a token instead"
                .to_owned()
        };
        return Err(SettingsError::MissingToken { hint, outside });
    };
    if token.is_empty() {
        return Err(SettingsError::MissingToken {
            hint: format!(" ({source} is empty)"),
            outside: String::new(),
        });
    }
    Ok((token, source))
}

/// Decodes the token and refuses one that has already expired (beyond [`EXPIRY_SKEW_SECS`]).
pub fn inspect_token(
    token: &Secret,
    source: &TokenSource,
    now_unix: i64,
) -> Result<TokenInfo, SettingsError> {
    let info = TokenInfo::decode(token).map_err(|error| SettingsError::BadToken {
        from: source.clone(),
        error,
    })?;
    if let Some(left) = info.expires_in(now_unix)
        && left < -EXPIRY_SKEW_SECS
    {
        return Err(SettingsError::TokenExpired {
            from: source.clone(),
            exp: info.exp.unwrap_or_default(),
            ago: duration::human(left.unsigned_abs()),
        });
    }
    Ok(info)
}

fn keep<T>(errors: &mut Vec<SettingsError>, result: Result<T, SettingsError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// Resolves everything, reporting every problem found (not just the first).
pub fn resolve(
    inputs: &Inputs,
    env: &Env,
    defaults: Option<&EnvironmentDefaults>,
    now_unix: i64,
) -> Result<Settings, SettingsError> {
    let mut errors = Vec::new();

    let token = keep(
        &mut errors,
        resolve_token(inputs, env).and_then(|(token, source)| {
            let info = inspect_token(&token, &source, now_unix)?;
            Ok((token, source, info))
        }),
    );
    let region = keep(&mut errors, resolve_region(inputs, env, defaults));
    let role = keep(&mut errors, resolve_role(inputs, env, defaults));
    let chain: Vec<RoleArn> = inputs
        .chain
        .iter()
        .filter_map(|c| {
            keep(
                &mut errors,
                RoleArn::parse(c).map_err(|error| SettingsError::InvalidRoleArn {
                    from: "--chain".to_owned(),
                    error,
                }),
            )
        })
        .collect();
    let duration_secs = match &inputs.duration {
        None => Some(3600),
        Some(d) => keep(
            &mut errors,
            duration::parse_session(d)
                .map_err(SettingsError::InvalidDuration)
                .and_then(|secs| {
                    if !inputs.chain.is_empty() && secs > duration::MAX_CHAINED_SESSION {
                        Err(SettingsError::ChainedDurationTooLong(d.clone()))
                    } else {
                        Ok(secs)
                    }
                }),
        ),
    };
    let session_name = match &inputs.session_name {
        Some(name) => keep(
            &mut errors,
            session_name::validate(name)
                .map(|()| name.clone())
                .map_err(SettingsError::InvalidSessionName),
        ),
        None => Some(session_name::default_name(
            env.get("BITBUCKET_REPO_SLUG"),
            env.get("BITBUCKET_BUILD_NUMBER"),
            env.get("BITBUCKET_STEP_UUID"),
            now_unix,
        )),
    };
    let policy = match &inputs.policy_file {
        Some(path) => keep(&mut errors, read_policy(path)).map(Some),
        None => Some(None),
    };
    for arn in &inputs.policy_arns {
        keep(
            &mut errors,
            arn::validate_policy_arn(arn).map_err(SettingsError::InvalidPolicyArn),
        );
    }
    if inputs.policy_arns.len() > 10 {
        errors.push(SettingsError::TooManyPolicyArns(inputs.policy_arns.len()));
    }
    let mut allowed_account_ids = Vec::new();
    for id in inputs
        .allowed_account_ids
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
            allowed_account_ids.push(id.to_owned());
        } else {
            errors.push(SettingsError::InvalidAccountId(id.to_owned()));
        }
    }
    let extras = keep(
        &mut errors,
        tags::resolve(&inputs.chain_extras, env, inputs.chain.len())
            .map_err(SettingsError::ChainExtras),
    );
    let endpoint_url = resolve_endpoint(inputs, env)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let timeout = match &inputs.timeout {
        None => Some(DEFAULT_TIMEOUT),
        Some(t) => match duration::parse(t) {
            Ok(d) if d.as_secs() >= 1 => Some(d),
            Ok(_) => {
                errors.push(SettingsError::InvalidTimeout(format!(
                    "{t}: must be at least 1s"
                )));
                None
            }
            Err(e) => {
                errors.push(SettingsError::InvalidTimeout(e));
                None
            }
        },
    };

    if let Some(role) = &role {
        let final_role = chain.last().unwrap_or(role);
        if !allowed_account_ids.is_empty()
            && !allowed_account_ids
                .iter()
                .any(|a| a == final_role.account())
        {
            errors.push(SettingsError::AccountNotAllowed {
                role: final_role.to_string(),
                account: final_role.account().to_owned(),
                allowed: allowed_account_ids.join(","),
            });
        }
    }

    match errors.len() {
        0 => {}
        1 => return Err(errors.remove(0)),
        _ => return Err(SettingsError::Several(errors)),
    }
    match (
        token,
        region,
        role,
        duration_secs,
        session_name,
        policy,
        timeout,
        extras,
    ) {
        (
            Some((token, token_source, token_info)),
            Some(region),
            Some(role_arn),
            Some(duration_secs),
            Some(session_name),
            Some(policy),
            Some(timeout),
            Some(extras),
        ) => Ok(Settings {
            role_arn,
            region,
            token,
            token_source,
            token_info,
            session_name,
            duration_secs,
            chain,
            policy,
            policy_arns: inputs
                .policy_arns
                .iter()
                .map(|a| a.trim().to_owned())
                .collect(),
            allowed_account_ids,
            endpoint_url,
            timeout,
            environment: defaults.map(|d| d.name.clone()),
            extras,
            proxy: ProxyConfig::from_vars(|name| env.get(name).map(str::to_owned)),
        }),
        // Every `None` above pushed an error, so this arm is unreachable in practice; keep a truthful message.
        _ => Err(SettingsError::Several(Vec::new())),
    }
}

/// Resolves the STS endpoint override: `--endpoint-url`, `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`.
pub fn resolve_endpoint(inputs: &Inputs, env: &Env) -> Result<Option<String>, SettingsError> {
    let (from, value) = if let Some(v) = inputs
        .endpoint_url
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        ("--endpoint-url", v)
    } else if let Some((name, v)) = env.first(&ENDPOINT_ENV) {
        (name, v)
    } else {
        return Ok(None);
    };
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
        return Err(SettingsError::InvalidEndpoint {
            from: from.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(Some(value.trim_end_matches('/').to_owned()))
}

/// Reads, validates and minifies a session policy file.
pub fn read_policy(path: &Path) -> Result<String, SettingsError> {
    let fail = |reason: String, fix: &str| SettingsError::Policy {
        path: path.to_owned(),
        reason,
        fix: fix.to_owned(),
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(e.to_string(), "pass a readable JSON policy file"))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        fail(
            format!(
                "not valid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
            "fix the JSON syntax",
        )
    })?;
    let Some(object) = value.as_object() else {
        return Err(fail(
            "a policy is a JSON object".to_owned(),
            "write {\"Version\": \"2012-10-17\", \"Statement\": [...]}",
        ));
    };
    if !object.contains_key("Statement") {
        return Err(fail(
            "no `Statement`".to_owned(),
            "add a Statement array; a session policy can only narrow the role's permissions",
        ));
    }
    let minified = value.to_string();
    if minified.len() > 2048 {
        return Err(fail(
            format!(
                "{} characters after minifying; STS accepts at most 2048 for an inline session policy",
                minified.len()
            ),
            "narrow it, or move statements into a managed policy and pass --policy-arn",
        ));
    }
    Ok(minified)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::token::tests::jwt;

    const ROLE: &str = "arn:aws:iam::123456789012:role/deploy";

    fn token(exp: i64) -> String {
        jwt(&serde_json::json!({"iss":"https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc","aud":"ari:cloud:bitbucket::workspace/u","sub":"{r}:{s}","exp":exp,"iat":exp-3600}))
            .expose()
            .to_owned()
    }

    fn step_env() -> Env {
        Env::from_pairs([
            ("BITBUCKET_STEP_OIDC_TOKEN", token(10_000)),
            ("AWS_REGION", "eu-west-1".to_owned()),
            ("AWS_ROLE_ARN", ROLE.to_owned()),
            ("BITBUCKET_REPO_SLUG", "site".to_owned()),
            ("BITBUCKET_BUILD_NUMBER", "7".to_owned()),
            ("BITBUCKET_STEP_UUID", "{0b0c}".to_owned()),
        ])
    }

    #[test]
    fn resolves_a_bitbucket_step() {
        let s = resolve(&Inputs::default(), &step_env(), None, 5_000).unwrap();
        assert_eq!(s.role_arn.as_str(), ROLE);
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(s.session_name, "site-7-0b0c");
        assert_eq!(s.duration_secs, 3600);
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
        assert_eq!(s.token_source, TokenSource::EnvVar(TOKEN_ENV.to_owned()));
        assert!(!format!("{s:?}").contains(step_env().get(TOKEN_ENV).unwrap()));
    }

    #[test]
    fn precedence_of_fallbacks() {
        let env = Env::from_pairs([
            ("AWS_OIDC_ROLE_ARN", "arn:aws:iam::111111111111:role/pipe"),
            ("AWS_DEFAULT_REGION", "us-east-2"),
        ]);
        assert_eq!(
            resolve_role(&Inputs::default(), &env, None)
                .unwrap()
                .account(),
            "111111111111"
        );
        assert_eq!(
            resolve_region(&Inputs::default(), &env, None).unwrap(),
            "us-east-2"
        );
        let inputs = Inputs {
            region: Some("ap-south-1".into()),
            role_arn: Some(ROLE.into()),
            ..Inputs::default()
        };
        assert_eq!(resolve_region(&inputs, &env, None).unwrap(), "ap-south-1");
        assert_eq!(resolve_role(&inputs, &env, None).unwrap().as_str(), ROLE);
        let defaults = EnvironmentDefaults {
            name: "prod".into(),
            role_arn: Some("arn:aws:iam::222222222222:role/prod".into()),
            region: Some("eu-central-1".into()),
        };
        assert_eq!(
            resolve_role(&Inputs::default(), &env, Some(&defaults))
                .unwrap()
                .account(),
            "222222222222"
        );
        // An explicitly exported AWS_REGION still wins over the keyless.yml default.
        assert_eq!(
            resolve_region(&Inputs::default(), &env, Some(&defaults)).unwrap(),
            "us-east-2"
        );
        assert_eq!(
            resolve_region(&Inputs::default(), &Env::default(), Some(&defaults)).unwrap(),
            "eu-central-1"
        );
    }

    #[test]
    fn missing_token_says_add_oidc_true() {
        let env = Env::from_pairs([("AWS_OIDC_ROLE_ARN", ROLE), ("BITBUCKET_BUILD_NUMBER", "1")]);
        let err = resolve_token(&Inputs::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("add `oidc: true`"), "{err}");
        assert!(err.contains("AWS_OIDC_ROLE_ARN is set"), "{err}");
        let err = resolve_token(&Inputs::default(), &Env::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--token-file"), "{err}");
    }

    #[test]
    fn missing_region_and_role_are_both_reported() {
        let env = Env::from_pairs([("BITBUCKET_STEP_OIDC_TOKEN", token(10_000))]);
        let err = resolve(&Inputs::default(), &env, None, 5_000).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, SettingsError::Several(ref v) if v.len() == 2),
            "{text}"
        );
        assert!(
            text.contains("AWS_REGION") && text.contains("eu-west-1"),
            "{text}"
        );
        assert!(text.contains("AWS_ROLE_ARN"), "{text}");
    }

    #[test]
    fn region_validation() {
        let inputs = Inputs {
            region: Some("eu-west-1a".into()),
            ..Inputs::default()
        };
        let err = resolve_region(&inputs, &Env::default(), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("availability zone") && err.contains("`eu-west-1`"),
            "{err}"
        );
        let inputs = Inputs {
            region: Some("EU West".into()),
            ..Inputs::default()
        };
        assert!(resolve_region(&inputs, &Env::default(), None).is_err());
    }

    #[test]
    fn expired_token_is_refused_before_calling_aws() {
        let mut env = step_env();
        env.set("BITBUCKET_STEP_OIDC_TOKEN", token(1_000));
        let err = resolve(&Inputs::default(), &env, None, 5_000)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("expired 1h6m40s ago") && err.contains("never refreshes"),
            "{err}"
        );
        // Within the skew allowance it passes.
        assert!(resolve(&Inputs::default(), &env, None, 1_030).is_ok());
    }

    #[test]
    fn malformed_token() {
        let mut env = step_env();
        env.set("BITBUCKET_STEP_OIDC_TOKEN", "$BITBUCKET_STEP_OIDC_TOKEN");
        let err = resolve(&Inputs::default(), &env, None, 5_000)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a JWT"), "{err}");
        assert!(!err.contains("$BITBUCKET_STEP_OIDC_TOKEN\n"));
    }

    #[test]
    fn chain_duration_cap_and_account_allow_list() {
        let inputs = Inputs {
            chain: vec!["arn:aws:iam::999999999999:role/target".into()],
            duration: Some("2h".into()),
            ..Inputs::default()
        };
        let err = resolve(&inputs, &step_env(), None, 5_000)
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 hour"), "{err}");
        let inputs = Inputs {
            chain: vec!["arn:aws:iam::999999999999:role/target".into()],
            allowed_account_ids: vec!["123456789012".into()],
            ..Inputs::default()
        };
        let err = resolve(&inputs, &step_env(), None, 5_000)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("999999999999") && err.contains("--allowed-account-ids"),
            "{err}"
        );
        let inputs = Inputs {
            allowed_account_ids: vec!["123456789012, 12".into()],
            ..Inputs::default()
        };
        assert!(
            resolve(&inputs, &step_env(), None, 5_000)
                .unwrap_err()
                .to_string()
                .contains("`12`")
        );
    }

    #[test]
    fn endpoint_precedence_and_validation() {
        let env = Env::from_pairs([
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2/"),
        ]);
        assert_eq!(
            resolve_endpoint(&Inputs::default(), &env)
                .unwrap()
                .as_deref(),
            Some("http://127.0.0.1:2")
        );
        let inputs = Inputs {
            endpoint_url: Some("localhost:4566".into()),
            ..Inputs::default()
        };
        assert!(resolve_endpoint(&inputs, &env).is_err());
    }

    #[test]
    fn policy_file_checks() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("p.json");
        std::fs::write(&good, "{\n \"Version\": \"2012-10-17\",\n \"Statement\": [{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]\n}\n").unwrap();
        assert!(!read_policy(&good).unwrap().contains('\n'));
        let bad = dir.path().join("bad.json");
        std::fs::write(
            &bad,
            "{\n \"Version\": \"2012-10-17\",\n \"Statement\": [,]\n}",
        )
        .unwrap();
        let err = read_policy(&bad).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn session_name_flag_is_validated_not_rewritten() {
        let inputs = Inputs {
            session_name: Some("build:42".into()),
            ..Inputs::default()
        };
        let err = resolve(&inputs, &step_env(), None, 5_000)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`:`"), "{err}");
    }
}
