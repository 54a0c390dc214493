//! The one secret string type of keyless: [`Redacted`], whose `Debug` and `Display` never show the value, under
//! the names the crates use: [`Secret`] (any secret string), [`SecretToken`] (a signed JWT), [`PrivateKeyPem`] and
//! [`Sensitive`] (a pipeline value that may hold a secret). keyless-oidc and keyless-pipelines re-export them.
//!
//! A leaf crate (serde only): keyless-pipelines and keyless-oidc both sit in the bottom row and share this type
//! without depending on each other.
//!
//! The generic type is `Redacted<K>` and the names are aliases, rather than `Secret<K = Plain>`, because a
//! default type parameter does not steer inference in an expression: `let key = Secret::new(..)` would not
//! compile (E0282) without naming the type. Through an alias the kind is fixed, so `Secret::new` just works.

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod kind;

pub use kind::{Jwt, Kind, Pem, PipelineValue, Plain};

/// A secret string: a secret access key, a session token, an OIDC token in transit, a MAC key, an API token.
///
/// ```
/// let secret = keyless_secret::Secret::new("wJalrXUtnFEMI");
/// assert_eq!(format!("{secret:?} {secret}"), "Secret(<redacted>) <redacted>");
/// assert_eq!(secret.expose(), "wJalrXUtnFEMI");
/// ```
pub type Secret = Redacted<Plain>;

/// A signed JWT. Serde carries it, because the mint endpoint's JSON body is where a token is meant to go.
///
/// ```
/// let token = keyless_secret::SecretToken::new("eyJhbGciOi.e30.sig");
/// assert_eq!(format!("{token:?} {token}"), "SecretToken(<redacted>) <redacted>");
/// ```
pub type SecretToken = Redacted<Jwt>;

/// A PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`), not validated until imported. Serde writes the PEM,
/// for the emulator's state file (0600).
pub type PrivateKeyPem = Redacted<Pem>;

/// A `bitbucket-pipelines.yml` value that may hold a secret. A bare variable reference is shown, since it names
/// a secret without holding it; a literal is redacted.
///
/// ```
/// use keyless_secret::Sensitive;
/// assert_eq!(format!("{:?}", Sensitive::new("$AWS_SECRET")), r#"Sensitive("$AWS_SECRET")"#);
/// assert_eq!(format!("{:?}", Sensitive::new("hunter2")), "Sensitive(<redacted>)");
/// assert_eq!(Sensitive::new("${AWS_SECRET}").to_string(), "${AWS_SECRET}");
/// ```
pub type Sensitive = Redacted<PipelineValue>;

/// A string whose `Debug` prints `NAME(<redacted>)` and `Display` `<redacted>` (`NAME` and the one exception,
/// a pipeline variable reference, come from the kind `K`). Read it with [`Redacted::expose`] only where it is sent
/// or written to the one output meant to carry it: those call sites are the audit trail, keep them few.
///
/// Serde (de)serialises the bare string (the emulator's state and ready files, the mint endpoint's body); nothing
/// else serialises one. Equality is not constant-time: compare presented credentials with a constant-time check.
pub struct Redacted<K: Kind> {
    value: String,
    kind: PhantomData<K>,
}

// Written out rather than derived: a derive would ask `K: Clone`/`K: PartialEq` of the marker, a bound that generic
// code would then have to repeat.
impl<K: Kind> Clone for Redacted<K> {
    fn clone(&self) -> Self {
        Self::new(self.value.clone())
    }
}

impl<K: Kind> PartialEq for Redacted<K> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<K: Kind> Eq for Redacted<K> {}

impl<K: Kind> Redacted<K> {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Redacted {
            value: value.into(),
            kind: PhantomData,
        }
    }

    /// The secret itself. Call only where the value must leave the process or be checked.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Consumes the wrapper, returning the secret.
    pub fn into_inner(self) -> String {
        self.value
    }

    /// Length in bytes (safe to show).
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }
}

impl Redacted<PipelineValue> {
    /// True when the value is a variable reference such as `$AWS_SECRET` or `${AWS_SECRET}`, not a literal.
    pub fn is_variable_reference(&self) -> bool {
        kind::is_variable_reference(&self.value)
    }
}

impl<K: Kind> fmt::Debug for Redacted<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if K::may_show(&self.value) {
            write!(f, "{}({:?})", K::NAME, self.value)
        } else {
            write!(f, "{}(<redacted>)", K::NAME)
        }
    }
}

impl<K: Kind> fmt::Display for Redacted<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if K::may_show(&self.value) {
            f.write_str(&self.value)
        } else {
            f.write_str("<redacted>")
        }
    }
}

impl<K: Kind> Serialize for Redacted<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.value)
    }
}

impl<'de, K: Kind> Deserialize<'de> for Redacted<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const CANARY: &str = "canary-8f3a";

    /// Debug (plain and `{:#?}`), Display, a derived Debug around it (how a secret usually reaches a log line)
    /// and an `Option` around it: none shows the canary, and Debug names the kind.
    fn assert_redacted<K: Kind + fmt::Debug>(name: &str) {
        let secret = Redacted::<K>::new(format!("{CANARY}\n-----BEGIN PRIVATE KEY-----"));
        assert_eq!(format!("{secret:?}"), format!("{name}(<redacted>)"));
        assert_eq!(format!("{secret:#?}"), format!("{name}(<redacted>)"));
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(secret.to_string(), "<redacted>");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder<K: Kind> {
            key: Redacted<K>,
            keys: Vec<(String, Redacted<K>)>,
        }
        let holder = Holder {
            key: secret.clone(),
            keys: vec![("AWS_SECRET_ACCESS_KEY".to_owned(), secret.clone())],
        };
        for shown in [
            format!("{holder:?}"),
            format!("{holder:#?}"),
            format!("{:?}", Some(&secret)),
        ] {
            assert!(!shown.contains("canary"), "{name}: {shown}");
            assert!(shown.contains(&format!("{name}(<redacted>)")), "{shown}");
        }
        assert!(
            format!("{holder:#?}").contains(&format!("key: {name}(<redacted>),")),
            "{holder:#?}"
        );
        // The value is all there for the one place meant to read it.
        assert!(secret.expose().starts_with(CANARY));
        assert_eq!(secret.len(), CANARY.len() + 28);
        assert!(!secret.is_empty());
        assert!(Redacted::<K>::new("").is_empty());
        assert_eq!(secret.clone().into_inner(), secret.expose());
    }

    #[test]
    fn every_kind_redacts_in_debug_display_and_nested_debug() {
        assert_redacted::<Plain>("Secret");
        assert_redacted::<Jwt>("SecretToken");
        assert_redacted::<Pem>("PrivateKeyPem");
        assert_redacted::<PipelineValue>("Sensitive");
    }

    #[test]
    fn only_a_pipeline_value_shows_a_variable_reference() {
        for reference in ["$AWS_SECRET", "${AWS_SECRET}", "$X", "$_1", " $TOKEN "] {
            assert_eq!(
                format!("{:?}", Sensitive::new(reference)),
                format!("Sensitive({reference:?})")
            );
            assert_eq!(Sensitive::new(reference).to_string(), reference);
            assert!(Sensitive::new(reference).is_variable_reference());
            // The other kinds show nothing, whatever the value.
            assert_eq!(
                format!("{:?}", Secret::new(reference)),
                "Secret(<redacted>)"
            );
            assert_eq!(Secret::new(reference).to_string(), "<redacted>");
            assert_eq!(
                format!("{:?}", SecretToken::new(reference)),
                "SecretToken(<redacted>)"
            );
            assert_eq!(
                format!("{:?}", PrivateKeyPem::new(reference)),
                "PrivateKeyPem(<redacted>)"
            );
        }
        assert_eq!(
            format!("{:#?}", Sensitive::new("$AWS_SECRET")),
            r#"Sensitive("$AWS_SECRET")"#
        );
    }

    #[test]
    fn a_literal_with_a_dollar_is_not_a_reference() {
        for literal in [
            "", "$", "${}", "${X", "$X}", "pa$$word", "$X$Y", "$X-Y", "${X Y}", "x$X", "$X\n$Y",
            "hunter2", "$é",
        ] {
            let value = Sensitive::new(literal);
            assert!(!value.is_variable_reference(), "{literal:?}");
            assert_eq!(format!("{value:?}"), "Sensitive(<redacted>)", "{literal:?}");
            assert_eq!(value.to_string(), "<redacted>", "{literal:?}");
        }
    }

    #[test]
    fn serde_carries_the_bare_string_both_ways() {
        fn round_trip<K: Kind>() {
            let secret = Redacted::<K>::new(CANARY);
            let json = serde_json::to_string(&secret).unwrap();
            assert_eq!(json, format!("\"{CANARY}\""));
            assert_eq!(serde_json::from_str::<Redacted<K>>(&json).unwrap(), secret);
            assert!(serde_json::from_str::<Redacted<K>>("42").is_err());
        }
        round_trip::<Plain>();
        round_trip::<Jwt>();
        round_trip::<Pem>();
        round_trip::<PipelineValue>();
        // Inside a struct, the field is the bare string (the emulator's state file).
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct State {
            secret_access_key: Secret,
        }
        let state: State = serde_json::from_str(r#"{"secret_access_key":"wJal"}"#).unwrap();
        assert_eq!(state.secret_access_key.expose(), "wJal");
        assert_eq!(
            serde_json::to_string(&state).unwrap(),
            r#"{"secret_access_key":"wJal"}"#
        );
    }

    #[test]
    fn equality_compares_the_value() {
        assert_eq!(Secret::new("a"), Secret::new(String::from("a")));
        assert_ne!(Secret::new("a"), Secret::new("b"));
        assert_ne!(Sensitive::new("$A"), Sensitive::new("$B"));
    }
}
