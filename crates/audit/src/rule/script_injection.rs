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
          variables are chosen by whoever triggers the run. Inside `eval` or `sh -c \"…\"` they run as code, in a \
          step that may hold secrets and an OIDC token (high). A custom-pipeline variable is free text: unquoted it \
          is split and globbed into extra arguments (medium). An unquoted ref name is only a hardening note (info, \
          pedantic): git refuses spaces, control characters, `?`, `*` and `[` in ref names (git-check-ref-format) \
          precisely so that an unquoted one is neither split nor globbed, and an expansion's `;` or `$(…)` is never \
          run. Where the shell never splits (`case $X in`, `[[ … ]]`, the value of an assignment) nothing is \
          reported.",
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
                            .at_value(route.clone(), text, r.offset, r.raw.len())
                            .label("runs as code in eval / sh -c")
                            .severity(Severity::High)
                            .confidence(Confidence::High)
                            .help("pass it as a quoted argument instead of building code from it"),
                    );
                } else if !r.in_double_quotes && splits(text, cmds, r.offset) {
                    let f = self
                        .finding()
                        .message(format!("{source} ${} is used unquoted", r.name))
                        .at_value(route.clone(), text, r.offset, r.raw.len())
                        .help(format!("quote it: \"{}\"", r.raw));
                    out.push(if custom {
                        f.label("unquoted: split and globbed")
                    } else {
                        // git ref names hold no white space or glob characters: nothing to split or glob.
                        f.label("unquoted (a ref name has no spaces or glob characters to split)")
                            .severity(Severity::Info)
                            .confidence(Confidence::Low)
                            .persona(Persona::Pedantic)
                    });
                }
            }
        }
    }
}

/// The shell splits and globs the expansion at `offset` of `text`: not in the subject of `case … in`, inside
/// `[[ … ]]`, or in the value of an assignment (`X=$V`, `export X=$V`: bash's declaration builtins do not split), unless
/// it sits in a command substitution inside such a word (`X=$(cmd $V)` splits in `cmd`).
fn splits(text: &str, cmds: &[shell::Command<'_>], offset: usize) -> bool {
    for cmd in cmds {
        let Some(i) = cmd
            .words
            .iter()
            .position(|(w, at)| *at <= offset && offset < at + w.len())
        else {
            continue;
        };
        let (word, at) = cmd.words[i];
        let before = &text[at..offset];
        if before.contains("$(") || before.contains('`') {
            return true;
        }
        let unquoted: Vec<&str> = cmd.words.iter().map(|(w, _)| *w).collect();
        // Reserved words before a command (`if [[ … ]]`, `! [[ … ]]`, `while case`…) are not its program.
        let program = unquoted
            .iter()
            .position(|w| {
                !is_assignment(w)
                    && !matches!(
                        *w,
                        "if" | "elif" | "while" | "until" | "then" | "do" | "else" | "!"
                    )
            })
            .unwrap_or(unquoted.len());
        if i < program && is_assignment(word) {
            return false;
        }
        match unquoted.get(program).copied() {
            Some("case") if i == program + 1 => return false,
            Some("[[") if unquoted[i..].contains(&"]]") => return false,
            Some("export" | "declare" | "typeset" | "local" | "readonly")
                if is_assignment(word) =>
            {
                return false;
            }
            _ => return true,
        }
    }
    true
}

/// `NAME=…`.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn where_the_shell_does_not_split() {
        for (text, var, want) in [
            ("./deploy.sh $T", "$T", true),
            ("case $T in a) ;; esac", "$T", false),
            ("if [[ $T == a ]]; then x; fi", "$T", false),
            ("X=$T", "$T", false),
            ("export X=$T Y=1", "$T", false),
            ("X=$T ./run.sh", "$T", false),
            ("X=$(./run.sh $T)", "$T", true),
            ("echo X=$T", "$T", true),
            ("[ $T = a ]", "$T", true),
        ] {
            let cmds = shell::commands(text);
            let at = text.find(var).unwrap();
            assert_eq!(splits(text, &cmds, at), want, "{text}");
        }
    }
}
