//! The trust plan: from a validated [`Config`], every IAM OIDC provider and role that must exist, per AWS account,
//! with each role's exact trust policy.
//!
//! Trust-policy rules (docs/plan.md):
//! - `Principal.Federated` = the workspace's provider ARN in the role's account;
//! - `StringEquals` on `<issuer>:aud` = the workspace audience (never a set operator: `ForAllValues` passes when
//!   the claim is absent);
//! - `StringLike` on `<issuer>:sub` listing exactly the `{repo}:{env}:*` pairs that deploy to the environment
//!   (`{repo}:*` only for `dangerously_allow_any_step` repositories without a deployment UUID);
//! - the network (docs/config.md, "Runner networks"): the internet path (`source_ips` → `IpAddress` on
//!   `aws:SourceIp`) and the VPC path (`vpc_endpoints` → `aws:SourceVpce`, `vpcs` → `aws:SourceVpc` or
//!   `ArnEquals aws:SourceVpcArn`, `vpc_source_ips` → `IpAddress aws:VpcSourceIp`, ANDed) each get an Allow
//!   statement of their own (`Bitbucket<Env>` and `Bitbucket<Env>Vpc`), so either is enough;
//! - extra roles: `StringLike` `{repo}:*` and `StringNotLike` `{repo}:*:*`, so only the repository's steps without
//!   a deployment match.

use indexmap::IndexMap;
use keyless_iam::network;
use serde::Serialize;
use serde_json::{Value, json};

use crate::location::Location;
use crate::model::{Config, Role};

/// IAM's default quota for a role trust policy, in characters excluding whitespace.
pub const TRUST_POLICY_QUOTA: usize = 2048;
/// The tag marking roles keyless manages.
pub const MANAGED_TAG: &str = "managed-by";
/// The tag naming the workspace a keyless-managed role belongs to.
pub const WORKSPACE_TAG: &str = "keyless-workspace";

/// Everything that must exist in AWS.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub workspace: String,
    pub issuer: String,
    pub audience: String,
    pub accounts: Vec<AccountPlan>,
}

/// One AWS account's provider and roles.
#[derive(Clone, Debug, Serialize)]
pub struct AccountPlan {
    pub account: String,
    pub provider: ProviderPlan,
    pub roles: Vec<RolePlan>,
}

/// The workspace's IAM OIDC provider in one account.
#[derive(Clone, Debug, Serialize)]
pub struct ProviderPlan {
    /// With `https://`.
    pub url: String,
    pub arn: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
}

/// Why a role exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoleKind {
    /// The role of a deployment environment.
    Environment { environment: String },
    /// An extra role for a repository's non-deployment steps.
    Extra {
        repository: String,
        environment: String,
    },
}

/// One IAM role.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RolePlan {
    pub name: String,
    pub path: String,
    pub arn: String,
    #[serde(flatten)]
    pub kind: RoleKind,
    pub region: String,
    pub description: String,
    pub trust_policy: Value,
    /// The `sub` patterns the trust policy allows (also inside `trust_policy`).
    pub subjects: Vec<String>,
    pub max_session_duration: u32,
    pub managed_policies: Vec<String>,
    /// `inline_policies`, and `permissions:` as `keyless-permissions`.
    pub inline_policies: IndexMap<String, Value>,
    /// `permissions: todo`: the role's permissions are not written yet (`apply` refuses the plan).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub permissions_todo: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    pub tags: IndexMap<String, String>,
    /// Whether the trust uses `{repo}:*` for some repository (`dangerously_allow_any_step`).
    pub any_step: bool,
    #[serde(skip)]
    pub location: Location,
}

impl RolePlan {
    /// The trust policy as compact JSON, as sent to IAM.
    pub fn trust_policy_text(&self) -> String {
        serde_json::to_string(&self.trust_policy).unwrap_or_default()
    }
}

/// A plan that cannot be deployed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The user's configuration asks for network conditions AWS can never satisfy ([`Config::trust_problems`]).
    #[error("{0}")]
    Network(crate::Diagnostics),
    /// The user's configuration produces a trust policy over IAM's quota.
    #[error(transparent)]
    TrustPolicyTooLarge(Box<TrustPolicyTooLarge>),
}

/// A trust policy over IAM's quota, with how to split it.
#[derive(Debug, thiserror::Error)]
#[error(
    "the trust policy of role `{role}` (account {account}) is {size} characters excluding whitespace, over IAM's {quota}-character quota ({subjects} `sub` patterns)\n  --> {origin}:{location}\n  = help: split the environment: define a second environment in the same account (e.g. `{environment}-2`) and move repositories to it (about {fit} patterns fit in one role), or ask AWS to raise the quota to 4096"
)]
pub struct TrustPolicyTooLarge {
    pub role: String,
    pub account: String,
    pub environment: String,
    pub size: usize,
    pub quota: usize,
    pub subjects: usize,
    pub fit: usize,
    pub origin: String,
    pub location: Location,
}

/// Build the plan for `config`, failing when AWS could never satisfy its network conditions or a trust policy
/// would exceed IAM's quota.
pub fn plan(config: &Config) -> Result<Plan, PlanError> {
    config.check_trust().map_err(PlanError::Network)?;
    build(config, true)
}

/// Build the plan without the network and quota checks: `keyless check` still proves who could assume what when
/// a trust policy is too large to deploy (plan and apply report that).
pub fn plan_unchecked(config: &Config) -> Plan {
    match build(config, false) {
        Ok(plan) => plan,
        Err(_) => unreachable!("the only plan error is the quota check, which is off"),
    }
}

fn build(config: &Config, enforce_quota: bool) -> Result<Plan, PlanError> {
    let workspace = &config.workspace;
    let prefix = workspace.issuer_host_path();
    let audience = workspace.audience();
    let mut accounts: Vec<AccountPlan> = config
        .accounts()
        .into_iter()
        .map(|account| AccountPlan {
            provider: ProviderPlan {
                url: workspace.issuer_url(),
                arn: workspace.provider_arn(&account),
                client_ids: vec![audience.clone()],
                thumbprints: workspace.thumbprints.clone(),
            },
            account,
            roles: Vec::new(),
        })
        .collect();

    for environment in config.environments.values() {
        let mut subjects = Vec::new();
        let mut any_step = false;
        for repo in config.repositories.values() {
            match repo.deployments.get(&environment.name) {
                Some(Some(deployment)) => subjects.push(format!("{}:{}:*", repo.uuid, deployment)),
                Some(None) => {
                    any_step = true;
                    subjects.push(format!("{}:*", repo.uuid));
                }
                None => {}
            }
        }
        let provider_arn = workspace.provider_arn(&environment.account);
        let identity = |extra_equals: Vec<(&str, Vec<String>)>| {
            let mut equals = serde_json::Map::new();
            equals.insert(format!("{prefix}:aud"), json!(audience));
            for (key, values) in extra_equals {
                equals.insert(key.to_owned(), json!(values));
            }
            let mut condition = serde_json::Map::new();
            condition.insert("StringEquals".into(), Value::Object(equals));
            condition.insert(
                "StringLike".into(),
                json!({ format!("{prefix}:sub"): subjects }),
            );
            condition
        };
        let texts = |nets: &[ipnet::IpNet]| -> Vec<String> {
            nets.iter().map(ToString::to_string).collect()
        };
        let mut statements = Vec::new();
        // The internet path and the VPC path are separate Allow statements, so either is enough: AWS sets
        // `aws:SourceIp` only for calls over the internet and the VPC keys only for calls through an interface
        // endpoint, never both (IAMUG reference_sts_vpc_condition_keys_federated).
        if environment.has_internet_path() || !environment.has_vpc_path() {
            let mut condition = identity(Vec::new());
            if environment.has_internet_path() {
                condition.insert(
                    "IpAddress".into(),
                    json!({ network::SOURCE_IP: texts(&environment.source_ips) }),
                );
            }
            statements.push(statement(
                &provider_arn,
                &sid(&environment.name),
                Value::Object(condition),
            ));
        }
        if environment.has_vpc_path() {
            let (vpc_ids, vpc_arns): (Vec<String>, Vec<String>) = environment
                .vpcs
                .iter()
                .cloned()
                .partition(|v| !v.starts_with("arn:"));
            let mut equals = Vec::new();
            if !environment.vpc_endpoints.is_empty() {
                equals.push((network::SOURCE_VPCE, environment.vpc_endpoints.clone()));
            }
            if !vpc_ids.is_empty() {
                equals.push((network::SOURCE_VPC, vpc_ids));
            }
            let mut condition = identity(equals);
            if !vpc_arns.is_empty() {
                condition.insert(
                    "ArnEquals".into(),
                    json!({ network::SOURCE_VPC_ARN: vpc_arns }),
                );
            }
            if !environment.vpc_source_ips.is_empty() {
                condition.insert(
                    "IpAddress".into(),
                    json!({ network::VPC_SOURCE_IP: texts(&environment.vpc_source_ips) }),
                );
            }
            statements.push(statement(
                &provider_arn,
                &format!("{}Vpc", sid(&environment.name)),
                Value::Object(condition),
            ));
        }
        let trust_policy = json!({ "Version": "2012-10-17", "Statement": statements });
        let description = environment.role.description.clone().unwrap_or_else(|| {
            format!(
                "Bitbucket Pipelines deployments to `{}` from workspace {} (managed by keyless)",
                environment.name, workspace.slug
            )
        });
        let role = role_plan(
            &environment.role,
            &environment.account,
            RoleKind::Environment {
                environment: environment.name.clone(),
            },
            &environment.region,
            description,
            trust_policy,
            subjects,
            any_step,
        );
        if enforce_quota {
            check_size(config, &role, &environment.account, &environment.name)?;
        }
        push_role(
            &mut accounts,
            &environment.account,
            tag_workspace(role, &workspace.slug),
        );
    }

    for repo in config.repositories.values() {
        for extra in &repo.extra_roles {
            let Some(environment) = config.environments.get(&extra.environment) else {
                continue;
            };
            let provider_arn = workspace.provider_arn(&environment.account);
            let subject = format!("{}:*", repo.uuid);
            let condition = json!({
                "StringEquals": { format!("{prefix}:aud"): audience },
                "StringLike": { format!("{prefix}:sub"): [subject] },
                "StringNotLike": { format!("{prefix}:sub"): [format!("{}:*:*", repo.uuid)] },
            });
            let trust_policy = trust_document(
                &provider_arn,
                &sid(&format!("{}-steps", repo.slug)),
                condition,
            );
            let description = extra.role.description.clone().unwrap_or_else(|| {
                format!(
                    "Non-deployment steps of Bitbucket repository {}/{} (managed by keyless)",
                    workspace.slug, repo.slug
                )
            });
            let role = role_plan(
                &extra.role,
                &environment.account,
                RoleKind::Extra {
                    repository: repo.slug.clone(),
                    environment: environment.name.clone(),
                },
                &environment.region,
                description,
                trust_policy,
                vec![subject],
                false,
            );
            if enforce_quota {
                check_size(config, &role, &environment.account, &environment.name)?;
            }
            push_role(
                &mut accounts,
                &environment.account,
                tag_workspace(role, &workspace.slug),
            );
        }
    }

    Ok(Plan {
        workspace: workspace.slug.clone(),
        issuer: workspace.issuer_url(),
        audience,
        accounts,
    })
}

/// A statement ID from a name: IAM allows only `[A-Za-z0-9]`.
fn sid(name: &str) -> String {
    let mut out = String::from("Bitbucket");
    let mut upper = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

fn trust_document(provider_arn: &str, sid: &str, condition: Value) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [statement(provider_arn, sid, condition)],
    })
}

/// One Allow statement for the workspace's provider.
fn statement(provider_arn: &str, sid: &str, condition: Value) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": { "Federated": provider_arn },
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    })
}

#[allow(clippy::too_many_arguments)]
fn role_plan(
    role: &Role,
    account: &str,
    kind: RoleKind,
    region: &str,
    description: String,
    trust_policy: Value,
    subjects: Vec<String>,
    any_step: bool,
) -> RolePlan {
    let mut tags = role.tags.clone();
    tags.entry(MANAGED_TAG.to_owned())
        .or_insert_with(|| "keyless".to_owned());
    RolePlan {
        name: role.name.clone(),
        path: role.path.clone(),
        arn: role.arn(account),
        kind,
        region: region.to_owned(),
        description,
        trust_policy,
        subjects,
        max_session_duration: role.max_session_seconds,
        managed_policies: role.managed_policies.clone(),
        inline_policies: role.rendered_inline_policies(),
        permissions_todo: matches!(role.permissions, crate::model::Permissions::Todo(_)),
        permissions_boundary: role.permissions_boundary.clone(),
        tags,
        any_step,
        location: role.location,
    }
}

/// Tag the role with its workspace, so `apply --prune` only ever deletes roles of this workspace.
fn tag_workspace(mut role: RolePlan, slug: &str) -> RolePlan {
    role.tags
        .entry(WORKSPACE_TAG.to_owned())
        .or_insert_with(|| slug.to_owned());
    role
}

fn push_role(accounts: &mut [AccountPlan], account: &str, role: RolePlan) {
    if let Some(plan) = accounts.iter_mut().find(|plan| plan.account == account) {
        plan.roles.push(role);
    }
}

fn check_size(
    config: &Config,
    role: &RolePlan,
    account: &str,
    environment: &str,
) -> Result<(), PlanError> {
    let size = keyless_iam::size_excluding_whitespace(&role.trust_policy_text());
    if size <= TRUST_POLICY_QUOTA {
        return Ok(());
    }
    let per_subject = role.subjects.first().map_or(1, |s| s.len() + 3);
    let overhead = size.saturating_sub(role.subjects.iter().map(|s| s.len() + 3).sum::<usize>());
    Err(PlanError::TrustPolicyTooLarge(Box::new(
        TrustPolicyTooLarge {
            role: role.name.clone(),
            account: account.to_owned(),
            environment: environment.to_owned(),
            size,
            quota: TRUST_POLICY_QUOTA,
            subjects: role.subjects.len(),
            fit: TRUST_POLICY_QUOTA.saturating_sub(overhead) / per_subject.max(1),
            origin: config.source.origin.clone(),
            location: role.location,
        },
    )))
}

/// STS's decision, offline, on a token for a role the plan manages: the planned trust policy against the planned
/// OIDC provider of the role's account, through `keyless_iam::sts::decide` (the emulator's decision). `None` when
/// the plan has no role with this ARN.
pub fn decide_for_role(
    plan: &Plan,
    role_arn: &str,
    claims: &serde_json::Map<String, Value>,
    context: &keyless_iam::sts::RequestContext<'_>,
) -> Option<RoleDecision> {
    let (account, role) = plan
        .accounts
        .iter()
        .find_map(|a| a.roles.iter().find(|r| r.arn == role_arn).map(|r| (a, r)))?;
    let policy = keyless_iam::parse(&role.trust_policy_text()).ok()?;
    let providers: Vec<keyless_iam::sts::Provider> =
        keyless_iam::arn::ProviderArn::parse(&account.provider.arn)
            .ok()
            .map(|arn| {
                keyless_iam::sts::Provider::new(arn, Some(account.provider.client_ids.clone()))
            })
            .into_iter()
            .collect();
    let decision = keyless_iam::sts::decide(&providers, &policy, claims, context);
    Some(RoleDecision {
        role_arn: role.arn.clone(),
        policy,
        decision,
    })
}

/// [`decide_for_role`]'s answer: the role, its planned trust policy and STS's decision.
#[derive(Debug, Clone)]
pub struct RoleDecision {
    pub role_arn: String,
    pub policy: keyless_iam::PolicyDocument,
    pub decision: keyless_iam::sts::Decision,
}

impl RoleDecision {
    /// STS's verdict and why, in one paragraph.
    pub fn explain(&self) -> String {
        self.decision.explain(&self.policy)
    }
}
