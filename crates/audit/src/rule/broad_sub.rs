//! `broad-sub`: `sub` patterns that match any repository (`*`, `*:*`), or only a repository (`{repo}:*`) on a
//! production role.

use super::prelude::*;

pub struct BroadSub;

static META: RuleMeta = RuleMeta {
    id: "broad-sub",
    summary: "the subject condition matches far more than one repository and environment",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "`*` and `*:*` match every Bitbucket step of the workspace, so the condition only looks like a restriction \
          (pipeline-check's IAM-008 lets `*:*` through). `{repo}:*` matches every branch, pull request and step of \
          the repository; a production role should require the deployment environment: `{repo}:{env}:*`.",
    fix: "Pin `sub` to `{REPO_UUID}:{ENV_UUID}:*` with StringLike, and protect the environment with deployment \
          permissions (branch restrictions).",
    autofix: false,
};

/// A Bitbucket UUID in braces.
fn braced_uuid(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) else {
        return false;
    };
    inner.len() == 36 && inner.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

impl Rule for BroadSub {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        for s in &policy.statements {
            if !s.is_oidc_allow() {
                continue;
            }
            for c in s.conditions_on("sub").filter(|c| !c.is_negated()) {
                let like = c.base_operator().contains("Like");
                for (value, route) in &c.values {
                    let parts: Vec<&str> = value.split(':').collect();
                    let repo_pinned = parts
                        .first()
                        .is_some_and(|p| !p.contains('*') && !p.contains('?') && !p.is_empty());
                    if like && !repo_pinned {
                        out.push(
                            self.finding()
                                .message(format!("sub pattern `{value}` matches every repository of the workspace"))
                                .at(route.clone())
                                .label("no repository pinned")
                                .help("start the pattern with the repository UUID: {REPO_UUID}:{ENV_UUID}:*"),
                        );
                        continue;
                    }
                    let env_pinned = parts.len() >= 3 && braced_uuid(parts[1]);
                    if like && repo_pinned && !env_pinned && parts.len() == 2 && parts[1] == "*" {
                        let mut f = self
                            .finding()
                            .message(format!("sub pattern `{value}` lets every branch, pull request and step of the repository assume the role"))
                            .at(route.clone())
                            .label("no deployment environment pinned")
                            .help("pin the environment: {REPO_UUID}:{ENV_UUID}:*");
                        if policy.is_production() {
                            f = f.severity(Severity::High).message(format!(
                                "production role `{}` accepts `{value}`: every branch, pull request and step of the repository",
                                policy.role.clone().unwrap_or_default()
                            ));
                        } else {
                            f = f.severity(Severity::Info).persona(Persona::Pedantic);
                        }
                        out.push(f);
                    }
                }
            }
        }
    }
}
