//! `keyless audit`: security rules over `bitbucket-pipelines.yml`, IAM trust policies (policy JSON and
//! CloudFormation) and `keyless.yml`, with findings located by route, inline and configured ignores, safe fixes,
//! and output formats (plain, JSON v1, SARIF 2.1.0, Bitbucket Code Insights).
//!
//! ```
//! use keyless_audit::{Auditor, Input, Options};
//! let text = "pipelines:\n  default:\n    - step:\n        script:\n          - curl -s https://x.example | sh\n";
//! let input = Input::parse("bitbucket-pipelines.yml", text).unwrap();
//! let report = Auditor::new(Default::default(), Options::default()).audit(&[input]);
//! assert_eq!(report.findings[0].rule, "curl-pipe-shell");
//! ```

pub mod analysis;
pub mod config;
pub mod discover;
pub mod finding;
pub mod fix;
pub mod ignore;
pub mod output;
pub mod pipeline;
pub mod policy;
pub mod redact;
pub mod rule;
pub mod shell;
pub mod source;
pub mod workspace;

pub use config::{AuditConfig, ConfigError, IgnoreEntry, RuleConfig};
pub use finding::{Confidence, Edit, Finding, FindingBuilder, Fix, Location, Persona, Severity};
pub use rule::{Rule, RuleMeta, registry};
pub use source::{Document, Node, Route, SourceError, Span};

use finding::{Focus, Target};
use pipeline::Pipeline;
use rule::Sink;
use workspace::Workspace;

/// What an input file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Pipeline,
    /// An IAM policy document, or `aws iam get-role` output.
    IamPolicy,
    CloudFormation,
    /// `keyless.yml`.
    Keyless,
    /// Parsed but nothing the audit understands.
    Other,
}

/// One parsed input file.
#[derive(Debug, Clone)]
pub struct Input {
    /// The path as shown in findings (relative when given relative).
    pub path: String,
    pub kind: InputKind,
    pub doc: Document,
    /// The Bitbucket repository a pipeline file belongs to (cross-file rules match it against keyless.yml's
    /// `repositories`). [`Input::parse`] guesses it from the parent directory's name; callers that know it
    /// (`BITBUCKET_REPO_FULL_NAME` inside Pipelines) set it with [`Input::with_repository`].
    pub repository: Option<Repository>,
    /// Why a pipeline file that is YAML is still not a pipeline file (duplicate keys, bad merge keys, several
    /// documents, a top level that is not a mapping). Its tree is then empty and only `invalid-pipeline` reports.
    pub(crate) pipeline_error: Option<keyless_pipelines::ParseError>,
}

/// A pipeline file's repository slug and how it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// The slug (`web` in `acme/web`), lowercase.
    pub slug: String,
    /// True when the caller named the repository; false when it is the name of the file's directory.
    pub given: bool,
}

impl Repository {
    /// A repository the caller named, as `workspace/slug` or `slug`.
    pub fn given(name: &str) -> Option<Self> {
        let slug = name.trim().trim_end_matches('/').rsplit('/').next()?;
        (!slug.is_empty()).then(|| Repository {
            slug: slug.to_ascii_lowercase(),
            given: true,
        })
    }

    /// The repository guessed from the name of a pipeline file's directory (`web/bitbucket-pipelines.yml`).
    pub fn from_dir_name(name: &str) -> Option<Self> {
        (!name.is_empty() && name != "." && name != "..").then(|| Repository {
            slug: name.to_ascii_lowercase(),
            given: false,
        })
    }
}

/// Why an input could not be audited.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{path}:{line}:{column}: not valid YAML/JSON: {message}")]
pub struct InputError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Input {
    /// Parses a file's text and decides its kind from its name and content.
    pub fn parse(path: &str, text: &str) -> Result<Self, InputError> {
        let input_error = |e: keyless_pipelines::ParseError| InputError {
            path: path.to_owned(),
            line: e.line,
            column: e.column,
            message: e.kind.to_string(),
        };
        let (doc, pipeline_error) = match Document::parse(text) {
            Ok(doc) => (doc, None),
            // YAML that is not a valid pipeline file is a finding (`invalid-pipeline`), not bad input.
            Err(e) if !source::is_syntax_error(&e) && looks_like_pipeline(path, text) => {
                (Document::empty(text), Some(e))
            }
            Err(e) => return Err(input_error(e)),
        };
        let kind = if pipeline_error.is_some() {
            InputKind::Pipeline
        } else {
            classify(path, doc.root())
        };
        let pipeline_error = pipeline_error.or_else(|| {
            let root = doc.root();
            (kind == InputKind::Pipeline && root.as_map().is_none()).then(|| {
                let kind = if root.is_null() {
                    keyless_pipelines::ParseErrorKind::Empty
                } else {
                    keyless_pipelines::ParseErrorKind::NotAMapping { found: root.kind() }
                };
                let (line, column) = root.span().map_or((1, 1), |s| (s.line(), s.column()));
                keyless_pipelines::ParseError { line, column, kind }
            })
        });
        let mut parts = path.rsplit(['/', '\\']);
        let repository = parts
            .nth(1)
            .filter(|_| kind == InputKind::Pipeline)
            .and_then(Repository::from_dir_name);
        Ok(Input {
            path: path.to_owned(),
            kind,
            repository,
            doc,
            pipeline_error,
        })
    }

    /// Sets the repository of a pipeline file (other inputs are returned unchanged).
    #[must_use]
    pub fn with_repository(mut self, repository: Option<Repository>) -> Self {
        if self.kind == InputKind::Pipeline && repository.is_some() {
            self.repository = repository;
        }
        self
    }

    pub fn source(&self) -> &str {
        &self.doc.text
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn is_pipeline_name(path: &str) -> bool {
    file_name(path).starts_with("bitbucket-pipelines")
}

/// For a file whose tree could not be built: named like a pipeline file, or with a top-level `pipelines:` line
/// (what [`classify`] would find in the tree).
fn looks_like_pipeline(path: &str, text: &str) -> bool {
    is_pipeline_name(path)
        || text
            .lines()
            .any(|l| l.starts_with("pipelines:") || l.starts_with("\"pipelines\""))
}

fn classify(path: &str, root: &Node) -> InputKind {
    let file = file_name(path);
    if file == "keyless.yml" || file == "keyless.yaml" {
        InputKind::Keyless
    } else if is_pipeline_name(path) || root.get("pipelines").is_some() {
        InputKind::Pipeline
    } else if root.get("Resources").is_some() || root.get("AWSTemplateFormatVersion").is_some() {
        InputKind::CloudFormation
    } else if root.get("Statement").is_some() || root.get("Role").is_some() {
        InputKind::IamPolicy
    } else {
        InputKind::Other
    }
}

/// What to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub persona: Persona,
    pub min_severity: Severity,
    pub min_confidence: Confidence,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            persona: Persona::Regular,
            min_severity: Severity::Info,
            min_confidence: Confidence::Low,
        }
    }
}

/// The result of an audit.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Findings to show, sorted by path, line, column and rule.
    pub findings: Vec<Finding>,
    /// Findings suppressed by inline or configured ignores.
    pub ignored: usize,
    /// Findings hidden by persona or minimum severity/confidence.
    pub filtered: usize,
}

impl Report {
    /// The highest severity among the findings.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Runs the registered rules over a set of inputs.
#[derive(Debug, Clone)]
pub struct Auditor {
    config: AuditConfig,
    options: Options,
}

impl Auditor {
    pub fn new(config: AuditConfig, options: Options) -> Self {
        Auditor { config, options }
    }

    /// Audits the inputs together (cross-file rules see all of them).
    pub fn audit(&self, inputs: &[Input]) -> Report {
        let drafts = self.run_rules(inputs);
        let mut findings: Vec<Finding> = drafts
            .into_iter()
            .filter_map(|(i, d)| resolve(inputs, i, d))
            .collect();
        findings.sort_by(|a, b| {
            (&a.location.path, a.location.line, a.location.column, a.rule).cmp(&(
                &b.location.path,
                b.location.line,
                b.location.column,
                b.rule,
            ))
        });
        // A step built from an anchor is reported once per location, not once per alias.
        let mut seen = std::collections::HashSet::new();
        findings.retain(|f| {
            seen.insert((
                f.rule,
                f.location.input,
                f.location.span.start,
                f.location.span.end,
            ))
        });
        for f in &mut findings {
            if let Some(sev) = self.config.rule(f.rule).and_then(|r| r.severity) {
                f.severity = sev;
            }
        }
        let mut report = Report::default();
        let (kept, ignored, unused) = ignore::apply(inputs, &self.config, findings);
        report.ignored = ignored;
        let unused_enabled = !self.disabled(rule::unused_ignore::META.id);
        let all = kept
            .into_iter()
            .chain(unused.into_iter().filter(|_| unused_enabled));
        for f in all {
            if f.persona <= self.options.persona
                && f.severity >= self.options.min_severity
                && f.confidence >= self.options.min_confidence
            {
                report.findings.push(f);
            } else {
                report.filtered += 1;
            }
        }
        report.findings.sort_by(|a, b| {
            (&a.location.path, a.location.line, a.location.column, a.rule).cmp(&(
                &b.location.path,
                b.location.line,
                b.location.column,
                b.rule,
            ))
        });
        report
    }

    fn disabled(&self, id: &str) -> bool {
        self.config.rule(id).is_some_and(|r| r.disable)
    }

    fn run_rules(&self, inputs: &[Input]) -> Vec<(usize, FindingBuilder)> {
        let rules: Vec<&dyn Rule> = registry()
            .iter()
            .copied()
            .filter(|r| !self.disabled(r.meta().id))
            .collect();
        // Per-file rules see one input each, so files are checked in parallel; results are joined in input
        // order, so the report does not depend on the number of threads.
        let per_input = par_map(inputs, |input| self.check_input(&rules, input));
        let mut out = Vec::new();
        let mut pipelines = Vec::new();
        let mut policies = Vec::new();
        for (index, checked) in per_input.into_iter().enumerate() {
            out.extend(checked.drafts.into_iter().map(|d| (index, d)));
            pipelines.extend(checked.pipeline.map(|p| (index, p)));
            policies.extend(checked.policies.into_iter().map(|p| (index, p)));
        }
        let keyless = inputs
            .iter()
            .enumerate()
            .filter(|(_, i)| i.kind == InputKind::Keyless)
            .map(|(n, i)| (n, &i.doc))
            .collect();
        let ws = Workspace {
            inputs,
            pipelines,
            policies,
            keyless,
            config: &self.config,
        };
        for rule in &rules {
            let mut sink = Sink::default();
            rule.check_workspace(&ws, &mut sink);
            // Cross-file findings name their input; default to the first.
            out.extend(sink.drafts.into_iter().map(|d| (0, d)));
        }
        out
    }
}

/// One input after its per-file rules: the findings and the views cross-file rules need.
struct Checked<'a> {
    drafts: Vec<FindingBuilder>,
    pipeline: Option<Pipeline<'a>>,
    policies: Vec<policy::TrustPolicy<'a>>,
}

impl Auditor {
    fn check_input<'a>(&'a self, rules: &[&dyn Rule], input: &'a Input) -> Checked<'a> {
        let mut checked = Checked {
            drafts: Vec::new(),
            pipeline: None,
            policies: Vec::new(),
        };
        match input.kind {
            InputKind::Pipeline => {
                if let Some(p) = Pipeline::new(
                    &input.doc,
                    &input.path,
                    &self.config,
                    input.pipeline_error.as_ref(),
                ) {
                    for rule in rules {
                        let mut sink = Sink::default();
                        rule.check_pipeline(&p, &mut sink);
                        for step in &p.steps {
                            rule.check_step(step, &p, &mut sink);
                        }
                        checked.drafts.extend(sink.drafts);
                    }
                    checked.pipeline = Some(p);
                }
            }
            InputKind::IamPolicy | InputKind::CloudFormation => {
                for p in policy::trust_policies(
                    &input.doc,
                    &input.path,
                    &self.config.production_environments,
                ) {
                    for rule in rules {
                        let mut sink = Sink::default();
                        rule.check_policy(&p, &mut sink);
                        checked.drafts.extend(sink.drafts);
                    }
                    checked.policies.push(p);
                }
            }
            InputKind::Keyless | InputKind::Other => {}
        }
        checked
    }
}

/// Parses many files at once, in parallel (see [`Input::parse`]); the first error in input order wins.
pub fn parse_inputs(files: &[(String, String)]) -> Result<Vec<Input>, InputError> {
    par_map(files, |(path, text)| Input::parse(path, text))
        .into_iter()
        .collect()
}

/// Maps `f` over `items` on up to [`std::thread::available_parallelism`] threads, keeping the order.
///
/// NOTE: scoped std threads over contiguous chunks rather than rayon: the work is a single flat map over
/// inputs of similar size, and one small function avoids a dependency (and its thread pool) in the library.
fn par_map<'a, T: Sync, R: Send>(items: &'a [T], f: impl Fn(&'a T) -> R + Sync) -> Vec<R> {
    // Fewer than 16 items are not worth a thread (and `available_parallelism` reads cgroup files: it is asked
    // once per process, not per call).
    if items.len() < 16 {
        return items.iter().map(f).collect();
    }
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let threads = cores.min(items.len() / 8).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| scope.spawn(move || c.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                // A panic in a rule is a bug: surface it on the caller's thread as it would be without threads.
                Err(payload) => std::panic::resume_unwind(payload),
            })
            .collect()
    })
}

/// The one place where routes become spans, lines and columns.
pub fn locate(inputs: &[Input], default_input: usize, target: &Target) -> Option<Location> {
    let index = target.input.unwrap_or(default_input);
    let input = inputs.get(index)?;
    let doc = &input.doc;
    if let Focus::Position(line, column) = target.focus {
        let start = doc.line_start(line);
        let offset = doc
            .line_text(line)
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(start, |(i, _)| start + i);
        let span = Span::new(offset, offset);
        return Some(Location {
            path: input.path.clone(),
            line,
            column,
            span,
            route: String::new(),
            input: index,
        });
    }
    let (key, node) = doc.resolve_entry(&target.route)?;
    let node_span = source::span(node);
    let span = match &target.focus {
        Focus::Position(..) | Focus::Node => node_span,
        Focus::Key => key.unwrap_or(node_span),
        Focus::Text(text) => doc
            .text
            .get(node_span.start..node_span.end)
            .and_then(|s| s.find(text.as_str()))
            .map_or(node_span, |at| {
                Span::new(node_span.start + at, node_span.start + at + text.len())
            }),
    };
    let (line, column) = doc.line_col(span.start);
    Some(Location {
        path: input.path.clone(),
        line,
        column,
        span,
        route: target.route.to_string(),
        input: index,
    })
}

fn resolve(inputs: &[Input], default_input: usize, draft: FindingBuilder) -> Option<Finding> {
    let primary = draft.primary.as_ref()?;
    let location = locate(inputs, default_input, primary)?;
    let related = draft
        .related
        .iter()
        .filter_map(|(t, note)| locate(inputs, location.input, t).map(|l| (l, note.clone())))
        .collect();
    Some(Finding {
        rule: draft.meta.id,
        severity: draft.severity,
        confidence: draft.confidence,
        persona: draft.persona,
        message: draft.message,
        label: draft.label,
        help: draft.help,
        source: inputs[location.input].doc.text.clone(),
        location,
        related,
        fix: draft.fix,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn par_map_keeps_order() {
        let items: Vec<usize> = (0..1000).collect();
        let doubled = super::par_map(&items, |i| i * 2);
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::par_map(&[] as &[usize], |i| *i).is_empty());
    }

    #[test]
    fn parse_inputs_reports_the_first_bad_file_in_order() {
        let mut files: Vec<(String, String)> = (0..50)
            .map(|i| {
                (
                    format!("{i}/bitbucket-pipelines.yml"),
                    "pipelines: {}\n".into(),
                )
            })
            .collect();
        files[20].1 = "a: [1\n".into();
        files[40].1 = "b: {\n".into();
        let err = super::parse_inputs(&files).unwrap_err();
        assert_eq!(err.path, "20/bitbucket-pipelines.yml");
        files[20].1 = "pipelines: {}\n".into();
        files[40].1 = "pipelines: {}\n".into();
        let inputs = super::parse_inputs(&files).unwrap();
        assert_eq!(inputs.len(), 50);
        assert_eq!(inputs[7].path, "7/bitbucket-pipelines.yml");
    }
}
