//! Identifiers in AWS's formats: request ids, role ids (`AROA…`), access keys (`AKIA…`/`ASIA…`), secrets,
//! session tokens (aws.md §4).

use base64::Engine as _;
use rand::Rng as _;

/// AWS unique ids use upper-case letters and the digits 2-7 after the four-letter prefix.
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn suffix(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())]))
        .collect()
}

/// A request id: a random UUID, as in `x-amzn-RequestId`.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A role id: `AROA` + 17 characters (21 in all).
pub fn role_id() -> String {
    format!("AROA{}", suffix(17))
}

/// A long-term access key id: `AKIA` + 16 characters.
pub fn long_term_key_id() -> String {
    format!("AKIA{}", suffix(16))
}

/// A temporary access key id: `ASIA` + 16 characters.
pub fn temporary_key_id() -> String {
    format!("ASIA{}", suffix(16))
}

/// A 40-character secret access key.
pub fn secret_access_key() -> String {
    let mut bytes = [0u8; 30];
    rand::rng().fill(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An opaque session token. It deliberately contains `+`, `/` and `=` so that clients' encoding is exercised.
pub fn session_token() -> String {
    let mut bytes = [0u8; 180];
    rand::rng().fill(&mut bytes[..]);
    format!(
        "IQoJb3JpZ2luX2VjE{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(role_id().len(), 21);
        assert!(role_id().starts_with("AROA"));
        assert_eq!(long_term_key_id().len(), 20);
        assert!(temporary_key_id().starts_with("ASIA"));
        assert_eq!(secret_access_key().len(), 40);
        assert_ne!(session_token(), session_token());
        assert_eq!(request_id().len(), 36);
    }
}
