//! The file as written: serde + JSON Schema types for `keyless.yml`, every value with its location.
//!
//! These types are what the JSON Schema (`schema/keyless.schema.json`) is generated from, so their doc comments
//! are what editors show. They accept anything well-typed, required keys included (`workspace`, `slug`, an
//! environment's `account`, `region` and `branches` are `Option` here and required in the schema): [`crate::load`]
//! turns them into the validated [`crate::Config`] and reports every mistake, a missing key among them, with its
//! line and column. `keyless audit` reads keyless.yml through these types too (a file with only an `audit:`
//! section is a partial keyless.yml it accepts).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::location::Spanned;
use crate::policy::RawPolicy;

/// `keyless.yml`: one file that describes which Bitbucket repositories may deploy to which AWS roles, from
/// which branches and runners. `keyless plan` generates the IAM OIDC providers and roles from it, `keyless apply`
/// creates them, and `keyless check` proves that nothing else can assume them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "keyless.yml")]
pub struct RawConfig {
    /// Version of this file format. Only `1` exists.
    #[serde(default)]
    #[schemars(range(min = 1, max = 1))]
    pub version: Option<Spanned<u32>>,
    /// The Bitbucket workspace whose Pipelines OIDC provider AWS trusts.
    // Required (the loader reports it missing); optional in these types so that `keyless audit` can read a
    // keyless.yml that holds only its `audit:` section through the same model.
    #[schemars(required)]
    pub workspace: Option<Spanned<RawWorkspace>>,
    /// Deployment environments by name, exactly as named in Bitbucket (Repository settings → Deployments).
    /// Each becomes one IAM role in its AWS account.
    #[serde(default)]
    pub environments: IndexMap<Spanned<String>, Spanned<RawEnvironment>>,
    /// Repositories by slug, with the deployment environments each may deploy to.
    #[serde(default)]
    pub repositories: IndexMap<Spanned<String>, RawRepository>,
    /// The pipeline policy enforced by `keyless render` / `keyless serve` on top of the environments' branches,
    /// runners and approval (see docs/enforce.md). Without it, the defaults apply.
    #[serde(default)]
    pub policy: Option<Spanned<RawPolicy>>,
    /// Configuration of `keyless audit` (rule overrides and ignores; see docs/audit.md). Reserved here; its keys
    /// are validated by the audit engine.
    #[serde(default)]
    pub audit: Option<Spanned<serde_json::Value>>,
}

/// The Bitbucket workspace. The OIDC issuer is
/// `https://api.bitbucket.org/2.0/workspaces/<slug>/pipelines-config/identity/oidc` and the audience is
/// `ari:cloud:bitbucket::workspace/<uuid without braces>`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWorkspace {
    /// The workspace slug as in `bitbucket.org/<slug>/...` (not its display name).
    #[schemars(required, regex(pattern = r"^[a-z0-9][a-z0-9._-]*$"))]
    pub slug: Option<Spanned<String>>,
    /// The workspace UUID with braces, e.g. `{0a1b2c3d-...}` (Repository settings → OpenID Connect, or
    /// `keyless resolve`).
    #[serde(default)]
    #[schemars(regex(
        pattern = r"^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$"
    ))]
    pub uuid: Option<Spanned<String>>,
    /// TLS thumbprints for the IAM OIDC provider (40 hex characters each, at most 5; see `keyless thumbprint`).
    /// Optional: AWS validates the Bitbucket certificate against its own trusted CAs.
    #[serde(default)]
    #[schemars(length(max = 5))]
    pub thumbprints: Vec<Spanned<String>>,
}

/// A Bitbucket deployment environment and the IAM role that its deployment steps assume.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    /// The 12-digit AWS account ID the role lives in. Quote it, so YAML keeps leading zeros.
    #[schemars(required, regex(pattern = r"^[0-9]{12}$"))]
    pub account: Option<Spanned<String>>,
    /// The AWS region steps of this environment use (e.g. `eu-west-1`).
    #[schemars(required, regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"))]
    pub region: Option<Spanned<String>>,
    /// Branch patterns (Bitbucket glob syntax: `*` within a path segment, `**` across `/`) allowed to deploy.
    /// Mirror them in Bitbucket's deployment branch restrictions; `keyless render` enforces them.
    #[schemars(required, length(min = 1))]
    pub branches: Option<Vec<Spanned<String>>>,
    /// Runners the environment's steps must run on.
    #[serde(default)]
    pub runners: Option<RawRunners>,
    /// The internet path: public egress addresses (CIDRs) the role may be assumed from (`aws:SourceIp`), e.g. your
    /// runners' NAT gateway. AWS sees only public addresses here: private, loopback, link-local, shared (100.64/10),
    /// multicast and reserved ranges are refused. Atlassian's static IPs apply only to 4x/8x steps with
    /// `atlassian-ip-ranges: true`.
    #[serde(default)]
    pub source_ips: Vec<Spanned<String>>,
    /// The VPC path: STS interface VPC endpoint IDs (`vpce-…`) the runners reach STS through
    /// (`aws:SourceVpce`). Their own Allow statement; with `vpcs` and `vpc_source_ips`, all must hold.
    #[serde(default)]
    pub vpc_endpoints: Vec<Spanned<String>>,
    /// The VPC path: VPC IDs (`vpc-…`, `aws:SourceVpc`) or VPC ARNs (`arn:aws:ec2:<region>:<account>:vpc/vpc-…`,
    /// `aws:SourceVpcArn`) the calls traverse.
    #[serde(default)]
    pub vpcs: Vec<Spanned<String>>,
    /// The VPC path: the runners' private CIDRs inside the VPC (`aws:VpcSourceIp`). Requires `vpc_endpoints` or
    /// `vpcs`.
    #[serde(default)]
    pub vpc_source_ips: Vec<Spanned<String>>,
    /// `manual` if deployments to this environment need a person to start them.
    #[serde(default)]
    pub trigger: Option<Spanned<Trigger>>,
    /// The IAM role for this environment. Defaults: name `bitbucket-<workspace>-<environment>`, path `/`,
    /// a one-hour maximum session and no policies.
    #[serde(default)]
    pub role: Option<RawRole>,
}

/// Runner selection.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRunners {
    /// `runs-on` labels, e.g. `[self.hosted, linux, production]`.
    #[schemars(length(min = 1))]
    pub labels: Vec<Spanned<String>>,
}

/// How deployments to an environment start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// A person starts the deployment step (Bitbucket `trigger: manual`).
    Manual,
    /// The step runs when the pipeline reaches it (the default).
    Automatic,
}

/// An IAM role: its name and what it may do. Who may assume it is derived from the rest of the file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    /// Role name: 1-64 characters of letters, digits and `+=,.@_-`, unique (case-insensitively) in its account.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[\w+=,.@-]{1,64}$"))]
    pub name: Option<Spanned<String>>,
    /// Role path: `/` or `/segment/.../`.
    #[serde(default)]
    #[schemars(regex(pattern = r"^/([\x21-\x7E]+/)*$"))]
    pub path: Option<Spanned<String>>,
    /// A description shown in the IAM console.
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    /// Managed policies to attach: ARNs, or names of AWS-managed policies (`ReadOnlyAccess`). At most 20.
    #[serde(default)]
    #[schemars(length(max = 20))]
    pub managed_policies: Vec<Spanned<String>>,
    /// Inline policies by name: IAM policy documents written as YAML.
    #[serde(default)]
    pub inline_policies: IndexMap<Spanned<String>, Spanned<serde_json::Value>>,
    /// What the role may do: a list of IAM policy statements, rendered as one inline policy named
    /// `keyless-permissions` (beside `managed_policies` and `inline_policies`); or `todo` while they are not
    /// written (`plan` warns, `apply` refuses, the audit reports it). `keyless permissions infer --write` fills it.
    #[serde(default)]
    #[schemars(schema_with = "permissions_schema")]
    pub permissions: Option<Spanned<serde_json::Value>>,
    /// ARN of a managed policy used as the role's permissions boundary.
    #[serde(default)]
    pub permissions_boundary: Option<Spanned<String>>,
    /// Maximum session duration: seconds (`3600`) or a duration (`1h`, `90m`, `2h30m`), from 1h to 12h.
    #[serde(default)]
    #[schemars(schema_with = "max_session_schema")]
    pub max_session: Option<Spanned<String>>,
    /// Tags on the role (at most 50).
    #[serde(default)]
    pub tags: IndexMap<Spanned<String>, Spanned<String>>,
}

/// Schema of `permissions`: the placeholder `todo`, or a list of IAM statements.
fn permissions_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            { "const": "todo" },
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["Effect"],
                    "properties": {
                        "Sid": { "type": "string" },
                        "Effect": { "enum": ["Allow", "Deny"] },
                        "Action": { "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] },
                        "NotAction": { "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] },
                        "Resource": { "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] },
                        "NotResource": { "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] },
                        "Condition": { "type": "object" }
                    }
                }
            }
        ]
    })
}

/// Schema of `max_session`, which YAML may give as a number of seconds or as a duration string.
fn max_session_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            { "type": "integer", "minimum": 3600, "maximum": 43200 },
            { "type": "string", "pattern": "^([0-9]+[hms])+$" }
        ]
    })
}

/// A Bitbucket repository.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRepository {
    /// The repository UUID with braces (Repository settings → OpenID Connect, or `keyless resolve`).
    #[serde(default)]
    #[schemars(regex(
        pattern = r"^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$"
    ))]
    pub uuid: Option<Spanned<String>>,
    /// Environment name → this repository's deployment-environment UUID (with braces). Leave the UUID empty
    /// (`production: ~`) for `keyless resolve` to fill in.
    #[serde(default)]
    pub deployments: IndexMap<Spanned<String>, Option<Spanned<String>>>,
    /// DANGEROUS: lets every step of this repository (not only its deployment steps) assume the role of each
    /// environment listed without a deployment UUID (`sub` pattern `{repo}:*`). `keyless check` reports it.
    #[serde(default)]
    pub dangerously_allow_any_step: Option<Spanned<bool>>,
    /// Extra roles for this repository's steps that have no `deployment` (e.g. a read-only role for
    /// `cdk synth` or `terraform plan`). Deployment steps cannot assume them.
    #[serde(default)]
    pub extra_roles: Vec<RawExtraRole>,
}

/// A role for a repository's non-deployment steps.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExtraRole {
    /// The environment whose account and region the role lives in.
    pub environment: Spanned<String>,
    /// The role (its `name` is required).
    pub role: RawRole,
}
