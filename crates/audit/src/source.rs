//! Source documents: every input (pipeline, IAM JSON, CloudFormation JSON/YAML, keyless.yml) is parsed once by
//! `keyless-pipelines` into its located tree ([`Node`]: byte spans, anchors, aliases and merge keys expanded), and
//! findings name nodes by [`Route`], displayed like `keyless_pipelines::Route` (the same type).
//!
//! NOTE: there is one parser and one tree. A pipeline file's [`Document`] holds the `keyless_pipelines::PipelineFile`
//! whose typed model and step traversal the rules read; other inputs use the same tree without the model. This
//! module only adds what the audit needs on top: byte [`Span`]s for findings and `--fix`, and a line index.

use std::sync::Arc;

pub use keyless_pipelines::{Node, Route, Segment, Value};
use keyless_pipelines::{ParseError, ParseErrorKind, ParseOptions, PipelineFile};

/// A byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start,
            end: end.max(start),
        }
    }
}

impl From<keyless_pipelines::Span> for Span {
    fn from(s: keyless_pipelines::Span) -> Self {
        Span::new(s.start.offset, s.end.offset)
    }
}

/// Where `node` is written (inside the anchor for a node copied through an alias); empty at 0 for nodes without
/// a source location.
pub fn span(node: &Node) -> Span {
    node.span().map(Span::from).unwrap_or_default()
}

/// A single string or every string of a sequence, with their indices (`None` for the single form).
pub fn strings(node: &Node) -> Vec<(Option<usize>, &Node)> {
    match &node.value {
        Value::String(_) => vec![(None, node)],
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .filter(|(_, n)| n.as_str().is_some())
            .map(|(i, n)| (Some(i), n))
            .collect(),
        _ => Vec::new(),
    }
}

/// Why a file could not be read as YAML/JSON.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{message} at line {line}, column {column}")]
pub struct SourceError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

impl From<ParseError> for SourceError {
    fn from(e: ParseError) -> Self {
        SourceError {
            message: e.kind.to_string(),
            line: e.line,
            column: e.column,
        }
    }
}

/// A parsed file: its text, its located tree (as a `PipelineFile`, whose typed model is only built for pipeline
/// files, on first use) and a line index.
#[derive(Debug, Clone)]
pub struct Document {
    pub text: Arc<str>,
    /// Boxed: a `PipelineFile` holds its typed model inline (most of a kilobyte), and inputs are moved several
    /// times on their way out of the per-file threads.
    file: Box<PipelineFile>,
    line_starts: Vec<usize>,
    /// True once [`Document::release_tree`] dropped the tree.
    released: bool,
}

impl Document {
    /// Parses YAML or JSON text (one document) as Bitbucket reads a pipeline: YAML 1.1 scalars, the last of
    /// duplicate keys wins ([`ParseOptions::PIPELINE`]; see `keyless_pipelines::parse_with`).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Document::parse_with(text, ParseOptions::PIPELINE)
    }

    /// Parses with the given options (keyless.yml reads with the YAML 1.2 core schema).
    pub fn parse_with(text: &str, options: ParseOptions) -> Result<Self, ParseError> {
        let parsed = keyless_pipelines::parse_with(text, options)?;
        Ok(Document::from_file(
            Arc::from(text),
            PipelineFile::from_parsed(parsed),
        ))
    }

    fn from_root(text: Arc<str>, root: Node) -> Self {
        Document::from_file(text, PipelineFile::from_root(root))
    }

    fn from_file(text: Arc<str>, file: PipelineFile) -> Self {
        let line_starts = keyless_pipelines::span::line_starts(&text);
        Document {
            text,
            file: Box::new(file),
            line_starts,
            released: false,
        }
    }

    /// Keys written twice in one mapping (the tree holds the last value of each).
    pub fn duplicates(&self) -> &[keyless_pipelines::DuplicateKey] {
        self.file.duplicates()
    }

    /// A document whose tree is empty (a pipeline file that is valid YAML but not a valid pipeline file).
    pub(crate) fn empty(text: &str) -> Self {
        Document::from_root(Arc::from(text), Node::new(Value::Null))
    }

    /// Drops the tree (and any model built from it), keeping the text and the line index: what findings,
    /// ignores and `--fix` need once the rules have run. The root is null afterwards.
    pub fn release_tree(&mut self) {
        *self.file = PipelineFile::from_root(Node::new(Value::Null));
        self.released = true;
    }

    /// True when the tree was released (the text and line index remain).
    pub fn is_released(&self) -> bool {
        self.released
    }

    /// The tree's root.
    pub fn root(&self) -> &Node {
        self.file.root()
    }

    /// The pipeline model of this tree (meaningful for pipeline files only).
    pub fn pipeline_file(&self) -> &PipelineFile {
        &self.file
    }

    /// Resolves a route to its node.
    pub fn resolve(&self, route: &Route) -> Option<&Node> {
        self.root().at(route)
    }

    /// Resolves a route to `(span of the key if the last segment is a key, node)`.
    pub fn resolve_entry(&self, route: &Route) -> Option<(Option<Span>, &Node)> {
        match route.segments().split_last() {
            Some((Segment::Key(k), _)) => {
                let parent = self.resolve(&route.parent()?)?;
                let entry = parent.entry(k)?;
                Some((entry.key_origin.span.map(Span::from), &entry.value))
            }
            _ => self.resolve(route).map(|n| (None, n)),
        }
    }

    /// 1-based line and 1-based column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line + 1, column)
    }

    /// Byte offset where 1-based `line` starts.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }

    /// The text of 1-based `line`, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_start(line);
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

/// True when a parse error means "not YAML at all" (as opposed to YAML that is not a valid pipeline file).
pub(crate) fn is_syntax_error(e: &ParseError) -> bool {
    matches!(e.kind, ParseErrorKind::Syntax { .. })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_routes() {
        let text =
            "pipelines:\n  default:\n    - step:\n        script:\n          - echo hi # c\n";
        let doc = Document::parse(text).unwrap();
        let route = Route::root()
            .key("pipelines")
            .key("default")
            .index(0)
            .key("step")
            .key("script")
            .index(0);
        assert_eq!(route.to_string(), "pipelines.default[0].step.script[0]");
        let node = doc.resolve(&route).unwrap();
        assert_eq!(node.as_str(), Some("echo hi"));
        let s = span(node);
        assert_eq!(&text[s.start..s.end], "echo hi");
        assert_eq!(doc.line_col(s.start), (5, 13));
        let (key, _) = doc
            .resolve_entry(&Route::root().key("pipelines").key("default"))
            .unwrap();
        assert_eq!(&text[key.unwrap().start..key.unwrap().end], "default");
    }

    #[test]
    fn merge_keys_explicit_wins() {
        let text = "a: &x {k: 1, j: 2}\nb:\n  <<: *x\n  k: 3\n";
        let doc = Document::parse(text).unwrap();
        let b = doc.root().get("b").unwrap();
        assert_eq!(b.get("k").unwrap().as_i64(), Some(3));
        assert_eq!(b.get("j").unwrap().as_i64(), Some(2));
    }

    #[test]
    fn cloudformation_tags_are_kept() {
        let text = "Federated: !Sub ['arn:aws:iam::${A}:oidc-provider/x', {A: 1}]\nName: !Ref R\n";
        let doc = Document::parse(text).unwrap();
        assert_eq!(
            doc.root().get("Federated").unwrap().origin.tag(),
            Some("Sub")
        );
        assert_eq!(doc.root().get("Name").unwrap().origin.tag(), Some("Ref"));
    }

    #[test]
    fn any_top_level_and_empty() {
        assert!(
            Document::parse("[1, 2]\n")
                .unwrap()
                .root()
                .as_seq()
                .is_some()
        );
        assert!(Document::parse("").unwrap().root().is_null());
    }

    #[test]
    fn parse_error_has_location() {
        let err = Document::parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.line >= 1);
        assert!(is_syntax_error(&err));
    }

    #[test]
    fn alias_bomb_is_rejected() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        assert!(Document::parse(&text).is_err());
    }
}
