//! `duplicate-deployment`: the same deployment environment on several steps of one pipeline, outside a stage.

use super::prelude::*;

pub struct DuplicateDeployment;

static META: RuleMeta = RuleMeta {
    id: "duplicate-deployment",
    summary: "a deployment environment is used by more than one step of a pipeline",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Bitbucket rejects the pipeline: \"The deployment environment 'X' in your bitbucket-pipelines.yml file occurs \
          multiple times in the pipeline.\" A deployment environment may appear once per pipeline unless its steps \
          are grouped in a stage.",
    fix: "Group the steps in a `stage` with `deployment: X`, or use `environment:` with a `concurrency-group`.",
    autofix: false,
};

impl Rule for DuplicateDeployment {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_pipeline(&self, p: &Pipeline<'_>, out: &mut Sink) {
        for (index, def) in p.pipelines.iter().enumerate() {
            // (env, first route, counted stage route) — steps of one stage share the stage's deployment.
            let mut seen: Vec<(&str, Route, Option<Route>)> = Vec::new();
            for step in p.steps_of(index) {
                let Some((env, route)) = &step.deployment else {
                    continue;
                };
                let stage = step.stage.map(|s| s.route.clone());
                if let Some((_, first, first_stage)) = seen.iter().find(|(e, _, _)| e == env) {
                    if stage.is_some() && &stage == first_stage {
                        continue;
                    }
                    out.push(
                        self.finding()
                            .message(format!(
                                "deployment environment `{env}` occurs more than once in pipeline `{}`",
                                def.route
                            ))
                            .at(route.clone())
                            .label("second use")
                            .related(None, first.clone(), "first used here")
                            .help("group these steps in a `stage` with `deployment:`"),
                    );
                } else {
                    seen.push((env, route.clone(), stage));
                }
            }
        }
    }
}
