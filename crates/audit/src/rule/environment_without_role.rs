//! `environment-without-role`: an OIDC step deploys to an environment that keyless.yml defines no role for.

use super::prelude::*;

pub struct EnvironmentWithoutRole;

static META: RuleMeta = RuleMeta {
    id: "environment-without-role",
    summary: "the step deploys to an environment no keyless role is pinned to",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    persona: Persona::Regular,
    kind: RuleKind::CrossFile,
    why: "keyless pins each role's trust to `{repo}:{env}:*`. A deployment environment that keyless.yml does not know \
          gets no role, so the step either fails with AccessDenied or quietly uses a broader role (or keys).",
    fix: "Add the environment to `environments:` in keyless.yml (and its UUID under the repository's `deployments:`), \
          then run `keyless plan`; or fix the environment name in the pipeline.",
    autofix: false,
};

impl Rule for EnvironmentWithoutRole {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_workspace(&self, ws: &Workspace<'_>, out: &mut Sink) {
        let Some(keyless) = ws.keyless.first() else {
            return;
        };
        let kinput = &keyless.input;
        if keyless.model.environments.is_empty() {
            return;
        }
        let names: Vec<&str> = keyless.environments().map(|(name, _)| name).collect();
        for (pinput, pipeline) in &ws.pipelines {
            for step in &pipeline.steps {
                let Some((env, route)) = &step.deployment else {
                    continue;
                };
                if !step.oidc || names.contains(env) {
                    continue;
                }
                out.push(
                    self.finding()
                        .message(format!(
                            "OIDC {} deploys to `{env}`, but keyless.yml defines no such environment (known: {})",
                            step.describe(),
                            names.join(", ")
                        ))
                        .at(route.clone())
                        .in_input(*pinput)
                        .label("no role pinned to this environment")
                        .related(Some(*kinput), Route::root().key("environments"), "environments defined here")
                        .help("add the environment to keyless.yml and run `keyless plan`"),
                );
            }
        }
    }
}
