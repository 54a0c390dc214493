//! The Dynamic Pipelines request (bitbucket.md §4): the target it describes and its
//! `pipelines_configuration`.

use keyless_pipelines::{PipelineFile, Target};
use serde_json::Value;

use crate::Invocation;

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
        "unsupported target.type `{0}` (expected pipeline_ref_target, pipeline_pullrequest_target or pipeline_commit_target with a custom selector)"
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
    if !body.is_object() {
        return Err(PayloadError::NotAnObject);
    }
    let trigger = str_field(body, "trigger")?.to_string();
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
    let selector = match target.get("selector") {
        None | Some(Value::Null) => None,
        Some(s @ Value::Object(_)) => Some(s),
        Some(_) => {
            return Err(PayloadError::WrongType {
                field: "target.selector",
                expected: "an object",
            });
        }
    };
    let custom = match selector {
        Some(s) if str_field(s, "target.selector.type")? == "custom" => {
            Some(str_field(s, "target.selector.pattern")?.to_string())
        }
        _ => None,
    };
    let invocation = match kind {
        "pipeline_ref_target" => {
            let ref_type = str_field(target, "target.ref_type")?;
            let name = str_field(target, "target.ref_name")?.to_string();
            match (custom, ref_type) {
                (Some(c), "branch") => Invocation {
                    target: Target::Custom(c),
                    branch: Some(name),
                },
                (Some(c), "tag") => Invocation {
                    target: Target::Custom(c),
                    branch: None,
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
                    target: Target::Custom(c),
                    branch: Some(source),
                },
                None => Target::PullRequest {
                    source,
                    destination,
                }
                .into(),
            }
        }
        "pipeline_commit_target" => match custom {
            Some(c) => Invocation {
                target: Target::Custom(c),
                branch: None,
            },
            None => return Err(PayloadError::UnknownTarget(kind.to_string())),
        },
        other => return Err(PayloadError::UnknownTarget(other.to_string())),
    };
    let config = match body.get("pipelines_configuration") {
        None => return Err(PayloadError::Missing("pipelines_configuration")),
        // "may be empty" (bitbucket.md §4).
        Some(Value::Null) => Value::Object(Default::default()),
        Some(v) => v.clone(),
    };
    let file =
        PipelineFile::from_json(config).map_err(|e| PayloadError::Configuration(e.to_string()))?;
    Ok(Request {
        trigger,
        invocation,
        file,
    })
}
