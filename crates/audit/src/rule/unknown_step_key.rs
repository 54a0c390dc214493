//! `unknown-step-key`: keys a step (or stage) does not have. Atlassian's schema leaves steps open, so typos such
//! as `deployement:` or `odic:` pass validation and are silently ignored.

use super::prelude::*;

pub struct UnknownStepKey;

static META: RuleMeta = RuleMeta {
    id: "unknown-step-key",
    summary: "the step has a key Bitbucket does not know",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Atlassian's schema does not close the step object, so a misspelt key passes validation and Bitbucket \
          ignores it: `odic: true` issues no token, `deployement: production` deploys without the environment's \
          permissions and lock.",
    fix: "Fix the spelling (the finding suggests the closest known key) or remove the key.",
    autofix: false,
};

use keyless_pipelines::{STAGE_KEYS, STEP_KEYS};

/// The known key two edits or fewer from `key` (keyless-pipelines' one "did you mean").
fn suggest(key: &str, known: &[&'static str]) -> Option<&'static str> {
    keyless_pipelines::suggest::closest(key, known.iter().copied(), |_| 2)
}

impl Rule for UnknownStepKey {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_pipeline(&self, p: &Pipeline<'_>, out: &mut Sink) {
        // The closed-key check is keyless-pipelines' (steps, stages, pipes, parallel groups, pipelines sections).
        let Ok(diagnostics) = p.validation() else {
            return;
        };
        // Top-level keys that only hold anchors used elsewhere (Atlassian's own pipe template does this) are not
        // configuration Bitbucket ignores: the one definition is keyless-pipelines' (`anchor_holders`).
        let holders = keyless_pipelines::anchor_holders(p.doc.root());
        for d in diagnostics {
            let keyless_pipelines::DiagnosticKind::UnknownKey { key } = &d.kind else {
                continue;
            };
            if holders.iter().any(|h| h.route == d.route) {
                continue;
            }
            let route = d.route.clone();
            let mut f = self
                .finding()
                .message(d.message.clone())
                .at_key(route)
                .label("not a known key");
            if d.severity == keyless_pipelines::Severity::Warning {
                f = f.severity(Severity::Low).confidence(Confidence::Medium);
            }
            let known: Vec<&'static str> = STEP_KEYS.iter().chain(STAGE_KEYS).copied().collect();
            if let Some(s) = suggest(key, &known) {
                f = f.help(format!("did you mean `{s}`?"));
            } else {
                f = f.help(
                    "remove the key, or check the spelling against docs/rules/unknown-step-key.md",
                );
            }
            out.push(f);
        }
    }
}
