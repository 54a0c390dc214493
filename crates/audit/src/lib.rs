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
pub mod files;
pub mod finding;
pub mod fix;
pub mod flow;
pub mod ignore;
pub mod keyless;
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
    /// A Terraform file (`.tf`, `.tf.json`, and the `.tfvars` a root module loads): read with the other files of its
    /// directory, as Terraform does.
    Terraform,
    /// `terraform show -json` output (a plan or the state).
    TerraformPlan,
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
    /// Its inline `# keyless: ignore[...]` comments.
    pub(crate) ignores: Vec<ignore::InlineIgnore>,
    /// Why the file could not be read or parsed at all ([`Input::read`]); its tree is then empty and only
    /// `invalid-pipeline` (a pipeline file) or `invalid-input` (any other input) reports.
    pub(crate) unreadable: Option<InputError>,
    /// A keyless.yml's model (`keyless-workspace`'s as-written types, read from `doc`'s tree; see [`keyless`]).
    pub(crate) keyless: Option<std::sync::Arc<keyless::RawConfig>>,
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

/// Why an input could not be audited: it could not be read, is not valid YAML/JSON, or (keyless.yml) its `audit:`
/// section is unusable. `message` says which.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{path}:{line}:{column}: {message}")]
pub struct InputError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Input {
    /// Parses a file's text and decides its kind from its name and content.
    pub fn parse(path: &str, text: &str) -> Result<Self, InputError> {
        // Terraform's native syntax has no tree here: the module is read with its other files (see
        // `policy::terraform`); only the syntax is checked now, so a broken file is bad input like broken YAML.
        if policy::terraform::is_native(path)
            || (policy::terraform::is_tfvars(path) && !path.ends_with(".json"))
        {
            policy::terraform::check_syntax(text).map_err(|e| InputError {
                path: path.to_owned(),
                line: e.line,
                column: e.column,
                message: format!("not valid Terraform: {}", e.message),
            })?;
            let doc = Document::empty(text);
            return Ok(Input {
                path: path.to_owned(),
                kind: InputKind::Terraform,
                repository: None,
                ignores: ignore::inline_ignores(&doc),
                doc,
                pipeline_error: None,
                unreadable: None,
                keyless: None,
            });
        }
        let input_error = |e: keyless_pipelines::ParseError| InputError {
            path: path.to_owned(),
            line: e.line,
            column: e.column,
            message: not_valid(&e.kind),
        };
        // keyless.yml is keyless's own format, read with the YAML 1.2 core schema; everything else as Bitbucket
        // reads pipelines (YAML 1.1, the last of duplicate keys wins; CloudFormation documents YAML 1.1 too).
        let options = if is_keyless_name(path) {
            keyless_pipelines::ParseOptions::STRICT
        } else {
            keyless_pipelines::ParseOptions::PIPELINE
        };
        let (doc, pipeline_error) = match Document::parse_with(text, options) {
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
        // Duplicate keys are read as Bitbucket reads them only in pipelines (`duplicate-key` reports them); what IAM
        // or CloudFormation would make of one is not known, so such a file stays unreadable, as before.
        if kind != InputKind::Pipeline
            && let Some(d) = doc.duplicates().first()
        {
            return Err(InputError {
                path: path.to_owned(),
                line: d.repeat.start.line,
                column: d.repeat.start.column,
                message: not_valid(&keyless_pipelines::ParseErrorKind::DuplicateKey {
                    key: d.key.clone(),
                    first_line: d.previous.start.line,
                }),
            });
        }
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
        // keyless.yml is read through keyless-workspace's model, from this tree: a file the loader refuses is bad
        // input here too, with the loader's diagnostic (`keyless plan` would say the same).
        let keyless = if kind == InputKind::Keyless {
            let model = keyless::read(&doc).map_err(|d| InputError {
                path: path.to_owned(),
                line: (d.location.line as usize).max(1),
                column: (d.location.column as usize).max(1),
                message: match &d.help {
                    Some(help) => format!("not a valid keyless.yml: {}; {help}", d.message),
                    None => format!("not a valid keyless.yml: {}", d.message),
                },
            })?;
            Some(std::sync::Arc::new(model))
        } else {
            None
        };
        let mut parts = path.rsplit(['/', '\\']);
        let repository = parts
            .nth(1)
            .filter(|_| kind == InputKind::Pipeline)
            .and_then(Repository::from_dir_name);
        Ok(Input {
            path: path.to_owned(),
            kind,
            repository,
            ignores: ignore::inline_ignores(&doc),
            doc,
            pipeline_error,
            unreadable: None,
            keyless,
        })
    }

    /// Reads a file for a directory audit, which never loses a report: its text is parsed as [`Input::parse`]
    /// does, and a file that cannot be read (`text` is the reason) or parsed becomes an input whose only finding
    /// is `invalid-pipeline` (a pipeline file, by name or a top-level `pipelines:` line) or `invalid-input`.
    pub fn read(path: &str, text: Result<&str, &str>) -> Self {
        let error = match text {
            Ok(text) => match Input::parse(path, text) {
                Ok(input) => return input,
                Err(e) => e,
            },
            Err(reason) => InputError {
                path: path.to_owned(),
                line: 1,
                column: 1,
                message: reason.to_owned(),
            },
        };
        Input::unreadable(path, text.unwrap_or(""), error)
    }

    /// An input that could not be read or parsed (see [`Input::read`]).
    pub fn unreadable(path: &str, text: &str, error: InputError) -> Self {
        let kind = if is_keyless_name(path) {
            InputKind::Keyless
        } else if looks_like_pipeline(path, text) {
            InputKind::Pipeline
        } else {
            InputKind::Other
        };
        Input {
            path: path.to_owned(),
            kind,
            repository: None,
            ignores: Vec::new(),
            doc: Document::empty(text),
            pipeline_error: None,
            unreadable: Some(error),
            keyless: None,
        }
    }

    /// Why the file could not be read or parsed, if it could not (see [`Input::read`]).
    pub fn unreadable_error(&self) -> Option<&InputError> {
        self.unreadable.as_ref()
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

/// A parse error's message, saying that the file is not valid YAML/JSON (once).
fn not_valid(kind: &keyless_pipelines::ParseErrorKind) -> String {
    let message = kind.to_string();
    if message.starts_with("invalid YAML") {
        message
    } else {
        format!("not valid YAML/JSON: {message}")
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn is_keyless_name(path: &str) -> bool {
    matches!(file_name(path), "keyless.yml" | "keyless.yaml")
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
    if is_keyless_name(path) {
        InputKind::Keyless
    } else if is_pipeline_name(path) || root.get("pipelines").is_some() {
        InputKind::Pipeline
    } else if policy::terraform::is_json(path) || policy::terraform::is_tfvars(path) {
        InputKind::Terraform
    } else if policy::terraform::is_plan(root) {
        InputKind::TerraformPlan
    } else if root.get("Resources").is_some() || root.get("AWSTemplateFormatVersion").is_some() {
        InputKind::CloudFormation
    } else if root.get("Statement").is_some()
        || root.get("Role").is_some()
        || root.get("RoleDetailList").is_some()
    {
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

/// An input that could not be read or parsed, and the rule that reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub error: InputError,
    /// `invalid-pipeline` or `invalid-input`.
    pub rule: &'static str,
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
    /// Inputs that could not be read or parsed, in input order (each is also an `invalid-pipeline` or
    /// `invalid-input` finding unless that rule is disabled or ignored; SARIF lists them as tool notifications).
    pub unreadable: Vec<Unreadable>,
    /// How many inputs were audited, readable or not.
    pub inputs: usize,
}

impl Report {
    /// The highest severity among the findings.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// True when there were inputs and none of them could be read (`keyless audit` then exits 2).
    pub fn nothing_readable(&self) -> bool {
        self.inputs > 0 && self.unreadable.len() == self.inputs
    }
}

/// Runs the registered rules over a set of inputs.
#[derive(Debug, Clone)]
pub struct Auditor {
    config: AuditConfig,
    options: Options,
    /// Values for Terraform variables (`--tf-var-file`); others take their defaults.
    terraform_variables: policy::terraform::Variables,
}

impl Auditor {
    pub fn new(config: AuditConfig, options: Options) -> Self {
        Auditor {
            config,
            options,
            terraform_variables: policy::terraform::Variables::default(),
        }
    }

    /// Values for Terraform variables, as `--tf-var-file` gives them.
    #[must_use]
    pub fn with_terraform_variables(mut self, variables: policy::terraform::Variables) -> Self {
        self.terraform_variables = variables;
        self
    }

    /// Audits parsed inputs together (cross-file rules see all of them).
    pub fn audit(&self, inputs: &[Input]) -> Report {
        let rules = self.rules();
        // Per-file rules see one input each, so files are checked in parallel; results are joined in input
        // order, so the report does not depend on the number of threads.
        let findings = par_map(inputs, |index, input| {
            self.check_input(&rules, index, input)
        })
        .into_iter()
        .flatten()
        .collect();
        self.finish(inputs, &rules, findings)
    }

    /// Parses and audits many files in one pass, as `keyless audit DIR` does; `repository` (if given) is set on
    /// every pipeline file ([`Input::with_repository`]). Nothing is lost to a bad file: a file that cannot be read
    /// or parsed is reported (`invalid-pipeline` / `invalid-input`, and in [`Report::unreadable`]) and the others
    /// are audited ([`Input::read`]).
    ///
    /// Each file is parsed, checked by the per-file rules and its findings located on one thread, one file
    /// after another, while its tree is still in the cache; a pipeline file's tree is then released, so memory
    /// stays flat however many files there are (keeping all 1,000 trees of the benchmark cost about a quarter more
    /// time). The cross-file rules relate pipelines to keyless.yml and to trust policies, whose trees are kept;
    /// only when such a file is among the inputs are the pipeline files parsed again for them. The returned
    /// inputs always keep their text and kind (what `--fix` and the output need).
    pub fn audit_files<F: SourceFile>(
        &self,
        files: &[F],
        repository: Option<&Repository>,
    ) -> (Vec<Input>, Report) {
        let rules = self.rules();
        let per_file = par_map(files, |index, file| {
            let mut input =
                Input::read(file.path(), file.text()).with_repository(repository.cloned());
            let findings = self.check_input(&rules, index, &input);
            if input.kind == InputKind::Pipeline && input.unreadable.is_none() {
                input.doc.release_tree();
            }
            (input, findings)
        });
        let mut inputs = Vec::with_capacity(files.len());
        let mut findings = Vec::new();
        for (input, found) in per_file {
            inputs.push(input);
            findings.extend(found);
        }
        let report = self.finish(&inputs, &rules, findings);
        (inputs, report)
    }

    fn disabled(&self, id: &str) -> bool {
        self.config.rule(id).is_some_and(|r| r.disable)
    }

    fn rules(&self) -> Vec<&'static dyn Rule> {
        registry()
            .iter()
            .copied()
            .filter(|r| !self.disabled(r.meta().id))
            .collect()
    }

    /// Runs the per-file rules over one input (the `index`th of the audited set) and locates their findings in
    /// it. Per-file rules see only their own input, so their targets never name another one.
    fn check_input(&self, rules: &[&dyn Rule], index: usize, input: &Input) -> Vec<Finding> {
        let mut sink = Sink::default();
        match input.kind {
            _ if input.unreadable.is_some() => {
                if let Some(error) = &input.unreadable {
                    for rule in rules {
                        rule.check_unreadable(input, error, &mut sink);
                    }
                }
            }
            InputKind::Pipeline => {
                if let Some(p) = Pipeline::new(
                    &input.doc,
                    &input.path,
                    &self.config,
                    input.pipeline_error.as_ref(),
                ) {
                    for rule in rules {
                        rule.check_pipeline(&p, &mut sink);
                        for step in &p.steps {
                            rule.check_step(step, &p, &mut sink);
                        }
                    }
                }
            }
            InputKind::IamPolicy | InputKind::CloudFormation | InputKind::TerraformPlan => {
                let file = policy::read(
                    &input.doc,
                    &input.path,
                    &self.config.production_environments,
                );
                for rule in rules {
                    for p in &file.policies {
                        rule.check_policy(p, &mut sink);
                    }
                    rule.check_trust_file(&file, &mut sink);
                }
            }
            // Read per module, with the other files of its directory (`check_terraform`).
            InputKind::Terraform | InputKind::Keyless | InputKind::Other => {}
        }
        let this = std::slice::from_ref(input);
        let mut findings: Vec<Finding> = sink
            .drafts
            .into_iter()
            .filter_map(|draft| resolve(this, index, index, draft))
            .collect();
        // Settled here, with the per-file work, so `finish` (on one thread) only merges the inputs' runs.
        self.settle(&mut findings);
        findings
    }

    /// Runs the cross-file rules. They relate pipelines to keyless.yml and to trust policies, so without either
    /// among the inputs there is nothing to relate, and no view is built.
    fn check_workspace(&self, inputs: &[Input], rules: &[&dyn Rule]) -> Vec<Finding> {
        let related = |k: InputKind| {
            matches!(
                k,
                InputKind::Keyless
                    | InputKind::IamPolicy
                    | InputKind::CloudFormation
                    | InputKind::Terraform
                    | InputKind::TerraformPlan
            )
        };
        if !inputs.iter().any(|i| related(i.kind)) {
            return Vec::new();
        }
        // Pipeline trees released by `audit_files` are parsed again: the views and the findings' spans need them.
        let restored: Vec<Input>;
        let inputs = if inputs.iter().any(|i| i.doc.is_released()) {
            restored = inputs
                .iter()
                .map(|i| {
                    if !i.doc.is_released() {
                        return i.clone();
                    }
                    match Input::parse(&i.path, &i.doc.text) {
                        Ok(mut again) => {
                            again.repository.clone_from(&i.repository);
                            again
                        }
                        // Parsed once already: cannot fail; keep the released input (no view) if it did.
                        Err(_) => i.clone(),
                    }
                })
                .collect();
            &restored[..]
        } else {
            inputs
        };
        let mut pipelines = Vec::new();
        let mut policies = Vec::new();
        let mut providers = Vec::new();
        let mut keyless = Vec::new();
        for (index, input) in inputs.iter().enumerate() {
            match input.kind {
                _ if input.unreadable.is_some() => {}
                InputKind::Pipeline => pipelines.extend(
                    Pipeline::new(
                        &input.doc,
                        &input.path,
                        &self.config,
                        input.pipeline_error.as_ref(),
                    )
                    .map(|p| (index, p)),
                ),
                InputKind::IamPolicy | InputKind::CloudFormation | InputKind::TerraformPlan => {
                    let file = policy::read(
                        &input.doc,
                        &input.path,
                        &self.config.production_environments,
                    );
                    providers.extend(file.providers.into_iter().map(|p| (index, p)));
                    policies.extend(file.policies.into_iter().map(|p| (index, p)));
                }
                InputKind::Keyless => {
                    keyless.extend(input.keyless.as_deref().map(|model| keyless::KeylessFile {
                        input: index,
                        doc: &input.doc,
                        model,
                    }))
                }
                InputKind::Terraform | InputKind::Other => {}
            }
        }
        for (first, file) in self.terraform_modules(inputs) {
            let index = |at: &policy::At| at.input.unwrap_or(first);
            providers.extend(file.providers.into_iter().map(|p| (index(&p.at), p)));
            policies.extend(file.policies.into_iter().map(|p| (index(&p.at), p)));
        }
        let ws = Workspace {
            inputs,
            pipelines,
            policies,
            providers,
            keyless,
            config: &self.config,
        };
        let mut sink = Sink::default();
        for rule in rules {
            rule.check_workspace(&ws, &mut sink);
        }
        // Cross-file findings name their input; default to the first.
        sink.drafts
            .into_iter()
            .filter_map(|draft| resolve(inputs, 0, 0, draft))
            .collect()
    }

    /// Every Terraform root module among the inputs (the `.tf`/`.tf.json` files of one directory, with the local
    /// modules it calls), read: `(index of its first input, what it holds)`. Places in the module name their own
    /// input.
    fn terraform_modules<'a>(&'a self, inputs: &'a [Input]) -> Vec<(usize, policy::TrustFile<'a>)> {
        let sources: Vec<policy::terraform::Source<'a>> = inputs
            .iter()
            .enumerate()
            .filter(|(_, input)| input.kind == InputKind::Terraform && input.unreadable.is_none())
            .map(|(index, input)| policy::terraform::Source {
                input: index,
                path: &input.path,
                text: &input.doc.text,
                json: policy::terraform::is_json(&input.path).then_some(&input.doc),
            })
            .collect();
        policy::terraform::read_modules(
            &sources,
            &self.terraform_variables,
            &self.config.production_environments,
        )
    }

    /// The trust rules over each Terraform module (its files are read together, so this runs on all inputs).
    fn check_terraform(&self, inputs: &[Input], rules: &[&dyn Rule]) -> Vec<Finding> {
        let mut out = Vec::new();
        for (first, file) in self.terraform_modules(inputs) {
            let mut sink = Sink::default();
            for rule in rules {
                for p in &file.policies {
                    rule.check_policy(p, &mut sink);
                }
                rule.check_trust_file(&file, &mut sink);
            }
            out.extend(
                sink.drafts
                    .into_iter()
                    .filter_map(|draft| resolve(inputs, 0, first, draft)),
            );
        }
        out
    }

    /// The cross-file rules, then sorting, de-duplication, severity overrides, ignores and filters.
    fn finish(&self, inputs: &[Input], rules: &[&dyn Rule], mut findings: Vec<Finding>) -> Report {
        // Each input's findings were settled with the per-file work (`check_input`); the cross-file findings, when
        // there are any, are settled here together with them (a duplicate may span both).
        let mut workspace = self.check_workspace(inputs, rules);
        workspace.extend(self.check_terraform(inputs, rules));
        if workspace.is_empty() {
            // Already in order within each input; across inputs this only walks the runs.
            findings.sort_by(report_order);
        } else {
            findings.extend(workspace);
            self.settle(&mut findings);
        }
        let mut report = Report {
            unreadable: inputs
                .iter()
                .filter_map(|i| {
                    let rule = if i.kind == InputKind::Pipeline {
                        "invalid-pipeline"
                    } else {
                        "invalid-input"
                    };
                    i.unreadable.clone().map(|error| Unreadable { error, rule })
                })
                .collect(),
            inputs: inputs.len(),
            ..Report::default()
        };
        let (ignored, unused) = ignore::apply(inputs, &self.config, &mut findings);
        report.ignored = ignored;
        let unused_enabled = !self.disabled(rule::unused_ignore::META.id);
        if unused_enabled {
            findings.extend(unused);
        }
        let before = findings.len();
        findings.retain(|f| {
            f.persona <= self.options.persona
                && f.severity >= self.options.min_severity
                && f.confidence >= self.options.min_confidence
        });
        report.filtered = before - findings.len();
        findings.sort_by(report_order);
        report.findings = findings;
        report
    }

    /// Puts findings in report order, drops repeats (a step built from an anchor is reported once per location, not
    /// once per alias) and applies `keyless.yml`'s severity overrides.
    fn settle(&self, findings: &mut Vec<Finding>) {
        findings.sort_by(report_order);
        if findings.len() > 1 {
            let mut seen = std::collections::HashSet::new();
            findings.retain(|f| {
                seen.insert((
                    f.rule,
                    f.location.input,
                    f.location.span.start,
                    f.location.span.end,
                ))
            });
        }
        for f in findings.iter_mut() {
            if let Some(sev) = self.config.rule(f.rule).and_then(|r| r.severity) {
                f.severity = sev;
            }
        }
    }
}

/// The order findings are reported in: by path, line, column, then rule id.
fn report_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    (&a.location.path, a.location.line, a.location.column, a.rule).cmp(&(
        &b.location.path,
        b.location.line,
        b.location.column,
        b.rule,
    ))
}

/// A file handed to [`Auditor::audit_files`]: its path as shown in findings, and its text or why it could not be
/// read.
pub trait SourceFile: Sync {
    fn path(&self) -> &str;
    fn text(&self) -> Result<&str, &str>;
}

impl SourceFile for (String, String) {
    fn path(&self) -> &str {
        &self.0
    }
    fn text(&self) -> Result<&str, &str> {
        Ok(&self.1)
    }
}

impl SourceFile for (String, Result<String, String>) {
    fn path(&self) -> &str {
        &self.0
    }
    fn text(&self) -> Result<&str, &str> {
        self.1.as_deref().map_err(String::as_str)
    }
}

/// Parses many files at once, in parallel (see [`Input::parse`]); the first error in input order wins.
pub fn parse_inputs(files: &[(String, String)]) -> Result<Vec<Input>, InputError> {
    par_map(files, |_, (path, text)| Input::parse(path, text))
        .into_iter()
        .collect()
}

/// Maps `f` over `items` (with each item's index) on up to [`std::thread::available_parallelism`] threads,
/// keeping the order.
///
/// Items are handed out in small batches from a shared counter rather than split into one fixed chunk per thread:
/// files differ in size, and with fixed halves one thread often finished a millisecond (5%) before the other and
/// waited. The calling thread works too, so one thread fewer is spawned.
///
/// NOTE: scoped std threads rather than rayon: the work is a single flat map over inputs, and one small function
/// avoids a dependency (and its thread pool) in the library.
fn par_map<'a, T: Sync, R: Send>(items: &'a [T], f: impl Fn(usize, &'a T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // Fewer than 16 items are not worth a thread (and `available_parallelism` reads cgroup files: it is asked
    // once per process, not per call).
    if items.len() < 16 {
        return items.iter().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let threads = cores.min(items.len() / 8).max(1);
    if threads == 1 {
        return items.iter().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    // Small enough that the last batches even out the threads, large enough that the counter is rarely touched.
    let batch = (items.len() / (threads * 32)).clamp(1, 16);
    let next = AtomicUsize::new(0);
    // Each thread keeps its batches whole, with their first index: putting them back in order then sorts a few
    // dozen batches, not every result (results can be large; each move copies them).
    let work = || {
        let mut batches: Vec<(usize, Vec<R>)> = Vec::new();
        loop {
            let start = next.fetch_add(batch, Ordering::Relaxed);
            if start >= items.len() {
                return batches;
            }
            let end = (start + batch).min(items.len());
            batches.push((start, (start..end).map(|i| f(i, &items[i])).collect()));
        }
    };
    let mut batches = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut batches = work();
        for h in helpers {
            match h.join() {
                Ok(v) => batches.extend(v),
                // A panic in a rule is a bug: surface it on the caller's thread as it would be without threads.
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
        batches
    });
    batches.sort_unstable_by_key(|(start, _)| *start);
    let mut out = Vec::with_capacity(items.len());
    for (_, results) in batches {
        out.extend(results);
    }
    out
}

/// The one place where routes become spans, lines and columns. `inputs` holds the audited inputs from index
/// `first` on (all of them when `first` is 0; one, when a worker locates the findings of the file it checks).
pub fn locate(
    inputs: &[Input],
    first: usize,
    default_input: usize,
    target: &Target,
) -> Option<Location> {
    let index = target.input.unwrap_or(default_input);
    let input = inputs.get(index.checked_sub(first)?)?;
    let doc = &input.doc;
    if let Focus::Bytes(start, end) = target.focus {
        let span = Span::new(start, end);
        let (line, column) = doc.line_col(span.start);
        return Some(Location {
            path: input.path.clone(),
            line,
            column,
            span,
            route: String::new(),
            input: index,
        });
    }
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
        Focus::Position(..) | Focus::Bytes(..) | Focus::Node => node_span,
        Focus::Key => key.unwrap_or(node_span),
        Focus::Text(text) => doc
            .text
            .get(node_span.start..node_span.end)
            .and_then(|s| s.find(text.as_str()))
            .map_or(node_span, |at| {
                Span::new(node_span.start + at, node_span.start + at + text.len())
            }),
        Focus::Occurrence(text, nth) => doc
            .text
            .get(node_span.start..node_span.end)
            .and_then(|s| {
                s.match_indices(text.as_str())
                    .nth(*nth)
                    .or_else(|| s.match_indices(text.as_str()).next())
            })
            .map_or(node_span, |(at, _)| {
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

/// Locates a draft's targets (see [`locate`] for `inputs` and `first`).
fn resolve(
    inputs: &[Input],
    first: usize,
    default_input: usize,
    draft: FindingBuilder,
) -> Option<Finding> {
    let primary = draft.primary.as_ref()?;
    let location = locate(inputs, first, default_input, primary)?;
    let related = draft
        .related
        .iter()
        .filter_map(|(t, note)| locate(inputs, first, location.input, t).map(|l| (l, note.clone())))
        .collect();
    Some(Finding {
        rule: draft.meta.id,
        severity: draft.severity,
        confidence: draft.confidence,
        persona: draft.persona,
        message: draft.message,
        label: draft.label,
        help: draft.help,
        source: inputs[location.input - first].doc.text.clone(),
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
        let doubled = super::par_map(&items, |n, i| (n, i * 2));
        assert_eq!(
            doubled,
            items.iter().map(|i| (*i, i * 2)).collect::<Vec<_>>()
        );
        assert!(super::par_map(&[] as &[usize], |_, i| *i).is_empty());
        // Uneven work: the threads take batches in an order of their own; the result is still in item order, each
        // item mapped exactly once.
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let uneven = super::par_map(&items, |n, i| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n % 97 < 3 {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            (n, *i)
        });
        assert_eq!(uneven, items.iter().map(|i| (*i, *i)).collect::<Vec<_>>());
        assert_eq!(calls.into_inner(), items.len());
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
