//! Reading JSON straight into a [`Node`] tree, without a `serde_json::Value` in between.
//!
//! [`NodeSeed`] is a serde [`DeserializeSeed`]: [`crate::payload::RawRequest`] hands it the
//! `pipelines_configuration` field of a Dynamic Pipelines request and gets the tree that `serde_json::Value`
//! followed by [`Node::from_json`] would build, for every input: strings and keys are moved into the tree as the
//! parser reads them instead of being copied out of a `Value`, and no `Map` (an `IndexMap` hashing every key) is
//! built per object. (It lives here rather than in `keyless-pipelines`, which does not depend on serde.)
//!
//! Same as `serde_json::Value` followed by [`Node::from_json`]:
//! - numbers: an integer that fits `i64` is [`Value::Int`], anything else (a fraction, an exponent, an integer
//!   beyond `i64`) is [`Value::Float`];
//! - a key written twice in one object keeps its first position and its last value (`serde_json`'s
//!   `preserve_order` map);
//! - nesting: a tree deeper than `max_depth` levels (scalars count as a level, as in [`Node::from_json`]) is an
//!   error with [`ParseErrorKind::TooDeep`]'s message. `serde_json`'s own limit (128 nested arrays and objects
//!   per document) applies first to whatever `serde_json` deserializer the seed is given, as it does to `Value`.

use std::collections::HashMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

use keyless_pipelines::{CompactString, Entry, Node, Origin, ParseErrorKind, Value};

/// Objects with more keys than this find duplicate keys through a hash map instead of a linear scan (so a
/// hostile object with many keys costs linear time, and the usual small one allocates nothing more).
const LINEAR_KEY_SCAN: usize = 16;

/// Deserializes any JSON value into a [`Node`] (no spans), nested at most `max_depth` levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSeed {
    /// The limit, for the message.
    limit: usize,
    /// Levels still allowed at this node, itself included; 0 refuses the node.
    remaining: usize,
}

impl NodeSeed {
    /// At most `max_depth` levels, as [`Node::from_json`]`(value, max_depth)`.
    pub fn new(max_depth: usize) -> NodeSeed {
        NodeSeed {
            limit: max_depth,
            remaining: max_depth,
        }
    }

    fn child(self) -> NodeSeed {
        NodeSeed {
            limit: self.limit,
            remaining: self.remaining - 1,
        }
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        if self.remaining == 0 {
            return Err(D::Error::custom(ParseErrorKind::TooDeep {
                limit: self.limit,
            }));
        }
        deserializer.deserialize_any(NodeVisitor { seed: self })
    }
}

struct NodeVisitor {
    seed: NodeSeed,
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Node, E> {
        Ok(Node::new(Value::Null))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Node, E> {
        Ok(Node::new(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        self.seed.deserialize(deserializer)
    }

    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Node, E> {
        Ok(Node::new(Value::Bool(b)))
    }

    fn visit_i64<E: serde::de::Error>(self, i: i64) -> Result<Node, E> {
        Ok(Node::new(Value::Int(i)))
    }

    fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Node, E> {
        // As serde_json's Number::as_i64, then as_f64.
        Ok(Node::new(match i64::try_from(u) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(u as f64),
        }))
    }

    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<Node, E> {
        // serde_json's Value turns a float it cannot hold (never produced by JSON text) into null.
        Ok(Node::new(if f.is_finite() {
            Value::Float(f)
        } else {
            Value::Null
        }))
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Node, E> {
        Ok(Node::new(Value::String(s.to_string())))
    }

    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Node, E> {
        Ok(Node::new(Value::String(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let child = self.seed.child();
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(child)? {
            items.push(item);
        }
        Ok(Node::new(Value::Seq(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let child = self.seed.child();
        let mut entries: Vec<Entry> = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        // Key -> index in `entries`, once the object outgrows a linear scan.
        let mut index: Option<HashMap<CompactString, usize>> = None;
        while let Some(key) = map.next_key::<CompactString>()? {
            let value = map.next_value_seed(child)?;
            let existing = match &mut index {
                Some(index) => index.get(&key).copied(),
                None => entries.iter().position(|e| e.key == key),
            };
            if let Some(i) = existing {
                // A repeated key: first position, last value (serde_json's preserve_order Map::insert).
                entries[i].value = value;
                continue;
            }
            if let Some(index) = &mut index {
                index.insert(key.clone(), entries.len());
            } else if entries.len() == LINEAR_KEY_SCAN {
                let mut built: HashMap<CompactString, usize> = entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.key.clone(), i))
                    .collect();
                built.insert(key.clone(), entries.len());
                index = Some(built);
            }
            entries.push(Entry {
                key,
                key_origin: Origin::default(),
                value,
            });
        }
        Ok(Node::new(Value::Map(entries)))
    }
}
