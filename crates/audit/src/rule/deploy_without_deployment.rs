//! `deploy-without-deployment`: deploy commands or AWS deploy pipes in a step without `deployment`.

use super::prelude::*;

pub struct DeployWithoutDeployment;

static META: RuleMeta = RuleMeta {
    id: "deploy-without-deployment",
    summary: "the step deploys but has no deployment environment",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Only steps with `deployment:` get `{repo}:{env}:{step}` as their OIDC subject, so only they can be pinned \
          to an environment in the role's trust policy; they also get deployment permissions (branch restrictions, \
          admin-only), deployment variables and the environment lock. An OIDC step without one can only be trusted \
          per repository: every branch and every step can deploy.",
    fix: "Add `deployment: <environment>` to the step (or its stage) and pin the role's `sub` to \
          `{REPO_UUID}:{ENV_UUID}:*`.",
    autofix: false,
};

impl Rule for DeployWithoutDeployment {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        if step.deployment.is_some() {
            return;
        }
        let actions = analysis::deploy_actions(step);
        let Some((route, what, at)) = actions.first() else {
            // An OIDC step without a deployment gets `sub = {repo}:{step}`: its role can only trust the whole
            // repository (pipeline-check BB-028).
            if step.oidc && step.environment.is_none() && step.node.get("oidc").is_some() {
                out.push(
                    self.finding()
                        .message(format!(
                            "OIDC {} has no `deployment` environment, so the roles it assumes can only be pinned to the whole repository",
                            step.describe()
                        ))
                        .at_key(step.key("oidc"))
                        .label("token without a deployment gate")
                        .help("add `deployment: <environment>` and pin the role's sub to {REPO_UUID}:{ENV_UUID}:*"),
                );
            }
            return;
        };
        let f = self.finding().message(format!(
            "{} runs `{what}` without a `deployment` environment",
            step.describe()
        ));
        let mut f = analysis::point(f, route, *at)
            .label("deploys")
            .help("add `deployment: <environment>` to the step and pin the role's sub to that environment");
        if step.oidc {
            f = f.severity(Severity::High).message(format!(
                "OIDC {} runs `{what}` without a `deployment` environment, so its role cannot be pinned to one",
                step.describe()
            ));
        } else {
            f = f.severity(Severity::Low);
        }
        if step.environment.is_some() {
            // `environment:` gives variables and permissions but no lock; the sub still carries no env (UNCONFIRMED).
            f = f.severity(Severity::Low).confidence(Confidence::Low);
        }
        out.push(f);
    }
}
