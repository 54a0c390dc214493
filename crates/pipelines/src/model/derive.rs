//! Deriving the typed model ([`super`]) from the located tree: lenient, so a value of the wrong type becomes
//! `None`/`Invalid` and [`crate::validate`] reports it; every item keeps its route.

use super::*;
use crate::node::{Entry, Node, Value};

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
        config.options = build_options(o, r.key("options"));
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
        shared = build_definitions(d, r.key("definitions"), &mut config.definitions);
    }
    if let Some(entries) = root.get("pipelines").and_then(Node::as_map) {
        let route = r.key("pipelines");
        for e in entries {
            build_selector_group(e, route.key(e.key.as_str()), &mut config.pipelines);
        }
    }
    config.pipelines.extend(shared);
    config
}

fn build_options(o: &Node, route: Route) -> Options {
    Options {
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
    }
}

/// `definitions:` into `defs`; returns the shared pipelines (`definitions.pipelines`), which follow the
/// `pipelines:` ones in [`Config::pipelines`].
fn build_definitions(d: &Node, route: Route, defs: &mut Definitions) -> Vec<Pipeline> {
    let mut shared = Vec::new();
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
    shared
}

/// One entry of `pipelines:` (`default`, or a mapping of selectors), its pipelines appended to `out` in order.
fn build_selector_group(e: &Entry, sr: Route, out: &mut Vec<Pipeline>) {
    match e.key.as_str() {
        "default" => out.push(build_pipeline(Selector::Default, &e.value, sr)),
        "branches" | "tags" | "custom" => {
            for pe in e.value.as_map().unwrap_or_default() {
                let sel = match e.key.as_str() {
                    "branches" => Selector::Branches(pe.key.to_string()),
                    "tags" => Selector::Tags(pe.key.to_string()),
                    _ => Selector::Custom(pe.key.to_string()),
                };
                out.push(build_pipeline(sel, &pe.value, sr.key(pe.key.as_str())));
            }
        }
        "pull-requests" => {
            for pe in e.value.as_map().unwrap_or_default() {
                let pr = sr.key(pe.key.as_str());
                match pe.value.get("destinations").and_then(Node::as_map) {
                    Some(dests) => {
                        for de in dests {
                            out.push(build_pipeline(
                                Selector::PullRequests {
                                    source: pe.key.to_string(),
                                    destination: Some(de.key.to_string()),
                                },
                                &de.value,
                                pr.key("destinations").key(de.key.as_str()),
                            ));
                        }
                    }
                    None => out.push(build_pipeline(
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
