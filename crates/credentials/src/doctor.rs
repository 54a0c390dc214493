//! `keyless doctor` as data: a checklist of [`Check`]s, each ✓/✗ with the fix on every ✗. The offline checks
//! live here; the CLI adds the trust-policy evaluation (from `keyless.yml`) and the live assume.

use std::path::Path;

use serde::Serialize;

use crate::env::Env;
use crate::settings::{self, EnvironmentDefaults, Inputs, SettingsError};
use crate::{duration, token::TokenSource};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// ✓
    Pass,
    /// ✗ (makes doctor exit non-zero)
    Fail,
    /// ! (worth knowing, not fatal)
    Warn,
    /// – (not applicable)
    Skip,
}

impl Status {
    /// The symbol shown in text output.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Pass => "✓",
            Self::Fail => "✗",
            Self::Warn => "!",
            Self::Skip => "-",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable kebab-case id.
    pub id: &'static str,
    /// What is checked.
    pub title: &'static str,
    /// Outcome.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// How to fix a failure (always set when `status` is `fail`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    /// A passing check.
    pub fn pass(id: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            id,
            title,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A failing check; `fix` is required.
    pub fn fail(
        id: &'static str,
        title: &'static str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            id,
            title,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A warning, with advice.
    pub fn warn(
        id: &'static str,
        title: &'static str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            id,
            title,
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A skipped check.
    pub fn skip(id: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            id,
            title,
            status: Status::Skip,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A failing check built from an error whose message carries `fix:` lines.
    pub fn from_error(
        id: &'static str,
        title: &'static str,
        error: &dyn std::fmt::Display,
    ) -> Self {
        let (detail, fix) = split_fix(&error.to_string());
        Self::fail(
            id,
            title,
            detail,
            fix.unwrap_or_else(|| "see docs/step-credentials.md".to_owned()),
        )
    }
}

/// Splits an error message at its `fix:` line: (everything else, the fix).
pub fn split_fix(message: &str) -> (String, Option<String>) {
    let mut detail = Vec::new();
    let mut fix = None;
    for line in message.lines() {
        match line.trim_start().strip_prefix("fix: ") {
            Some(f) => fix = Some(f.to_owned()),
            None => detail.push(line.trim_start_matches("  ").to_owned()),
        }
    }
    (detail.join("\n"), fix)
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// True when no check failed.
    pub ok: bool,
    /// The checks, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// Builds a report from checks.
    pub fn new(checks: Vec<Check>) -> Self {
        Self {
            ok: checks.iter().all(|c| c.status != Status::Fail),
            checks,
        }
    }

    /// Text rendering: one line per check, with details and fixes indented.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            let mut lines = check.detail.lines();
            out.push_str(&format!(
                "{} {}: {}\n",
                check.status.symbol(),
                check.title,
                lines.next().unwrap_or_default()
            ));
            for line in lines {
                out.push_str(&format!("    {line}\n"));
            }
            if let Some(fix) = &check.fix {
                out.push_str(&format!("    fix: {fix}\n"));
            }
        }
        let failed = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count();
        out.push_str(&if failed == 0 {
            "all checks passed\n".to_owned()
        } else {
            format!("{failed} check(s) failed\n")
        });
        out
    }
}

fn first_error(err: &SettingsError) -> &SettingsError {
    match err {
        SettingsError::Several(all) => all.first().unwrap_or(err),
        other => other,
    }
}

/// The offline checks: Pipelines, token, region, role, token-file permissions.
pub fn offline_checks(
    inputs: &Inputs,
    env: &Env,
    defaults: Option<&EnvironmentDefaults>,
    now_unix: i64,
) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(if env.in_pipelines() {
        Check::pass(
            "pipelines",
            "in Bitbucket Pipelines",
            format!(
                "build {}, step {}",
                env.get("BITBUCKET_BUILD_NUMBER").unwrap_or("?"),
                env.get("BITBUCKET_STEP_UUID").unwrap_or("?")
            ),
        )
    } else {
        Check::warn(
            "pipelines",
            "in Bitbucket Pipelines",
            "no BITBUCKET_BUILD_NUMBER: not running in a Pipelines step",
            "run keyless inside a step; locally, pass --token-file with a token",
        )
    });

    checks.push(
        match settings::resolve_token(inputs, env).and_then(|(token, source)| {
            Ok((settings::inspect_token(&token, &source, now_unix)?, source))
        }) {
            Ok((info, source)) => {
                let expiry = match info.expires_in(now_unix) {
                    Some(left) if left >= 0 => {
                        format!("expires in {}", duration::human(left.unsigned_abs()))
                    }
                    Some(left) => format!(
                        "expired {} ago (within the clock-skew allowance)",
                        duration::human(left.unsigned_abs())
                    ),
                    None => "no exp claim".to_owned(),
                };
                Check::pass(
                    "token",
                    "OIDC token present and unexpired",
                    format!("from {source}; {}; {expiry}", info.summary()),
                )
            }
            Err(err) => Check::from_error("token", "OIDC token present and unexpired", &err),
        },
    );

    checks.push(match settings::resolve_region(inputs, env, defaults) {
        Ok(region) => Check::pass("region", "region set", region),
        Err(err) => Check::from_error("region", "region set", &err),
    });

    checks.push(match settings::resolve_role(inputs, env, defaults) {
        Ok(role) => Check::pass("role-arn", "role ARN set and well formed", role.to_string()),
        Err(err) => Check::from_error(
            "role-arn",
            "role ARN set and well formed",
            first_error(&err),
        ),
    });

    let token_file = match settings::resolve_token(inputs, env) {
        Ok((_, TokenSource::File(path) | TokenSource::WebIdentityTokenFile(path))) => Some(path),
        _ => env.get("AWS_WEB_IDENTITY_TOKEN_FILE").map(Into::into),
    };
    checks.push(match token_file {
        None => Check::skip(
            "token-file",
            "token file permissions",
            "no token file configured",
        ),
        Some(path) => token_file_check(&path, env.get("BITBUCKET_CLONE_DIR").map(Path::new)),
    });
    checks
}

/// Checks a token file: a regular file, not readable by others, outside the clone directory.
pub fn token_file_check(path: &Path, clone_dir: Option<&Path>) -> Check {
    const ID: &str = "token-file";
    const TITLE: &str = "token file permissions";
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) => {
            return Check::fail(
                ID,
                TITLE,
                format!("{}: {e}", path.display()),
                "run `keyless configure` to write the token file",
            );
        }
    };
    if meta.file_type().is_symlink() {
        return Check::fail(
            ID,
            TITLE,
            format!("{} is a symbolic link", path.display()),
            "use a regular file; `keyless configure` writes one",
        );
    }
    if let Some(clone) = clone_dir {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        if canonical.starts_with(clone.canonicalize().unwrap_or_else(|_| clone.to_owned())) {
            return Check::fail(
                ID,
                TITLE,
                format!(
                    "{} is inside the clone directory {}, where `artifacts` globs can capture it",
                    path.display(),
                    clone.display()
                ),
                "write it outside the clone: `keyless configure` uses ~/.aws/keyless (0700) with a 0600 file",
            );
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Check::fail(
                ID,
                TITLE,
                format!(
                    "{} has mode {mode:o}: other users can read the token",
                    path.display()
                ),
                format!("chmod 600 {}", path.display()),
            );
        }
        return Check::pass(ID, TITLE, format!("{} (mode {mode:o})", path.display()));
    }
    #[allow(unreachable_code)]
    Check::pass(ID, TITLE, path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::tests::jwt;

    #[test]
    fn every_failure_has_a_fix() {
        let env = Env::from_pairs([("AWS_ROLE_ARN", "nope")]);
        let report = Report::new(offline_checks(&Inputs::default(), &env, None, 0));
        assert!(!report.ok);
        let failed: Vec<_> = report
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.id)
            .collect();
        assert_eq!(failed, vec!["token", "region", "role-arn"]);
        for check in &report.checks {
            if check.status == Status::Fail {
                assert!(
                    check.fix.as_deref().is_some_and(|f| !f.is_empty()),
                    "{check:?}"
                );
            }
        }
        let text = report.render_text();
        assert!(
            text.contains("✗ OIDC token present and unexpired")
                && text.contains("fix: add `oidc: true`"),
            "{text}"
        );
    }

    #[test]
    fn healthy_step() {
        let token =
            jwt(&serde_json::json!({"iss":"https://i","aud":"a","sub":"{r}:{s}","exp":4000}));
        let env = Env::from_pairs([
            ("BITBUCKET_STEP_OIDC_TOKEN", token.expose()),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/deploy"),
            ("BITBUCKET_BUILD_NUMBER", "3"),
        ]);
        let report = Report::new(offline_checks(&Inputs::default(), &env, None, 400));
        assert!(report.ok, "{}", report.render_text());
        assert!(
            report.checks[1].detail.contains("expires in 1h"),
            "{:?}",
            report.checks[1]
        );
        assert!(!report.render_text().contains(token.expose()));
    }

    #[cfg(unix)]
    #[test]
    fn token_file_permissions() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let check = token_file_check(&file, None);
        assert_eq!(check.status, Status::Fail);
        assert!(check.fix.unwrap().contains("chmod 600"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(token_file_check(&file, None).status, Status::Pass);
        assert_eq!(
            token_file_check(&file, Some(dir.path())).status,
            Status::Fail
        );
    }
}
