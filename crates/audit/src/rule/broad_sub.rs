//! `broad-sub`: a statement whose `sub` conditions admit any repository of the workspace (`*`, `*:*`), or, on a
//! production role, every branch, pull request and step of one repository (`{repo}:*`).
//!
//! What a statement admits is asked of `keyless-iam`'s own IAM wildcard matcher (the one `policy eval` and the
//! emulator use), with the subjects an attacker could bring: another repository's steps, and for the repository the
//! patterns name, a step that is no deployment and a deployment to another environment. All of the statement's
//! `sub` conditions must admit a subject (AND across conditions, OR across a condition's values), so
//! `{repo}*`, `{repo}*:{env}:*` and `{repo}*:{env}*` (written by public modules) are pinned, as AWS decides.

use super::prelude::*;
use crate::policy::subject::{self, Reach};
use crate::policy::{Condition, Statement};
use keyless_iam::condition::glob::Glob;

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
          the repository; a production role should require the deployment environment: `{repo}:{env}:*`. A role \
          counts as production when a word of its name (split at punctuation and camelCase) is one of \
          `audit.production-environments` (default production, prod, prd, live): `product-catalog` is not `prod`.",
    fix: "Pin `sub` to `{REPO_UUID}:{ENV_UUID}:*` with StringLike, and protect the environment with deployment \
          permissions (branch restrictions).",
    autofix: false,
};

/// How one condition compares a subject: the IAM matcher for its operator.
struct Matcher {
    globs: Vec<Glob>,
    ignore_case: bool,
}

impl Matcher {
    fn of(c: &Condition) -> Option<Matcher> {
        let base = c.base_operator();
        let like = base.starts_with("StringLike");
        let equals = base.starts_with("StringEquals");
        if !(like || equals) || c.values.iter().any(|v| !v.known) {
            return None;
        }
        let globs = c
            .values
            .iter()
            .map(|v| {
                if like {
                    Glob::new(&v.text)
                } else {
                    let mut g = Glob::default();
                    g.push_literal(&v.text);
                    g
                }
            })
            .collect();
        Some(Matcher {
            globs,
            ignore_case: base.contains("IgnoreCase"),
        })
    }

    fn admits(&self, subject: &str) -> bool {
        self.globs.iter().any(|g| {
            if self.ignore_case {
                g.matches_ignore_ascii_case(subject)
            } else {
                g.matches(subject)
            }
        })
    }
}

/// What the statement as a whole admits, or `None` when a `sub` condition cannot be judged.
fn statement_reach(s: &Statement) -> Option<Reach> {
    let conditions: Vec<&Condition> = s.conditions_on("sub").filter(|c| !c.is_negated()).collect();
    if conditions.is_empty() {
        return None;
    }
    let matchers: Option<Vec<Matcher>> = conditions.iter().map(|c| Matcher::of(c)).collect();
    let matchers = matchers?;
    let named: Vec<String> = conditions
        .iter()
        .flat_map(|c| c.values.iter())
        .flat_map(|v| subject::uuids(&v.text).into_iter().map(str::to_owned))
        .collect();
    let admits = |subject: &str| matchers.iter().all(|m| m.admits(subject));
    Some(subject::reach(&named, &admits))
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
            let Some(reach) = statement_reach(s) else {
                continue;
            };
            let workspace = super::sub_never_matches::workspace_uuid(s);
            if !reach.other_repositories && !reach.non_deployment_steps && !reach.other_environments
            {
                continue;
            }
            for c in s.conditions_on("sub").filter(|c| !c.is_negated()) {
                let like = c.base_operator().starts_with("StringLike");
                for v in &c.values {
                    // Patterns that can never match are sub-never-matches' (and sub-without-braces') to report.
                    let ignore_case = c.base_operator().contains("IgnoreCase");
                    if !subject::can_match(&v.text, like, ignore_case)
                        || super::sub_never_matches::reports(
                            &v.text,
                            like,
                            ignore_case,
                            workspace.as_deref(),
                        )
                    {
                        continue;
                    }
                    let own = Reach::of(&v.text, like);
                    if reach.other_repositories && own.other_repositories {
                        out.push(
                            self.finding()
                                .message(format!("sub pattern `{}` matches every repository of the workspace", v.text))
                                .at_loc(&v.at)
                                .label("no repository pinned")
                                .help("start the pattern with the repository UUID: {REPO_UUID}:{ENV_UUID}:*"),
                        );
                    } else if !reach.other_repositories
                        && (own.non_deployment_steps || own.other_environments)
                        && (reach.non_deployment_steps || reach.other_environments)
                    {
                        let mut f = self
                            .finding()
                            .message(format!(
                                "sub pattern `{}` lets every branch, pull request and step of the repository assume the role",
                                v.text
                            ))
                            .at_loc(&v.at)
                            .label("no deployment environment pinned")
                            .help("pin the environment: {REPO_UUID}:{ENV_UUID}:*");
                        if policy.is_production() {
                            f = f.severity(Severity::High).message(format!(
                                "production role `{}` accepts `{}`: every branch, pull request and step of the repository",
                                policy.role.clone().unwrap_or_default(),
                                v.text
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::{AuditConfig, Auditor, Input, Options};

    /// `{workspace}:*` on a production role admits nobody (no subject starts with the workspace UUID):
    /// sub-never-matches reports it, with a pattern that pins the repository; broad-sub does not call it broad.
    #[test]
    fn a_subject_starting_with_the_workspace_uuid_is_not_broad() {
        let p = "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";
        let ws = "5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11";
        let policy = format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow",
              "Principal": {{"Federated": "arn:aws:iam::123456789012:oidc-provider/{p}"}},
              "Action": "sts:AssumeRoleWithWebIdentity",
              "Condition": {{"StringEquals": {{"{p}:aud": "ari:cloud:bitbucket::workspace/{ws}"}},
                            "StringLike": {{"{p}:sub": "{{{ws}}}:*"}}}}}}]}}"#
        );
        let input = Input::parse("prod-deploy.json", &policy).unwrap();
        let findings = Auditor::new(AuditConfig::default(), Options::default())
            .audit(&[input])
            .findings;
        let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
        assert_eq!(rules, ["sub-never-matches"], "{findings:#?}");
        assert!(
            findings[0]
                .help
                .as_deref()
                .unwrap_or_default()
                .contains("{REPO_UUID}"),
            "{findings:#?}"
        );
    }
}
