//! Temporary credentials that need no server-side storage: the session token carries the session (account,
//! role, session name, expiry) plus an HMAC under the emulator's session key, and the secret access key is
//! derived from the token. So a million AssumeRoleWithWebIdentity calls cost no memory, and sessions survive a
//! restart with `--state` (the key is persisted there). Real STS tokens are opaque encrypted blobs too.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::state::Secret;

/// What a session token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Temporary access key id (`ASIA…`).
    #[serde(rename = "k")]
    pub access_key_id: String,
    /// Account of the role.
    #[serde(rename = "a")]
    pub account: String,
    /// Role name, as stored.
    #[serde(rename = "r")]
    pub role_name: String,
    /// Role id (`AROA…`).
    #[serde(rename = "i")]
    pub role_id: String,
    /// Session name.
    #[serde(rename = "s")]
    pub session_name: String,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
    /// Whether the session came from role chaining or web identity (limits chained durations to 1 h).
    #[serde(rename = "c", default)]
    pub chained: bool,
    /// A `GetSessionToken` session of the account root (no role: `role_name` and `role_id` are empty).
    #[serde(rename = "u", default, skip_serializing_if = "std::ops::Not::not")]
    pub root: bool,
    /// Session tags (passed, or inherited as transitive), `(key, value)` as written.
    #[serde(rename = "t", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// Keys of `tags` that are transitive: they pass to every session this one assumes.
    #[serde(rename = "x", default, skip_serializing_if = "Vec::is_empty")]
    pub transitive_tag_keys: Vec<String>,
    /// The source identity: set once, then carried through role chaining unchanged.
    #[serde(rename = "si", default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
}

impl SessionInfo {
    /// `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION` (the role path is dropped, aws.md §4); for a root
    /// `GetSessionToken` session, the root's ARN.
    pub fn arn(&self) -> String {
        if self.root {
            return format!("arn:aws:iam::{}:root", self.account);
        }
        format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            self.account, self.role_name, self.session_name
        )
    }

    /// The transitive tags, `(key, value)`: what a session assumed with these credentials inherits.
    pub fn transitive_tags(&self) -> impl Iterator<Item = &(String, String)> {
        self.tags.iter().filter(|(key, _)| {
            self.transitive_tag_keys
                .iter()
                .any(|k| k.eq_ignore_ascii_case(key))
        })
    }

    /// `AROA…:SESSION` (the account id for a root session).
    pub fn user_id(&self) -> String {
        if self.root {
            return self.account.clone();
        }
        format!("{}:{}", self.role_id, self.session_name)
    }
}

const PREFIX: &str = "KLS1";

fn mac(key: &Secret, purpose: &str, data: &[u8]) -> String {
    let mut message = Vec::with_capacity(purpose.len() + 1 + data.len());
    message.extend_from_slice(purpose.as_bytes());
    message.push(0);
    message.extend_from_slice(data);
    // HMAC-SHA256, hex: `aws-sigv4` exposes exactly this primitive.
    aws_sigv4::sign::v4::calculate_signature(key.expose().as_bytes(), &message)
}

/// Issues `(secret access key, session token)` for a session.
pub fn issue(key: &Secret, info: &SessionInfo) -> (Secret, Secret) {
    let payload = serde_json::to_vec(info).unwrap_or_default();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&payload);
    let token = format!(
        "{PREFIX}{encoded}.{}",
        mac(key, "token", encoded.as_bytes())
    );
    (secret_for(key, &token), Secret::new(token))
}

fn secret_for(key: &Secret, token: &str) -> Secret {
    let digest = mac(key, "secret", token.as_bytes());
    let bytes = hex::decode(&digest).unwrap_or_default();
    Secret::new(base64::engine::general_purpose::STANDARD.encode(&bytes[..30.min(bytes.len())]))
}

/// Opens a session token presented with `access_key_id`. `None` for anything forged, altered or mismatched.
pub fn open(key: &Secret, access_key_id: &str, token: &str) -> Option<(SessionInfo, Secret)> {
    let body = token.strip_prefix(PREFIX)?;
    let (encoded, tag) = body.rsplit_once('.')?;
    let expected = mac(key, "token", encoded.as_bytes());
    if expected.len() != tag.len()
        || expected
            .bytes()
            .zip(tag.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            != 0
    {
        return None;
    }
    let payload = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let info: SessionInfo = serde_json::from_slice(&payload).ok()?;
    if info.access_key_id != access_key_id {
        return None;
    }
    Some((info, secret_for(key, token)))
}

/// A fresh random session key.
pub fn new_key() -> Secret {
    let mut bytes = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    Secret::new(hex::encode(bytes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn info() -> SessionInfo {
        SessionInfo {
            access_key_id: "ASIAAAAAAAAAAAAAAAAA".into(),
            account: "123456789012".into(),
            role_name: "deploy".into(),
            role_id: "AROAAAAAAAAAAAAAAAAAA".into(),
            session_name: "s1".into(),
            expires_at: 10,
            chained: false,
            root: false,
            tags: vec![("Team".into(), "payments".into())],
            transitive_tag_keys: vec!["Team".into()],
            source_identity: Some("alice".into()),
        }
    }

    #[test]
    fn round_trip_and_tamper_detection() {
        let key = new_key();
        let (secret, token) = issue(&key, &info());
        let (opened, again) = open(&key, "ASIAAAAAAAAAAAAAAAAA", token.expose()).unwrap();
        assert_eq!(opened, info());
        assert_eq!(again, secret);
        assert_eq!(secret.expose().len(), 40);
        assert!(open(&key, "ASIABBBBBBBBBBBBBBBB", token.expose()).is_none());
        assert!(open(&new_key(), "ASIAAAAAAAAAAAAAAAAA", token.expose()).is_none());
        let mut forged = token.expose().to_owned();
        forged.insert(5, 'x');
        assert!(open(&key, "ASIAAAAAAAAAAAAAAAAA", &forged).is_none());
        assert!(open(&key, "ASIAAAAAAAAAAAAAAAAA", "garbage").is_none());
    }
}
