//! Workspace enforcement: renders a `bitbucket-pipelines.yml` (or a Dynamic Pipelines
//! `pipelines_configuration`) under the environments and `policy:` of `keyless.yml`, or rejects it.
//!
//! [`render`] is pure: the same configuration, pipeline and target always give the same result, and
//! rendering a rendered file changes nothing. Every change, omission and rejection names the policy rule
//! behind it. What the policy cannot judge (an unresolved `import`, an invalid item, a key that could change
//! where a step runs) is a rejection, never a silent pass-through; keys Bitbucket's schema does not know
//! elsewhere follow `policy.unknown_keys`. See `docs/enforce.md`.
//!
//! The environments and the policy come from `keyless.yml` as `keyless-workspace` loads it ([`EnforceConfig`]);
//! [`judge::RenderJudge`] runs this engine for `keyless check`'s pipeline column.

mod check;
pub mod json;
pub mod judge;
pub mod payload;
pub mod policy;
mod unknown;

use keyless_pipelines::{Item, PipelineBody, PipelineFile, Route, Selector, Target, Trigger};
pub use policy::{
    ConfigError, EnforceConfig, EnvironmentSpec, PipeStaticKeys, Policy, PolicyMode, SetupForm,
    UnknownKeys,
};

use check::StepPlan;

/// The rule names used in changes, omissions, notes and rejections.
pub mod rules {
    pub const BRANCHES: &str = "branches";
    pub const RUNNERS: &str = "runners";
    pub const OIDC: &str = "oidc";
    pub const APPROVAL: &str = "approval";
    pub const FORBIDDEN_SCRIPTS: &str = "forbidden.scripts";
    pub const FORBIDDEN_PIPES: &str = "forbidden.pipes";
    pub const FORBIDDEN_IMAGES: &str = "forbidden.images";
    pub const PREPEND: &str = "prepend";
    pub const IP_RANGES: &str = "atlassian_ip_ranges";
    pub const ENVIRONMENTS: &str = "environments";
    pub const STRUCTURE: &str = "structure";
    /// `policy.unknown_keys`.
    pub const UNKNOWN_KEYS: &str = "unknown_keys";
    /// Anchor holders dropped from the output.
    pub const ANCHORS: &str = "anchors";
    /// The request is for another workspace than keyless.yml's.
    pub const WORKSPACE: &str = "workspace";
    /// `policy.pipe_static_keys`.
    pub const PIPE_STATIC_KEYS: &str = "pipe_static_keys";
}

/// What started the run (or what the Run-pipeline dialog lists definitions for).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The pipeline keyless selects when Bitbucket did not say ([`Invocation::selector`]): a branch, tag, pull
    /// request or custom name. `None` for a commit without a custom selector (nothing to select by).
    pub target: Option<Target>,
    /// The branch a custom run runs on, when known (a ref target, or `--custom NAME --branch B`).
    pub branch: Option<String>,
    /// The tag a custom run runs on (a ref target with `ref_type: tag`).
    pub tag: Option<String>,
    /// The pipeline definition Bitbucket matched (`target.selector`): when present, the run is judged on that
    /// definition instead of one keyless would select itself.
    pub selector: Option<Selector>,
    /// `target.commit.hash`, for messages.
    pub commit: Option<String>,
}

impl From<Target> for Invocation {
    fn from(target: Target) -> Self {
        Invocation {
            target: Some(target),
            ..Invocation::default()
        }
    }
}

impl Invocation {
    /// A run or a definitions request on a commit, with no branch or tag.
    pub fn commit(hash: Option<String>) -> Invocation {
        Invocation {
            commit: hash,
            ..Invocation::default()
        }
    }

    /// The branch whose code runs: the pushed branch, the pull request's source, the custom run's branch.
    /// `None` for tags, commits and custom runs without a branch: those runs are judged by the branchless rule.
    pub fn branch(&self) -> Option<&str> {
        match &self.target {
            Some(Target::Branch(b)) => Some(b),
            Some(Target::PullRequest { source, .. }) => Some(source),
            Some(Target::Tag(_)) => None,
            Some(Target::Custom(_)) | None => self.branch.as_deref(),
        }
    }

    fn short_commit(&self) -> Option<&str> {
        self.commit.as_deref().map(|h| h.get(..12).unwrap_or(h))
    }

    /// How messages name the run.
    pub fn describe(&self) -> String {
        let commit = || match self.short_commit() {
            Some(h) => format!("commit `{h}`"),
            None => "a commit".to_string(),
        };
        match &self.target {
            Some(Target::Branch(b)) => format!("branch `{b}`"),
            Some(Target::Tag(t)) => format!("tag `{t}`"),
            Some(Target::PullRequest {
                source,
                destination,
            }) => format!("pull request `{source}` → `{destination}`"),
            Some(Target::Custom(c)) => match (&self.branch, &self.tag) {
                (Some(b), _) => format!("custom pipeline `{c}` on branch `{b}`"),
                (None, Some(t)) => format!("custom pipeline `{c}` on tag `{t}` (no branch)"),
                (None, None) if self.commit.is_some() => {
                    format!("custom pipeline `{c}` on {} (no branch)", commit())
                }
                (None, None) => format!("custom pipeline `{c}` (branch unknown)"),
            },
            None => format!("{} (no branch)", commit()),
        }
    }
}

/// One change the policy made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub rule: String,
    pub route: String,
    pub message: String,
}

/// Something keyless noticed and let through: an unknown key under `policy.unknown_keys: warn`, a pipe it could
/// not give OIDC.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    pub rule: String,
    pub route: String,
    pub message: String,
    /// For unknown keys: where the key is (`top-level`, `pipelines`, `item`, `step`, `stage`, `parallel`,
    /// `pipe`); the label of `keyless_serve_unknown_keys_total`.
    #[serde(skip)]
    pub location: Option<&'static str>,
}

/// A pipeline a definitions request leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Omission {
    /// The pipeline's route (`pipelines.custom.deploy`).
    pub pipeline: String,
    pub rule: String,
    pub key: String,
    pub route: String,
    pub message: String,
}

/// The rendered file and what happened to it.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub file: PipelineFile,
    /// What the policy changed (empty when changes are not recorded: [`render_request_file`]).
    pub changes: Vec<Change>,
    /// Definitions requests: the pipelines left out because they may not run (always recorded).
    pub omitted: Vec<Omission>,
    /// What was let through and reported (always recorded).
    pub notes: Vec<Note>,
    /// `policy.mode: report`: what the policy would have done. [`Rendered::file`] is then the input unchanged.
    pub would: Option<Box<Result<Rendered, Rejection>>>,
}

impl Rendered {
    fn new(file: PipelineFile) -> Rendered {
        Rendered {
            file,
            changes: Vec::new(),
            omitted: Vec::new(),
            notes: Vec::new(),
            would: None,
        }
    }
}

/// Why the pipeline is refused. `key` and `message` are the Dynamic Pipelines error fields.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("{message} (rule {rule}, at {route})")]
pub struct Rejection {
    pub key: String,
    pub message: String,
    pub rule: String,
    pub route: String,
}

impl Rejection {
    fn new(rule: &str, route: &Route, message: impl Into<String>) -> Rejection {
        Rejection {
            key: format!("keyless-{}", rule.replace(['.', '_'], "-")),
            message: message.into(),
            rule: rule.to_string(),
            route: route.to_string(),
        }
    }

    /// `{"error": {"key": ..., "message": ...}}`.
    pub fn to_error_json(&self) -> serde_json::Value {
        serde_json::json!({"error": {"key": self.key, "message": self.message}})
    }
}

/// The OIDC setup lines for environment `name` in the policy's form.
pub fn setup_lines(form: SetupForm, name: &str, env: &EnvironmentSpec) -> Vec<String> {
    match form {
        SetupForm::Keyless => vec![format!("keyless configure --env {name}")],
        // The token goes to a fresh 0700 directory under /tmp (outside $BITBUCKET_CLONE_DIR, so
        // never in artifacts or caches), written by the printf builtin under umask 077 so the file
        // is 0600 and the value never appears on a command line or in the log.
        SetupForm::Shell => vec![
            format!(
                "export AWS_REGION={region} AWS_DEFAULT_REGION={region} AWS_ROLE_ARN={arn}",
                region = env.region,
                arn = env.role_arn()
            ),
            "export AWS_WEB_IDENTITY_TOKEN_FILE=\"$(umask 077 && mktemp -d /tmp/keyless-oidc.XXXXXX)/token\"".to_string(),
            "(umask 077 && printf '%s' \"$BITBUCKET_STEP_OIDC_TOKEN\" > \"$AWS_WEB_IDENTITY_TOKEN_FILE\")".to_string(),
        ],
    }
}

/// What the rendered configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A run (a push, manual, schedule or parent-step trigger, or a file rendered for a target): the pipeline
    /// Bitbucket selected (or keyless selects for the target) is judged by the branch rule; when none is
    /// selected, every pipeline is. Anything refused refuses the whole run.
    Run,
    /// A `definitions` request (the Run-pipeline dialog): nothing runs yet. Every pipeline that may not run
    /// (judged with the branch rule when the request names a branch, without it otherwise) is left out, and the
    /// rest is rendered; each later run is judged on its own.
    Definitions,
}

impl Mode {
    /// The mode of a Dynamic Pipelines request's `trigger`.
    pub fn of_trigger(trigger: &str) -> Mode {
        if trigger == "definitions" {
            Mode::Definitions
        } else {
            Mode::Run
        }
    }
}

/// Renders `file` for a run of `invocation` under `config`: rejects what the policy forbids and adds what it
/// requires. See the crate docs. Same as [`render_for`] with [`Mode::Run`].
pub fn render(
    config: &EnforceConfig,
    file: PipelineFile,
    invocation: &Invocation,
) -> Result<Rendered, Rejection> {
    render_for(config, file, invocation, Mode::Run)
}

/// Renders a parsed Dynamic Pipelines request: refuses it when it is for another workspace (or names none),
/// else renders its configuration for its target in the mode of its trigger.
pub fn render_request(
    config: &EnforceConfig,
    request: payload::Request,
) -> Result<Rendered, Rejection> {
    render_bound(config, request, true)
}

/// Renders a parsed Dynamic Pipelines request as [`render_request`] does, without listing the changes: the same
/// file, omissions, notes or rejection, but no change route or message is formatted. For keyless serve, whose
/// answer is the file alone.
pub fn render_request_file(
    config: &EnforceConfig,
    request: payload::Request,
) -> Result<Rendered, Rejection> {
    render_bound(config, request, false)
}

/// The workspace binding, then the render in the mode of the request's trigger.
fn render_bound(
    config: &EnforceConfig,
    request: payload::Request,
    record: bool,
) -> Result<Rendered, Rejection> {
    bind_workspace(config, request.workspace.as_deref())?;
    let mode = Mode::of_trigger(&request.trigger);
    render_recording(config, request.file, &request.invocation, mode, record)
}

/// A workspace UUID as Bitbucket writes it (`{...}`, any case) or bare: the comparable form.
fn uuid_key(uuid: &str) -> String {
    uuid.trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_ascii_lowercase()
}

/// The request must be for keyless.yml's workspace: the policy, role ARNs and account IDs of this workspace
/// must never be rendered into another workspace's pipelines.
pub fn bind_workspace(config: &EnforceConfig, workspace: Option<&str>) -> Result<(), Rejection> {
    let ours = &config.workspace().workspace.uuid;
    let root = Route::root().key("workspace");
    match workspace {
        Some(theirs) if uuid_key(theirs) == uuid_key(ours) => Ok(()),
        Some(theirs) => {
            let shown: String = theirs.chars().take(60).collect();
            Err(Rejection::new(
                rules::WORKSPACE,
                &root,
                format!(
                    "this request is for workspace `{shown}`, but this keyless serves workspace `{ours}` \
                     (keyless.yml `workspace.uuid`); install the provider only in that workspace, or run one \
                     keyless per workspace with its own keyless.yml"
                ),
            ))
        }
        None => Err(Rejection::new(
            rules::WORKSPACE,
            &root,
            format!(
                "the request names no `workspace`; Bitbucket sends the workspace UUID with every request, and \
                 keyless answers only for workspace `{ours}` (keyless.yml `workspace.uuid`)"
            ),
        )),
    }
}

/// Renders `file` for `invocation` in `mode`, listing the changes.
///
/// The typed model is derived once: judging reads it, and both the step edits and the prepended steps are
/// planned from it before the first edit (edits change step, stage and pipe mappings only, never a pipeline's
/// item list, so every planned route stays valid until the prepended items go in, and pipelines left out and
/// anchor holders are removed by key, last).
pub fn render_for(
    config: &EnforceConfig,
    file: PipelineFile,
    invocation: &Invocation,
    mode: Mode,
) -> Result<Rendered, Rejection> {
    render_recording(config, file, invocation, mode, true)
}

/// [`render_for`]; `record`: list the changes (else [`Rendered::changes`] stays empty). Under
/// `policy.mode: report`, the input comes back unchanged with what enforcing would have done.
fn render_recording(
    config: &EnforceConfig,
    file: PipelineFile,
    invocation: &Invocation,
    mode: Mode,
    record: bool,
) -> Result<Rendered, Rejection> {
    if config.policy().mode == PolicyMode::Report {
        let would = enforce(config, file.clone(), invocation, mode, true);
        let mut rendered = Rendered::new(file);
        rendered.would = Some(Box::new(would));
        return Ok(rendered);
    }
    enforce(config, file, invocation, mode, record)
}

fn enforce(
    config: &EnforceConfig,
    file: PipelineFile,
    invocation: &Invocation,
    mode: Mode,
    record: bool,
) -> Result<Rendered, Rejection> {
    let mut file = file;
    let judged = check::judge(config, &file, invocation, mode)?;
    let omitted_routes: Vec<Route> = judged.omitted.iter().map(|(r, _)| r.clone()).collect();
    let inserts: Vec<PrependPlan<'_>> = plan_prepends(config, &file)
        .into_iter()
        .filter(|p| !omitted_routes.contains(&p.route))
        .collect();
    let mut rendered = Rendered::new(PipelineFile::from_root(keyless_pipelines::Node::new(
        keyless_pipelines::Value::Null,
    )));
    rendered.notes = judged.notes;
    let changes = &mut rendered.changes;

    let mut manual_stages: Vec<Route> = Vec::new();
    for plan in &judged.steps {
        edit_step(config, &mut file, plan, record, changes, &mut manual_stages)?;
    }
    apply_prepends(&mut file, inserts, record.then_some(&mut *changes))?;

    for (route, rejection) in judged.omitted {
        remove_pipeline(&mut file, &route);
        rendered.omitted.push(Omission {
            pipeline: route.to_string(),
            rule: rejection.rule,
            key: rejection.key,
            route: rejection.route,
            message: rejection.message,
        });
    }
    for holder in judged.holders {
        let _ = file.remove_key(&Route::root(), &holder.key);
        if record {
            changes.push(Change {
                rule: rules::ANCHORS.to_string(),
                route: holder.route.to_string(),
                message: format!(
                    "dropped top-level `{}`: it only holds anchors used elsewhere ({}), and the aliases are resolved",
                    holder.key,
                    holder
                        .used_anchors
                        .iter()
                        .map(|a| format!("&{a}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    rendered.file = file;
    Ok(rendered)
}

/// Applies one deployment step's plan. Pipe variables first: they live in script entries whose indices the
/// prepended setup shifts.
fn edit_step(
    config: &EnforceConfig,
    file: &mut PipelineFile,
    plan: &StepPlan<'_>,
    record: bool,
    changes: &mut Vec<Change>,
    manual_stages: &mut Vec<Route>,
) -> Result<(), Rejection> {
    let policy = config.policy();
    let env = plan.env;
    let r = &plan.route;
    // The route and message are built only when changes are recorded.
    let mut change = |rule: &str, describe: &dyn Fn() -> (Route, String)| {
        if record {
            let (route, message) = describe();
            changes.push(Change {
                rule: rule.to_string(),
                route: route.to_string(),
                message,
            })
        }
    };
    let edit_err = |e: keyless_pipelines::EditError| {
        Rejection::new(rules::STRUCTURE, r, format!("internal edit failed: {e}"))
    };
    for pipe in &plan.pipes {
        let variables = pipe.route.key("variables");
        if file.node(&variables).is_none_or(|n| n.as_map().is_none()) {
            file.set_key(
                &pipe.route,
                "variables",
                keyless_pipelines::Node::map(std::iter::empty::<(&str, keyless_pipelines::Node)>()),
            )
            .map_err(edit_err)?;
        }
        for name in &pipe.remove {
            file.remove_key(&variables, name).map_err(edit_err)?;
        }
        if pipe.set_role {
            file.set_key(
                &variables,
                keyless_pipelines::pipes::ROLE_VARIABLE,
                keyless_pipelines::Node::string(env.role_arn()),
            )
            .map_err(edit_err)?;
        }
        if let Some(region) = pipe.set_region {
            file.set_key(
                &variables,
                region,
                keyless_pipelines::Node::string(env.region.as_str()),
            )
            .map_err(edit_err)?;
        }
        change(rules::OIDC, &|| {
            let mut did = Vec::new();
            if pipe.set_role {
                did.push(format!(
                    "{} = {} (the role of `{}`)",
                    keyless_pipelines::pipes::ROLE_VARIABLE,
                    env.role_arn(),
                    plan.env_name
                ));
            } else {
                did.push(format!(
                    "{} already names the role of `{}`",
                    keyless_pipelines::pipes::ROLE_VARIABLE,
                    plan.env_name
                ));
            }
            if let Some(region) = pipe.set_region {
                did.push(format!("{region} = {}", env.region));
            }
            if !pipe.remove.is_empty() {
                did.push(format!(
                    "removed {} (policy.pipe_static_keys: remove)",
                    pipe.remove.join(", ")
                ));
            }
            (
                variables.clone(),
                format!("OIDC for pipe `{}`: {}", pipe.reference, did.join("; ")),
            )
        });
    }
    if !plan.has_runs_on && !env.runner_labels.is_empty() {
        let labels: Vec<&str> = env.runner_labels.iter().map(String::as_str).collect();
        file.set_runs_on(r, &labels).map_err(edit_err)?;
        change(rules::RUNNERS, &|| {
            (
                r.key("runs-on"),
                format!(
                    "runs-on: {} (runners of `{}`)",
                    labels.join(", "),
                    plan.env_name
                ),
            )
        });
    }
    if !plan.oidc_enabled {
        file.set_oidc(r, true).map_err(edit_err)?;
        change(rules::OIDC, &|| (r.key("oidc"), "oidc: true".to_string()));
    }
    if plan.needs_setup && !plan.has_setup {
        let lines: Vec<&str> = config
            .setup_lines(plan.env_name)
            .iter()
            .map(String::as_str)
            .collect();
        file.prepend_script(r, &lines).map_err(edit_err)?;
        change(rules::OIDC, &|| {
            (
                r.key("script"),
                format!(
                    "prepended the {} OIDC setup for `{}` (role {}, region {})",
                    match policy.setup {
                        SetupForm::Shell => "shell",
                        SetupForm::Keyless => "keyless configure",
                    },
                    plan.env_name,
                    env.role_arn(),
                    env.region
                ),
            )
        });
    }
    if env.manual && !plan.trigger_manual {
        let target = plan.stage_route.as_ref().unwrap_or(r);
        if !manual_stages.contains(target) {
            file.set_trigger(target, &Trigger::Manual)
                .map_err(edit_err)?;
            change(rules::APPROVAL, &|| {
                (
                    target.key("trigger"),
                    format!("trigger: manual (`{}` needs approval)", plan.env_name),
                )
            });
            manual_stages.push(target.clone());
        }
    }
    if policy.atlassian_ip_ranges
        && !env.source_ips.is_empty()
        && !env.self_hosted()
        && !plan.self_hosted
    {
        if !plan.ip_ranges {
            file.set_atlassian_ip_ranges(r, true).map_err(edit_err)?;
            change(rules::IP_RANGES, &|| {
                (
                    r.key("runtime"),
                    format!(
                        "runtime.cloud.atlassian-ip-ranges: true (`{}` allows only source_ips)",
                        plan.env_name
                    ),
                )
            });
        }
        if !plan.ip_size {
            file.set_key(
                r,
                "size",
                keyless_pipelines::Node::string(policy.atlassian_ip_size.as_str()),
            )
            .map_err(edit_err)?;
            change(rules::IP_RANGES, &|| {
                (
                    r.key("size"),
                    format!(
                        "size: {} (Atlassian IP ranges need 4x or 8x)",
                        policy.atlassian_ip_size
                    ),
                )
            });
        }
    }
    Ok(())
}

/// Removes the pipeline whose value is at `route` (`pipelines.branches.main`,
/// `pipelines.pull-requests.x.destinations.y`, `definitions.pipelines.shared`), then every mapping it leaves
/// empty below `pipelines` (so no `branches: {}` remains; `pipelines: {}` does when nothing is left).
fn remove_pipeline(file: &mut PipelineFile, route: &Route) {
    let mut current = route.clone();
    loop {
        let (Some(parent), Some(keyless_pipelines::Segment::Key(key))) =
            (current.parent(), current.last().cloned())
        else {
            return;
        };
        if file.remove_key(&parent, &key).is_err() {
            return;
        }
        let stop = parent.segments().len() <= 1
            || file
                .node(&parent)
                .is_none_or(|n| n.as_map().is_none_or(|m| !m.is_empty()));
        if stop {
            return;
        }
        current = parent;
    }
}

/// The policy's steps for one pipeline: where they go and which of them.
struct PrependPlan<'c> {
    /// The pipeline's item list.
    route: Route,
    /// After a custom pipeline's `variables`.
    start: usize,
    /// Indices into `policy.prepend` (and [`EnforceConfig::prepend_items`]).
    steps: Vec<usize>,
    config: &'c EnforceConfig,
}

/// Plans putting the policy's steps at the start of every pipeline (after a custom pipeline's `variables`), as
/// top-level items so they never land inside a `parallel` or `stage`; skipped where a step with the same name
/// already is a top-level item of that pipeline.
fn plan_prepends<'c>(config: &'c EnforceConfig, file: &PipelineFile) -> Vec<PrependPlan<'c>> {
    let prepend = &config.policy().prepend;
    if prepend.is_empty() {
        return Vec::new();
    }
    let mut plans = Vec::new();
    for p in &file.config().pipelines {
        let PipelineBody::Items { variables, items } = &p.body else {
            continue;
        };
        let present = |name: &str| {
            items
                .iter()
                .any(|i| matches!(i, Item::Step(s) if s.name.as_deref() == Some(name)))
        };
        let steps: Vec<usize> = prepend
            .iter()
            .enumerate()
            .filter(|(_, step)| !present(&step.name))
            .map(|(i, _)| i)
            .collect();
        if !steps.is_empty() {
            plans.push(PrependPlan {
                route: p.route.clone(),
                start: usize::from(variables.is_some()),
                steps,
                config,
            });
        }
    }
    plans
}

/// Inserts the planned steps (the last item-list edit of a render: it shifts the items of each pipeline),
/// listing them in `changes` when given.
fn apply_prepends(
    file: &mut PipelineFile,
    plans: Vec<PrependPlan<'_>>,
    mut changes: Option<&mut Vec<Change>>,
) -> Result<(), Rejection> {
    for plan in plans {
        let route = &plan.route;
        let items = plan.config.prepend_items();
        let prepend = &plan.config.policy().prepend;
        for (offset, &i) in plan.steps.iter().enumerate() {
            file.insert(route, plan.start + offset, items[i].clone())
                .map_err(|e| {
                    Rejection::new(rules::PREPEND, route, format!("internal edit failed: {e}"))
                })?;
        }
        let Some(changes) = changes.as_deref_mut() else {
            continue;
        };
        let shown = route.to_string();
        for &i in &plan.steps {
            changes.push(Change {
                rule: rules::PREPEND.to_string(),
                route: shown.clone(),
                message: format!("prepended step `{}`", prepend[i].name),
            });
        }
    }
    Ok(())
}
