//! The real pipelines (`../shared/corpus/pipelines`, 163 files from public repositories, sources in its
//! `SOURCES.tsv`), read in place and audited as one directory audit, as `keyless audit DIR` does: no panic, a
//! refusal (`invalid-pipeline` for a file that cannot be parsed) exactly where Bitbucket itself would refuse the file
//! (the table below, with each reason), every other file audited, and a snapshot of every finding so any change in
//! what the audit says about real files shows in review.
//!
//! NOTE: the snapshot records the findings as they are; it has not been reviewed finding by finding (see
//! docs/audit.md for the rules whose corpus findings were read). A change in it is a change to look at, not
//! necessarily a regression.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use keyless_audit::{AuditConfig, Auditor, Options, Persona};

/// The files Bitbucket refuses, with the reason. The verdict is PyYAML's (the corpus YAML test in
/// `crates/pipelines/tests/yaml_front_end.rs` checks keyless refuses exactly what PyYAML refuses) and the
/// documented behaviour of Bitbucket's YAML 1.1 loader: none of these files is a YAML document at all.
const REFUSED: &[(&str, &str)] = &[
    (
        "021__10002856340c__ETL-OpenSearch.yml",
        "an unquoted `*` branch pattern: YAML reads `*` as an alias, and no anchor of that name exists \
         (PyYAML: found undefined alias; Atlassian's docs quote glob patterns that start with `*`)",
    ),
    (
        "093__Benzito164__K6-PerformanceTesting__ci_bitbucket-pipelines.yml",
        "a line `packages` without `:` inside the `default:` block (PyYAML: could not find expected ':')",
    ),
    (
        "145__ozunuane__pipelines-scripts__bitbucket_bitbucket-pipelines.yml",
        "free text (`Point via workspace`, `$ECR_REPO_NAME = …`) before the mapping starts (PyYAML: expected \
         '<document start>')",
    ),
    (
        "199__ozunuane__pipelines-scripts__bitbucket_bitbucket-pipelines_2_.yml",
        "an alias used before its anchor is defined (PyYAML: found undefined alias)",
    ),
];

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/pipelines")
}

#[test]
fn real_pipelines_are_audited_and_refused_only_where_bitbucket_refuses() {
    let Ok(entries) = std::fs::read_dir(corpus()) else {
        panic!(
            "{} is missing: the corpus sits beside the project",
            corpus().display()
        );
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    names.sort();
    assert!(names.len() >= 160, "{} files", names.len());
    // Named as a directory audit finds them: `<repository>/bitbucket-pipelines.yml`.
    let files: Vec<(String, String)> = names
        .iter()
        .map(|n| {
            (
                format!("{}/bitbucket-pipelines.yml", n.trim_end_matches(".yml")),
                std::fs::read_to_string(corpus().join(n)).unwrap(),
            )
        })
        .collect();
    let auditor = Auditor::new(
        AuditConfig::default(),
        Options {
            persona: Persona::Auditor,
            ..Options::default()
        },
    );
    let (inputs, report) = auditor.audit_files(&files, None);
    assert_eq!(inputs.len(), files.len());

    let refused: Vec<String> = report
        .unreadable
        .iter()
        .map(|u| {
            assert_eq!(u.rule, "invalid-pipeline");
            format!(
                "{}.yml",
                u.error.path.trim_end_matches("/bitbucket-pipelines.yml")
            )
        })
        .collect();
    let expected: Vec<String> = REFUSED.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(refused, expected, "refusals differ from the table");
    assert!(!report.nothing_readable());

    // Every finding, per file, in report order.
    let mut per_file: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &report.findings {
        *per_rule.entry(f.rule).or_default() += 1;
        per_file
            .entry(f.location.path.trim_end_matches("/bitbucket-pipelines.yml"))
            .or_default()
            .push(format!(
                "  {}:{} {} {}/{} {}",
                f.location.line, f.location.column, f.rule, f.severity, f.confidence, f.message
            ));
    }
    let mut text = String::new();
    for (file, lines) in &per_file {
        text.push_str(file);
        text.push('\n');
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
    }
    println!(
        "findings per rule over {} files: {per_rule:#?}",
        files.len()
    );
    insta::assert_snapshot!("corpus_pipelines_findings", text);
    // The files with OIDC hold the token leaks the issue names: the token written inside the clone directory
    // through `$AWS_WEB_IDENTITY_TOKEN_FILE` (125: 5 steps, 206: 5 steps) is found.
    for (file, steps) in [
        (
            "125__tranquangvu__multi-tenant-deployment__infra_bitbucket-pipelines",
            5,
        ),
        ("206__tranquangvu__multi-tenant-deployment", 5),
    ] {
        let found = per_file[file]
            .iter()
            .filter(|l| l.contains(" token-in-clone-dir "))
            .count();
        assert_eq!(found, steps, "{file}");
    }
    // Temporary credentials from STS are not long-lived keys (175 exports them through a nested substitution of
    // `aws sts assume-role`; 210, 214, 215 from assume-role-with-web-identity).
    for file in [
        "175__ThanhNC-res__bitbucket-pipe-terraform",
        "210__index__id24096652549",
        "214__index__id38967671491",
        "215__index__id43908733071",
    ] {
        assert!(
            !per_file
                .get(file)
                .is_some_and(|ls| ls.iter().any(|l| l.contains(" long-lived-aws-keys "))),
            "{file}: {:#?}",
            per_file.get(file)
        );
    }
}
