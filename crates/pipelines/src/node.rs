//! The raw document tree: every YAML node with its value, its source span and how it got there
//! (anchor, alias uses, merge keys). The typed model is derived from this tree, and edits go here.

use crate::route::{Route, Segment};
use crate::span::Span;

/// Where a node came from.
///
/// Only the span is inline: alias uses, the anchor, the merge flag and the tag are rare, so they live in one
/// boxed part that most nodes do not have (a node is 96 bytes instead of 144, and trees are built, cloned and
/// freed for every file). Read them with [`Origin::via`], [`Origin::anchor`], [`Origin::merged`] and
/// [`Origin::tag`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// Where the node's text is written: for a node copied through an alias, that is inside the
    /// anchor definition. `None` for nodes built from JSON or inserted by an edit.
    pub span: Option<Span>,
    /// `None` when every rare part is empty (never `Some` of the default: equality relies on it).
    rare: Option<Box<Rare>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Rare {
    via: Vec<AliasUse>,
    anchor: Option<Anchor>,
    merged: bool,
    tag: Option<Box<str>>,
}

impl Origin {
    /// A node written at `span`.
    pub fn at(span: Span) -> Self {
        Origin {
            span: Some(span),
            rare: None,
        }
    }

    /// The alias uses (`*name`) through which this node was copied here, outermost first.
    /// Empty when the node is written at its own place.
    pub fn via(&self) -> &[AliasUse] {
        self.rare.as_deref().map_or(&[], |r| &r.via)
    }

    /// The anchor (`&name`) defined on this very node, if any.
    pub fn anchor(&self) -> Option<&Anchor> {
        self.rare.as_deref().and_then(|r| r.anchor.as_ref())
    }

    /// True when the entry reached its mapping through a merge key (`<<`).
    pub fn merged(&self) -> bool {
        self.rare.as_deref().is_some_and(|r| r.merged)
    }

    /// The node's local tag as written, without the `!` (`Sub` for CloudFormation's `!Sub`).
    /// Pipeline files never need one; `keyless audit` reads CloudFormation templates with it.
    pub fn tag(&self) -> Option<&str> {
        self.rare.as_deref().and_then(|r| r.tag.as_deref())
    }

    pub fn set_anchor(&mut self, anchor: Option<Anchor>) {
        self.update(|r| r.anchor = anchor);
    }

    pub fn set_merged(&mut self, merged: bool) {
        self.update(|r| r.merged = merged);
    }

    pub fn set_tag(&mut self, tag: Option<Box<str>>) {
        self.update(|r| r.tag = tag);
    }

    /// Records that the node was copied through one more alias use, outside those already recorded.
    pub fn push_outer_alias_use(&mut self, use_site: AliasUse) {
        self.update(|r| r.via.insert(0, use_site));
    }

    fn update(&mut self, f: impl FnOnce(&mut Rare)) {
        match &mut self.rare {
            Some(rare) => {
                f(rare);
                if **rare == Rare::default() {
                    self.rare = None;
                }
            }
            // Built on the stack, boxed only when something is set.
            None => {
                let mut rare = Rare::default();
                f(&mut rare);
                if rare != Rare::default() {
                    self.rare = Some(Box::new(rare));
                }
            }
        }
    }
}

/// One use of an alias, `*name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasUse {
    pub name: String,
    pub span: Span,
}

/// An anchor definition, `&name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub name: String,
    pub span: Span,
}

/// A YAML value. Scalars are resolved with the YAML 1.2 core schema (see `docs/pipelines-model.md`).
/// Equality treats two NaN floats as equal, so a tree always equals its own round trip.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Seq(a), Value::Seq(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            _ => false,
        }
    }
}

/// One node of the tree.
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub origin: Origin,
}

/// Nodes compare by value only; where they were written does not matter.
impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

/// One mapping entry. Keys are always strings (scalar keys are kept as written).
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: compact_str::CompactString,
    pub key_origin: Origin,
    pub value: Node,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.value == other.value
    }
}

impl From<Value> for Node {
    fn from(value: Value) -> Self {
        Node::new(value)
    }
}

impl Node {
    /// A node with no source location (built by code, not parsed).
    pub fn new(value: Value) -> Self {
        Node {
            value,
            origin: Origin::default(),
        }
    }

    pub fn string(s: impl Into<String>) -> Self {
        Node::new(Value::String(s.into()))
    }

    pub fn bool(b: bool) -> Self {
        Node::new(Value::Bool(b))
    }

    pub fn int(i: i64) -> Self {
        Node::new(Value::Int(i))
    }

    pub fn seq(items: impl IntoIterator<Item = Node>) -> Self {
        Node::new(Value::Seq(items.into_iter().collect()))
    }

    /// A mapping from `(key, value)` pairs, in order.
    pub fn map<K: Into<compact_str::CompactString>>(
        entries: impl IntoIterator<Item = (K, Node)>,
    ) -> Self {
        Node::new(Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| Entry {
                    key: k.into(),
                    key_origin: Origin::default(),
                    value: v,
                })
                .collect(),
        ))
    }

    /// The span where this node is written, if it was parsed from YAML.
    pub fn span(&self) -> Option<Span> {
        self.origin.span
    }

    /// A short name of the node's type, for messages: `a mapping`, `a string`, ...
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self.value {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.value {
            Value::Seq(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Vec<Entry>> {
        match &mut self.value {
            Value::Map(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The text of a scalar as a string (`2x`, `120`, `true`), or `None` for null and collections.
    /// Lenient on purpose: `name: 123` names a step "123".
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(crate::render::float_text(*f)),
            _ => None,
        }
    }

    /// The value of key `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// The entry of key `key` in a mapping (with the key's own origin).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key == key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.as_map_mut()?
            .iter_mut()
            .find(|e| e.key == key)
            .map(|e| &mut e.value)
    }

    /// The node at `route` below this node.
    pub fn at(&self, route: &Route) -> Option<&Node> {
        let mut cur = self;
        for seg in route.segments() {
            cur = match seg {
                Segment::Key(k) => cur.get(k)?,
                Segment::Index(i) => cur.as_seq()?.get(*i)?,
            };
        }
        Some(cur)
    }

    /// The node at `route` below this node, mutably.
    pub fn at_mut(&mut self, route: &Route) -> Option<&mut Node> {
        let mut cur = self;
        for seg in route.segments() {
            cur = match seg {
                Segment::Key(k) => cur.get_mut(k)?,
                Segment::Index(i) => cur.as_seq_mut()?.get_mut(*i)?,
            };
        }
        Some(cur)
    }

    /// Sets `key` in a mapping: replaces the value in place when the key exists (keeping the
    /// key's position), appends it otherwise. Returns false when this node is not a mapping.
    pub fn set(&mut self, key: &str, value: Node) -> bool {
        let Some(entries) = self.as_map_mut() else {
            return false;
        };
        if let Some(e) = entries.iter_mut().find(|e| e.key == key) {
            e.value = value;
        } else {
            entries.push(Entry {
                key: key.into(),
                key_origin: Origin::default(),
                value,
            });
        }
        true
    }

    /// Removes `key` from a mapping and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let entries = self.as_map_mut()?;
        let i = entries.iter().position(|e| e.key == key)?;
        Some(entries.remove(i).value)
    }

    /// The tree as JSON (the Dynamic Pipelines form). Keys keep their order.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(crate::render::float_text(*f))),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.to_string(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// A tree from JSON. Nodes carry no spans. Fails past `max_depth` levels of nesting.
    pub fn from_json(value: &serde_json::Value, max_depth: usize) -> Result<Node, usize> {
        use serde_json::Value as J;
        if max_depth == 0 {
            return Err(0);
        }
        let v = match value {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::String(s.clone()),
            J::Array(items) => Value::Seq(
                items
                    .iter()
                    .map(|i| Node::from_json(i, max_depth - 1))
                    .collect::<Result<_, _>>()?,
            ),
            J::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| {
                        Ok(Entry {
                            key: k.as_str().into(),
                            key_origin: Origin::default(),
                            value: Node::from_json(v, max_depth - 1)?,
                        })
                    })
                    .collect::<Result<_, usize>>()?,
            ),
        };
        Ok(Node::new(v))
    }

    /// Visits every node with its route, parents before children, in document order.
    pub fn walk<'a>(&'a self, route: &Route, f: &mut dyn FnMut(&Route, &'a Node)) {
        f(route, self);
        match &self.value {
            Value::Seq(items) => {
                for (i, n) in items.iter().enumerate() {
                    n.walk(&route.index(i), f);
                }
            }
            Value::Map(entries) => {
                for e in entries {
                    e.value.walk(&route.key(e.key.as_str()), f);
                }
            }
            _ => {}
        }
    }

    /// Forgets every source location below and including this node (for nodes moved by edits).
    pub fn clear_origins(&mut self) {
        self.origin = Origin::default();
        match &mut self.value {
            Value::Seq(items) => items.iter_mut().for_each(Node::clear_origins),
            Value::Map(entries) => {
                for e in entries {
                    e.key_origin = Origin::default();
                    e.value.clear_origins();
                }
            }
            _ => {}
        }
    }
}
