//! JSON output, frozen as version 1:
//! `{"version": 1, "findings": [{"rule", "severity", "confidence", "message", "location": {"path", "line", "column"}}]}`.
//! New fields would need a new version; never rename or remove these.

use serde::Serialize;

use crate::finding::{Confidence, Finding, Severity};

#[derive(Debug, Serialize)]
struct Document<'a> {
    version: u32,
    findings: Vec<Item<'a>>,
}

#[derive(Debug, Serialize)]
struct Item<'a> {
    rule: &'a str,
    severity: Severity,
    confidence: Confidence,
    message: &'a str,
    location: Loc<'a>,
}

#[derive(Debug, Serialize)]
struct Loc<'a> {
    path: &'a str,
    line: usize,
    column: usize,
}

/// The JSON v1 value.
pub fn render(findings: &[Finding]) -> serde_json::Value {
    let doc = Document {
        version: 1,
        findings: findings
            .iter()
            .map(|f| Item {
                rule: f.rule,
                severity: f.severity,
                confidence: f.confidence,
                message: &f.message,
                location: Loc {
                    path: &f.location.path,
                    line: f.location.line,
                    column: f.location.column,
                },
            })
            .collect(),
    };
    serde_json::to_value(doc).unwrap_or(serde_json::Value::Null)
}
