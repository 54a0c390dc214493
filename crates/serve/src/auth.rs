//! Who may call the provider: Forge Remote's invocation token (FIT), a JWT sent as `Authorization: Bearer <FIT>`
//! and verified against a configured issuer, audience (the Forge app ID) and JWKS through `keyless-oidc`; or, for
//! development only, a static bearer secret.
//!
//! Confirmed (Forge Remote essentials): the FIT comes as a bearer token in `authorization`; `iss` is
//! `forge/invocation-token`; `aud` is the app ID `ari:cloud:ecosystem::app/<uuid>`; the keys are at
//! `https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json` (no discovery document); the token has no
//! `sub`; a 401 answer means "JWT validation failed". Chosen: see docs/enforce.md.
//!
//! Tokens and secrets never reach logs or error messages.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode, header};
use keyless_net::jwks::{FetchError, FetcherOptions, RemoteJwksFetcher};
use keyless_oidc::{Secret, VerifyError, VerifyOptions};

use crate::error::ApiError;

/// `iss` of Forge invocation tokens.
pub const FORGE_ISSUER: &str = "forge/invocation-token";
/// Where Forge publishes the keys that sign invocation tokens.
pub const FORGE_JWKS_URL: &str = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json";
/// A development bearer secret must be at least this long.
pub const DEV_SECRET_MIN_LEN: usize = 16;
/// At most one forced JWKS refresh (for a token naming an unknown `kid`) per this interval, so random `kid`s
/// cannot turn requests into fetches.
const FORCED_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Forge invocation token settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgeAuth {
    /// Expected `iss`; [`FORGE_ISSUER`] in production.
    pub issuer: String,
    /// Expected `aud`: the Forge app ID, `ari:cloud:ecosystem::app/<uuid>`.
    pub audience: String,
    /// The JWKS; [`FORGE_JWKS_URL`] in production.
    pub jwks_url: String,
    /// Allow an `http://` JWKS URL (tests against a local key server only).
    pub allow_http: bool,
    /// The Forge installations allowed to call (`--forge-installation-id`): a token whose `app.installationId`
    /// is not one of them is refused with 403. Empty: any installation of the app. Written as the full ARI
    /// (`ari:cloud:ecosystem::installation/<uuid>`) or the bare UUID; never learned from a first request.
    pub installations: Vec<String>,
}

impl ForgeAuth {
    /// Production settings for the app `audience`.
    pub fn for_app(audience: impl Into<String>) -> ForgeAuth {
        ForgeAuth {
            issuer: FORGE_ISSUER.to_string(),
            audience: audience.into(),
            jwks_url: FORGE_JWKS_URL.to_string(),
            allow_http: false,
            installations: Vec::new(),
        }
    }

    /// Whether installation `found` (a token's `app.installationId`) is allowed.
    pub fn installation_allowed(&self, found: Option<&str>) -> bool {
        if self.installations.is_empty() {
            return true;
        }
        let Some(found) = found else {
            return false;
        };
        let key = installation_key(found);
        self.installations
            .iter()
            .any(|allowed| installation_key(allowed) == key)
    }
}

/// The comparable form of an installation ID: its UUID (after `installation/`), lowercase.
fn installation_key(id: &str) -> String {
    let id = id.trim();
    id.rsplit_once("installation/")
        .map_or(id, |(_, uuid)| uuid)
        .to_ascii_lowercase()
}

/// The development bearer secret: a [`Secret`] checked to be usable in a header. `Debug` never shows it.
#[derive(Clone)]
pub struct DevBearerSecret(Secret);

impl std::fmt::Debug for DevBearerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevBearerSecret(<redacted>)")
    }
}

/// Why a development secret is unusable (the operator's input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "the development bearer secret is {0} characters long; use at least {DEV_SECRET_MIN_LEN} random characters (e.g. `openssl rand -hex 32`)"
    )]
    TooShort(usize),
    #[error(
        "the development bearer secret must be printable ASCII without spaces (it travels in an HTTP header)"
    )]
    NotToken,
}

impl DevBearerSecret {
    /// Takes the secret as read from a file or the environment; surrounding whitespace (a trailing newline) is
    /// dropped.
    pub fn new(secret: &str) -> Result<DevBearerSecret, SecretError> {
        let secret = secret.trim();
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SecretError::NotToken);
        }
        if secret.len() < DEV_SECRET_MIN_LEN {
            return Err(SecretError::TooShort(secret.len()));
        }
        Ok(DevBearerSecret(Secret::new(secret)))
    }

    fn matches(&self, presented: &str) -> bool {
        // Constant time in the content, so the secret cannot be guessed byte by byte from response times.
        aws_lc_rs::constant_time::verify_slices_are_equal(
            self.0.expose().as_bytes(),
            presented.as_bytes(),
        )
        .is_ok()
    }
}

/// The caller, once authenticated (for logs; holds no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A verified Forge invocation token.
    Forge {
        /// `app.installationId` (or `app.installation.id`), when present.
        installation: Option<String>,
        /// `app.environment.type` (`DEVELOPMENT`, `STAGING`, `PRODUCTION`), when present.
        environment: Option<String>,
    },
    /// The development bearer secret.
    DevBearer,
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no Authorization header: send `Authorization: Bearer <Forge invocation token>` (Forge Remote does this for the provider's endpoint)"
    )]
    Missing,
    #[error("the Authorization header is not `Bearer <token>`")]
    NotBearer,
    #[error("the bearer token is not the development secret, and Forge tokens are not configured")]
    DevSecretMismatch,
    #[error("the Forge invocation token is invalid: {0}")]
    Token(VerifyError),
    #[error("the token's issuer `{found}` is not `{expected}`")]
    WrongIssuer { found: String, expected: String },
    #[error(
        "the token's audience `{found}` is not this app (`{expected}`); set --forge-app-id to the app ID of the Forge app that calls keyless serve"
    )]
    WrongAudience { found: String, expected: String },
    #[error("cannot fetch the keys that verify Forge invocation tokens: {0}")]
    Jwks(FetchError),
    #[error(
        "the Forge invocation token is for installation `{found}`, which --forge-installation-id does not list; if this installation is yours, add this ID to --forge-installation-id (KEYLESS_FORGE_INSTALLATION_ID)"
    )]
    InstallationNotAllowed { found: String },
}

impl AuthError {
    /// 401, except when our side could not fetch the keys (503: Forge may retry) and for an installation that
    /// is not pinned (403).
    pub fn into_api_error(self) -> ApiError {
        match self {
            AuthError::InstallationNotAllowed { .. } => ApiError::new(
                StatusCode::FORBIDDEN,
                "keyless-unauthorized",
                self.to_string(),
            ),
            AuthError::Jwks(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "keyless-jwks-unavailable",
                self.to_string(),
            ),
            other => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "keyless-unauthorized",
                other.to_string(),
            ),
        }
    }
}

/// Why the authenticator cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error(
        "no authentication configured: give --forge-app-id (Forge invocation tokens) or, for development only, --dev-bearer-secret-file"
    )]
    Nothing,
    #[error("the Forge app ID (token audience) is empty")]
    EmptyAudience,
    #[error("cannot set up the JWKS fetcher: {0}")]
    Fetcher(FetchError),
}

struct ForgeVerifier {
    settings: ForgeAuth,
    fetcher: RemoteJwksFetcher,
    options: VerifyOptions,
    last_forced_refresh: Mutex<Option<Instant>>,
}

/// Checks the `Authorization` header of provider requests.
pub struct Authenticator {
    forge: Option<ForgeVerifier>,
    dev: Option<DevBearerSecret>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("forge", &self.forge.as_ref().map(|v| &v.settings))
            .field("dev_bearer", &self.dev.is_some())
            .finish()
    }
}

impl Authenticator {
    /// At least one of `forge` and `dev` is required.
    pub fn new(
        forge: Option<ForgeAuth>,
        dev: Option<DevBearerSecret>,
    ) -> Result<Authenticator, AuthSetupError> {
        if forge.is_none() && dev.is_none() {
            return Err(AuthSetupError::Nothing);
        }
        let forge = match forge {
            None => None,
            Some(settings) => {
                if settings.audience.trim().is_empty() {
                    return Err(AuthSetupError::EmptyAudience);
                }
                let fetcher = RemoteJwksFetcher::new(FetcherOptions {
                    allow_http: settings.allow_http,
                    ..FetcherOptions::default()
                })
                .map_err(AuthSetupError::Fetcher)?;
                Some(ForgeVerifier {
                    settings,
                    fetcher,
                    options: VerifyOptions {
                        // FITs carry no `sub`.
                        require_subject: false,
                        ..VerifyOptions::default()
                    },
                    last_forced_refresh: Mutex::new(None),
                })
            }
        };
        Ok(Authenticator { forge, dev })
    }

    /// Whether the development secret is accepted (the server warns at start).
    pub fn dev_bearer_enabled(&self) -> bool {
        self.dev.is_some()
    }

    /// Authenticates a request by its headers.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or(AuthError::Missing)?;
        let value = value.to_str().map_err(|_| AuthError::NotBearer)?;
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(AuthError::NotBearer);
        }
        if let Some(dev) = &self.dev
            && dev.matches(token)
        {
            return Ok(Principal::DevBearer);
        }
        match &self.forge {
            Some(forge) => forge.verify(token).await,
            None => Err(AuthError::DevSecretMismatch),
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl ForgeVerifier {
    async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let url = &self.settings.jwks_url;
        let jwks = self.fetcher.jwks_at(url).await.map_err(AuthError::Jwks)?;
        let verified = match keyless_oidc::verify(token, &jwks, now(), &self.options) {
            Err(VerifyError::UnknownKeyId { .. }) if self.may_force_refresh() => {
                // Forge rotated its keys: fetch them again, once.
                let jwks = self
                    .fetcher
                    .refresh_at(url)
                    .await
                    .map_err(AuthError::Jwks)?;
                keyless_oidc::verify(token, &jwks, now(), &self.options)
            }
            other => other,
        }
        .map_err(AuthError::Token)?;
        if verified.issuer != self.settings.issuer {
            return Err(AuthError::WrongIssuer {
                found: verified.issuer.chars().take(200).collect(),
                expected: self.settings.issuer.clone(),
            });
        }
        if !verified.audience.contains(&self.settings.audience) {
            return Err(AuthError::WrongAudience {
                found: verified
                    .audience
                    .iter()
                    .collect::<Vec<_>>()
                    .join(", ")
                    .chars()
                    .take(200)
                    .collect(),
                expected: self.settings.audience.clone(),
            });
        }
        let app = verified.claims.get("app");
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
        let installation = text(app.and_then(|a| a.get("installationId")))
            .or_else(|| text(app.and_then(|a| a.pointer("/installation/id"))));
        if !self.settings.installation_allowed(installation.as_deref()) {
            return Err(AuthError::InstallationNotAllowed {
                found: installation
                    .as_deref()
                    .unwrap_or("(none: the token has no app.installationId)")
                    .chars()
                    .take(200)
                    .collect(),
            });
        }
        Ok(Principal::Forge {
            installation,
            environment: text(app.and_then(|a| a.pointer("/environment/type"))),
        })
    }

    fn may_force_refresh(&self) -> bool {
        let Ok(mut last) = self.last_forced_refresh.lock() else {
            return false;
        };
        match *last {
            Some(at) if at.elapsed() < FORCED_REFRESH_INTERVAL => false,
            _ => {
                *last = Some(Instant::now());
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_bearer_secret_never_shows_in_debug() {
        let secret = DevBearerSecret::new("canary-0123456789abcdef0123456789abcdef\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{secret:?}"), "DevBearerSecret(<redacted>)");
        assert!(secret.matches("canary-0123456789abcdef0123456789abcdef"));
        assert!(!secret.matches("canary"));
    }
}
