//! SARIF 2.1.0 output (one run, every registered rule in `tool.driver.rules`), validated against the OASIS schema
//! in the tests.

use serde_json::{Value, json};

use crate::finding::{Finding, Severity};
use crate::rule::registry;
use crate::{Report, Unreadable};

fn level(sev: Severity) -> &'static str {
    match sev {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub-style `security-severity` (0.0–10.0) so code-scanning UIs can rank findings.
fn security_severity(sev: Severity) -> &'static str {
    match sev {
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// The SARIF log of a report: its findings, and each input that could not be read or parsed as an error under
/// `runs[0].invocations[0].toolExecutionNotifications` (also a finding, so code-scanning UIs show it either way).
/// `executionSuccessful` is false when no input at all could be read.
pub fn render_report(report: &Report, tool_version: &str) -> Value {
    let mut log = render(&report.findings, tool_version);
    log["runs"][0]["invocations"] = json!([{
        "executionSuccessful": !report.nothing_readable(),
        "toolExecutionNotifications": report.unreadable.iter().map(notification).collect::<Vec<_>>(),
    }]);
    log
}

fn notification(u: &Unreadable) -> Value {
    let (e, rule) = (&u.error, u.rule);
    json!({
        "level": "error",
        "message": {"text": format!("{}: not audited: {}", e.path, e.message)},
        "descriptor": {"id": rule},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": e.path.replace('\\', "/")},
                "region": {"startLine": e.line.max(1), "startColumn": e.column.max(1)},
            }
        }],
    })
}

/// The SARIF log of findings alone (no invocation; see [`render_report`]).
pub fn render(findings: &[Finding], tool_version: &str) -> Value {
    let rules: Vec<Value> = registry()
        .iter()
        .map(|r| {
            let m = r.meta();
            json!({
                "id": m.id,
                "name": m.id,
                "shortDescription": {"text": m.summary},
                "fullDescription": {"text": m.why},
                "help": {"text": m.fix, "markdown": format!("{}\n\nSee `{}`.", m.fix, m.docs_path())},
                "defaultConfiguration": {"level": level(m.severity)},
                "properties": {
                    "security-severity": security_severity(m.severity),
                    "confidence": m.confidence.to_string(),
                    "tags": ["security", "bitbucket-pipelines"],
                },
            })
        })
        .collect();
    let index = |id: &str| {
        registry()
            .iter()
            .position(|r| r.meta().id == id)
            .unwrap_or(0)
    };
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let src: &str = &f.source;
            let end = f.location.span.end.min(src.len());
            let start = f.location.span.start.min(end);
            let end_line = f.location.line + src[start..end].matches('\n').count();
            let end_col = match src[start..end].rfind('\n') {
                Some(nl) => src[start + nl + 1..end].chars().count() + 1,
                None => f.location.column + src[start..end].chars().count(),
            };
            let mut region = json!({
                "startLine": f.location.line,
                "startColumn": f.location.column,
                "endLine": end_line,
                "endColumn": end_col.max(1),
            });
            if end_line == f.location.line && end_col <= f.location.column {
                region["endColumn"] = json!(f.location.column + 1);
            }
            let mut result = json!({
                "ruleId": f.rule,
                "ruleIndex": index(f.rule),
                "level": level(f.severity),
                "message": {"text": match &f.help { Some(h) => format!("{} ({h})", f.message), None => f.message.clone() }},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.location.path.replace('\\', "/")},
                        "region": region,
                    }
                }],
                "properties": {"severity": f.severity.to_string(), "confidence": f.confidence.to_string()},
            });
            if !f.related.is_empty() {
                result["relatedLocations"] = Value::Array(
                    f.related
                        .iter()
                        .enumerate()
                        .map(|(i, (l, note))| {
                            json!({
                                "id": i,
                                "message": {"text": note},
                                "physicalLocation": {
                                    "artifactLocation": {"uri": l.path.replace('\\', "/")},
                                    "region": {"startLine": l.line, "startColumn": l.column},
                                }
                            })
                        })
                        .collect(),
                );
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "keyless",
                "version": tool_version,
                "informationUri": "https://example.invalid/keyless/docs/audit.md",
                "rules": rules,
            }},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }]
    })
}
