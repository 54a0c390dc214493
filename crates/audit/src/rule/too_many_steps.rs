//! `too-many-steps`: a pipeline with more than 100 steps, parallel steps included.

use super::prelude::*;

pub struct TooManySteps;

/// Bitbucket's limit per pipeline (A-LIM, A-PAR).
pub const MAX_STEPS: usize = 100;

static META: RuleMeta = RuleMeta {
    id: "too-many-steps",
    summary: "the pipeline has more than 100 steps",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Bitbucket runs at most 100 steps per pipeline, counting each step of a parallel group; longer pipelines \
          are rejected.",
    fix: "Merge small steps, move optional work to custom pipelines, or trigger a child pipeline.",
    autofix: false,
};

impl Rule for TooManySteps {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_pipeline(&self, p: &Pipeline<'_>, out: &mut Sink) {
        for (index, def) in p.pipelines.iter().enumerate() {
            let count = p.steps_of(index).count();
            if count > MAX_STEPS {
                let mut f = self
                    .finding()
                    .message(format!(
                        "pipeline `{}` has {count} steps; Bitbucket allows {MAX_STEPS}",
                        def.route
                    ))
                    .label(format!("{count} steps, parallel included"))
                    .help("merge steps or split the pipeline");
                f = match p.doc.resolve_entry(def.route) {
                    Some((Some(_), _)) => f.at_key(def.route.clone()),
                    _ => f.at(def.route.clone()),
                };
                out.push(f);
            }
        }
    }
}
