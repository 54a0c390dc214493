//! `keyless render`: the Dynamic Pipelines provider run offline. Renders a bitbucket-pipelines.yml (or a
//! provider request) under keyless.yml's environments and policy, or shows why it is rejected.
//!
//! Exit codes: 0 rendered, 1 rejected by the policy, 2 bad input (unreadable or invalid files, arguments).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use keyless_enforce::payload::RawRequest;
use keyless_enforce::{EnforceConfig, Invocation, Mode, Rejection, Rendered};
use keyless_pipelines::Target;

use crate::format::{FormatChoice, Output, emit};

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum RenderFormat {
    /// The configuration as bitbucket-pipelines.yml.
    #[default]
    Yaml,
    /// The provider response: `{"pipelines_configuration": ...}` or `{"error": {"key", "message"}}`.
    Json,
}

#[derive(Debug, Args)]
#[command(mut_arg("config", |arg| arg.help("The workspace file (its `environments:` and `policy:`)")))]
pub struct RenderArgs {
    #[command(flatten)]
    pub workspace: super::WorkspaceFile,
    /// A push to this branch (with --custom: the branch the custom pipeline runs on).
    #[arg(long, value_name = "B", conflicts_with_all = ["tag", "pr"])]
    pub branch: Option<String>,
    /// A push of this tag.
    #[arg(long, value_name = "T", conflicts_with_all = ["pr", "custom"])]
    pub tag: Option<String>,
    /// A pull request from SRC into DST.
    #[arg(long, value_name = "SRC:DST", conflicts_with = "custom")]
    pub pr: Option<String>,
    /// A run of `pipelines.custom.NAME` (add --branch B for the branch it runs on).
    #[arg(long, value_name = "NAME")]
    pub custom: Option<String>,
    /// The pipeline file.
    #[arg(
        value_name = "FILE",
        default_value = "bitbucket-pipelines.yml",
        conflicts_with = "payload"
    )]
    pub file: PathBuf,
    /// A Dynamic Pipelines request (definitions or run, bare or in a Forge `{"payload": ...}` envelope) instead
    /// of a file; it names its own target and workspace (which must be keyless.yml's).
    #[arg(long, value_name = "REQUEST.json")]
    pub payload: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: RenderFormat,
    /// Also show each change, each pipeline left out, each key or pipe let through (and the rejection's rule
    /// and route) with the policy rule behind it.
    #[arg(long)]
    pub explain: bool,
    /// Show a unified YAML diff of what the policy changed instead of the configuration.
    #[arg(long)]
    pub diff: bool,
}

fn target_from_flags(args: &RenderArgs) -> anyhow::Result<Option<Invocation>> {
    if let Some(name) = &args.custom {
        return Ok(Some(Invocation {
            target: Some(Target::Custom(name.clone())),
            branch: args.branch.clone(),
            ..Invocation::default()
        }));
    }
    if let Some(b) = &args.branch {
        return Ok(Some(Target::Branch(b.clone()).into()));
    }
    if let Some(t) = &args.tag {
        return Ok(Some(Target::Tag(t.clone()).into()));
    }
    if let Some(pr) = &args.pr {
        let Some((source, destination)) = pr.split_once(':') else {
            bail!("--pr takes SRC:DST (for example --pr feature/login:main), got `{pr}`");
        };
        if source.is_empty() || destination.is_empty() {
            bail!("--pr takes SRC:DST with both branches named, got `{pr}`");
        }
        return Ok(Some(
            Target::PullRequest {
                source: source.to_string(),
                destination: destination.to_string(),
            }
            .into(),
        ));
    }
    Ok(None)
}

pub fn run(args: RenderArgs) -> anyhow::Result<ExitCode> {
    let config = EnforceConfig::load(&args.workspace.config)?;
    // A trust-only problem (a private range in `source_ips`) is plan's and check's error; render only warns, so a
    // workspace's pipelines never stop on it.
    for warning in config.workspace().trust_warnings() {
        eprintln!("warning: {warning} (keyless plan and check refuse it; render goes on)");
    }
    let flags = target_from_flags(&args)?;

    let before;
    let result = match &args.payload {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let text = std::str::from_utf8(&bytes)
                .with_context(|| format!("{}: not UTF-8 text", path.display()))?;
            // The reader keyless serve uses, envelope included, so both answer alike.
            let raw = RawRequest::from_json_str(text)
                .with_context(|| format!("{}: not valid JSON", path.display()))?
                .unwrap_envelope();
            let mut request = raw
                .into_request()
                .with_context(|| format!("{}: not a Dynamic Pipelines request", path.display()))?;
            // Flags, when given, override the request's own target (not its trigger or workspace).
            if let Some(flags) = flags {
                request.invocation = flags;
            }
            before = request.file.to_yaml_string();
            keyless_enforce::render_request(&config, request)
        }
        None => {
            let Some(invocation) = flags else {
                bail!(
                    "name the target: --branch B, --tag T, --pr SRC:DST or --custom NAME (or give --payload)"
                );
            };
            let source = std::fs::read_to_string(&args.file)
                .with_context(|| format!("cannot read {}", args.file.display()))?;
            let file = keyless_pipelines::parse(&source)
                .map_err(|e| anyhow::anyhow!("{}:{e}", args.file.display()))?;
            before = file.to_yaml_string();
            keyless_enforce::render_for(&config, file, &invocation, Mode::Run)
        }
    };
    match result {
        Ok(rendered) => {
            let success = Success {
                args: &args,
                before: &before,
                rendered: &rendered,
            };
            emit(args.format, &success)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(rejection) => {
            emit(
                args.format,
                &Rejected {
                    args: &args,
                    rejection: &rejection,
                },
            )?;
            Ok(ExitCode::from(1))
        }
    }
}

/// A rendered configuration, with the input it came from (for `--diff`) and the flags that shape it.
struct Success<'a> {
    args: &'a RenderArgs,
    before: &'a str,
    rendered: &'a Rendered,
}

/// `--diff` (in either format) shows the unified diff; otherwise `yaml` the configuration and `json` the
/// provider response, each with `--explain`'s notes in its own syntax.
impl FormatChoice<Success<'_>> for RenderFormat {
    fn render(self, success: &Success<'_>) -> anyhow::Result<Output> {
        let Success {
            args,
            before,
            rendered,
        } = *success;
        let after = rendered.file.to_yaml_string();
        if args.diff {
            let diff = similar::TextDiff::from_lines(before, &after);
            let mut out = diff
                .unified_diff()
                .context_radius(3)
                .header("input", "rendered")
                .to_string();
            if args.explain {
                out.push_str(&explain_comments(rendered));
            }
            return Ok(Output::text(out));
        }
        match self {
            RenderFormat::Yaml => {
                let mut out = after;
                if args.explain {
                    out.push_str(&explain_comments(rendered));
                }
                Ok(Output::text(out))
            }
            RenderFormat::Json => {
                let mut v = serde_json::json!({"pipelines_configuration": rendered.file.to_json()});
                if args.explain {
                    explain_json(&mut v, rendered);
                }
                Output::json(&v)
            }
        }
    }
}

/// `--explain` in JSON: `changes`, and when there are any, `omitted` (pipelines a definitions request leaves
/// out), `notes` (what was let through) and, under `policy.mode: report`, `report` (what enforcing would have
/// done: `{"error": ...}` or its `changes`, `omitted` and `notes`).
fn explain_json(v: &mut serde_json::Value, rendered: &Rendered) {
    v["changes"] = serde_json::to_value(&rendered.changes).unwrap_or_default();
    if !rendered.omitted.is_empty() {
        v["omitted"] = serde_json::to_value(&rendered.omitted).unwrap_or_default();
    }
    if !rendered.notes.is_empty() {
        v["notes"] = serde_json::to_value(&rendered.notes).unwrap_or_default();
    }
    match rendered.would.as_deref() {
        None => {}
        Some(Ok(would)) => {
            let mut report = serde_json::json!({});
            explain_json(&mut report, would);
            v["report"] = report;
        }
        Some(Err(rejection)) => {
            let mut error = rejection.to_error_json();
            error["error"]["rule"] = rejection.rule.clone().into();
            error["error"]["route"] = rejection.route.clone().into();
            v["report"] = error;
        }
    }
}

/// The changes (then what was left out and let through) as YAML comments, so the output stays a valid file.
fn explain_comments(rendered: &Rendered) -> String {
    let mut out = String::new();
    let nothing = rendered.changes.is_empty()
        && rendered.omitted.is_empty()
        && rendered.notes.is_empty()
        && rendered.would.is_none();
    if nothing {
        out.push_str("# keyless: no changes\n");
    }
    explain_lines(&mut out, "", rendered);
    match rendered.would.as_deref() {
        None => {}
        Some(Ok(would)) => {
            out.push_str("# keyless report: policy.mode is report; the configuration above is the input, unchanged\n");
            if would.changes.is_empty() && would.omitted.is_empty() {
                out.push_str("# keyless report: enforcing would change nothing\n");
            }
            explain_lines(&mut out, "report: would have ", would);
        }
        Some(Err(r)) => {
            out.push_str("# keyless report: policy.mode is report; the configuration above is the input, unchanged\n");
            out.push_str(&format!(
                "# keyless report: would have rejected [{}] {}: {}\n",
                r.rule, r.route, r.message
            ));
        }
    }
    out
}

fn explain_lines(out: &mut String, prefix: &str, rendered: &Rendered) {
    for c in &rendered.changes {
        out.push_str(&format!(
            "# keyless {prefix}[{}] {}: {}\n",
            c.rule, c.route, c.message
        ));
    }
    for o in &rendered.omitted {
        out.push_str(&format!(
            "# keyless {prefix}omitted {} [{}] {}: {}\n",
            o.pipeline, o.rule, o.route, o.message
        ));
    }
    for n in &rendered.notes {
        out.push_str(&format!(
            "# keyless {prefix}note [{}] {}: {}\n",
            n.rule, n.route, n.message
        ));
    }
}

/// A rejection, with the flags that shape it.
struct Rejected<'a> {
    args: &'a RenderArgs,
    rejection: &'a Rejection,
}

/// `json`: the provider's `{"error": ...}` (with the rule and route under `--explain`); `yaml`: one line (and
/// the rule, route and key under `--explain`).
impl FormatChoice<Rejected<'_>> for RenderFormat {
    fn render(self, rejected: &Rejected<'_>) -> anyhow::Result<Output> {
        let Rejected { args, rejection } = *rejected;
        match self {
            RenderFormat::Json => {
                let mut v = rejection.to_error_json();
                if args.explain {
                    v["error"]["rule"] = rejection.rule.clone().into();
                    v["error"]["route"] = rejection.route.clone().into();
                }
                Output::json(&v)
            }
            RenderFormat::Yaml => {
                let mut out = format!("rejected: {}\n", rejection.message);
                if args.explain {
                    out.push_str(&format!(
                        "  rule: {}\n  at: {}\n  key: {}\n",
                        rejection.rule, rejection.route, rejection.key
                    ));
                }
                Ok(Output::text(out))
            }
        }
    }
}
