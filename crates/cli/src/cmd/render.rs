//! `keyless render`: the Dynamic Pipelines provider run offline. Renders a bitbucket-pipelines.yml (or a
//! provider request) under keyless.yml's environments and policy, or shows why it is rejected.
//!
//! Exit codes: 0 rendered, 1 rejected by the policy, 2 bad input (unreadable or invalid files, arguments).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use keyless_enforce::{EnforceConfig, Invocation, Mode, Rejection, Rendered};
use keyless_pipelines::Target;

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum RenderFormat {
    /// The configuration as bitbucket-pipelines.yml.
    #[default]
    Yaml,
    /// The provider response: `{"pipelines_configuration": ...}` or `{"error": {"key", "message"}}`.
    Json,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The workspace file (its `environments:` and `policy:`).
    #[arg(short, long, env = "KEYLESS_CONFIG", default_value = "keyless.yml")]
    pub config: PathBuf,
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
    /// A Dynamic Pipelines request (definitions or run) instead of a file; it names its own target.
    #[arg(long, value_name = "REQUEST.json")]
    pub payload: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: RenderFormat,
    /// Also show each change (and the rejection's rule and route) with the policy rule behind it.
    #[arg(long)]
    pub explain: bool,
    /// Show a unified YAML diff of what the policy changed instead of the configuration.
    #[arg(long)]
    pub diff: bool,
}

fn target_from_flags(args: &RenderArgs) -> anyhow::Result<Option<Invocation>> {
    if let Some(name) = &args.custom {
        return Ok(Some(Invocation {
            target: Target::Custom(name.clone()),
            branch: args.branch.clone(),
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
    let config = EnforceConfig::load(&args.config)?;
    let flags = target_from_flags(&args)?;

    let (file, invocation, mode) = match &args.payload {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let body: serde_json::Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not valid JSON", path.display()))?;
            let request = keyless_enforce::payload::parse_request(&body)
                .with_context(|| format!("{}: not a Dynamic Pipelines request", path.display()))?;
            // Flags, when given, override the request's own target (not its trigger).
            let mode = Mode::of_trigger(&request.trigger);
            (request.file, flags.unwrap_or(request.invocation), mode)
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
            (file, invocation, Mode::Run)
        }
    };
    let before = file.to_yaml_string();
    match keyless_enforce::render_for(&config, file, &invocation, mode) {
        Ok(rendered) => {
            print!("{}", success(&args, &before, &rendered));
            Ok(ExitCode::SUCCESS)
        }
        Err(rejection) => {
            print!("{}", rejected(&args, &rejection));
            Ok(ExitCode::from(1))
        }
    }
}

fn success(args: &RenderArgs, before: &str, rendered: &Rendered) -> String {
    let after = rendered.file.to_yaml_string();
    let mut out = String::new();
    if args.diff {
        let diff = similar::TextDiff::from_lines(before, &after);
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header("input", "rendered")
                .to_string(),
        );
        if args.explain {
            out.push_str(&explain_comments(rendered));
        }
        return out;
    }
    match args.format {
        RenderFormat::Yaml => {
            out.push_str(&after);
            if args.explain {
                out.push_str(&explain_comments(rendered));
            }
        }
        RenderFormat::Json => {
            let mut v = serde_json::json!({"pipelines_configuration": rendered.file.to_json()});
            if args.explain {
                v["changes"] = serde_json::to_value(&rendered.changes).unwrap_or_default();
            }
            out.push_str(&serde_json::to_string_pretty(&v).unwrap_or_default());
            out.push('\n');
        }
    }
    out
}

/// The changes as YAML comments, so the output stays a valid file.
fn explain_comments(rendered: &Rendered) -> String {
    let mut out = String::new();
    if rendered.changes.is_empty() {
        out.push_str("# keyless: no changes\n");
    }
    for c in &rendered.changes {
        out.push_str(&format!(
            "# keyless [{}] {}: {}\n",
            c.rule, c.route, c.message
        ));
    }
    out
}

fn rejected(args: &RenderArgs, rejection: &Rejection) -> String {
    match args.format {
        RenderFormat::Json => {
            let mut v = rejection.to_error_json();
            if args.explain {
                v["error"]["rule"] = rejection.rule.clone().into();
                v["error"]["route"] = rejection.route.clone().into();
            }
            format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
        }
        RenderFormat::Yaml => {
            let mut out = format!("rejected: {}\n", rejection.message);
            if args.explain {
                out.push_str(&format!(
                    "  rule: {}\n  at: {}\n  key: {}\n",
                    rejection.rule, rejection.route, rejection.key
                ));
            }
            out
        }
    }
}
