//! Every registered rule has a docs page and fixtures; every `bad*` fixture triggers its rule (snapshot of the
//! plain output plus JSON assertions) and every `good*` fixture does not.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};

use keyless_audit::output::{json, plain};
use keyless_audit::{AuditConfig, Auditor, Finding, Input, Options, Persona, registry};

#[path = "common/lines.rs"]
mod lines;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fixture file, or every file under a fixture directory (sorted; subdirectories name repositories).
fn files_under(path: &Path) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let mut v = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        v.extend(files_under(&entry.unwrap().path()));
    }
    v.sort();
    v
}

/// Loads a fixture file, or every file of a fixture directory (cross-file rules), with paths relative to
/// `tests/fixtures` so snapshots do not depend on the checkout location.
fn load(path: &Path) -> Vec<Input> {
    files_under(path)
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(fixtures()).unwrap().display().to_string();
            Input::read(&rel, Ok(&std::fs::read_to_string(f).unwrap()))
        })
        .collect()
}

fn audit(inputs: &[Input]) -> Vec<Finding> {
    let options = Options {
        persona: Persona::Auditor,
        ..Options::default()
    };
    Auditor::new(AuditConfig::default(), options)
        .audit(inputs)
        .findings
}

fn cases(rule: &str, prefix: &str) -> Vec<PathBuf> {
    let dir = fixtures().join(rule);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|_| panic!("rule {rule} has no fixtures directory {}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

#[test]
fn every_rule_has_docs_and_fixtures() {
    assert!(
        registry().len() >= 25,
        "the first release needs at least 25 rules"
    );
    let mut ids = std::collections::HashSet::new();
    for rule in registry() {
        let m = rule.meta();
        assert!(ids.insert(m.id), "duplicate rule id {}", m.id);
        assert!(
            m.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{} is not kebab-case",
            m.id
        );
        let docs = repo_root().join(m.docs_path());
        let text = std::fs::read_to_string(&docs)
            .unwrap_or_else(|_| panic!("{} has no docs page {}", m.id, docs.display()));
        for section in ["## Why", "## Bad", "## Good", "## Fix"] {
            assert!(
                text.contains(section),
                "{} lacks a `{section}` section",
                docs.display()
            );
        }
        assert!(
            !cases(m.id, "bad").is_empty(),
            "{} has no bad fixture",
            m.id
        );
        assert!(
            !cases(m.id, "good").is_empty(),
            "{} has no good fixture",
            m.id
        );
    }
}

#[test]
fn bad_fixtures_trigger_their_rule() {
    let mut failures = Vec::new();
    for rule in registry() {
        let id = rule.meta().id;
        for case in cases(id, "bad") {
            let findings = audit(&load(&case));
            let mine: Vec<Finding> = findings.into_iter().filter(|f| f.rule == id).collect();
            if mine.is_empty() {
                failures.push(format!("{} did not trigger {id}", case.display()));
                continue;
            }
            // JSON v1 assertions: the frozen shape, the rule id and a real location.
            let value = json::render(&mine);
            assert_eq!(value["version"], 1);
            for item in value["findings"].as_array().unwrap() {
                assert_eq!(item["rule"], id);
                assert!(item["location"]["line"].as_u64().unwrap() >= 1);
                assert!(item["location"]["column"].as_u64().unwrap() >= 1);
                assert!(item["location"]["path"].as_str().unwrap().starts_with(id));
                let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
                assert_eq!(
                    keys,
                    ["rule", "severity", "confidence", "message", "location"]
                );
            }
            let name = format!(
                "{id}__{}",
                case.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .replace('.', "_")
            );
            insta::assert_snapshot!(name, plain::render(&mine, false));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Every finding of every fixture (bad and good) is on the line that holds what its rule matched (see
/// `common/lines.rs`): the `*-in-block` and `*anchored*` fixtures reproduce findings that pointed at a block's first
/// line, at the first mention of a word in the block, or at the `|` a line before the block.
#[test]
fn findings_point_at_the_line_that_matched() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for rule in registry() {
        let id = rule.meta().id;
        for case in cases(id, "bad").into_iter().chain(cases(id, "good")) {
            let (misplaced, n) = lines::misplaced(&audit(&load(&case)));
            failures.extend(misplaced);
            checked += n;
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(checked >= 50, "only {checked} findings checked");
}

#[test]
fn good_fixtures_do_not_trigger_their_rule() {
    let mut failures = Vec::new();
    for rule in registry() {
        let id = rule.meta().id;
        for case in cases(id, "good") {
            let findings = audit(&load(&case));
            for f in findings.iter().filter(|f| f.rule == id) {
                failures.push(format!(
                    "{}: {id} at {}:{}: {}",
                    case.display(),
                    f.location.line,
                    f.location.column,
                    f.message
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `Auditor::audit_files` (parse and check in one pass, each pipeline tree released once its file is checked)
/// reports exactly what parsing everything first and `Auditor::audit` report: over every fixture at once (a
/// keyless.yml and trust policies among them, so the pipeline files are parsed again for the cross-file rules),
/// and over the pipeline files alone (no cross-file rule has anything to relate).
#[test]
fn audit_files_reports_what_audit_reports() {
    let all: Vec<(String, String)> = files_under(&fixtures())
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(fixtures()).unwrap().display().to_string();
            (rel, std::fs::read_to_string(f).unwrap())
        })
        .collect();
    // The pipeline files, named as `keyless audit DIR` finds them (`<dir>/bitbucket-pipelines.yml`).
    let pipelines: Vec<(String, String)> = all
        .iter()
        .filter(|(p, t)| Input::read(p, Ok(t)).kind == keyless_audit::InputKind::Pipeline)
        .map(|(p, t)| {
            let name = if p.ends_with("/bitbucket-pipelines.yml") {
                p.clone()
            } else {
                format!("{p}/bitbucket-pipelines.yml")
            };
            (name, t.clone())
        })
        .collect();
    assert!(pipelines.len() >= 16 && pipelines.len() < all.len());
    let options = Options {
        persona: Persona::Auditor,
        ..Options::default()
    };
    let auditor = Auditor::new(AuditConfig::default(), options);
    let shown = |findings: &[Finding]| -> Vec<String> {
        findings
            .iter()
            .map(|f| {
                let related: Vec<String> = f
                    .related
                    .iter()
                    .map(|(l, note)| format!("{}:{}:{} {note}", l.path, l.line, l.column))
                    .collect();
                format!(
                    "{}:{}:{} {} {} {related:?}",
                    f.location.path, f.location.line, f.location.column, f.rule, f.message
                )
            })
            .collect()
    };
    for (name, files) in [("all fixtures", &all), ("pipeline files", &pipelines)] {
        let inputs: Vec<Input> = files.iter().map(|(p, t)| Input::read(p, Ok(t))).collect();
        let expected = auditor.audit(&inputs);
        let (kept, got) = auditor.audit_files(files, None);
        assert_eq!(kept.len(), files.len(), "{name}");
        assert_eq!(shown(&got.findings), shown(&expected.findings), "{name}");
        assert_eq!(
            (got.ignored, got.filtered),
            (expected.ignored, expected.filtered),
            "{name}"
        );
        let cross_file = expected
            .findings
            .iter()
            .filter(|f| f.rule == "environment-without-role" || f.rule == "source-ip-runtime")
            .count();
        assert_eq!(cross_file > 0, files.len() == all.len(), "{name}");
    }
}
