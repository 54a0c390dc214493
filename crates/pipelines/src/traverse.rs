//! Walking every step with its pipeline, position, and effective settings after `options` and
//! Bitbucket's defaults.

use crate::model::{
    Config, Image, Item, Oidc, Parallel, Pipeline, PipelineBody, Selector, Stage, Step, Trigger,
};
use crate::route::Route;

/// Bitbucket's default build image (S-ATL `image_name.default`).
pub const DEFAULT_IMAGE: &str = "atlassian/default-image:latest";
/// The default step size.
pub const DEFAULT_SIZE: &str = "1x";
/// The default `max-time`, in minutes.
pub const DEFAULT_MAX_TIME: i64 = 120;

/// Where an effective setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Set on the step itself.
    Step,
    /// Set on the enclosing stage.
    Stage,
    /// Set globally: top-level `image`/`clone` or `options`.
    Global,
    /// Bitbucket's default.
    Default,
}

/// An effective value with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

/// Effective OIDC for a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveOidc {
    /// Whether `BITBUCKET_STEP_OIDC_TOKEN` is set in the step: `oidc: true` or `oidc: {audiences}`
    /// on the step. `options.oidc.audiences` alone does not count (UNCONFIRMED, see the docs).
    pub enabled: bool,
    /// Custom audiences added to the workspace audience: the step's, else the global ones.
    pub audiences: Vec<String>,
    pub source: Source,
}

/// Effective `runtime.cloud`, merged field by field (step over options over defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveRuntime {
    pub arch: String,
    pub atlassian_ip_ranges: bool,
    pub version: Option<String>,
}

/// A step's settings after `options`, the enclosing stage and Bitbucket's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    /// The build image name and where it came from.
    pub image: Setting<String>,
    /// The full image setting (credentials, ECR role), when one is written.
    pub image_setting: Option<Image>,
    pub size: Setting<String>,
    pub max_time: Setting<i64>,
    pub oidc: EffectiveOidc,
    pub runtime: EffectiveRuntime,
    /// `options.docker: true`, or `docker` among the step's services.
    pub docker: bool,
    pub runs_on: Vec<String>,
    /// `runs-on` includes `self.hosted`.
    pub self_hosted: bool,
    /// The stage's trigger for a step in a stage, else the step's; `automatic` by default.
    pub trigger: Setting<Trigger>,
    /// The step's deployment, else its stage's.
    pub deployment: Option<Setting<String>>,
    /// The step's environment, else its stage's.
    pub environment: Option<Setting<String>>,
    /// Whether the step clones the repository (step `clone.enabled`, else global, else true).
    pub clone_enabled: bool,
}

/// Where a step sits in its pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The index, in the pipeline's YAML list, of the item (step, parallel or stage) holding the
    /// step; the same number as in the route (a custom pipeline's `variables` entry counts).
    pub item: usize,
    /// True when that item is the pipeline's first step, parallel group or stage, so the step
    /// starts the pipeline.
    pub first: bool,
    /// The index within `parallel`, when the step is in one.
    pub parallel_index: Option<usize>,
    /// The index within the stage's steps, when the step is in a stage.
    pub stage_index: Option<usize>,
    /// The step's number in the pipeline, counting parallel children (0-based).
    pub ordinal: usize,
}

impl Position {
    pub fn in_parallel(&self) -> bool {
        self.parallel_index.is_some()
    }

    pub fn in_stage(&self) -> bool {
        self.stage_index.is_some()
    }

    /// True for a step in the pipeline's first item (see [`Position::first`]).
    pub fn is_first(&self) -> bool {
        self.first
    }
}

/// One step as the traversal yields it.
#[derive(Debug, Clone)]
pub struct StepRef<'a> {
    pub step: &'a Step,
    /// The step mapping's route (same as `step.route`).
    pub route: &'a Route,
    pub pipeline: &'a Pipeline,
    pub selector: &'a Selector,
    pub position: Position,
    pub stage: Option<&'a Stage>,
    pub parallel: Option<&'a Parallel>,
    pub effective: Effective,
}

pub(crate) fn steps<'a>(config: &'a Config) -> Vec<StepRef<'a>> {
    let mut out = Vec::new();
    for p in &config.pipelines {
        steps_of(config, p, &mut out);
    }
    out
}

pub(crate) fn steps_of<'a>(config: &'a Config, pipeline: &'a Pipeline, out: &mut Vec<StepRef<'a>>) {
    let PipelineBody::Items { items, .. } = &pipeline.body else {
        return;
    };
    let mut ordinal = 0;
    let mut push = |step: &'a Step,
                    position: Position,
                    stage: Option<&'a Stage>,
                    parallel: Option<&'a Parallel>| {
        out.push(StepRef {
            step,
            route: &step.route,
            pipeline,
            selector: &pipeline.selector,
            position,
            stage,
            parallel,
            effective: effective(config, step, stage),
        });
    };
    for (n, item) in items.iter().enumerate() {
        let i = item.index();
        let first = n == 0;
        match item {
            Item::Step(s) => {
                push(
                    s,
                    Position {
                        item: i,
                        first,
                        parallel_index: None,
                        stage_index: None,
                        ordinal,
                    },
                    None,
                    None,
                );
                ordinal += 1;
            }
            Item::Parallel(par) => {
                for (j, s) in par.steps.iter().enumerate() {
                    push(
                        s,
                        Position {
                            item: i,
                            first,
                            parallel_index: Some(j),
                            stage_index: None,
                            ordinal,
                        },
                        None,
                        Some(par),
                    );
                    ordinal += 1;
                }
            }
            Item::Stage(st) => {
                for (j, s) in st.steps.iter().enumerate() {
                    push(
                        s,
                        Position {
                            item: i,
                            first,
                            parallel_index: None,
                            stage_index: Some(j),
                            ordinal,
                        },
                        Some(st),
                        None,
                    );
                    ordinal += 1;
                }
            }
            Item::Unknown { .. } => {}
        }
    }
}

fn setting<T>(value: T, source: Source) -> Setting<T> {
    Setting { value, source }
}

/// The effective settings of `step` (in `stage`, if any) under `config`.
pub fn effective(config: &Config, step: &Step, stage: Option<&Stage>) -> Effective {
    let opts = &config.options;
    let image_setting = step.image.clone().or_else(|| config.image.clone());
    let image = match (&step.image, &config.image) {
        (Some(i), _) if i.name.is_some() => {
            setting(i.name.clone().unwrap_or_default(), Source::Step)
        }
        (_, Some(i)) if i.name.is_some() => {
            setting(i.name.clone().unwrap_or_default(), Source::Global)
        }
        _ => setting(DEFAULT_IMAGE.to_string(), Source::Default),
    };
    let size = match (&step.size, &opts.size) {
        (Some(s), _) => setting(s.clone(), Source::Step),
        (None, Some(s)) => setting(s.clone(), Source::Global),
        _ => setting(DEFAULT_SIZE.to_string(), Source::Default),
    };
    let max_time = match (step.max_time, opts.max_time) {
        (Some(t), _) => setting(t, Source::Step),
        (None, Some(t)) => setting(t, Source::Global),
        _ => setting(DEFAULT_MAX_TIME, Source::Default),
    };
    let enabled = step.oidc.as_ref().is_some_and(Oidc::enabled);
    let oidc = match (&step.oidc, &opts.oidc_audiences) {
        (Some(Oidc::Audiences(a)), _) => EffectiveOidc {
            enabled,
            audiences: a.clone(),
            source: Source::Step,
        },
        (_, Some(a)) if enabled => EffectiveOidc {
            enabled,
            audiences: a.clone(),
            source: Source::Global,
        },
        (Some(_), _) => EffectiveOidc {
            enabled,
            audiences: Vec::new(),
            source: Source::Step,
        },
        (None, _) => EffectiveOidc {
            enabled: false,
            audiences: Vec::new(),
            source: Source::Default,
        },
    };
    let step_cloud = step.runtime.as_ref().and_then(|r| r.cloud.as_ref());
    let opt_cloud = opts.runtime.as_ref().and_then(|r| r.cloud.as_ref());
    let runtime = EffectiveRuntime {
        arch: step_cloud
            .and_then(|c| c.arch.clone())
            .or_else(|| opt_cloud.and_then(|c| c.arch.clone()))
            .unwrap_or_else(|| "x86".to_string()),
        atlassian_ip_ranges: step_cloud
            .and_then(|c| c.atlassian_ip_ranges)
            .or_else(|| opt_cloud.and_then(|c| c.atlassian_ip_ranges))
            .unwrap_or(false),
        version: step_cloud
            .and_then(|c| c.version.clone())
            .or_else(|| opt_cloud.and_then(|c| c.version.clone())),
    };
    let runs_on = step.runs_on.clone().unwrap_or_default();
    let self_hosted = runs_on.iter().any(|l| l == "self.hosted");
    let trigger = match (stage.and_then(|s| s.trigger.clone()), &step.trigger) {
        (Some(t), _) => setting(t, Source::Stage),
        (None, Some(t)) => setting(t.clone(), Source::Step),
        _ => setting(Trigger::Automatic, Source::Default),
    };
    let deployment = step
        .deployment
        .clone()
        .map(|d| setting(d, Source::Step))
        .or_else(|| {
            stage
                .and_then(|s| s.deployment.clone())
                .map(|d| setting(d, Source::Stage))
        });
    let environment = step
        .environment
        .clone()
        .map(|d| setting(d, Source::Step))
        .or_else(|| {
            stage
                .and_then(|s| s.environment.clone())
                .map(|d| setting(d, Source::Stage))
        });
    let clone_enabled = step
        .clone
        .as_ref()
        .and_then(|c| c.enabled)
        .or_else(|| config.clone.as_ref().and_then(|c| c.enabled))
        .unwrap_or(true);
    Effective {
        image,
        image_setting,
        size,
        max_time,
        oidc,
        runtime,
        docker: opts.docker == Some(true) || step.services.iter().any(|s| s == "docker"),
        self_hosted,
        runs_on,
        trigger,
        deployment,
        environment,
        clone_enabled,
    }
}
