//! `invalid-pipeline`: the file is not a valid `bitbucket-pipelines.yml` (cannot be read, YAML errors, bad merge
//! keys, values Atlassian's schema rejects), as judged by `keyless-pipelines`.

use super::prelude::*;
use crate::finding::Focus;

pub struct InvalidPipeline;

static META: RuleMeta = RuleMeta {
    id: "invalid-pipeline",
    summary: "the pipeline file is not valid",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Bitbucket refuses to run an invalid configuration, or, for values its schema types loosely, silently does \
          something else than written. The other rules also reason about a file Bitbucket would not run as written.",
    fix: "Fix the value the message names; Atlassian's schema (shared/schemas) is the reference.",
    autofix: false,
};

impl Rule for InvalidPipeline {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_unreadable(&self, input: &crate::Input, error: &crate::InputError, out: &mut Sink) {
        if input.kind != crate::InputKind::Pipeline {
            return;
        }
        out.push(
            self.finding()
                .message(format!(
                    "the pipeline file cannot be audited: {}",
                    error.message
                ))
                .help("the other files were audited; this one was not")
                .at_focus(Route::root(), Focus::Position(error.line, error.column))
                .label("here"),
        );
    }

    fn check_pipeline(&self, p: &Pipeline<'_>, out: &mut Sink) {
        match p.validation() {
            Err(e) => out.push(
                self.finding()
                    .message(format!("not a valid pipeline file: {e}"))
                    .at_focus(Route::root(), Focus::Position(e.line, e.column))
                    .label("here"),
            ),
            Ok(diagnostics) => {
                for d in diagnostics {
                    if !matches!(d.kind, keyless_pipelines::DiagnosticKind::Schema { .. }) {
                        continue;
                    }
                    let mut f = self
                        .finding()
                        .message(d.message.clone())
                        .at(d.route.clone())
                        .label("rejected by the schema");
                    if d.severity == keyless_pipelines::Severity::Warning {
                        f = f.severity(Severity::Low);
                    }
                    out.push(f);
                }
            }
        }
    }
}
