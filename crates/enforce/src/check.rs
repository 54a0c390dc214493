//! Judging a configuration: everything that can refuse it (or, in a definitions request, leave one pipeline
//! out), what is let through and reported, and the plans of the edits a render makes.
//!
//! Every refusal is scoped: to the whole configuration (a top-level key, the global image, a schema error outside
//! any pipeline) or to one pipeline (anything at or below its route). A run is refused by the first refusal (the
//! configuration's, else the first pipeline's in document order); a definitions request leaves out each refused
//! pipeline (all of them for a configuration-wide refusal) and renders the rest.

use keyless_pipelines::pipes::{self, PipeOidc};
use keyless_pipelines::{
    AnchorHolder, DiagnosticKind, Item, Oidc, PipelineBody, PipelineFile, Route, SchemaDiagnostic,
    ScriptEntry, Severity, StepRef, Trigger, select_pipeline,
};

use crate::unknown::unknown_keys;
use crate::{
    EnforceConfig, EnvironmentSpec, Invocation, Mode, Note, PipeStaticKeys, Rejection, UnknownKeys,
    rules,
};

/// What judging found about one deployment step: enough to edit it without reading the model again. Borrows
/// only the configuration, so the file can be edited while the plans live.
pub(crate) struct StepPlan<'c> {
    pub route: Route,
    pub env_name: &'c str,
    pub env: &'c EnvironmentSpec,
    pub stage_route: Option<Route>,
    pub has_runs_on: bool,
    pub oidc_enabled: bool,
    /// The script already starts with the environment's setup lines.
    pub has_setup: bool,
    /// The script has a shell command (a script of pipes only gets no shell setup: pipes run in their own
    /// containers and read their variables, not the step's environment).
    pub needs_setup: bool,
    pub trigger_manual: bool,
    pub ip_ranges: bool,
    /// `size` is 4x or 8x (what Atlassian IP ranges need).
    pub ip_size: bool,
    pub self_hosted: bool,
    /// The step's AWS pipes that keyless gives the environment's role.
    pub pipes: Vec<PipePlan>,
}

/// OIDC for one pipe of a deployment step (bitbucket.md §6).
pub(crate) struct PipePlan {
    /// The script entry holding `pipe:`.
    pub route: Route,
    /// `owner/name:version` as written.
    pub reference: String,
    /// Set `AWS_OIDC_ROLE_ARN` (false when it already names the environment's role).
    pub set_role: bool,
    /// The region variable to set, when the pipe has none.
    pub set_region: Option<&'static str>,
    /// Static key variables to remove (`policy.pipe_static_keys: remove`).
    pub remove: Vec<String>,
}

/// The outcome of judging.
pub(crate) struct Judged<'c> {
    pub steps: Vec<StepPlan<'c>>,
    /// Definitions requests: each pipeline left out (its route) and why.
    pub omitted: Vec<(Route, Rejection)>,
    pub notes: Vec<Note>,
    /// Top-level keys to drop.
    pub holders: Vec<AnchorHolder>,
}

/// Refusals found so far: the configuration's first, and each pipeline's first.
struct Refusals {
    global: Option<Rejection>,
    /// Indexed like `file.pipelines()`.
    pipelines: Vec<Option<Rejection>>,
    routes: Vec<Route>,
}

impl Refusals {
    /// Records a refusal at `route`: the pipeline's when the route is inside one, else the configuration's.
    fn add(&mut self, at: &Route, rejection: Rejection) {
        let slot = match self.routes.iter().position(|p| at.starts_with(p)) {
            Some(i) => &mut self.pipelines[i],
            None => &mut self.global,
        };
        if slot.is_none() {
            *slot = Some(rejection);
        }
    }

    fn pipeline(&mut self, index: usize, rejection: Rejection) {
        if self.pipelines[index].is_none() {
            self.pipelines[index] = Some(rejection);
        }
    }

    fn refused(&self, index: usize) -> bool {
        self.global.is_some() || self.pipelines[index].is_some()
    }
}

/// Checks everything that can refuse, and plans the edits of the pipelines that may run.
pub(crate) fn judge<'c>(
    config: &'c EnforceConfig,
    file: &PipelineFile,
    invocation: &Invocation,
    mode: Mode,
) -> Result<Judged<'c>, Rejection> {
    let model = file.config();
    let mut refusals = Refusals {
        global: None,
        pipelines: vec![None; model.pipelines.len()],
        routes: model.pipelines.iter().map(|p| p.route.clone()).collect(),
    };
    let mut notes = Vec::new();

    // Keys Bitbucket's schema does not know, anchor holders aside.
    let holders = file.anchor_holders();
    let diagnostics = keyless_pipelines::validate(file);
    let steps = file.steps();
    let passed = unknown_key_refusals(
        config,
        file,
        &steps,
        &diagnostics,
        &holders,
        &mut refusals,
        &mut notes,
    );
    schema_refusals(&diagnostics, &passed, &mut refusals);
    structure_refusals(config, model, &mut refusals);

    // Which pipelines the branch rule judges.
    let selected = selected_pipeline(file, invocation);
    let judged_by_branch = |route: &Route| match mode {
        Mode::Run => selected.as_ref().is_none_or(|s| s == route),
        Mode::Definitions => invocation.branch().is_some(),
    };

    let production_labels = config.production_labels();
    let mut plans: Vec<(usize, StepPlan<'c>)> = Vec::new();
    for s in &steps {
        let Some(index) = refusals.routes.iter().position(|r| r == &s.pipeline.route) else {
            continue;
        };
        let branch_rule = judged_by_branch(&s.pipeline.route);
        match judge_step(
            config,
            s,
            invocation,
            branch_rule,
            selected.is_none() && mode == Mode::Run,
            production_labels,
            &mut notes,
        ) {
            Ok(Some(plan)) => plans.push((index, plan)),
            Ok(None) => {}
            Err(r) => refusals.pipeline(index, r),
        }
    }
    conclude(mode, refusals, plans, notes, holders)
}

/// Unknown keys, by `policy.unknown_keys`: refused, or let through (with a note under `warn`). Returns the routes
/// let through, whose schema errors are let through too.
fn unknown_key_refusals(
    config: &EnforceConfig,
    file: &PipelineFile,
    steps: &[StepRef<'_>],
    diagnostics: &[SchemaDiagnostic],
    holders: &[AnchorHolder],
    refusals: &mut Refusals,
    notes: &mut Vec<Note>,
) -> Vec<Route> {
    let policy = config.policy();
    let mut passed: Vec<Route> = Vec::new();
    for unknown in unknown_keys(file, steps, diagnostics, holders) {
        let what = match unknown.location {
            "item" => format!("item `{}`", unknown.key),
            location => format!("unknown {location} key `{}`", unknown.key),
        };
        match (policy.unknown_keys, &unknown.forced) {
            (UnknownKeys::Refuse, _) => refusals.add(
                &unknown.route,
                Rejection::new(
                    rules::UNKNOWN_KEYS,
                    &unknown.route,
                    format!(
                        "{what}: Bitbucket's schema does not know it, and policy.unknown_keys is `refuse`; remove it, \
                         or set policy.unknown_keys to `warn` to let such keys through with a report"
                    ),
                ),
            ),
            (UnknownKeys::Warn, Some(why)) => refusals.add(
                &unknown.route,
                Rejection::new(
                    rules::UNKNOWN_KEYS,
                    &unknown.route,
                    format!(
                        "{what}: Bitbucket's schema does not know it and {why}, so keyless refuses it even under \
                         policy.unknown_keys: warn; remove it (if Atlassian added it, upgrade keyless)"
                    ),
                ),
            ),
            (UnknownKeys::Warn, None) => {
                notes.push(Note {
                    rule: rules::UNKNOWN_KEYS.to_string(),
                    route: unknown.route.to_string(),
                    message: format!(
                        "{what} passed through unchanged (policy.unknown_keys: warn): Bitbucket's schema does not \
                         know it"
                    ),
                    location: Some(unknown.location),
                });
                passed.push(unknown.route);
            }
            (UnknownKeys::Pass, _) => passed.push(unknown.route),
        }
    }
    passed
}

/// Atlassian's schema errors, except those of unknown keys (judged above) and those below a route let through.
fn schema_refusals(diagnostics: &[SchemaDiagnostic], passed: &[Route], refusals: &mut Refusals) {
    // Atlassian's schema. An unknown item fails it as a whole; once let through, so are its errors.
    for d in diagnostics {
        if d.severity != Severity::Error
            || matches!(d.kind, DiagnosticKind::UnknownKey { .. })
            || passed.iter().any(|p| d.route.starts_with(p))
        {
            continue;
        }
        refusals.add(
            &d.route,
            Rejection::new(
                rules::STRUCTURE,
                &d.route,
                format!(
                    "the configuration does not match Atlassian's schema: {}",
                    d.message
                ),
            ),
        );
    }
}

/// The global image, and what makes a pipeline unjudgeable: not a list of items, an unresolved import, a stage
/// with an unknown trigger.
fn structure_refusals(
    config: &EnforceConfig,
    model: &keyless_pipelines::Config,
    refusals: &mut Refusals,
) {
    if let Some(image) = &model.image
        && let Some(name) = &image.name
        && let Err(r) = forbidden_image(config, &image.route, name, &"the global image")
    {
        refusals.add(&image.route, r);
    }

    for (index, p) in model.pipelines.iter().enumerate() {
        match &p.body {
            PipelineBody::Invalid => refusals.pipeline(
                index,
                Rejection::new(
                    rules::STRUCTURE,
                    &p.route,
                    "this pipeline is neither a list of items nor an import; the policy cannot judge it",
                ),
            ),
            PipelineBody::Import(i) => refusals.pipeline(
                index,
                Rejection::new(
                    rules::STRUCTURE,
                    &i.route,
                    format!(
                        "`import: {}` is not resolved; the policy cannot judge a pipeline it cannot see \
                         (Bitbucket resolves imports before calling the provider; render the resolved file)",
                        i.raw
                    ),
                ),
            ),
            PipelineBody::Items { items, .. } => {
                for item in items {
                    if let Item::Stage(s) = item
                        && let Some(Trigger::Other(t)) = &s.trigger
                    {
                        refusals.pipeline(
                            index,
                            Rejection::new(
                                rules::STRUCTURE,
                                &s.route.key("trigger"),
                                format!("unknown trigger `{t}`"),
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// The outcome by mode: a run stops at the first refusal; a definitions request leaves out each refused pipeline,
/// its plans and the notes inside it.
fn conclude<'c>(
    mode: Mode,
    refusals: Refusals,
    mut plans: Vec<(usize, StepPlan<'c>)>,
    mut notes: Vec<Note>,
    holders: Vec<AnchorHolder>,
) -> Result<Judged<'c>, Rejection> {
    let mut omitted = Vec::new();
    match mode {
        Mode::Run => {
            if let Some(r) = refusals.global {
                return Err(r);
            }
            if let Some(r) = refusals.pipelines.into_iter().flatten().next() {
                return Err(r);
            }
        }
        Mode::Definitions => {
            for (index, route) in refusals.routes.iter().enumerate() {
                if let Some(r) = refusals
                    .global
                    .as_ref()
                    .or(refusals.pipelines[index].as_ref())
                {
                    omitted.push((route.clone(), r.clone()));
                }
            }
            plans.retain(|(index, _)| !refusals.refused(*index));
            let shown: Vec<String> = omitted.iter().map(|(r, _)| r.to_string()).collect();
            notes.retain(|n| !shown.iter().any(|p| route_text_within(&n.route, p)));
        }
    }
    Ok(Judged {
        steps: plans.into_iter().map(|(_, p)| p).collect(),
        omitted,
        notes,
        holders,
    })
}

/// Whether the route written `route` is `parent` or below it (both as [`Route`] displays them).
fn route_text_within(route: &str, parent: &str) -> bool {
    route
        .strip_prefix(parent)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

/// The route of the pipeline this run is judged on: the definition Bitbucket matched (`target.selector`) when
/// the request names one, else the one keyless selects for the target. `None` when neither selects a pipeline
/// of this configuration.
fn selected_pipeline(file: &PipelineFile, invocation: &Invocation) -> Option<Route> {
    if let Some(selector) = &invocation.selector {
        let matching: Vec<&keyless_pipelines::Pipeline> = file
            .pipelines()
            .iter()
            .filter(|p| match (selector, &p.selector) {
                // The pattern of a pull-requests selector is the source glob; with `destinations`, one source
                // holds several definitions and the destination decides among them.
                (
                    keyless_pipelines::Selector::PullRequests { source, .. },
                    keyless_pipelines::Selector::PullRequests { source: s, .. },
                ) => source == s,
                (a, b) => a == b,
            })
            .collect();
        return match matching.as_slice() {
            [] => None,
            [one] => Some(one.route.clone()),
            several => invocation
                .target
                .as_ref()
                .and_then(|t| select_pipeline(file, t))
                .map(|s| s.pipeline.route.clone())
                .filter(|r| several.iter().any(|p| &p.route == r)),
        };
    }
    let target = invocation.target.as_ref()?;
    select_pipeline(file, target).map(|s| s.pipeline.route.clone())
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

pub(crate) fn forbidden_image(
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

/// Whether `invocation` may deploy to `env`: its branch matches the environment's branches; a run without a
/// branch only when the environment allows every branch (`**`) or `policy.branchless_environments` lists it.
fn branch_allows(
    config: &EnforceConfig,
    env_name: &str,
    env: &EnvironmentSpec,
    invocation: &Invocation,
) -> bool {
    match invocation.branch() {
        Some(b) => env.allows_branch(b),
        None => {
            env.branches.iter().any(|p| p.as_str() == "**")
                || config
                    .policy()
                    .branchless_environments
                    .iter()
                    .any(|e| e == env_name)
        }
    }
}

/// Judges one step. `Ok(Some(plan))` for a deployment step to edit, `Ok(None)` for any other step that passes.
#[allow(clippy::too_many_arguments)]
fn judge_step<'c>(
    config: &'c EnforceConfig,
    s: &StepRef<'_>,
    invocation: &Invocation,
    branch_rule: bool,
    none_selected: bool,
    production_labels: &[String],
    notes: &mut Vec<Note>,
) -> Result<Option<StepPlan<'c>>, Rejection> {
    let step = s.step;
    let r = s.route;
    let label = StepLabel(step);
    step_refusal(config, step, r, &label)?;
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
        return Ok(None);
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
    // The branch rule judges the pipeline the run is for. When none is selected, a run judges every pipeline:
    // keyless cannot prove that Bitbucket's selection agrees with its own, and a step that deploys must never run
    // unjudged (docs/enforce.md, "Targets that select no pipeline").
    if branch_rule && !branch_allows(config, env_name, env, invocation) {
        return Err(branch_refusal(
            config,
            &label,
            r,
            env_name,
            env,
            invocation,
            none_selected,
        ));
    }
    runner_refusal(config, &label, r, env_name, env, runs_on)?;
    vpc_refusal(&label, r, env_name, env, s, runs_on)?;
    let pipes = plan_pipes(config, &label, env_name, env, s, notes)?;
    Ok(Some(step_plan(config, s, env_name, env, pipes)))
}

/// The plan of a deployment step that passed: what its edit needs to know.
fn step_plan<'c>(
    config: &EnforceConfig,
    s: &StepRef<'_>,
    env_name: &'c str,
    env: &'c EnvironmentSpec,
    pipes: Vec<PipePlan>,
) -> StepPlan<'c> {
    let step = s.step;
    let setup = config.setup_lines(env_name);
    let has_setup = setup.len() <= step.script.len()
        && setup
            .iter()
            .zip(&step.script)
            .all(|(line, entry)| entry.command() == Some(line.as_str()));
    let size = s.effective.size.value.as_str();
    StepPlan {
        route: s.route.clone(),
        env_name,
        env,
        stage_route: s.stage.map(|st| st.route.clone()),
        has_runs_on: step.runs_on.is_some(),
        oidc_enabled: matches!(step.oidc, Some(Oidc::Flag(true)) | Some(Oidc::Audiences(_))),
        has_setup,
        needs_setup: step
            .script
            .iter()
            .any(|e| matches!(e, ScriptEntry::Command { .. })),
        trigger_manual: s.effective.trigger.value == Trigger::Manual,
        ip_ranges: s.effective.runtime.atlassian_ip_ranges,
        ip_size: size == "4x" || size == "8x",
        self_hosted: s.effective.self_hosted,
        pipes,
    }
}

/// What refuses any step, deployment or not: an `oidc` or `trigger` of the wrong shape, a script entry that is
/// neither a command nor a named pipe, a forbidden script line, pipe or image.
fn step_refusal(
    config: &EnforceConfig,
    step: &keyless_pipelines::Step,
    r: &Route,
    label: &StepLabel<'_>,
) -> Result<(), Rejection> {
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
        script_refusal(config, entry, label)?;
    }
    if let Some(image) = &step.image
        && let Some(name) = &image.name
    {
        forbidden_image(config, &image.route, name, label)?;
    }
    Ok(())
}

/// One script entry against its shape and `forbidden.scripts` / `forbidden.pipes`.
fn script_refusal(
    config: &EnforceConfig,
    entry: &ScriptEntry,
    label: &StepLabel<'_>,
) -> Result<(), Rejection> {
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
    Ok(())
}

/// The runner labels of a deployment step: none of another environment's own labels, all of its own.
fn runner_refusal(
    config: &EnforceConfig,
    label: &StepLabel<'_>,
    r: &Route,
    env_name: &str,
    env: &EnvironmentSpec,
    runs_on: &[String],
) -> Result<(), Rejection> {
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
    Ok(())
}

/// Only the VPC path (issue 20): AWS accepts the role only through the environment's STS interface endpoint,
/// which cloud runners never reach. render adds the environment's runs-on when it has `self.hosted`; otherwise
/// a cloud step is refused here, before it gets a token AWS would refuse anyway.
fn vpc_refusal(
    label: &StepLabel<'_>,
    r: &Route,
    env_name: &str,
    env: &EnvironmentSpec,
    s: &StepRef<'_>,
    runs_on: &[String],
) -> Result<(), Rejection> {
    let gets_self_hosted = runs_on.is_empty() && env.self_hosted();
    if env.vpc_only() && !s.effective.self_hosted && !gets_self_hosted {
        return Err(Rejection::new(
            rules::RUNNERS,
            &r.key("runs-on"),
            format!(
                "{label} deploys to `{env_name}`, whose role trusts only calls through its STS VPC endpoint ({}), \
                 but runs on a cloud runner, which never reaches it; run it on self-hosted runners in that VPC \
                 (`runs-on: [self.hosted, ...]`, and `runners.labels` of `{env_name}` in keyless.yml)",
                env.vpc_endpoints
                    .iter()
                    .chain(&env.vpcs)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

fn branch_refusal(
    config: &EnforceConfig,
    label: &StepLabel<'_>,
    r: &Route,
    env_name: &str,
    env: &EnvironmentSpec,
    invocation: &Invocation,
    none_selected: bool,
) -> Rejection {
    let allowed = if env.branches.is_empty() {
        "none".to_string()
    } else {
        env.branches
            .iter()
            .map(|b| b.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let unselected = if none_selected {
        format!(
            " ({} selects no pipeline of this configuration, so keyless judges them all rather than let a \
             deployment step run unjudged if Bitbucket's selection differs)",
            invocation.describe()
        )
    } else {
        String::new()
    };
    let message = match invocation.branch() {
        Some(_) => format!(
            "{label} deploys to `{env_name}`, which {} may not do; allowed branches: {allowed}{unselected}",
            invocation.describe()
        ),
        None => {
            let listed = &config.policy().branchless_environments;
            format!(
                "{label} deploys to `{env_name}` from {}: a run without a branch may deploy only to an environment \
                 whose branches include `**` or that policy.branchless_environments lists ({}); `{env_name}` allows \
                 branches {allowed}. Run it on an allowed branch, or add `{env_name}` to \
                 policy.branchless_environments{unselected}",
                invocation.describe(),
                if listed.is_empty() {
                    "it lists none".to_string()
                } else {
                    format!("it lists {}", listed.join(", "))
                }
            )
        }
    };
    Rejection::new(rules::BRANCHES, &r.key("deployment"), message)
}

/// Why a listed pipe's version gets no OIDC: `what` then its first version that reads the role.
fn too_old(pipe: &pipes::AwsPipe, what: &str) -> String {
    format!(
        "unknown pipe version: {what} {}, the first that reads {}",
        pipe.min_version,
        pipes::ROLE_VARIABLE
    )
}

/// Plans OIDC for the AWS pipes of a deployment step (the pipe table of `keyless_pipelines::pipes`); notes each
/// pipe it cannot give OIDC; refuses static keys next to the role unless the policy removes them.
fn plan_pipes(
    config: &EnforceConfig,
    label: &StepLabel<'_>,
    env_name: &str,
    env: &EnvironmentSpec,
    s: &StepRef<'_>,
    notes: &mut Vec<Note>,
) -> Result<Vec<PipePlan>, Rejection> {
    let mut plans = Vec::new();
    for pipe in s.step.pipes() {
        let Some((name, version)) = pipe.reference() else {
            continue;
        };
        let reference = pipe.pipe.clone().unwrap_or_default();
        let not_applied = |why: String| Note {
            rule: rules::OIDC.to_string(),
            route: pipe.route.to_string(),
            message: format!(
                "OIDC not applied to pipe `{reference}` ({label}, `{env_name}`): {why}; {} is not set and the \
                 pipe keeps whatever credentials it is given",
                pipes::ROLE_VARIABLE
            ),
            location: None,
        };
        let known = || {
            pipes::AWS_OIDC_PIPES
                .iter()
                .map(|p| format!("{} ≥ {}", p.name, p.min_version))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let table = match pipes::oidc_support(name, version) {
            PipeOidc::Supported(p) => p,
            PipeOidc::Unknown => {
                notes.push(not_applied(format!(
                    "unknown pipe (keyless knows the OIDC variables of {})",
                    known()
                )));
                continue;
            }
            PipeOidc::TooOld { pipe: p, version } => {
                notes.push(not_applied(too_old(p, &format!("{version} is older than"))));
                continue;
            }
            PipeOidc::Unpinned(p) => {
                notes.push(not_applied(too_old(
                    p,
                    "none is pinned, so it may be older than",
                )));
                continue;
            }
            PipeOidc::UnreadableVersion { pipe: p, version } => {
                notes.push(not_applied(too_old(
                    p,
                    &format!("`{version}` cannot be compared with"),
                )));
                continue;
            }
        };
        let static_keys: Vec<String> = pipes::STATIC_KEY_VARIABLES
            .iter()
            .filter(|k| pipe.variable(k).is_some())
            .map(|k| k.to_string())
            .collect();
        let remove = if static_keys.is_empty() {
            Vec::new()
        } else {
            match config.policy().pipe_static_keys {
                PipeStaticKeys::Remove => static_keys,
                PipeStaticKeys::Refuse => {
                    let route = pipe.route.key("variables").key(static_keys[0].as_str());
                    return Err(Rejection::new(
                        rules::PIPE_STATIC_KEYS,
                        &route,
                        format!(
                            "{label}: pipe `{reference}` is given static AWS keys ({}) although keyless gives it the \
                             role of `{env_name}` by OIDC; remove them from the pipe's variables (or set \
                             policy.pipe_static_keys: remove)",
                            static_keys.join(", ")
                        ),
                    ));
                }
            }
        };
        let role = env.role_arn();
        let current = pipe
            .variable(pipes::ROLE_VARIABLE)
            .and_then(|v| match v {
                keyless_pipelines::PipeValue::String(s) => Some(s.expose() == role),
                _ => None,
            })
            .unwrap_or(false);
        plans.push(PipePlan {
            route: pipe.route.clone(),
            reference,
            set_role: !current,
            set_region: pipe
                .variable(table.region_variable)
                .is_none()
                .then_some(table.region_variable),
            remove,
        });
    }
    Ok(plans)
}
