//! `invalid-input`: an input other than a pipeline file (keyless.yml, an IAM policy, a CloudFormation template)
//! cannot be read, is not valid YAML/JSON, or (keyless.yml) has an unusable `audit:` section. A directory audit
//! reports it here and audits the other files.

use super::prelude::*;
use crate::finding::Focus;

pub struct InvalidInput;

static META: RuleMeta = RuleMeta {
    id: "invalid-input",
    summary: "an input file cannot be read",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Meta,
    why: "A keyless.yml, trust policy or template that cannot be read was not audited at all: whatever it grants \
          or forbids is unknown, and a keyless.yml whose audit section is unusable leaves every rule at its default.",
    fix: "Fix the file at the position the message names (or remove it from the audited paths); \
          `keyless audit FILE` shows the same error alone.",
    autofix: false,
};

impl Rule for InvalidInput {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_unreadable(&self, input: &crate::Input, error: &crate::InputError, out: &mut Sink) {
        if input.kind == crate::InputKind::Pipeline {
            return;
        }
        out.push(
            self.finding()
                .message(format!(
                    "{} cannot be audited: {}",
                    what(input),
                    error.message
                ))
                .help("the other files were audited; this one was not")
                .at_focus(Route::root(), Focus::Position(error.line, error.column))
                .label("here"),
        );
    }
}

fn what(input: &crate::Input) -> &'static str {
    match input.kind {
        crate::InputKind::Keyless => "keyless.yml",
        _ => "the file",
    }
}
