//! The enforcement configuration: the environments of `keyless.yml` (the fields enforcement reads)
//! and its `policy:` section.
//!
//! Loaded with the same YAML library as `keyless-workspace` (serde-saphyr), reading only the keys
//! enforcement needs, so this crate does not depend on the full workspace loader.

use indexmap::IndexMap;
use serde::Deserialize;

/// Runner labels every self-hosted runner carries or that only say what kind of runner it is; they
/// never tie a step to one environment.
pub const GENERIC_RUNNER_LABELS: &[&str] = &[
    "self.hosted",
    "linux",
    "linux.shell",
    "linux.arm64",
    "windows",
    "macos",
];

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}: {message}")]
    Yaml { origin: String, message: String },
    #[error("{origin}: policy: {message} (see docs/enforce.md for the policy keys)")]
    Policy { origin: String, message: String },
    #[error("{origin}: policy: {message}")]
    Invalid { origin: String, message: String },
}

/// What enforcement reads from `keyless.yml`.
#[derive(Debug, Clone)]
pub struct EnforceConfig {
    /// In file order.
    pub environments: IndexMap<String, EnvironmentSpec>,
    pub policy: Policy,
}

#[derive(Debug, Clone, Deserialize)]
struct RawFile {
    #[serde(default)]
    environments: IndexMap<String, EnvironmentSpec>,
    #[serde(default)]
    policy: Option<serde_json::Value>,
}

/// One environment, as enforcement needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct EnvironmentSpec {
    pub account: String,
    pub region: String,
    /// Branch globs allowed to deploy; none means no branch may.
    #[serde(default)]
    pub branches: Vec<String>,
    #[serde(default)]
    pub runners: Option<Runners>,
    #[serde(default)]
    pub source_ips: Vec<String>,
    #[serde(default)]
    pub trigger: Option<String>,
    pub role: RoleSpec,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Runners {
    #[serde(default)]
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RoleSpec {
    pub name: String,
    #[serde(default)]
    pub path: Option<String>,
}

impl EnvironmentSpec {
    pub fn runner_labels(&self) -> &[String] {
        self.runners.as_ref().map_or(&[], |r| r.labels.as_slice())
    }

    /// Runs on self-hosted runners.
    pub fn self_hosted(&self) -> bool {
        self.runner_labels().iter().any(|l| l == "self.hosted")
    }

    pub fn manual(&self) -> bool {
        self.trigger.as_deref() == Some("manual")
    }

    /// `arn:aws:iam::<account>:role<path><name>` (path `/` by default), as keyless-workspace builds it.
    pub fn role_arn(&self) -> String {
        let path = self.role.path.as_deref().unwrap_or("/");
        format!(
            "arn:aws:iam::{}:role{}{}",
            self.account, path, self.role.name
        )
    }

    /// Whether `branch` matches one of the allowed globs.
    pub fn allows_branch(&self, branch: &str) -> bool {
        self.branches
            .iter()
            .any(|p| keyless_pipelines::glob_matches(p, branch))
    }
}

/// The form of the OIDC setup prepended to deployment steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SetupForm {
    /// Plain shell: region, role ARN and the token file (no keyless binary needed in the image).
    #[default]
    Shell,
    /// `keyless configure --env E`.
    Keyless,
}

/// The `policy:` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// How the OIDC setup is written.
    #[serde(default)]
    pub setup: SetupForm,
    /// Runner labels only production steps may use. Default: the labels of the environments named
    /// in `production_environments` that are not generic (`self.hosted`, `linux`, ...).
    #[serde(default)]
    pub production_labels: Option<Vec<String>>,
    /// Which environments are production (default: `[production]` when such an environment exists).
    #[serde(default)]
    pub production_environments: Option<Vec<String>>,
    #[serde(default)]
    pub forbidden: Forbidden,
    /// Steps put at the start of every pipeline.
    #[serde(default)]
    pub prepend: Vec<PrependStep>,
    /// Give cloud-runner steps of environments with `source_ips` Atlassian's IP ranges (default true).
    #[serde(default = "yes")]
    pub atlassian_ip_ranges: bool,
    /// The step size used with `atlassian-ip-ranges` when the step's size does not support it.
    #[serde(default = "default_ip_size")]
    pub atlassian_ip_size: String,
}

fn yes() -> bool {
    true
}

fn default_ip_size() -> String {
    "4x".to_string()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forbidden {
    #[serde(default)]
    pub scripts: Vec<ForbiddenScript>,
    #[serde(default)]
    pub pipes: Vec<ForbiddenPipe>,
    #[serde(default)]
    pub images: Vec<ForbiddenImage>,
}

/// A script line matching `regex` is refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForbiddenScript {
    pub regex: String,
    pub message: String,
}

/// A pipe (glob on `owner/name`), optionally only some versions (globs), is refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForbiddenPipe {
    pub pipe: String,
    #[serde(default)]
    pub versions: Option<Vec<String>>,
    pub message: String,
}

/// An image (glob on the full name) is refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForbiddenImage {
    pub image: String,
    pub message: String,
}

/// A step prepended to every pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrependStep {
    /// Also how an existing copy is recognised (never added twice).
    pub name: String,
    #[serde(default)]
    pub image: Option<String>,
    pub script: Vec<String>,
}

impl Policy {
    /// Reads the `policy:` value (as `keyless-workspace` keeps it).
    pub fn from_value(value: serde_json::Value) -> Result<Policy, serde_json::Error> {
        serde_json::from_value(value)
    }
}

impl EnforceConfig {
    /// Loads the environments and the policy from `keyless.yml` text.
    pub fn from_yaml(text: &str, origin: &str) -> Result<EnforceConfig, ConfigError> {
        let raw: RawFile = serde_saphyr::from_str(text).map_err(|e| ConfigError::Yaml {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        let policy = match raw.policy {
            None | Some(serde_json::Value::Null) => Policy::default_enabled(),
            Some(v) => Policy::from_value(v).map_err(|e| ConfigError::Policy {
                origin: origin.to_string(),
                message: e.to_string(),
            })?,
        };
        let config = EnforceConfig {
            environments: raw.environments,
            policy,
        };
        config.check(origin)?;
        Ok(config)
    }

    /// Builds a configuration from already-loaded parts.
    pub fn new(
        environments: IndexMap<String, EnvironmentSpec>,
        policy: Policy,
    ) -> Result<EnforceConfig, ConfigError> {
        let config = EnforceConfig {
            environments,
            policy,
        };
        config.check("<config>")?;
        Ok(config)
    }

    fn check(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.to_string(),
            message,
        };
        for (i, s) in self.policy.forbidden.scripts.iter().enumerate() {
            regex::Regex::new(&s.regex).map_err(|e| {
                invalid(format!(
                    "forbidden.scripts[{i}].regex is not a valid regular expression: {e}"
                ))
            })?;
        }
        for name in self.production_environments() {
            if !self.environments.contains_key(&name) {
                return Err(invalid(format!(
                    "production_environments names `{name}`, which is not under environments:"
                )));
            }
        }
        if !["4x", "8x"].contains(&self.policy.atlassian_ip_size.as_str()) {
            return Err(invalid(format!(
                "atlassian_ip_size is `{}`; Atlassian IP ranges need 4x or 8x",
                self.policy.atlassian_ip_size
            )));
        }
        Ok(())
    }

    /// The production environments: the policy's list, else `production` when defined.
    pub fn production_environments(&self) -> Vec<String> {
        match &self.policy.production_environments {
            Some(list) => list.clone(),
            None if self.environments.contains_key("production") => {
                vec!["production".to_string()]
            }
            None => Vec::new(),
        }
    }

    /// Labels only production steps may carry.
    pub fn production_labels(&self) -> Vec<String> {
        if let Some(labels) = &self.policy.production_labels {
            return labels.clone();
        }
        let mut out = Vec::new();
        for name in self.production_environments() {
            if let Some(env) = self.environments.get(&name) {
                for l in env.runner_labels() {
                    if !GENERIC_RUNNER_LABELS.contains(&l.as_str()) && !out.contains(l) {
                        out.push(l.clone());
                    }
                }
            }
        }
        out
    }

    /// Labels that tie a step to environment `name` (its non-generic labels).
    pub fn specific_labels(&self, name: &str) -> Vec<String> {
        self.environments
            .get(name)
            .map(|e| {
                e.runner_labels()
                    .iter()
                    .filter(|l| !GENERIC_RUNNER_LABELS.contains(&l.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Policy {
    /// The policy used when `keyless.yml` has no `policy:` section: shell setup, nothing forbidden,
    /// nothing prepended, IP ranges on.
    pub fn default_enabled() -> Policy {
        Policy {
            atlassian_ip_ranges: true,
            atlassian_ip_size: default_ip_size(),
            ..Policy::default()
        }
    }
}
