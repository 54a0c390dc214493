//! The typed model of `bitbucket-pipelines.yml` (bitbucket.md §3): the types only. [`derive`] builds them from
//! the raw tree, leniently: a value of the wrong type becomes `None`/`Invalid` there and is reported by
//! [`crate::validate`]; the raw node stays reachable through its route.

use std::fmt;

use crate::route::Route;

pub(crate) mod derive;

/// A value that may hold a secret (a password, an access key, a pipe or service variable): keyless-secret's one
/// secret type. `Debug` and `Display` show a bare variable reference (`$AWS_SECRET`, `${AWS_SECRET}`) and redact
/// anything else; [`Sensitive::expose`] reads it, [`Sensitive::is_variable_reference`] tells the two apart.
pub use keyless_secret::Sensitive;

/// The keys Bitbucket knows on a step (bitbucket.md §3.4). The schema leaves steps open; the
/// closed-key check in [`crate::validate`] uses this list.
pub const STEP_KEYS: &[&str] = &[
    "name",
    "script",
    "after-script",
    "image",
    "caches",
    "services",
    "artifacts",
    "clone",
    "deployment",
    "environment",
    "concurrency-group",
    "oidc",
    "trigger",
    "runs-on",
    "size",
    "max-time",
    "runtime",
    "fail-fast",
    "condition",
    "type",
    "custom",
    "input-variables",
];

/// The keys of a `stage`.
pub const STAGE_KEYS: &[&str] = &[
    "name",
    "deployment",
    "environment",
    "condition",
    "trigger",
    "steps",
];

/// The top-level keys (bitbucket.md §3.2).
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "image",
    "clone",
    "options",
    "definitions",
    "pipelines",
    "export",
    "labels",
];

/// The pipeline sections under `pipelines:`.
pub const PIPELINES_KEYS: &[&str] = &["default", "branches", "tags", "pull-requests", "custom"];

/// Which pipeline a step belongs to: the section and the pattern or name that selects it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    /// `pipelines.default`: branches with no matching `branches` entry.
    Default,
    /// `pipelines.branches.<pattern>`.
    Branches(String),
    /// `pipelines.tags.<pattern>`.
    Tags(String),
    /// `pipelines.pull-requests.<source>`, or `.<source>.destinations.<destination>`.
    PullRequests {
        source: String,
        destination: Option<String>,
    },
    /// `pipelines.custom.<name>`: run manually, by schedule, or by a parent step.
    Custom(String),
    /// `definitions.pipelines.<name>`: a shared pipeline that this or another repository imports.
    Imported(String),
}

/// The section of a [`Selector`], without its pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectorKind {
    Default,
    Branches,
    Tags,
    PullRequests,
    Custom,
    Imported,
}

impl Selector {
    pub fn kind(&self) -> SelectorKind {
        match self {
            Selector::Default => SelectorKind::Default,
            Selector::Branches(_) => SelectorKind::Branches,
            Selector::Tags(_) => SelectorKind::Tags,
            Selector::PullRequests { .. } => SelectorKind::PullRequests,
            Selector::Custom(_) => SelectorKind::Custom,
            Selector::Imported(_) => SelectorKind::Imported,
        }
    }

    /// The glob pattern (or custom/shared pipeline name) of this selector; `None` for `default`.
    /// For pull requests with destinations, this is the source pattern.
    pub fn pattern(&self) -> Option<&str> {
        match self {
            Selector::Default => None,
            Selector::Branches(p)
            | Selector::Tags(p)
            | Selector::Custom(p)
            | Selector::Imported(p) => Some(p),
            Selector::PullRequests { source, .. } => Some(source),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Default => f.write_str("default"),
            Selector::Branches(p) => write!(f, "branches `{p}`"),
            Selector::Tags(p) => write!(f, "tags `{p}`"),
            Selector::PullRequests {
                source,
                destination: None,
            } => write!(f, "pull-requests `{source}`"),
            Selector::PullRequests {
                source,
                destination: Some(d),
            } => write!(f, "pull-requests `{source}` → `{d}`"),
            Selector::Custom(n) => write!(f, "custom `{n}`"),
            Selector::Imported(n) => write!(f, "shared pipeline `{n}`"),
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub image: Option<Image>,
    pub clone: Option<CloneSettings>,
    pub options: Options,
    pub definitions: Definitions,
    /// Every pipeline in document order: `pipelines.*` sections, then `definitions.pipelines`.
    pub pipelines: Vec<Pipeline>,
    pub export: Option<bool>,
    /// `labels` (free-form), by route.
    pub labels: Option<Route>,
    /// Top-level keys outside [`TOP_LEVEL_KEYS`], with their routes.
    pub unknown_keys: Vec<(String, Route)>,
}

/// `image`: a name, or a mapping with credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub route: Route,
    pub name: Option<String>,
    pub run_as_user: Option<i64>,
    pub auth: ImageAuth,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImageAuth {
    None,
    /// `username` + `password` (a private registry).
    Basic {
        username: Sensitive,
        password: Sensitive,
    },
    /// `aws: {access-key, secret-key}` (ECR with long-lived keys).
    AwsKeys {
        access_key: Sensitive,
        secret_key: Sensitive,
    },
    /// `aws: {oidc-role}` (ECR through OIDC).
    AwsOidc {
        role: String,
    },
    /// Any other shape; the schema check reports it.
    Invalid,
}

/// `clone` (top level or per step).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CloneSettings {
    pub route: Route,
    pub depth: Option<CloneDepth>,
    pub enabled: Option<bool>,
    pub lfs: Option<bool>,
    pub skip_ssl_verify: Option<bool>,
    pub tags: Option<bool>,
    pub strategy: Option<String>,
    pub filter: Option<String>,
    pub sparse_checkout: Option<SparseCheckout>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloneDepth {
    Full,
    Commits(i64),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SparseCheckout {
    pub enabled: Option<bool>,
    pub cone_mode: Option<bool>,
    pub patterns: Vec<String>,
}

/// `options`: global defaults for every step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    pub route: Option<Route>,
    pub docker: Option<bool>,
    pub max_time: Option<i64>,
    pub size: Option<String>,
    pub runtime: Option<Runtime>,
    /// `options.oidc.audiences` (A-AUD; not in Atlassian's schema).
    pub oidc_audiences: Option<Vec<String>>,
}

/// `runtime` (options or step).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Runtime {
    pub route: Route,
    pub cloud: Option<Cloud>,
}

/// `runtime.cloud`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cloud {
    pub route: Route,
    pub arch: Option<String>,
    pub atlassian_ip_ranges: Option<bool>,
    pub version: Option<String>,
}

/// `definitions`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Definitions {
    pub route: Option<Route>,
    pub caches: Vec<CacheDefinition>,
    pub services: Vec<ServiceDefinition>,
    /// Names of the `definitions.pipelines` entries (their pipelines are in [`Config::pipelines`]
    /// with [`Selector::Imported`]).
    pub pipelines: Vec<String>,
    /// `definitions.steps` (the conventional home of step anchors), when present.
    pub steps: Option<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheDefinition {
    pub name: String,
    pub route: Route,
    pub path: Option<String>,
    /// `key.files` of the expanded form.
    pub key_files: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDefinition {
    pub name: String,
    pub route: Route,
    pub image: Option<Image>,
    pub memory: Option<i64>,
    pub service_type: Option<String>,
    pub variables: Vec<(String, Sensitive)>,
}

/// One pipeline: its selector, route and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub selector: Selector,
    /// The route of the pipeline's value (the item list, or the `{import: ...}` mapping).
    pub route: Route,
    pub body: PipelineBody,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PipelineBody {
    Items {
        /// `- variables:` of a custom pipeline.
        variables: Option<CustomVariables>,
        items: Vec<Item>,
    },
    /// `import: repo:ref:pipeline`.
    Import(ImportRef),
    /// Neither a list nor an import; the schema check reports it.
    Invalid,
}

/// `import: <repo-slug|uuid>:<branch|tag>:<pipeline-name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRef {
    pub route: Route,
    pub raw: String,
    /// The three parts, when the value has exactly three `:`-separated non-empty parts.
    pub parts: Option<(String, String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomVariables {
    pub route: Route,
    pub variables: Vec<CustomVariable>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomVariable {
    pub route: Route,
    pub name: Option<String>,
    pub default: Option<String>,
    pub description: Option<String>,
    pub allowed_values: Vec<String>,
}

/// One item of a pipeline.
// Steps are the common variant; boxing them would only add an indirection to every access.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Step(Step),
    Parallel(Parallel),
    Stage(Stage),
    /// Anything else (the schema check reports it); `route` is the item.
    Unknown {
        route: Route,
    },
}

impl Item {
    /// The route of the list entry holding this item (`pipelines.default[2]`).
    pub fn route(&self) -> Route {
        let r = match self {
            Item::Step(s) => s.route.parent(),
            Item::Parallel(p) => p.route.parent(),
            Item::Stage(s) => s.route.parent(),
            Item::Unknown { route } => Some(route.clone()),
        };
        r.unwrap_or_default()
    }

    /// The index of this item in the pipeline's YAML list (counting a `variables` entry).
    pub fn index(&self) -> usize {
        match self.route().last() {
            Some(crate::route::Segment::Index(i)) => *i,
            _ => 0,
        }
    }
}

/// `parallel`: a list of steps, or `{fail-fast, steps}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Parallel {
    /// The route of the `parallel` value.
    pub route: Route,
    pub fail_fast: Option<bool>,
    /// True for the `{fail-fast, steps}` form.
    pub expanded: bool,
    pub steps: Vec<Step>,
}

/// `stage`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// The route of the `stage` mapping.
    pub route: Route,
    pub name: Option<String>,
    pub deployment: Option<String>,
    pub environment: Option<String>,
    pub condition: Option<Condition>,
    pub trigger: Option<Trigger>,
    pub steps: Vec<Step>,
    pub unknown_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Automatic,
    Manual,
    /// Any other value; the schema check reports it.
    Other(String),
}

impl Trigger {
    pub fn as_str(&self) -> &str {
        match self {
            Trigger::Automatic => "automatic",
            Trigger::Manual => "manual",
            Trigger::Other(s) => s,
        }
    }
}

/// `oidc` on a step: `true`/`false`, or `{audiences: [...]}` (which enables OIDC, A-AUD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Oidc {
    Flag(bool),
    Audiences(Vec<String>),
    Invalid,
}

impl Oidc {
    /// Whether this setting turns OIDC on for the step.
    pub fn enabled(&self) -> bool {
        matches!(self, Oidc::Flag(true) | Oidc::Audiences(_))
    }
}

/// `condition.changesets`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    pub route: Route,
    pub include_paths: Vec<String>,
    pub exclude_paths: Vec<String>,
}

/// `artifacts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Artifacts {
    Paths(Vec<String>),
    Expanded {
        download: Option<ArtifactDownload>,
        paths: Vec<String>,
        upload: Vec<ArtifactUpload>,
    },
    Invalid,
}

impl Artifacts {
    /// Every path glob this step uploads (both forms).
    pub fn upload_globs(&self) -> Vec<&str> {
        match self {
            Artifacts::Paths(p) => p.iter().map(String::as_str).collect(),
            Artifacts::Expanded { paths, upload, .. } => paths
                .iter()
                .chain(upload.iter().flat_map(|u| u.paths.iter()))
                .map(String::as_str)
                .collect(),
            Artifacts::Invalid => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactDownload {
    All(bool),
    Named(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactUpload {
    pub name: Option<String>,
    pub paths: Vec<String>,
    pub kind: Option<String>,
    pub depth: Option<i64>,
    pub capture_on: Option<String>,
    pub ignore_paths: Vec<String>,
}

/// One entry of `script` or `after-script`.
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptEntry {
    Command {
        route: Route,
        text: String,
    },
    Pipe(Pipe),
    /// Neither a string nor a pipe mapping.
    Invalid {
        route: Route,
    },
}

impl ScriptEntry {
    pub fn route(&self) -> &Route {
        match self {
            ScriptEntry::Command { route, .. } | ScriptEntry::Invalid { route } => route,
            ScriptEntry::Pipe(p) => &p.route,
        }
    }

    pub fn command(&self) -> Option<&str> {
        match self {
            ScriptEntry::Command { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// `- pipe: owner/name:version` with its variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipe {
    /// The route of the script entry (the mapping holding `pipe:`).
    pub route: Route,
    pub pipe: Option<String>,
    pub variables: Vec<PipeVariable>,
}

impl Pipe {
    /// The value of a variable given as a single string.
    pub fn variable(&self, name: &str) -> Option<&PipeValue> {
        self.variables
            .iter()
            .find(|v| v.name == name)
            .map(|v| &v.value)
    }

    /// `(name, version)` of `owner/name:version`; the version is `None` when absent.
    pub fn reference(&self) -> Option<(&str, Option<&str>)> {
        let p = self.pipe.as_deref()?;
        let body = p.strip_prefix("docker://").unwrap_or(p);
        // The version follows the last `:` after the last `/` (a registry may carry a port).
        let slash = body.rfind('/').map_or(0, |i| i + 1);
        match body[slash..].find([':', '@']) {
            Some(i) => Some((&body[..slash + i], Some(&body[slash + i + 1..]))),
            None => Some((body, None)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PipeVariable {
    pub name: String,
    pub route: Route,
    pub value: PipeValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PipeValue {
    String(Sensitive),
    List(Vec<Sensitive>),
    Invalid,
}

/// One step with every key of bitbucket.md §3.4.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    /// The route of the step mapping (`...[i].step`).
    pub route: Route,
    pub name: Option<String>,
    pub script: Vec<ScriptEntry>,
    pub after_script: Vec<ScriptEntry>,
    pub image: Option<Image>,
    pub caches: Vec<String>,
    pub services: Vec<String>,
    pub artifacts: Option<Artifacts>,
    pub clone: Option<CloneSettings>,
    pub deployment: Option<String>,
    pub environment: Option<String>,
    pub concurrency_group: Option<String>,
    pub oidc: Option<Oidc>,
    pub trigger: Option<Trigger>,
    /// `runs-on`, normalised to a list.
    pub runs_on: Option<Vec<String>>,
    pub size: Option<String>,
    pub max_time: Option<i64>,
    pub runtime: Option<Runtime>,
    pub fail_fast: Option<bool>,
    pub condition: Option<Condition>,
    /// `type: inline|pipeline`.
    pub step_type: Option<String>,
    /// `custom`: the child custom pipeline a `type: pipeline` step runs.
    pub custom: Option<String>,
    pub input_variables: Vec<(String, Sensitive)>,
    /// Keys outside [`STEP_KEYS`].
    pub unknown_keys: Vec<String>,
}

impl Step {
    /// Every script and after-script entry, in order.
    pub fn all_script(&self) -> impl Iterator<Item = &ScriptEntry> {
        self.script.iter().chain(self.after_script.iter())
    }

    /// Every pipe this step runs (script and after-script).
    pub fn pipes(&self) -> impl Iterator<Item = &Pipe> {
        self.all_script().filter_map(|e| match e {
            ScriptEntry::Pipe(p) => Some(p),
            _ => None,
        })
    }

    /// The route of a key of this step (whether or not it is set).
    pub fn key_route(&self, key: &str) -> Route {
        self.route.key(key)
    }
}
