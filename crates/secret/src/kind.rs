//! The kinds of secret: zero-sized markers that decide the name `Debug` prints and whether a value may ever be
//! shown. The trait is sealed, so this file lists every rule under which keyless shows a secret-bearing value.

/// What a [`crate::Redacted`] holds. Sealed: a new kind is added here, beside the others, where a reviewer sees
/// every display rule at once.
pub trait Kind: sealed::Sealed {
    /// The name `Debug` prints around the value: `NAME(<redacted>)`.
    const NAME: &'static str;

    /// True when `value` may be shown as it is, because it holds no secret. Never, unless a kind says otherwise.
    fn may_show(value: &str) -> bool {
        let _ = value;
        false
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Any secret string: a secret access key, a session token, an OIDC token in transit, a MAC key, an API token.
/// `Debug` prints `Secret(<redacted>)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plain {}

/// A signed JWT. `Debug` prints `SecretToken(<redacted>)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jwt {}

/// A PKCS#8 PEM private key. `Debug` prints `PrivateKeyPem(<redacted>)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pem {}

/// A value of `bitbucket-pipelines.yml` that may hold a secret (an image password or AWS key, a pipe, service or
/// input variable). A bare variable reference (`$AWS_SECRET`, `${AWS_SECRET}`) names a secret without holding
/// it, so it is shown: `Sensitive("$AWS_SECRET")`; anything else prints `Sensitive(<redacted>)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipelineValue {}

impl sealed::Sealed for Plain {}
impl sealed::Sealed for Jwt {}
impl sealed::Sealed for Pem {}
impl sealed::Sealed for PipelineValue {}

impl Kind for Plain {
    const NAME: &'static str = "Secret";
}

impl Kind for Jwt {
    const NAME: &'static str = "SecretToken";
}

impl Kind for Pem {
    const NAME: &'static str = "PrivateKeyPem";
}

impl Kind for PipelineValue {
    const NAME: &'static str = "Sensitive";

    fn may_show(value: &str) -> bool {
        is_variable_reference(value)
    }
}

/// True when `value`, trimmed, is one variable reference: `$NAME` or `${NAME}` with `NAME` of ASCII letters,
/// digits and `_` (Bitbucket's variable names), not a literal that happens to contain `$`.
pub(crate) fn is_variable_reference(value: &str) -> bool {
    let s = value.trim();
    let name = s
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .or_else(|| s.strip_prefix('$'));
    name.is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}
