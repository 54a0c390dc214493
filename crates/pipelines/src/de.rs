//! A serde deserializer over the located tree (cargo-deny's `toml-span` pattern): any `Deserialize` type reads a
//! [`Node`] parsed by this crate, so one parser decides what YAML is for every file keyless reads, and every error
//! is typed and carries the span of the node it is about.
//!
//! Scalars are read as their target asks: a plain scalar the tree resolved to a number or a boolean still reads into
//! a `String` as written (`account: 012345678901` is the text, not the number), which is what a type-driven YAML
//! deserializer does. A struct named [`SPANNED`] with the fields [`SPANNED_FIELDS`] receives the node's span next to
//! its value (see [`Spanned`]).

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use crate::node::{Entry, Node, Value};
use crate::span::Span;

/// The struct name [`Spanned`] asks for; the deserializer answers with the node's span and value.
pub const SPANNED: &str = "$__keyless_pipelines_spanned";
/// The fields of [`SPANNED`], in the order the deserializer hands them out.
pub const SPANNED_FIELDS: &[&str] = &["$__span_start", "$__span_end", "$__value"];

/// What went wrong, typed so callers turn it into their own diagnostics without reading message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeErrorKind {
    /// A mapping key the target type does not know, with the keys it knows.
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    /// A required key is missing from a mapping.
    MissingField { field: &'static str },
    /// A key given twice (by the target type's own check).
    DuplicateField { field: &'static str },
    /// A value of another type (`found` names what was written, `expected` what the type wanted).
    InvalidType { found: String, expected: String },
    /// A value of the right type that the target refuses.
    InvalidValue { found: String, expected: String },
    /// A sequence of the wrong length.
    InvalidLength { length: usize, expected: String },
    /// A name that is none of an enum's variants.
    UnknownVariant {
        variant: String,
        expected: &'static [&'static str],
    },
    /// Anything else a `Deserialize` implementation reports.
    Custom(String),
}

/// A deserialization error: what, and the span of the node it is about (`None` for nodes built in code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError {
    pub kind: DeErrorKind,
    pub span: Option<Span>,
}

impl DeError {
    fn new(kind: DeErrorKind) -> Self {
        DeError { kind, span: None }
    }

    /// Attaches `span` unless a more precise one (a node inside) is already there.
    fn at(mut self, span: Option<Span>) -> Self {
        if self.span.is_none() {
            self.span = span;
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DeErrorKind::UnknownField { field, expected } => {
                write!(
                    f,
                    "unknown field `{field}`, expected one of {}",
                    list(expected)
                )
            }
            DeErrorKind::MissingField { field } => write!(f, "missing field `{field}`"),
            DeErrorKind::DuplicateField { field } => write!(f, "duplicate field `{field}`"),
            DeErrorKind::InvalidType { found, expected } => {
                write!(f, "invalid type: {found}, expected {expected}")
            }
            DeErrorKind::InvalidValue { found, expected } => {
                write!(f, "invalid value: {found}, expected {expected}")
            }
            DeErrorKind::InvalidLength { length, expected } => {
                write!(f, "invalid length {length}, expected {expected}")
            }
            DeErrorKind::UnknownVariant { variant, expected } => {
                write!(
                    f,
                    "unknown variant `{variant}`, expected one of {}",
                    list(expected)
                )
            }
            DeErrorKind::Custom(message) => f.write_str(message),
        }?;
        if let Some(span) = self.span {
            write!(
                f,
                " at line {}, column {}",
                span.start.line, span.start.column
            )?;
        }
        Ok(())
    }
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(DeErrorKind::Custom(msg.to_string()))
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(DeErrorKind::InvalidType {
            found: unexp.to_string(),
            expected: exp.to_string(),
        })
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(DeErrorKind::InvalidValue {
            found: unexp.to_string(),
            expected: exp.to_string(),
        })
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        DeError::new(DeErrorKind::InvalidLength {
            length: len,
            expected: exp.to_string(),
        })
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(DeErrorKind::UnknownVariant {
            variant: variant.to_owned(),
            expected,
        })
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(DeErrorKind::UnknownField {
            field: field.to_owned(),
            expected,
        })
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(DeErrorKind::MissingField { field })
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(DeErrorKind::DuplicateField { field })
    }
}

/// Deserializes `T` from `node`; `source` is the text the tree was parsed from (a plain scalar read as a string is
/// read as written there).
pub fn from_node<'de, T: de::Deserialize<'de>>(
    node: &'de Node,
    source: &'de str,
) -> Result<T, DeError> {
    T::deserialize(NodeDeserializer { node, source })
}

/// The deserializer for one node.
#[derive(Clone, Copy)]
pub struct NodeDeserializer<'de> {
    node: &'de Node,
    source: &'de str,
}

impl<'de> NodeDeserializer<'de> {
    pub fn new(node: &'de Node, source: &'de str) -> Self {
        NodeDeserializer { node, source }
    }

    fn span(&self) -> Option<Span> {
        self.node.origin.span
    }

    /// A scalar as written in the source (quotes removed by the parser for strings).
    fn scalar_text(&self) -> Option<std::borrow::Cow<'de, str>> {
        match &self.node.value {
            Value::String(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                match self
                    .span()
                    .and_then(|s| self.source.get(s.start.offset..s.end.offset))
                {
                    Some(text) => Some(std::borrow::Cow::Borrowed(text)),
                    None => Some(std::borrow::Cow::Owned(match &self.node.value {
                        Value::Null => String::new(),
                        Value::Bool(b) => b.to_string(),
                        Value::Int(i) => i.to_string(),
                        Value::Float(x) => x.to_string(),
                        _ => String::new(),
                    })),
                }
            }
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    fn unexpected(&self) -> de::Unexpected<'_> {
        match &self.node.value {
            Value::Null => de::Unexpected::Unit,
            Value::Bool(b) => de::Unexpected::Bool(*b),
            Value::Int(i) => de::Unexpected::Signed(*i),
            Value::Float(x) => de::Unexpected::Float(*x),
            Value::String(s) => de::Unexpected::Str(s),
            Value::Seq(_) => de::Unexpected::Seq,
            Value::Map(_) => de::Unexpected::Map,
        }
    }
}

/// Runs `f` and gives an error without a span the span of `node`.
fn located<T>(span: Option<Span>, f: impl FnOnce() -> Result<T, DeError>) -> Result<T, DeError> {
    f().map_err(|e| e.at(span))
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.span();
        let source = self.source;
        located(span, || match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(x) => visitor.visit_f64(*x),
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqAccess {
                items: items.iter(),
                source,
                len: items.len(),
                seen: 0,
            }),
            Value::Map(entries) => visitor.visit_map(MapAccess {
                entries: entries.iter(),
                source,
                value: None,
            }),
        })
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.span();
        located(span, || match self.scalar_text() {
            Some(std::borrow::Cow::Borrowed(s)) => visitor.visit_borrowed_str(s),
            Some(std::borrow::Cow::Owned(s)) => visitor.visit_string(s),
            None => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        })
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.span();
        located(span, || match self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == SPANNED && fields == SPANNED_FIELDS {
            return visitor.visit_map(SpannedAccess {
                node: self,
                next: 0,
            });
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let span = self.span();
        let source = self.source;
        located(span, || match &self.node.value {
            // `trigger: manual`: a unit variant by name.
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            // `{variant: value}`: a variant with content.
            Value::Map(entries) if entries.len() == 1 => visitor.visit_enum(EnumAccess {
                entry: &entries[0],
                source,
            }),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

struct SeqAccess<'de> {
    items: std::slice::Iter<'de, Node>,
    source: &'de str,
    len: usize,
    seen: usize,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => {
                self.seen += 1;
                seed.deserialize(NodeDeserializer {
                    node,
                    source: self.source,
                })
                .map(Some)
                .map_err(|e| e.at(node.origin.span))
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len - self.seen)
    }
}

struct MapAccess<'de> {
    entries: std::slice::Iter<'de, Entry>,
    source: &'de str,
    value: Option<&'de Node>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(&entry.value);
        seed.deserialize(KeyDeserializer {
            key: entry.key.as_str(),
            span: entry.key_origin.span,
        })
        .map(Some)
        .map_err(|e| e.at(entry.key_origin.span))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some(node) = self.value.take() else {
            return Err(de::Error::custom("a value was asked before its key"));
        };
        seed.deserialize(NodeDeserializer {
            node,
            source: self.source,
        })
        .map_err(|e| e.at(node.origin.span))
    }
}

/// A mapping key: always a string in the tree (scalar keys are kept as written); a `Spanned` key gets the key's
/// span.
struct KeyDeserializer<'de> {
    key: &'de str,
    span: Option<Span>,
}

impl<'de> de::Deserializer<'de> for KeyDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_borrowed_str(self.key)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == SPANNED && fields == SPANNED_FIELDS {
            return visitor.visit_map(SpannedKeyAccess { key: self, next: 0 });
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(self.key.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

/// Hands out a node's span (start and end byte offsets, then line and column through [`Span`]) and its value to
/// [`Spanned`].
struct SpannedAccess<'de> {
    node: NodeDeserializer<'de>,
    next: usize,
}

fn span_field<'de, K: DeserializeSeed<'de>>(
    next: usize,
    seed: K,
) -> Result<Option<K::Value>, DeError> {
    match SPANNED_FIELDS.get(next) {
        Some(name) => seed
            .deserialize(de::value::BorrowedStrDeserializer::new(name))
            .map(Some),
        None => Ok(None),
    }
}

/// A span as the `(offset, line, column)` triple [`Spanned`] reads back.
fn pos_triple(span: Option<Span>, start: bool) -> (u64, u64, u64) {
    span.map_or((0, 0, 0), |s| {
        let p = if start { s.start } else { s.end };
        (p.offset as u64, p.line as u64, p.column as u64)
    })
}

impl<'de> de::MapAccess<'de> for SpannedAccess<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        span_field(self.next, seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let i = self.next;
        self.next += 1;
        match i {
            0 | 1 => {
                seed.deserialize(pos_triple(self.node.span(), i == 0).into_deserializer_triple())
            }
            _ => seed.deserialize(self.node),
        }
    }
}

struct SpannedKeyAccess<'de> {
    key: KeyDeserializer<'de>,
    next: usize,
}

impl<'de> de::MapAccess<'de> for SpannedKeyAccess<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        span_field(self.next, seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let i = self.next;
        self.next += 1;
        match i {
            0 | 1 => seed.deserialize(pos_triple(self.key.span, i == 0).into_deserializer_triple()),
            _ => seed.deserialize(KeyDeserializer {
                key: self.key.key,
                span: self.key.span,
            }),
        }
    }
}

/// `(offset, line, column)` as a three-element sequence.
trait TripleDeserializer {
    fn into_deserializer_triple(
        self,
    ) -> de::value::SeqDeserializer<std::array::IntoIter<u64, 3>, DeError>;
}

impl TripleDeserializer for (u64, u64, u64) {
    fn into_deserializer_triple(
        self,
    ) -> de::value::SeqDeserializer<std::array::IntoIter<u64, 3>, DeError> {
        de::value::SeqDeserializer::new([self.0, self.1, self.2].into_iter())
    }
}

struct EnumAccess<'de> {
    entry: &'de Entry,
    source: &'de str,
}

impl<'de> de::EnumAccess<'de> for EnumAccess<'de> {
    type Error = DeError;
    type Variant = NodeDeserializer<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), DeError> {
        let variant = seed
            .deserialize(KeyDeserializer {
                key: self.entry.key.as_str(),
                span: self.entry.key_origin.span,
            })
            .map_err(|e| e.at(self.entry.key_origin.span))?;
        Ok((
            variant,
            NodeDeserializer {
                node: &self.entry.value,
                source: self.source,
            },
        ))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDeserializer<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.node.value {
            Value::Null => Ok(()),
            _ => Err(<DeError as de::Error>::invalid_type(
                self.unexpected(),
                &"a variant without a value",
            )
            .at(self.span())),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

/// A value with the span of the node it was read from (`None` when the deserializer is not this module's, or for
/// nodes built in code). Equality, ordering and hashing look at the value only.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Option<Span>,
}

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for Spanned<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpannedVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: de::Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
            type Value = Spanned<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value read by keyless_pipelines::de")
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut start: Option<(u64, u64, u64)> = None;
                let mut end: Option<(u64, u64, u64)> = None;
                let mut value: Option<T> = None;
                while let Some(key) = map.next_key::<&str>()? {
                    match key {
                        k if k == SPANNED_FIELDS[0] => start = Some(map.next_value()?),
                        k if k == SPANNED_FIELDS[1] => end = Some(map.next_value()?),
                        k if k == SPANNED_FIELDS[2] => value = Some(map.next_value()?),
                        other => return Err(de::Error::unknown_field(other, SPANNED_FIELDS)),
                    }
                }
                let value = value.ok_or_else(|| de::Error::missing_field(SPANNED_FIELDS[2]))?;
                let pos = |(offset, line, column): (u64, u64, u64)| crate::span::Pos {
                    offset: offset as usize,
                    line: line as usize,
                    column: column as usize,
                };
                let span = match (start, end) {
                    (Some(s), Some(e)) if s.1 > 0 => Some(Span {
                        start: pos(s),
                        end: pos(e),
                    }),
                    _ => None,
                };
                Ok(Spanned { value, span })
            }
        }

        deserializer.deserialize_struct(
            SPANNED,
            SPANNED_FIELDS,
            SpannedVisitor(std::marker::PhantomData),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::parse::{ParseOptions, parse_with};
    use std::collections::BTreeMap;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Config {
        name: Spanned<String>,
        account: String,
        #[serde(default)]
        tags: BTreeMap<String, Spanned<String>>,
        #[serde(default)]
        trigger: Option<Trigger>,
        #[serde(default)]
        list: Vec<u32>,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Trigger {
        Manual,
        Automatic,
    }

    fn read(text: &str) -> Result<Config, DeError> {
        let parsed = parse_with(text, ParseOptions::STRICT).unwrap();
        from_node(&parsed.root, text)
    }

    #[test]
    fn reads_values_with_spans() {
        let text = "name: prod\naccount: 012345678901\ntags:\n  team: 'ops'\ntrigger: manual\nlist: [1, 2]\n";
        let c = read(text).unwrap();
        assert_eq!(c.name.value, "prod");
        let span = c.name.span.unwrap();
        assert_eq!((span.start.line, span.start.column), (1, 7));
        // A plain scalar read into a string is the text as written, leading zero kept.
        assert_eq!(c.account, "012345678901");
        assert_eq!(c.tags["team"].value, "ops");
        assert_eq!(c.tags["team"].span.unwrap().start.line, 4);
        assert_eq!(c.trigger, Some(Trigger::Manual));
        assert_eq!(c.list, [1, 2]);
    }

    #[test]
    fn errors_are_typed_and_located() {
        let e = read("name: a\naccount: b\nnmae: c\n").unwrap_err();
        assert!(
            matches!(&e.kind, DeErrorKind::UnknownField { field, expected } if field == "nmae" && expected.contains(&"name"))
        );
        assert_eq!(e.span.unwrap().start.line, 3);
        let e = read("name: a\n").unwrap_err();
        assert_eq!(e.kind, DeErrorKind::MissingField { field: "account" });
        assert_eq!(e.span.unwrap().start.line, 1);
        let e = read("name: a\naccount: b\nlist: [1, x]\n").unwrap_err();
        assert!(matches!(e.kind, DeErrorKind::InvalidType { .. }), "{e}");
        assert_eq!(
            (e.span.unwrap().start.line, e.span.unwrap().start.column),
            (3, 11)
        );
        let e = read("name: a\naccount: b\ntrigger: later\n").unwrap_err();
        assert!(
            matches!(&e.kind, DeErrorKind::UnknownVariant { variant, .. } if variant == "later"),
            "{e}"
        );
        assert_eq!(e.span.unwrap().start.line, 3);
    }
}
