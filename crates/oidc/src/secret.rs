//! Secret wrappers, whose `Debug`/`Display` never show the value: [`Secret`] (any secret string: a secret access
//! key, a session token, an emulator's keys), `SecretToken` (a signed JWT) and `PrivateKeyPem`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A secret string: a secret access key, a session token, an OIDC token in transit, a MAC key. `Debug` prints
/// `Secret(<redacted>)` and `Display` `<redacted>`; read it with [`Secret::expose`] only where it is sent or
/// written to the one output meant to carry it. keyless-credentials and keyless-emulator use this one type.
///
/// Serde (de)serialises the bare string, for the emulator's state file (0600) and ready file; nothing else
/// serialises one.
///
/// ```
/// let secret = keyless_oidc::Secret::new("wJalrXUtnFEMI");
/// assert_eq!(format!("{secret:?} {secret}"), "Secret(<redacted>) <redacted>");
/// assert_eq!(secret.expose(), "wJalrXUtnFEMI");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
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

    #[test]
    fn secret_redacts_in_debug_display_and_nested_debug() {
        let secret = Secret::new("canary-8f3a");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(format!("{secret:#?}"), "Secret(<redacted>)");
        // Inside a derived Debug (how a secret usually reaches a log line).
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            key: Secret,
        }
        let shown = format!(
            "{:?}",
            Holder {
                key: secret.clone()
            }
        );
        assert!(!shown.contains("canary"), "{shown}");
        assert_eq!(secret.expose(), "canary-8f3a");
        assert_eq!(secret.len(), 11);
        assert!(!secret.is_empty());
        // Serde carries the value (the emulator's state file), and reads it back.
        let json = serde_json::to_string(&secret).unwrap();
        assert_eq!(json, "\"canary-8f3a\"");
        assert_eq!(serde_json::from_str::<Secret>(&json).unwrap(), secret);
    }
}
