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

/// Every rule argues its severity and confidence with what it finds (or does not find) in the real files of
/// `../shared/corpus`: the argument names the rule's default severity and confidence (so changing either in the
/// rule's metadata means revisiting the argument), and every file it cites exists in the corpus and is listed in the
/// `SOURCES.tsv` of its folder (`trust/asis` has none). Pipelines are cited by name without `.yml`
/// (`059__23__youbora-debug`), trust files and folders by their path from the corpus root
/// (`trust/asis/A6_016_get_role.json`, `trust/sources`).
#[test]
fn every_rule_argues_its_calibration_from_the_corpus() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    let tsv = |dir: &str| {
        std::fs::read_to_string(corpus.join(dir).join("SOURCES.tsv"))
            .unwrap_or_else(|e| panic!("{}: {e}", corpus.join(dir).display()))
    };
    let (pipelines, trust, trust_sources) = (tsv("pipelines"), tsv("trust"), tsv("trust/sources"));
    let listed = |tsv: &str, file: &str| tsv.lines().any(|l| l.starts_with(&format!("{file}\t")));
    for (i, (id, _)) in calibration::CALIBRATION.iter().enumerate() {
        assert!(
            keyless_audit::rule::by_id(id).is_some(),
            "calibration for `{id}`, which is not a rule"
        );
        assert!(
            calibration::CALIBRATION[..i]
                .iter()
                .all(|(other, _)| other != id),
            "`{id}` is argued twice"
        );
    }
    for rule in registry() {
        let m = rule.meta();
        let Some((_, text)) = calibration::CALIBRATION.iter().find(|(id, _)| *id == m.id) else {
            panic!("{} has no calibration argument", m.id);
        };
        let default = format!("{}, {} confidence", m.severity, m.confidence);
        assert!(
            text.to_lowercase().contains(&default),
            "{}: the argument does not name the rule's default `{default}`",
            m.id
        );
        for cited in text.split('`').skip(1).step_by(2) {
            if let Some(rest) = cited.strip_prefix("trust/") {
                // A folder of the corpus (`trust/asis/`) names the folder, not a file.
                if corpus.join(cited).is_dir() {
                    continue;
                }
                assert!(
                    corpus.join(cited).is_file(),
                    "{}: `{cited}` is not a file of the corpus",
                    m.id
                );
                let (sources, name) = match rest.split_once('/') {
                    None => (Some(&trust), rest),
                    Some(("sources", name)) => (Some(&trust_sources), name),
                    Some(("asis", _)) => (None, rest),
                    Some(_) => panic!("{}: `{cited}` is in no folder of the trust corpus", m.id),
                };
                if let Some(sources) = sources {
                    assert!(
                        listed(sources, name),
                        "{}: `{cited}` is not in its folder's SOURCES.tsv",
                        m.id
                    );
                }
            } else if cited.contains("__") {
                assert!(
                    listed(&pipelines, &format!("{cited}.yml")),
                    "{}: `{cited}` is not a corpus pipeline in pipelines/SOURCES.tsv",
                    m.id
                );
            }
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
