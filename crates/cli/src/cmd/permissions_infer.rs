//! `keyless permissions infer`: each role's needs, derived from the pipelines that run with it
//! (`keyless_workspace::infer`), as JSON, CloudFormation, Terraform or keyless.yml `permissions:`; `--write` puts
//! them into keyless.yml, keeping its comments. Exit 0 when every line that runs with a role was understood, 1 when
//! some are unknown (listed: record them), 2 on bad input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use keyless_workspace::infer::{self, Inference, PipelineSource, output};

use crate::format::{FormatChoice, Output, emit};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InferFormat {
    Json,
    Cloudformation,
    Terraform,
    KeylessYml,
}

/// `json`: the inference itself; `cloudformation` / `terraform`: the roles' policies as those tools take them;
/// `keyless-yml`: each role's `permissions:` block.
impl FormatChoice<Inference> for InferFormat {
    fn render(self, inference: &Inference) -> anyhow::Result<Output> {
        match self {
            InferFormat::Json => Output::json(inference),
            InferFormat::Cloudformation => Output::json(&output::cloudformation(inference)),
            InferFormat::Terraform => Output::json(&output::terraform(inference)),
            InferFormat::KeylessYml => Ok(Output::text(output::keyless_yml(inference))),
        }
    }
}

#[derive(Debug, Args)]
pub struct InferArgs {
    #[command(flatten)]
    pub workspace: super::WorkspaceFile,
    /// Pipeline files; each belongs to the repository named by its folder, or to the only repository in
    /// keyless.yml.
    #[arg(value_name = "PIPELINE")]
    pub pipelines: Vec<PathBuf>,
    /// A pipeline file of a named repository: NAME=PIPELINE (repeatable).
    #[arg(long = "repo", value_name = "NAME=PIPELINE")]
    pub repos: Vec<String>,
    #[arg(long, value_enum, default_value_t = InferFormat::Json)]
    pub format: InferFormat,
    /// Write each role's inferred statements into keyless.yml as its `permissions:` (a comment per statement
    /// names the lines that need it; the rest of the file, comments included, is kept).
    #[arg(long)]
    pub write: bool,
}

/// The repository a positional pipeline belongs to: its folder's name, else the only repository.
fn repository_of(path: &Path, config: &keyless_workspace::Config) -> anyhow::Result<String> {
    let folder = path.canonicalize().ok().and_then(|p| {
        p.parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
    });
    if let Some(folder) = folder
        && config.repositories.contains_key(&folder)
    {
        return Ok(folder);
    }
    if config.repositories.len() == 1
        && let Some(only) = config.repositories.keys().next()
    {
        return Ok(only.clone());
    }
    bail!(
        "{}: which repository's pipeline is it? Its folder is not a repository of keyless.yml and keyless.yml has {} \
         repositories; pass it as --repo NAME={}",
        path.display(),
        config.repositories.len(),
        path.display()
    )
}

fn read_source(repository: String, path: &Path) -> anyhow::Result<PipelineSource> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the pipeline {}", path.display()))?;
    // `cdk.json` beside the pipeline (the repository root) names the bootstrap qualifier.
    let cdk_qualifier = path
        .parent()
        .map(|dir| dir.join("cdk.json"))
        .and_then(|cdk| std::fs::read_to_string(cdk).ok())
        .and_then(|text| infer::cdk_qualifier(&text));
    Ok(PipelineSource {
        repository,
        path: path.display().to_string(),
        text,
        cdk_qualifier,
    })
}

/// The pipeline lines and values quoted in the output go through the audit's redaction: a secret committed to a
/// pipeline is not spread further by the report about it.
fn redact(inference: &mut infer::Inference) {
    let hide = |text: &mut String| *text = keyless_audit::redact::secrets(text).into_owned();
    for role in &mut inference.roles {
        for need in &mut role.statements {
            for origin in &mut need.from {
                hide(&mut origin.text);
            }
        }
    }
    for unknown in &mut inference.unknown {
        hide(&mut unknown.text);
        hide(&mut unknown.reason);
    }
    for narrow in &mut inference.narrow_by_hand {
        hide(&mut narrow.text);
    }
}

/// The pipeline files named on the command line (`PIPELINE…`, `--repo NAME=PIPELINE`), read.
pub(crate) fn sources(
    config: &keyless_workspace::Config,
    pipelines: &[PathBuf],
    repos: &[String],
) -> anyhow::Result<Vec<PipelineSource>> {
    let mut sources = Vec::new();
    for path in pipelines {
        sources.push(read_source(repository_of(path, config)?, path)?);
    }
    for pair in repos {
        let Some((name, path)) = pair.split_once('=') else {
            bail!(
                "--repo {pair}: write NAME=PIPELINE, e.g. --repo web=web/bitbucket-pipelines.yml"
            );
        };
        sources.push(read_source(name.to_owned(), Path::new(path))?);
    }
    Ok(sources)
}

/// Infers from `sources`, with pipeline text in the result redacted.
pub(crate) fn inferred(
    config: &keyless_workspace::Config,
    sources: &[PipelineSource],
) -> anyhow::Result<infer::Inference> {
    let mut inference = infer::infer(config, sources)?;
    redact(&mut inference);
    Ok(inference)
}

pub fn run(args: InferArgs) -> anyhow::Result<ExitCode> {
    let config = args.workspace.load()?;
    let sources = sources(&config, &args.pipelines, &args.repos)?;
    if sources.is_empty() {
        bail!(
            "no pipeline given: pass bitbucket-pipelines.yml files (PIPELINE or --repo NAME=PIPELINE)"
        );
    }
    let inference = inferred(&config, &sources)?;
    if args.write {
        let text = std::fs::read_to_string(&args.workspace.config)
            .with_context(|| format!("cannot read {}", args.workspace.config.display()))?;
        let edited = output::write(&text, &inference)?;
        // Never write a file keyless itself would refuse.
        keyless_workspace::parse(&edited, &args.workspace.config.display().to_string())
            .context("the edited keyless.yml does not load (nothing was written)")?;
        let tmp = args.workspace.config.with_extension("yml.keyless-tmp");
        std::fs::write(&tmp, &edited).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &args.workspace.config)
            .with_context(|| format!("cannot replace {}", args.workspace.config.display()))?;
        let written = inference
            .roles
            .iter()
            .filter(|r| !r.statements.is_empty())
            .count();
        eprintln!(
            "wrote `permissions:` for {written} role(s) into {}",
            args.workspace.config.display()
        );
    }
    emit(args.format, &inference)?;
    if !inference.narrow_by_hand.is_empty() && args.format != InferFormat::Json {
        eprintln!(
            "narrow by hand: these lines do not name the resources, so the actions are granted on \"Resource\": \"*\":"
        );
        for narrow in &inference.narrow_by_hand {
            eprintln!(
                "  {} {}:{}: {} on {} ({})",
                narrow.repository,
                narrow.file,
                narrow.line,
                narrow.action,
                if narrow.resource_arns.is_empty() {
                    "*".to_owned()
                } else {
                    narrow.resource_arns.join(" or ")
                },
                narrow.text
            );
        }
    }
    if inference.unknown.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if args.format != InferFormat::Json {
        eprintln!("unknown, record it (`keyless assume --record FILE -- CMD`):");
        for unknown in &inference.unknown {
            eprintln!(
                "  {} {}:{}: {} ({})",
                unknown.repository, unknown.file, unknown.line, unknown.text, unknown.reason
            );
        }
    }
    Ok(ExitCode::from(1))
}
