//! The `bitbucket-pipelines.yml` model shared by `keyless audit` (which reads it) and
//! `keyless render`/`serve` (which write through it).
//!
//! - [`parse`] reads YAML with a span for every node, expanding anchors, aliases and merge keys;
//!   [`PipelineFile::from_json`] reads the Dynamic Pipelines JSON form.
//! - [`PipelineFile::config`] is the typed model of every construct; [`PipelineFile::steps`]
//!   walks every step with its [`Route`], [`Selector`], [`Position`] and [`Effective`] settings.
//! - [`PipelineFile::span`] turns a route into a file span (the one place that does).
//! - [`select_pipeline`] answers "which pipeline runs for this branch/tag/PR/custom run".
//! - [`validate`] checks Atlassian's schema plus closed keys.
//! - [`PipelineFile::to_yaml_string`] / [`PipelineFile::to_json`] render deterministically, and the
//!   `edit` methods change steps in place.
//!
//! ```
//! let file = keyless_pipelines::parse("pipelines:\n  default:\n    - step:\n        oidc: true\n        script: [make]\n").unwrap();
//! let step = &file.steps()[0];
//! assert_eq!(step.route.to_string(), "pipelines.default[0].step");
//! assert!(step.effective.oidc.enabled);
//! assert_eq!(file.span(&"pipelines.default[0].step.script[0]".parse().unwrap()).unwrap().line(), 5);
//! ```

pub mod anchor_holder;
pub mod consumers;
pub mod de;
mod edit;
pub mod glob;
pub mod model;
pub mod node;
mod parse;
pub mod pipes;
pub mod render;
pub mod route;
mod select;
pub mod span;
pub mod suggest;
mod traverse;
pub mod validate;

pub use anchor_holder::{AnchorHolder, anchor_holders};
/// The string type of mapping keys and route keys (inline up to 24 bytes).
pub use compact_str::CompactString;
pub use edit::EditError;
pub use glob::{Glob, glob_matches};
pub use model::*;
pub use node::{AliasUse, Anchor, Entry, Node, Origin, Value};
pub use parse::{
    DuplicateKey, DuplicateKeys, MAX_DEPTH, MAX_NODES, ParseError, ParseErrorKind, ParseOptions,
    Parsed, Schema, parse_document, parse_with,
};
pub use route::{Route, RouteParseError, Segment};
pub use select::{MatchKind, SelectedPipeline, Target, select_pipeline};
pub use span::{Pos, Span};
pub use traverse::{
    DEFAULT_IMAGE, DEFAULT_MAX_TIME, DEFAULT_SIZE, Effective, EffectiveOidc, EffectiveRuntime,
    Position, Setting, Source, StepRef, effective,
};
pub use validate::{DiagnosticKind, SchemaDiagnostic, Severity, validate};

/// A parsed pipeline file: the raw tree (with spans) and the typed model derived from it.
#[derive(Debug, Clone)]
pub struct PipelineFile {
    root: Node,
    /// Derived from `root` on first use and dropped by every edit, so a run of edits costs
    /// nothing until the model is read again.
    config: std::sync::OnceLock<Config>,
    /// Keys written twice in one mapping (the last value is in the tree).
    duplicates: Vec<DuplicateKey>,
}

/// Reads `bitbucket-pipelines.yml` text as Bitbucket does ([`ParseOptions::PIPELINE`]): YAML 1.1 scalars
/// (`yes` is true, `0755` is 493), and of a key written twice in one mapping the last value wins
/// ([`PipelineFile::duplicates`] lists each repeat).
///
/// Fails on YAML syntax errors, unknown or recursive aliases, bad merge keys, more than one
/// document, a top level that is not a mapping, nesting beyond [`MAX_DEPTH`] and alias expansion
/// beyond [`MAX_NODES`]. Schema problems are not parse errors: see [`validate`].
pub fn parse(source: &str) -> Result<PipelineFile, ParseError> {
    let parsed = parse::parse_tree(source)?;
    Ok(PipelineFile::from_parsed(parsed))
}

impl PipelineFile {
    /// Builds a file from a tree (whose top level should be a mapping).
    pub fn from_root(root: Node) -> PipelineFile {
        PipelineFile {
            root,
            config: std::sync::OnceLock::new(),
            duplicates: Vec::new(),
        }
    }

    /// Builds a file from a parsed document, keeping its duplicate keys.
    pub fn from_parsed(parsed: Parsed) -> PipelineFile {
        PipelineFile {
            duplicates: parsed.duplicates,
            ..PipelineFile::from_root(parsed.root)
        }
    }

    /// Keys written more than once in one mapping, in document order; the tree holds the last value of each.
    pub fn duplicates(&self) -> &[DuplicateKey] {
        &self.duplicates
    }

    /// Reads the Dynamic Pipelines form: the `pipelines_configuration` JSON object
    /// (bitbucket.md §4). Nodes have routes but no spans.
    pub fn from_json(value: serde_json::Value) -> Result<PipelineFile, ParseError> {
        if !value.is_object() {
            let found = match value {
                serde_json::Value::Null => "null",
                serde_json::Value::Bool(_) => "a boolean",
                serde_json::Value::Number(_) => "a number",
                serde_json::Value::String(_) => "a string",
                serde_json::Value::Array(_) => "a list",
                serde_json::Value::Object(_) => "a mapping",
            };
            return Err(ParseError::nowhere(ParseErrorKind::JsonNotObject { found }));
        }
        let root = Node::from_json(&value, MAX_DEPTH)
            .map_err(|_| ParseError::nowhere(ParseErrorKind::TooDeep { limit: MAX_DEPTH }))?;
        Ok(PipelineFile::from_root(root))
    }

    /// The Dynamic Pipelines form from a tree already read from JSON (no spans): the same refusal as
    /// [`PipelineFile::from_json`] when the top level is not a mapping, naming the JSON type found.
    pub fn from_json_tree(root: Node) -> Result<PipelineFile, ParseError> {
        let found = match root.value {
            Value::Map(_) => return Ok(PipelineFile::from_root(root)),
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
        };
        Err(ParseError::nowhere(ParseErrorKind::JsonNotObject { found }))
    }

    /// The raw tree (anchors and merge keys expanded).
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// The typed model.
    pub fn config(&self) -> &Config {
        self.config
            .get_or_init(|| model::derive::build_config(&self.root))
    }

    /// Every pipeline, in document order (`definitions.pipelines` last).
    pub fn pipelines(&self) -> &[Pipeline] {
        &self.config().pipelines
    }

    /// The pipeline with this exact selector (`Selector::Branches("main".into())`, ...).
    pub fn pipeline(&self, selector: &Selector) -> Option<&Pipeline> {
        self.pipelines().iter().find(|p| &p.selector == selector)
    }

    /// Every step of every pipeline, with route, selector, position and effective settings.
    pub fn steps(&self) -> Vec<StepRef<'_>> {
        traverse::steps(self.config())
    }

    /// The steps of one pipeline.
    pub fn steps_of<'a>(&'a self, pipeline: &'a Pipeline) -> Vec<StepRef<'a>> {
        let mut out = Vec::new();
        traverse::steps_of(self.config(), pipeline, &mut out);
        out
    }

    /// The node at `route`.
    pub fn node(&self, route: &Route) -> Option<&Node> {
        self.root.at(route)
    }

    /// Where the node at `route` is written: for a node copied through an alias, inside the anchor
    /// definition (see [`PipelineFile::origin`] for the alias use site). `None` when the route
    /// does not exist or the node has no source (JSON input, edits).
    pub fn span(&self, route: &Route) -> Option<Span> {
        self.node(route)?.origin.span
    }

    /// The span of the key of the mapping entry at `route` (`oidc` in `oidc: true`).
    pub fn key_span(&self, route: &Route) -> Option<Span> {
        let (parent, key) = match route.segments().split_last()? {
            (Segment::Key(k), rest) => (rest, k),
            _ => return None,
        };
        let mut r = Route::root();
        for s in parent {
            r.push(s.clone());
        }
        self.node(&r)?.entry(key)?.key_origin.span
    }

    /// The full origin of the node at `route`: its span, the alias uses it came through
    /// (outermost first), its anchor, and whether it was merged in by `<<`.
    pub fn origin(&self, route: &Route) -> Option<&Origin> {
        self.node(route).map(|n| &n.origin)
    }

    /// The span a finding at `route` should show: the node itself when it is written at its
    /// place, else the outermost alias use that brought it there.
    pub fn use_site_span(&self, route: &Route) -> Option<Span> {
        let o = self.origin(route)?;
        o.via().first().map(|a| a.span).or(o.span)
    }

    /// The nearest route at or above `route` that exists and has a span (for findings about a
    /// key that is missing: point at the mapping that lacks it).
    pub fn nearest_span(&self, route: &Route) -> Option<Span> {
        let mut r = route.clone();
        loop {
            if let Some(s) = self.span(&r) {
                return Some(s);
            }
            r = r.parent()?;
        }
    }

    /// Deterministic block YAML of the tree. `parse(x.to_yaml_string())` has the same tree as `x`,
    /// so rendering is idempotent. Anchors come out expanded; comments are not kept.
    pub fn to_yaml_string(&self) -> String {
        render::to_yaml(&self.root)
    }

    /// The top-level keys that only hold anchors used elsewhere ([`anchor_holder`] has the definition).
    pub fn anchor_holders(&self) -> Vec<AnchorHolder> {
        anchor_holders(&self.root)
    }

    /// The JSON form (what a Dynamic Pipelines provider returns as `pipelines_configuration`).
    pub fn to_json(&self) -> serde_json::Value {
        self.root.to_json()
    }
}
