//! The located tree as a JSON instance for `jsonschema`, read in place.
//!
//! `jsonschema` validates any representation that implements its `json` traits (its documented "custom
//! representation" API). Validating the tree itself, rather than a `serde_json::Value` copy of it, saves building and
//! dropping that copy: every key and string allocated again, and every mapping hashed into an `IndexMap`. That
//! copy was a third of validation's time and about 6% of `keyless audit`'s.
//!
//! The view must read exactly as [`Node::to_json`] would: the same types, strings and numbers. A non-finite float
//! (`.nan`, `.inf`) has no JSON number, so both give it as the string YAML writes (`render::float_text`).
//! `tests::matches_to_json` holds the two together.

use std::borrow::Cow;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, JsonNumber, Node as JsonNode, NodeIdentity, Object};

use crate::node::{Entry, Node, Value};

/// The tree's representation for `jsonschema` (`Validator<TreeJson>` validates `&Node`).
pub(crate) struct TreeJson;

impl Json for TreeJson {
    type Node<'a> = &'a Node;
    type PreparedKey = String;
    type StringBuffer = Option<Node>;

    // Lookups are linear scans of a mapping's entries, so a pass over the members is never worse: any large bound
    // says so. Not `usize::MAX`: jsonschema multiplies it by a count of names.
    const KEYS_PER_LOOKUP: usize = 1 << 16;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(
        buffer: &mut Option<Node>,
        string: &str,
        f: impl FnOnce(&Node) -> T,
    ) -> T {
        // Reuses the buffer's allocation across calls (`propertyNames` validates every key this way).
        let node = buffer.get_or_insert_with(|| Node::new(Value::String(String::new())));
        if let Value::String(existing) = &mut node.value {
            existing.clear();
            existing.push_str(string);
        } else {
            node.value = Value::String(string.to_owned());
        }
        f(node)
    }
}

/// A number of the tree: YAML's integers are `i64`, its floats `f64` (finite here; see the module docs).
#[derive(Clone, Copy)]
pub(crate) enum Number {
    Int(i64),
    Float(f64),
}

impl JsonNumber for Number {
    fn as_u64(&self) -> Option<u64> {
        match *self {
            Number::Int(i) => u64::try_from(i).ok(),
            Number::Float(_) => None,
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match *self {
            Number::Int(i) => Some(i),
            Number::Float(_) => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match *self {
            #[allow(clippy::cast_precision_loss)] // as serde_json's `Number::as_f64` does
            Number::Int(i) => Some(i as f64),
            Number::Float(f) => Some(f),
        }
    }

    fn as_str(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_number().to_string())
    }

    fn to_number(&self) -> Cow<'_, serde_json::Number> {
        Cow::Owned(match *self {
            Number::Int(i) => serde_json::Number::from(i),
            // Finite by construction (`as_number` gives no number for a non-finite float).
            Number::Float(f) => serde_json::Number::from_f64(f).unwrap_or_else(|| 0.into()),
        })
    }

    fn is_written_as_integer(&self) -> bool {
        matches!(self, Number::Int(_))
    }
}

impl<'a> JsonNode<'a, TreeJson> for &'a Node {
    type Object = Members<'a>;
    type Array = Items<'a>;
    type Number = Number;

    fn as_object(&self) -> Option<Members<'a>> {
        match &self.value {
            Value::Map(entries) => Some(Members(entries)),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<Items<'a>> {
        match &self.value {
            Value::Seq(items) => Some(Items(items)),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match &self.value {
            Value::String(s) => Some(Cow::Borrowed(s)),
            Value::Float(f) if !f.is_finite() => Some(Cow::Owned(crate::render::float_text(*f))),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<Number> {
        match self.value {
            Value::Int(i) => Some(Number::Int(i)),
            Value::Float(f) if f.is_finite() => Some(Number::Float(f)),
            _ => None,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    fn json_type(&self) -> JsonType {
        match &self.value {
            Value::Null => JsonType::Null,
            Value::Bool(_) => JsonType::Boolean,
            Value::Int(_) => JsonType::Number,
            Value::Float(f) if f.is_finite() => JsonType::Number,
            Value::Float(_) | Value::String(_) => JsonType::String,
            Value::Seq(_) => JsonType::Array,
            Value::Map(_) => JsonType::Object,
        }
    }

    fn to_value(&self) -> Cow<'a, serde_json::Value> {
        Cow::Owned(self.to_json())
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(std::ptr::from_ref::<Node>(*self) as usize))
    }
}

/// A mapping's entries. Keys are unique: the parser rejects duplicates and resolves merge keys.
#[derive(Clone, Copy)]
pub(crate) struct Members<'a>(&'a [Entry]);

impl<'a> Object<'a, TreeJson> for Members<'a> {
    type Node = &'a Node;
    type MemberName = &'a str;
    type MembersIter =
        std::iter::Map<std::slice::Iter<'a, Entry>, fn(&'a Entry) -> (&'a str, &'a Node)>;

    fn len(&self) -> usize {
        self.0.len()
    }

    fn get(&self, key: &String) -> Option<&'a Node> {
        self.0
            .iter()
            .find(|e| e.key == key.as_str())
            .map(|e| &e.value)
    }

    fn members(&self) -> Self::MembersIter {
        self.0.iter().map(|e| (e.key.as_str(), &e.value))
    }
}

/// A sequence's items.
#[derive(Clone, Copy)]
pub(crate) struct Items<'a>(&'a [Node]);

impl<'a> Array<'a, TreeJson> for Items<'a> {
    type Node = &'a Node;
    type ElementsIter = std::slice::Iter<'a, Node>;

    fn len(&self) -> usize {
        self.0.len()
    }

    fn elements(&self) -> std::slice::Iter<'a, Node> {
        self.0.iter()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every accessor of the view agrees with the `serde_json::Value` that `to_json` builds, node by node.
    fn same(node: &Node, json: &serde_json::Value) {
        use jsonschema::json::Node as _;
        let j: &serde_json::Value = json;
        assert_eq!(node.json_type(), j.json_type(), "{node:?}");
        assert_eq!(node.as_string().as_deref(), j.as_string().as_deref());
        assert_eq!(node.as_boolean(), j.as_boolean());
        assert_eq!(node.is_null(), j.is_null());
        match (node.as_number(), j.as_number()) {
            (Some(a), Some(b)) => {
                assert_eq!(a.as_u64(), b.as_u64());
                assert_eq!(a.as_i64(), b.as_i64());
                assert_eq!(a.as_f64(), b.as_f64());
                assert_eq!(a.to_number().as_ref(), b);
                assert_eq!(a.is_integer(), b.is_integer());
                assert_eq!(a.is_written_as_integer(), b.is_written_as_integer());
            }
            (None, None) => {}
            (a, b) => panic!(
                "number {:?} vs {:?}",
                a.map(|n| n.to_number().into_owned()),
                b
            ),
        }
        if let (Some(m), Some(o)) = (node.as_object(), j.as_object()) {
            assert_eq!(Object::len(&m), o.len());
            for ((k, v), (jk, jv)) in m.members().zip(o.iter()) {
                assert_eq!(k, jk);
                same(v, jv);
                assert!(std::ptr::eq(m.get(&TreeJson::prepare_key(k)).unwrap(), v));
            }
            assert!(m.get(&TreeJson::prepare_key("no such key")).is_none());
        } else {
            assert!(node.as_object().is_none() && j.as_object().is_none());
        }
        if let (Some(a), Some(b)) = (node.as_array(), j.as_array()) {
            assert_eq!(Array::len(&a), b.len());
            for (x, y) in a.elements().zip(b) {
                same(x, y);
            }
        } else {
            assert!(node.as_array().is_none() && j.as_array().is_none());
        }
        assert_eq!(node.to_value().as_ref(), j);
    }

    #[test]
    fn matches_to_json() {
        let text = "\
a: 1
b: -7
c: 1.5
d: 1.0
e: .nan
f: -.inf
g: 9223372036854775807
h: true
i: ~
j: 'text'
k: [1, 'two', [3], {x: y}]
l:
  <<: {m: 1}
  n: 2
o: 1e3
";
        let root = crate::parse_document(text).unwrap();
        same(&root, &root.to_json());
    }

    #[test]
    fn string_buffer_is_reused() {
        use jsonschema::json::Node as _;
        let mut buffer = Some(Node::new(Value::Int(1)));
        let len = TreeJson::with_string_node(&mut buffer, "héllo", |n| n.string_length());
        assert_eq!(len, Some(5));
        let s =
            TreeJson::with_string_node(&mut buffer, "x", |n| n.as_string().map(Cow::into_owned));
        assert_eq!(s.as_deref(), Some("x"));
    }
}
