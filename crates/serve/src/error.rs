//! `ApiError`: every answer that is not a rendered or rejected pipeline, in the provider's wire form
//! `{"error": {"key": ..., "message": ...}}`, with its HTTP status and metrics outcome. Messages name the cause
//! and the fix and never echo request headers or tokens.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::metrics::Outcome;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// `keyless-<kebab>`, stable.
    pub key: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, key: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            key,
            message: message.into(),
        }
    }

    /// 400: the request cannot be read as a Dynamic Pipelines request.
    pub fn invalid(key: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, key, message)
    }

    /// The outcome label counted in `/metrics`.
    pub fn outcome(&self) -> Outcome {
        match self.status {
            StatusCode::UNAUTHORIZED => Outcome::Unauthorized,
            StatusCode::FORBIDDEN => Outcome::Forbidden,
            StatusCode::PAYLOAD_TOO_LARGE => Outcome::TooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Outcome::UnsupportedMediaType,
            StatusCode::REQUEST_TIMEOUT => Outcome::Timeout,
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => Outcome::NotFound,
            s if s.is_server_error() => Outcome::Unavailable,
            _ => Outcome::Invalid,
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"error": {"key": self.key, "message": self.message}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.to_json())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"keyless serve\""),
            );
        }
        response
    }
}
