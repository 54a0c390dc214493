//! `sub-never-matches`: a `sub` value that no Bitbucket subject can ever match, with the pattern that would work.
//!
//! Every Bitbucket subject is `{repositoryUuid}:{stepUuid}`, or `{repositoryUuid}:{environmentUuid}:{stepUuid}` on
//! a deployment step (bitbucket.md §1.4): braced lowercase UUIDs, no branch name, no workspace UUID. Whether a
//! pattern can match one is decided by walking the pattern and that grammar together
//! (`policy::subject::can_match`), with IAM's wildcard rules for StringLike and literal comparison for
//! StringEquals.

use super::prelude::*;
use super::sub_without_braces::bare_uuid;
use crate::policy::subject;

pub struct SubNeverMatches;

static META: RuleMeta = RuleMeta {
    id: "sub-never-matches",
    summary: "the subject pattern can never match a Bitbucket token",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "Bitbucket's `sub` is `{repositoryUuid}:{stepUuid}`, or `{repositoryUuid}:{environmentUuid}:{stepUuid}` for a \
          deployment step, every UUID in braces (bitbucket.md §1.4). It never holds a branch name (`{repo}:main:*`), \
          never starts with the workspace UUID (`{workspace}:{repo}:*`, a shape some design notes invent), and always \
          ends with the step's UUID, so an exact `StringEquals` without it (`{repo}:{env}`) never matches either. \
          Such a condition makes the role impossible to assume (AccessDenied), and the deployment fails late.",
    fix: "Use StringLike with `{REPO_UUID}:{ENV_UUID}:*` (or `{REPO_UUID}:*` for any step of the repository); \
          restrict branches with the deployment environment's branch restrictions in Bitbucket.",
    autofix: false,
};

/// The workspace UUID the statement's `aud` conditions name (`ari:cloud:bitbucket::workspace/<uuid>`), braced.
pub(crate) fn workspace_uuid(s: &crate::policy::Statement) -> Option<String> {
    s.conditions_on("aud")
        .flat_map(|c| c.values.iter())
        .filter(|v| v.known)
        .find_map(|v| v.text.strip_prefix(keyless_oidc::AUDIENCE_PREFIX))
        .map(|uuid| format!("{{{}}}", uuid.trim_matches(['{', '}'])))
        .filter(|u| subject::is_braced_uuid(u))
}

/// Why the value never matches, and the pattern that would.
fn diagnose(
    value: &str,
    like: bool,
    ignore_case: bool,
    workspace: Option<&str>,
) -> Option<(String, String)> {
    let named = subject::uuids(value);
    if let Some(ws) = workspace
        && named.first() == Some(&ws)
        && value.starts_with(ws)
    {
        let rest = value[ws.len()..].trim_start_matches(':');
        // What follows the workspace UUID works on its own only when it starts with the repository's UUID
        // (`{workspace}:*` without it would admit every repository).
        let pins_repository = subject::uuids(rest)
            .first()
            .is_some_and(|repo| rest.starts_with(repo));
        let suggestion = if pins_repository && subject::can_match(rest, like, ignore_case) {
            rest.to_owned()
        } else {
            "{REPO_UUID}:{ENV_UUID}:*".to_owned()
        };
        return Some((
            "starts with the workspace UUID; the subject starts with the repository UUID"
                .to_owned(),
            suggestion,
        ));
    }
    if subject::can_match(value, like, ignore_case) {
        if like || value.contains('*') || value.contains('?') {
            return None;
        }
        // An exact subject names one step run: every run of a step gets a new step UUID.
        let suggestion = match named.as_slice() {
            [repo, env, _] => format!("StringLike `{repo}:{env}:*`"),
            [repo, second] => format!(
                "StringLike `{repo}:{second}:*` if `{second}` is the deployment environment, else `{repo}:*`"
            ),
            _ => "StringLike `{REPO_UUID}:{ENV_UUID}:*`".to_owned(),
        };
        return Some((
            "is an exact subject, which names one step run's UUID (every run of a step gets a new one)".to_owned(),
            suggestion,
        ));
    }
    if !like
        && (value.contains('*') || value.contains('?'))
        && subject::can_match(value, true, ignore_case)
    {
        return Some((
            "uses a wildcard under an Equals operator, where `*` is literal".to_owned(),
            format!("StringLike `{value}`"),
        ));
    }
    let suggestion = match named.as_slice() {
        [] => "StringLike `{REPO_UUID}:{ENV_UUID}:*`".to_owned(),
        [repo] => format!("StringLike `{repo}:*` (or `{repo}:{{ENV_UUID}}:*` for one environment)"),
        [repo, env, ..] => format!("StringLike `{repo}:{env}:*`"),
    };
    let has_name = value.split(':').any(|part| {
        !part.is_empty()
            && !subject::is_braced_uuid(part)
            && part
                .chars()
                .any(|c| c.is_ascii_alphabetic() && !c.is_ascii_hexdigit())
            && part != "*"
    });
    let why = if has_name {
        "holds a name where the subject has only UUIDs (there is no branch or environment name in a Bitbucket subject)"
    } else if !like && named.len() == value.split(':').count() {
        "is an exact subject without the step UUID, which every subject ends with"
    } else {
        "does not have the shape {repository}:{step} or {repository}:{environment}:{step}"
    };
    Some((why.to_owned(), suggestion))
}

/// Whether this rule reports `value` (a `sub` condition value of a statement whose audience names `workspace`):
/// broad-sub then says nothing of it, since a pattern no token matches admits nobody.
pub(crate) fn reports(value: &str, like: bool, ignore_case: bool, workspace: Option<&str>) -> bool {
    bare_uuid(value).is_none() && diagnose(value, like, ignore_case, workspace).is_some()
}

impl Rule for SubNeverMatches {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        for s in &policy.statements {
            if !s.is_oidc_allow() || !s.trusts_bitbucket() {
                continue;
            }
            let workspace = workspace_uuid(s);
            for c in s.conditions_on("sub").filter(|c| !c.is_negated()) {
                let base = c.base_operator();
                if !base.starts_with("String") {
                    continue;
                }
                let like = base.starts_with("StringLike");
                let ignore_case = base.contains("IgnoreCase");
                let dead: Vec<_> = c
                    .values
                    .iter()
                    .filter(|v| v.known && bare_uuid(&v.text).is_none())
                    .filter_map(|v| {
                        diagnose(&v.text, like, ignore_case, workspace.as_deref()).map(|d| (v, d))
                    })
                    .collect();
                let all_dead = dead.len() == c.values.len();
                for (v, (why, suggestion)) in dead {
                    let mut f = self
                        .finding()
                        .message(format!(
                            "sub `{}` {why}: no Bitbucket token ever matches it",
                            v.text
                        ))
                        .at_loc(&v.at)
                        .label(if all_dead {
                            "never matches: the role cannot be assumed"
                        } else {
                            "never matches"
                        })
                        .help(format!("use {suggestion}"));
                    if !all_dead {
                        f = f.severity(Severity::Low);
                    }
                    out.push(f);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::diagnose;

    const R: &str = "{7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80}";
    const E: &str = "{5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d}";
    const W: &str = "{f3c1a2b4-5d6e-4f70-8a9b-0c1d2e3f4a5b}";

    #[test]
    fn never_matching_shapes_and_their_fix() {
        let (why, fix) = diagnose(&format!("{R}:main:*"), true, false, None).unwrap();
        assert!(why.contains("branch"), "{why}");
        assert_eq!(
            fix,
            format!("StringLike `{R}:*` (or `{R}:{{ENV_UUID}}:*` for one environment)")
        );
        let (why, fix) = diagnose(&format!("{W}:{R}:*"), true, false, Some(W)).unwrap();
        assert!(why.contains("workspace UUID"), "{why}");
        assert_eq!(fix, format!("{R}:*"));
        // `{workspace}:*` never matches, and `*` (what follows the workspace UUID) is not the fix: it admits every
        // repository.
        let (why, fix) = diagnose(&format!("{W}:*"), true, false, Some(W)).unwrap();
        assert!(why.contains("workspace UUID"), "{why}");
        assert_eq!(fix, "{REPO_UUID}:{ENV_UUID}:*");
        let (why, fix) = diagnose(&format!("{R}:{E}"), false, false, None).unwrap();
        assert!(why.contains("step run"), "{why}");
        assert!(
            fix.starts_with(&format!("StringLike `{R}:{E}:*` if")),
            "{fix}"
        );
        let (why, _) = diagnose(R, false, false, None).unwrap();
        assert!(why.contains("without the step UUID"), "{why}");
        let (why, _) = diagnose(&format!("{R}:{E}:*"), false, false, None).unwrap();
        assert!(why.contains("literal"), "{why}");
        assert!(diagnose(&format!("{R}:{E}:*"), true, false, Some(W)).is_none());
        assert!(diagnose(&format!("{R}*"), true, false, None).is_none());
        assert!(diagnose(&format!("{R}:prod-*:*"), true, false, None).is_some());
    }
}
