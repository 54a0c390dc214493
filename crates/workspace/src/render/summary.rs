//! The readable summary `keyless plan` prints without `-o`: what would exist, and who may assume each role.

use std::fmt::Write as _;

use crate::model::Config;
use crate::plan::{Plan, RoleKind};

/// `subject pattern` → `repository → environment` in words, from the config's UUIDs.
fn describe_subject(config: &Config, subject: &str) -> String {
    for repo in config.repositories.values() {
        if subject == format!("{}:*", repo.uuid) {
            return format!("any step of {} (dangerously_allow_any_step)", repo.slug);
        }
        for (environment, deployment) in &repo.deployments {
            if let Some(deployment) = deployment
                && subject == format!("{}:{}:*", repo.uuid, deployment)
            {
                return format!("{} deploying to {environment}", repo.slug);
            }
        }
    }
    "unknown".to_owned()
}

fn hours(seconds: u32) -> String {
    if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else {
        format!("{}m", seconds / 60)
    }
}

/// The summary text (ends with a newline).
pub fn summary(config: &Config, plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Workspace {}", plan.workspace);
    let _ = writeln!(out, "  issuer    {}", plan.issuer);
    let _ = writeln!(out, "  audience  {}", plan.audience);
    for account in &plan.accounts {
        let _ = writeln!(out);
        let _ = writeln!(out, "Account {}", account.account);
        let _ = writeln!(out, "  OIDC provider {}", account.provider.arn);
        let _ = writeln!(
            out,
            "    client IDs   {}",
            account.provider.client_ids.join(", ")
        );
        if !account.provider.thumbprints.is_empty() {
            let _ = writeln!(
                out,
                "    thumbprints  {}",
                account.provider.thumbprints.join(", ")
            );
        }
        for role in &account.roles {
            let what = match &role.kind {
                RoleKind::Environment { environment } => format!("environment {environment}"),
                RoleKind::Extra { repository, .. } => {
                    format!("non-deployment steps of {repository}")
                }
            };
            let _ = writeln!(
                out,
                "  role {}  ({what}, {}, max session {})",
                role.arn,
                role.region,
                hours(role.max_session_duration)
            );
            let _ = writeln!(out, "    assumable by:");
            for subject in &role.subjects {
                let _ = writeln!(
                    out,
                    "      {:<80} {}",
                    subject,
                    describe_subject(config, subject)
                );
            }
            if let RoleKind::Extra { .. } = role.kind {
                let _ = writeln!(out, "      (steps with a deployment are excluded)");
            }
            if let RoleKind::Environment { environment } = &role.kind
                && let Some(env) = config.environments.get(environment)
            {
                if env.has_internet_path() {
                    let cidrs: Vec<String> =
                        env.source_ips.iter().map(ToString::to_string).collect();
                    let _ = writeln!(
                        out,
                        "    only from    {} (the internet path: aws:SourceIp, the runners' public egress)",
                        cidrs.join(", ")
                    );
                }
                if env.has_vpc_path() {
                    let mut parts: Vec<String> = Vec::new();
                    if !env.vpc_endpoints.is_empty() {
                        parts.push(format!("endpoint {}", env.vpc_endpoints.join(" or ")));
                    }
                    if !env.vpcs.is_empty() {
                        parts.push(format!("VPC {}", env.vpcs.join(" or ")));
                    }
                    if !env.vpc_source_ips.is_empty() {
                        let cidrs: Vec<String> =
                            env.vpc_source_ips.iter().map(ToString::to_string).collect();
                        parts.push(format!("private address in {}", cidrs.join(", ")));
                    }
                    let label = if env.has_internet_path() {
                        "or through"
                    } else {
                        "only through"
                    };
                    let _ = writeln!(
                        out,
                        "    {label:<13}{} (the VPC path: an STS interface endpoint, reached through the regional endpoint with private DNS)",
                        parts.join(", ")
                    );
                }
                let branches: Vec<&str> = env.branches.iter().map(|b| b.as_str()).collect();
                let _ = writeln!(
                    out,
                    "    branches     {} (enforced in Bitbucket, not by AWS)",
                    branches.join(", ")
                );
            }
            if !role.managed_policies.is_empty() {
                let _ = writeln!(out, "    managed      {}", role.managed_policies.join(", "));
            }
            if !role.inline_policies.is_empty() {
                let names: Vec<&str> = role.inline_policies.keys().map(String::as_str).collect();
                let _ = writeln!(out, "    inline       {}", names.join(", "));
            }
            if let Some(boundary) = &role.permissions_boundary {
                let _ = writeln!(out, "    boundary     {boundary}");
            }
            if role.permissions_todo {
                let _ = writeln!(
                    out,
                    "    WARNING: `permissions: todo`: the role's permissions are not written yet; `keyless apply` refuses \
                     this plan (`keyless permissions infer` derives them from the pipelines)"
                );
            }
            let judged = crate::permissions::judge_role(
                &role.arn,
                &role.managed_policies,
                &role.inline_policies,
                role.permissions_todo,
            );
            let _ = writeln!(out, "    can then do  {}", judged.can_then_do);
            for reason in &judged.reasons {
                let _ = writeln!(out, "      - {reason}");
            }
            if role.any_step {
                let _ = writeln!(
                    out,
                    "    WARNING: trusts every step of a repository; `keyless check` reports it"
                );
            }
        }
    }
    out
}
