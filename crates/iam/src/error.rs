//! Errors for input that cannot be read as a policy document or request (the user's input is at fault).

use crate::json::{Location, Spanned, SyntaxError};

/// The input is not a usable policy document or request: malformed JSON, or an element of the wrong shape.
/// `line` and `column` are 1-based; `pointer` is the RFC 6901 JSON pointer of the offending value (empty for
/// the whole document or for JSON syntax errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    pub message: String,
    pub line: usize,
    pub column: usize,
    pub pointer: String,
}

impl ParseError {
    pub(crate) fn at(value: &Spanned, pointer: &str, message: impl Into<String>) -> Self {
        Self::at_location(value.location, pointer, message)
    }

    pub(crate) fn at_location(
        location: Location,
        pointer: &str,
        message: impl Into<String>,
    ) -> Self {
        ParseError {
            message: message.into(),
            line: location.line,
            column: location.column,
            pointer: pointer.to_string(),
        }
    }
}

impl From<SyntaxError> for ParseError {
    fn from(error: SyntaxError) -> Self {
        ParseError {
            message: format!("malformed JSON: {}", error.message),
            line: error.location.line,
            column: error.location.column,
            pointer: String::new(),
        }
    }
}
