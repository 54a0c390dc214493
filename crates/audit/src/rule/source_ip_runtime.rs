//! `source-ip-runtime`: a role restricted by `aws:SourceIp` (or a keyless.yml environment with `source_ips`) is
//! used from a step that does not egress from fixed addresses: not 4x/8x with `atlassian-ip-ranges`, not
//! self-hosted.

use super::prelude::*;

pub struct SourceIpRuntime;

static META: RuleMeta = RuleMeta {
    id: "source-ip-runtime",
    summary: "an IP-restricted role is used from a step without fixed egress IPs",
    severity: Severity::High,
    confidence: Confidence::Medium,
    persona: Persona::Regular,
    kind: RuleKind::CrossFile,
    why: "Since the 2024 runtime, 1x/2x cloud steps egress from non-static ranges; Atlassian's published IPs are used \
          only by 4x/8x steps with `runtime: cloud: atlassian-ip-ranges: true`. A role with an `aws:SourceIp` condition \
          then fails with AccessDenied from every other cloud step.",
    fix: "Run the step on `size: 4x` (or 8x) with `runtime: {cloud: {atlassian-ip-ranges: true}}`, or on self-hosted \
          runners whose egress the condition lists.",
    autofix: false,
};

/// The role name at the end of an IAM role ARN.
fn role_name(arn: &str) -> Option<&str> {
    let rest = arn.split(":role/").nth(1)?;
    let name = rest.rsplit('/').next()?;
    let end = name
        .find(|c: char| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)))
        .unwrap_or(name.len());
    (end > 0).then(|| &name[..end])
}

fn fixed_egress(step: &Step<'_>) -> bool {
    step.self_hosted()
        || (matches!(
            step.effective.size.value.as_str(),
            "4x" | "8x" | "16x" | "32x"
        ) && step.effective.runtime.atlassian_ip_ranges)
}

impl Rule for SourceIpRuntime {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_workspace(&self, ws: &Workspace<'_>, out: &mut Sink) {
        // Roles with an IP condition: (role name, input, route of the condition).
        let mut ip_roles: Vec<(String, usize, At)> = Vec::new();
        for (input, policy) in &ws.policies {
            let Some(role) = &policy.role else { continue };
            for s in &policy.statements {
                if let Some(c) = s
                    .conditions
                    .iter()
                    .find(|c| c.key.eq_ignore_ascii_case("aws:SourceIp") && !c.is_negated())
                {
                    ip_roles.push((role.clone(), *input, c.key_at.clone()));
                }
            }
        }
        // keyless.yml environments with source_ips: (environment name, input, route).
        let mut ip_envs: Vec<(String, usize, Route)> = Vec::new();
        for (input, doc) in &ws.keyless {
            for e in doc
                .root()
                .get("environments")
                .and_then(Node::as_map)
                .unwrap_or_default()
            {
                let (name, env) = (e.key.as_str(), &e.value);
                if env
                    .get("source_ips")
                    .and_then(Node::as_seq)
                    .is_some_and(|s| !s.is_empty())
                {
                    let route = Route::root()
                        .key("environments")
                        .key(name)
                        .key("source_ips");
                    ip_envs.push((name.to_owned(), *input, route));
                    if let Some(role) = env
                        .get("role")
                        .and_then(|r| r.get("name"))
                        .and_then(Node::as_str)
                    {
                        ip_roles.push((
                            role.to_owned(),
                            *input,
                            At::key(
                                Route::root()
                                    .key("environments")
                                    .key(name)
                                    .key("source_ips"),
                            ),
                        ));
                    }
                }
            }
        }
        if ip_roles.is_empty() && ip_envs.is_empty() {
            return;
        }
        for (pinput, pipeline) in &ws.pipelines {
            for step in &pipeline.steps {
                if !step.oidc || fixed_egress(step) {
                    continue;
                }
                let mut hit: Option<(Route, String, usize, At)> = None;
                for (route, text) in step.commands() {
                    if let Some((name, i, r)) = ip_roles.iter().find(|(n, _, _)| {
                        text.split_whitespace().any(|w| {
                            role_name(w) == Some(n.as_str()) || w.contains(&format!(":role/{n}"))
                        })
                    }) {
                        hit = Some((route.clone(), format!("role `{name}`"), *i, r.clone()));
                        break;
                    }
                }
                if hit.is_none() {
                    for item in step.pipes() {
                        for (_, value, route) in analysis::pipe_variables(item) {
                            let Some(v) = value.as_str() else { continue };
                            if let Some((name, i, r)) = ip_roles
                                .iter()
                                .find(|(n, _, _)| role_name(v) == Some(n.as_str()))
                            {
                                hit =
                                    Some((route.clone(), format!("role `{name}`"), *i, r.clone()));
                            }
                        }
                    }
                }
                if hit.is_none()
                    && let Some((env, route)) = &step.deployment
                    && let Some((name, i, r)) = ip_envs.iter().find(|(n, _, _)| n == env)
                {
                    hit = Some((
                        route.clone(),
                        format!("environment `{name}`"),
                        *i,
                        At::key(r.clone()),
                    ));
                }
                let Some((route, what, input, cond)) = hit else {
                    continue;
                };
                out.push(
                    self.finding()
                        .message(format!(
                            "{} uses {what}, which only allows listed source IPs, but runs on a {} cloud step without fixed egress IPs",
                            step.describe(),
                            step.effective.size.value
                        ))
                        .at(route)
                        .in_input(*pinput)
                        .label("AccessDenied from this runtime")
                        .related_at(Some(input), &cond, "the IP condition")
                        .help("use `size: 4x` with `runtime: {cloud: {atlassian-ip-ranges: true}}`, or self-hosted runners"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_names() {
        assert_eq!(
            super::role_name("arn:aws:iam::123456789012:role/deploy"),
            Some("deploy")
        );
        assert_eq!(
            super::role_name("--role-arn=arn:aws:iam::1:role/path/x-y"),
            Some("x-y")
        );
        assert_eq!(super::role_name("arn:aws:iam::1:user/x"), None);
    }
}
