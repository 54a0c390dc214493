//! Applies fixes: span edits to the original text, so comments, quoting and layout survive.

use crate::Input;
use crate::finding::{Edit, Finding};

/// The result of applying fixes to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    pub text: String,
    /// Number of findings whose fix was applied.
    pub applied: usize,
    /// Number of fixes skipped because they overlapped an earlier one (run `--fix` again).
    pub skipped: usize,
}

/// What `keyless audit --fix` does to one input: its fixed text and the counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFix {
    /// The input's index in the audited inputs (`Location::input`).
    pub input: usize,
    /// The fixes applied to the input's source.
    pub fixed: Fixed,
}

/// The `--fix` workflow over one audit: for each input with fixable findings, its source with their fixes
/// applied; inputs where no fix applies are left out. Writing the texts back is the caller's.
pub fn fix_inputs(inputs: &[Input], findings: &[Finding]) -> Vec<InputFix> {
    inputs
        .iter()
        .enumerate()
        .filter_map(|(index, input)| {
            let fixable: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.location.input == index && f.fix.is_some())
                .collect();
            if fixable.is_empty() {
                return None;
            }
            let fixed = apply(input.source(), &fixable);
            (fixed.applied > 0).then_some(InputFix {
                input: index,
                fixed,
            })
        })
        .collect()
}

/// Applies the fixes of `findings` to `text`. Fixes whose edits overlap an already accepted fix are skipped.
pub fn apply(text: &str, findings: &[&Finding]) -> Fixed {
    let mut accepted: Vec<&Edit> = Vec::new();
    let mut applied = 0;
    let mut skipped = 0;
    for finding in findings {
        let Some(fix) = &finding.fix else { continue };
        let overlaps = fix.edits.iter().any(|e| {
            e.span.end > text.len()
                || accepted.iter().any(|a| {
                    (e.span.start < a.span.end && a.span.start < e.span.end)
                        || (e.span.start == a.span.start
                            && e.span.start == e.span.end
                            && a.span.start == a.span.end)
                })
        });
        if overlaps {
            skipped += 1;
            continue;
        }
        accepted.extend(fix.edits.iter());
        applied += 1;
    }
    accepted.sort_by_key(|e| std::cmp::Reverse((e.span.start, e.span.end)));
    let mut out = text.to_owned();
    for e in accepted {
        out.replace_range(e.span.start..e.span.end, &e.replacement);
    }
    Fixed {
        text: out,
        applied,
        skipped,
    }
}
