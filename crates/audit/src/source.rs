//! Source documents as located trees: YAML (and JSON, which YAML reads) parsed into [`Node`]s that keep byte
//! spans, with aliases and merge keys (`<<`) expanded, plus [`Route`]s that name a node the way a user reads it.
//!
//! NOTE: `keyless-pipelines` owns the typed pipeline model; this module is the small generic layer the audit needs
//! for every input kind (pipelines, IAM JSON, CloudFormation JSON/YAML, keyless.yml) and for span-based fixes.

use std::fmt;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

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

/// A node's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Scalar(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// One located node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    /// The scalar was quoted (or a block scalar), so it is a string even if it reads like `true` or `1`.
    pub quoted: bool,
    /// A local tag such as CloudFormation's `!Sub`, without the `!`.
    pub tag: Option<String>,
}

impl Node {
    fn new(value: Value, span: Span) -> Self {
        Node {
            value,
            span,
            quoted: false,
            tag: None,
        }
    }

    /// The scalar text (numbers and booleans included, as written).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// YAML 1.2 core-schema booleans (`true`/`false` in any case the core schema allows).
    pub fn as_bool(&self) -> Option<bool> {
        if self.quoted {
            return None;
        }
        match self.as_str()? {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        }
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value under `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, v)| (k, v))
    }

    /// A single string or every string of a sequence, with their indices (`None` for the single form).
    pub fn strings(&self) -> Vec<(Option<usize>, &Node)> {
        match &self.value {
            Value::Scalar(_) => vec![(None, self)],
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter(|(_, n)| n.as_str().is_some())
                .map(|(i, n)| (Some(i), n))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Plain JSON for size computations and for deserialising configuration sections.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Scalar(s) => {
                if self.quoted || self.tag.is_some() {
                    return J::String(s.clone());
                }
                if let Some(b) = self.as_bool() {
                    return J::Bool(b);
                }
                if let Ok(i) = s.parse::<i64>() {
                    return J::from(i);
                }
                if s.contains('.')
                    && let Ok(f) = s.parse::<f64>()
                    && let Some(n) = serde_json::Number::from_f64(f)
                {
                    return J::Number(n);
                }
                if s == "~" || s == "null" {
                    return J::Null;
                }
                J::String(s.clone())
            }
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// One segment of a [`Route`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// The path of a node from the document root, e.g. `pipelines.branches.main[2].step.script[0]`; displayed
/// like `keyless_pipelines::Route` (odd keys as JSON strings: `pipelines.branches."release/*"[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Route(pub Vec<Seg>);

impl Route {
    pub fn root() -> Self {
        Route(Vec::new())
    }

    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        Route(segs)
    }

    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        Route(segs)
    }

    /// `route.at(None)` is the route itself, `route.at(Some(i))` its `i`th item.
    #[must_use]
    pub fn at(&self, index: Option<usize>) -> Self {
        match index {
            Some(i) => self.index(i),
            None => self.clone(),
        }
    }
}

impl From<&keyless_pipelines::Route> for Route {
    fn from(r: &keyless_pipelines::Route) -> Self {
        Route(
            r.segments()
                .iter()
                .map(|s| match s {
                    keyless_pipelines::Segment::Key(k) => Seg::Key(k.clone()),
                    keyless_pipelines::Segment::Index(i) => Seg::Index(*i),
                })
                .collect(),
        )
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(k) => {
                    let simple = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                    match (simple, i) {
                        (true, 0) => write!(f, "{k}")?,
                        (true, _) => write!(f, ".{k}")?,
                        (false, 0) => write!(f, "{k:?}")?,
                        (false, _) => write!(f, ".{k:?}")?,
                    }
                }
            }
        }
        Ok(())
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

/// A parsed file: its text, its located tree and a line index.
#[derive(Debug, Clone)]
pub struct Document {
    pub text: String,
    pub root: Node,
    line_starts: Vec<usize>,
}

/// Deepest nesting accepted; deeper input is rejected rather than risking the stack (fuzzing found this).
const MAX_DEPTH: usize = 256;

/// Largest number of nodes alias expansion may produce ("billion laughs" guard).
const MAX_NODES: usize = 1_000_000;

impl Document {
    /// Parses YAML or JSON text. Only the first YAML document is read.
    pub fn parse(text: &str) -> Result<Self, SourceError> {
        let line_starts = line_starts(text);
        let mut parser = Parser::new_from_str(text).keep_tags(true);
        let mut events: Vec<(Event, Marker)> = Vec::new();
        loop {
            match parser.next_token() {
                Ok((Event::StreamEnd, _)) => break,
                Ok((Event::DocumentEnd, _)) => break,
                Ok(ev) => events.push(ev),
                Err(e) => {
                    let m = e.marker();
                    return Err(SourceError {
                        message: e.info().to_owned(),
                        line: m.line(),
                        column: m.col() + 1,
                    });
                }
            }
        }
        let mut builder = Builder {
            events,
            pos: 0,
            anchors: std::collections::HashMap::new(),
            text,
            nodes: 0,
        };
        let root = builder.document()?;
        Ok(Document {
            text: text.to_owned(),
            root,
            line_starts,
        })
    }

    /// Resolves a route to its node.
    pub fn resolve(&self, route: &Route) -> Option<&Node> {
        self.resolve_entry(route).map(|(_, v)| v)
    }

    /// Resolves a route to `(key node if the last segment is a key, node)`.
    pub fn resolve_entry(&self, route: &Route) -> Option<(Option<&Node>, &Node)> {
        let mut node = &self.root;
        let mut key = None;
        for seg in &route.0 {
            match seg {
                Seg::Key(k) => {
                    let (kn, v) = node.entry(k)?;
                    key = Some(kn);
                    node = v;
                }
                Seg::Index(i) => {
                    node = node.as_seq()?.get(*i)?;
                    key = None;
                }
            }
        }
        Some((key, node))
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

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

struct Builder<'a> {
    events: Vec<(Event, Marker)>,
    pos: usize,
    anchors: std::collections::HashMap<usize, Node>,
    text: &'a str,
    nodes: usize,
}

impl Builder<'_> {
    fn err(&self, message: &str, mark: Marker) -> SourceError {
        SourceError {
            message: message.to_owned(),
            line: mark.line(),
            column: mark.col() + 1,
        }
    }

    fn document(&mut self) -> Result<Node, SourceError> {
        while let Some((ev, _)) = self.events.get(self.pos) {
            match ev {
                Event::StreamStart | Event::DocumentStart | Event::Nothing => self.pos += 1,
                _ => return self.node(0),
            }
        }
        Ok(Node::new(Value::Null, Span::default()))
    }

    fn node(&mut self, depth: usize) -> Result<Node, SourceError> {
        let Some((ev, mark)) = self.events.get(self.pos).cloned() else {
            return Err(SourceError {
                message: "unexpected end of document".into(),
                line: 0,
                column: 0,
            });
        };
        if depth > MAX_DEPTH {
            return Err(self.err("document nests deeper than 256 levels", mark));
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.err(
                "document expands to more than a million nodes (alias bomb?)",
                mark,
            ));
        }
        self.pos += 1;
        let start = mark.index();
        match ev {
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| self.err("alias refers to an unknown anchor", mark))?;
                self.nodes += count_nodes(&node);
                if self.nodes > MAX_NODES {
                    return Err(self.err(
                        "document expands to more than a million nodes (alias bomb?)",
                        mark,
                    ));
                }
                Ok(node)
            }
            Event::Scalar(value, style, anchor, tag) => {
                let end = self.scalar_end(start, &value, style);
                let quoted = !matches!(style, TScalarStyle::Plain);
                let is_null = !quoted
                    && tag.is_none()
                    && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let mut node = Node::new(
                    if is_null {
                        Value::Null
                    } else {
                        Value::Scalar(value)
                    },
                    Span::new(start, end),
                );
                node.quoted = quoted;
                node.tag = tag.map(|t| t.suffix);
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                Ok(node)
            }
            Event::SequenceStart(anchor, tag) => {
                let mut items = Vec::new();
                loop {
                    match self.events.get(self.pos) {
                        Some((Event::SequenceEnd, _)) => {
                            self.pos += 1;
                            break;
                        }
                        Some(_) => items.push(self.node(depth + 1)?),
                        None => return Err(self.err("unterminated sequence", mark)),
                    }
                }
                let end = items.last().map_or(start + 2, |n| n.span.end);
                let mut node = Node::new(Value::Seq(items), Span::new(start, end));
                node.tag = tag.map(|t| t.suffix);
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                Ok(node)
            }
            Event::MappingStart(anchor, tag) => {
                let mut entries: Vec<(Node, Node)> = Vec::new();
                let mut merged: Vec<(Node, Node)> = Vec::new();
                loop {
                    match self.events.get(self.pos) {
                        Some((Event::MappingEnd, _)) => {
                            self.pos += 1;
                            break;
                        }
                        Some(_) => {
                            let k = self.node(depth + 1)?;
                            let v = self.node(depth + 1)?;
                            if k.as_str() == Some("<<") && !k.quoted {
                                match &v.value {
                                    Value::Map(src) => merged.extend(src.iter().cloned()),
                                    Value::Seq(maps) => {
                                        for m in maps {
                                            if let Value::Map(src) = &m.value {
                                                merged.extend(src.iter().cloned());
                                            }
                                        }
                                    }
                                    _ => entries.push((k, v)),
                                }
                            } else {
                                entries.push((k, v));
                            }
                        }
                        None => return Err(self.err("unterminated mapping", mark)),
                    }
                }
                let end = entries
                    .iter()
                    .map(|(_, v)| v.span.end)
                    .max()
                    .unwrap_or(start + 2);
                // Explicit keys win over merged ones, whatever their order (YAML merge-key semantics).
                for (k, v) in merged {
                    if !entries.iter().any(|(ek, _)| ek.as_str() == k.as_str()) {
                        entries.push((k, v));
                    }
                }
                let mut node = Node::new(Value::Map(entries), Span::new(start, end));
                node.tag = tag.map(|t| t.suffix);
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                Ok(node)
            }
            _ => Err(self.err("unexpected YAML event", mark)),
        }
    }

    /// End of a scalar in the source: exact for single-line scalars, the next event's start otherwise.
    fn scalar_end(&self, start: usize, value: &str, style: TScalarStyle) -> usize {
        let rest = self.text.get(start..).unwrap_or("");
        let line_end = rest.find('\n').map_or(self.text.len(), |i| start + i);
        match style {
            TScalarStyle::Plain => {
                if rest.starts_with(value) && !value.is_empty() {
                    start + value.len()
                } else {
                    let line = &self.text[start..line_end];
                    let cut = line.find(" #").unwrap_or(line.len());
                    start + line[..cut].trim_end().len()
                }
            }
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                let quote = if matches!(style, TScalarStyle::SingleQuoted) {
                    '\''
                } else {
                    '"'
                };
                let mut escaped = false;
                for (i, c) in rest.char_indices().skip(1) {
                    if quote == '"' && c == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if c == quote && !escaped {
                        return start + i + 1;
                    }
                    escaped = false;
                }
                line_end
            }
            _ => {
                let next = self
                    .events
                    .get(self.pos)
                    .map_or(self.text.len(), |(_, m)| m.index());
                let next = next.max(start).min(self.text.len());
                start + self.text[start..next].trim_end().len()
            }
        }
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
        _ => 1,
    }
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
        assert_eq!(&text[node.span.start..node.span.end], "echo hi");
        assert_eq!(doc.line_col(node.span.start), (5, 13));
    }

    #[test]
    fn merge_keys_explicit_wins() {
        let text = "a: &x {k: 1, j: 2}\nb:\n  <<: *x\n  k: 3\n";
        let doc = Document::parse(text).unwrap();
        let b = doc.root.get("b").unwrap();
        assert_eq!(b.get("k").unwrap().as_str(), Some("3"));
        assert_eq!(b.get("j").unwrap().as_str(), Some("2"));
    }

    #[test]
    fn route_display_quotes_odd_keys() {
        let r = Route::root()
            .key("pipelines")
            .key("branches")
            .key("release/*")
            .index(0);
        assert_eq!(r.to_string(), "pipelines.branches.\"release/*\"[0]");
    }

    #[test]
    fn parse_error_has_location() {
        let err = Document::parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.line >= 1);
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
