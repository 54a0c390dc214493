//! `token-file-append`: the token appended (`>>`, `tee -a`) to its file instead of replacing it.

use super::prelude::*;

pub struct TokenFileAppend;

static META: RuleMeta = RuleMeta {
    id: "token-file-append",
    summary: "the OIDC token is appended to its file with `>>`",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "`>>` appends: when the file already holds a token (a retried command, a reused runner or container, an \
          earlier step's cache) the file holds two JWTs and AWS rejects it with InvalidIdentityToken. Atlassian's own \
          bash pipes have this bug.",
    fix: "Use `>` so the file holds exactly the current token (`keyless audit --fix` does this).",
    autofix: true,
};

impl Rule for TokenFileAppend {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, p: &Pipeline<'_>, out: &mut Sink) {
        for w in analysis::token_writes(step) {
            if w.op != ">>" {
                continue;
            }
            let mut f = self
                .finding()
                .message(format!(
                    "{} appends the OIDC token to `{}`",
                    step.describe(),
                    shell::unquote(w.target)
                ))
                .at_text(
                    w.route.clone(),
                    if w.op_offset.is_some() { ">>" } else { "-a" },
                )
                .label("appends instead of replacing")
                .help("use `>` to overwrite the file");
            if let Some(off) = w.op_offset
                && let Some(span) = analysis::source_span_in(p.doc, w.node, w.text, off, 2)
                && p.doc.text.get(span.start..span.end) == Some(">>")
            {
                f = f.fix(Fix {
                    description: "replace `>>` with `>`".into(),
                    edits: vec![Edit {
                        span,
                        replacement: ">".into(),
                    }],
                });
            }
            out.push(f);
        }
    }
}
