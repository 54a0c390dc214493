//! `keyless check`: prove who can assume which role, from the plan or from what IAM holds (`--live`), with the
//! pipeline layer's verdict from the enforce engine (unless `--aws-only`).

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use keyless_enforce::judge::RenderJudge;
use keyless_workspace::matrix::{self, Matrix, PipelineJudge, TrustView};
use keyless_workspace::report;

use crate::format::{FormatChoice, Output, emit};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
    Markdown,
}

impl FormatChoice<Matrix> for CheckFormat {
    fn render(self, matrix: &Matrix) -> anyhow::Result<Output> {
        Ok(match self {
            CheckFormat::Json => Output::json(matrix)?,
            CheckFormat::Markdown => Output::text(report::markdown(matrix)),
            CheckFormat::Table => {
                Output::text(report::table(matrix, crate::format::stdout_wants_colour()))
            }
        })
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub workspace: super::WorkspaceFile,
    #[arg(long, value_enum, default_value = "table")]
    pub format: CheckFormat,
    /// Evaluate the trust policies deployed in IAM (read with GetRole) instead of the plan.
    #[arg(long)]
    pub live: bool,
    /// Prove the AWS layer alone: no pipeline verdict (`n/a`), so a disallowed branch that AWS cannot see counts
    /// as unintended. For workspaces that do not run keyless serve as their Dynamic Pipelines provider.
    #[arg(long)]
    pub aws_only: bool,
    #[command(flatten)]
    pub aws: super::apply::AwsArgs,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let config = args.workspace.load()?;
    // Network conditions AWS can never satisfy (a private range in `source_ips`): every path to that role is
    // denied, which the error says with the reason and the fix, instead of a matrix of MISSING cells.
    config
        .check_trust()
        .map_err(keyless_workspace::LoadError::Invalid)?;
    // The quota does not change who could assume what: check proves the matrix anyway and says why plan fails.
    if let Err(error) = keyless_workspace::plan(&config) {
        eprintln!("warning: {error}");
    }
    let plan = keyless_workspace::plan_unchecked(&config);
    let view = if args.live {
        let runtime = crate::runtime::concurrent(None)?;
        runtime.block_on(async {
            let connect = args.aws.connect_options();
            keyless_net::live::read_trust_view(&plan, &connect).await
        })?
    } else {
        TrustView::from_plan(&plan)
    };
    // The pipeline layer: the enforce engine renders each scenario's step (keyless render's verdict).
    let judge = (!args.aws_only).then(|| RenderJudge::new(config.clone()));
    let matrix = matrix::build(
        &config,
        &view,
        judge.as_ref().map(|j| j as &dyn PipelineJudge),
        time::OffsetDateTime::now_utc(),
    );
    emit(args.format, &matrix)?;
    Ok(if matrix.unintended > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
