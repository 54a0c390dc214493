//! The enforcement configuration: `keyless.yml` as `keyless-workspace` loads and validates it (environments and
//! the typed `policy:` section), plus the policy facts enforcement derives from it (production environments and
//! labels, labels specific to one environment).
//!
//! enforce never parses `keyless.yml` itself: the workspace crate owns the file, its schema and its diagnostics
//! (with line and column), so `plan`, `check`, `render` and `serve` cannot read it differently.

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use keyless_pipelines::{Glob, Node};
use keyless_workspace::Config;
pub use keyless_workspace::policy::{
    Forbidden, ForbiddenImage, ForbiddenPipe, ForbiddenScript, PipeStaticKeys, Policy, PolicyMode,
    PrependStep, SetupForm, UnknownKeys,
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

/// What enforcement reads: the loaded `keyless.yml`, the policy in effect, and what is derived from them once per
/// load (so once at start and once per SIGHUP reload, never per render): production labels, each environment's
/// specific labels and OIDC setup lines, the compiled forbidden-pipe and forbidden-image globs, and the steps to
/// prepend. Built only by the constructors below, so the derived facts always match the policy.
#[derive(Debug, Clone)]
pub struct EnforceConfig {
    workspace: Arc<Config>,
    /// The `policy:` section, or [`Policy::default`] without one.
    policy: Policy,
    derived: Arc<Derived>,
}

/// A `forbidden.pipes` entry with its globs compiled.
#[derive(Debug)]
pub(crate) struct CompiledPipe {
    pub(crate) pipe: Glob,
    /// `None`: every version is forbidden.
    pub(crate) versions: Option<Vec<Glob>>,
}

/// The policy facts a render reads, computed when the configuration is loaded.
#[derive(Debug)]
struct Derived {
    production_environments: Vec<String>,
    production_labels: Vec<String>,
    /// Per environment, in file order: its non-generic runner labels.
    specific_labels: IndexMap<String, Vec<String>>,
    /// Per environment, in file order: the OIDC setup lines in the policy's form.
    setup_lines: IndexMap<String, Vec<String>>,
    forbidden_pipes: Vec<CompiledPipe>,
    /// `forbidden.images[i].image`, compiled.
    forbidden_images: Vec<Glob>,
    /// `prepend`, as `- step:` items ready to insert.
    prepend_items: Vec<Node>,
}

impl Derived {
    fn new(workspace: &Config, policy: &Policy) -> Derived {
        let environments = &workspace.environments;
        let production_environments = match &policy.production_environments {
            Some(list) => list.clone(),
            None if environments.contains_key("production") => vec!["production".to_string()],
            None => Vec::new(),
        };
        let specific = |env: &EnvironmentSpec| -> Vec<String> {
            env.runner_labels
                .iter()
                .filter(|l| !GENERIC_RUNNER_LABELS.contains(&l.as_str()))
                .cloned()
                .collect()
        };
        let production_labels = match &policy.production_labels {
            Some(labels) => labels.clone(),
            None => {
                let mut out: Vec<String> = Vec::new();
                for env in production_environments
                    .iter()
                    .filter_map(|n| environments.get(n))
                {
                    for l in specific(env) {
                        if !out.contains(&l) {
                            out.push(l);
                        }
                    }
                }
                out
            }
        };
        let prepend_items = policy
            .prepend
            .iter()
            .map(|step| {
                let lines: Vec<&str> = step.script.iter().map(String::as_str).collect();
                let mut node = keyless_pipelines::PipelineFile::step_item(&step.name, &lines);
                if let Some(image) = &step.image
                    && let Some(inner) = node.get_mut("step")
                {
                    inner.set("image", Node::string(image.as_str()));
                }
                node
            })
            .collect();
        Derived {
            production_environments,
            production_labels,
            specific_labels: environments
                .iter()
                .map(|(name, env)| (name.clone(), specific(env)))
                .collect(),
            setup_lines: environments
                .iter()
                .map(|(name, env)| (name.clone(), crate::setup_lines(policy.setup, name, env)))
                .collect(),
            forbidden_pipes: policy
                .forbidden
                .pipes
                .iter()
                .map(|f| CompiledPipe {
                    pipe: Glob::new(&f.pipe),
                    versions: f
                        .versions
                        .as_ref()
                        .map(|vs| vs.iter().map(|v| Glob::new(v)).collect()),
                })
                .collect(),
            forbidden_images: policy
                .forbidden
                .images
                .iter()
                .map(|f| Glob::new(&f.image))
                .collect(),
            prepend_items,
        }
    }
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
        let derived = Arc::new(Derived::new(&workspace, &policy));
        EnforceConfig {
            workspace,
            policy,
            derived,
        }
    }

    /// The loaded `keyless.yml`.
    pub fn workspace(&self) -> &Config {
        &self.workspace
    }

    /// The `policy:` section, or [`Policy::default`] without one.
    pub fn policy(&self) -> &Policy {
        &self.policy
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
    pub fn production_environments(&self) -> &[String] {
        &self.derived.production_environments
    }

    /// Labels only production steps may carry: the policy's list, else the non-generic runner labels of the
    /// production environments.
    pub fn production_labels(&self) -> &[String] {
        &self.derived.production_labels
    }

    /// Labels that tie a step to environment `name` (its non-generic labels); empty for an unknown name.
    pub fn specific_labels(&self, name: &str) -> &[String] {
        self.derived
            .specific_labels
            .get(name)
            .map_or(&[], Vec::as_slice)
    }

    /// The OIDC setup lines for environment `name` in the policy's form ([`crate::setup_lines`]); empty for an
    /// unknown name.
    pub fn setup_lines(&self, name: &str) -> &[String] {
        self.derived
            .setup_lines
            .get(name)
            .map_or(&[], Vec::as_slice)
    }

    /// `forbidden.pipes`, compiled, in policy order.
    pub(crate) fn forbidden_pipes(&self) -> &[CompiledPipe] {
        &self.derived.forbidden_pipes
    }

    /// `forbidden.images[i].image`, compiled, in policy order.
    pub(crate) fn forbidden_images(&self) -> &[Glob] {
        &self.derived.forbidden_images
    }

    /// `prepend`, as `- step:` items, in policy order.
    pub(crate) fn prepend_items(&self) -> &[Node] {
        &self.derived.prepend_items
    }
}
