//! The validation registry (`keyless_iam::Code`): ids are unique, and docs/policy-validate.md documents every
//! one of them in a table generated from the registry. `KEYLESS_UPDATE_DOCS=1 cargo test -p keyless-iam --test
//! registry` regenerates the table.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::Path;

use keyless_iam::{Code, Level, Severity};

const BEGIN: &str = "<!-- codes: generated from keyless_iam::Code -->\n";
const END: &str = "<!-- end of codes -->";

fn table() -> String {
    let mut out = String::from("| Code | Severity | Level | Meaning |\n|---|---|---|---|\n");
    for code in Code::ALL {
        let severity = match code.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let level = match code.level() {
            Level::Info => "info",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        };
        out.push_str(&format!(
            "| `{}` | {severity} | {level} | {} |\n",
            code.id(),
            code.description().replace('|', "\\|")
        ));
    }
    out
}

#[test]
fn ids_are_unique() {
    let mut seen = HashSet::new();
    for code in Code::ALL {
        assert!(seen.insert(code.id()), "duplicate id {}", code.id());
    }
}

#[test]
fn every_code_is_documented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policy-validate.md");
    let page = std::fs::read_to_string(&path).unwrap();
    let start = page
        .find(BEGIN)
        .expect("docs/policy-validate.md lacks the codes marker")
        + BEGIN.len();
    let end = start
        + page[start..]
            .find(END)
            .expect("docs/policy-validate.md lacks the end marker");
    let expected = table();
    if page[start..end] != expected {
        if std::env::var_os("KEYLESS_UPDATE_DOCS").is_some() {
            let mut updated = page.clone();
            updated.replace_range(start..end, &expected);
            std::fs::write(&path, updated).unwrap();
        } else {
            panic!(
                "docs/policy-validate.md's code table is stale: run KEYLESS_UPDATE_DOCS=1 cargo test -p keyless-iam --test registry"
            );
        }
    }
    for code in Code::ALL {
        assert!(
            page.contains(&format!("| `{}` |", code.id()))
                || std::env::var_os("KEYLESS_UPDATE_DOCS").is_some()
        );
    }
}
