//! The `environments:` section: per environment, the AWS account and region, the branches and runners that may
//! deploy, the network paths the role trusts (`source_ips`, the VPC path) and the role itself.

use indexmap::IndexMap;
use keyless_iam::network::{self, AddressClass};

use super::{REGION, Validator, default_role_name, parsed_nets};
use crate::diagnostic::Diagnostic;
use crate::glob::BranchPattern;
use crate::location::{Location, Spanned};
use crate::model::Environment;
use crate::raw::{RawEnvironment, Trigger};

/// Every environment, by name, and the trust problems found on the way (warnings: the role could never be
/// assumed from a listed network).
pub(super) fn validate(
    v: &mut Validator,
    raw: &IndexMap<Spanned<String>, Spanned<RawEnvironment>>,
    slug: &str,
) -> (IndexMap<String, Environment>, Vec<Diagnostic>) {
    if raw.is_empty() {
        v.error(
            Location { line: 1, column: 1 },
            "no environments are defined",
            "add an `environments:` mapping with at least one deployment environment (see `keyless init`)",
        );
    }
    let mut environments = IndexMap::new();
    let mut trust_problems: Vec<Diagnostic> = Vec::new();
    for (name, env) in raw {
        let environment = environment(v, name, env, slug, &mut trust_problems);
        environments.insert(name.value.clone(), environment);
    }
    (environments, trust_problems)
}

fn environment(
    v: &mut Validator,
    name: &Spanned<String>,
    env: &Spanned<RawEnvironment>,
    slug: &str,
    trust_problems: &mut Vec<Diagnostic>,
) -> Environment {
    let account_value = v.require(env.account.as_ref(), env.location, "account");
    let region_value = v.require(env.region.as_ref(), env.location, "region");
    let branch_values = v.require(env.branches.as_ref(), env.location, "branches");
    let account = account(v, account_value);
    if let Some(region) = region_value
        && !REGION.is_match(&region.value)
    {
        v.error(
            region.location,
            format!("`{}` is not an AWS region", region.value),
            "write a region code such as `eu-west-1` or `us-east-1`",
        );
    }
    let branches = branches(v, name, env, branch_values);
    let runner_labels = runner_labels(v, env);
    let source_ips = v.cidrs(&env.source_ips);
    trust_problems.extend(unseen_source_ips(name, env));
    let vpc_endpoints = vpc_endpoints(v, env);
    let vpcs = vpcs(v, env);
    let vpc_source_ips = v.cidrs(&env.vpc_source_ips);
    if let Some(problem) = vpc_source_ips_without_path(name, env) {
        trust_problems.push(problem);
    }
    let role = v.role(
        env.role.as_ref(),
        default_role_name(slug, &name.value),
        name.location,
    );
    Environment {
        name: name.value.clone(),
        account,
        region: region_value.map_or(String::new(), |r| r.value.clone()),
        branches,
        runner_labels,
        source_ips,
        vpc_endpoints,
        vpcs,
        vpc_source_ips,
        manual: env
            .trigger
            .as_ref()
            .is_some_and(|t| t.value == Trigger::Manual),
        role,
        location: name.location,
    }
}

/// `account:`, trimmed; exactly 12 digits.
fn account(v: &mut Validator, value: Option<&Spanned<String>>) -> String {
    let account = value.map_or(String::new(), |a| a.value.trim().to_owned());
    if let Some(account_value) = value
        && !(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()))
    {
        let help = if account.chars().all(|c| c.is_ascii_digit()) && account.len() < 12 {
            "AWS account IDs have exactly 12 digits; if yours starts with 0, quote it (`account: \"0123...\"`) so YAML keeps the zeros"
        } else {
            "AWS account IDs have exactly 12 digits, e.g. `account: \"123456789012\"`"
        };
        v.error(
            account_value.location,
            format!("`{account}` is not an AWS account ID"),
            help,
        );
    }
    account
}

/// `branches:`: at least one, each a Bitbucket glob.
fn branches(
    v: &mut Validator,
    name: &Spanned<String>,
    env: &RawEnvironment,
    values: Option<&Vec<Spanned<String>>>,
) -> Vec<BranchPattern> {
    let no_branches = Vec::new();
    let values = values.unwrap_or(&no_branches);
    if env.branches.as_ref().is_some_and(Vec::is_empty) {
        v.error(
            name.location,
            format!("environment `{}` allows no branches", name.value),
            "list the branches that may deploy, e.g. `branches: [main]`",
        );
    }
    let mut branches = Vec::new();
    for branch in values {
        match BranchPattern::new(&branch.value) {
            Ok(pattern) => branches.push(pattern),
            Err(error) => v.error(
                branch.location,
                format!("branch pattern `{}` is invalid: {error}", branch.value),
                "use Bitbucket glob syntax: `main`, `release/*`, `feature/**`, `{main,master}`",
            ),
        }
    }
    branches
}

/// `runners.labels`: single words.
fn runner_labels(v: &mut Validator, env: &RawEnvironment) -> Vec<String> {
    let mut runner_labels = Vec::new();
    if let Some(runners) = &env.runners {
        for label in &runners.labels {
            if label.value.trim().is_empty() || label.value.contains(char::is_whitespace) {
                v.error(
                    label.location,
                    format!("runner label `{}` is not valid", label.value),
                    "labels are single words such as `self.hosted` or `linux`",
                );
            } else {
                runner_labels.push(label.value.clone());
            }
        }
    }
    runner_labels
}

/// `source_ips` blocks AWS never sees in `aws:SourceIp` (private, loopback, ...): valid, but the role could never
/// be assumed from there.
fn unseen_source_ips(name: &Spanned<String>, env: &RawEnvironment) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for (cidr, net) in env.source_ips.iter().zip(parsed_nets(&env.source_ips)) {
        if let Some(net) = net
            && let AddressClass::Refused(range) = network::classify(net)
        {
            problems.push(
                Diagnostic::new(
                    cidr.location,
                    format!(
                        "`{net}` in `source_ips` of `{}` is {} ({}): AWS never sees it in `aws:SourceIp`, so the \
                         role could never be assumed from there",
                        name.value, range.name, range.range
                    ),
                )
                .help(
                    "`aws:SourceIp` holds the public address a call arrives from: a runner behind a NAT gateway is seen \
                     with the gateway's public IP, not its own private one, and a call through an STS VPC endpoint has \
                     no `aws:SourceIp` at all. List the public egress address (e.g. your NAT gateway's Elastic IP; \
                     `keyless doctor --check-ip` prints it), or describe the VPC path: `vpc_endpoints: [vpce-…]` and/or \
                     `vpcs: [vpc-…]`, with `vpc_source_ips` for the runners' private CIDRs (docs/config.md)",
                ),
            );
        }
    }
    problems
}

/// `vpc_endpoints:`: STS interface endpoint IDs.
fn vpc_endpoints(v: &mut Validator, env: &RawEnvironment) -> Vec<String> {
    let mut vpc_endpoints = Vec::new();
    for id in &env.vpc_endpoints {
        let text = id.value.trim();
        if network::is_vpc_endpoint_id(text) {
            vpc_endpoints.push(text.to_owned());
        } else {
            v.error(
                id.location,
                format!("`{text}` is not a VPC endpoint ID"),
                "write the STS interface endpoint's ID as the VPC console shows it: `vpce-` and 17 lowercase hex digits, e.g. `vpce-0a1b2c3d4e5f60718`",
            );
        }
    }
    vpc_endpoints
}

/// `vpcs:`: VPC IDs or ARNs.
fn vpcs(v: &mut Validator, env: &RawEnvironment) -> Vec<String> {
    let mut vpcs = Vec::new();
    for id in &env.vpcs {
        let text = id.value.trim();
        if network::is_vpc_id(text) || network::is_vpc_arn(text) {
            vpcs.push(text.to_owned());
        } else {
            v.error(
                id.location,
                format!("`{text}` is neither a VPC ID nor a VPC ARN"),
                "write `vpc-` and 17 lowercase hex digits (e.g. `vpc-0e9801d129c0ffee1`), or the VPC's ARN `arn:aws:ec2:<region>:<account>:vpc/vpc-…`",
            );
        }
    }
    vpcs
}

/// `vpc_source_ips` without the VPC path it is only set on.
fn vpc_source_ips_without_path(name: &Spanned<String>, env: &RawEnvironment) -> Option<Diagnostic> {
    if env.vpc_source_ips.is_empty() || !env.vpc_endpoints.is_empty() || !env.vpcs.is_empty() {
        return None;
    }
    Some(
        Diagnostic::new(
            env.vpc_source_ips[0].location,
            format!(
                "`vpc_source_ips` of `{}` needs `vpc_endpoints` or `vpcs`",
                name.value
            ),
        )
        .help(
            "`aws:VpcSourceIp` is set only for calls through an STS interface VPC endpoint; name the endpoint \
             (`vpc_endpoints: [vpce-…]`) or the VPC (`vpcs: [vpc-…]`) the runners use, so the VPC path is one \
             statement that pins all of them",
        ),
    )
}
