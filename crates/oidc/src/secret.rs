//! Secret wrappers: `SecretToken` (a signed JWT) and `PrivateKeyPem`, whose `Debug`/`Display` never show the value.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A signed JWT. `Debug` and `Display` print `<redacted>`; [`SecretToken::expose`] gives the string.
///
/// Serde (de)serialises the bare string, because the mint endpoint's JSON body is where the token is meant to go.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretToken(String);

impl SecretToken {
    /// Wraps a token string.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The JWT itself. Call only where the token must leave the process (stdout of `token mint`, an HTTP body).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Consumes the wrapper, returning the JWT.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

impl fmt::Display for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`). `Debug`/`Display` redact; serde writes the PEM, for
/// persisting emulator state in a 0600 file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PrivateKeyPem(String);

impl PrivateKeyPem {
    /// Wraps a PEM string (not validated until imported).
    pub fn new(pem: impl Into<String>) -> Self {
        Self(pem.into())
    }

    /// The PEM text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyPem(<redacted>)")
    }
}

impl fmt::Display for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let token = SecretToken::new("eyJhbGciOi.secret.sig");
        assert_eq!(
            format!("{token:?} {token}"),
            "SecretToken(<redacted>) <redacted>"
        );
        assert_eq!(token.expose(), "eyJhbGciOi.secret.sig");
        assert_eq!(
            serde_json::to_string(&token).unwrap(),
            "\"eyJhbGciOi.secret.sig\""
        );
        let pem = PrivateKeyPem::new("-----BEGIN PRIVATE KEY-----\nMII\n");
        assert!(!format!("{pem:?}{pem}").contains("MII"));
    }
}
