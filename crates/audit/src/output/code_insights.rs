//! Bitbucket Code Insights: one report plus annotations (bitbucket.md §5). Bitbucket accepts at most 100
//! annotations per request and 1000 per report, so [`batches`] splits and caps them.

use serde::Serialize;

use crate::finding::{Finding, Severity};

/// Bitbucket caps a report at this many annotations.
pub const MAX_ANNOTATIONS: usize = 1000;
/// Bitbucket caps one POST at this many annotations.
pub const BATCH_SIZE: usize = 100;
/// The report id keyless uses (prefixed with the system name, as Atlassian recommends).
pub const REPORT_ID: &str = "keyless-audit";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub title: String,
    pub details: String,
    pub report_type: &'static str,
    pub reporter: &'static str,
    pub result: &'static str,
    pub data: Vec<DataItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataItem {
    pub title: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub external_id: String,
    pub title: String,
    pub annotation_type: &'static str,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    pub severity: &'static str,
    pub result: &'static str,
    pub path: String,
    pub line: usize,
}

/// The report (`result` is `FAILED` when a finding is at or above `fail_on`) and all annotations (capped).
pub fn render(findings: &[Finding], fail_on: Severity) -> (Report, Vec<Annotation>) {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let failed = findings.iter().any(|f| f.severity >= fail_on);
    let mut data = vec![DataItem {
        title: "Findings".into(),
        kind: "NUMBER",
        value: findings.len().into(),
    }];
    for (title, sev) in [
        ("High", Severity::High),
        ("Medium", Severity::Medium),
        ("Low", Severity::Low),
        ("Info", Severity::Info),
    ] {
        data.push(DataItem {
            title: title.into(),
            kind: "NUMBER",
            value: count(sev).into(),
        });
    }
    if findings.len() > MAX_ANNOTATIONS {
        data.push(DataItem {
            title: "Annotations shown".into(),
            kind: "TEXT",
            value: format!("first {MAX_ANNOTATIONS} of {}", findings.len()).into(),
        });
    }
    let report = Report {
        title: "keyless audit".into(),
        details: format!(
            "Security audit of Bitbucket Pipelines and AWS trust policies: {}.",
            super::plain::summary(findings)
        ),
        report_type: "SECURITY",
        reporter: "keyless",
        result: if failed { "FAILED" } else { "PASSED" },
        data,
    };
    // Highest severity first, so the cap drops the least important annotations.
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let annotations = sorted
        .into_iter()
        .take(MAX_ANNOTATIONS)
        .map(|f| Annotation {
            external_id: external_id(f),
            title: f.rule.to_owned(),
            annotation_type: if f.severity >= Severity::Medium {
                "VULNERABILITY"
            } else {
                "CODE_SMELL"
            },
            summary: f.message.clone(),
            details: f.help.clone(),
            severity: match f.severity {
                Severity::High => "HIGH",
                Severity::Medium => "MEDIUM",
                Severity::Low | Severity::Info => "LOW",
            },
            result: "FAILED",
            path: f.location.path.trim_start_matches("./").to_owned(),
            line: f.location.line,
        })
        .collect();
    (report, annotations)
}

/// Splits annotations into POST bodies of at most [`BATCH_SIZE`].
pub fn batches(annotations: &[Annotation]) -> impl Iterator<Item = &[Annotation]> {
    annotations.chunks(BATCH_SIZE)
}

/// A stable id per finding (FNV-1a over rule, path, line, column and message), unique within a report.
fn external_id(f: &Finding) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let key = format!(
        "{}\0{}\0{}\0{}\0{}",
        f.rule, f.location.path, f.location.line, f.location.column, f.message
    );
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("keyless-{}-{h:016x}", f.rule)
}

/// The JSON printed by `--format code-insights`: `{"report": {...}, "annotations": [...]}`.
pub fn to_json(findings: &[Finding], fail_on: Severity) -> serde_json::Value {
    let (report, annotations) = render(findings, fail_on);
    serde_json::json!({"report": report, "annotations": annotations})
}
