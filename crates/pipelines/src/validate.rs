//! Validation against Atlassian's schema (S-ATL, with documented keyless overlays) plus the
//! closed-key checks the schema leaves out (steps, stages and pipes are open there).

use std::sync::OnceLock;

use crate::PipelineFile;
use crate::model::{PIPELINES_KEYS, STAGE_KEYS, STEP_KEYS, TOP_LEVEL_KEYS};
use crate::node::{Node, Value};
use crate::route::{Route, Segment};

mod view;

/// Atlassian's schema as shipped (`schema/bitbucket-pipelines.schema.json`, Apache-2.0, see
/// `schema/NOTICE.md`).
pub const ATLASSIAN_SCHEMA: &str = include_str!("../schema/bitbucket-pipelines.schema.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

/// What kind of check produced a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DiagnosticKind {
    /// Atlassian's schema rejected the value (`keyword` is the failing JSON Schema keyword).
    Schema { keyword: String },
    /// A key Bitbucket does not know on a step, stage, pipe, parallel group or pipelines section.
    UnknownKey { key: String },
}

/// One validation finding, located by route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaDiagnostic {
    pub route: Route,
    pub severity: Severity,
    pub kind: DiagnosticKind,
    pub message: String,
}

impl std::fmt::Display for SchemaDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.route, self.message)
    }
}

/// The schema keyless validates with: Atlassian's, with the object form of `oidc`
/// (`{audiences: [...]}`, A-AUD) allowed on steps and in `options`, which Atlassian's schema lacks, and
/// `clone.depth` as a string of digits, which the Dynamic Pipelines reference documents (`Clone.depth` is a
/// `string`, "either a number or `full`", and its example writes `"depth": "3"`) and the editor schema refuses.
pub fn schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut s: serde_json::Value =
            serde_json::from_str(ATLASSIAN_SCHEMA).unwrap_or(serde_json::Value::Null);
        let oidc_object = serde_json::json!({
            "type": "object",
            "properties": {
                "audiences": {"type": "array", "items": {"type": "string"}, "minItems": 1}
            },
            "required": ["audiences"],
            "additionalProperties": false
        });
        if let Some(props) = s.pointer_mut("/components/schemas/step_base/properties") {
            props["oidc"] =
                serde_json::json!({"oneOf": [{"type": "boolean"}, oidc_object.clone()]});
        }
        if let Some(props) = s.pointer_mut(
            "/components/schemas/pipelines_configuration/properties/options/properties",
        ) {
            props["oidc"] = oidc_object;
        }
        if let Some(depth) = s.pointer_mut("/components/schemas/clone/properties/depth/oneOf")
            && let Some(choices) = depth.as_array_mut()
        {
            choices.push(serde_json::json!({"type": "string", "pattern": "^[1-9][0-9]*$"}));
        }
        s
    })
}

/// The compiled schema. It validates the tree in place (see [`view`]), not a `serde_json` copy of it.
fn validator() -> Option<&'static jsonschema::Validator<view::TreeJson>> {
    static V: OnceLock<Option<jsonschema::Validator<view::TreeJson>>> = OnceLock::new();
    V.get_or_init(|| {
        jsonschema::options_for::<view::TreeJson>()
            .build(schema())
            .ok()
    })
    .as_ref()
}

/// Turns a JSON pointer from the validator into a route, using the tree to tell list indices
/// from mapping keys that look like numbers.
fn pointer_to_route(root: &Node, pointer: &str) -> Route {
    let mut route = Route::root();
    let mut cur = Some(root);
    for raw in pointer.split('/').skip(1) {
        let token = raw.replace("~1", "/").replace("~0", "~");
        let node = cur;
        match node.map(|n| &n.value) {
            Some(Value::Seq(items)) => {
                let i = token.parse::<usize>().unwrap_or(usize::MAX);
                route.push(Segment::Index(i));
                cur = items.get(i);
            }
            _ => {
                cur = node.and_then(|n| n.get(&token));
                route.push(Segment::Key(token.into()));
            }
        }
    }
    route
}

fn depth_of(e: &jsonschema::ValidationError<'_>) -> usize {
    e.instance_path().as_str().matches('/').count()
}

/// A validator error reduced to what a diagnostic needs: (JSON pointer, message, keyword).
type Flat = (String, String, String);

/// Flattens `oneOf`/`anyOf` failures into the errors of the branch that got furthest into the
/// instance, so the user sees "`size`: \"3x\" is not one of ..." rather than "not valid under
/// any of the schemas".
fn flatten(e: &jsonschema::ValidationError<'_>, out: &mut Vec<Flat>) {
    use jsonschema::error::ValidationErrorKind as K;
    let flat = |e: &jsonschema::ValidationError<'_>| -> Flat {
        (
            e.instance_path().as_str().to_string(),
            e.masked().to_string(),
            e.kind().keyword().to_string(),
        )
    };
    let branches = match e.kind() {
        K::OneOfNotValid { context } | K::AnyOf { context } => context,
        _ => {
            out.push(flat(e));
            return;
        }
    };
    let deepest =
        |b: &Vec<jsonschema::ValidationError<'static>>| b.iter().map(depth_of).max().unwrap_or(0);
    let best = branches
        .iter()
        .filter(|b| !b.is_empty())
        .max_by_key(|b| deepest(b));
    match best {
        // Only when a branch got deeper than the node itself; otherwise the shape is wrong as a
        // whole and the oneOf message is the honest one.
        Some(b) if deepest(b) > depth_of(e) => {
            for sub in b {
                flatten(sub, out);
            }
        }
        _ => out.push(flat(e)),
    }
}

/// The schema's errors for one instance, flattened (empty when it is valid). Generic over the representation so the
/// tests can hold the tree view against `serde_json`.
fn schema_errors<'i, F: jsonschema::json::Json>(
    v: &'i jsonschema::Validator<F>,
    instance: F::Node<'i>,
) -> Vec<Flat> {
    let mut errors = Vec::new();
    // Most files are valid: the boolean check is much cheaper than collecting errors.
    if v.is_valid(instance.clone()) {
        return errors;
    }
    for e in v.iter_errors(instance) {
        flatten(&e, &mut errors);
    }
    errors
}

fn schema_diagnostics(root: &Node, out: &mut Vec<SchemaDiagnostic>) {
    let Some(v) = validator() else {
        out.push(SchemaDiagnostic {
            route: Route::root(),
            severity: Severity::Error,
            kind: DiagnosticKind::Schema {
                keyword: "$schema".into(),
            },
            message: "internal error: the bundled schema did not compile (a keyless bug; please report it)".into(),
        });
        return;
    };
    let errors = schema_errors(v, root);
    let mut seen = std::collections::HashSet::new();
    for (pointer, message, keyword) in errors {
        let route = pointer_to_route(root, &pointer);
        if !seen.insert((route.clone(), message.clone())) {
            continue;
        }
        out.push(SchemaDiagnostic {
            route,
            severity: Severity::Error,
            kind: DiagnosticKind::Schema { keyword },
            message,
        });
    }
}

fn unknown_keys(
    node: &Node,
    route: &Route,
    known: &[&str],
    what: &str,
    severity: Severity,
    out: &mut Vec<SchemaDiagnostic>,
) {
    for e in node.as_map().unwrap_or_default() {
        if !known.contains(&e.key.as_str()) {
            let hint = closest(&e.key, known)
                .map(|k| format!(" Did you mean `{k}`?"))
                .unwrap_or_default();
            out.push(SchemaDiagnostic {
                route: route.key(e.key.as_str()),
                severity,
                kind: DiagnosticKind::UnknownKey {
                    key: e.key.to_string(),
                },
                message: format!(
                    "unknown {what} key `{}`: Bitbucket does not know it.{hint} Known keys: {}",
                    e.key,
                    known.join(", ")
                ),
            });
        }
    }
}

/// The known key with the smallest edit distance, when it is close enough (two edits) to be a typo.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    crate::suggest::closest(key, known.iter().copied(), |_| 2)
}

const PIPE_KEYS: &[&str] = &["pipe", "variables"];
const PARALLEL_KEYS: &[&str] = &["fail-fast", "steps"];

fn check_steps(file: &PipelineFile, out: &mut Vec<SchemaDiagnostic>) {
    let root = file.root();
    // Every step of every pipeline; effective settings are not needed here.
    let steps = file.config().pipelines.iter().flat_map(|p| match &p.body {
        crate::model::PipelineBody::Items { items, .. } => items.as_slice(),
        _ => &[],
    });
    let steps = steps.flat_map(|item| match item {
        crate::model::Item::Step(s) => std::slice::from_ref(s),
        crate::model::Item::Parallel(par) => par.steps.as_slice(),
        crate::model::Item::Stage(st) => st.steps.as_slice(),
        crate::model::Item::Unknown { .. } => &[],
    });
    for step in steps {
        let Some(node) = root.at(&step.route) else {
            continue;
        };
        unknown_keys(node, &step.route, STEP_KEYS, "step", Severity::Error, out);
        for entry in step.all_script() {
            if let crate::model::ScriptEntry::Invalid { route } = entry
                && let Some(n) = root.at(route)
                && n.as_map().is_some_and(|m| m.len() == 1)
            {
                // A plain script line with `: ` in it is read as a one-key mapping.
                out.retain(|d| &d.route != route);
                out.push(SchemaDiagnostic {
                    route: route.clone(),
                    severity: Severity::Error,
                    kind: DiagnosticKind::Schema {
                        keyword: "oneOf".into(),
                    },
                    message: "this script line was read as a mapping because it contains `: ` \
                              (colon and space); quote the whole line, e.g. `- 'echo \"a: b\"'`"
                        .into(),
                });
            }
        }
        for entry in step.all_script() {
            if let crate::model::ScriptEntry::Pipe(p) = entry
                && let Some(n) = root.at(&p.route)
            {
                unknown_keys(n, &p.route, PIPE_KEYS, "pipe", Severity::Error, out);
            }
        }
    }
    for p in &file.config().pipelines {
        let crate::model::PipelineBody::Items { items, .. } = &p.body else {
            continue;
        };
        for item in items {
            match item {
                crate::model::Item::Stage(st) => {
                    if let Some(n) = root.at(&st.route) {
                        unknown_keys(n, &st.route, STAGE_KEYS, "stage", Severity::Error, out);
                    }
                }
                crate::model::Item::Parallel(par) if par.expanded => {
                    if let Some(n) = root.at(&par.route) {
                        unknown_keys(
                            n,
                            &par.route,
                            PARALLEL_KEYS,
                            "parallel",
                            Severity::Error,
                            out,
                        );
                    }
                }
                _ => {}
            }
        }
    }
}

/// Validates a file: Atlassian's schema (with the overlays of [`schema`]), then the closed-key
/// checks for steps, stages, pipes, expanded `parallel`, `pipelines` sections (errors) and the
/// top level (warnings: Bitbucket's handling of unknown top-level keys is UNCONFIRMED).
pub fn validate(file: &PipelineFile) -> Vec<SchemaDiagnostic> {
    let mut out = Vec::new();
    let root = file.root();
    schema_diagnostics(root, &mut out);
    unknown_keys(
        root,
        &Route::root(),
        TOP_LEVEL_KEYS,
        "top-level",
        Severity::Warning,
        &mut out,
    );
    if let Some(p) = root.get("pipelines") {
        unknown_keys(
            p,
            &Route::root().key("pipelines"),
            PIPELINES_KEYS,
            "pipelines section",
            Severity::Error,
            &mut out,
        );
    }
    check_steps(file, &mut out);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every node of the tree in document order, as a route from the root (mapping entries by index).
    fn routes(node: &Node, at: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        out.push(at.clone());
        let children: Vec<&Node> = match &node.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Map(entries) => entries.iter().map(|e| &e.value).collect(),
            _ => Vec::new(),
        };
        for (i, child) in children.into_iter().enumerate() {
            at.push(i);
            routes(child, at, out);
            at.pop();
        }
    }

    fn node_at<'n>(node: &'n mut Node, route: &[usize]) -> &'n mut Node {
        match route.split_first() {
            None => node,
            Some((i, rest)) => match &mut node.value {
                Value::Seq(items) => node_at(&mut items[*i], rest),
                Value::Map(entries) => node_at(&mut entries[*i].value, rest),
                _ => unreachable!("routes() only descends into collections"),
            },
        }
    }

    fn pipeline_files() -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        let mut dirs = vec![
            root.join("tests/corpus"),
            root.join("../audit/tests/fixtures"),
        ];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    files.push((path.display().to_string(), text));
                }
            }
        }
        files.sort();
        files
    }

    /// The tree view (what `validate` uses) and a `serde_json` copy of the tree give the same verdict and the same
    /// errors, messages included, on every corpus and fixture file and on thousands of broken variants of them: each
    /// node in turn replaced by a value of another type.
    #[test]
    fn tree_view_validates_as_serde_json_does() {
        let view = validator().unwrap();
        let serde = jsonschema::validator_for(schema()).unwrap();
        let replacements = [
            Value::Int(0),
            Value::Float(2.5),
            Value::Float(f64::NAN),
            Value::String("x".into()),
            Value::Bool(true),
            Value::Null,
            Value::Seq(vec![Node::new(Value::Int(1))]),
            Value::Map(Vec::new()),
        ];
        let (mut files_checked, mut variants, mut invalid) = (0, 0, 0);
        for (path, text) in pipeline_files() {
            let Ok(root) = crate::parse_document(&text) else {
                continue;
            };
            files_checked += 1;
            let mut all = Vec::new();
            routes(&root, &mut Vec::new(), &mut all);
            for (n, route) in all.iter().enumerate() {
                let mut broken = root.clone();
                // Leave every 7th node as it is, so the file itself (and valid variants) are compared too.
                if n % 7 != 0 {
                    node_at(&mut broken, route).value =
                        replacements[n % replacements.len()].clone();
                }
                let ours = schema_errors(view, &broken);
                let theirs = schema_errors(&serde, &broken.to_json());
                assert_eq!(ours, theirs, "{path}, node {route:?} replaced");
                variants += 1;
                invalid += usize::from(!ours.is_empty());
            }
        }
        assert!(files_checked >= 100, "only {files_checked} files");
        assert!(
            invalid >= 1000 && variants - invalid >= 100,
            "{variants} variants, {invalid} invalid"
        );
    }
}
