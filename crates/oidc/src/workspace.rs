//! `WorkspaceRef`: a Bitbucket workspace, and the issuer URL and default audience derived from it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::BracedUuid;

/// Where Bitbucket Cloud serves every workspace's issuer.
pub const BITBUCKET_API_BASE: &str = "https://api.bitbucket.org";

/// [`BITBUCKET_API_BASE`] without its scheme: how IAM names a provider (`api.bitbucket.org/2.0/workspaces/…`).
pub const BITBUCKET_API_HOST: &str = "api.bitbucket.org";

/// The path between the API base and the workspace slug (bitbucket.md §1.2).
pub const ISSUER_PREFIX: &str = "/2.0/workspaces/";
/// The path after the workspace slug (bitbucket.md §1.2).
pub const ISSUER_SUFFIX: &str = "/pipelines-config/identity/oidc";

/// The prefix of the default audience; the workspace UUID follows without braces (bitbucket.md §1.2).
pub const AUDIENCE_PREFIX: &str = "ari:cloud:bitbucket::workspace/";

/// A Bitbucket workspace: its slug (in URLs and the issuer) and its UUID (in claims and the audience).
///
/// ```
/// use keyless_oidc::WorkspaceRef;
/// let ws = WorkspaceRef::new("acme", "{2e9e429c-5a3b-4c4d-9e2f-0123456789ab}".parse().unwrap()).unwrap();
/// assert_eq!(ws.issuer_url(), "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc");
/// assert_eq!(ws.audience(), "ari:cloud:bitbucket::workspace/2e9e429c-5a3b-4c4d-9e2f-0123456789ab");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WorkspaceRef {
    /// The workspace slug (`BITBUCKET_WORKSPACE`).
    pub slug: String,
    /// The workspace UUID (`workspaceUuid` claim).
    pub uuid: BracedUuid,
    /// The API base the issuer hangs off; `https://api.bitbucket.org` unless an emulator serves its own.
    #[serde(default = "default_base", skip_serializing_if = "is_default_base")]
    pub issuer_base: String,
}

fn default_base() -> String {
    BITBUCKET_API_BASE.to_owned()
}

fn is_default_base(base: &String) -> bool {
    base == BITBUCKET_API_BASE
}

/// Why a workspace slug or issuer base is unusable (the user's input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspaceError {
    /// The slug is empty, too long, or has characters Bitbucket never allows in a workspace ID.
    #[error(
        "`{slug}` is not a Bitbucket workspace slug: use the workspace ID from the URL \
         (bitbucket.org/<workspace>/...), 1 to 62 characters of letters, digits, `-`, `_` and `.`"
    )]
    InvalidSlug {
        /// The rejected slug, truncated to 80 characters.
        slug: String,
    },
    /// The issuer base is not an `http(s)://host[:port]` URL without a path suffix slash.
    #[error(
        "`{base}` is not an issuer base URL: expected `https://host[:port]` (or `http://` for a local emulator) \
         with no trailing slash, query or fragment"
    )]
    InvalidIssuerBase {
        /// The rejected base.
        base: String,
    },
}

impl WorkspaceRef {
    /// The workspace as the real Bitbucket Cloud issues tokens for it.
    pub fn new(slug: impl Into<String>, uuid: BracedUuid) -> Result<Self, WorkspaceError> {
        Self::with_issuer_base(slug, uuid, BITBUCKET_API_BASE)
    }

    /// The workspace served from another API base, e.g. `http://127.0.0.1:4566` for an emulator that does not
    /// impersonate `api.bitbucket.org`. The issuer becomes `<base>/2.0/workspaces/<slug>/pipelines-config/identity/oidc`.
    pub fn with_issuer_base(
        slug: impl Into<String>,
        uuid: BracedUuid,
        base: impl Into<String>,
    ) -> Result<Self, WorkspaceError> {
        let slug = slug.into();
        validate_slug(&slug)?;
        let base = base.into();
        validate_base(&base)?;
        Ok(Self {
            slug,
            uuid,
            issuer_base: base,
        })
    }

    /// `<base>/2.0/workspaces/<slug>/pipelines-config/identity/oidc`, the `iss` claim and the IAM provider URL.
    pub fn issuer_url(&self) -> String {
        workspace_issuer(&self.issuer_base, &self.slug)
    }

    /// `ari:cloud:bitbucket::workspace/<uuid without braces>`, the default `aud`.
    pub fn audience(&self) -> String {
        workspace_audience(&self.uuid)
    }

    /// `<issuer>/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer_url())
    }

    /// `<issuer>/keys.json`, where Bitbucket serves the JWKS.
    pub fn jwks_url(&self) -> String {
        format!("{}/keys.json", self.issuer_url())
    }
}

impl fmt::Display for WorkspaceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.slug, self.uuid)
    }
}

/// `<base>/2.0/workspaces/<slug>/pipelines-config/identity/oidc`: the issuer of a workspace (the one place this
/// string is built; [`WorkspaceRef::issuer_url`] for a validated workspace, [`parse_issuer`] reads one back).
pub fn workspace_issuer(base: &str, slug: &str) -> String {
    format!("{base}{ISSUER_PREFIX}{slug}{ISSUER_SUFFIX}")
}

/// `ari:cloud:bitbucket::workspace/<uuid without braces>`: a workspace's default audience.
pub fn workspace_audience(uuid: &BracedUuid) -> String {
    format!("{AUDIENCE_PREFIX}{}", uuid.unbraced())
}

/// An issuer URL split into its API base and workspace slug; see [`parse_issuer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerParts<'a> {
    /// Everything before `/2.0/workspaces/`, e.g. `https://api.bitbucket.org`.
    pub base: &'a str,
    /// The workspace slug.
    pub slug: &'a str,
}

/// Splits a Bitbucket Pipelines issuer URL (`<base>/2.0/workspaces/<slug>/pipelines-config/identity/oidc`) into base
/// and slug; `None` for anything else, including a trailing slash (issuers are compared byte for byte).
///
/// ```
/// use keyless_oidc::parse_issuer;
/// let parts = parse_issuer("https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc").unwrap();
/// assert_eq!((parts.base, parts.slug), ("https://api.bitbucket.org", "acme"));
/// assert!(parse_issuer("https://token.actions.githubusercontent.com").is_none());
/// ```
pub fn parse_issuer(issuer: &str) -> Option<IssuerParts<'_>> {
    let rest = issuer.strip_suffix(ISSUER_SUFFIX)?;
    let index = rest.find(ISSUER_PREFIX)?;
    let base = &rest[..index];
    let slug = &rest[index + ISSUER_PREFIX.len()..];
    (validate_slug(slug).is_ok() && validate_base(base).is_ok())
        .then_some(IssuerParts { base, slug })
}

fn validate_slug(slug: &str) -> Result<(), WorkspaceError> {
    let ok = (1..=62).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && slug != "."
        && slug != "..";
    if ok {
        Ok(())
    } else {
        Err(WorkspaceError::InvalidSlug {
            slug: slug.chars().take(80).collect(),
        })
    }
}

fn validate_base(base: &str) -> Result<(), WorkspaceError> {
    let rest = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"));
    let ok = rest.is_some_and(|authority| {
        !authority.is_empty()
            && !authority.ends_with('/')
            && !authority.contains(['?', '#', ' ', '@'])
            && !authority.starts_with('/')
    });
    if ok {
        Ok(())
    } else {
        Err(WorkspaceError::InvalidIssuerBase {
            base: base.chars().take(200).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn uuid() -> BracedUuid {
        "{2e9e429c-5a3b-4c4d-9e2f-0123456789ab}".parse().unwrap()
    }

    #[test]
    fn issuer_and_audience_follow_bitbucket() {
        let ws = WorkspaceRef::new("acme-corp", uuid()).unwrap();
        assert_eq!(
            ws.issuer_url(),
            "https://api.bitbucket.org/2.0/workspaces/acme-corp/pipelines-config/identity/oidc"
        );
        assert_eq!(
            ws.audience(),
            "ari:cloud:bitbucket::workspace/2e9e429c-5a3b-4c4d-9e2f-0123456789ab"
        );
        assert_eq!(
            ws.discovery_url(),
            "https://api.bitbucket.org/2.0/workspaces/acme-corp/pipelines-config/identity/oidc/.well-known/openid-configuration"
        );
        assert_eq!(
            ws.jwks_url(),
            "https://api.bitbucket.org/2.0/workspaces/acme-corp/pipelines-config/identity/oidc/keys.json"
        );
    }

    #[test]
    fn custom_base_for_an_emulator() {
        let ws = WorkspaceRef::with_issuer_base("acme", uuid(), "http://127.0.0.1:4566").unwrap();
        assert_eq!(
            ws.issuer_url(),
            "http://127.0.0.1:4566/2.0/workspaces/acme/pipelines-config/identity/oidc"
        );
        assert_eq!(
            ws.audience(),
            "ari:cloud:bitbucket::workspace/2e9e429c-5a3b-4c4d-9e2f-0123456789ab"
        );
        for bad in [
            "127.0.0.1:4566",
            "http://x/",
            "ftp://x",
            "https://",
            "https://a?b",
            "https://u@h",
        ] {
            assert!(
                matches!(
                    WorkspaceRef::with_issuer_base("acme", uuid(), bad),
                    Err(WorkspaceError::InvalidIssuerBase { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn slugs_are_validated() {
        for bad in ["", "a/b", "a b", "..", "x".repeat(63).as_str(), "acme%2f"] {
            let error = WorkspaceRef::new(bad, uuid()).unwrap_err();
            assert!(matches!(error, WorkspaceError::InvalidSlug { .. }), "{bad}");
        }
        for good in ["a", "acme_corp", "acme.corp", "ACME-1"] {
            WorkspaceRef::new(good, uuid()).unwrap();
        }
    }

    #[test]
    fn parse_issuer_round_trips_and_rejects_near_misses() {
        let ws = WorkspaceRef::new("acme", uuid()).unwrap();
        let issuer = ws.issuer_url();
        let parts = parse_issuer(&issuer).unwrap();
        assert_eq!(
            parts,
            IssuerParts {
                base: "https://api.bitbucket.org",
                slug: "acme"
            }
        );
        assert!(parse_issuer(&format!("{issuer}/")).is_none());
        assert!(
            parse_issuer(
                "https://api.bitbucket.org/2.0/workspaces//pipelines-config/identity/oidc"
            )
            .is_none()
        );
        assert!(
            parse_issuer(
                "https://api.bitbucket.org/2.0/workspaces/a/b/pipelines-config/identity/oidc"
            )
            .is_none()
        );
        assert!(
            parse_issuer("api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc")
                .is_none()
        );
    }

    #[test]
    fn serde_skips_the_default_base() {
        let ws = WorkspaceRef::new("acme", uuid()).unwrap();
        let json = serde_json::to_value(&ws).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"slug": "acme", "uuid": "{2e9e429c-5a3b-4c4d-9e2f-0123456789ab}"})
        );
        assert_eq!(serde_json::from_value::<WorkspaceRef>(json).unwrap(), ws);
    }
}
