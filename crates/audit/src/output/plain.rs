//! Plain output in the style of rustc: a header with the rule id, the source snippet with a caret and label,
//! related locations, a `help:` line and the rule's confidence; then a one-line summary.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use crate::finding::{Finding, Severity};

/// Renders findings; `color` adds ANSI styles (use it only on a terminal).
pub fn render(findings: &[Finding], color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for f in findings {
        let level = match f.severity {
            Severity::High => Level::ERROR,
            Severity::Medium | Severity::Low => Level::WARNING,
            Severity::Info => Level::INFO,
        };
        // Quoted lines are redacted (same byte length, so spans hold): a finding about a committed secret
        // must not repeat the secret in a log or a report.
        let redacted = crate::redact::secrets(&f.source);
        let source: &str = &redacted;
        let clamp = |start: usize, end: usize| {
            let start = start.min(source.len());
            let mut end = end.clamp(start, source.len());
            if end == start {
                end = source[start..]
                    .chars()
                    .next()
                    .map_or(start, |c| start + c.len_utf8());
            }
            start..end
        };
        let mut snippet = Snippet::source(source)
            .path(f.location.path.as_str())
            .fold(true)
            .annotation(
                AnnotationKind::Primary
                    .span(clamp(f.location.span.start, f.location.span.end))
                    .label(f.label.as_deref().unwrap_or("")),
            );
        let mut others = Vec::new();
        for (loc, note) in &f.related {
            if loc.input == f.location.input {
                snippet = snippet.annotation(
                    AnnotationKind::Context
                        .span(clamp(loc.span.start, loc.span.end))
                        .label(note.as_str()),
                );
            } else {
                others.push(format!("{note}: {}:{}:{}", loc.path, loc.line, loc.column));
            }
        }
        let mut report = vec![
            level
                .primary_title(f.message.as_str())
                .id(f.rule)
                .element(snippet),
        ];
        for o in others {
            report.push(Group::with_title(Level::NOTE.secondary_title(o)));
        }
        if let Some(help) = &f.help {
            report.push(Group::with_title(
                Level::HELP.secondary_title(help.as_str()),
            ));
        }
        let note = format!(
            "severity {} · confidence {}{} · docs/rules/{}.md",
            f.severity,
            f.confidence,
            if f.fix.is_some() {
                " · fixable with --fix"
            } else {
                ""
            },
            f.rule
        );
        report.push(Group::with_title(Level::NOTE.secondary_title(note)));
        out.push_str(&renderer.render(&report));
        out.push_str("\n\n");
    }
    out.push_str(&summary(findings));
    out.push('\n');
    out
}

/// `3 findings: 1 high, 2 medium` or `no findings`.
pub fn summary(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "no findings".to_owned();
    }
    let mut parts = Vec::new();
    for sev in [
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let n = findings.iter().filter(|f| f.severity == sev).count();
        if n > 0 {
            parts.push(format!("{n} {sev}"));
        }
    }
    let n = findings.len();
    format!(
        "{n} finding{}: {}",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    )
}
