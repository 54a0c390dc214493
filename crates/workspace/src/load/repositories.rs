//! The `repositories:` section: per repository, its UUID, the deployment environments it deploys to (with their
//! UUIDs) and its extra roles; then whether every environment is deployed to at all.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::{SLUG, Validator, closest};
use crate::location::{Location, Spanned};
use crate::model::{Environment, ExtraRole, Repository};
use crate::raw::{RawEnvironment, RawRepository};

/// Where a UUID was first seen: who (as messages name it) and where.
type Seen = HashMap<String, (String, Location)>;

/// What every repository is checked against, and the UUIDs seen so far (each must be unique).
struct Context<'a> {
    environments: &'a IndexMap<Spanned<String>, Spanned<RawEnvironment>>,
    env_names: &'a [&'a str],
    repo_uuids: Seen,
    deployment_uuids: Seen,
}

/// Every repository, by slug.
pub(super) fn validate(
    v: &mut Validator,
    raw: &IndexMap<Spanned<String>, RawRepository>,
    environments: &IndexMap<Spanned<String>, Spanned<RawEnvironment>>,
    env_names: &[&str],
) -> IndexMap<String, Repository> {
    let mut cx = Context {
        environments,
        env_names,
        repo_uuids: HashMap::new(),
        deployment_uuids: HashMap::new(),
    };
    let mut repositories = IndexMap::new();
    for (slug, repo) in raw {
        let repository = repository(v, &mut cx, slug, repo);
        repositories.insert(slug.value.clone(), repository);
    }
    repositories
}

fn repository(
    v: &mut Validator,
    cx: &mut Context<'_>,
    slug: &Spanned<String>,
    repo: &RawRepository,
) -> Repository {
    if !SLUG.is_match(&slug.value) {
        v.error(
            slug.location,
            format!(
                "repository slug `{}` is not a Bitbucket repository slug",
                slug.value
            ),
            "use the lowercase slug from `bitbucket.org/<workspace>/<slug>`",
        );
    }
    let uuid = match &repo.uuid {
        Some(uuid) => v.uuid(uuid, "repository UUID").unwrap_or_default(),
        None => {
            v.error(
                slug.location,
                format!("repository `{}` has no `uuid`", slug.value),
                "add `uuid: \"{...}\"` (Repository settings → OpenID Connect), or run `keyless resolve`",
            );
            String::new()
        }
    };
    if !uuid.is_empty() {
        if let Some((other, location)) = cx.repo_uuids.get(&uuid) {
            v.error(
                repo.uuid.as_ref().map_or(slug.location, |u| u.location),
                format!("repository `{}` has the same UUID as `{other}` (line {})", slug.value, location.line),
                "each repository has its own UUID; copy the right one from its OpenID Connect settings",
            );
        } else {
            cx.repo_uuids
                .insert(uuid.clone(), (slug.value.clone(), slug.location));
        }
    }
    let any_step = repo
        .dangerously_allow_any_step
        .as_ref()
        .is_some_and(|flag| flag.value);
    let deployments = deployments(v, cx, slug, repo, any_step);
    let extra_roles = extra_roles(v, cx, slug, repo);
    Repository {
        slug: slug.value.clone(),
        uuid,
        deployments,
        dangerously_allow_any_step: any_step,
        extra_roles,
        location: slug.location,
    }
}

/// `deployments:`: environment → deployment-environment UUID (required unless `dangerously_allow_any_step`).
fn deployments(
    v: &mut Validator,
    cx: &mut Context<'_>,
    slug: &Spanned<String>,
    repo: &RawRepository,
    any_step: bool,
) -> IndexMap<String, Option<String>> {
    let mut deployments = IndexMap::new();
    for (env_name, deployment_uuid) in &repo.deployments {
        if !cx.environments.contains_key(env_name) {
            undefined_environment(v, cx.env_names, env_name);
            continue;
        }
        let value = match deployment_uuid {
            Some(text) if !text.value.trim().is_empty() => {
                let parsed = v.uuid(text, "deployment environment UUID");
                if let Some(parsed) = &parsed {
                    if let Some((other, location)) = cx.deployment_uuids.get(parsed) {
                        v.error(
                            text.location,
                            format!("this deployment UUID is already used by {other} (line {})", location.line),
                            "Bitbucket gives each repository's environment its own UUID; copy the right one, or run `keyless resolve`",
                        );
                    } else {
                        cx.deployment_uuids.insert(
                            parsed.clone(),
                            (
                                format!("`{}` → `{}`", slug.value, env_name.value),
                                text.location,
                            ),
                        );
                    }
                }
                parsed
            }
            _ => {
                if !any_step {
                    v.error(
                        env_name.location,
                        format!(
                            "repository `{}` has no deployment-environment UUID for `{}`",
                            slug.value, env_name.value
                        ),
                        "run `keyless resolve` to fill it in; without it the role can only be pinned to the whole repository, which needs `dangerously_allow_any_step: true`",
                    );
                }
                None
            }
        };
        deployments.insert(env_name.value.clone(), value);
    }
    deployments
}

/// `extra_roles:`: each names a defined environment and its role a `name`.
fn extra_roles(
    v: &mut Validator,
    cx: &Context<'_>,
    slug: &Spanned<String>,
    repo: &RawRepository,
) -> Vec<ExtraRole> {
    let mut extra_roles = Vec::new();
    for extra in &repo.extra_roles {
        if !cx.environments.contains_key(&extra.environment) {
            undefined_environment(v, cx.env_names, &extra.environment);
            continue;
        }
        if extra.role.name.is_none() {
            v.error(
                extra.environment.location,
                format!("an extra role of repository `{}` has no `name`", slug.value),
                "add `name:` under `role:`",
            );
            continue;
        }
        let role = v.role(Some(&extra.role), String::new(), extra.environment.location);
        extra_roles.push(ExtraRole {
            environment: extra.environment.value.clone(),
            role,
        });
    }
    extra_roles
}

fn undefined_environment(v: &mut Validator, env_names: &[&str], name: &Spanned<String>) {
    let mut help = format!(
        "define it under `environments:`, or use one of: {}",
        if env_names.is_empty() {
            "(none defined)".to_owned()
        } else {
            env_names.join(", ")
        }
    );
    if let Some(suggestion) = closest(&name.value, env_names.iter().copied()) {
        help = format!("did you mean `{suggestion}`? Otherwise {help}");
    }
    v.error(
        name.location,
        format!("environment `{}` is used but not defined", name.value),
        help,
    );
}

/// Every environment must be reachable by someone, or its role would trust no one; and some repository must be
/// defined.
pub(super) fn reachable(
    v: &mut Validator,
    environments: &IndexMap<String, Environment>,
    repositories: &IndexMap<String, Repository>,
    none_written: bool,
) {
    for environment in environments.values() {
        let used = repositories
            .values()
            .any(|repo: &Repository| repo.deployments.contains_key(&environment.name));
        if !used && !none_written {
            v.error(
                environment.location,
                format!("no repository deploys to environment `{}`", environment.name),
                format!(
                    "add `{}: \"{{deployment UUID}}\"` under a repository's `deployments:`, or remove the environment",
                    environment.name
                ),
            );
        }
    }
    if none_written {
        v.error(
            Location { line: 1, column: 1 },
            "no repositories are defined",
            "add a `repositories:` mapping: slug → uuid and deployments (see `keyless init`)",
        );
    }
}
