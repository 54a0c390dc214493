//! Side by side with pipeline-check 1.19.0 (docs/pipeline-check-comparison.md): every case under
//! `tests/side-by-side/<RULE>/` is a file for one pipeline-check rule in keyless's domain; wherever pipeline-check
//! reports that rule, keyless must report the mapped rule on the same file. Rules keyless deliberately leaves to
//! other tools are listed with an empty mapping and must stay documented.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use keyless_audit::{AuditConfig, Auditor, Input, Options, Persona};

/// pipeline-check rule → keyless rules (any of them counts).
const MAPPING: &[(&str, &[&str])] = &[
    ("BB-001", &["unpinned-pipe"]),
    ("BB-002", &["script-injection"]),
    ("BB-004", &["deploy-without-deployment"]),
    ("BB-009", &["unpinned-pipe"]),
    ("BB-011", &["long-lived-aws-keys"]),
    ("BB-017", &[]),
    ("BB-028", &["deploy-without-deployment"]),
    ("BB-029", &["unpinned-image", "unpinned-pipe"]),
    ("BB-032", &["token-echo"]),
    ("BB-033", &["deploy-on-pull-request"]),
    ("BB-034", &["deploy-on-pull-request"]),
    (
        "IAM-008",
        &[
            "oidc-trust-without-condition",
            "missing-aud-condition",
            "missing-sub-condition",
            "broad-sub",
        ],
    ),
];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/side-by-side")
}

fn venv() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = std::env::var_os("KEYLESS_VENV").map_or_else(|| root.join(".venv"), PathBuf::from);
    venv.join("bin/pipeline_check").exists().then_some(venv)
}

fn keyless_rules(dir: &Path) -> BTreeSet<String> {
    let inputs: Vec<Input> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            Input::parse(
                &p.display().to_string(),
                &std::fs::read_to_string(&p).unwrap(),
            )
            .unwrap()
        })
        .collect();
    let options = Options {
        persona: Persona::Pedantic,
        ..Options::default()
    };
    Auditor::new(AuditConfig::default(), options)
        .audit(&inputs)
        .findings
        .iter()
        .map(|f| f.rule.to_owned())
        .collect()
}

/// pipeline-check's failed rule ids per case: Bitbucket files in one Python process through its LSP entry point
/// (the CLI costs seconds of start-up per file), CloudFormation templates through the CLI.
fn pipeline_check(venv: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let script = r#"
import json, os, sys
from pipeline_check.lsp.scan import scan_document
out = {}
for d in sorted(os.listdir(sys.argv[1])):
    p = os.path.join(sys.argv[1], d, "bitbucket-pipelines.yml")
    if os.path.exists(p):
        out[d] = sorted({f.check_id for f in scan_document("bitbucket", p) if not f.passed})
print(json.dumps(out))
"#;
    let out = std::process::Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(script)
        .arg(corpus())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pipeline-check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut result: BTreeMap<String, BTreeSet<String>> =
        serde_json::from_slice(&out.stdout).unwrap();
    let template = corpus().join("IAM-008/template.yml");
    let out = std::process::Command::new(venv.join("bin/pipeline_check"))
        .args(["-p", "cloudformation", "--cfn-template"])
        .arg(&template)
        .args(["--output", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["passed"] == false)
        .map(|f| f["check_id"].as_str().unwrap().to_owned())
        .collect();
    result.insert("IAM-008".into(), ids);
    result
}

#[test]
fn keyless_finds_what_pipeline_check_finds() {
    let Some(venv) = venv() else {
        if std::env::var("KEYLESS_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!(
                "pipeline_check not found in the venv (set KEYLESS_VENV or run scripts/setup-tools)"
            );
        }
        println!("skipping: pipeline_check not installed (KEYLESS_VENV)");
        return;
    };
    let pc = pipeline_check(&venv);
    let mut failures = Vec::new();
    for (rule, mapped) in MAPPING {
        let dir = corpus().join(rule);
        assert!(dir.is_dir(), "no side-by-side case for {rule}");
        let ours = keyless_rules(&dir);
        let theirs = pc.get(*rule).cloned().unwrap_or_default();
        println!("{rule}: pipeline-check {theirs:?} / keyless {ours:?}");
        if mapped.is_empty() {
            // Out of keyless's domain: documented in docs/pipeline-check-comparison.md.
            continue;
        }
        // keyless must find the case's issue whether or not pipeline-check does (BB-011 only fires on some
        // literal-key shapes in 1.19.0).
        if !mapped.iter().any(|m| ours.contains(*m)) {
            failures.push(format!(
                "{rule}: keyless reports none of {mapped:?} (pipeline-check: {theirs:?})"
            ));
        }
    }
    // pipeline-check must still detect most cases, or the corpus no longer exercises its rules.
    let detected = MAPPING
        .iter()
        .filter(|(r, _)| pc.get(*r).is_some_and(|ids| ids.contains(*r)))
        .count();
    assert!(
        detected >= MAPPING.len() - 2,
        "pipeline-check detects only {detected} of its own cases: {pc:#?}"
    );
    assert!(failures.is_empty(), "{failures:#?}");
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/pipeline-check-comparison.md"),
    )
    .unwrap();
    for (rule, _) in MAPPING {
        assert!(
            doc.contains(&format!("| {rule} |")),
            "docs/pipeline-check-comparison.md lacks {rule}"
        );
    }
}
