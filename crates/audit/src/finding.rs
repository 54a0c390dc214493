//! Findings: severity, confidence, persona, the builder rules use, and resolved locations.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::rule::RuleMeta;
use crate::source::{Route, Span};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

/// How sure the rule is that the finding is real.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

/// Who the finding is for: `regular` users see only regular findings; `pedantic` adds hardening
/// suggestions; `auditor` adds findings that are only interesting when reviewing someone else's setup.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Persona {
    #[default]
    Regular,
    Pedantic,
    Auditor,
}

macro_rules! display_via_serde {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let s = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                f.write_str(&s)
            }
        }
    )*};
}
display_via_serde!(Severity, Confidence, Persona);

/// Which part of the node at a route the finding points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Focus {
    /// The whole node.
    Node,
    /// The key of the mapping entry the route ends in (e.g. the `oidc` in `oidc: true`).
    Key,
    /// The first occurrence of this text inside the node's source span (falls back to the node).
    Text(String),
    /// The `n`-th (0-based) occurrence of this text inside the node's source span: what a rule matched at a known
    /// offset of a scalar's value, so a script line that repeats the text earlier in the same block (a `- |` script)
    /// is not reported at the earlier line. Falls back to the first occurrence, then to the node.
    Occurrence(String, usize),
    /// A 1-based line and column (for errors reported by position, such as YAML syntax errors).
    Position(usize, usize),
    /// A byte range of the source (for what the tree no longer holds, such as a duplicate key's earlier value).
    Bytes(usize, usize),
}

/// An unresolved location: which input, which node, which part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Index of the input in the audited set; `None` means "the input being checked".
    pub input: Option<usize>,
    pub route: Route,
    pub focus: Focus,
}

/// A resolved location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub path: String,
    pub line: usize,
    pub column: usize,
    #[serde(skip)]
    pub span: Span,
    #[serde(skip)]
    pub route: String,
    #[serde(skip)]
    pub input: usize,
}

/// One text replacement in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub span: Span,
    pub replacement: String,
}

/// A safe, format- and comment-preserving fix: edits to the source of the finding's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub description: String,
    pub edits: Vec<Edit>,
}

/// A finding as a rule builds it, before its routes become spans.
#[derive(Debug, Clone)]
pub struct FindingBuilder {
    pub(crate) meta: &'static RuleMeta,
    pub(crate) severity: Severity,
    pub(crate) confidence: Confidence,
    pub(crate) persona: Persona,
    pub(crate) message: String,
    pub(crate) label: Option<String>,
    pub(crate) help: Option<String>,
    pub(crate) primary: Option<Target>,
    pub(crate) related: Vec<(Target, String)>,
    pub(crate) fix: Option<Fix>,
}

impl FindingBuilder {
    pub fn new(meta: &'static RuleMeta) -> Self {
        FindingBuilder {
            meta,
            severity: meta.severity,
            confidence: meta.confidence,
            persona: meta.persona,
            message: meta.summary.to_owned(),
            label: None,
            help: None,
            primary: None,
            related: Vec::new(),
            fix: None,
        }
    }

    #[must_use]
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Short text shown under the caret in plain output.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    #[must_use]
    pub fn confidence(mut self, confidence: Confidence) -> Self {
        self.confidence = confidence;
        self
    }

    #[must_use]
    pub fn persona(mut self, persona: Persona) -> Self {
        self.persona = persona;
        self
    }

    /// The primary location: the whole node at `route`.
    #[must_use]
    pub fn at(self, route: Route) -> Self {
        self.at_focus(route, Focus::Node)
    }

    /// The primary location: the key of the entry at `route`.
    #[must_use]
    pub fn at_key(self, route: Route) -> Self {
        self.at_focus(route, Focus::Key)
    }

    /// The primary location: `text` inside the node at `route`.
    #[must_use]
    pub fn at_text(self, route: Route, text: impl Into<String>) -> Self {
        self.at_focus(route, Focus::Text(text.into()))
    }

    /// The primary location: the text at `value[offset..offset + len]`, where `value` is the scalar value of the
    /// node at `route` (a script line, a block of them). The source is found by counting the occurrences of that
    /// text before `offset`, so it lands on the line the rule matched, in plain, quoted, literal and folded scalars
    /// alike; an offset that is not inside `value` (or not at a character boundary) falls back to the node.
    #[must_use]
    pub fn at_value(self, route: Route, value: &str, offset: usize, len: usize) -> Self {
        match value.get(offset..offset + len) {
            Some(text) if !text.is_empty() => {
                let nth = value[..offset].matches(text).count();
                self.at_focus(route, Focus::Occurrence(text.to_owned(), nth))
            }
            _ => self.at_focus(route, Focus::Node),
        }
    }

    /// The primary location is where a resolved policy value was written (see `policy::At`).
    #[must_use]
    pub fn at_loc(self, at: &crate::policy::At) -> Self {
        let b = self.at_focus(at.route.clone(), at.focus.clone());
        match at.input {
            Some(input) => b.in_input(input),
            None => b,
        }
    }

    /// A related location where a resolved policy value was written.
    #[must_use]
    pub fn related_at(
        mut self,
        input: Option<usize>,
        at: &crate::policy::At,
        note: impl Into<String>,
    ) -> Self {
        self.related.push((
            Target {
                // A place in a module of several files names its own input.
                input: at.input.or(input),
                route: at.route.clone(),
                focus: at.focus.clone(),
            },
            note.into(),
        ));
        self
    }

    #[must_use]
    pub fn at_focus(mut self, route: Route, focus: Focus) -> Self {
        self.primary = Some(Target {
            input: None,
            route,
            focus,
        });
        self
    }

    /// The primary location is in another input (cross-file rules).
    #[must_use]
    pub fn in_input(mut self, input: usize) -> Self {
        if let Some(p) = &mut self.primary {
            p.input = Some(input);
        }
        self
    }

    #[must_use]
    pub fn related(mut self, input: Option<usize>, route: Route, note: impl Into<String>) -> Self {
        self.related.push((
            Target {
                input,
                route,
                focus: Focus::Node,
            },
            note.into(),
        ));
        self
    }

    /// A related location at `focus` of the node at `route`.
    #[must_use]
    pub fn related_focus(
        mut self,
        input: Option<usize>,
        route: Route,
        focus: Focus,
        note: impl Into<String>,
    ) -> Self {
        self.related.push((
            Target {
                input,
                route,
                focus,
            },
            note.into(),
        ));
        self
    }

    /// A related location at the key of the entry at `route` (a mapping's own span starts at its first value).
    #[must_use]
    pub fn related_key(
        mut self,
        input: Option<usize>,
        route: Route,
        note: impl Into<String>,
    ) -> Self {
        self.related.push((
            Target {
                input,
                route,
                focus: Focus::Key,
            },
            note.into(),
        ));
        self
    }

    #[must_use]
    pub fn fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }
}

/// A resolved finding, ready for any output format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub confidence: Confidence,
    pub persona: Persona,
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
    pub location: Location,
    pub related: Vec<(Location, String)>,
    pub fix: Option<Fix>,
    /// The input's full source, so formats can show snippets without I/O.
    pub source: std::sync::Arc<str>,
}
