//! `production-on-cloud-runner`: a production deployment not pinned to self-hosted runners.

use super::prelude::*;

pub struct ProductionOnCloudRunner;

static META: RuleMeta = RuleMeta {
    id: "production-on-cloud-runner",
    summary: "a production deployment runs on Atlassian's shared cloud runners",
    severity: Severity::Low,
    confidence: Confidence::Medium,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "On cloud runners the production role must trust Bitbucket's shared infrastructure and cannot add a network \
          condition (1x/2x steps have no static egress IPs). Self-hosted runners in your own network let the role \
          add `aws:SourceIp`/`aws:SourceVpc` conditions and keep production credentials off shared hosts.",
    fix: "Add `runs-on: [self.hosted, linux]` (plus your runner labels) to production deployment steps. Which \
          environment names count as production is set by `audit.production-environments` in keyless.yml.",
    autofix: false,
};

impl Rule for ProductionOnCloudRunner {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, p: &Pipeline<'_>, out: &mut Sink) {
        let Some((env, route)) = &step.deployment else {
            return;
        };
        let production = p.config.is_production(env);
        if !production || step.self_hosted() {
            return;
        }
        out.push(
            self.finding()
                .message(format!(
                    "{} deploys to `{env}` on Atlassian's cloud runners",
                    step.describe()
                ))
                .at(route.clone())
                .label("production environment")
                .help("add `runs-on: [self.hosted, linux]` to run it on your own runners"),
        );
    }
}
