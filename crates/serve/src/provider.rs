//! `POST /dynamic-pipelines`: reads a Dynamic Pipelines request (bitbucket.md §4, *definitions* and *run*
//! payloads) from raw bytes and renders it under the live configuration.
//!
//! Every way a body can be unreadable is a 4xx with a message naming what is wrong; a pipeline the policy
//! refuses, or cannot judge, is the contract's `{"error": {"key", "message"}}` with HTTP 200 (Bitbucket shows the
//! message; a non-2xx answer would count as a provider failure and be retried).

use std::panic::AssertUnwindSafe;

use axum::http::{HeaderMap, StatusCode, header};
use keyless_enforce::payload::{JsonTree, PayloadError, RawRequest, Request};
use keyless_enforce::{EnforceConfig, Rejection, Rendered};
use keyless_pipelines::Target;
use serde_json::Value;

use crate::error::ApiError;

/// The triggers of the contract.
pub const TRIGGERS: &[&str] = &["definitions", "push", "manual", "schedule", "parent_step"];

/// What the provider answers for a readable request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// `{"pipelines_configuration": ...}`: the rendered file, with the pipelines a definitions request left out,
    /// what was let through, and (under `policy.mode: report`) what the policy would have done.
    Rendered(Box<Rendered>),
    /// `{"error": ...}` from the policy.
    Rejected(Rejection),
    /// The renderer panicked; refused (fail-closed).
    Internal,
}

/// Facts about a request, for logs.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub trigger: String,
    pub target: String,
    /// `trigger_context` of a `parent_step` run: the parent pipeline run and step.
    pub parent: String,
}

impl Answer {
    /// The response body.
    pub fn to_json(&self) -> Value {
        match self {
            Answer::Rendered(rendered) => {
                serde_json::json!({"pipelines_configuration": rendered.file.to_json()})
            }
            Answer::Rejected(rejection) => rejection.to_error_json(),
            Answer::Internal => serde_json::json!({"error": {
                "key": "keyless-internal",
                "message": "keyless could not judge this pipeline (internal error, logged on the keyless serve host); it is refused until that is fixed",
            }}),
        }
    }
}

impl Answer {
    /// The response body's bytes: [`Answer::to_json`] serialised, written straight from the rendered tree (no
    /// intermediate `serde_json::Value` on the hot path).
    pub fn to_body(&self) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            pipelines_configuration: JsonTree<'a>,
        }
        let written = match self {
            Answer::Rendered(rendered) => serde_json::to_vec(&Body {
                pipelines_configuration: JsonTree(rendered.file.root()),
            }),
            other => serde_json::to_vec(&other.to_json()),
        };
        // Writing JSON into a Vec fails only for a map key that is not a string, which a tree cannot hold;
        // should it ever fail, the pipeline is refused rather than answered with a broken body.
        written
            .unwrap_or_else(|_| serde_json::to_vec(&Answer::Internal.to_json()).unwrap_or_default())
    }
}

/// 415 unless the body is declared as JSON (`application/json`, optionally with parameters, or
/// `application/<x>+json`).
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let unsupported = |what: String| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "keyless-unsupported-media-type",
            format!(
                "{what}; send the Dynamic Pipelines request as `Content-Type: application/json`"
            ),
        )
    };
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(unsupported("the request has no Content-Type".to_string()));
    };
    let Ok(value) = value.to_str() else {
        return Err(unsupported("the Content-Type is not ASCII".to_string()));
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if !json {
        let shown: String = essence.chars().take(100).collect();
        return Err(unsupported(format!("Content-Type `{shown}` is not JSON")));
    }
    Ok(())
}

/// Parses the body bytes into a request.
pub fn read_request(body: &[u8]) -> Result<Request, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(
            "keyless-empty-body",
            "the request body is empty; send the Dynamic Pipelines request JSON",
        ));
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::invalid(
            "keyless-invalid-utf8",
            format!(
                "the request body is not UTF-8 (invalid byte at offset {}); JSON must be UTF-8",
                e.valid_up_to()
            ),
        )
    })?;
    // serde_json refuses nesting deeper than 128 levels, so hostile depth fails here without exhausting the stack.
    // One pass: the configuration is read straight into the pipeline tree, the other fields as serde_json Values
    // (the same request and the same errors as serde_json::from_str::<Value> then payload::parse_request).
    let raw = RawRequest::from_json_str(text).map_err(|e| {
        ApiError::invalid(
            "keyless-invalid-json",
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    // Forge may deliver a module's event inside `{"payload": ..., "context": ...}` (UNCONFIRMED for this module;
    // see docs/enforce.md): a body without `trigger` whose `payload` is an object with one is read as that payload.
    let raw = raw.unwrap_envelope();
    match raw.trigger() {
        Some(Value::String(trigger)) if !TRIGGERS.contains(&trigger.as_str()) => {
            let shown: String = trigger.chars().take(60).collect();
            return Err(ApiError::invalid(
                "keyless-invalid-request",
                format!(
                    "field `trigger` is `{shown}`; expected one of {}",
                    TRIGGERS.join(", ")
                ),
            ));
        }
        _ => {}
    }
    raw.into_request().map_err(payload_error)
}

fn payload_error(error: PayloadError) -> ApiError {
    let message = match &error {
        PayloadError::NotAnObject => {
            "the request body must be a JSON object (the Dynamic Pipelines request)".to_string()
        }
        other => format!("not a Dynamic Pipelines request: {other}"),
    };
    ApiError::invalid("keyless-invalid-request", message)
}

/// Renders a parsed request as `keyless_enforce::render_request` does (the workspace binding, then the mode of
/// its trigger: a definitions request leaves out what may not run, a run is judged as a whole). Never panics: a
/// panic in the renderer becomes [`Answer::Internal`].
pub fn answer(config: &EnforceConfig, request: Request) -> Answer {
    // The answer is the file alone, so the list of changes (for `keyless render --explain`) is not built.
    let rendered = std::panic::catch_unwind(AssertUnwindSafe(|| {
        keyless_enforce::render_request_file(config, request)
    }));
    match rendered {
        Ok(Ok(rendered)) => Answer::Rendered(Box::new(rendered)),
        Ok(Err(rejection)) => Answer::Rejected(rejection),
        Err(_) => Answer::Internal,
    }
}

/// The request's trigger and target, for logs (names cut to 100 characters).
pub fn summary(request: &Request) -> Summary {
    let short = |s: &str| s.chars().take(100).collect::<String>();
    let invocation = &request.invocation;
    let commit = || {
        invocation
            .commit
            .as_deref()
            .map_or("commit".to_string(), |h| {
                format!("commit {}", short(h.get(..12).unwrap_or(h)))
            })
    };
    let target = match &invocation.target {
        Some(Target::Branch(b)) => format!("branch {}", short(b)),
        Some(Target::Tag(t)) => format!("tag {}", short(t)),
        Some(Target::PullRequest {
            source,
            destination,
        }) => format!("pr {}->{}", short(source), short(destination)),
        Some(Target::Custom(c)) => match (&invocation.branch, &invocation.tag) {
            (Some(b), _) => format!("custom {} on branch {}", short(c), short(b)),
            (None, Some(t)) => format!("custom {} on tag {}", short(c), short(t)),
            (None, None) => format!("custom {} on {}", short(c), commit()),
        },
        None => commit(),
    };
    let parent = request
        .trigger_context
        .as_ref()
        .map(|c| {
            format!(
                "run {} step {}",
                short(c.parent_pipeline_run_uuid.as_deref().unwrap_or("?")),
                short(c.parent_step_uuid.as_deref().unwrap_or("?"))
            )
        })
        .unwrap_or_default();
    Summary {
        trigger: short(&request.trigger),
        target,
        parent,
    }
}
