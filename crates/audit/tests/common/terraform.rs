//! Auditing Terraform written in a test: shared by the Terraform reader's tests (`terraform.rs`) and the module
//! tests (`terraform_modules.rs`). Each test crate uses part of it.
#![allow(dead_code)]

use keyless_audit::policy::terraform::Variables;
use keyless_audit::{AuditConfig, Auditor, Finding, Input, Options};

/// The findings of `(path, text)` files read together (as `keyless audit` reads a checkout), with `variables` as
/// `--tf-var-file` gives them.
pub fn audit_with(files: &[(&str, &str)], variables: Variables) -> Vec<Finding> {
    let inputs: Vec<Input> = files
        .iter()
        .map(|(p, t)| Input::parse(p, t).unwrap())
        .collect();
    Auditor::new(AuditConfig::default(), Options::default())
        .with_terraform_variables(variables)
        .audit(&inputs)
        .findings
}

/// [`audit_with`] without variables: variables take their defaults.
pub fn audit(files: &[(&str, &str)]) -> Vec<Finding> {
    audit_with(files, Variables::default())
}

pub fn rules(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule).collect()
}

/// The one finding of `rule` (fails when there are none or several).
pub fn one<'a>(findings: &'a [Finding], rule: &str) -> &'a Finding {
    let found: Vec<&Finding> = findings.iter().filter(|f| f.rule == rule).collect();
    assert_eq!(found.len(), 1, "one {rule} expected: {findings:#?}");
    found[0]
}

/// 1-based line of the first line of `text` containing `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}
