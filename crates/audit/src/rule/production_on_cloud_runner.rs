//! `production-on-cloud-runner`: a production deployment not pinned to self-hosted runners.

use super::prelude::*;

pub struct ProductionOnCloudRunner;

static META: RuleMeta = RuleMeta {
    id: "production-on-cloud-runner",
    summary: "a production deployment runs on Atlassian's shared cloud runners",
    severity: Severity::Low,
    confidence: Confidence::Medium,
    persona: Persona::Pedantic,
    kind: RuleKind::Pipeline,
    why: "On cloud runners the production role must trust Bitbucket's shared infrastructure and cannot add a network \
          condition (1x/2x steps have no static egress IPs). Self-hosted runners in your own network let the role \
          add `aws:SourceIp`/`aws:SourceVpc` conditions and keep production credentials off shared hosts. It is a \
          hardening suggestion (persona `pedantic`): most real pipelines deploy from cloud runners by design (38 \
          findings in 163 corpus files, none a defect on its own). When keyless.yml gives the environment \
          self-hosted runner labels, a step that deploys to it from cloud runners contradicts the declared setup \
          and is reported to every persona.",
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
        let declared = p
            .config
            .self_hosted_environments
            .iter()
            .any(|e| e.eq_ignore_ascii_case(env));
        let mut f = self
            .finding()
            .message(format!(
                "{} deploys to `{env}` on Atlassian's cloud runners",
                step.describe()
            ))
            .at(route.clone())
            .label("production environment");
        f = if declared {
            f.persona(Persona::Regular).help(format!(
                "keyless.yml gives `{env}` self-hosted runners: add `runs-on: [self.hosted, linux]` (and its labels)"
            ))
        } else {
            f.help("add `runs-on: [self.hosted, linux]` to run it on your own runners")
        };
        out.push(f);
    }
}
