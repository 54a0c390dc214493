//! A policy document as it will reach IAM: every CloudFormation intrinsic or Terraform expression resolved to
//! the value it will have, or marked unknown (with what it depends on), and every value carrying the place in the
//! user's file it came from ([`At`]), so findings point at what the user wrote.

use crate::finding::Focus;
use crate::source::Route;

/// Where a resolved value is written: a route into the file's tree and what to highlight there (the node, its
/// key, a piece of its text, or a line and column for files without a tree, such as Terraform).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub route: Route,
    pub focus: Focus,
    /// The input the place is in, when it is not the input being read (a Terraform module spans files).
    pub input: Option<usize>,
}

impl At {
    pub fn node(route: Route) -> Self {
        At {
            route,
            focus: Focus::Node,
            input: None,
        }
    }

    pub fn key(route: Route) -> Self {
        At {
            route,
            focus: Focus::Key,
            input: None,
        }
    }

    pub fn text(route: Route, text: impl Into<String>) -> Self {
        At {
            route,
            focus: Focus::Text(text.into()),
            input: None,
        }
    }

    /// A 1-based line and column (files without a tree).
    pub fn position(line: usize, column: usize) -> Self {
        At {
            route: Route::root(),
            focus: Focus::Position(line.max(1), column.max(1)),
            input: None,
        }
    }

    /// A byte range of one input's text (Terraform files, read without a tree).
    pub fn span(input: usize, start: usize, end: usize) -> Self {
        At {
            route: Route::root(),
            focus: Focus::Bytes(start, end),
            input: Some(input),
        }
    }
}

/// A value that cannot be known before deployment, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// What it depends on, as the user wrote it: `Fn::ImportValue BitbucketProviderArn`, `parameter
    /// ProviderArn (no Default)`, `module.oidc.arn`.
    pub depends_on: String,
}

/// A resolved string. `holes` is true when parts of it are only known at deployment (`${AWS::AccountId}`, a
/// parameter without a default); those parts read `${Name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub text: String,
    pub holes: bool,
}

/// One resolved value.
#[derive(Debug, Clone, PartialEq)]
pub enum RValue {
    Null,
    Bool(bool),
    /// The number's text.
    Number(String),
    String(Text),
    Seq(Vec<RNode>),
    Map(Vec<REntry>),
    Unknown(Unknown),
}

/// A resolved value and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct RNode {
    pub value: RValue,
    pub at: At,
}

/// One mapping entry; keys are strings (they may have holes when built with `Fn::Sub` in a JSON string).
#[derive(Debug, Clone, PartialEq)]
pub struct REntry {
    pub key: String,
    pub key_holes: bool,
    pub key_at: At,
    pub value: RNode,
}

/// Placeholder the JSON form uses for an unknown value (IAM's validation then sees a string).
pub const UNKNOWN_TEXT: &str = "${keyless:unknown}";

impl RNode {
    pub fn new(value: RValue, at: At) -> Self {
        RNode { value, at }
    }

    pub fn string(text: impl Into<String>, holes: bool, at: At) -> Self {
        RNode::new(
            RValue::String(Text {
                text: text.into(),
                holes,
            }),
            at,
        )
    }

    pub fn unknown(depends_on: impl Into<String>, at: At) -> Self {
        RNode::new(
            RValue::Unknown(Unknown {
                depends_on: depends_on.into(),
            }),
            at,
        )
    }

    /// The string, if this is one (with or without holes).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            RValue::String(t) => Some(&t.text),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&Text> {
        match &self.value {
            RValue::String(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[REntry]> {
        match &self.value {
            RValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[RNode]> {
        match &self.value {
            RValue::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn unknown_ref(&self) -> Option<&Unknown> {
        match &self.value {
            RValue::Unknown(u) => Some(u),
            _ => None,
        }
    }

    /// The last entry with this key (IAM, like JSON parsers, keeps the last of duplicates).
    pub fn entry(&self, key: &str) -> Option<&REntry> {
        self.as_map()?.iter().rev().find(|e| e.key == key)
    }

    pub fn get(&self, key: &str) -> Option<&RNode> {
        self.entry(key).map(|e| &e.value)
    }

    /// A single value or every value of a sequence.
    pub fn items(&self) -> Vec<&RNode> {
        match &self.value {
            RValue::Seq(items) => items.iter().collect(),
            _ => vec![self],
        }
    }

    /// Every unknown value in the tree, with where it is.
    pub fn unknowns(&self) -> Vec<(&Unknown, &At)> {
        let mut out = Vec::new();
        self.walk(&mut |n| {
            if let RValue::Unknown(u) = &n.value {
                out.push((u, &n.at));
            }
        });
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a RNode)) {
        f(self);
        match &self.value {
            RValue::Seq(items) => items.iter().for_each(|i| i.walk(f)),
            RValue::Map(entries) => entries.iter().for_each(|e| e.value.walk(f)),
            _ => {}
        }
    }

    /// The JSON IAM will receive, as text (unknown values become [`UNKNOWN_TEXT`]). Duplicate keys are kept, so
    /// IAM's validation sees them.
    pub fn to_json_text(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        let quote = |s: &str, out: &mut String| {
            out.push_str(&serde_json::Value::String(s.to_owned()).to_string());
        };
        match &self.value {
            RValue::Null => out.push_str("null"),
            RValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            RValue::Number(n) => out.push_str(n),
            RValue::String(t) => quote(&t.text, out),
            RValue::Unknown(_) => quote(UNKNOWN_TEXT, out),
            RValue::Seq(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            RValue::Map(entries) => {
                out.push('{');
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    quote(&e.key, out);
                    out.push(':');
                    e.value.write_json(out);
                }
                out.push('}');
            }
        }
    }

    /// The node a JSON pointer (`/Statement/0/Condition/StringLike/key`) names, and whether the pointer's last
    /// token named a key (then the place is the key's). Duplicate keys resolve to the last, as in IAM.
    pub fn at_pointer(&self, pointer: &str) -> Option<(&RNode, Option<&At>)> {
        let mut node = self;
        let mut key_at = None;
        if pointer.is_empty() {
            return Some((node, None));
        }
        for raw in pointer.strip_prefix('/')?.split('/') {
            let token = raw.replace("~1", "/").replace("~0", "~");
            match &node.value {
                RValue::Map(entries) => {
                    let entry = entries.iter().rev().find(|e| e.key == token)?;
                    key_at = Some(&entry.key_at);
                    node = &entry.value;
                }
                RValue::Seq(items) => {
                    node = items.get(token.parse::<usize>().ok()?)?;
                    key_at = None;
                }
                // A single value where IAM accepts an array: pointer `/.../0` names the value itself.
                _ if token == "0" => key_at = None,
                _ => return None,
            }
        }
        Some((node, key_at))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at() -> At {
        At::node(Route::root())
    }

    #[test]
    fn json_text_and_pointers() {
        let doc = RNode::new(
            RValue::Map(vec![
                REntry {
                    key: "a/b".into(),
                    key_holes: false,
                    key_at: At::key(Route::root().key("a/b")),
                    value: RNode::new(
                        RValue::Seq(vec![
                            RNode::string("x\"y", false, at()),
                            RNode::unknown("Fn::ImportValue P", at()),
                        ]),
                        at(),
                    ),
                },
                REntry {
                    key: "n".into(),
                    key_holes: false,
                    key_at: at(),
                    value: RNode::new(RValue::Number("1.50".into()), at()),
                },
            ]),
            at(),
        );
        assert_eq!(
            doc.to_json_text(),
            r#"{"a/b":["x\"y","${keyless:unknown}"],"n":1.50}"#
        );
        let (node, key) = doc.at_pointer("/a~1b/1").unwrap();
        assert!(node.unknown_ref().is_some());
        assert!(key.is_none());
        let (_, key) = doc.at_pointer("/a~1b").unwrap();
        assert_eq!(key.unwrap().focus, Focus::Key);
        assert_eq!(doc.unknowns().len(), 1);
        assert!(doc.at_pointer("/missing").is_none());
    }
}
