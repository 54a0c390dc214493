//! The Bitbucket REST API client behind `keyless resolve`: workspace, repository and deployment-environment UUIDs
//! (`GET /2.0/workspaces/{w}`, `GET /2.0/repositories/{w}/{r}`, `GET /2.0/repositories/{w}/{r}/environments`,
//! following `next` links), authenticated with a bearer token. It implements keyless-workspace's [`Directory`], so
//! the edit logic (`keyless_workspace::resolve`) stays pure and is tested without a network.

use std::fmt;

use keyless_workspace::resolve::{Directory, RemoteEnvironment, ResolveError};
use serde::Deserialize;

/// The REST client.
pub struct BitbucketApi {
    base: String,
    token: Secret,
    http: reqwest::Client,
}

/// A token whose Debug and Display never show it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl BitbucketApi {
    /// `base` is `https://api.bitbucket.org` (or a stub's URL in tests).
    pub fn new(base: &str, token: Secret) -> Result<Self, ResolveError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| ResolveError::Transport {
                url: base.to_owned(),
                message: e.to_string(),
            })?;
        Ok(BitbucketApi {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    async fn get<T: for<'de> Deserialize<'de>>(&self, url: &str) -> Result<T, ResolveError> {
        let response = self
            .http
            .get(url)
            .bearer_auth(&self.token.0)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| ResolveError::Transport {
                url: url.to_owned(),
                message: e.to_string(),
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
