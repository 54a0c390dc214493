//! The enforcement configuration: `keyless.yml` as `keyless-workspace` loads and validates it (environments and
//! the typed `policy:` section), plus the policy facts enforcement derives from it (production environments and
//! labels, labels specific to one environment).
//!
//! enforce never parses `keyless.yml` itself: the workspace crate owns the file, its schema and its diagnostics
//! (with line and column), so `plan`, `check`, `render` and `serve` cannot read it differently.

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use keyless_workspace::Config;
pub use keyless_workspace::policy::{
    Forbidden, ForbiddenImage, ForbiddenPipe, ForbiddenScript, Policy, PrependStep, SetupForm,
};

/// One environment, as `keyless-workspace` validated it.
pub type EnvironmentSpec = keyless_workspace::Environment;

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

/// Why the configuration could not be loaded: the workspace loader's error, which shows every mistake with its
/// file, line, column and fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Load(#[from] keyless_workspace::LoadError),
}

/// What enforcement reads: the loaded `keyless.yml` and the policy in effect.
#[derive(Debug, Clone)]
pub struct EnforceConfig {
    workspace: Arc<Config>,
    /// The `policy:` section, or [`Policy::default`] without one.
    pub policy: Policy,
}

impl EnforceConfig {
    /// Loads `keyless.yml` text through `keyless_workspace::parse` (`origin` names it in diagnostics).
    pub fn from_yaml(text: &str, origin: &str) -> Result<EnforceConfig, ConfigError> {
        Ok(EnforceConfig::from_workspace(keyless_workspace::parse(
            text, origin,
        )?))
    }

    /// Loads the file at `path` through `keyless_workspace::load`.
    pub fn load(path: &Path) -> Result<EnforceConfig, ConfigError> {
        Ok(EnforceConfig::from_workspace(keyless_workspace::load(
            path,
        )?))
    }

    /// Enforcement over an already-loaded configuration (validated by the loader, so this cannot fail).
    pub fn from_workspace(config: impl Into<Arc<Config>>) -> EnforceConfig {
        let workspace: Arc<Config> = config.into();
        let policy = workspace.policy.clone().unwrap_or_default();
        EnforceConfig { workspace, policy }
    }

    /// The loaded `keyless.yml`.
    pub fn workspace(&self) -> &Config {
        &self.workspace
    }

    /// The environments, in file order.
    pub fn environments(&self) -> &IndexMap<String, EnvironmentSpec> {
        &self.workspace.environments
    }

    /// Whether `keyless.yml` has a `policy:` section (without one, [`Policy::default`] applies).
    pub fn has_policy_section(&self) -> bool {
        self.workspace.policy.is_some()
    }

    /// The production environments: the policy's list, else `production` when defined.
    pub fn production_environments(&self) -> Vec<String> {
        match &self.policy.production_environments {
            Some(list) => list.clone(),
            None if self.environments().contains_key("production") => {
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
            if let Some(env) = self.environments().get(&name) {
                for l in &env.runner_labels {
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
        self.environments()
            .get(name)
            .map(|e| {
                e.runner_labels
                    .iter()
                    .filter(|l| !GENERIC_RUNNER_LABELS.contains(&l.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}
