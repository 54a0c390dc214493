//! `unused-ignore`: an inline `# keyless: ignore[...]` or a keyless.yml ignore that matched no finding. The
//! engine reports these after applying ignores (see `ignore.rs`); this file holds the metadata.

use super::prelude::*;

pub struct UnusedIgnore;

pub(crate) static META: RuleMeta = RuleMeta {
    id: "unused-ignore",
    summary: "an ignore matches no finding",
    severity: Severity::Info,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Meta,
    why: "An ignore that suppresses nothing is stale (the problem was fixed, the line moved, the rule id is misspelt) \
          and will silently hide a future finding on that line.",
    fix: "Remove the ignore, or correct its rule id, path or line.",
    autofix: false,
};

impl Rule for UnusedIgnore {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }
}
