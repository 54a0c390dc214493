//! The validated workspace model: what `plan`, `apply`, `check`, enforce and `assume --env` read.

use indexmap::IndexMap;
use ipnet::IpNet;
use keyless_iam::network::{self, AddressClass, Network};

use crate::glob::BranchPattern;
use crate::location::Location;
use crate::policy::Policy;

/// The host and path of Bitbucket's Pipelines OIDC issuer for a workspace, without the scheme.
pub fn issuer_host_path(slug: &str) -> String {
    let issuer = keyless_oidc::workspace_issuer(keyless_oidc::BITBUCKET_API_BASE, slug);
    issuer.trim_start_matches("https://").to_owned()
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
    /// Trust conditions AWS can never satisfy (a private range in `source_ips`, `vpc_source_ips` without an endpoint
    /// or VPC): errors for `plan`, `apply` and `check` ([`Config::check_trust`]), only a logged warning for `render`
    /// and `serve`, whose pipelines a trust-only field must never stop.
    pub trust_problems: Vec<crate::Diagnostic>,
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
        keyless_oidc::workspace_issuer(keyless_oidc::BITBUCKET_API_BASE, &self.slug)
    }

    /// The issuer without `https://`: the IAM provider URL as IAM stores it and the condition-key prefix.
    pub fn issuer_host_path(&self) -> String {
        issuer_host_path(&self.slug)
    }

    /// `ari:cloud:bitbucket::workspace/<uuid without braces>`: the default audience of every token.
    pub fn audience(&self) -> String {
        format!(
            "{}{}",
            keyless_oidc::AUDIENCE_PREFIX,
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
    /// The internet path (`aws:SourceIp`), as written: a refused range stays here (render and serve only warn) and
    /// is in [`Config::trust_problems`]; see [`Environment::public_source_ips`].
    pub source_ips: Vec<IpNet>,
    /// The VPC path: STS interface endpoint IDs (`aws:SourceVpce`).
    pub vpc_endpoints: Vec<String>,
    /// The VPC path: VPC IDs (`aws:SourceVpc`) or VPC ARNs (`aws:SourceVpcArn`).
    pub vpcs: Vec<String>,
    /// The VPC path: private CIDRs of the runners (`aws:VpcSourceIp`).
    pub vpc_source_ips: Vec<IpNet>,
    pub manual: bool,
    pub role: Role,
    pub location: Location,
}

impl Environment {
    /// Whether `branch` may deploy to this environment.
    pub fn allows_branch(&self, branch: &str) -> bool {
        self.branches.iter().any(|pattern| pattern.matches(branch))
    }

    /// Whether `ip` is inside the environment's source CIDRs (always true when no network is set).
    pub fn allows_source_ip(&self, ip: std::net::IpAddr) -> bool {
        self.allows_network(&Network::Internet { source_ip: ip })
    }

    /// The `source_ips` AWS can see (the refused ones dropped).
    pub fn public_source_ips(&self) -> Vec<IpNet> {
        self.source_ips
            .iter()
            .copied()
            .filter(|net| !matches!(network::classify(*net), AddressClass::Refused(_)))
            .collect()
    }

    /// Whether the environment restricts the network at all (either path).
    pub fn has_network_condition(&self) -> bool {
        self.has_internet_path() || self.has_vpc_path()
    }

    /// Whether the role has an internet-path statement (`source_ips`).
    pub fn has_internet_path(&self) -> bool {
        !self.source_ips.is_empty()
    }

    /// Whether the role has a VPC-path statement (`vpc_endpoints` or `vpcs`).
    pub fn has_vpc_path(&self) -> bool {
        !self.vpc_endpoints.is_empty() || !self.vpcs.is_empty()
    }

    /// Only the VPC path: its steps must run where the endpoint is, on self-hosted runners.
    pub fn vpc_only(&self) -> bool {
        self.has_vpc_path() && !self.has_internet_path()
    }

    /// What the configuration means: may a call on `network` assume the role? No network condition allows every
    /// path; otherwise the internet path needs `aws:SourceIp` in a public `source_ips` block, and the VPC path needs
    /// every VPC key that is set to match (endpoint, VPC or VPC ARN, private CIDR).
    pub fn allows_network(&self, network: &Network) -> bool {
        if !self.has_network_condition() {
            return true;
        }
        match network {
            Network::Internet { source_ip } => {
                let ip = source_ip.to_canonical();
                self.public_source_ips().iter().any(|net| net.contains(&ip))
            }
            Network::Vpc(path) => {
                if !self.has_vpc_path() {
                    return false;
                }
                let endpoint_ok = self.vpc_endpoints.is_empty()
                    || path
                        .endpoint
                        .as_ref()
                        .is_some_and(|e| self.vpc_endpoints.contains(e));
                let (ids, arns): (Vec<&String>, Vec<&String>) =
                    self.vpcs.iter().partition(|v| !v.starts_with("arn:"));
                let vpc_ok = (ids.is_empty()
                    || path.vpc.as_ref().is_some_and(|v| ids.contains(&v)))
                    && (arns.is_empty()
                        || path.vpc_arn.as_ref().is_some_and(|v| arns.contains(&v)));
                let ip_ok = self.vpc_source_ips.is_empty()
                    || path.private_ip.is_some_and(|ip| {
                        let ip = ip.to_canonical();
                        self.vpc_source_ips.iter().any(|net| net.contains(&ip))
                    });
                endpoint_ok && vpc_ok && ip_ok
            }
            _ => false,
        }
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
    /// `permissions:`: IAM statements rendered as the inline policy `keyless-permissions`, or the `todo`
    /// placeholder.
    pub permissions: Permissions,
    pub permissions_boundary: Option<String>,
    pub max_session_seconds: u32,
    pub tags: IndexMap<String, String>,
    pub location: Location,
}

impl Role {
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:role{}{}", self.path, self.name)
    }

    /// The inline policies IAM receives: `inline_policies`, plus `permissions:` as `keyless-permissions`.
    pub fn rendered_inline_policies(&self) -> IndexMap<String, serde_json::Value> {
        let mut policies = self.inline_policies.clone();
        if let Permissions::Statements(statements) = &self.permissions {
            policies.insert(
                crate::permissions::PERMISSIONS_POLICY_NAME.to_owned(),
                serde_json::json!({"Version": "2012-10-17", "Statement": statements}),
            );
        }
        policies
    }
}

/// A role's `permissions:`.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Permissions {
    /// Not written: the role has only `managed_policies` and `inline_policies`.
    #[default]
    Absent,
    /// `permissions: todo`: not written yet. `plan` renders the role with a warning, `apply` refuses it, the
    /// audit reports it (`permissions-todo`).
    Todo(Location),
    /// IAM statements, rendered as one inline policy named `keyless-permissions`.
    Statements(Vec<serde_json::Value>),
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
    /// Refuses a configuration whose trust AWS could never satisfy ([`Config::trust_problems`]), with every problem,
    /// its location and fix: what `plan`, `apply` and `check` call before using it.
    pub fn check_trust(&self) -> Result<(), crate::Diagnostics> {
        if self.trust_problems.is_empty() {
            return Ok(());
        }
        Err(crate::Diagnostics {
            origin: self.source.origin.clone(),
            source: self.source.text.clone(),
            items: self.trust_problems.clone(),
        })
    }

    /// [`Config::trust_problems`] as one-line warnings (`file:line:col: message; help`), for `render` and `serve`.
    pub fn trust_warnings(&self) -> Vec<String> {
        self.trust_problems
            .iter()
            .map(|d| {
                let mut line = format!("{}:{}: {}", self.source.origin, d.location, d.message);
                if let Some(help) = &d.help {
                    line.push_str("; ");
                    line.push_str(help);
                }
                line
            })
            .collect()
    }

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
