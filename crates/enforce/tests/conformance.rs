//! Atlassian's documented examples (`fixtures/atlassian/`, see its SOURCES.md): every file is listed with its
//! source, and the documented requests render as the documentation says a provider may answer (echoing the
//! configuration is valid). The suite that drives every example through `keyless render --payload` and `keyless
//! serve` over HTTP is `crates/cli/tests/commands/serve.rs`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use keyless_enforce::payload::parse_request;
use keyless_enforce::{EnforceConfig, render_request};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/atlassian")
}

fn example(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir().join(name)).unwrap()).unwrap()
}

#[test]
fn every_example_is_listed_with_its_source() {
    let sources = std::fs::read_to_string(dir().join("SOURCES.md")).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    assert!(files.len() >= 26, "{files:?}");
    for name in &files {
        let row = sources
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("{name} is not listed in SOURCES.md"));
        assert!(row.contains("[A-"), "{name}: no source in `{row}`");
        // Valid JSON, as published.
        example(name);
    }
    for line in sources.lines().filter(|l| l.starts_with("| `")) {
        let name = line.split('`').nth(1).unwrap();
        assert!(
            files.iter().any(|f| f == name),
            "SOURCES.md lists {name}, which is missing"
        );
    }
    assert!(sources.contains("2026-12-06"));
}

#[test]
fn the_documented_requests_come_back_unchanged() {
    let text = std::fs::read_to_string(dir().join("keyless.yml")).unwrap();
    let config = EnforceConfig::from_yaml(&text, "keyless.yml").unwrap();
    for name in ["dp-definitions-request.json", "dp-run-request.json"] {
        let request = example(name);
        let rendered = render_request(&config, parse_request(&request).unwrap()).unwrap();
        assert_eq!(
            rendered.file.to_json(),
            request["pipelines_configuration"],
            "{name}"
        );
        assert!(
            rendered.changes.is_empty() && rendered.omitted.is_empty(),
            "{name}"
        );
    }
}
