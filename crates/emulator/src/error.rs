//! The one error type every Query-protocol handler returns, rendered as AWS's XML error document.

use axum::http::StatusCode;

/// An AWS API error: HTTP status, wire code and message. The message is what AWS would say; it never carries
/// internals, tokens or secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// HTTP status on the wire.
    pub status: StatusCode,
    /// The `<Code>` element.
    pub code: &'static str,
    /// The `<Message>` element.
    pub message: String,
}

impl AwsError {
    /// Any error with an explicit status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// `ValidationError` (400) with a pre-formatted message.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationError", message)
    }

    /// `InvalidIdentityToken` (400).
    pub fn invalid_token(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidIdentityToken", message)
    }

    /// `AccessDenied` (403).
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDenied", message)
    }

    /// `NoSuchEntity` (404), IAM's missing-resource error.
    pub fn no_such_entity(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NoSuchEntity", message)
    }

    /// `EntityAlreadyExists` (409).
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "EntityAlreadyExists", message)
    }

    /// `InvalidInput` (400), IAM's semantic input error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }

    /// `LimitExceeded` (409).
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "LimitExceeded", message)
    }

    /// `MalformedPolicyDocument` (400).
    pub fn malformed_policy(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MalformedPolicyDocument", message)
    }

    /// `MissingParameter` (400).
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            format!("The request must contain the parameter {name}"),
        )
    }

    /// Whether the fault is the caller's (`<Type>Sender</Type>`).
    pub fn is_sender_fault(&self) -> bool {
        self.status.is_client_error()
    }
}
