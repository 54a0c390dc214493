//! The Dynamic Pipelines request (bitbucket.md §4): the target it describes and its
//! `pipelines_configuration`.

use keyless_pipelines::{MAX_DEPTH, Node, PipelineFile, Selector, Target};
use serde::Deserialize as _;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::Invocation;
use crate::json::NodeSeed;

/// Why a request cannot be read. Each names the field and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the request is not a JSON object")]
    NotAnObject,
    #[error("missing field `{0}`")]
    Missing(&'static str),
    #[error("field `{field}` must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error(
        "unsupported target.type `{0}` (expected pipeline_commit_target, pipeline_ref_target or pipeline_pullrequest_target)"
    )]
    UnknownTarget(String),
    #[error("target.ref_type `{0}` is neither `branch` nor `tag`")]
    UnknownRefType(String),
    #[error("`pipelines_configuration`: {0}")]
    Configuration(String),
}

/// A parsed request.
#[derive(Debug, Clone)]
pub struct Request {
    /// `definitions`, `push`, `manual`, `schedule`, `parent_step`.
    pub trigger: String,
    pub invocation: Invocation,
    pub file: PipelineFile,
    /// `workspace`: the UUID of the workspace the request is for (brace-wrapped as Bitbucket sends it), when
    /// the request names one. [`crate::render_request`] refuses a request for another workspace than
    /// keyless.yml's, and one that names none.
    pub workspace: Option<String>,
    /// `trigger_context`, sent with `trigger: parent_step`.
    pub trigger_context: Option<TriggerContext>,
}

/// `trigger_context` (A-DP `TriggerContext`: "Currently only provided when trigger type = `parent_step`").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggerContext {
    /// `type` (the pipelines schema's `trigger_context.type`, `parent_step`); the manifest reference does not
    /// list it.
    pub kind: Option<String>,
    pub parent_pipeline_uuid: Option<String>,
    pub parent_pipeline_run_uuid: Option<String>,
    pub parent_step_uuid: Option<String>,
}

/// The fields of a request other than its configuration.
struct Header {
    trigger: String,
    invocation: Invocation,
    workspace: Option<String>,
    trigger_context: Option<TriggerContext>,
}

fn str_field<'a>(obj: &'a Value, field: &'static str) -> Result<&'a str, PayloadError> {
    match obj.get(field.rsplit('.').next().unwrap_or(field)) {
        None | Some(Value::Null) => Err(PayloadError::Missing(field)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(PayloadError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

/// A branch name given as a string or as `{"branch": {"name": ...}}` / `{"name": ...}`.
fn branch_name(v: Option<&Value>, field: &'static str) -> Result<String, PayloadError> {
    match v {
        None | Some(Value::Null) => Err(PayloadError::Missing(field)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Object(o)) => {
            let inner = o.get("branch").unwrap_or(v.unwrap_or(&Value::Null));
            match inner.get("name") {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err(PayloadError::WrongType {
                    field,
                    expected: "a branch name string or {\"branch\": {\"name\": ...}}",
                }),
            }
        }
        Some(_) => Err(PayloadError::WrongType {
            field,
            expected: "a branch name",
        }),
    }
}

/// Reads a Dynamic Pipelines request (definitions or run).
pub fn parse_request(body: &Value) -> Result<Request, PayloadError> {
    let header = header(body)?;
    let file = configuration(body.get("pipelines_configuration"))?;
    Ok(header.with(file))
}

impl Header {
    fn with(self, file: PipelineFile) -> Request {
        Request {
            trigger: self.trigger,
            invocation: self.invocation,
            file,
            workspace: self.workspace,
            trigger_context: self.trigger_context,
        }
    }
}

/// A request body read by [`RawRequest::from_json_str`]: one pass over the JSON text, with the
/// `pipelines_configuration` read straight into a [`Node`] tree ([`NodeSeed`]) and every other field as the
/// `serde_json::Value` it is in [`parse_request`]'s input. Reading a body this way and then
/// [`RawRequest::into_request`] gives exactly what `serde_json::from_str` and [`parse_request`] give (the same
/// request, the same errors: `serde_json`'s message for text that is not JSON, [`PayloadError`]s after), at about
/// half the allocations.
#[derive(Debug, Clone)]
pub enum RawRequest {
    /// A JSON object.
    Object(RawObject),
    /// Any other JSON value (refused by [`RawRequest::into_request`] as [`PayloadError::NotAnObject`]).
    Other(Value),
}

/// The fields of a request object. `Debug` shows field names only: a Forge envelope may carry tokens
/// (`appSystemToken`, the tutorial's `contextToken`) that must never reach a log.
#[derive(Clone, Default)]
pub struct RawObject {
    /// Every field except `pipelines_configuration` and an object `payload`, in `serde_json::Value`'s order and
    /// with its rule for a repeated key (first position, last value).
    fields: serde_json::Map<String, Value>,
    /// `pipelines_configuration` (a `null` is [`keyless_pipelines::Value::Null`]).
    configuration: Option<Node>,
    /// `payload` when it is an object: a Forge envelope's request ([`RawRequest::unwrap_envelope`]).
    payload: Option<Box<RawObject>>,
}

impl std::fmt::Debug for RawObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawObject")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("configuration", &self.configuration.is_some())
            .field("payload", &self.payload)
            .finish()
    }
}

impl RawRequest {
    /// Reads a request body. Fails with `serde_json`'s error where `serde_json::from_str::<Value>` fails (the
    /// recursion limit included).
    pub fn from_json_str(text: &str) -> Result<RawRequest, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let raw = RawSeed.deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(raw)
    }

    /// Forge may deliver a module's event inside `{"payload": ..., "context": ...}`: a body without `trigger`
    /// whose `payload` is an object with a `trigger` is read as that payload.
    pub fn unwrap_envelope(self) -> RawRequest {
        match self {
            RawRequest::Object(mut object)
                if !object.fields.contains_key("trigger")
                    && object
                        .payload
                        .as_ref()
                        .is_some_and(|p| p.fields.contains_key("trigger")) =>
            {
                RawRequest::Object(*object.payload.take().unwrap_or_default())
            }
            other => other,
        }
    }

    /// The `trigger` field, when the body is an object that has one.
    pub fn trigger(&self) -> Option<&Value> {
        match self {
            RawRequest::Object(object) => object.fields.get("trigger"),
            RawRequest::Other(_) => None,
        }
    }

    /// The request, as [`parse_request`] reads the same body.
    pub fn into_request(self) -> Result<Request, PayloadError> {
        let RawRequest::Object(object) = self else {
            return Err(PayloadError::NotAnObject);
        };
        let body = Value::Object(object.fields);
        let header = header(&body)?;
        let file = match object.configuration {
            None => return Err(PayloadError::Missing("pipelines_configuration")),
            Some(root) => configuration_tree(root)?,
        };
        Ok(header.with(file))
    }
}

/// A `pipelines_configuration` read as a tree: what [`configuration`] makes of the same JSON (a `null` is the
/// empty configuration, "may be empty" in bitbucket.md §4).
fn configuration_tree(root: Node) -> Result<PipelineFile, PayloadError> {
    let root = if root.is_null() {
        Node::map(std::iter::empty::<(&str, Node)>())
    } else {
        root
    };
    PipelineFile::from_json_tree(root).map_err(|e| PayloadError::Configuration(e.to_string()))
}

/// Reads a body or a `payload` field: an object as a [`RawObject`], anything else as a `Value`.
struct RawSeed;

impl<'de> DeserializeSeed<'de> for RawSeed {
    type Value = RawRequest;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawRequest, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawRequest;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRequest, A::Error> {
        let mut object = RawObject::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "pipelines_configuration" => {
                    object.configuration = Some(map.next_value_seed(NodeSeed::new(MAX_DEPTH))?);
                }
                "payload" => match map.next_value_seed(RawSeed)? {
                    RawRequest::Object(payload) => {
                        object.payload = Some(Box::new(payload));
                        object.fields.shift_remove("payload");
                    }
                    RawRequest::Other(value) => {
                        object.payload = None;
                        object.fields.insert(key, value);
                    }
                },
                _ => {
                    let value = map.next_value::<Value>()?;
                    object.fields.insert(key, value);
                }
            }
        }
        Ok(RawRequest::Object(object))
    }

    // Everything that is not an object: as serde_json's Value reads it.
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawRequest, A::Error> {
        Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq)).map(RawRequest::Other)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<RawRequest, E> {
        Ok(RawRequest::Other(Value::Null))
    }

    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<RawRequest, E> {
        Ok(RawRequest::Other(Value::Bool(b)))
    }

    fn visit_i64<E: serde::de::Error>(self, i: i64) -> Result<RawRequest, E> {
        Ok(RawRequest::Other(Value::from(i)))
    }

    fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<RawRequest, E> {
        Ok(RawRequest::Other(Value::from(u)))
    }

    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<RawRequest, E> {
        Ok(RawRequest::Other(
            serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RawRequest, E> {
        Ok(RawRequest::Other(Value::String(s.to_string())))
    }

    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<RawRequest, E> {
        Ok(RawRequest::Other(Value::String(s)))
    }
}

/// The `pipelines_configuration` field (`None`: missing) as a pipeline file, read from the borrowed value
/// without copying it; an empty one, and one the model refuses (not a mapping, nested too deep, with the model's
/// own error), go through [`PipelineFile::from_json`].
fn configuration(value: Option<&Value>) -> Result<PipelineFile, PayloadError> {
    let via_model = |v: &Value| {
        PipelineFile::from_json(v.clone()).map_err(|e| PayloadError::Configuration(e.to_string()))
    };
    match value {
        None => Err(PayloadError::Missing("pipelines_configuration")),
        // "may be empty" (bitbucket.md §4).
        Some(Value::Null) => via_model(&Value::Object(Default::default())),
        Some(v @ Value::Object(_)) => match Node::from_json(v, MAX_DEPTH) {
            Ok(root) => Ok(PipelineFile::from_root(root)),
            Err(_) => via_model(v),
        },
        Some(v) => via_model(v),
    }
}

/// An optional string field: absent or `null` is `None`; another type is an error naming the field.
fn opt_str<'a>(obj: &'a Value, field: &'static str) -> Result<Option<&'a str>, PayloadError> {
    match obj.get(field.rsplit('.').next().unwrap_or(field)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(PayloadError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

/// An optional object field.
fn opt_object<'a>(obj: &'a Value, field: &'static str) -> Result<Option<&'a Value>, PayloadError> {
    match obj.get(field.rsplit('.').next().unwrap_or(field)) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(PayloadError::WrongType {
            field,
            expected: "an object",
        }),
    }
}

/// `target.selector` as the selector of the pipeline definition Bitbucket matched (A-DP `PipelineSelector`:
/// `type` is the section, `pattern` the name, absent for `default`). A type the documentation does not list is
/// no selection: keyless then treats the run as selecting nothing (every pipeline is judged).
fn selector(target: &Value) -> Result<Option<Selector>, PayloadError> {
    let Some(selector) = opt_object(target, "target.selector")? else {
        return Ok(None);
    };
    let kind = str_field(selector, "target.selector.type")?;
    let pattern = opt_str(selector, "target.selector.pattern")?.map(str::to_string);
    Ok(match (kind, pattern) {
        ("default", _) => Some(Selector::Default),
        ("custom", None) => return Err(PayloadError::Missing("target.selector.pattern")),
        ("custom", Some(p)) => Some(Selector::Custom(p)),
        ("branches", Some(p)) => Some(Selector::Branches(p)),
        ("tags", Some(p)) => Some(Selector::Tags(p)),
        ("pull-requests", Some(p)) => Some(Selector::PullRequests {
            source: p,
            destination: None,
        }),
        _ => None,
    })
}

/// Everything but the configuration: trigger, target (with Bitbucket's selection), workspace, trigger context.
fn header(body: &Value) -> Result<Header, PayloadError> {
    if !body.is_object() {
        return Err(PayloadError::NotAnObject);
    }
    let trigger = str_field(body, "trigger")?.to_string();
    // A string in Atlassian's examples; the REST API's `{"uuid": ...}` object is read too.
    let workspace = match body.get("workspace") {
        Some(w @ Value::Object(_)) => Some(
            str_field(w, "workspace.uuid")
                .map_err(|_| PayloadError::WrongType {
                    field: "workspace",
                    expected: "the workspace UUID (a string)",
                })?
                .to_string(),
        ),
        _ => opt_str(body, "workspace")
            .map_err(|_| PayloadError::WrongType {
                field: "workspace",
                expected: "the workspace UUID (a string)",
            })?
            .map(str::to_string),
    };
    let trigger_context = match opt_object(body, "trigger_context")? {
        None => None,
        Some(c) => Some(TriggerContext {
            kind: opt_str(c, "trigger_context.type")?.map(str::to_string),
            parent_pipeline_uuid: opt_str(c, "trigger_context.parent_pipeline_uuid")?
                .map(str::to_string),
            parent_pipeline_run_uuid: opt_str(c, "trigger_context.parent_pipeline_run_uuid")?
                .map(str::to_string),
            parent_step_uuid: opt_str(c, "trigger_context.parent_step_uuid")?.map(str::to_string),
        }),
    };
    let target = match body.get("target") {
        None | Some(Value::Null) => return Err(PayloadError::Missing("target")),
        Some(t @ Value::Object(_)) => t,
        Some(_) => {
            return Err(PayloadError::WrongType {
                field: "target",
                expected: "an object",
            });
        }
    };
    let kind = str_field(target, "target.type")?;
    let selector = selector(target)?;
    let commit = match opt_object(target, "target.commit")? {
        Some(c) => opt_str(c, "target.commit.hash")?.map(str::to_string),
        None => None,
    };
    let custom = match &selector {
        Some(Selector::Custom(name)) => Some(name.clone()),
        _ => None,
    };
    let mut invocation = match kind {
        "pipeline_ref_target" => {
            let ref_type = str_field(target, "target.ref_type")?;
            let name = str_field(target, "target.ref_name")?.to_string();
            match (custom, ref_type) {
                (Some(c), "branch") => Invocation {
                    target: Some(Target::Custom(c)),
                    branch: Some(name),
                    ..Invocation::default()
                },
                (Some(c), "tag") => Invocation {
                    target: Some(Target::Custom(c)),
                    tag: Some(name),
                    ..Invocation::default()
                },
                (None, "branch") => Target::Branch(name).into(),
                (None, "tag") => Target::Tag(name).into(),
                (_, other) => return Err(PayloadError::UnknownRefType(other.to_string())),
            }
        }
        "pipeline_pullrequest_target" => {
            let source = branch_name(target.get("source"), "target.source")?;
            let destination = branch_name(target.get("destination"), "target.destination")?;
            match custom {
                Some(c) => Invocation {
                    target: Some(Target::Custom(c)),
                    branch: Some(source),
                    ..Invocation::default()
                },
                None => Target::PullRequest {
                    source,
                    destination,
                }
                .into(),
            }
        }
        // A commit carries no branch: with a custom selector it is a custom run on that commit, without one a
        // definitions request (the Run-pipeline dialog) or a run whose definition Bitbucket did not match.
        "pipeline_commit_target" => Invocation {
            target: custom.map(Target::Custom),
            ..Invocation::default()
        },
        other => return Err(PayloadError::UnknownTarget(other.to_string())),
    };
    invocation.selector = selector;
    invocation.commit = commit;
    Ok(Header {
        trigger,
        invocation,
        workspace,
        trigger_context,
    })
}

/// Serialises a tree as `serde_json` serialises [`Node::to_json`] (the same bytes: keys in order, numbers and
/// strings alike; a float JSON cannot represent goes through `to_json` for its text form), without building the
/// `serde_json::Value` first. `keyless serve` writes its `pipelines_configuration` with it.
#[derive(Debug, Clone, Copy)]
pub struct JsonTree<'a>(pub &'a Node);

impl serde::Serialize for JsonTree<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use keyless_pipelines::Value as V;
        use serde::ser::{SerializeMap as _, SerializeSeq as _};
        match &self.0.value {
            V::Null => serializer.serialize_unit(),
            V::Bool(b) => serializer.serialize_bool(*b),
            V::Int(i) => serializer.serialize_i64(*i),
            V::Float(f) if f.is_finite() => serializer.serialize_f64(*f),
            V::Float(_) => serde::Serialize::serialize(&self.0.to_json(), serializer),
            V::String(s) => serializer.serialize_str(s),
            V::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&JsonTree(item))?;
                }
                seq.end()
            }
            V::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for entry in entries {
                    map.serialize_entry(&entry.key, &JsonTree(&entry.value))?;
                }
                map.end()
            }
        }
    }
}
