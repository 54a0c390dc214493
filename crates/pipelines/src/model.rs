//! The typed model of `bitbucket-pipelines.yml` (bitbucket.md §3), derived from the raw tree.
//!
//! Derivation is lenient: a value of the wrong type becomes `None`/`Invalid` here and is reported
//! by [`crate::validate`]; the raw node stays reachable through its route.

use std::fmt;

use crate::node::{Node, Value};
use crate::route::Route;

/// A value that may hold a secret (a password, an access key, a pipe or service variable). Its
/// `Debug` and `Display` never show it; call [`Sensitive::expose`] to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive(String);

impl Sensitive {
    pub fn new(s: impl Into<String>) -> Self {
        Sensitive(s.into())
    }

    /// The value itself. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the value is a variable reference such as `$AWS_SECRET` or `${AWS_SECRET}`,
    /// not a literal.
    pub fn is_variable_reference(&self) -> bool {
        let s = self.0.trim();
        let name = s
            .strip_prefix("${")
            .and_then(|r| r.strip_suffix('}'))
            .or_else(|| s.strip_prefix('$'));
        name.is_some_and(|n| {
            !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_variable_reference() {
            write!(f, "Sensitive({:?})", self.0)
        } else {
            f.write_str("Sensitive(<redacted>)")
        }
    }
}

impl fmt::Display for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_variable_reference() {
            f.write_str(&self.0)
        } else {
            f.write_str("<redacted>")
        }
    }
}

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

// ---------------------------------------------------------------------------------------------
// Derivation from the tree.

fn text(node: Option<&Node>) -> Option<String> {
    node.and_then(Node::scalar_text)
}

fn boolean(node: Option<&Node>) -> Option<bool> {
    node.and_then(Node::as_bool)
}

fn int(node: Option<&Node>) -> Option<i64> {
    node.and_then(Node::as_i64)
}

/// A list of scalars as strings (non-scalars are skipped; the schema check reports them).
fn strings(node: Option<&Node>) -> Vec<String> {
    match node.map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().filter_map(Node::scalar_text).collect(),
        _ => Vec::new(),
    }
}

fn sensitive_map(node: Option<&Node>) -> Vec<(String, Sensitive)> {
    node.and_then(Node::as_map)
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e.key.to_string(),
                        Sensitive::new(e.value.scalar_text().unwrap_or_default()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn build_config(root: &Node) -> Config {
    let r = Route::root();
    let mut config = Config {
        image: root.get("image").map(|n| build_image(n, r.key("image"))),
        clone: root.get("clone").map(|n| build_clone(n, r.key("clone"))),
        export: boolean(root.get("export")),
        labels: root.get("labels").map(|_| r.key("labels")),
        ..Config::default()
    };
    if let Some(o) = root.get("options") {
        let route = r.key("options");
        config.options = Options {
            docker: boolean(o.get("docker")),
            max_time: int(o.get("max-time")),
            size: text(o.get("size")),
            runtime: o
                .get("runtime")
                .map(|n| build_runtime(n, route.key("runtime"))),
            oidc_audiences: o
                .get("oidc")
                .and_then(|n| n.get("audiences"))
                .map(|a| strings(Some(a))),
            route: Some(route),
        };
    }
    if let Some(entries) = root.as_map() {
        for e in entries {
            if !TOP_LEVEL_KEYS.contains(&e.key.as_str()) {
                config
                    .unknown_keys
                    .push((e.key.to_string(), r.key(e.key.as_str())));
            }
        }
    }
    let mut shared = Vec::new();
    if let Some(d) = root.get("definitions") {
        let route = r.key("definitions");
        let defs = &mut config.definitions;
        if let Some(caches) = d.get("caches").and_then(Node::as_map) {
            for e in caches {
                let cr = route.key("caches").key(e.key.as_str());
                let (path, key_files) = match &e.value.value {
                    Value::Map(_) => (
                        text(e.value.get("path")),
                        strings(e.value.get("key").and_then(|k| k.get("files"))),
                    ),
                    _ => (e.value.scalar_text(), Vec::new()),
                };
                defs.caches.push(CacheDefinition {
                    name: e.key.to_string(),
                    route: cr,
                    path,
                    key_files,
                });
            }
        }
        if let Some(services) = d.get("services").and_then(Node::as_map) {
            for e in services {
                let sr = route.key("services").key(e.key.as_str());
                defs.services.push(ServiceDefinition {
                    name: e.key.to_string(),
                    image: e
                        .value
                        .get("image")
                        .map(|n| build_image(n, sr.key("image"))),
                    memory: int(e.value.get("memory")),
                    service_type: text(e.value.get("type")),
                    variables: sensitive_map(e.value.get("variables")),
                    route: sr,
                });
            }
        }
        if let Some(pipes) = d.get("pipelines").and_then(Node::as_map) {
            for e in pipes {
                defs.pipelines.push(e.key.to_string());
                shared.push(build_pipeline(
                    Selector::Imported(e.key.to_string()),
                    &e.value,
                    route.key("pipelines").key(e.key.as_str()),
                ));
            }
        }
        if d.get("steps").is_some() {
            defs.steps = Some(route.key("steps"));
        }
        defs.route = Some(route);
    }
    if let Some(p) = root.get("pipelines") {
        let route = r.key("pipelines");
        if let Some(entries) = p.as_map() {
            for e in entries {
                let sr = route.key(e.key.as_str());
                match e.key.as_str() {
                    "default" => {
                        config
                            .pipelines
                            .push(build_pipeline(Selector::Default, &e.value, sr))
                    }
                    "branches" | "tags" | "custom" => {
                        for pe in e.value.as_map().unwrap_or_default() {
                            let sel = match e.key.as_str() {
                                "branches" => Selector::Branches(pe.key.to_string()),
                                "tags" => Selector::Tags(pe.key.to_string()),
                                _ => Selector::Custom(pe.key.to_string()),
                            };
                            config.pipelines.push(build_pipeline(
                                sel,
                                &pe.value,
                                sr.key(pe.key.as_str()),
                            ));
                        }
                    }
                    "pull-requests" => {
                        for pe in e.value.as_map().unwrap_or_default() {
                            let pr = sr.key(pe.key.as_str());
                            match pe.value.get("destinations").and_then(Node::as_map) {
                                Some(dests) => {
                                    for de in dests {
                                        config.pipelines.push(build_pipeline(
                                            Selector::PullRequests {
                                                source: pe.key.to_string(),
                                                destination: Some(de.key.to_string()),
                                            },
                                            &de.value,
                                            pr.key("destinations").key(de.key.as_str()),
                                        ));
                                    }
                                }
                                None => config.pipelines.push(build_pipeline(
                                    Selector::PullRequests {
                                        source: pe.key.to_string(),
                                        destination: None,
                                    },
                                    &pe.value,
                                    pr,
                                )),
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    config.pipelines.extend(shared);
    config
}

pub(crate) fn build_image(node: &Node, route: Route) -> Image {
    match &node.value {
        Value::Map(_) => {
            let auth = if let Some(aws) = node.get("aws") {
                if let Some(role) = text(aws.get("oidc-role")) {
                    ImageAuth::AwsOidc { role }
                } else if aws.get("access-key").is_some() || aws.get("secret-key").is_some() {
                    ImageAuth::AwsKeys {
                        access_key: Sensitive::new(text(aws.get("access-key")).unwrap_or_default()),
                        secret_key: Sensitive::new(text(aws.get("secret-key")).unwrap_or_default()),
                    }
                } else {
                    ImageAuth::Invalid
                }
            } else if node.get("username").is_some() || node.get("password").is_some() {
                ImageAuth::Basic {
                    username: Sensitive::new(text(node.get("username")).unwrap_or_default()),
                    password: Sensitive::new(text(node.get("password")).unwrap_or_default()),
                }
            } else {
                ImageAuth::None
            };
            Image {
                route,
                name: text(node.get("name")),
                run_as_user: int(node.get("run-as-user")),
                auth,
            }
        }
        _ => Image {
            route,
            name: node.scalar_text(),
            run_as_user: None,
            auth: if node.scalar_text().is_some() {
                ImageAuth::None
            } else {
                ImageAuth::Invalid
            },
        },
    }
}

fn build_clone(node: &Node, route: Route) -> CloneSettings {
    CloneSettings {
        depth: node.get("depth").and_then(|d| match &d.value {
            Value::Int(i) => Some(CloneDepth::Commits(*i)),
            Value::String(s) if s == "full" => Some(CloneDepth::Full),
            _ => None,
        }),
        enabled: boolean(node.get("enabled")),
        lfs: boolean(node.get("lfs")),
        skip_ssl_verify: boolean(node.get("skip-ssl-verify")),
        tags: boolean(node.get("tags")),
        strategy: text(node.get("strategy")),
        filter: text(node.get("filter")),
        sparse_checkout: node.get("sparse-checkout").map(|s| SparseCheckout {
            enabled: boolean(s.get("enabled")),
            cone_mode: boolean(s.get("cone-mode")),
            patterns: strings(s.get("patterns")),
        }),
        route,
    }
}

fn build_runtime(node: &Node, route: Route) -> Runtime {
    Runtime {
        cloud: node.get("cloud").map(|c| Cloud {
            route: route.key("cloud"),
            arch: text(c.get("arch")),
            atlassian_ip_ranges: boolean(c.get("atlassian-ip-ranges")),
            version: text(c.get("version")),
        }),
        route,
    }
}

fn build_pipeline(selector: Selector, node: &Node, route: Route) -> Pipeline {
    let body = match &node.value {
        Value::Seq(items) => {
            let mut variables = None;
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let ir = route.index(i);
                if let Some(v) = item
                    .get("variables")
                    .filter(|_| item.as_map().is_some_and(|m| m.len() == 1))
                {
                    if variables.is_none() {
                        variables = Some(build_variables(v, ir.key("variables")));
                    }
                    continue;
                }
                out.push(build_item(item, ir));
            }
            PipelineBody::Items {
                variables,
                items: out,
            }
        }
        Value::Map(_) if node.get("import").is_some() => {
            let raw = text(node.get("import")).unwrap_or_default();
            let parts: Vec<&str> = raw.split(':').collect();
            let parts = (parts.len() == 3 && parts.iter().all(|p| !p.is_empty())).then(|| {
                (
                    parts[0].to_string(),
                    parts[1].to_string(),
                    parts[2].to_string(),
                )
            });
            PipelineBody::Import(ImportRef {
                route: route.key("import"),
                raw,
                parts,
            })
        }
        _ => PipelineBody::Invalid,
    };
    Pipeline {
        selector,
        route,
        body,
    }
}

fn build_variables(node: &Node, route: Route) -> CustomVariables {
    let variables = node
        .as_seq()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, v)| CustomVariable {
            route: route.index(i),
            name: text(v.get("name")),
            default: text(v.get("default")),
            description: text(v.get("description")),
            allowed_values: strings(v.get("allowed-values")),
        })
        .collect();
    CustomVariables { route, variables }
}

fn build_item(item: &Node, route: Route) -> Item {
    let single = item.as_map().is_some_and(|m| m.len() == 1);
    if let (true, Some(step)) = (single, item.get("step")) {
        return Item::Step(build_step(step, route.key("step")));
    }
    if let (true, Some(par)) = (single, item.get("parallel")) {
        let pr = route.key("parallel");
        let (steps_node, steps_route, fail_fast, expanded) = match &par.value {
            Value::Map(_) => (
                par.get("steps"),
                pr.key("steps"),
                boolean(par.get("fail-fast")),
                true,
            ),
            _ => (Some(par), pr.clone(), None, false),
        };
        let steps = steps_node
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter_map(|(j, s)| {
                s.get("step")
                    .map(|st| build_step(st, steps_route.index(j).key("step")))
            })
            .collect();
        return Item::Parallel(Parallel {
            route: pr,
            fail_fast,
            expanded,
            steps,
        });
    }
    if let (true, Some(stage)) = (single, item.get("stage")) {
        let sr = route.key("stage");
        let steps = stage
            .get("steps")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter_map(|(j, s)| {
                s.get("step")
                    .map(|st| build_step(st, sr.key("steps").index(j).key("step")))
            })
            .collect();
        return Item::Stage(Stage {
            name: text(stage.get("name")),
            deployment: text(stage.get("deployment")),
            environment: text(stage.get("environment")),
            condition: stage
                .get("condition")
                .map(|c| build_condition(c, sr.key("condition"))),
            trigger: stage.get("trigger").and_then(build_trigger),
            steps,
            unknown_keys: stage
                .as_map()
                .unwrap_or_default()
                .iter()
                .filter(|e| !STAGE_KEYS.contains(&e.key.as_str()))
                .map(|e| e.key.to_string())
                .collect(),
            route: sr,
        });
    }
    Item::Unknown { route }
}

fn build_trigger(node: &Node) -> Option<Trigger> {
    node.scalar_text().map(|t| match t.as_str() {
        "automatic" => Trigger::Automatic,
        "manual" => Trigger::Manual,
        _ => Trigger::Other(t),
    })
}

fn build_condition(node: &Node, route: Route) -> Condition {
    let cs = node.get("changesets");
    Condition {
        include_paths: strings(cs.and_then(|c| c.get("includePaths"))),
        exclude_paths: strings(cs.and_then(|c| c.get("excludePaths"))),
        route,
    }
}

fn build_script(node: Option<&Node>, route: Route) -> Vec<ScriptEntry> {
    let Some(items) = node.and_then(Node::as_seq) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let r = route.index(i);
            if let Some(t) = n.scalar_text() {
                return ScriptEntry::Command { route: r, text: t };
            }
            if n.get("pipe").is_some() {
                let variables = n
                    .get("variables")
                    .and_then(Node::as_map)
                    .unwrap_or_default()
                    .iter()
                    .map(|e| PipeVariable {
                        name: e.key.to_string(),
                        route: r.key("variables").key(e.key.as_str()),
                        value: match &e.value.value {
                            Value::Seq(vs) => PipeValue::List(
                                vs.iter()
                                    .map(|v| Sensitive::new(v.scalar_text().unwrap_or_default()))
                                    .collect(),
                            ),
                            _ => e.value.scalar_text().map_or(PipeValue::Invalid, |s| {
                                PipeValue::String(Sensitive::new(s))
                            }),
                        },
                    })
                    .collect();
                return ScriptEntry::Pipe(Pipe {
                    pipe: text(n.get("pipe")),
                    variables,
                    route: r,
                });
            }
            ScriptEntry::Invalid { route: r }
        })
        .collect()
}

fn build_artifacts(node: &Node) -> Artifacts {
    match &node.value {
        Value::Seq(_) => Artifacts::Paths(strings(Some(node))),
        Value::Map(_) => Artifacts::Expanded {
            download: node.get("download").and_then(|d| match &d.value {
                Value::Bool(b) => Some(ArtifactDownload::All(*b)),
                Value::Seq(_) => Some(ArtifactDownload::Named(strings(Some(d)))),
                _ => None,
            }),
            paths: strings(node.get("paths")),
            upload: node
                .get("upload")
                .and_then(Node::as_seq)
                .unwrap_or_default()
                .iter()
                .map(|u| ArtifactUpload {
                    name: text(u.get("name")),
                    paths: strings(u.get("paths")),
                    kind: text(u.get("type")),
                    depth: int(u.get("depth")),
                    capture_on: text(u.get("capture-on")),
                    ignore_paths: strings(u.get("ignore-paths")),
                })
                .collect(),
        },
        _ => Artifacts::Invalid,
    }
}

/// One pass over the step's entries (keys are unique: duplicates are parse errors), so each key is read once
/// instead of looked up once per field.
pub(crate) fn build_step(node: &Node, route: Route) -> Step {
    let mut step = Step::default();
    for e in node.as_map().unwrap_or_default() {
        let (key, value) = (e.key.as_str(), &e.value);
        let n = Some(value);
        match key {
            "name" => step.name = text(n),
            "script" => step.script = build_script(n, route.key("script")),
            "after-script" => step.after_script = build_script(n, route.key("after-script")),
            "image" => step.image = Some(build_image(value, route.key("image"))),
            "caches" => step.caches = strings(n),
            "services" => step.services = strings(n),
            "artifacts" => step.artifacts = Some(build_artifacts(value)),
            "clone" => step.clone = Some(build_clone(value, route.key("clone"))),
            "deployment" => step.deployment = text(n),
            "environment" => step.environment = text(n),
            "concurrency-group" => step.concurrency_group = text(n),
            "oidc" => {
                step.oidc = Some(match &value.value {
                    Value::Bool(b) => Oidc::Flag(*b),
                    Value::Map(_) => match value.get("audiences") {
                        Some(a) if a.as_seq().is_some() => Oidc::Audiences(strings(Some(a))),
                        _ => Oidc::Invalid,
                    },
                    _ => Oidc::Invalid,
                });
            }
            "trigger" => step.trigger = build_trigger(value),
            "runs-on" => {
                step.runs_on = match &value.value {
                    Value::Seq(_) => Some(strings(n)),
                    _ => value.scalar_text().map(|s| vec![s]),
                };
            }
            "size" => step.size = text(n),
            "max-time" => step.max_time = int(n),
            "runtime" => step.runtime = Some(build_runtime(value, route.key("runtime"))),
            "fail-fast" => step.fail_fast = boolean(n),
            "condition" => step.condition = Some(build_condition(value, route.key("condition"))),
            "type" => step.step_type = text(n),
            "custom" => step.custom = text(n),
            "input-variables" => step.input_variables = sensitive_map(n),
            _ => {}
        }
        if !STEP_KEYS.contains(&key) {
            step.unknown_keys.push(e.key.to_string());
        }
    }
    step.route = route;
    step
}
