//! The validated workspace model: what `plan`, `apply`, `check`, enforce and `assume --env` read.

use indexmap::IndexMap;
use ipnet::IpNet;

use crate::glob::BranchPattern;
use crate::location::Location;
use crate::policy::Policy;

/// The host and path of Bitbucket's Pipelines OIDC issuer for a workspace, without the scheme.
pub fn issuer_host_path(slug: &str) -> String {
    format!("api.bitbucket.org/2.0/workspaces/{slug}/pipelines-config/identity/oidc")
}

/// A validated `keyless.yml`.
#[derive(Clone, Debug)]
pub struct Config {
    pub workspace: Workspace,
    /// In file order.
    pub environments: IndexMap<String, Environment>,
    /// In file order.
    pub repositories: IndexMap<String, Repository>,
    /// The validated `policy:` section (`None` when the file has none; the enforce engine then applies
    /// [`Policy::default`]).
    pub policy: Option<Policy>,
    /// The reserved `audit:` section, unvalidated (the audit engine owns its shape).
    pub audit: Option<serde_json::Value>,
    /// Where the file came from and its text, for diagnostics by later consumers.
    pub source: Source,
}

/// The origin (a path or `<input>`) and text of a configuration.
#[derive(Clone, Debug, Default)]
pub struct Source {
    pub origin: String,
    pub text: String,
}

#[derive(Clone, Debug)]
pub struct Workspace {
    pub slug: String,
    /// With braces, lowercase.
    pub uuid: String,
    pub thumbprints: Vec<String>,
}

impl Workspace {
    /// `https://api.bitbucket.org/2.0/workspaces/<slug>/pipelines-config/identity/oidc`.
    pub fn issuer_url(&self) -> String {
        format!("https://{}", issuer_host_path(&self.slug))
    }

    /// The issuer without `https://`: the IAM provider URL as IAM stores it and the condition-key prefix.
    pub fn issuer_host_path(&self) -> String {
        issuer_host_path(&self.slug)
    }

    /// `ari:cloud:bitbucket::workspace/<uuid without braces>`: the default audience of every token.
    pub fn audience(&self) -> String {
        format!(
            "ari:cloud:bitbucket::workspace/{}",
            self.uuid.trim_start_matches('{').trim_end_matches('}')
        )
    }

    /// The ARN of this workspace's IAM OIDC provider in `account`.
    pub fn provider_arn(&self, account: &str) -> String {
        format!(
            "arn:aws:iam::{account}:oidc-provider/{}",
            self.issuer_host_path()
        )
    }
}

#[derive(Clone, Debug)]
pub struct Environment {
    pub name: String,
    pub account: String,
    pub region: String,
    pub branches: Vec<BranchPattern>,
    pub runner_labels: Vec<String>,
    pub source_ips: Vec<IpNet>,
    pub manual: bool,
    pub role: Role,
    pub location: Location,
}

impl Environment {
    /// Whether `branch` may deploy to this environment.
    pub fn allows_branch(&self, branch: &str) -> bool {
        self.branches.iter().any(|pattern| pattern.matches(branch))
    }

    /// Whether `ip` is inside the environment's source CIDRs (always true when none are set).
    pub fn allows_source_ip(&self, ip: std::net::IpAddr) -> bool {
        self.source_ips.is_empty() || self.source_ips.iter().any(|net| net.contains(&ip))
    }

    pub fn role_arn(&self) -> String {
        self.role.arn(&self.account)
    }

    /// Whether its steps run on self-hosted runners (`runners.labels` has `self.hosted`).
    pub fn self_hosted(&self) -> bool {
        self.runner_labels
            .iter()
            .any(|label| label == "self.hosted")
    }
}

/// An IAM role's identity and permissions.
#[derive(Clone, Debug)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub description: Option<String>,
    /// Full ARNs.
    pub managed_policies: Vec<String>,
    /// Name → policy document (JSON).
    pub inline_policies: IndexMap<String, serde_json::Value>,
    pub permissions_boundary: Option<String>,
    pub max_session_seconds: u32,
    pub tags: IndexMap<String, String>,
    pub location: Location,
}

impl Role {
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:role{}{}", self.path, self.name)
    }
}

#[derive(Clone, Debug)]
pub struct Repository {
    pub slug: String,
    /// With braces, lowercase.
    pub uuid: String,
    /// Environment name → deployment-environment UUID (with braces); `None` only with
    /// `dangerously_allow_any_step`.
    pub deployments: IndexMap<String, Option<String>>,
    pub dangerously_allow_any_step: bool,
    pub extra_roles: Vec<ExtraRole>,
    pub location: Location,
}

/// A role for a repository's non-deployment steps.
#[derive(Clone, Debug)]
pub struct ExtraRole {
    pub environment: String,
    pub role: Role,
}

impl Config {
    /// The environment a step with `deployment: <name>` uses, if defined.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.get(name)
    }

    /// All AWS accounts in file order (first appearance), deduplicated.
    pub fn accounts(&self) -> Vec<String> {
        let mut accounts: Vec<String> = Vec::new();
        for environment in self.environments.values() {
            if !accounts.contains(&environment.account) {
                accounts.push(environment.account.clone());
            }
        }
        accounts
    }
}
