//! `repository-without-role`: an OIDC step that assumes an AWS role runs in a repository that no role of
//! keyless.yml trusts: the repository is not listed, its `deployments` lack the step's environment, or the step
//! has no deployment and the repository has no `extra_roles`.

use super::prelude::*;
use crate::Repository;

pub struct RepositoryWithoutRole;

static META: RuleMeta = RuleMeta {
    id: "repository-without-role",
    summary: "an OIDC step runs in a repository that no keyless role trusts",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::CrossFile,
    why: "keyless writes each role's trust from keyless.yml's `repositories`: an environment's role trusts \
          `{repo}:{env}:*` for each repository whose `deployments` list that environment, and a step without a \
          deployment (`{repo}:{step}`) is trusted only through the repository's `extra_roles`. An OIDC step in a \
          repository that keyless.yml does not list, or in an environment its repository does not list, gets a \
          token no role accepts: the step fails with AccessDenied, or someone widens a trust policy by hand.",
    fix: "List the repository under `repositories:` in keyless.yml with its UUID and a `deployments` entry for \
          each environment it deploys to (add `extra_roles` for steps without a deployment), then run \
          `keyless plan` and `keyless apply`. The repository is `--repo`/`BITBUCKET_REPO_FULL_NAME` when given, \
          else the name of the pipeline file's directory.",
    autofix: false,
};

/// What keyless.yml says about one repository.
struct Listed<'a> {
    node: &'a Node,
    route: Route,
}

impl Listed<'_> {
    fn deploys_to(&self, env: &str) -> bool {
        self.node
            .get("deployments")
            .and_then(Node::as_map)
            .is_some_and(|m| m.iter().any(|e| e.key == env))
    }

    /// `dangerously_allow_any_step: true` trusts `{repo}:*` for the environments without a UUID.
    fn any_step(&self) -> bool {
        self.node
            .get("dangerously_allow_any_step")
            .and_then(Node::as_bool)
            == Some(true)
    }

    fn has_extra_roles(&self) -> bool {
        self.node
            .get("extra_roles")
            .and_then(Node::as_seq)
            .is_some_and(|s| !s.is_empty())
    }

    fn deployments(&self) -> String {
        let names: Vec<&str> = self
            .node
            .get("deployments")
            .and_then(Node::as_map)
            .unwrap_or_default()
            .iter()
            .map(|e| e.key.as_str())
            .collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }
}

fn confidence(repo: &Repository) -> Confidence {
    // A directory name is only a guess at the slug.
    if repo.given {
        Confidence::High
    } else {
        Confidence::Low
    }
}

impl Rule for RepositoryWithoutRole {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_workspace(&self, ws: &Workspace<'_>, out: &mut Sink) {
        let Some((kinput, kdoc)) = ws.keyless.first() else {
            return;
        };
        let Some(repos) = kdoc.root().get("repositories").and_then(Node::as_map) else {
            return;
        };
        let environments: Vec<&str> = kdoc
            .root()
            .get("environments")
            .and_then(Node::as_map)
            .unwrap_or_default()
            .iter()
            .map(|e| e.key.as_str())
            .collect();
        let slugs: Vec<&str> = repos.iter().map(|e| e.key.as_str()).collect();
        for (pinput, pipeline) in &ws.pipelines {
            let Some(repo) = &ws.inputs[*pinput].repository else {
                continue;
            };
            let steps: Vec<&Step<'_>> = pipeline
                .steps
                .iter()
                .filter(|s| s.oidc && analysis::token_goes_to_aws(s))
                .collect();
            let Some(first) = steps.first() else {
                continue;
            };
            let listed = repos.iter().find_map(|e| {
                let name = e.key.as_str();
                name.eq_ignore_ascii_case(&repo.slug).then(|| Listed {
                    node: &e.value,
                    route: Route::root().key("repositories").key(name),
                })
            });
            let Some(listed) = listed else {
                let more = match steps.len() {
                    1 => String::new(),
                    n => format!(" ({} more OIDC steps in this file)", n - 1),
                };
                out.push(
                    self.finding()
                        .message(format!(
                            "OIDC {} runs in repository `{}`, which no role in keyless.yml trusts (repositories: {}){more}",
                            first.describe(),
                            repo.slug,
                            slugs.join(", ")
                        ))
                        .at_key(oidc_route(first))
                        .in_input(*pinput)
                        .confidence(confidence(repo))
                        .label("no role trusts this repository's tokens")
                        .related_key(Some(*kinput), Route::root().key("repositories"), "repositories trusted here")
                        .help(format!(
                            "add `{}` (its UUID and `deployments`) under `repositories:` in keyless.yml and run `keyless plan`",
                            repo.slug
                        )),
                );
                continue;
            };
            for step in steps {
                match &step.deployment {
                    // An environment keyless.yml does not define is environment-without-role's finding.
                    Some((env, route)) if environments.contains(env) => {
                        if listed.deploys_to(env) {
                            continue;
                        }
                        out.push(
                            self.finding()
                                .message(format!(
                                    "OIDC {} deploys to `{env}` from repository `{}`, but the `{env}` role does not trust it (its deployments: {})",
                                    step.describe(),
                                    repo.slug,
                                    listed.deployments()
                                ))
                                .at(route.clone())
                                .in_input(*pinput)
                                .confidence(confidence(repo))
                                .label("no role trusts this repository in this environment")
                                .related_key(Some(*kinput), listed.route.clone(), "the repository is listed here")
                                .help(format!(
                                    "add `{env}: <deployment UUID>` under `repositories.{}.deployments` (keyless resolve fills UUIDs in) and run `keyless plan`",
                                    repo.slug
                                )),
                        );
                    }
                    Some(_) => {}
                    None => {
                        if listed.any_step() || listed.has_extra_roles() {
                            continue;
                        }
                        out.push(
                            self.finding()
                                .message(format!(
                                    "OIDC {} has no deployment, and no role trusts steps without one in repository `{}`",
                                    step.describe(),
                                    repo.slug
                                ))
                                .at_key(oidc_route(step))
                                .in_input(*pinput)
                                .confidence(confidence(repo).min(Confidence::Medium))
                                .label("a step token (`{repo}:{step}`) no role accepts")
                                .related_key(Some(*kinput), listed.route.clone(), "the repository is listed here")
                                .help(format!(
                                    "add `deployment:` to the step, or an `extra_roles` entry to `repositories.{}` in keyless.yml",
                                    repo.slug
                                )),
                        );
                    }
                }
            }
        }
    }
}

/// Where OIDC is turned on for the step (its `oidc` key, or `options.oidc`), else the step.
fn oidc_route(step: &Step<'_>) -> Route {
    step.oidc_route
        .clone()
        .unwrap_or_else(|| step.route.clone())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{AuditConfig, Auditor, Confidence, Input, Options, Repository};

    const KEYLESS: &str = "version: 1\nenvironments:\n  staging: {}\nrepositories:\n  web:\n    deployments:\n      staging: \"{0f9d8c7b-6a5e-4d3c-8b2a-1c0e9f8d7a61}\"\n";
    const PIPELINE: &str = "pipelines:\n  default:\n    - step:\n        deployment: staging\n        oidc: true\n        script:\n          - pipe: atlassian/aws-s3-deploy:1.7.0\n            variables:\n              AWS_OIDC_ROLE_ARN: arn:aws:iam::1:role/r\n";

    fn findings(path: &str, repo: Option<&str>) -> Vec<(String, Confidence)> {
        let inputs = [
            Input::parse("keyless.yml", KEYLESS).unwrap(),
            Input::parse(path, PIPELINE)
                .unwrap()
                .with_repository(repo.and_then(Repository::given)),
        ];
        Auditor::new(AuditConfig::default(), Options::default())
            .audit(&inputs)
            .findings
            .into_iter()
            .filter(|f| f.rule == "repository-without-role")
            .map(|f| (f.message, f.confidence))
            .collect()
    }

    #[test]
    fn a_given_repository_wins_over_the_directory_name() {
        // The directory says `web` (trusted); the caller says `acme/api` (not listed): high confidence.
        let got = findings("web/bitbucket-pipelines.yml", Some("acme/api"));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].0.contains("repository `api`"), "{}", got[0].0);
        assert_eq!(got[0].1, Confidence::High);
        assert!(findings("web/bitbucket-pipelines.yml", None).is_empty());
        assert!(findings("x/bitbucket-pipelines.yml", Some("acme/WEB")).is_empty());
    }

    #[test]
    fn a_directory_name_is_a_low_confidence_guess() {
        let got = findings("api/bitbucket-pipelines.yml", None);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, Confidence::Low);
        // No directory and no name: the rule cannot know the repository and stays silent.
        assert!(findings("bitbucket-pipelines.yml", None).is_empty());
        assert!(findings("./bitbucket-pipelines.yml", None).is_empty());
    }

    #[test]
    fn repository_names() {
        assert_eq!(Repository::given("acme/Web").unwrap().slug, "web");
        assert_eq!(Repository::given("web").unwrap().slug, "web");
        assert!(Repository::given("acme/").is_some_and(|r| r.slug == "acme"));
        assert!(Repository::given("").is_none());
    }
}
