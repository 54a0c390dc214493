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

/// A temporary access key id: `ASIA` + 16 characters, the first 8 of which encode the 12-digit account (40
/// bits in the id alphabet), so that `GetAccessKeyInfo` can answer for keys it keeps no record of, as AWS does.
pub fn temporary_key_id(account: &str) -> String {
    let number: u64 = account.parse().unwrap_or(0);
    let encoded: String = (0..8)
        .rev()
        .map(|i| char::from(ID_ALPHABET[((number >> (5 * i)) & 31) as usize]))
        .collect();
    format!("ASIA{encoded}{}", suffix(8))
}

/// The account a key from [`temporary_key_id`] was issued for.
pub fn account_of_temporary_key(key: &str) -> Option<String> {
    let encoded = key.strip_prefix("ASIA")?.get(..8)?;
    let mut number: u64 = 0;
    for b in encoded.bytes() {
        let digit = ID_ALPHABET.iter().position(|&a| a == b)?;
        number = number << 5 | digit as u64;
    }
    (number < 1_000_000_000_000 && key.len() == 20).then(|| format!("{number:012}"))
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
        let key = temporary_key_id("012345678901");
        assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
        assert_eq!(
            account_of_temporary_key(&key).as_deref(),
            Some("012345678901")
        );
        assert_eq!(
            account_of_temporary_key(&temporary_key_id("999999999999")).as_deref(),
            Some("999999999999")
        );
        assert_eq!(account_of_temporary_key("ASIA1111111111111111"), None);
        assert_eq!(secret_access_key().len(), 40);
        assert_ne!(session_token(), session_token());
        assert_eq!(request_id().len(), 36);
    }
}
