//! `deploy-on-pull-request`: a pull-request pipeline deploys (IaC apply, deploy commands or pipes) or targets a
//! production deployment environment.

use super::prelude::*;

pub struct DeployOnPullRequest;

static META: RuleMeta = RuleMeta {
    id: "deploy-on-pull-request",
    summary: "a pull-request pipeline deploys",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "A pull-request pipeline runs the pull request's code before anyone reviewed or merged it. `terraform apply`, \
          `cdk deploy` or a production `deployment:` there ships unreviewed changes, and an attacker who can open a \
          pull request controls what the deploy credentials do.",
    fix: "Run `plan`/`diff`/`synth` on pull requests and deploy from branch or tag pipelines after merge; keep \
          production environments out of `pull-requests:`.",
    autofix: false,
};

impl Rule for DeployOnPullRequest {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, p: &Pipeline<'_>, out: &mut Sink) {
        let Selector::PullRequests { source: glob, .. } = step.selector else {
            return;
        };
        if let Some((route, what, at)) = analysis::deploy_actions(step).first() {
            let f = self.finding().message(format!(
                "{} in the pull-requests pipeline `{glob}` runs `{what}`",
                step.describe()
            ));
            out.push(
                analysis::point(f, route, *at)
                    .label("deploys unreviewed code")
                    .help("run a plan/diff here and deploy after merge"),
            );
        }
        if let Some((env, route)) = &step.deployment {
            let production = p.config.is_production(env);
            if production {
                out.push(
                    self.finding()
                        .message(format!(
                            "{} in the pull-requests pipeline `{glob}` deploys to `{env}`",
                            step.describe()
                        ))
                        .at(route.clone())
                        .label("production environment on a pull request")
                        .help("deploy to production from a branch pipeline after merge"),
                );
            }
        }
    }
}
