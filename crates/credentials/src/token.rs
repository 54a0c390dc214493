//! The step's OIDC token: where it came from, and the non-secret facts diagnosis needs (`iss`, `aud`, `sub`,
//! expiry). The token itself stays a [`Secret`].

use std::fmt;
use std::path::PathBuf;

use crate::Secret;

/// Where the token was read from (shown in messages; never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `--token-file PATH` (or `KEYLESS_TOKEN_FILE`).
    File(PathBuf),
    /// An environment variable, normally `BITBUCKET_STEP_OIDC_TOKEN`.
    EnvVar(String),
    /// `AWS_WEB_IDENTITY_TOKEN_FILE`, as the common boilerplate sets it.
    WebIdentityTokenFile(PathBuf),
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "--token-file {}", path.display()),
            Self::EnvVar(name) => write!(f, "${name}"),
            Self::WebIdentityTokenFile(path) => {
                write!(f, "AWS_WEB_IDENTITY_TOKEN_FILE={}", path.display())
            }
        }
    }
}

/// The claims keyless uses to explain AWS's answers. Decoded without verifying the signature: AWS verifies;
/// keyless only explains.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenInfo {
    /// `iss`.
    pub iss: Option<String>,
    /// `aud`, one entry per audience (Bitbucket sends an array when the step adds custom audiences).
    pub aud: Vec<String>,
    /// `aud` was a JSON array.
    pub aud_is_array: bool,
    /// `sub`.
    pub sub: Option<String>,
    /// `exp`, Unix seconds.
    pub exp: Option<i64>,
    /// `iat`, Unix seconds.
    pub iat: Option<i64>,
    /// `deploymentEnvironmentUuid`, present on deployment steps.
    pub deployment_environment_uuid: Option<String>,
    /// `repositoryUuid`.
    pub repository_uuid: Option<String>,
}

/// Why a token could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three dot-separated parts, or the parts are not base64url JSON.
    #[error(
        "the token is not a JWT ({0}); it should be the value of $BITBUCKET_STEP_OIDC_TOKEN, unmodified"
    )]
    Malformed(String),
}

impl TokenInfo {
    /// Decodes the claims of a JWT without verifying it.
    pub fn decode(token: &Secret) -> Result<Self, TokenError> {
        let decoded = keyless_oidc::decode_unverified(token.expose())
            .map_err(|e| TokenError::Malformed(e.to_string()))?;
        Ok(Self::from_claims_json(&serde_json::Value::Object(
            decoded.claims,
        )))
    }

    /// Builds the info from a claims object.
    pub fn from_claims_json(claims: &serde_json::Value) -> Self {
        let str_of = |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let int_of = |k: &str| {
            claims.get(k).and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_f64().map(|f| f as i64))
                    .or_else(|| v.as_str()?.parse().ok())
            })
        };
        let (aud, aud_is_array) = match claims.get("aud") {
            Some(serde_json::Value::String(s)) => (vec![s.clone()], false),
            Some(serde_json::Value::Array(items)) => (
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                true,
            ),
            _ => (Vec::new(), false),
        };
        Self {
            iss: str_of("iss"),
            aud,
            aud_is_array,
            sub: str_of("sub"),
            exp: int_of("exp"),
            iat: int_of("iat"),
            deployment_environment_uuid: str_of("deploymentEnvironmentUuid"),
            repository_uuid: str_of("repositoryUuid"),
        }
    }

    /// `iss` without `https://`: the IAM provider URL and condition-key prefix.
    pub fn provider_host_path(&self) -> Option<&str> {
        self.iss
            .as_deref()
            .map(|iss| iss.strip_prefix("https://").unwrap_or(iss))
    }

    /// The workspace slug from a Bitbucket issuer `https://api.bitbucket.org/2.0/workspaces/<slug>/pipelines-config/identity/oidc`.
    pub fn workspace_slug(&self) -> Option<&str> {
        let rest = self
            .iss
            .as_deref()?
            .split(keyless_oidc::ISSUER_PREFIX)
            .nth(1)?;
        rest.split('/').next().filter(|s| !s.is_empty())
    }

    /// Seconds until expiry (negative when expired).
    pub fn expires_in(&self, now_unix: i64) -> Option<i64> {
        self.exp.map(|exp| exp - now_unix)
    }

    /// `aud` rendered for messages.
    pub fn aud_display(&self) -> String {
        match (self.aud.as_slice(), self.aud_is_array) {
            ([], _) => "(none)".to_owned(),
            ([one], false) => format!("`{one}`"),
            (many, _) => format!(
                "[{}]",
                many.iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// One line with iss, aud and sub, for error messages.
    pub fn summary(&self) -> String {
        format!(
            "iss `{}`, aud {}, sub `{}`",
            self.iss.as_deref().unwrap_or("(none)"),
            self.aud_display(),
            self.sub.as_deref().unwrap_or("(none)")
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::Engine as _;

    /// An unsigned test JWT with the given claims.
    pub(crate) fn jwt(claims: &serde_json::Value) -> Secret {
        let enc = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        Secret::new(format!(
            "{}.{}.c2ln",
            enc(&serde_json::json!({"alg":"RS256","typ":"JWT"})),
            enc(claims)
        ))
    }

    #[test]
    fn decodes_bitbucket_claims() {
        let token = jwt(&serde_json::json!({
            "iss": "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
            "aud": ["ari:cloud:bitbucket::workspace/1234", "https://x"],
            "sub": "{r}:{e}:{s}", "exp": 2000, "iat": 1000, "deploymentEnvironmentUuid": "{e}"
        }));
        let info = TokenInfo::decode(&token).unwrap();
        assert_eq!(info.workspace_slug(), Some("acme"));
        assert!(info.aud_is_array);
        assert_eq!(info.aud.len(), 2);
        assert_eq!(info.expires_in(1500), Some(500));
        assert_eq!(
            info.provider_host_path(),
            Some("api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc")
        );
        assert!(info.summary().contains("sub `{r}:{e}:{s}`"));
    }

    #[test]
    fn rejects_non_jwts() {
        assert!(TokenInfo::decode(&Secret::new("not-a-jwt")).is_err());
        assert!(TokenInfo::decode(&Secret::new("a.b.c")).is_err());
    }
}
