//! `script-injection`: branch, tag, pull-request or custom-pipeline variables interpolated unquoted, or into
//! `eval`/`sh -c`, where a crafted ref name or input becomes shell code.

use super::prelude::*;

pub struct ScriptInjection;

static META: RuleMeta = RuleMeta {
    id: "script-injection",
    summary: "an attacker-controlled variable is interpolated into a command",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Branch and tag names may contain `;`, `|`, `$(…)` and backticks; pull-request branches and custom-pipeline \
          variables are chosen by whoever triggers the run. Unquoted they are split and globbed; inside `eval` or \
          `sh -c \"…\"` they run as code, in a step that may hold secrets and an OIDC token.",
    fix: "Quote the variable (`\"$BITBUCKET_BRANCH\"`), never pass it to `eval`/`sh -c`, and validate it against an \
          allow-list (`case \"$ENV\" in staging|production) ;; *) exit 1 ;; esac`).",
    autofix: false,
};

/// Variables whose values come from whoever pushes or triggers.
const TAINTED: &[&str] = &[
    "BITBUCKET_BRANCH",
    "BITBUCKET_TAG",
    "BITBUCKET_PR_DESTINATION_BRANCH",
    "BITBUCKET_BOOKMARK",
];

impl Rule for ScriptInjection {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        for (route, text, cmds) in step.lexed() {
            let evaluating = cmds.iter().any(|c| {
                let args = c.unquoted_args();
                matches!(args.first().map(AsRef::as_ref), Some("eval"))
                    || (matches!(args.first().map(AsRef::as_ref), Some("sh" | "bash" | "zsh"))
                        && args.iter().any(|a| a == "-c"))
            });
            for r in shell::var_refs(text) {
                let custom = step.variables.contains(&r.name.as_str());
                if !(TAINTED.contains(&r.name.as_str()) || custom) {
                    continue;
                }
                let source = if custom {
                    "custom pipeline variable"
                } else {
                    "ref name"
                };
                if evaluating {
                    out.push(
                        self.finding()
                            .message(format!("{source} ${} is evaluated as shell code", r.name))
                            .at_text(route.clone(), r.raw.clone())
                            .label("runs as code in eval / sh -c")
                            .severity(Severity::High)
                            .confidence(Confidence::High)
                            .help("pass it as a quoted argument instead of building code from it"),
                    );
                } else if !r.in_double_quotes {
                    out.push(
                        self.finding()
                            .message(format!("{source} ${} is used unquoted", r.name))
                            .at_text(route.clone(), r.raw.clone())
                            .label("unquoted: split and globbed")
                            .help(format!("quote it: \"{}\"", r.raw)),
                    );
                }
            }
        }
    }
}
