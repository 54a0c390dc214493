//! The audit's view of a `bitbucket-pipelines.yml`: every pipeline with its selector, every step with its route
//! and effective settings (after `options` and stage inheritance), and the step's script split into commands.
//!
//! NOTE: the traversal reads the located tree of [`crate::source`] (the same tree every input kind uses, whose byte
//! spans `--fix` edits) and follows bitbucket.md §3; parse errors, Atlassian's schema and the closed-key check come
//! from `keyless-pipelines` ([`Pipeline::validation`]), the one pipeline model.

use crate::config::AuditConfig;
use crate::source::{Document, Node, Route};

/// Which trigger a pipeline belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Default,
    Branch(String),
    Tag(String),
    PullRequest(String),
    Custom(String),
}

impl Selector {
    /// Runs on its own after a push (the first step cannot be manual there).
    pub fn is_automatic(&self) -> bool {
        !matches!(self, Selector::Custom(_))
    }
}

/// One `bitbucket-pipelines.yml` and its pipelines.
#[derive(Debug)]
pub struct Pipeline<'a> {
    pub doc: &'a Document,
    pub path: &'a str,
    pub config: &'a AuditConfig,
    pub pipelines: Vec<PipelineDef<'a>>,
    /// Every step of every pipeline, in file order.
    pub steps: Vec<Step<'a>>,
    /// `keyless-pipelines`' verdict on the file: its parse error, or its schema and closed-key diagnostics.
    pub validation: Result<Vec<keyless_pipelines::SchemaDiagnostic>, keyless_pipelines::ParseError>,
}

/// One pipeline (a list of items under a selector).
#[derive(Debug)]
pub struct PipelineDef<'a> {
    pub selector: Selector,
    pub route: Route,
    pub items: &'a Node,
    /// Names of the custom pipeline's `variables`.
    pub variables: Vec<String>,
}

/// An item of a step's `script` or `after-script`.
#[derive(Debug, Clone)]
pub enum ScriptItem<'a> {
    Command {
        route: Route,
        text: &'a str,
        node: &'a Node,
    },
    Pipe {
        route: Route,
        name: &'a str,
        name_route: Route,
        node: &'a Node,
        variables: Option<&'a Node>,
    },
}

/// One step with its context and effective settings.
#[derive(Debug)]
pub struct Step<'a> {
    pub route: Route,
    /// The step mapping (the value of `step:`).
    pub node: &'a Node,
    pub pipeline: usize,
    pub selector: Selector,
    /// 0-based position in its pipeline, parallel children counted.
    pub position: usize,
    /// The first item of its pipeline (or a step of a first parallel group).
    pub first_in_pipeline: bool,
    pub in_parallel: bool,
    pub stage: Option<(Route, &'a Node)>,
    pub oidc: bool,
    /// Route of the `oidc` key (step or `options`), when OIDC is on.
    pub oidc_route: Option<Route>,
    pub deployment: Option<(&'a str, Route)>,
    pub environment: Option<(&'a str, Route)>,
    pub trigger_manual: bool,
    pub size: String,
    pub runs_on: Vec<String>,
    pub atlassian_ip_ranges: bool,
    pub script: Vec<ScriptItem<'a>>,
    pub after_script: Vec<ScriptItem<'a>>,
    /// Names of custom pipeline variables visible to this step.
    pub variables: Vec<String>,
}

impl<'a> Step<'a> {
    /// Every command line of `script` and `after-script`.
    pub fn commands(&self) -> impl Iterator<Item = (&Route, &'a str)> + '_ {
        self.script
            .iter()
            .chain(self.after_script.iter())
            .filter_map(|item| match item {
                ScriptItem::Command { route, text, .. } => Some((route, *text)),
                ScriptItem::Pipe { .. } => None,
            })
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
        self.node.get("name").and_then(Node::as_str)
    }

    /// "step 'Deploy'" or "step 3" for messages.
    pub fn describe(&self) -> String {
        match self.name() {
            Some(n) => format!("step '{n}'"),
            None => format!("step {}", self.position + 1),
        }
    }
}

impl<'a> Pipeline<'a> {
    /// Builds the view; returns `None` when the document has no `pipelines` mapping.
    pub fn new(doc: &'a Document, path: &'a str, config: &'a AuditConfig) -> Option<Self> {
        let pipelines_node = doc.root.get("pipelines")?;
        let root = Route::root().key("pipelines");
        let mut pipelines = Vec::new();
        if let Some(items) = pipelines_node.get("default") {
            pipelines.push(PipelineDef {
                selector: Selector::Default,
                route: root.key("default"),
                items,
                variables: Vec::new(),
            });
        }
        for (section, make) in [
            ("branches", Selector::Branch as fn(String) -> Selector),
            ("tags", Selector::Tag),
            ("pull-requests", Selector::PullRequest),
            ("custom", Selector::Custom),
        ] {
            let Some(map) = pipelines_node.get(section).and_then(Node::as_map) else {
                continue;
            };
            for (k, v) in map {
                let Some(name) = k.as_str() else { continue };
                let route = root.key(section).key(name);
                // pull-requests: {destinations: {glob: items}} form.
                if section == "pull-requests" && name == "destinations" && v.as_map().is_some() {
                    for (dk, dv) in v.as_map().unwrap_or_default() {
                        let Some(dname) = dk.as_str() else { continue };
                        pipelines.push(PipelineDef {
                            selector: Selector::PullRequest(dname.to_owned()),
                            route: route.key(dname),
                            items: dv,
                            variables: Vec::new(),
                        });
                    }
                    continue;
                }
                let variables = custom_variables(v);
                pipelines.push(PipelineDef {
                    selector: make(name.to_owned()),
                    route,
                    items: v,
                    variables,
                });
            }
        }
        let validation =
            keyless_pipelines::parse(&doc.text).map(|file| keyless_pipelines::validate(&file));
        let mut view = Pipeline {
            doc,
            path,
            config,
            pipelines,
            steps: Vec::new(),
            validation,
        };
        view.steps = view.collect_steps();
        Some(view)
    }

    /// The `options` mapping.
    pub fn options(&self) -> Option<&'a Node> {
        self.doc.root.get("options")
    }

    /// Steps of pipeline `index`.
    pub fn steps_of(&self, index: usize) -> impl Iterator<Item = &Step<'a>> + '_ {
        self.steps.iter().filter(move |s| s.pipeline == index)
    }

    fn collect_steps(&self) -> Vec<Step<'a>> {
        let mut out = Vec::new();
        for (pi, def) in self.pipelines.iter().enumerate() {
            let Some(items) = def.items.as_seq() else {
                continue;
            };
            let mut position = 0;
            let mut first = true;
            for (ii, item) in items.iter().enumerate() {
                let item_route = def.route.index(ii);
                if let Some(step) = item.get("step") {
                    out.push(self.step(
                        def,
                        pi,
                        item_route.key("step"),
                        step,
                        position,
                        first,
                        false,
                        None,
                    ));
                    position += 1;
                    first = false;
                } else if let Some(par) = item.get("parallel") {
                    let (list, list_route) = match par.get("steps") {
                        Some(s) => (s, item_route.key("parallel").key("steps")),
                        None => (par, item_route.key("parallel")),
                    };
                    for (si, entry) in list.as_seq().unwrap_or_default().iter().enumerate() {
                        if let Some(step) = entry.get("step") {
                            let r = list_route.index(si).key("step");
                            out.push(self.step(def, pi, r, step, position, first, true, None));
                            position += 1;
                        }
                    }
                    first = false;
                } else if let Some(stage) = item.get("stage") {
                    let stage_route = item_route.key("stage");
                    let list = stage
                        .get("steps")
                        .and_then(Node::as_seq)
                        .unwrap_or_default();
                    for (si, entry) in list.iter().enumerate() {
                        if let Some(step) = entry.get("step") {
                            let r = stage_route.key("steps").index(si).key("step");
                            let st = Some((stage_route.clone(), stage));
                            out.push(self.step(
                                def,
                                pi,
                                r,
                                step,
                                position,
                                first && si == 0,
                                false,
                                st,
                            ));
                            position += 1;
                        }
                    }
                    first = false;
                } else if item.get("variables").is_some() {
                    // Custom pipeline variables: not a step.
                }
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        def: &PipelineDef<'a>,
        pipeline: usize,
        route: Route,
        node: &'a Node,
        position: usize,
        first_in_pipeline: bool,
        in_parallel: bool,
        stage: Option<(Route, &'a Node)>,
    ) -> Step<'a> {
        let options = self.options();
        let (oidc, oidc_route) = match node.get("oidc") {
            Some(v) => (oidc_enabled(v), Some(route.key("oidc"))),
            None => match options.and_then(|o| o.get("oidc")) {
                // NOTE: whether `options.oidc` alone enables OIDC is UNCONFIRMED (bitbucket.md §1.1); we treat a
                // boolean `true` as enabling it and an audiences-only object as not, and document that choice.
                Some(v) if v.as_bool() == Some(true) => {
                    (true, Some(Route::root().key("options").key("oidc")))
                }
                _ => (false, None),
            },
        };
        let scalar_at = |key: &str| -> Option<(&'a str, Route)> {
            if let Some(v) = node.get(key).and_then(Node::as_str) {
                return Some((v, route.key(key)));
            }
            let (sr, sn) = stage.as_ref()?;
            sn.get(key).and_then(Node::as_str).map(|v| (v, sr.key(key)))
        };
        let deployment = scalar_at("deployment");
        let environment = scalar_at("environment");
        let trigger_manual = node.get("trigger").and_then(Node::as_str) == Some("manual");
        let size = node
            .get("size")
            .or_else(|| options.and_then(|o| o.get("size")))
            .and_then(Node::as_str)
            .unwrap_or("1x")
            .to_owned();
        let runs_on = node.get("runs-on").map_or_else(Vec::new, |n| {
            n.strings()
                .into_iter()
                .filter_map(|(_, s)| s.as_str().map(str::to_owned))
                .collect()
        });
        let ip_ranges = |n: Option<&Node>| {
            n.and_then(|r| r.get("cloud"))
                .and_then(|c| c.get("atlassian-ip-ranges"))
                .and_then(Node::as_bool)
        };
        let atlassian_ip_ranges = ip_ranges(node.get("runtime"))
            .or_else(|| ip_ranges(options.and_then(|o| o.get("runtime"))))
            .unwrap_or(false);
        Step {
            script: script_items(node.get("script"), &route.key("script")),
            after_script: script_items(node.get("after-script"), &route.key("after-script")),
            route,
            node,
            pipeline,
            selector: def.selector.clone(),
            position,
            first_in_pipeline,
            in_parallel,
            stage,
            oidc,
            oidc_route,
            deployment,
            environment,
            trigger_manual,
            size,
            runs_on,
            atlassian_ip_ranges,
            variables: def.variables.clone(),
        }
    }
}

/// `oidc: true` or `oidc: {audiences: [...]}` (the object form enables OIDC per bitbucket.md §1.1).
pub fn oidc_enabled(node: &Node) -> bool {
    node.as_bool() == Some(true) || node.as_map().is_some()
}

fn custom_variables(items: &Node) -> Vec<String> {
    let mut names = Vec::new();
    for item in items.as_seq().unwrap_or_default() {
        for var in item
            .get("variables")
            .and_then(Node::as_seq)
            .unwrap_or_default()
        {
            if let Some(name) = var.get("name").and_then(Node::as_str) {
                names.push(name.to_owned());
            }
        }
    }
    names
}

fn script_items<'a>(node: Option<&'a Node>, route: &Route) -> Vec<ScriptItem<'a>> {
    let Some(list) = node.and_then(Node::as_seq) else {
        return Vec::new();
    };
    list.iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let r = route.index(i);
            if let Some(text) = item.as_str() {
                return Some(ScriptItem::Command {
                    route: r,
                    text,
                    node: item,
                });
            }
            let name = item.get("pipe").and_then(Node::as_str)?;
            Some(ScriptItem::Pipe {
                name_route: r.key("pipe"),
                route: r,
                name,
                node: item,
                variables: item.get("variables"),
            })
        })
        .collect()
}
