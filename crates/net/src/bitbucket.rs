//! The Bitbucket REST API client behind `keyless resolve`: workspace, repository and deployment-environment UUIDs
//! (`GET /2.0/workspaces/{w}`, `GET /2.0/repositories/{w}/{r}`, `GET /2.0/repositories/{w}/{r}/environments`,
//! following `next` links), authenticated with a [`Credential`]. It implements keyless-workspace's [`Directory`],
//! so the edit logic (`keyless_workspace::resolve`) stays pure and is tested without a network.

use std::fmt;
use std::time::Duration;

use keyless_oidc::Secret;
use keyless_workspace::resolve::{Directory, RemoteEnvironment, ResolveError};
use serde::Deserialize;

use crate::http::{HttpClient, HttpConfig};

/// The REST client.
pub struct BitbucketApi {
    base: String,
    credential: Credential,
    http: HttpClient,
}

/// How a request to the Bitbucket API authenticates. Workspace, project and repository access tokens go as
/// `Authorization: Bearer <token>`; an Atlassian API token goes with the account's email as HTTP Basic
/// `email:token` (Bitbucket's REST API authentication docs). App passwords, which also went as Basic
/// `username:app_password`, are being retired (docs/audit.md, "Publishing to Code Insights", gives Atlassian's
/// dates). `Debug` shows the kind and the email, never the token.
#[derive(Clone)]
pub enum Credential {
    /// A workspace, project or repository access token.
    Bearer(Secret),
    /// An Atlassian API token and the email of its account.
    Basic { email: String, token: Secret },
}

impl Credential {
    /// A value as users put it in one variable (`BITBUCKET_TOKEN`): `email:api-token` (an `@` before the first
    /// `:`) is an Atlassian API token sent as Basic; anything else is an access token sent as Bearer (access
    /// tokens hold no `:`).
    pub fn from_value(value: &str) -> Self {
        let value = value.trim();
        match value.split_once(':') {
            Some((email, token)) if email.contains('@') && !token.is_empty() => Credential::Basic {
                email: email.to_owned(),
                token: Secret::new(token),
            },
            _ => Credential::Bearer(Secret::new(value)),
        }
    }

    /// Adds the `Authorization` header (marked sensitive, so reqwest's own `Debug` hides it too).
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Credential::Bearer(token) => request.bearer_auth(token.expose()),
            Credential::Basic { email, token } => request.basic_auth(email, Some(token.expose())),
        }
    }
}

impl From<Secret> for Credential {
    fn from(token: Secret) -> Self {
        Credential::Bearer(token)
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Bearer(token) => f.debug_tuple("Bearer").field(token).finish(),
            Credential::Basic { email, token } => f
                .debug_struct("Basic")
                .field("email", email)
                .field("token", token)
                .finish(),
        }
    }
}

impl BitbucketApi {
    /// `base` is `https://api.bitbucket.org` (or a stub's URL in tests); proxies from the environment.
    pub fn new(base: &str, credential: impl Into<Credential>) -> Result<Self, ResolveError> {
        Self::with_config(
            base,
            credential,
            &HttpConfig::from_env().timeout(Duration::from_secs(30)),
        )
    }

    /// The client with its HTTP settings given (proxies, timeouts, retries).
    pub fn with_config(
        base: &str,
        credential: impl Into<Credential>,
        config: &HttpConfig,
    ) -> Result<Self, ResolveError> {
        let http = HttpClient::new(config).map_err(|e| ResolveError::Transport {
            url: base.to_owned(),
            message: e.to_string(),
        })?;
        Ok(BitbucketApi {
            base: base.trim_end_matches('/').to_owned(),
            credential: credential.into(),
            http,
        })
    }

    async fn get<T: for<'de> Deserialize<'de>>(&self, url: &str) -> Result<T, ResolveError> {
        let request = self
            .credential
            .apply(self.http.get(url))
            .header("Accept", "application/json");
        let response = self
            .http
            .send(request)
            .await
            .map_err(|e| ResolveError::Transport {
                url: url.to_owned(),
                message: crate::error_chain(&e),
            })?;
        let status = response.status().as_u16();
        if status != 200 {
            let hint = match status {
                401 => {
                    "the token was rejected; set BITBUCKET_TOKEN to a workspace or repository access token"
                }
                403 => {
                    "the token lacks a scope; it needs read access to repositories and pipelines (deployments)"
                }
                404 => "not found; check the workspace slug and repository slugs in keyless.yml",
                _ => "unexpected status",
            };
            return Err(ResolveError::Status {
                status,
                url: url.to_owned(),
                hint: hint.to_owned(),
            });
        }
        response
            .json::<T>()
            .await
            .map_err(|e| ResolveError::Transport {
                url: url.to_owned(),
                message: format!("unexpected response: {e}"),
            })
    }
}

#[derive(Deserialize)]
struct HasUuid {
    uuid: String,
}

#[derive(Deserialize)]
struct Page {
    values: Vec<RemoteEnvironment>,
    #[serde(default)]
    next: Option<String>,
}

impl Directory for BitbucketApi {
    async fn workspace_uuid(&self, workspace: &str) -> Result<String, ResolveError> {
        Ok(self
            .get::<HasUuid>(&format!("{}/2.0/workspaces/{workspace}", self.base))
            .await?
            .uuid)
    }

    async fn repository_uuid(
        &self,
        workspace: &str,
        repository: &str,
    ) -> Result<String, ResolveError> {
        Ok(self
            .get::<HasUuid>(&format!(
                "{}/2.0/repositories/{workspace}/{repository}",
                self.base
            ))
            .await?
            .uuid)
    }

    async fn environments(
        &self,
        workspace: &str,
        repository: &str,
    ) -> Result<Vec<RemoteEnvironment>, ResolveError> {
        let mut url = Some(format!(
            "{}/2.0/repositories/{workspace}/{repository}/environments?pagelen=100",
            self.base
        ));
        let mut all = Vec::new();
        let mut pages = 0;
        while let Some(current) = url {
            let page: Page = self.get(&current).await?;
            all.extend(page.values);
            url = page.next;
            pages += 1;
            if pages > 100 {
                break; // a loop in `next` links; 10,000 environments is far beyond any repository
            }
        }
        Ok(all)
    }
}
