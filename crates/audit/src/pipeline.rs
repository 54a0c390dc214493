//! The audit's view of a `bitbucket-pipelines.yml`: the `keyless-pipelines` model and its step traversal
//! (`PipelineFile::steps_of`, with effective settings after `options`, the stage and Bitbucket's defaults), plus
//! what rules need beside it: each step's tree node and its script entries with their nodes, for spans and fixes.
//!
//! NOTE: nothing here walks the YAML on its own: pipelines, steps, positions and effective settings all come from
//! `keyless-pipelines`, which also supplies the parse error or schema/closed-key diagnostics
//! ([`Pipeline::validation`]). The one tree is the `Document`'s, so spans, the model and `--fix` agree.

use keyless_pipelines::{
    Effective, PipelineBody, PipelineFile, Position, SchemaDiagnostic, ScriptEntry, Stage, Trigger,
};

use crate::config::AuditConfig;
use crate::shell;
use crate::source::{Document, Node, Route};

pub use keyless_pipelines::Selector;

/// Runs on its own after a push or a pull request (custom and imported pipelines are started by someone or
/// something else, so their first step may be manual).
pub fn is_automatic(selector: &Selector) -> bool {
    !matches!(selector, Selector::Custom(_) | Selector::Imported(_))
}

/// One `bitbucket-pipelines.yml` and its pipelines.
#[derive(Debug)]
pub struct Pipeline<'a> {
    pub doc: &'a Document,
    pub path: &'a str,
    pub config: &'a AuditConfig,
    pub pipelines: Vec<PipelineDef<'a>>,
    /// Every step of every pipeline, in file order (`definitions.pipelines` last).
    pub steps: Vec<Step<'a>>,
    /// The file's parse error, if its YAML is not a valid pipeline file; see [`Pipeline::validation`].
    error: Option<keyless_pipelines::ParseError>,
    /// The schema and closed-key diagnostics, computed on first use (cross-file rules never ask).
    diagnostics: std::sync::OnceLock<Vec<SchemaDiagnostic>>,
}

/// One pipeline (a list of items under a selector).
#[derive(Debug)]
pub struct PipelineDef<'a> {
    pub selector: &'a Selector,
    pub route: &'a Route,
    /// Names of the custom pipeline's `variables`.
    pub variables: Vec<&'a str>,
}

/// An item of a step's `script` or `after-script`.
#[derive(Debug, Clone)]
pub enum ScriptItem<'a> {
    Command {
        route: &'a Route,
        text: &'a str,
        node: &'a Node,
        /// The line split into simple commands, once for every rule.
        cmds: Vec<shell::Command<'a>>,
    },
    Pipe {
        route: &'a Route,
        name: &'a str,
        name_route: Route,
        node: &'a Node,
        variables: Option<&'a Node>,
    },
}

/// One step with its context and effective settings.
#[derive(Debug)]
pub struct Step<'a> {
    /// The step in the model.
    pub model: &'a keyless_pipelines::Step,
    pub route: &'a Route,
    /// The step mapping (the value of `step:`).
    pub node: &'a Node,
    /// Index of its pipeline in [`Pipeline::pipelines`].
    pub pipeline: usize,
    pub selector: &'a Selector,
    /// Where the step sits (`ordinal` counts parallel children; `first` is the pipeline's first item).
    pub position: Position,
    pub stage: Option<&'a Stage>,
    /// The step's settings after `options`, its stage and Bitbucket's defaults.
    pub effective: Effective,
    /// `effective.oidc.enabled`: the step gets `BITBUCKET_STEP_OIDC_TOKEN`.
    pub oidc: bool,
    /// Route of the step's `oidc` key, when OIDC is on.
    pub oidc_route: Option<Route>,
    /// The step's deployment, else its stage's, with the route of the key that sets it.
    pub deployment: Option<(&'a str, Route)>,
    pub environment: Option<(&'a str, Route)>,
    pub script: Vec<ScriptItem<'a>>,
    pub after_script: Vec<ScriptItem<'a>>,
    /// Names of custom pipeline variables visible to this step.
    pub variables: Vec<&'a str>,
    /// The shell data flow of its script and after-script, computed on first use ([`Step::flow`]).
    flow: std::sync::OnceLock<crate::flow::Flow<'a>>,
    /// Where its script assumes an AWS role with the token, computed on first use ([`Step::web_identity`]).
    web_identity: std::sync::OnceLock<Option<(Route, Option<crate::analysis::InLine<'a>>)>>,
}

impl<'a> Step<'a> {
    /// Every command line of `script` and `after-script`.
    pub fn commands(&self) -> impl Iterator<Item = (&'a Route, &'a str)> + '_ {
        self.script
            .iter()
            .chain(self.after_script.iter())
            .filter_map(|item| match item {
                ScriptItem::Command { route, text, .. } => Some((*route, *text)),
                ScriptItem::Pipe { .. } => None,
            })
    }

    /// Every command line with its simple commands (lexed once per step, shared by every rule).
    pub fn lexed(&self) -> impl Iterator<Item = (&'a Route, &'a str, &[shell::Command<'a>])> + '_ {
        self.script
            .iter()
            .chain(self.after_script.iter())
            .filter_map(|item| match item {
                ScriptItem::Command {
                    route, text, cmds, ..
                } => Some((*route, *text, cmds.as_slice())),
                ScriptItem::Pipe { .. } => None,
            })
    }

    /// The shell data flow of the step's script and after-script (see [`crate::flow`]), computed once and shared
    /// by every rule.
    pub fn flow(&self) -> &crate::flow::Flow<'a> {
        self.flow.get_or_init(|| crate::flow::analyse(self))
    }

    /// [`crate::analysis::script_web_identity_at`] of this step, computed once and shared by the rules that ask.
    pub fn web_identity(&self) -> Option<&(Route, Option<crate::analysis::InLine<'a>>)> {
        self.web_identity
            .get_or_init(|| crate::analysis::script_web_identity_at(self))
            .as_ref()
    }

    /// Every pipe with its variables.
    pub fn pipes(&self) -> impl Iterator<Item = &ScriptItem<'a>> + '_ {
        self.script
            .iter()
            .chain(self.after_script.iter())
            .filter(|i| matches!(i, ScriptItem::Pipe { .. }))
    }

    /// A step-level key's route.
    pub fn key(&self, key: &str) -> Route {
        self.route.key(key)
    }

    pub fn name(&self) -> Option<&'a str> {
        self.model.name.as_deref()
    }

    /// The first item of its pipeline (a step, every step of a first parallel group or first stage).
    pub fn first_in_pipeline(&self) -> bool {
        self.position.first
    }

    /// The effective trigger (the stage's for a step in a stage) is `manual`.
    pub fn trigger_manual(&self) -> bool {
        self.effective.trigger.value == Trigger::Manual
    }

    /// `runs-on` includes `self.hosted`.
    pub fn self_hosted(&self) -> bool {
        self.effective.self_hosted
    }

    /// "step 'Deploy'" or "step 3" for messages.
    pub fn describe(&self) -> String {
        match self.name() {
            Some(n) => format!("step '{n}'"),
            None => format!("step {}", self.position.ordinal + 1),
        }
    }
}

impl<'a> Pipeline<'a> {
    /// `keyless-pipelines`' verdict on the file: its parse error, or its schema and closed-key diagnostics.
    pub fn validation(&self) -> Result<&[SchemaDiagnostic], &keyless_pipelines::ParseError> {
        match &self.error {
            Some(e) => Err(e),
            None => Ok(self
                .diagnostics
                .get_or_init(|| keyless_pipelines::validate(self.doc.pipeline_file()))),
        }
    }

    /// Builds the view of a pipeline input. `error` is the input's parse error, if its YAML is not a valid
    /// pipeline file (the view then has no steps). Returns `None` when the file parsed but has no `pipelines`.
    pub fn new(
        doc: &'a Document,
        path: &'a str,
        config: &'a AuditConfig,
        error: Option<&keyless_pipelines::ParseError>,
    ) -> Option<Self> {
        if let Some(e) = error {
            return Some(Pipeline {
                doc,
                path,
                config,
                pipelines: Vec::new(),
                steps: Vec::new(),
                error: Some(e.clone()),
                diagnostics: std::sync::OnceLock::new(),
            });
        }
        doc.root().get("pipelines")?;
        let file: &'a PipelineFile = doc.pipeline_file();
        let mut view = Pipeline {
            doc,
            path,
            config,
            pipelines: Vec::new(),
            steps: Vec::new(),
            error: None,
            diagnostics: std::sync::OnceLock::new(),
        };
        for def in file.pipelines() {
            let variables = match &def.body {
                PipelineBody::Items {
                    variables: Some(v), ..
                } => v
                    .variables
                    .iter()
                    .filter_map(|v| v.name.as_deref())
                    .collect(),
                _ => Vec::new(),
            };
            view.pipelines.push(PipelineDef {
                selector: &def.selector,
                route: &def.route,
                variables,
            });
        }
        let mut steps = Vec::new();
        for (index, def) in file.pipelines().iter().enumerate() {
            for s in file.steps_of(def) {
                let Some(node) = file.node(s.route) else {
                    continue;
                };
                steps.push((index, s, node));
            }
        }
        view.steps = steps
            .into_iter()
            .map(|(index, s, node)| {
                let variables = view.pipelines[index].variables.clone();
                step(file, index, s, node, variables)
            })
            .collect();
        Some(view)
    }

    /// The `options` mapping.
    pub fn options(&self) -> Option<&'a Node> {
        self.doc.root().get("options")
    }

    /// Steps of pipeline `index`.
    pub fn steps_of(&self, index: usize) -> impl Iterator<Item = &Step<'a>> + '_ {
        self.steps.iter().filter(move |s| s.pipeline == index)
    }
}

fn step<'a>(
    file: &'a PipelineFile,
    pipeline: usize,
    s: keyless_pipelines::StepRef<'a>,
    node: &'a Node,
    variables: Vec<&'a str>,
) -> Step<'a> {
    let model = s.step;
    let route = s.route;
    let oidc = s.effective.oidc.enabled;
    let oidc_route = (oidc && model.oidc.is_some()).then(|| route.key("oidc"));
    let from_stage = |get: fn(&'a Stage) -> Option<&'a String>, key: &str| {
        s.stage
            .and_then(|st| get(st).map(|v| (v.as_str(), st.route.key(key))))
    };
    let deployment = match &model.deployment {
        Some(d) => Some((d.as_str(), route.key("deployment"))),
        None => from_stage(|st| st.deployment.as_ref(), "deployment"),
    };
    let environment = match &model.environment {
        Some(d) => Some((d.as_str(), route.key("environment"))),
        None => from_stage(|st| st.environment.as_ref(), "environment"),
    };
    Step {
        script: script_items(file, &model.script),
        after_script: script_items(file, &model.after_script),
        model,
        route,
        node,
        pipeline,
        selector: s.selector,
        position: s.position,
        stage: s.stage,
        oidc,
        oidc_route,
        deployment,
        environment,
        variables,
        effective: s.effective,
        flow: std::sync::OnceLock::new(),
        web_identity: std::sync::OnceLock::new(),
    }
}

fn script_items<'a>(file: &'a PipelineFile, entries: &'a [ScriptEntry]) -> Vec<ScriptItem<'a>> {
    entries
        .iter()
        .filter_map(|entry| match entry {
            ScriptEntry::Command { route, text } => Some(ScriptItem::Command {
                route,
                text,
                node: file.node(route)?,
                cmds: shell::commands(text),
            }),
            ScriptEntry::Pipe(p) => {
                let node = file.node(&p.route)?;
                Some(ScriptItem::Pipe {
                    route: &p.route,
                    name: p.pipe.as_deref()?,
                    name_route: p.route.key("pipe"),
                    node,
                    variables: node.get("variables"),
                })
            }
            ScriptEntry::Invalid { .. } => None,
        })
        .collect()
}
