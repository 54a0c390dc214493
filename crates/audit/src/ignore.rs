//! Ignores: inline `# keyless: ignore[rule-id, other-id] reason` comments anywhere in a finding's span (or on the
//! comment-only line just above it), and `audit.rules.<id>.ignore` entries of `keyless.yml`. Every ignore that
//! matched nothing becomes an `unused-ignore` finding, so stale ignores do not pile up.

use std::sync::Arc;

use crate::Input;
use crate::config::AuditConfig;
use crate::finding::{Finding, Location};
use crate::rule::unused_ignore;
use crate::source::{Document, Span};

/// One inline ignore comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineIgnore {
    /// The index of its input among the audited ones (0 until [`apply`] places it).
    pub input: usize,
    pub line: usize,
    /// Byte span of the comment.
    pub span: Span,
    pub rules: Vec<String>,
    pub reason: String,
    /// The comment is alone on its line (so it also covers the next line).
    pub own_line: bool,
}

const MARKER: &str = "keyless: ignore[";

/// Finds the inline ignore comments of one document ([`Input::parse`] does, so it runs with the per-file work, in
/// parallel). Most files have none: one SIMD substring search tells.
pub fn inline_ignores(doc: &Document) -> Vec<InlineIgnore> {
    let mut out = Vec::new();
    if memchr::memmem::find(doc.text.as_bytes(), MARKER.as_bytes()).is_none() {
        return out;
    }
    for line in 1..=doc.line_count() {
        let text = doc.line_text(line);
        let Some(hash) = comment_start(text) else {
            continue;
        };
        let comment = &text[hash + 1..];
        let Some(at) = comment.find(MARKER) else {
            continue;
        };
        if !comment[..at].trim().is_empty() {
            continue;
        }
        let after = &comment[at + MARKER.len()..];
        let Some(close) = after.find(']') else {
            continue;
        };
        let rules = after[..close]
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let start = doc.line_start(line) + hash;
        out.push(InlineIgnore {
            input: 0,
            line,
            span: Span::new(start, doc.line_start(line) + text.len()),
            rules,
            reason: after[close + 1..].trim().to_owned(),
            own_line: text[..hash].trim().is_empty(),
        });
    }
    out
}

/// Byte offset of a YAML comment's `#` on a line: at the start or after whitespace, outside quotes.
fn comment_start(line: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') if prev_space => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if prev_space => return Some(i),
            _ => {}
        }
        prev_space = c == ' ' || c == '\t';
    }
    None
}

fn covers(ig: &InlineIgnore, f: &Finding) -> bool {
    if ig.input != f.location.input || !ig.rules.iter().any(|r| r == f.rule) {
        return false;
    }
    let doc_text = &f.source;
    let end = f.location.span.end.min(doc_text.len());
    let last_line = f.location.line
        + doc_text[f.location.span.start.min(end)..end]
            .matches('\n')
            .count();
    (f.location.line..=last_line).contains(&ig.line)
        || (ig.own_line && ig.line + 1 == f.location.line)
}

/// Removes the ignored findings (in place, keeping the order) and reports unused ignores. Returns
/// `(ignored count, unused)`.
pub fn apply(
    inputs: &[Input],
    config: &AuditConfig,
    findings: &mut Vec<Finding>,
) -> (usize, Vec<Finding>) {
    let inline: Vec<InlineIgnore> = inputs
        .iter()
        .enumerate()
        .flat_map(|(i, input)| {
            input.ignores.iter().map(move |ig| InlineIgnore {
                input: i,
                ..ig.clone()
            })
        })
        .collect();
    let mut inline_used = vec![false; inline.len()];
    let configured: Vec<(&str, &crate::config::IgnoreEntry)> = config
        .rules
        .iter()
        .flat_map(|(id, rc)| rc.ignore.iter().map(move |e| (id.as_str(), e)))
        .collect();
    let mut config_used = vec![false; configured.len()];
    let before = findings.len();
    findings.retain(|f| {
        let mut hit = false;
        for (n, ig) in inline.iter().enumerate() {
            if covers(ig, f) {
                inline_used[n] = true;
                hit = true;
            }
        }
        for (n, (id, entry)) in configured.iter().enumerate() {
            if *id == f.rule
                && path_matches(&entry.path, &f.location.path)
                && entry.line.is_none_or(|l| l == f.location.line)
            {
                config_used[n] = true;
                hit = true;
            }
        }
        !hit
    });
    let ignored = before - findings.len();
    let mut unused = Vec::new();
    for (ig, used) in inline.iter().zip(&inline_used) {
        if *used {
            continue;
        }
        let input = &inputs[ig.input];
        let (line, column) = input.doc.line_col(ig.span.start);
        let unknown: Vec<&str> = ig
            .rules
            .iter()
            .map(String::as_str)
            .filter(|r| crate::rule::by_id(r).is_none())
            .collect();
        let message = if unknown.is_empty() {
            format!(
                "`keyless: ignore[{}]` matched no finding",
                ig.rules.join(", ")
            )
        } else {
            format!(
                "`keyless: ignore[...]` names unknown rule id(s): {}",
                unknown.join(", ")
            )
        };
        unused.push(unused_finding(
            input,
            Location {
                path: input.path.clone(),
                line,
                column,
                span: ig.span,
                route: String::new(),
                input: ig.input,
            },
            message,
        ));
    }
    for ((id, entry), used) in configured.iter().zip(&config_used) {
        if *used {
            continue;
        }
        // Configured ignores live in keyless.yml; point at it when it was audited, else at the ignored file.
        let keyless = inputs
            .iter()
            .enumerate()
            .find(|(_, i)| i.kind == crate::InputKind::Keyless);
        let message = format!(
            "keyless.yml ignore of `{id}` in {}{} matched no finding",
            entry.path,
            entry.line.map(|l| format!(":{l}")).unwrap_or_default()
        );
        let (index, input) = match keyless {
            Some(k) => k,
            None => match inputs
                .iter()
                .enumerate()
                .find(|(_, i)| path_matches(&entry.path, &i.path))
            {
                Some(k) => k,
                None => continue,
            },
        };
        let route = crate::source::Route::root()
            .key("audit")
            .key("rules")
            .key(*id)
            .key("ignore");
        let span = input
            .doc
            .resolve(&route)
            .map_or(Span::default(), crate::source::span);
        let (line, column) = input.doc.line_col(span.start);
        unused.push(unused_finding(
            input,
            Location {
                path: input.path.clone(),
                line,
                column,
                span,
                route: route.to_string(),
                input: index,
            },
            message,
        ));
    }
    (ignored, unused)
}

fn unused_finding(input: &Input, location: Location, message: String) -> Finding {
    let meta = &unused_ignore::META;
    Finding {
        rule: meta.id,
        severity: meta.severity,
        confidence: meta.confidence,
        persona: meta.persona,
        message,
        label: Some("this ignore suppresses nothing".into()),
        help: Some("remove the ignore, or fix its rule id / path / line".into()),
        location,
        related: Vec::new(),
        fix: None,
        source: Arc::from(input.source()),
    }
}

/// A configured path matches a finding's path when equal after normalising `./`, or when it is a suffix at a
/// path boundary (so `bitbucket-pipelines.yml` matches `repo/bitbucket-pipelines.yml`).
pub fn path_matches(configured: &str, actual: &str) -> bool {
    let c = configured.trim_start_matches("./");
    let a = actual.trim_start_matches("./");
    a == c || a.ends_with(&format!("/{c}"))
}
