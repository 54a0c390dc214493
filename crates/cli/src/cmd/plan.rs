//! `keyless plan`: the IAM OIDC providers and roles `keyless.yml` needs, as a summary or IaC files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use keyless_workspace::render::{self, Format};

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
    let format = match (args.format, &args.output) {
        (Some(PlanFormat::Summary) | None, None) => {
            print!("{}", render::summary::summary(&config, &plan));
            return Ok(ExitCode::SUCCESS);
        }
        (Some(PlanFormat::Json), None) => {
            print!("{}", crate::format::json(&plan)?);
            return Ok(ExitCode::SUCCESS);
        }
        (Some(PlanFormat::Cloudformation | PlanFormat::Terraform), None) => {
            bail!("--format cloudformation and terraform write one file per account: add -o DIR")
        }
        (Some(PlanFormat::Summary), Some(_)) => {
            bail!("--format summary prints to the terminal; drop -o")
        }
        (Some(PlanFormat::Cloudformation) | None, Some(_)) => Format::CloudFormation,
        (Some(PlanFormat::Terraform), Some(_)) => Format::Terraform,
        (Some(PlanFormat::Json), Some(_)) => Format::Json,
    };
    let Some(dir) = args.output else {
        bail!("internal: missing output directory");
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for file in render::render(&plan, format) {
        let path = dir.join(&file.file_name);
        std::fs::write(&path, &file.contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
