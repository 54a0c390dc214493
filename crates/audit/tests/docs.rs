//! `docs/rules/<id>.md` are generated from each rule's metadata and fixtures, so the examples in the docs are
//! exactly what the tests run. This test fails when a page is stale; regenerate with
//! `KEYLESS_UPDATE_DOCS=1 cargo test -p keyless-audit --test docs`.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use keyless_audit::output::plain;
use keyless_audit::rule::RuleKind;
use keyless_audit::{AuditConfig, Auditor, Input, Options, Persona, registry};

#[path = "common/calibration.rs"]
mod calibration;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fixture file, or every file under a fixture directory (sorted; subdirectories name repositories).
fn files(case: &Path) -> Vec<PathBuf> {
    if !case.is_dir() {
        return vec![case.to_path_buf()];
    }
    let mut v = Vec::new();
    for entry in std::fs::read_dir(case).unwrap() {
        v.extend(files(&entry.unwrap().path()));
    }
    v.sort();
    v
}

fn first(rule: &str, prefix: &str) -> PathBuf {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join(rule))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v.remove(0)
}

fn code_blocks(out: &mut String, case: &Path) {
    for f in files(case) {
        let rel = f.strip_prefix(fixtures()).unwrap().display().to_string();
        let lang = if rel.ends_with(".json") {
            "json"
        } else {
            "yaml"
        };
        let text = std::fs::read_to_string(&f).unwrap();
        writeln!(out, "`{rel}`:\n\n```{lang}\n{}```\n", text).unwrap();
    }
}

fn render(rule: &dyn keyless_audit::Rule) -> String {
    let m = rule.meta();
    let kind = match m.kind {
        RuleKind::Pipeline => "bitbucket-pipelines.yml",
        RuleKind::TrustPolicy => {
            "IAM trust policies and OIDC providers (policy JSON, `aws iam get-role` output, CloudFormation/SAM, CDK synth output, Terraform `.tf`/`.tf.json`/`terraform show -json`)"
        }
        RuleKind::Permissions => {
            "deployment roles' permissions (keyless.yml; policies attached in CloudFormation, Terraform, `aws iam get-role` output)"
        }
        RuleKind::CrossFile => {
            "several files together (pipelines with trust policies or keyless.yml)"
        }
        RuleKind::Meta if m.id == "invalid-input" => {
            "every input other than a pipeline file (keyless.yml, trust policies, templates)"
        }
        RuleKind::Meta => "ignore comments and keyless.yml ignores",
    };
    let mut out = String::new();
    writeln!(out, "<!-- Generated from crates/audit (rule metadata and tests/fixtures/{}); edit those, then run\n     KEYLESS_UPDATE_DOCS=1 cargo test -p keyless-audit --test docs -->\n", m.id).unwrap();
    writeln!(out, "# `{}`\n\n{}.\n", m.id, capitalise(m.summary)).unwrap();
    writeln!(out, "| | |\n|---|---|\n| Checks | {kind} |\n| Default severity | {} |\n| Confidence | {} |\n| Persona | {} |\n| Auto-fix | {} |\n", m.severity, m.confidence, m.persona, if m.autofix { "yes (`--fix`)" } else { "no" }).unwrap();
    writeln!(out, "## Why\n\n{}\n", m.why).unwrap();
    if let Some((_, text)) = calibration::CALIBRATION.iter().find(|(id, _)| *id == m.id) {
        writeln!(
            out,
            "## Severity and confidence, from the corpus\n\n{text}\n"
        )
        .unwrap();
    }
    let bad = first(m.id, "bad");
    writeln!(out, "## Bad\n").unwrap();
    code_blocks(&mut out, &bad);
    let inputs: Vec<Input> = files(&bad)
        .iter()
        .map(|f| {
            Input::read(
                &f.strip_prefix(fixtures()).unwrap().display().to_string(),
                Ok(&std::fs::read_to_string(f).unwrap()),
            )
        })
        .collect();
    let options = Options {
        persona: Persona::Auditor,
        ..Options::default()
    };
    let findings: Vec<_> = Auditor::new(AuditConfig::default(), options)
        .audit(&inputs)
        .findings
        .into_iter()
        .filter(|f| f.rule == m.id)
        .collect();
    writeln!(
        out,
        "`keyless audit` reports:\n\n```text\n{}```\n",
        plain::render(&findings, false)
    )
    .unwrap();
    writeln!(out, "## Good\n").unwrap();
    code_blocks(&mut out, &first(m.id, "good"));
    writeln!(out, "## Fix\n\n{}\n", m.fix).unwrap();
    writeln!(out, "To silence one finding, add `# keyless: ignore[{}] <reason>` on its line, or an `audit.rules.{}.ignore` entry with a reason in keyless.yml (see [docs/audit.md](../audit.md)).", m.id, m.id).unwrap();
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

#[test]
fn rule_docs_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules");
    let update = std::env::var_os("KEYLESS_UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for rule in registry() {
        let path = root.join(format!("{}.md", rule.meta().id));
        let want = render(*rule);
        if update {
            std::fs::create_dir_all(&root).unwrap();
            std::fs::write(&path, &want).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale rule docs (regenerate with KEYLESS_UPDATE_DOCS=1): {stale:#?}"
    );
}

#[test]
fn audit_md_lists_every_rule() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/audit.md"))
            .unwrap();
    for rule in registry() {
        let link = format!("(rules/{}.md)", rule.meta().id);
        assert!(text.contains(&link), "docs/audit.md does not link {link}");
    }
}

/// Every pipeline rule argues its severity and confidence with what it finds (or does not find) in the real pipelines
/// of `../shared/corpus/pipelines`, citing the file (sources in its `SOURCES.tsv`).
#[test]
fn every_pipeline_rule_argues_its_calibration_from_the_corpus() {
    let sources = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/pipelines/SOURCES.tsv"),
    )
    .unwrap();
    for rule in registry() {
        let m = rule.meta();
        let entry = calibration::CALIBRATION.iter().find(|(id, _)| *id == m.id);
        if m.kind == RuleKind::Pipeline {
            assert!(entry.is_some(), "{} has no calibration argument", m.id);
        }
        let Some((_, text)) = entry else { continue };
        // Every corpus file cited (`NNN__owner__repo…`) is in SOURCES.tsv.
        for cited in text
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|c| c.contains("__"))
        {
            assert!(
                sources
                    .lines()
                    .any(|l| l.starts_with(&format!("{cited}.yml\t"))),
                "{}: `{cited}` is not a corpus file in SOURCES.tsv",
                m.id
            );
        }
    }
}

#[test]
fn every_terraform_module_model_is_listed_in_the_rule_docs() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules/unresolved-reference.md"),
    )
    .unwrap();
    for m in keyless_audit::policy::terraform::models::MODELS {
        let mut name = m.registry.to_owned();
        if !m.submodule.is_empty() {
            name = format!("{name}//{}", m.submodule);
        }
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/rules/unresolved-reference.md does not list the model of {name}"
        );
    }
}
