//! The who-can-assume-what matrix behind `keyless check`.
//!
//! Scenarios come from the config: every repository × each of its deployment environments plus "no
//! deployment" × an allowed and a disallowed branch × each network: over the internet from outside every
//! `source_ips` block and from inside each, through each environment's VPC endpoint, and through another VPC's;
//! plus adversaries (an unknown repository of the workspace, another workspace's token, a token with the GitHub
//! audience). For each scenario and each role, the AWS verdict is what STS would answer
//! for the token the emulator would mint (`keyless_oidc::MintRequest`): the issuer must match a provider in
//! the role's account, the audience must be one of its client IDs, and the trust policy is evaluated by
//! `keyless_iam`. The pipeline verdict comes from a [`PipelineJudge`] (the enforce engine), `n/a` without one.
//!
//! A scenario is *unintended* when AWS allows it, the pipeline layer does not deny it, and the config does not
//! intend it. AWS cannot see branches (`sub` has none), so a disallowed branch is only stopped by the pipeline
//! layer: without a judge (`keyless check --aws-only`), those paths count as unintended.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use keyless_iam::arn::ProviderArn;
use keyless_iam::network::{Network, VpcPath};
use keyless_iam::sts;
use keyless_oidc::{BracedUuid, MintRequest};
use rand::SeedableRng;
use serde::Serialize;
use time::OffsetDateTime;

use crate::glob::disallowed_example;
use crate::model::Config;
use crate::plan::{Plan, RoleKind};

/// The issuer base Bitbucket (and the emulator, by default) uses.
const ISSUER_BASE: &str = "https://api.bitbucket.org";
/// A public address outside every `source_ips` block (TEST-NET-2, RFC 5737).
const OUTSIDE_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
/// The VPC path from outside every configured VPC: another endpoint, another VPC, another private address.
const OUTSIDE_VPCE: &str = "vpce-0ffffffffffffffff";
const OUTSIDE_VPC: &str = "vpc-0ffffffffffffffff";
const OUTSIDE_PRIVATE_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 255, 255, 7));
/// Stand-ins for the VPC keys an environment does not pin (a call through an endpoint always carries all four).
const SOME_VPCE: &str = "vpce-0c0ffee0c0ffee0c0";
const SOME_VPC: &str = "vpc-0c0ffee0c0ffee0c0";
const SOME_PRIVATE_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));
/// The audience GitHub's tokens carry, wrongly copied into many Bitbucket setups.
const GITHUB_AUDIENCE: &str = "sts.amazonaws.com";

/// AWS's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AwsVerdict {
    Allow,
    Deny,
}

/// The pipeline layer's answer: would `keyless render` let the step run?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PipelineVerdict {
    #[serde(rename = "allow")]
    Allow,
    #[serde(rename = "deny")]
    Deny,
    #[serde(rename = "n/a")]
    NotApplicable,
}

/// Who is asking: the parts of a scenario that do not depend on the role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// A repository slug, or `<unknown repository>`, `<other workspace>`, `<github audience>`.
    pub repository: String,
    /// The step's `deployment` (an environment name), if any.
    pub deployment: Option<String>,
    pub branch: String,
    /// The runner's address as AWS sees it: `aws:SourceIp` over the internet, `aws:VpcSourceIp` through a VPC
    /// endpoint.
    pub source_ip: IpAddr,
    /// How the call reaches STS.
    pub network: Network,
    /// A configured repository, or which adversary.
    #[serde(skip)]
    pub kind: CallerKind,
}

impl Identity {
    /// Whether this is one of the adversaries rather than a configured repository.
    pub fn is_adversary(&self) -> bool {
        self.kind != CallerKind::Repository
    }
}

/// Where a scenario's token comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallerKind {
    /// A repository listed in `keyless.yml`.
    Repository,
    /// A repository of the same workspace that `keyless.yml` does not list. Its pipelines run in the workspace,
    /// so the workspace's pipeline policy applies to them.
    UnknownRepository,
    /// Another workspace's token replaying a configured repository's UUIDs. Its pipelines never pass through
    /// this workspace's Dynamic Pipelines provider.
    OtherWorkspace,
    /// A configured repository's step whose token carries GitHub's audience `sts.amazonaws.com`.
    WrongAudience,
}

/// The enforce engine's view of a scenario: would the pipeline policy let this step run? Implemented by
/// `keyless_enforce::judge::RenderJudge`, which renders a synthetic step for the identity.
pub trait PipelineJudge {
    fn judge(&self, identity: &Identity) -> PipelineVerdict;
}

/// One row of `keyless check --format json` (a frozen contract).
#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    pub repository: String,
    pub deployment: Option<String>,
    pub branch: String,
    /// The runner's address as AWS sees it: `aws:SourceIp` over the internet, `aws:VpcSourceIp` through a VPC
    /// endpoint (see `network`).
    pub source_ip: IpAddr,
    /// How the call reaches STS: `{"path": "internet", "source_ip": …}` or `{"path": "vpc", "endpoint": …, "vpc":
    /// …, "vpc_arn": …, "private_ip": …}`.
    pub network: Network,
    /// The role ARN.
    pub role: String,
    pub aws: AwsVerdict,
    pub pipeline: PipelineVerdict,
    pub intended: bool,
    /// What the role may do once assumed: `minimal | broad | admin | unknown` (its reasons are in the matrix's
    /// `roles`).
    pub can_then_do: keyless_iam::privilege::Reach,
}

impl Scenario {
    /// AWS allows it, the pipeline does not stop it, and the config does not intend it.
    pub fn is_unintended(&self) -> bool {
        self.aws == AwsVerdict::Allow && self.pipeline != PipelineVerdict::Deny && !self.intended
    }

    /// The config intends it but AWS denies it (a broken or drifted trust policy).
    pub fn is_missing(&self) -> bool {
        self.intended && self.aws == AwsVerdict::Deny
    }
}

/// The whole matrix, as `keyless check --format json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct Matrix {
    pub scenarios: Vec<Scenario>,
    pub unintended: usize,
    /// Every role's "can then do", with the reasons it is not minimal.
    pub roles: Vec<crate::permissions::RolePermissions>,
    /// What the configuration's network conditions need that AWS cannot show in the matrix: the regional STS
    /// endpoint with private DNS for the VPC path, IPv6 egress for the internet path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Matrix {
    pub fn unintended(&self) -> impl Iterator<Item = &Scenario> {
        self.scenarios.iter().filter(|s| s.is_unintended())
    }

    pub fn missing(&self) -> impl Iterator<Item = &Scenario> {
        self.scenarios.iter().filter(|s| s.is_missing())
    }
}

/// What AWS holds for one role: enough to answer like STS.
#[derive(Clone, Debug)]
pub struct RoleView {
    pub arn: String,
    pub name: String,
    pub account: String,
    pub kind: RoleKind,
    /// The trust policy document; `None` when the role does not exist.
    pub trust_policy: Option<String>,
    /// What the role may do once assumed ("can then do").
    pub permissions: crate::permissions::RolePermissions,
}

/// An account's IAM OIDC provider for the workspace issuer.
#[derive(Clone, Debug)]
pub struct ProviderView {
    /// Without the scheme, as IAM stores it.
    pub url: String,
    pub client_ids: Vec<String>,
}

/// The trust state the matrix is evaluated against: the plan, or what `--live` read from IAM.
#[derive(Clone, Debug)]
pub struct TrustView {
    pub roles: Vec<RoleView>,
    /// Account → provider (absent: no provider for the workspace's issuer in that account).
    pub providers: HashMap<String, ProviderView>,
}

impl TrustView {
    pub fn from_plan(plan: &Plan) -> Self {
        let mut roles = Vec::new();
        let mut providers = HashMap::new();
        for account in &plan.accounts {
            providers.insert(
                account.account.clone(),
                ProviderView {
                    url: account
                        .provider
                        .url
                        .trim_start_matches("https://")
                        .to_owned(),
                    client_ids: account.provider.client_ids.clone(),
                },
            );
            for role in &account.roles {
                roles.push(RoleView {
                    arn: role.arn.clone(),
                    name: role.name.clone(),
                    account: account.account.clone(),
                    kind: role.kind.clone(),
                    trust_policy: Some(role.trust_policy_text()),
                    permissions: crate::permissions::judge_role(
                        &role.arn,
                        &role.managed_policies,
                        &role.inline_policies,
                        role.permissions_todo,
                    ),
                });
            }
        }
        TrustView { roles, providers }
    }
}

/// A scenario identity and the token claims the emulator would mint for it.
struct Caller {
    identity: Identity,
    claims: serde_json::Map<String, serde_json::Value>,
    /// The real repository and deployment this caller is, for intent.
    repository: Option<String>,
}

/// Build the matrix for `config` against `view`. `now` is the evaluation time (`aws:CurrentTime`).
pub fn build(
    config: &Config,
    view: &TrustView,
    judge: Option<&dyn PipelineJudge>,
    now: OffsetDateTime,
) -> Matrix {
    let callers = callers(config, now);
    let policies: Vec<Option<keyless_iam::PolicyDocument>> = view
        .roles
        .iter()
        .map(|role| {
            role.trust_policy
                .as_deref()
                .and_then(|text| keyless_iam::parse(text).ok())
        })
        .collect();
    let mut scenarios = Vec::with_capacity(callers.len() * view.roles.len());
    for caller in &callers {
        let pipeline = judge.map_or(PipelineVerdict::NotApplicable, |judge| {
            judge.judge(&caller.identity)
        });
        for (role, policy) in view.roles.iter().zip(&policies) {
            let aws = aws_verdict(view, role, policy.as_ref(), caller, now);
            scenarios.push(Scenario {
                repository: caller.identity.repository.clone(),
                deployment: caller.identity.deployment.clone(),
                branch: caller.identity.branch.clone(),
                source_ip: caller.identity.source_ip,
                network: caller.identity.network.clone(),
                role: role.arn.clone(),
                aws,
                pipeline,
                intended: intended(config, caller, role),
                can_then_do: role.permissions.can_then_do,
            });
        }
    }
    let unintended = scenarios.iter().filter(|s| s.is_unintended()).count();
    Matrix {
        scenarios,
        unintended,
        roles: view.roles.iter().map(|r| r.permissions.clone()).collect(),
        notes: network_notes(config),
    }
}

/// What each environment's network path needs from the step that AWS's decision alone does not show.
pub fn network_notes(config: &Config) -> Vec<String> {
    let mut notes = Vec::new();
    for env in config.environments.values() {
        if env.has_vpc_path() {
            notes.push(format!(
                "`{}` trusts calls through an STS interface VPC endpoint{}: its steps must call the regional endpoint \
                 https://sts.{}.amazonaws.com with the endpoint's private DNS enabled (or the endpoint's own DNS name); \
                 the global endpoint https://sts.amazonaws.com never goes through it, and a call over the internet \
                 carries no VPC keys",
                env.name,
                if env.has_internet_path() { " (or over the internet from `source_ips`)" } else { " only" },
                env.region
            ));
        }
        if env.has_internet_path()
            && env
                .source_ips
                .iter()
                .all(|n| matches!(n, ipnet::IpNet::V4(_)))
        {
            notes.push(format!(
                "`{}` lists IPv4 egress only: a runner with IPv6 egress that calls STS's dual-stack endpoint \
                 (https://sts.{}.api.aws) presents an IPv6 `aws:SourceIp`; add its IPv6 prefix to `source_ips` or keep \
                 the step on the IPv4 endpoint (Bitbucket's cloud runners use IPv4 only)",
                env.name, env.region
            ));
        }
    }
    notes
}

/// STS's decision for this caller's token on this role: `keyless_iam::sts::decide`, the one decision the
/// emulator, `policy eval`, `doctor` and `assume` ask too.
fn aws_verdict(
    view: &TrustView,
    role: &RoleView,
    policy: Option<&keyless_iam::PolicyDocument>,
    caller: &Caller,
    now: OffsetDateTime,
) -> AwsVerdict {
    let Some(policy) = policy else {
        return AwsVerdict::Deny; // no role (or an unparsable document, which IAM would not hold)
    };
    let providers: Vec<sts::Provider> = view
        .providers
        .get(&role.account)
        .and_then(|p| {
            let arn = ProviderArn::for_issuer(&role.account, &format!("https://{}", p.url))?;
            Some(sts::Provider::new(arn, Some(p.client_ids.clone())))
        })
        .into_iter()
        .collect();
    let context = sts::RequestContext::new(now)
        .role_session_name("keyless-check")
        .network(caller.identity.network.clone());
    if sts::decide(&providers, policy, &caller.claims, &context).is_allow() {
        AwsVerdict::Allow
    } else {
        AwsVerdict::Deny
    }
}

/// Whether the config means this caller to reach this role.
fn intended(config: &Config, caller: &Caller, role: &RoleView) -> bool {
    let Some(repository) = &caller.repository else {
        return false; // adversaries are never intended
    };
    let identity = &caller.identity;
    match &role.kind {
        RoleKind::Environment { environment } => {
            let Some(env) = config.environments.get(environment) else {
                return false;
            };
            identity.deployment.as_deref() == Some(environment.as_str())
                && config
                    .repositories
                    .get(repository)
                    .is_some_and(|repo| repo.deployments.contains_key(environment))
                && env.allows_branch(&identity.branch)
                && env.allows_network(&identity.network)
        }
        RoleKind::Extra {
            repository: owner, ..
        } => owner == repository && identity.deployment.is_none(),
    }
}

/// A deterministic UUID for synthetic identities (adversaries, deployments without a configured UUID).
fn synthetic_uuid(seed: u64) -> BracedUuid {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    BracedUuid::random(&mut rng)
}

fn parse_uuid(text: &str) -> Option<BracedUuid> {
    text.parse().ok()
}

/// The networks every identity calls from: over the internet from outside every `source_ips` block and from inside
/// each environment's; through each environment's VPC endpoint (its endpoint, VPC and a private address it
/// allows); and, when any environment has the VPC path, through another VPC's endpoint.
fn vantages(config: &Config) -> Vec<Network> {
    let mut out = vec![Network::Internet {
        source_ip: OUTSIDE_IP,
    }];
    let mut push = |network: Network| {
        if !out.contains(&network) {
            out.push(network);
        }
    };
    for env in config.environments.values() {
        if let Some(net) = env.public_source_ips().first() {
            let inside = net.hosts().next().unwrap_or_else(|| net.addr());
            push(Network::Internet { source_ip: inside });
        }
    }
    let mut any_vpc = false;
    for env in config.environments.values() {
        if !env.has_vpc_path() {
            continue;
        }
        any_vpc = true;
        let vpc = env
            .vpcs
            .iter()
            .find(|v| !v.starts_with("arn:"))
            .cloned()
            .or_else(|| {
                env.vpcs
                    .iter()
                    .find_map(|arn| arn.rsplit('/').next().map(str::to_owned))
            })
            .unwrap_or_else(|| SOME_VPC.to_owned());
        let vpc_arn = env
            .vpcs
            .iter()
            .find(|v| v.starts_with("arn:"))
            .cloned()
            .unwrap_or_else(|| format!("arn:aws:ec2:{}:{}:vpc/{vpc}", env.region, env.account));
        let private_ip = env.vpc_source_ips.first().map_or(SOME_PRIVATE_IP, |net| {
            net.hosts().next().unwrap_or_else(|| net.addr())
        });
        push(Network::Vpc(
            VpcPath::default()
                .endpoint(env.vpc_endpoints.first().map_or(SOME_VPCE, String::as_str))
                .vpc(vpc)
                .vpc_arn(vpc_arn)
                .private_ip(private_ip),
        ));
    }
    if any_vpc {
        push(Network::Vpc(
            VpcPath::default()
                .endpoint(OUTSIDE_VPCE)
                .vpc(OUTSIDE_VPC)
                .vpc_arn(format!(
                    "arn:aws:ec2:us-east-1:000000000000:vpc/{OUTSIDE_VPC}"
                ))
                .private_ip(OUTSIDE_PRIVATE_IP),
        ));
    }
    out
}

/// The address AWS sees for a caller on `network`: `aws:SourceIp`, or `aws:VpcSourceIp`.
fn seen_address(network: &Network) -> IpAddr {
    match network {
        Network::Internet { source_ip } => *source_ip,
        Network::Vpc(path) => path.private_ip.unwrap_or(SOME_PRIVATE_IP),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

/// Every caller: configured repositories, then adversaries.
fn callers(config: &Config, now: OffsetDateTime) -> Vec<Caller> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x006b_6579_6c65_7373);
    let now = now.unix_timestamp();
    let vantages = vantages(config);
    let workspace_uuid = parse_uuid(&config.workspace.uuid).unwrap_or_else(|| synthetic_uuid(1));
    let mut out = Vec::new();
    let push = |out: &mut Vec<Caller>,
                request: MintRequest,
                repository: &str,
                deployment: Option<&str>,
                branch: &str,
                kind: CallerKind,
                rng: &mut rand::rngs::StdRng| {
        let Ok(claims) = request.to_claims(ISSUER_BASE, now, rng) else {
            return;
        };
        let Ok(serde_json::Value::Object(claims)) = serde_json::to_value(&claims) else {
            return;
        };
        for network in &vantages {
            out.push(Caller {
                identity: Identity {
                    repository: repository.to_owned(),
                    deployment: deployment.map(str::to_owned),
                    branch: branch.to_owned(),
                    source_ip: seen_address(network),
                    network: network.clone(),
                    kind,
                },
                claims: claims.clone(),
                repository: (kind == CallerKind::Repository).then(|| repository.to_owned()),
            });
        }
    };

    let first_env = config.environments.values().next();
    let default_allowed = first_env
        .and_then(|env| env.branches.first())
        .map_or_else(|| "main".to_owned(), |b| b.example());
    let all_patterns: Vec<_> = config
        .environments
        .values()
        .flat_map(|env| env.branches.clone())
        .collect();
    let default_disallowed =
        disallowed_example(&all_patterns).unwrap_or_else(|| "feature/keyless-check".to_owned());

    for (index, repo) in config.repositories.values().enumerate() {
        let repo_uuid =
            parse_uuid(&repo.uuid).unwrap_or_else(|| synthetic_uuid(1000 + index as u64));
        let mut deployments: Vec<(Option<&str>, Option<BracedUuid>)> = Vec::new();
        for (env_index, (environment, uuid)) in repo.deployments.iter().enumerate() {
            let uuid = uuid
                .as_deref()
                .and_then(parse_uuid)
                .unwrap_or_else(|| synthetic_uuid(100_000 + (index * 1000 + env_index) as u64));
            deployments.push((Some(environment.as_str()), Some(uuid)));
        }
        deployments.push((None, None));
        for (deployment, deployment_uuid) in deployments {
            let branches = match deployment.and_then(|name| config.environments.get(name)) {
                Some(env) => {
                    let mut branches = vec![
                        env.branches
                            .first()
                            .map_or_else(|| "main".to_owned(), |b| b.example()),
                    ];
                    if let Some(disallowed) = disallowed_example(&env.branches) {
                        branches.push(disallowed);
                    }
                    branches
                }
                None => vec![default_allowed.clone(), default_disallowed.clone()],
            };
            for branch in branches {
                let mut request =
                    MintRequest::new(config.workspace.slug.clone(), workspace_uuid, repo_uuid);
                request.deployment_uuid = deployment_uuid;
                request.branch = Some(branch.clone());
                push(
                    &mut out,
                    request,
                    &repo.slug,
                    deployment,
                    &branch,
                    CallerKind::Repository,
                    &mut rng,
                );
            }
        }
    }

    // Adversary 1: a repository of the same workspace that keyless.yml does not list, deploying to an
    // environment of its own with the same name.
    let unknown_repo = synthetic_uuid(7);
    for (index, environment) in config
        .environments
        .keys()
        .map(|k| Some(k.as_str()))
        .chain([None])
        .enumerate()
    {
        let mut request =
            MintRequest::new(config.workspace.slug.clone(), workspace_uuid, unknown_repo);
        request.deployment_uuid = environment.map(|_| synthetic_uuid(8 + index as u64));
        request.branch = Some(default_allowed.clone());
        push(
            &mut out,
            request,
            "<unknown repository>",
            environment,
            &default_allowed,
            CallerKind::UnknownRepository,
            &mut rng,
        );
    }
    // Adversary 2: another workspace's token replaying a configured repository's UUIDs.
    // Adversary 3: a token whose audience is GitHub's `sts.amazonaws.com` (custom audiences replace nothing in
    // Bitbucket, so this models a provider or a verifier configured with the wrong audience).
    if let Some(repo) = config.repositories.values().next() {
        let repo_uuid = parse_uuid(&repo.uuid).unwrap_or_else(|| synthetic_uuid(9));
        for (environment, uuid) in &repo.deployments {
            let deployment_uuid = uuid
                .as_deref()
                .and_then(parse_uuid)
                .or_else(|| Some(synthetic_uuid(10)));
            let mut other = MintRequest::new(
                format!("{}-other", config.workspace.slug),
                synthetic_uuid(11),
                repo_uuid,
            );
            other.deployment_uuid = deployment_uuid;
            other.branch = Some(default_allowed.clone());
            push(
                &mut out,
                other,
                "<other workspace>",
                Some(environment),
                &default_allowed,
                CallerKind::OtherWorkspace,
                &mut rng,
            );

            let claims_source = {
                let mut request =
                    MintRequest::new(config.workspace.slug.clone(), workspace_uuid, repo_uuid);
                request.deployment_uuid = deployment_uuid;
                request.branch = Some(default_allowed.clone());
                request.to_claims(ISSUER_BASE, now, &mut rng).ok()
            };
            if let Some(mut claims) = claims_source {
                claims.aud = keyless_oidc::Audience::from_values(vec![GITHUB_AUDIENCE.to_owned()]);
                if let Ok(serde_json::Value::Object(claims)) = serde_json::to_value(&claims) {
                    for network in &vantages {
                        out.push(Caller {
                            identity: Identity {
                                repository: "<github audience>".to_owned(),
                                deployment: Some(environment.clone()),
                                branch: default_allowed.clone(),
                                source_ip: seen_address(network),
                                network: network.clone(),
                                kind: CallerKind::WrongAudience,
                            },
                            claims: claims.clone(),
                            repository: None,
                        });
                    }
                }
            }
        }
    }
    out
}
