//! `keyless plan`: the IAM OIDC providers and roles `keyless.yml` needs, as a summary or IaC files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use keyless_workspace::render::{self, Format};
use keyless_workspace::{Config, Plan};

use crate::format::{FormatChoice, Output, emit};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    /// A readable summary (the default without -o).
    Summary,
    /// `<account>.template.json`: AWS CloudFormation.
    Cloudformation,
    /// `<account>.tf.json`: Terraform in JSON syntax.
    Terraform,
    /// `<account>.iam.json`: the provider and roles as IAM's API takes them.
    Json,
}

/// What `keyless plan` prints without -o: the plan, with the configuration its summary names.
struct Planned<'a> {
    config: &'a Config,
    plan: &'a Plan,
}

/// Without -o: the summary or the plan as JSON. CloudFormation and Terraform are files (-o), which
/// `keyless_workspace::render::Format` renders; this enum mirrors it for clap (keyless-workspace has no clap).
impl FormatChoice<Planned<'_>> for PlanFormat {
    fn render(self, planned: &Planned<'_>) -> anyhow::Result<Output> {
        match self {
            PlanFormat::Summary => Ok(Output::text(render::summary::summary(
                planned.config,
                planned.plan,
            ))),
            PlanFormat::Json => Output::json(planned.plan),
            PlanFormat::Cloudformation | PlanFormat::Terraform => {
                bail!(
                    "--format cloudformation and terraform write one file per account: add -o DIR"
                )
            }
        }
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub workspace: super::WorkspaceFile,
    /// Output format. Default: `summary` without -o, `cloudformation` with -o.
    #[arg(long, value_enum)]
    pub format: Option<PlanFormat>,
    /// Write one file per AWS account into this directory.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let config = args.workspace.load()?;
    let plan = keyless_workspace::plan(&config)?;
    for (role, at) in keyless_workspace::permissions::todos(&config) {
        eprintln!(
            "warning: {}:{at}: role `{role}` has `permissions: todo`: plan renders it without them and `keyless apply` \
             refuses it; `keyless permissions infer` derives them from the pipelines",
            args.workspace.config.display()
        );
    }
    let Some(dir) = &args.output else {
        emit(
            args.format.unwrap_or(PlanFormat::Summary),
            &Planned {
                config: &config,
                plan: &plan,
            },
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    let format = match args.format {
        Some(PlanFormat::Summary) => bail!("--format summary prints to the terminal; drop -o"),
        Some(PlanFormat::Cloudformation) | None => Format::CloudFormation,
        Some(PlanFormat::Terraform) => Format::Terraform,
        Some(PlanFormat::Json) => Format::Json,
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for file in render::render(&plan, format) {
        let path = dir.join(&file.file_name);
        std::fs::write(&path, &file.contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
