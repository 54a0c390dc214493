//! Keys Bitbucket's schema does not know, and which of them `policy.unknown_keys: warn` still refuses.
//!
//! Found from [`keyless_pipelines::validate`]'s closed-key checks (steps, stages, pipes, parallel groups,
//! pipeline sections, the top level), from items that are none of `step`, `parallel`, `stage`, and from the keys
//! of a step's `runtime` and `runtime.cloud` (which the schema leaves open). Anchor holders are never unknown
//! keys ([`keyless_pipelines::anchor_holder`]).
//!
//! An unknown key is *forced* (refused under `warn` too) when it could change where or how a deployment runs:
//! inside a step or stage that has `deployment:`, inside any step's `runtime` or `runs-on`, or, for an unknown
//! item or pipelines section, when it holds a `deployment`, `runs-on` or `runtime` key anywhere.

use keyless_pipelines::{
    AnchorHolder, DiagnosticKind, Item, Node, PipelineBody, PipelineFile, Route, SchemaDiagnostic,
    Segment, StepRef,
};

/// The keys of `runtime` and of `runtime.cloud` in Atlassian's schema (`runtime`, `cloud` components).
const RUNTIME_KEYS: &[&str] = &["cloud"];
const CLOUD_KEYS: &[&str] = &["arch", "atlassian-ip-ranges", "version"];
/// Keys that decide where a step runs or what it may deploy to.
const PLACEMENT_KEYS: &[&str] = &["deployment", "runs-on", "runtime"];

/// One unknown key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownKey {
    /// The key's route (for an unknown item: the item).
    pub route: Route,
    pub key: String,
    /// `top-level`, `pipelines`, `item`, `step`, `stage`, `parallel`, `pipe`, `runtime`.
    pub location: &'static str,
    /// Why it is refused under `warn` too, when it is.
    pub forced: Option<String>,
}

/// Every unknown key of `file`, in document order of discovery (diagnostics, then items, then runtimes).
pub(crate) fn unknown_keys(
    file: &PipelineFile,
    steps: &[StepRef<'_>],
    diagnostics: &[SchemaDiagnostic],
    holders: &[AnchorHolder],
) -> Vec<UnknownKey> {
    let root = file.root();
    let mut out = Vec::new();
    for d in diagnostics {
        let DiagnosticKind::UnknownKey { key } = &d.kind else {
            continue;
        };
        if d.route.segments().len() == 1 && holders.iter().any(|h| &h.key == key) {
            continue;
        }
        out.push(classify(root, &d.route, key.clone()));
    }
    for p in file.pipelines() {
        let PipelineBody::Items { items, .. } = &p.body else {
            continue;
        };
        for item in items {
            if let Item::Unknown { route } = item {
                let node = root.at(route);
                let key = node
                    .and_then(Node::as_map)
                    .map(|m| {
                        m.iter()
                            .map(|e| e.key.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_else(|| node.map_or("?", Node::kind).to_string());
                let forced = node.and_then(placement_inside).map(|k| {
                    format!(
                        "it is none of `step`, `parallel`, `stage` yet holds `{k}`: keyless cannot tell where its \
                         steps run or what they deploy to"
                    )
                });
                out.push(UnknownKey {
                    route: route.clone(),
                    key,
                    location: "item",
                    forced,
                });
            }
        }
    }
    for s in steps {
        let Some(runtime) = root.at(&s.route.key("runtime")) else {
            continue;
        };
        let runtime_route = s.route.key("runtime");
        for e in runtime.as_map().unwrap_or_default() {
            if !RUNTIME_KEYS.contains(&e.key.as_str()) {
                out.push(runtime_key(&runtime_route, &e.key));
            }
        }
        if let Some(cloud) = runtime.get("cloud").and_then(Node::as_map) {
            let cloud_route = runtime_route.key("cloud");
            for e in cloud {
                if !CLOUD_KEYS.contains(&e.key.as_str()) {
                    out.push(runtime_key(&cloud_route, &e.key));
                }
            }
        }
    }
    out
}

fn runtime_key(parent: &Route, key: &str) -> UnknownKey {
    UnknownKey {
        route: parent.key(key),
        key: key.to_string(),
        location: "runtime",
        forced: Some(
            "it is inside the step's `runtime`, which decides where the step runs".to_string(),
        ),
    }
}

/// The first key of [`PLACEMENT_KEYS`] anywhere inside `node`.
fn placement_inside(node: &Node) -> Option<&'static str> {
    let mut found = None;
    node.walk(&Route::root(), &mut |_, n| {
        if found.is_none()
            && let Some(m) = n.as_map()
        {
            found = PLACEMENT_KEYS
                .iter()
                .find(|k| m.iter().any(|e| e.key == **k))
                .copied();
        }
    });
    found
}

fn key_at(route: &Route, i: usize) -> Option<&str> {
    match route.segments().get(i) {
        Some(Segment::Key(k)) => Some(k.as_str()),
        _ => None,
    }
}

fn prefix(route: &Route, len: usize) -> Route {
    let mut r = Route::root();
    for s in &route.segments()[..len] {
        r.push(s.clone());
    }
    r
}

fn has_deployment(root: &Node, route: &Route) -> bool {
    root.at(route)
        .and_then(|n| n.get("deployment"))
        .is_some_and(|d| !d.is_null())
}

/// Where an unknown key reported by the closed-key checks is, and whether `warn` refuses it.
fn classify(root: &Node, route: &Route, key: String) -> UnknownKey {
    let segments = route.segments();
    let last_named = |name: &str| {
        (0..segments.len().saturating_sub(1))
            .rev()
            .find(|&i| key_at(route, i) == Some(name))
    };
    if segments.len() == 1 {
        return UnknownKey {
            route: route.clone(),
            key,
            location: "top-level",
            forced: None,
        };
    }
    if segments.len() == 2 && key_at(route, 0) == Some("pipelines") {
        let forced = root.at(route).and_then(placement_inside).map(|k| {
            format!(
                "it is a pipelines section holding `{k}`: keyless cannot tell which runs it starts or where its steps run"
            )
        });
        return UnknownKey {
            route: route.clone(),
            key,
            location: "pipelines",
            forced,
        };
    }
    if let Some(step_at) = last_named("step") {
        let step = prefix(route, step_at + 1);
        let after = key_at(route, step_at + 1);
        let location = match after {
            Some("script" | "after-script") => "pipe",
            _ => "step",
        };
        let placement = matches!(after, Some("runtime" | "runs-on"));
        let stage = (0..step_at)
            .rev()
            .find(|&i| key_at(route, i) == Some("stage"))
            .map(|i| prefix(route, i + 1));
        let forced = if placement {
            Some(format!(
                "it is inside the step's `{}`, which decides where the step runs",
                after.unwrap_or_default()
            ))
        } else if has_deployment(root, &step)
            || stage.as_ref().is_some_and(|s| has_deployment(root, s))
        {
            Some(
                "it is inside a deployment step: it could change where or how the step deploys"
                    .to_string(),
            )
        } else {
            None
        };
        return UnknownKey {
            route: route.clone(),
            key,
            location,
            forced,
        };
    }
    if let Some(stage_at) = last_named("stage") {
        let stage = prefix(route, stage_at + 1);
        let forced = has_deployment(root, &stage).then(|| {
            "it is inside a deployment stage: it could change where or how its steps deploy"
                .to_string()
        });
        return UnknownKey {
            route: route.clone(),
            key,
            location: "stage",
            forced,
        };
    }
    let location = if last_named("parallel").is_some() {
        "parallel"
    } else {
        "pipelines"
    };
    UnknownKey {
        route: route.clone(),
        key,
        location,
        forced: None,
    }
}
