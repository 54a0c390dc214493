//! `keyless resolve`: fill missing workspace, repository and deployment-environment UUIDs in `keyless.yml`
//! from the Bitbucket REST API, editing the file in place so comments and layout survive.
//!
//! The lookups go through [`Directory`], so the edit logic is tested without a network; the REST implementation
//! is keyless-net's `bitbucket::BitbucketApi`.

use serde::Deserialize;

use crate::load::LoadError;
use crate::raw::RawConfig;

/// A deployment environment as Bitbucket lists it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct RemoteEnvironment {
    pub uuid: String,
    pub name: String,
    #[serde(default)]
    pub slug: String,
}

/// Where UUIDs come from.
#[allow(async_fn_in_trait)]
pub trait Directory {
    async fn workspace_uuid(&self, workspace: &str) -> Result<String, ResolveError>;
    async fn repository_uuid(
        &self,
        workspace: &str,
        repository: &str,
    ) -> Result<String, ResolveError>;
    async fn environments(
        &self,
        workspace: &str,
        repository: &str,
    ) -> Result<Vec<RemoteEnvironment>, ResolveError>;
}

/// Why resolving failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Load(#[from] LoadError),
    /// Bitbucket answered with an error status (the user's token or names).
    #[error("Bitbucket answered {status} for {url}: {hint}")]
    Status {
        status: u16,
        url: String,
        hint: String,
    },
    /// The network or the response (the remote service).
    #[error("cannot read {url}: {message}")]
    Transport { url: String, message: String },
    #[error(
        "repository `{repository}` has no deployment environment named `{environment}` in Bitbucket (it has: {available}); rename the environment in keyless.yml or create it in Repository settings → Deployments"
    )]
    NoSuchEnvironment {
        repository: String,
        environment: String,
        available: String,
    },
}

/// One edit to the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fill {
    /// What was filled, for the report: `workspace`, `repository web`, `web → production`.
    pub what: String,
    pub uuid: String,
    edit: Edit,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Edit {
    /// Replace the value after `key:` on this 1-based line.
    Value { line: usize },
    /// Insert `uuid: "<uuid>"` after this 1-based line, indented by this many spaces.
    InsertAfter { line: usize, indent: usize },
}

fn matching<'a>(
    environments: &'a [RemoteEnvironment],
    name: &str,
) -> Option<&'a RemoteEnvironment> {
    environments
        .iter()
        .find(|e| e.name == name)
        .or_else(|| {
            environments
                .iter()
                .find(|e| e.name.eq_ignore_ascii_case(name))
        })
        .or_else(|| {
            environments
                .iter()
                .find(|e| e.slug.eq_ignore_ascii_case(name))
        })
}

fn usize_of(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// The edits that fill every missing UUID of `text`, looked up through `directory`.
pub async fn plan_fills(
    text: &str,
    origin: &str,
    directory: &impl Directory,
) -> Result<Vec<Fill>, ResolveError> {
    let raw: RawConfig = crate::load::parse_raw(text, origin)?;
    // The workspace slug is what the API is asked about: without it nothing can be resolved.
    let start = crate::Location { line: 1, column: 1 };
    let workspace = raw.workspace.as_ref();
    let Some(raw_slug) = workspace.and_then(|w| w.slug.as_ref()) else {
        let (location, key) = workspace.map_or((start, "workspace"), |w| (w.location, "slug"));
        return Err(crate::LoadError::Invalid(crate::Diagnostics {
            origin: origin.to_owned(),
            source: text.to_owned(),
            items: vec![crate::load::missing_key(location, key)],
        })
        .into());
    };
    let workspace_uuid = workspace.and_then(|w| w.uuid.as_ref());
    let slug = raw_slug.value.clone();
    let mut fills = Vec::new();
    if workspace_uuid.is_none_or(|u| u.value.trim().is_empty()) {
        let uuid = directory.workspace_uuid(&slug).await?;
        let edit = match workspace_uuid {
            Some(existing) => Edit::Value {
                line: usize_of(existing.location.line),
            },
            None => Edit::InsertAfter {
                line: usize_of(raw_slug.location.line),
                indent: usize_of(indent_of_key(text, raw_slug.location.line)),
            },
        };
        fills.push(Fill {
            what: "workspace".to_owned(),
            uuid,
            edit,
        });
    }
    for (repo, spec) in &raw.repositories {
        if spec.uuid.as_ref().is_none_or(|u| u.value.trim().is_empty()) {
            let uuid = directory.repository_uuid(&slug, &repo.value).await?;
            let edit = match &spec.uuid {
                Some(existing) => Edit::Value {
                    line: usize_of(existing.location.line),
                },
                None => Edit::InsertAfter {
                    line: usize_of(repo.location.line),
                    indent: usize_of(repo.location.column.saturating_sub(1)) + 2,
                },
            };
            fills.push(Fill {
                what: format!("repository {}", repo.value),
                uuid,
                edit,
            });
        }
        let missing: Vec<_> = spec
            .deployments
            .iter()
            .filter(|(_, uuid)| uuid.as_ref().is_none_or(|u| u.value.trim().is_empty()))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let environments = directory.environments(&slug, &repo.value).await?;
        for (environment, _) in missing {
            let Some(found) = matching(&environments, &environment.value) else {
                let available: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
                return Err(ResolveError::NoSuchEnvironment {
                    repository: repo.value.clone(),
                    environment: environment.value.clone(),
                    available: if available.is_empty() {
                        "none".to_owned()
                    } else {
                        available.join(", ")
                    },
                });
            };
            fills.push(Fill {
                what: format!("{} → {}", repo.value, environment.value),
                uuid: found.uuid.clone(),
                edit: Edit::Value {
                    line: usize_of(environment.location.line),
                },
            });
        }
    }
    Ok(fills)
}

/// The indentation (in spaces) of the key on 1-based `line`.
fn indent_of_key(text: &str, line: u64) -> u64 {
    text.lines()
        .nth(usize_of(line.saturating_sub(1)))
        .map_or(0, |l| (l.len() - l.trim_start().len()) as u64)
}

/// Apply `fills` to `text`, keeping everything else (comments, order, quoting) as written.
pub fn apply_fills(text: &str, fills: &[Fill]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // Insertions shift later lines: apply bottom-up.
    let mut ordered: Vec<&Fill> = fills.iter().collect();
    ordered.sort_by_key(|fill| match fill.edit {
        Edit::Value { line } | Edit::InsertAfter { line, .. } => std::cmp::Reverse(line),
    });
    for fill in ordered {
        let quoted = format!("\"{}\"", fill.uuid);
        match fill.edit {
            Edit::Value { line } => {
                if let Some(current) = lines.get_mut(line.saturating_sub(1)) {
                    *current = replace_value(current, &quoted);
                }
            }
            Edit::InsertAfter { line, indent } => {
                let at = line.min(lines.len());
                lines.insert(at, format!("{}uuid: {quoted}", " ".repeat(indent)));
            }
        }
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// `  production: ~   # comment` → `  production: "{uuid}"   # comment`.
fn replace_value(line: &str, quoted: &str) -> String {
    let Some(colon) = line
        .find(": ")
        .or_else(|| line.strip_suffix(':').map(|s| s.len()))
    else {
        return line.to_owned();
    };
    let (key, rest) = line.split_at(colon + 1);
    // Keep a trailing comment with the spacing before it.
    let comment = rest
        .find(" #")
        .map(|index| {
            let start = rest[..=index].trim_end().len();
            &rest[start..]
        })
        .unwrap_or("");
    format!("{key} {quoted}{comment}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn values_are_replaced_and_comments_kept() {
        assert_eq!(
            replace_value("  production: ~  # prod", "\"{x}\""),
            "  production: \"{x}\"  # prod"
        );
        assert_eq!(
            replace_value("  staging: ~     # later", "\"{x}\""),
            "  staging: \"{x}\"     # later"
        );
        assert_eq!(
            replace_value("  production:", "\"{x}\""),
            "  production: \"{x}\""
        );
        assert_eq!(
            replace_value("    uuid: \"\"", "\"{x}\""),
            "    uuid: \"{x}\""
        );
    }
}
