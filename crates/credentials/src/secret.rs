//! A string that must never be printed by accident: OIDC tokens, secret access keys, session tokens.

use std::fmt;

/// A secret value. `Debug` and `Display` print `<redacted>`; read it with [`Secret::expose`] only where it is
/// sent to AWS or written to the one output that is meant to carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call sites are the audit trail: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes (safe to show).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let secret = Secret::new("canary-value");
        assert!(!format!("{secret:?}").contains("canary"));
        assert!(!format!("{secret}").contains("canary"));
        assert_eq!(secret.expose(), "canary-value");
    }
}
