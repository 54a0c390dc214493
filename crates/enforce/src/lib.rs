//! Workspace enforcement: renders a `bitbucket-pipelines.yml` (or a Dynamic Pipelines
//! `pipelines_configuration`) under the environments and `policy:` of `keyless.yml`, or rejects it.
//!
//! [`render`] is pure: the same configuration, pipeline and target always give the same result, and
//! rendering a rendered file changes nothing. Every change and every rejection names the policy rule
//! behind it. Anything the policy cannot judge (an unknown key, an unresolved `import`, an invalid
//! item) is a rejection, never a silent pass-through. See `docs/enforce.md`.
//!
//! The environments and the policy come from `keyless.yml` as `keyless-workspace` loads it ([`EnforceConfig`]);
//! [`judge::RenderJudge`] runs this engine for `keyless check`'s pipeline column.

pub mod json;
pub mod judge;
pub mod payload;
pub mod policy;

use keyless_pipelines::{
    Item, Oidc, PipelineBody, PipelineFile, Route, ScriptEntry, Target, Trigger, select_pipeline,
};
pub use policy::{ConfigError, EnforceConfig, EnvironmentSpec, Policy, SetupForm};

/// The rule names used in changes and rejections.
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
}

/// What started the run, plus the branch of a custom run (a custom pipeline runs on a branch the
/// target alone does not name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub target: Target,
    /// For [`Target::Custom`]: the branch it runs on, when known.
    pub branch: Option<String>,
}

impl From<Target> for Invocation {
    fn from(target: Target) -> Self {
        Invocation {
            target,
            branch: None,
        }
    }
}

impl Invocation {
    /// The branch whose code runs: the pushed branch, the pull request's source, the custom run's
    /// branch. `None` for tags and custom runs without a branch.
    fn branch(&self) -> Option<&str> {
        match &self.target {
            Target::Branch(b) => Some(b),
            Target::PullRequest { source, .. } => Some(source),
            Target::Tag(_) => None,
            Target::Custom(_) => self.branch.as_deref(),
        }
    }

    fn describe(&self) -> String {
        match &self.target {
            Target::Branch(b) => format!("branch `{b}`"),
            Target::Tag(t) => format!("tag `{t}`"),
            Target::PullRequest {
                source,
                destination,
            } => format!("pull request `{source}` → `{destination}`"),
            Target::Custom(c) => match &self.branch {
                Some(b) => format!("custom pipeline `{c}` on branch `{b}`"),
                None => format!("custom pipeline `{c}` (branch unknown)"),
            },
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

/// The rendered file and what changed.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub file: PipelineFile,
    pub changes: Vec<Change>,
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

/// What judging found about one deployment step: enough to edit it without reading the model again. Borrows
/// only the configuration, so the file can be edited while the plans live.
struct StepPlan<'c> {
    route: Route,
    env_name: &'c str,
    env: &'c EnvironmentSpec,
    stage_route: Option<Route>,
    has_runs_on: bool,
    oidc_enabled: bool,
    /// The script already starts with the environment's setup lines.
    has_setup: bool,
    trigger_manual: bool,
    ip_ranges: bool,
    /// `size` is 4x or 8x (what Atlassian IP ranges need).
    ip_size: bool,
    self_hosted: bool,
}

/// What the rendered configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A run (a push, manual, schedule or parent-step trigger, or a file rendered for a target): the pipeline
    /// the target selects is judged by the branch rule; when it selects none, every pipeline is.
    Run,
    /// A `definitions` request (the Run-pipeline dialog lists the pipelines): nothing runs yet, so only the
    /// pipeline the target selects is judged by the branch rule; each later run is judged on its own.
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

/// Renders a parsed Dynamic Pipelines request: its configuration, for its target, in the mode of its trigger.
pub fn render_request(
    config: &EnforceConfig,
    request: payload::Request,
) -> Result<Rendered, Rejection> {
    let mode = Mode::of_trigger(&request.trigger);
    render_for(config, request.file, &request.invocation, mode)
}

/// Renders `file` for `invocation` in `mode`.
///
/// The typed model is derived once: judging reads it, and both the step edits and the prepended steps are
/// planned from it before the first edit (edits change step and stage mappings only, never a pipeline's item
/// list, so every planned route stays valid until the prepended items go in, last).
pub fn render_for(
    config: &EnforceConfig,
    file: PipelineFile,
    invocation: &Invocation,
    mode: Mode,
) -> Result<Rendered, Rejection> {
    render_recording(config, file, invocation, mode, true)
}

/// Renders a parsed Dynamic Pipelines request as [`render_request`] does, without listing the changes: the same
/// file or the same rejection, but no change route or message is formatted. For keyless serve, whose answer is
/// the file alone.
pub fn render_request_file(
    config: &EnforceConfig,
    request: payload::Request,
) -> Result<PipelineFile, Rejection> {
    let mode = Mode::of_trigger(&request.trigger);
    render_recording(config, request.file, &request.invocation, mode, false).map(|r| r.file)
}

/// [`render_for`]; `record`: list the changes (else [`Rendered::changes`] stays empty).
fn render_recording(
    config: &EnforceConfig,
    file: PipelineFile,
    invocation: &Invocation,
    mode: Mode,
    record: bool,
) -> Result<Rendered, Rejection> {
    let mut file = file;
    let plans = judge(config, &file, invocation, mode)?;
    let inserts = plan_prepends(config, &file);
    let mut changes = Vec::new();
    let policy = config.policy();

    let mut manual_stages: Vec<Route> = Vec::new();
    for plan in &plans {
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
        if !plan.has_setup {
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
    }

    apply_prepends(&mut file, inserts, record.then_some(&mut changes))?;
    Ok(Rendered { file, changes })
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

/// Inserts the planned steps (the last edit of a render: it shifts the items of each pipeline), listing them in
/// `changes` when given.
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

/// Checks everything that can reject, and returns the deployment steps to edit.
fn judge<'c>(
    config: &'c EnforceConfig,
    file: &PipelineFile,
    invocation: &Invocation,
    mode: Mode,
) -> Result<Vec<StepPlan<'c>>, Rejection> {
    let model = file.config();

    if let Some((key, route)) = model.unknown_keys.first() {
        return Err(Rejection::new(
            rules::STRUCTURE,
            route,
            format!("unknown top-level key `{key}`: the policy cannot judge it; remove it"),
        ));
    }
    if let Some(d) = keyless_pipelines::validate(file)
        .into_iter()
        .find(|d| d.severity == keyless_pipelines::Severity::Error)
    {
        return Err(Rejection::new(
            rules::STRUCTURE,
            &d.route,
            format!(
                "the configuration does not match Atlassian's schema: {}",
                d.message
            ),
        ));
    }
    if let Some(image) = &model.image
        && let Some(name) = &image.name
    {
        forbidden_image(config, &image.route, name, &"the global image")?;
    }
    for p in &model.pipelines {
        match &p.body {
            PipelineBody::Invalid => {
                return Err(Rejection::new(
                    rules::STRUCTURE,
                    &p.route,
                    "this pipeline is neither a list of items nor an import; the policy cannot judge it",
                ));
            }
            PipelineBody::Import(i) => {
                return Err(Rejection::new(
                    rules::STRUCTURE,
                    &i.route,
                    format!(
                        "`import: {}` is not resolved; the policy cannot judge a pipeline it cannot see \
                         (Bitbucket resolves imports before calling the provider; render the resolved file)",
                        i.raw
                    ),
                ));
            }
            PipelineBody::Items { items, .. } => {
                for item in items {
                    match item {
                        Item::Unknown { route } => {
                            return Err(Rejection::new(
                                rules::STRUCTURE,
                                route,
                                "an item that is not `step`, `parallel` or `stage`; the policy cannot judge it",
                            ));
                        }
                        Item::Stage(s) => {
                            if let Some(k) = s.unknown_keys.first() {
                                return Err(Rejection::new(
                                    rules::STRUCTURE,
                                    &s.route.key(k.as_str()),
                                    format!("unknown stage key `{k}`; the policy cannot judge it"),
                                ));
                            }
                            if let Some(Trigger::Other(t)) = &s.trigger {
                                return Err(Rejection::new(
                                    rules::STRUCTURE,
                                    &s.route.key("trigger"),
                                    format!("unknown trigger `{t}`"),
                                ));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    let selected = select_pipeline(file, &invocation.target).map(|s| s.pipeline.route.clone());
    let production_labels = config.production_labels();
    let mut plans = Vec::new();
    for s in file.steps() {
        let step = s.step;
        let r = s.route;
        let label = StepLabel(step);
        if let Some(k) = step.unknown_keys.first() {
            return Err(Rejection::new(
                rules::STRUCTURE,
                &r.key(k.as_str()),
                format!("{label}: unknown key `{k}`; the policy cannot judge it"),
            ));
        }
        if matches!(step.oidc, Some(Oidc::Invalid)) {
            return Err(Rejection::new(
                rules::STRUCTURE,
                &r.key("oidc"),
                format!("{label}: `oidc` is neither a boolean nor audiences"),
            ));
        }
        if let Some(Trigger::Other(t)) = &step.trigger {
            return Err(Rejection::new(
                rules::STRUCTURE,
                &r.key("trigger"),
                format!("{label}: unknown trigger `{t}`"),
            ));
        }
        for entry in step.all_script() {
            match entry {
                ScriptEntry::Invalid { .. } => {
                    return Err(Rejection::new(
                        rules::STRUCTURE,
                        entry.route(),
                        format!("{label}: a script entry that is neither a command nor a pipe"),
                    ));
                }
                ScriptEntry::Command { .. } => {
                    let line = entry.command().unwrap_or_default();
                    for (i, f) in config.policy().forbidden.scripts.iter().enumerate() {
                        if f.compiled.is_match(line) {
                            return Err(Rejection::new(
                                rules::FORBIDDEN_SCRIPTS,
                                entry.route(),
                                format!(
                                    "{label}: script line matches forbidden.scripts[{i}] (`{}`) at {}: {}",
                                    f.regex,
                                    entry.route(),
                                    f.message
                                ),
                            ));
                        }
                    }
                }
                ScriptEntry::Pipe(pipe) => {
                    let Some((name, version)) = pipe.reference() else {
                        return Err(Rejection::new(
                            rules::STRUCTURE,
                            &pipe.route,
                            format!("{label}: a pipe without a name"),
                        ));
                    };
                    let forbidden = config.policy().forbidden.pipes.iter();
                    for (i, (f, compiled)) in forbidden.zip(config.forbidden_pipes()).enumerate() {
                        if !compiled.pipe.matches(name) {
                            continue;
                        }
                        let hit = match (&compiled.versions, version) {
                            (None, _) => true,
                            (Some(vs), Some(v)) => vs.iter().any(|p| p.matches(v)),
                            // No version pinned: it may be any version, forbidden ones included.
                            (Some(_), None) => true,
                        };
                        if hit {
                            return Err(Rejection::new(
                                rules::FORBIDDEN_PIPES,
                                &pipe.route,
                                format!(
                                    "{label}: pipe `{}` matches forbidden.pipes[{i}] at {}: {}",
                                    pipe.pipe.as_deref().unwrap_or(name),
                                    pipe.route,
                                    f.message
                                ),
                            ));
                        }
                    }
                }
            }
        }
        if let Some(image) = &step.image
            && let Some(name) = &image.name
        {
            forbidden_image(config, &image.route, name, &label)?;
        }

        let runs_on: &[String] = step.runs_on.as_deref().unwrap_or_default();
        let Some(deployment) = &s.effective.deployment else {
            if let Some(l) = runs_on.iter().find(|l| production_labels.contains(l)) {
                return Err(Rejection::new(
                    rules::RUNNERS,
                    &r.key("runs-on"),
                    format!(
                        "{label} is not a deployment but runs on the production runner label `{l}`; \
                         only production deployment steps may use production runners"
                    ),
                ));
            }
            continue;
        };
        let env_name = deployment.value.as_str();
        let Some((env_name, env)) = config
            .environments()
            .get_key_value(env_name)
            .map(|(k, v)| (k.as_str(), v))
        else {
            return Err(Rejection::new(
                rules::ENVIRONMENTS,
                &r.key("deployment"),
                format!(
                    "{label} deploys to `{env_name}`, which keyless.yml does not define (defined: {})",
                    config
                        .environments()
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        // The branch rule judges the pipeline the target runs. When the target selects none, a run judges every
        // pipeline: keyless cannot prove that Bitbucket's selection (its globs, its precedence) agrees with its
        // own, and a step that deploys must never run unjudged (docs/enforce.md, "Targets that select no
        // pipeline"). A definitions request runs nothing, so only the selected pipeline is judged there.
        let judged = match (&selected, mode) {
            (Some(route), _) => route == &s.pipeline.route,
            (None, Mode::Run) => true,
            (None, Mode::Definitions) => false,
        };
        if judged {
            let allowed = invocation.branch().is_some_and(|b| env.allows_branch(b));
            if !allowed {
                let unselected = if selected.is_none() {
                    format!(
                        " ({} selects no pipeline of this configuration, so keyless judges them all rather than \
                         let a deployment step run unjudged if Bitbucket's selection differs)",
                        invocation.describe()
                    )
                } else {
                    String::new()
                };
                return Err(Rejection::new(
                    rules::BRANCHES,
                    &r.key("deployment"),
                    format!(
                        "{label} deploys to `{env_name}`, which {} may not do; allowed branches: {}{unselected}",
                        invocation.describe(),
                        if env.branches.is_empty() {
                            "none".to_string()
                        } else {
                            env.branches
                                .iter()
                                .map(|b| b.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                ));
            }
        }
        if !runs_on.is_empty() {
            let own = config.specific_labels(env_name);
            for other in config.environments().keys() {
                if other == env_name {
                    continue;
                }
                if let Some(l) = config
                    .specific_labels(other)
                    .iter()
                    .find(|l| runs_on.contains(l) && !own.contains(l))
                {
                    return Err(Rejection::new(
                        rules::RUNNERS,
                        &r.key("runs-on"),
                        format!(
                            "{label} deploys to `{env_name}` but runs on `{l}`, a runner label of `{other}`"
                        ),
                    ));
                }
            }
            let missing: Vec<&String> = env
                .runner_labels
                .iter()
                .filter(|l| !runs_on.contains(l))
                .collect();
            if !missing.is_empty() {
                return Err(Rejection::new(
                    rules::RUNNERS,
                    &r.key("runs-on"),
                    format!(
                        "{label} deploys to `{env_name}` but its runs-on lacks {}; `{env_name}` steps run on [{}]",
                        missing
                            .iter()
                            .map(|l| format!("`{l}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        env.runner_labels.join(", ")
                    ),
                ));
            }
        }
        let setup = config.setup_lines(env_name);
        let has_setup = setup.len() <= step.script.len()
            && setup
                .iter()
                .zip(&step.script)
                .all(|(line, entry)| entry.command() == Some(line.as_str()));
        let size = s.effective.size.value.as_str();
        plans.push(StepPlan {
            route: r.clone(),
            env_name,
            env,
            stage_route: s.stage.map(|st| st.route.clone()),
            has_runs_on: step.runs_on.is_some(),
            oidc_enabled: matches!(step.oidc, Some(Oidc::Flag(true)) | Some(Oidc::Audiences(_))),
            has_setup,
            trigger_manual: s.effective.trigger.value == Trigger::Manual,
            ip_ranges: s.effective.runtime.atlassian_ip_ranges,
            ip_size: size == "4x" || size == "8x",
            self_hosted: s.effective.self_hosted,
        });
    }
    Ok(plans)
}

/// How messages name a step: `step `Build`` or, without a name, `the step at <route>`. Formatted only when a
/// message is, so judging a step that passes allocates nothing for it.
struct StepLabel<'a>(&'a keyless_pipelines::Step);

impl std::fmt::Display for StepLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.name.as_deref() {
            Some(n) => write!(f, "step `{n}`"),
            None => write!(f, "the step at {}", self.0.route),
        }
    }
}

fn forbidden_image(
    config: &EnforceConfig,
    route: &Route,
    name: &str,
    label: &dyn std::fmt::Display,
) -> Result<(), Rejection> {
    let forbidden = config.policy().forbidden.images.iter();
    for (i, (f, glob)) in forbidden.zip(config.forbidden_images()).enumerate() {
        if glob.matches(name) {
            return Err(Rejection::new(
                rules::FORBIDDEN_IMAGES,
                route,
                format!(
                    "{label}: image `{name}` matches forbidden.images[{i}] at {route}: {}",
                    f.message
                ),
            ));
        }
    }
    Ok(())
}
