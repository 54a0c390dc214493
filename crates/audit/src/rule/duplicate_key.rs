//! `duplicate-key`: a mapping of `bitbucket-pipelines.yml` writes the same key twice. Bitbucket keeps the last
//! value (as PyYAML and SnakeYAML do), so everything under the earlier one is silently ignored; the file is audited
//! as Bitbucket reads it, and each repeat is reported here.

use super::prelude::*;
use crate::finding::Focus;

pub struct DuplicateKey;

static META: RuleMeta = RuleMeta {
    id: "duplicate-key",
    summary: "a key is written twice in one mapping; only the last value counts",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Bitbucket reads bitbucket-pipelines.yml with a YAML 1.1 loader that, like PyYAML and SnakeYAML, keeps the \
          last value of a repeated key without a word. Whatever was written under the earlier key (a branch's \
          pipeline, a step's script, `oidc: true`) never runs, although it reads as if it did; in a real file two \
          `develop:` branches meant only the second deployed. keyless audits the file as Bitbucket reads it, so \
          findings in the ignored part are not reported: this finding is the one place it shows.",
    fix: "Merge the two entries into one, or rename one of them (two branch patterns, two pipelines), or delete the \
          one that should not be there.",
    autofix: false,
};

impl Rule for DuplicateKey {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_pipeline(&self, p: &Pipeline<'_>, out: &mut Sink) {
        for d in p.doc.duplicates() {
            let previous = d.previous.start.line;
            out.push(
                self.finding()
                    .message(format!(
                        "`{}` is written again (first at line {previous}): Bitbucket keeps only this last value and \
                         ignores the earlier one",
                        d.key
                    ))
                    .at_focus(
                        Route::root(),
                        Focus::Bytes(d.repeat.start.offset, d.repeat.end.offset),
                    )
                    .label("this value replaces the earlier one")
                    .related_focus(
                        None,
                        Route::root(),
                        Focus::Bytes(d.previous.start.offset, d.previous.end.offset),
                        "ignored by Bitbucket",
                    )
                    .help(format!(
                        "merge the two `{}` entries into one, rename one, or delete the one that should not be there",
                        d.key
                    )),
            );
        }
    }
}
