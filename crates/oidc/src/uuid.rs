//! `BracedUuid`: the `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}` UUIDs Bitbucket puts in every claim.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UUID as Bitbucket writes it in token claims: hyphenated, lower case, wrapped in braces.
///
/// Parses with or without braces (users copy UUIDs from the UI either way) and always displays with braces.
/// [`BracedUuid::unbraced`] gives the form used in the workspace audience.
///
/// ```
/// use keyless_oidc::BracedUuid;
/// let a: BracedUuid = "{2E9E429C-0000-4000-8000-000000000001}".parse().unwrap();
/// let b: BracedUuid = "2e9e429c-0000-4000-8000-000000000001".parse().unwrap();
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), "{2e9e429c-0000-4000-8000-000000000001}");
/// assert_eq!(a.unbraced(), "2e9e429c-0000-4000-8000-000000000001");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BracedUuid(uuid::Uuid);

/// Why a string is not a UUID (the user's input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a UUID: expected 32 hex digits in 8-4-4-4-12 groups, with or without braces, \
     e.g. {{2e9e429c-5a3b-4c4d-9e2f-0123456789ab}}"
)]
pub struct UuidError {
    /// The rejected input, truncated to 80 characters.
    pub input: String,
}

impl BracedUuid {
    /// A random (version 4) UUID built from `rng`, so callers control the randomness (tests pass a seeded rng).
    pub fn random(rng: &mut impl rand::RngCore) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// The hyphenated lower-case form without braces, as in `ari:cloud:bitbucket::workspace/<uuid>`.
    pub fn unbraced(&self) -> String {
        self.0.hyphenated().to_string()
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl From<uuid::Uuid> for BracedUuid {
    fn from(value: uuid::Uuid) -> Self {
        Self(value)
    }
}

impl FromStr for BracedUuid {
    type Err = UuidError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = || UuidError {
            input: input.chars().take(80).collect(),
        };
        let trimmed = input.trim();
        let inner = match (trimmed.strip_prefix('{'), trimmed.ends_with('}')) {
            (Some(rest), true) => &rest[..rest.len() - 1],
            (None, false) => trimmed,
            // One brace without the other is a copy-paste accident, not a UUID.
            _ => return Err(error()),
        };
        // Only the hyphenated 36-character form: the `uuid` crate would also take `urn:uuid:` and simple forms,
        // which Bitbucket never produces and which would let two spellings of one UUID through.
        if inner.len() != 36 {
            return Err(error());
        }
        uuid::Uuid::try_parse(inner).map(Self).map_err(|_| error())
    }
}

impl fmt::Display for BracedUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.0.hyphenated())
    }
}

impl fmt::Debug for BracedUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BracedUuid({self})")
    }
}

impl Serialize for BracedUuid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BracedUuid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_with_and_without_braces_and_displays_braced_lowercase() {
        for input in [
            "{2e9e429c-5a3b-4c4d-9e2f-0123456789ab}",
            "2e9e429c-5a3b-4c4d-9e2f-0123456789ab",
            "{2E9E429C-5A3B-4C4D-9E2F-0123456789AB}",
            " 2e9e429c-5a3b-4c4d-9e2f-0123456789ab\n",
        ] {
            let parsed: BracedUuid = input.parse().unwrap();
            assert_eq!(
                parsed.to_string(),
                "{2e9e429c-5a3b-4c4d-9e2f-0123456789ab}",
                "{input}"
            );
            assert_eq!(parsed.unbraced(), "2e9e429c-5a3b-4c4d-9e2f-0123456789ab");
        }
    }

    #[test]
    fn rejects_half_braces_other_forms_and_garbage() {
        for input in [
            "{2e9e429c-5a3b-4c4d-9e2f-0123456789ab",
            "2e9e429c-5a3b-4c4d-9e2f-0123456789ab}",
            "2e9e429c5a3b4c4d9e2f0123456789ab",
            "urn:uuid:2e9e429c-5a3b-4c4d-9e2f-0123456789ab",
            "{}",
            "",
            "{2e9e429c-5a3b-4c4d-9e2f-0123456789az}",
        ] {
            let error = input.parse::<BracedUuid>().unwrap_err();
            assert!(
                error.to_string().contains("is not a UUID"),
                "{input}: {error}"
            );
        }
    }

    #[test]
    fn random_is_v4_and_driven_by_the_rng() {
        use rand::SeedableRng;
        let mut a = rand::rngs::StdRng::seed_from_u64(7);
        let mut b = rand::rngs::StdRng::seed_from_u64(7);
        let x = BracedUuid::random(&mut a);
        assert_eq!(x, BracedUuid::random(&mut b));
        assert_eq!(x.as_uuid().get_version_num(), 4);
        assert_ne!(x, BracedUuid::random(&mut a));
    }

    #[test]
    fn serde_round_trip_uses_braces() {
        let uuid: BracedUuid = "2e9e429c-5a3b-4c4d-9e2f-0123456789ab".parse().unwrap();
        let json = serde_json::to_string(&uuid).unwrap();
        assert_eq!(json, "\"{2e9e429c-5a3b-4c4d-9e2f-0123456789ab}\"");
        assert_eq!(serde_json::from_str::<BracedUuid>(&json).unwrap(), uuid);
        assert!(serde_json::from_str::<BracedUuid>("\"nope\"").is_err());
    }
}
