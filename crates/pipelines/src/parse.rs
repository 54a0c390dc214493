//! YAML text → [`Node`] tree, keeping spans, expanding aliases and merge keys (`<<`).
//!
//! Built on saphyr-parser's event stream because it reports a start and end span for every event;
//! the tree builder (anchors, merges, duplicate keys, limits) is ours because no YAML library keeps
//! both the alias use site and the anchor definition of a copied node.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use compact_str::CompactString;
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

use crate::node::{AliasUse, Anchor, Entry, Node, Origin, Value};
use crate::span::{CharIndex, Pos, Span};

/// Nesting deeper than this is refused (it is never needed and it protects the recursion below).
pub const MAX_DEPTH: usize = 128;
/// The most nodes alias expansion may produce (guards against "billion laughs" documents).
pub const MAX_NODES: usize = 200_000;

/// How plain scalars (unquoted `yes`, `0755`, `1_000`) get their types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schema {
    /// The YAML 1.2 core schema: `true`/`false`, `null`, `0x`/`0o` integers (keyless.yml, JSON).
    #[default]
    Core,
    /// YAML 1.1 types as PyYAML's and SnakeYAML's resolvers read them: `yes`/`no`/`on`/`off` are booleans,
    /// `0755` is octal, `0b101` binary, `1_000` and `1:20` (base 60) are integers. Bitbucket reads
    /// `bitbucket-pipelines.yml` with a YAML 1.1 loader, and CloudFormation documents YAML 1.1.
    Yaml11,
}

/// What a mapping key written twice does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicateKeys {
    /// Refuse the document ([`ParseErrorKind::DuplicateKey`]).
    #[default]
    Refuse,
    /// Keep the last value, at the first key's place in the mapping (what PyYAML and SnakeYAML, and so Bitbucket,
    /// do), and list every repeat in [`Parsed::duplicates`].
    LastWins,
}

/// How a document is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    pub schema: Schema,
    pub duplicate_keys: DuplicateKeys,
}

impl ParseOptions {
    /// `bitbucket-pipelines.yml` as Bitbucket reads it: YAML 1.1 scalars, the last of duplicate keys wins.
    pub const PIPELINE: ParseOptions = ParseOptions {
        schema: Schema::Yaml11,
        duplicate_keys: DuplicateKeys::LastWins,
    };
    /// YAML 1.2 core scalars, duplicate keys refused (keyless.yml; JSON).
    pub const STRICT: ParseOptions = ParseOptions {
        schema: Schema::Core,
        duplicate_keys: DuplicateKeys::Refuse,
    };
}

/// A mapping key written again in the same mapping (read with [`DuplicateKeys::LastWins`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    pub key: String,
    /// The key written before (the one this repeat overrides).
    pub previous: Span,
    /// The repeat, whose value is the one kept.
    pub repeat: Span,
}

/// A document read with [`parse_with`]: the tree and the duplicate keys its options let through.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The top-level node; null for an empty document.
    pub root: Node,
    /// Every repeated key, in document order (empty unless duplicates are [`DuplicateKeys::LastWins`]).
    pub duplicates: Vec<DuplicateKey>,
}

/// Why a file could not be read as a pipeline file. Always the input's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("invalid YAML: {message}. {hint}")]
    Syntax { message: String, hint: &'static str },
    #[error(
        "duplicate key `{key}` (first written at line {first_line}). Remove one of them; YAML mappings may not repeat a key"
    )]
    DuplicateKey { key: String, first_line: usize },
    #[error(
        "alias `*{name}` refers to its own anchor. Move the shared part into a separate anchor"
    )]
    RecursiveAlias { name: String },
    #[error(
        "the merge key `<<` takes a mapping or a list of mappings, found {found}. Write `<<: *anchor` or `<<: [*a, *b]`"
    )]
    BadMerge { found: &'static str },
    #[error("a mapping key must be a plain value, found {found}. Use a string key")]
    ComplexKey { found: &'static str },
    #[error(
        "the file holds more than one YAML document. bitbucket-pipelines.yml must be a single document: remove the `---` separator"
    )]
    MultipleDocuments,
    #[error("the file is empty. Add a `pipelines:` section")]
    Empty,
    #[error("the top level must be a mapping (with `pipelines:`), found {found}")]
    NotAMapping { found: &'static str },
    #[error("nesting deeper than {limit} levels. Flatten the document")]
    TooDeep { limit: usize },
    #[error("aliases expand to more than {limit} nodes. Reduce nested aliases")]
    TooLarge { limit: usize },
    #[error("the Dynamic Pipelines configuration must be a JSON object, found {found}")]
    JsonNotObject { found: &'static str },
}

/// A parse failure with the position (1-based line and column) where it was found.
/// JSON input has no positions; line and column are then 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {kind}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub kind: ParseErrorKind,
}

impl ParseError {
    fn at(pos: Pos, kind: ParseErrorKind) -> Self {
        ParseError {
            line: pos.line,
            column: pos.column,
            kind,
        }
    }

    pub(crate) fn nowhere(kind: ParseErrorKind) -> Self {
        ParseError {
            line: 0,
            column: 0,
            kind,
        }
    }
}

#[allow(clippy::large_enum_variant)]
enum Frame {
    Seq {
        start: Span,
        anchor: Option<(usize, Anchor)>,
        /// Where this sequence's items begin in [`Builder::items`].
        items_from: usize,
    },
    Map {
        start: Span,
        anchor: Option<(usize, Anchor)>,
        /// Where the entries written in this mapping begin in [`Builder::entries`].
        entries_from: usize,
        /// Merge keys (`<<`): the number of entries written before each, and the mappings it merges.
        /// Almost always empty; a mapping without merges takes its written entries as they are.
        merges: Vec<(usize, Vec<Node>)>,
        /// The key read and waiting for its value: (text, origin, is the merge key, the index in
        /// [`Builder::entries`] of the earlier entry it repeats).
        pending: Option<(CompactString, Origin, bool, Option<usize>)>,
        /// Where a `<<` key was seen (its slot has no key to compare).
        merge_seen: Option<Span>,
    },
}

struct Builder<'s> {
    source: &'s str,
    index: CharIndex,
    stack: Vec<Frame>,
    /// The items and entries of every open collection, innermost last (a stack shared by the frames): a finished
    /// collection takes its own into a vector of exactly its size, instead of growing one per collection.
    items: Vec<Node>,
    entries: Vec<Entry>,
    /// The local tag of each open collection in `stack` (`!Sub [...]`).
    tags: Vec<Option<Box<str>>>,
    /// Finished anchored nodes with their node counts.
    anchors: HashMap<usize, (Node, usize)>,
    /// Anchors opened but not yet closed, to detect an alias inside its own anchor.
    open_anchors: HashMap<usize, String>,
    root: Option<Node>,
    nodes: usize,
    options: ParseOptions,
    duplicates: Vec<DuplicateKey>,
}

/// Parses pipeline YAML into a tree ([`ParseOptions::PIPELINE`]). The top level must be a mapping.
pub fn parse_tree(source: &str) -> Result<Parsed, ParseError> {
    let (root, duplicates) = parse_any(source, ParseOptions::PIPELINE)?;
    let origin = Pos {
        offset: 0,
        line: 1,
        column: 1,
    };
    match root {
        None => Err(ParseError::at(origin, ParseErrorKind::Empty)),
        Some(root) if root.is_null() => Err(ParseError::at(origin, ParseErrorKind::Empty)),
        Some(root) if root.as_map().is_none() => {
            let pos = root.span().map_or(origin, |s| s.start);
            Err(ParseError::at(
                pos,
                ParseErrorKind::NotAMapping { found: root.kind() },
            ))
        }
        Some(root) => Ok(Parsed { root, duplicates }),
    }
}

/// Parses any single YAML (or JSON) document into a tree, whatever its top level; an empty
/// document is null. Same spans, anchors, merge keys and limits as [`crate::parse`], which adds
/// the pipeline file's rules (a mapping at the top). `keyless audit` reads IAM policies and
/// CloudFormation templates with it, so every input has one tree type.
///
/// Reads with [`ParseOptions::STRICT`]; [`parse_with`] chooses.
pub fn parse_document(source: &str) -> Result<Node, ParseError> {
    Ok(parse_with(source, ParseOptions::STRICT)?.root)
}

/// Parses any single YAML (or JSON) document, as [`parse_document`] does, with the given scalar schema and
/// duplicate-key behaviour.
pub fn parse_with(source: &str, options: ParseOptions) -> Result<Parsed, ParseError> {
    let (root, duplicates) = parse_any(source, options)?;
    Ok(Parsed {
        root: root.unwrap_or_else(|| Node::new(Value::Null)),
        duplicates,
    })
}

type Tree = (Option<Node>, Vec<DuplicateKey>);

fn parse_any(source: &str, options: ParseOptions) -> Result<Tree, ParseError> {
    let mut b = Builder {
        source,
        index: CharIndex::new(source),
        stack: Vec::new(),
        items: Vec::new(),
        entries: Vec::new(),
        tags: Vec::new(),
        anchors: HashMap::new(),
        open_anchors: HashMap::new(),
        root: None,
        nodes: 0,
        options,
        duplicates: Vec::new(),
    };
    let mut parser = Parser::new_from_str(source);
    let mut documents = 0;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| b.scan_error(&e))?;
        let sp = b.span(&span);
        match ev {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(ParseError::at(sp.start, ParseErrorKind::MultipleDocuments));
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            Event::Scalar(text, style, anchor_id, tag) => {
                let (mut content, anchor) = b.content_start(sp);
                let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                if block {
                    content = b.block_content_start(content, sp.end);
                }
                let tag_suffix = tag.as_deref().map(|t| t.suffix.as_str());
                let value = resolve_scalar(text, style, tag_suffix, b.options.schema);
                let end = if block {
                    b.trim_end(content, sp.end)
                } else {
                    sp.end
                };
                let mut origin = Origin::at(Span {
                    start: content,
                    end,
                });
                if anchor.is_some() {
                    origin.set_anchor(anchor.clone());
                }
                if let Some(tag) = local_tag(tag.as_deref()) {
                    origin.set_tag(Some(tag));
                }
                let node = Node { value, origin };
                let plain = matches!(style, ScalarStyle::Plain);
                if anchor_id > 0 {
                    b.anchors.insert(anchor_id, (node.clone(), 1));
                }
                b.count(1, sp.start)?;
                b.add(node, plain, sp.start)?;
            }
            Event::Alias(id) => {
                let name = b.alias_name(sp);
                if b.open_anchors.contains_key(&id) {
                    return Err(ParseError::at(
                        sp.start,
                        ParseErrorKind::RecursiveAlias { name },
                    ));
                }
                let Some((_, size)) = b.anchors.get(&id) else {
                    return Err(ParseError::at(
                        sp.start,
                        ParseErrorKind::Syntax {
                            message: format!("unknown anchor `{name}`"),
                            hint: "Define the anchor with `&name` before using `*name`",
                        },
                    ));
                };
                let size = *size;
                // Count before copying, so an alias bomb fails fast instead of allocating.
                b.count(size, sp.start)?;
                let Some((target, _)) = b.anchors.get(&id) else {
                    continue;
                };
                let mut copy = target.clone();
                let use_site = AliasUse { name, span: sp };
                mark_via(&mut copy, &use_site);
                // The copy is not where the anchor is defined; only the original carries it.
                copy.origin.set_anchor(None);
                b.add(copy, false, sp.start)?;
            }
            Event::SequenceStart(anchor_id, ref tag) | Event::MappingStart(anchor_id, ref tag) => {
                b.tags.push(local_tag(tag.as_deref()));
                if b.stack.len() >= MAX_DEPTH {
                    return Err(ParseError::at(
                        sp.start,
                        ParseErrorKind::TooDeep { limit: MAX_DEPTH },
                    ));
                }
                let (content, anchor) = b.content_start(sp);
                let start = Span {
                    start: content,
                    end: if sp.end.offset > content.offset {
                        sp.end
                    } else {
                        content
                    },
                };
                let anchor = anchor.map(|a| (anchor_id, a));
                if let Some((id, a)) = &anchor {
                    b.open_anchors.insert(*id, a.name.clone());
                }
                b.stack.push(if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq {
                        start,
                        anchor,
                        items_from: b.items.len(),
                    }
                } else {
                    Frame::Map {
                        start,
                        anchor,
                        entries_from: b.entries.len(),
                        merges: Vec::new(),
                        pending: None,
                        merge_seen: None,
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = b.stack.pop() else {
                    continue;
                };
                let (mut node, anchor) = b.finish(frame, sp)?;
                if let Some(tag) = b.tags.pop().flatten() {
                    node.origin.set_tag(Some(tag));
                }
                if let Some((id, _)) = &anchor {
                    b.open_anchors.remove(id);
                    b.anchors.insert(*id, (node.clone(), count_nodes(&node)));
                }
                b.count(1, sp.start)?;
                b.add(node, false, sp.start)?;
            }
        }
    }
    Ok((b.root, b.duplicates))
}

/// A local tag (`!Sub`) as written, without the `!`; the core schema's own tags are not kept.
fn local_tag(tag: Option<&saphyr_parser::Tag>) -> Option<Box<str>> {
    let t = tag?;
    (t.handle == "!").then(|| t.suffix.as_str().into())
}

fn mark_via(node: &mut Node, use_site: &AliasUse) {
    node.origin.push_outer_alias_use(use_site.clone());
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| mark_via(n, use_site)),
        Value::Map(entries) => {
            for e in entries {
                e.key_origin.push_outer_alias_use(use_site.clone());
                mark_via(&mut e.value, use_site);
            }
        }
        _ => {}
    }
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(count_nodes).sum(),
        Value::Map(entries) => entries.iter().map(|e| count_nodes(&e.value)).sum(),
        _ => 0,
    }
}

/// Resolves a scalar with `schema`. Quoted and block scalars are strings.
/// Takes the parser's text by value: it is owned, and a string scalar keeps its allocation rather than a copy.
fn resolve_scalar(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&str>,
    schema: Schema,
) -> Value {
    if !matches!(style, ScalarStyle::Plain) || tag == Some("str") {
        return Value::String(text.into_owned());
    }
    if schema == Schema::Yaml11 {
        return resolve_yaml11(text);
    }
    match &*text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(&text) {
        return Value::Int(i);
    }
    if let Some(f) = is_core_float(&text)
        .then(|| text.parse::<f64>().ok())
        .flatten()
    {
        return Value::Float(f);
    }
    Value::String(text.into_owned())
}

/// A plain scalar's type under YAML 1.1, as PyYAML's resolver (`yaml/resolver.py`) decides it; SnakeYAML's
/// `Resolver` has the same patterns. Timestamps (`2001-12-14`) stay strings: nothing keyless reads is a date.
fn resolve_yaml11(text: Cow<'_, str>) -> Value {
    match &*text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        _ => {}
    }
    let first = text.as_bytes()[0];
    if (first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.'))
        && let Some(v) = yaml11_float(&text).or_else(|| yaml11_int(&text))
    {
        return v;
    }
    Value::String(text.into_owned())
}

/// Splits an optional sign: (negative, rest).
fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// `[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`
/// (YAML 1.1 `tag:yaml.org,2002:int`), with PyYAML's construction (underscores dropped). An integer beyond i64
/// is kept as a float, as the nearest value keyless can hold.
fn yaml11_int(text: &str) -> Option<Value> {
    let (negative, body) = split_sign(text);
    let digits = |s: &str, ok: fn(u8) -> bool| -> Option<String> {
        (!s.is_empty() && s.bytes().all(|b| b == b'_' || ok(b))).then(|| s.replace('_', ""))
    };
    let (radix, clean) = if let Some(bin) = body.strip_prefix("0b") {
        (2, digits(bin, |b| b == b'0' || b == b'1')?)
    } else if let Some(hex) = body.strip_prefix("0x") {
        (16, digits(hex, |b| b.is_ascii_hexdigit())?)
    } else if body == "0" {
        (10, "0".to_owned())
    } else if let Some(oct) = body.strip_prefix('0') {
        (8, digits(oct, |b| (b'0'..=b'7').contains(&b))?)
    } else if body.contains(':') {
        return sexagesimal(body, false).map(|v| {
            let v = if negative { -v } else { v };
            // Whole by construction; an integer this large cannot overflow f64's range.
            #[allow(clippy::cast_possible_truncation)]
            let i = v as i64;
            Value::Int(i)
        });
    } else if body
        .as_bytes()
        .first()
        .is_some_and(|b| (b'1'..=b'9').contains(b))
    {
        (10, digits(body, |b| b.is_ascii_digit())?)
    } else {
        return None;
    };
    // Digits only now (an all-underscore body is no number).
    if clean.is_empty() {
        return None;
    }
    let signed = if negative { format!("-{clean}") } else { clean };
    Some(match i64::from_str_radix(&signed, radix) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::Float(
            u128::from_str_radix(signed.trim_start_matches('-'), radix)
                .map_or(f64::INFINITY, |u| u as f64)
                * if negative { -1.0 } else { 1.0 },
        ),
    })
}

/// `[1-9][0-9_]*(:[0-5]?[0-9])+` (integers) or with a trailing `\.[0-9_]*` (floats): base 60, `1:20` is 80.
fn sexagesimal(body: &str, float: bool) -> Option<f64> {
    let (whole, fraction) = match body.split_once('.') {
        Some((w, f)) if float => (w, Some(f)),
        None if !float => (body, None),
        _ => return None,
    };
    let mut parts = whole.split(':');
    let head = parts.next()?;
    let head_ok = if float {
        head.bytes().next().is_some_and(|b| b.is_ascii_digit())
    } else {
        head.bytes()
            .next()
            .is_some_and(|b| (b'1'..=b'9').contains(&b))
    };
    if !head_ok || !head.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    let mut value: f64 = head.replace('_', "").parse().ok()?;
    let mut any = false;
    for part in parts {
        let b = part.as_bytes();
        let ok = match b {
            [d] => d.is_ascii_digit(),
            [t, d] => (b'0'..=b'5').contains(t) && d.is_ascii_digit(),
            _ => false,
        };
        if !ok {
            return None;
        }
        value = value * 60.0 + part.parse::<f64>().ok()?;
        any = true;
    }
    if !any {
        return None;
    }
    if let Some(f) = fraction {
        if !f.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
            return None;
        }
        let f = f.replace('_', "");
        if !f.is_empty() {
            value += format!("0.{f}").parse::<f64>().ok()?;
        }
    }
    Some(value)
}

/// YAML 1.1 `tag:yaml.org,2002:float`: `[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?` (a dot is required and an
/// exponent needs its sign: `1e3` is a string), base 60 with a fraction (`1:20.5`), `.inf` and `.nan`.
fn yaml11_float(text: &str) -> Option<Value> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(Value::Float(f64::INFINITY));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(Value::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(Value::Float(f64::NAN)),
        _ => {}
    }
    let (negative, body) = split_sign(text);
    let sign = if negative { -1.0 } else { 1.0 };
    if body.contains(':') {
        return sexagesimal(body, true).map(|v| Value::Float(sign * v));
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.')?;
    let int_ok = int.is_empty() || int.as_bytes()[0].is_ascii_digit();
    let all = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    // PyYAML's second form, `\.[0-9][0-9_]*`, takes no sign and needs a digit right after the dot.
    let bare_ok = !int.is_empty()
        || (!negative
            && text.starts_with('.')
            && frac.as_bytes().first().is_some_and(u8::is_ascii_digit));
    if !int_ok || !bare_ok || !all(int) || !all(frac) {
        return None;
    }
    if let Some(e) = exponent {
        let (_, digits) = e.split_at(1.min(e.len()));
        if !matches!(e.as_bytes().first(), Some(b'-' | b'+'))
            || digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
    }
    let clean = body.replace('_', "");
    let clean = if clean.starts_with('.') {
        format!("0{clean}")
    } else {
        clean
    };
    let clean = clean.replace(".e", ".0e").replace(".E", ".0E");
    clean.parse::<f64>().ok().map(|v| Value::Float(sign * v))
}

pub(crate) fn parse_int(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return i64::from_str_radix(hex, 16).ok();
        }
        return None;
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if !oct.is_empty() && oct.chars().all(|c| ('0'..='7').contains(&c)) {
            return i64::from_str_radix(oct, 8).ok();
        }
        return None;
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return text.parse().ok();
    }
    None
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?` (YAML 1.2 core).
pub(crate) fn is_core_float(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - f;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

impl Builder<'_> {
    fn span(&self, s: &saphyr_parser::Span) -> Span {
        let start_byte = self.index.byte(&s.start);
        let raw_end = self.index.byte(&s.end).max(start_byte);
        // Event spans may run into the white space after a token (`} `); nodes never end in it.
        let end_byte = start_byte + self.source[start_byte..raw_end].trim_end().len();
        // The parser's markers already carry line and column (in characters); only a trimmed end
        // needs computing.
        let start = Pos {
            offset: start_byte,
            line: s.start.line().max(1),
            column: s.start.col() + 1,
        };
        let end = if end_byte == raw_end && raw_end > start_byte {
            Pos {
                offset: end_byte,
                line: s.end.line().max(1),
                column: s.end.col() + 1,
            }
        } else if end_byte == start_byte {
            start
        } else {
            self.index.pos_at_byte(self.source, end_byte)
        };
        Span { start, end }
    }

    fn scan_error(&self, e: &ScanError) -> ParseError {
        let byte = self.index.byte(e.marker());
        let pos = self.index.pos_at_byte(self.source, byte);
        let message = e.info().to_string();
        let at = self.source[byte..].chars().next();
        let after_star: &str = self.source[byte..]
            .strip_prefix('*')
            .map(|r| r.split([' ', '\t', '\n', ':']).next().unwrap_or_default())
            .unwrap_or("-");
        let hint = if message.contains("anchor")
            && (after_star.is_empty() || after_star.contains(['*', '/']))
        {
            "A branch or tag pattern that starts with `*` must be quoted (`'*'`, `'**'`, `'*/feature'`): unquoted, YAML reads `*` as an alias"
        } else if message.contains("unknown anchor") {
            "Define the anchor with `&name` before using `*name` (anchors must come first in the file)"
        } else if at == Some('\t') || message.contains("tab") {
            "YAML indentation must use spaces, not tabs"
        } else if message.contains("mapping values are not allowed")
            || message.contains("':' indicator")
        {
            "Quote values that contain `: ` (for example a script line `- \"echo a: b\"`)"
        } else if message.contains("did not find expected") || message.contains("block") {
            "Check the indentation of this line against the lines above it"
        } else {
            "Check the indentation and quoting of this line"
        };
        ParseError::at(pos, ParseErrorKind::Syntax { message, hint })
    }

    fn count(&mut self, n: usize, at: Pos) -> Result<(), ParseError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(ParseError::at(
                at,
                ParseErrorKind::TooLarge { limit: MAX_NODES },
            ));
        }
        Ok(())
    }

    /// Skips `&anchor` and `!tag` properties at the start of a node's event span; returns where
    /// the content starts and the anchor defined there.
    fn content_start(&self, sp: Span) -> (Pos, Option<Anchor>) {
        let src = self.source;
        let mut i = sp.start.offset;
        let mut anchor = None;
        loop {
            let rest = &src[i..];
            let Some(c) = rest.chars().next() else {
                break;
            };
            if c != '&' && c != '!' {
                break;
            }
            let len = rest
                .find(|ch: char| ch.is_whitespace() || ",[]{}".contains(ch))
                .unwrap_or(rest.len());
            if c == '&' {
                anchor = Some(Anchor {
                    name: rest[1..len].to_string(),
                    span: Span {
                        start: self.index.pos_at_byte(src, i),
                        end: self.index.pos_at_byte(src, i + len),
                    },
                });
            }
            i += len;
            // Skip the whitespace (and comments) between the properties and the content.
            loop {
                let rest = &src[i..];
                let trimmed = rest.trim_start();
                i += rest.len() - trimmed.len();
                if trimmed.starts_with('#') {
                    i += trimmed.find('\n').unwrap_or(trimmed.len());
                } else {
                    break;
                }
            }
        }
        if i == sp.start.offset {
            return (sp.start, anchor);
        }
        (self.index.pos_at_byte(src, i), anchor)
    }

    fn alias_name(&self, sp: Span) -> String {
        let text = &self.source[sp.range()];
        text.trim_start_matches('*')
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// Where a block scalar's content starts. saphyr-parser starts a bare block scalar at its first content character,
    /// but a block scalar with properties (`&anchor |`, `!tag >`) at its properties, which [`Self::content_start`]
    /// skips to the `|`/`>` indicator: a line before the content, so a finding in `- script: &x |` pointed one line
    /// early (corpus 210). Past the indicator's line and the blank lines after it, as for a bare block scalar.
    fn block_content_start(&self, at: Pos, end: Pos) -> Pos {
        let src = self.source;
        if !matches!(src.as_bytes().get(at.offset), Some(b'|' | b'>')) {
            return at;
        }
        let Some(eol) = src[at.offset..end.offset.max(at.offset)].find('\n') else {
            return end;
        };
        let after = at.offset + eol + 1;
        let rest = &src[after..end.offset.max(after)];
        let first = after + (rest.len() - rest.trim_start().len());
        if first >= end.offset {
            return end;
        }
        self.index.pos_at_byte(src, first)
    }

    /// The end of a block scalar without its trailing line breaks.
    fn trim_end(&self, start: Pos, end: Pos) -> Pos {
        let text = &self.source[start.offset..end.offset.max(start.offset)];
        let kept = text.trim_end().len();
        self.index.pos_at_byte(self.source, start.offset + kept)
    }

    fn finish(
        &mut self,
        frame: Frame,
        end_event: Span,
    ) -> Result<(Node, Option<(usize, Anchor)>), ParseError> {
        // Flow collections end at their closing bracket; block collections end with their last
        // child (the end event sits at the next token, possibly lines below).
        let flow = end_event.end.offset > end_event.start.offset;
        match frame {
            Frame::Seq {
                start,
                anchor,
                items_from,
            } => {
                let items: Vec<Node> = self.items.drain(items_from..).collect();
                let end = if flow {
                    end_event.end
                } else {
                    items
                        .last()
                        .and_then(|n| n.span())
                        .map_or(start.end, |s| s.end)
                };
                let node = Node {
                    value: Value::Seq(items),
                    origin: {
                        let mut origin = Origin::at(Span {
                            start: start.start,
                            end,
                        });
                        if let Some((_, a)) = &anchor {
                            origin.set_anchor(Some(a.clone()));
                        }
                        origin
                    },
                };
                Ok((node, anchor))
            }
            Frame::Map {
                start,
                anchor,
                entries_from,
                merges,
                pending,
                ..
            } => {
                let written: Vec<Entry> = self.entries.drain(entries_from..).collect();
                // A well-formed event stream never ends a mapping with a key waiting for its value.
                debug_assert!(pending.is_none());
                let mut last_end = start.end;
                for e in &written {
                    let value_end = match e.value.origin.via().first() {
                        Some(alias) => Some(alias.span.end),
                        None => e.value.span().map(|s| s.end),
                    };
                    if let Some(end) = value_end.or(e.key_origin.span.map(|s| s.end)) {
                        last_end = last_end.max(end);
                    }
                }
                let entries = if merges.is_empty() {
                    written
                } else {
                    let explicit: HashSet<CompactString> =
                        written.iter().map(|e| e.key.clone()).collect();
                    let mut merged_seen: HashSet<CompactString> = HashSet::new();
                    let mut entries = Vec::with_capacity(written.len());
                    let mut written = written.into_iter();
                    let mut taken = 0;
                    for (before, maps) in merges {
                        entries.extend(written.by_ref().take(before - taken));
                        taken = before;
                        for m in maps {
                            if let Some(s) = m.origin.via().first() {
                                last_end = last_end.max(s.span.end);
                            } else if let Some(s) = m.span() {
                                last_end = last_end.max(s.end);
                            }
                            let Value::Map(src_entries) = m.value else {
                                continue;
                            };
                            for mut e in src_entries {
                                if explicit.contains(&e.key) || !merged_seen.insert(e.key.clone()) {
                                    continue;
                                }
                                e.key_origin.set_merged(true);
                                e.value.origin.set_merged(true);
                                entries.push(e);
                            }
                        }
                    }
                    entries.extend(written);
                    entries
                };
                let end = if flow { end_event.end } else { last_end };
                let node = Node {
                    value: Value::Map(entries),
                    origin: {
                        let mut origin = Origin::at(Span {
                            start: start.start,
                            end,
                        });
                        if let Some((_, a)) = &anchor {
                            origin.set_anchor(Some(a.clone()));
                        }
                        origin
                    },
                };
                Ok((node, anchor))
            }
        }
    }

    /// Adds a finished node to the enclosing collection (or makes it the root).
    fn add(&mut self, node: Node, plain_scalar: bool, at: Pos) -> Result<(), ParseError> {
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match top {
            Frame::Seq { .. } => self.items.push(node),
            Frame::Map {
                entries_from,
                merges,
                pending,
                merge_seen,
                ..
            } => match pending.take() {
                None => {
                    // Keys are short: a `CompactString` holds them inline (no allocation of its own).
                    let key: Option<CompactString> = match &node.value {
                        Value::String(s) => Some(s.as_str().into()),
                        Value::Null => Some(CompactString::default()),
                        _ => node.scalar_text().map(CompactString::from),
                    };
                    let Some(key) = key else {
                        return Err(ParseError::at(
                            node.span().map_or(at, |s| s.start),
                            ParseErrorKind::ComplexKey { found: node.kind() },
                        ));
                    };
                    if !node.origin.via().is_empty() && node.as_str().is_none() {
                        return Err(ParseError::at(
                            at,
                            ParseErrorKind::ComplexKey { found: "an alias" },
                        ));
                    }
                    let is_merge = plain_scalar && key == "<<";
                    let here = node.span().unwrap_or(Span { start: at, end: at });
                    // Mappings are small: a linear scan beats hashing every key.
                    let earlier = if is_merge {
                        merge_seen.map(|span| (span, None))
                    } else {
                        self.entries[*entries_from..]
                            .iter()
                            .position(|e| e.key == key)
                            .map(|i| {
                                let e = &self.entries[*entries_from + i];
                                (e.key_origin.span.unwrap_or(here), Some(*entries_from + i))
                            })
                    };
                    let mut repeats = None;
                    if let Some((previous, index)) = earlier {
                        if self.options.duplicate_keys == DuplicateKeys::Refuse {
                            return Err(ParseError::at(
                                here.start,
                                ParseErrorKind::DuplicateKey {
                                    key: key.to_string(),
                                    first_line: previous.start.line,
                                },
                            ));
                        }
                        self.duplicates.push(DuplicateKey {
                            key: key.to_string(),
                            previous,
                            repeat: here,
                        });
                        repeats = index;
                    }
                    if is_merge {
                        *merge_seen = Some(here);
                    }
                    *pending = Some((key, node.origin, is_merge, repeats));
                }
                Some((key, key_origin, is_merge, repeats)) => {
                    if is_merge {
                        let maps = match node.value {
                            Value::Map(_) => vec![node],
                            Value::Seq(items) => {
                                if let Some(bad) = items.iter().find(|n| n.as_map().is_none()) {
                                    return Err(ParseError::at(
                                        bad.span().map_or(at, |s| s.start),
                                        ParseErrorKind::BadMerge { found: bad.kind() },
                                    ));
                                }
                                items
                            }
                            _ => {
                                return Err(ParseError::at(
                                    node.span().map_or(at, |s| s.start),
                                    ParseErrorKind::BadMerge { found: node.kind() },
                                ));
                            }
                        };
                        merges.push((self.entries.len() - *entries_from, maps));
                    } else if let Some(i) = repeats {
                        // The last value wins, at the first key's place (a dict's order in PyYAML).
                        let entry = &mut self.entries[i];
                        entry.key_origin = key_origin;
                        entry.value = node;
                    } else {
                        self.entries.push(Entry {
                            key,
                            key_origin,
                            value: node,
                        });
                    }
                }
            },
        }
        Ok(())
    }
}
