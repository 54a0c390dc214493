//! `MintRequest` / `MintResponse` (the JSON of the emulator's `POST /_keyless/mint`) and the pure function that
//! turns a request, a clock reading and a random source into Bitbucket-shaped `Claims`.

use serde::{Deserialize, Serialize};

use crate::{Audience, BracedUuid, Claims, SecretToken, Subject, WorkspaceError, WorkspaceRef};

/// Default token lifetime. Bitbucket's is UNCONFIRMED (bitbucket.md §1.4); an hour is what other emulators use.
pub const DEFAULT_LIFETIME_SECONDS: i64 = 3600;
/// Longest lifetime a mint request may ask for (a day).
pub const MAX_LIFETIME_SECONDS: i64 = 86_400;
/// Bitbucket's limits on custom audiences (bitbucket.md §1.1, A-AUD).
pub const MAX_CUSTOM_AUDIENCES: usize = 10;
/// Longest custom audience Bitbucket accepts.
pub const MAX_AUDIENCE_CHARS: usize = 150;

/// The body of `POST /_keyless/mint`. Unset UUIDs are random; `audiences` are custom audiences appended to the
/// workspace audience, as Bitbucket does.
///
/// ```json
/// {"workspace": "acme", "workspace_uuid": "{…}", "repository_uuid": "{…}", "deployment_uuid": "{…}",
///  "branch": "main", "step_uuid": "{…}", "pipeline_uuid": "{…}", "audiences": ["https://vault.example"],
///  "lifetime_seconds": 3600}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// Workspace slug.
    pub workspace: String,
    /// Workspace UUID (braces optional).
    pub workspace_uuid: BracedUuid,
    /// Repository UUID.
    pub repository_uuid: BracedUuid,
    /// Deployment environment UUID: makes a deployment step (`sub = {repo}:{env}:{step}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_uuid: Option<BracedUuid>,
    /// `branchName`; omitted from the token when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Step UUID; random when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_uuid: Option<BracedUuid>,
    /// Pipeline UUID; random when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_uuid: Option<BracedUuid>,
    /// Custom audiences appended to the workspace audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audiences: Option<Vec<String>>,
    /// Seconds from `iat` to `exp`; default 3600, at most 86400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_seconds: Option<i64>,
    /// `iat` in epoch seconds, default now. Lets a test mint a token that has already expired (a past `iat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<i64>,
}

/// The response of `POST /_keyless/mint`: `{"token": "<jwt>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintResponse {
    /// The signed JWT.
    pub token: SecretToken,
}

/// Why a mint request cannot be served (the caller's input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// Bad workspace slug or issuer base.
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// More than 10 custom audiences.
    #[error("{count} custom audiences requested; Bitbucket allows at most {MAX_CUSTOM_AUDIENCES}")]
    TooManyAudiences {
        /// How many were requested.
        count: usize,
    },
    /// An empty or over-long custom audience.
    #[error(
        "custom audience `{audience}` is {chars} characters; Bitbucket allows 1 to {MAX_AUDIENCE_CHARS}"
    )]
    AudienceLength {
        /// The audience, truncated to 200 characters.
        audience: String,
        /// Its length in characters.
        chars: usize,
    },
    /// A lifetime outside 1..=86400 seconds.
    #[error(
        "lifetime {seconds}s is out of range: use 1 second to {MAX_LIFETIME_SECONDS} seconds (24h)"
    )]
    Lifetime {
        /// The requested lifetime.
        seconds: i64,
    },
}

impl MintRequest {
    /// A request for a plain step of `repository_uuid` in the workspace, everything else default.
    pub fn new(
        workspace: impl Into<String>,
        workspace_uuid: BracedUuid,
        repository_uuid: BracedUuid,
    ) -> Self {
        Self {
            workspace: workspace.into(),
            workspace_uuid,
            repository_uuid,
            deployment_uuid: None,
            branch: None,
            step_uuid: None,
            pipeline_uuid: None,
            audiences: None,
            lifetime_seconds: None,
            issued_at: None,
        }
    }

    /// The workspace the token is for, its issuer hanging off `issuer_base` (`https://api.bitbucket.org` to
    /// impersonate Bitbucket).
    pub fn workspace_ref(&self, issuer_base: &str) -> Result<WorkspaceRef, WorkspaceError> {
        WorkspaceRef::with_issuer_base(self.workspace.clone(), self.workspace_uuid, issuer_base)
    }

    /// The claims Bitbucket would put in this step's token: `iss` and `aud` from the workspace, `sub` per the
    /// grammar, unset UUIDs drawn from `rng`, `iat = issued_at or now`, `exp = iat + lifetime`.
    pub fn to_claims(
        &self,
        issuer_base: &str,
        now: i64,
        rng: &mut impl rand::RngCore,
    ) -> Result<Claims, MintError> {
        let workspace = self.workspace_ref(issuer_base)?;
        let custom = self.audiences.as_deref().unwrap_or_default();
        if custom.len() > MAX_CUSTOM_AUDIENCES {
            return Err(MintError::TooManyAudiences {
                count: custom.len(),
            });
        }
        let mut audiences = vec![workspace.audience()];
        for audience in custom {
            let chars = audience.chars().count();
            if chars == 0 || chars > MAX_AUDIENCE_CHARS {
                return Err(MintError::AudienceLength {
                    audience: audience.chars().take(200).collect(),
                    chars,
                });
            }
            if !audiences.contains(audience) {
                audiences.push(audience.clone());
            }
        }
        let lifetime = self.lifetime_seconds.unwrap_or(DEFAULT_LIFETIME_SECONDS);
        if !(1..=MAX_LIFETIME_SECONDS).contains(&lifetime) {
            return Err(MintError::Lifetime { seconds: lifetime });
        }
        let iat = self.issued_at.unwrap_or(now);
        let step = self.step_uuid.unwrap_or_else(|| BracedUuid::random(rng));
        let pipeline = self
            .pipeline_uuid
            .unwrap_or_else(|| BracedUuid::random(rng));
        let pipeline_run = BracedUuid::random(rng);
        let subject = match self.deployment_uuid {
            Some(environment) => Subject::Deployment {
                repository: self.repository_uuid,
                environment,
                step,
            },
            None => Subject::Step {
                repository: self.repository_uuid,
                step,
            },
        };
        Ok(Claims {
            iss: workspace.issuer_url(),
            aud: Audience::from_values(audiences),
            sub: subject.to_string(),
            iat,
            exp: iat.saturating_add(lifetime),
            nbf: None,
            workspace_uuid: Some(self.workspace_uuid),
            repository_uuid: Some(self.repository_uuid),
            pipeline_uuid: Some(pipeline),
            step_uuid: Some(step),
            branch_name: self.branch.clone(),
            deployment_environment_uuid: self.deployment_uuid,
            pipeline_run_uuid: Some(pipeline_run),
            extra: serde_json::Map::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rand::SeedableRng;
    use serde_json::json;

    use super::*;
    use crate::BITBUCKET_API_BASE;

    const WS: &str = "{44444444-4444-4444-8444-444444444444}";
    const REPO: &str = "{11111111-1111-4111-8111-111111111111}";
    const ENV: &str = "{22222222-2222-4222-8222-222222222222}";
    const STEP: &str = "{33333333-3333-4333-8333-333333333333}";

    fn request() -> MintRequest {
        MintRequest::new("acme", WS.parse().unwrap(), REPO.parse().unwrap())
    }

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(1)
    }

    #[test]
    fn default_request_makes_a_step_token_for_an_hour() {
        let claims = request()
            .to_claims(BITBUCKET_API_BASE, 1_700_000_000, &mut rng())
            .unwrap();
        assert_eq!(
            claims.iss,
            "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"
        );
        assert_eq!(
            claims.aud,
            Audience::One(
                "ari:cloud:bitbucket::workspace/44444444-4444-4444-8444-444444444444".into()
            )
        );
        assert_eq!((claims.iat, claims.exp), (1_700_000_000, 1_700_003_600));
        let step = claims.step_uuid.unwrap();
        assert_eq!(claims.sub, format!("{REPO}:{step}"));
        assert!(matches!(claims.subject().unwrap(), Subject::Step { .. }));
        assert_eq!(claims.workspace_uuid.unwrap().to_string(), WS);
        assert_eq!(claims.branch_name, None);
        assert_eq!(claims.deployment_environment_uuid, None);
        let pipeline = claims.pipeline_uuid.unwrap();
        assert_ne!(pipeline, step);
        assert_ne!(claims.pipeline_run_uuid.unwrap(), pipeline);
        // Unset UUIDs come from the rng: a different seed gives different UUIDs.
        let other = request()
            .to_claims(
                BITBUCKET_API_BASE,
                0,
                &mut rand::rngs::StdRng::seed_from_u64(2),
            )
            .unwrap();
        assert_ne!(other.step_uuid.unwrap(), step);
    }

    #[test]
    fn deployment_custom_audiences_and_given_uuids() {
        let mut request = request();
        request.deployment_uuid = Some(ENV.parse().unwrap());
        request.step_uuid = Some(STEP.parse().unwrap());
        request.branch = Some("main".into());
        request.audiences = Some(vec![
            "https://vault.example".into(),
            "https://vault.example".into(),
        ]);
        request.lifetime_seconds = Some(60);
        let claims = request
            .to_claims(BITBUCKET_API_BASE, 100, &mut rng())
            .unwrap();
        assert_eq!(claims.sub, format!("{REPO}:{ENV}:{STEP}"));
        assert_eq!(claims.deployment_environment_uuid.unwrap().to_string(), ENV);
        assert_eq!(claims.branch_name.as_deref(), Some("main"));
        assert_eq!(claims.exp, 160);
        assert_eq!(
            serde_json::to_value(&claims.aud).unwrap(),
            json!([
                "ari:cloud:bitbucket::workspace/44444444-4444-4444-8444-444444444444",
                "https://vault.example"
            ])
        );
    }

    #[test]
    fn custom_issuer_base_and_backdated_tokens() {
        let mut request = request();
        request.issued_at = Some(10);
        let claims = request
            .to_claims("http://127.0.0.1:4566", 1_000_000, &mut rng())
            .unwrap();
        assert_eq!(
            claims.iss,
            "http://127.0.0.1:4566/2.0/workspaces/acme/pipelines-config/identity/oidc"
        );
        assert_eq!((claims.iat, claims.exp), (10, 3610));
    }

    #[test]
    fn limits_are_enforced() {
        let mut too_many = request();
        too_many.audiences = Some((0..11).map(|i| format!("aud{i}")).collect());
        assert_eq!(
            too_many
                .to_claims(BITBUCKET_API_BASE, 0, &mut rng())
                .unwrap_err(),
            MintError::TooManyAudiences { count: 11 }
        );
        let mut too_long = request();
        too_long.audiences = Some(vec!["x".repeat(151)]);
        assert!(matches!(
            too_long
                .to_claims(BITBUCKET_API_BASE, 0, &mut rng())
                .unwrap_err(),
            MintError::AudienceLength { chars: 151, .. }
        ));
        let mut empty = request();
        empty.audiences = Some(vec![String::new()]);
        assert!(matches!(
            empty
                .to_claims(BITBUCKET_API_BASE, 0, &mut rng())
                .unwrap_err(),
            MintError::AudienceLength { chars: 0, .. }
        ));
        for seconds in [0, -5, 86_401] {
            let mut request = request();
            request.lifetime_seconds = Some(seconds);
            assert_eq!(
                request
                    .to_claims(BITBUCKET_API_BASE, 0, &mut rng())
                    .unwrap_err(),
                MintError::Lifetime { seconds }
            );
        }
        let mut bad_slug = request();
        bad_slug.workspace = "a/b".into();
        assert!(matches!(
            bad_slug
                .to_claims(BITBUCKET_API_BASE, 0, &mut rng())
                .unwrap_err(),
            MintError::Workspace(_)
        ));
    }

    #[test]
    fn request_json_shape_is_frozen() {
        let body = json!({
            "workspace": "acme",
            "workspace_uuid": "44444444-4444-4444-8444-444444444444",
            "repository_uuid": REPO,
            "deployment_uuid": ENV,
            "branch": "main",
            "step_uuid": STEP,
            "pipeline_uuid": STEP,
            "audiences": ["a"],
            "lifetime_seconds": 60,
            "issued_at": 5
        });
        let request: MintRequest = serde_json::from_value(body).unwrap();
        assert_eq!(request.workspace_uuid.to_string(), WS);
        assert!(
            serde_json::from_value::<MintRequest>(json!({"workspace": "a", "workspace_uuid": WS}))
                .is_err()
        );
        let unknown =
            json!({"workspace": "a", "workspace_uuid": WS, "repository_uuid": REPO, "repo": "x"});
        assert!(
            serde_json::from_value::<MintRequest>(unknown)
                .unwrap_err()
                .to_string()
                .contains("unknown field")
        );
        let response: MintResponse = serde_json::from_value(json!({"token": "a.b.c"})).unwrap();
        assert_eq!(response.token.expose(), "a.b.c");
    }
}
