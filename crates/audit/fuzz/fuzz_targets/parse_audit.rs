//! Parse + audit on arbitrary input: the text is read as a pipeline, an IAM policy, a CloudFormation template and
//! keyless.yml (by file name; the pipeline sits in a `web/` directory, so repository-based cross-file rules run),
//! audited together, and every output format is rendered; fixes are applied. Nothing may panic, and the one-pass
//! directory audit (`Auditor::audit_files`) must report what `Auditor::audit` reports.
#![no_main]

use keyless_audit::output::{code_insights, json, plain, sarif};
use keyless_audit::{AuditConfig, Auditor, Input, Options, Persona, Severity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = AuditConfig::from_keyless_yml(text, "keyless.yml");
    let inputs: Vec<Input> = [
        "web/bitbucket-pipelines.yml",
        "policy.json",
        "template.yml",
        "keyless.yml",
    ]
    .iter()
    .filter_map(|p| Input::parse(p, text).ok())
    .collect();
    let options = Options {
        persona: Persona::Auditor,
        ..Options::default()
    };
    let auditor = Auditor::new(AuditConfig::default(), options);
    let report = auditor.audit(&inputs);
    // The one-pass directory audit (what `keyless audit DIR` runs) reports exactly the same findings.
    let files: Vec<(String, String)> = inputs
        .iter()
        .map(|i| (i.path.clone(), text.to_owned()))
        .collect();
    let (_, again) = auditor.audit_files(&files, None);
    let seen = |r: &keyless_audit::Report| -> Vec<(String, usize, usize, String)> {
        r.findings
            .iter()
            .map(|f| {
                (
                    f.rule.to_owned(),
                    f.location.line,
                    f.location.column,
                    f.message.clone(),
                )
            })
            .collect()
    };
    assert_eq!(seen(&report), seen(&again));
    let _ = plain::render(&report.findings, false);
    let _ = json::render(&report.findings);
    let _ = sarif::render_report(&report, "fuzz");
    let _ = code_insights::to_json(&report.findings, Severity::Low);
    let fixable: Vec<_> = report.findings.iter().filter(|f| f.fix.is_some()).collect();
    if let Some(first) = inputs.first() {
        let fixed = keyless_audit::fix::apply(first.source(), &fixable);
        let _ = Input::parse("bitbucket-pipelines.yml", &fixed.text);
    }
});
