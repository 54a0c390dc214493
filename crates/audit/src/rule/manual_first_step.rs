//! `manual-first-step`: the first step of an automatically triggered pipeline is `trigger: manual`.

use super::prelude::*;

pub struct ManualFirstStep;

static META: RuleMeta = RuleMeta {
    id: "manual-first-step",
    summary: "the first step of an automatic pipeline is manual",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Bitbucket does not allow the first step of a branch, tag, pull-request or default pipeline to be manual; \
          the pipeline is rejected, so the gate you meant to add never exists.",
    fix: "Put an automatic step first (build, test), or move the manual work to a `custom` pipeline.",
    autofix: false,
};

impl Rule for ManualFirstStep {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        if !(step.first_in_pipeline() && step.trigger_manual() && is_automatic(step.selector)) {
            return;
        }
        out.push(
            self.finding()
                .message(format!(
                    "{} is the first step of an automatic pipeline and is manual",
                    step.describe()
                ))
                .at(step.key("trigger"))
                .label("not allowed on the first step")
                .help("run an automatic step first, or use a custom pipeline for manual-only work"),
        );
    }
}
