//! `keyless permissions ...`: what each role may do, derived from what its steps do.

use std::process::ExitCode;

use clap::Subcommand;

use super::permissions_infer;

#[derive(Debug, Subcommand)]
pub enum PermissionsCommand {
    /// Derive each role's IAM statements from the pipelines that run with it (`keyless deploy s3`, `cdk deploy`),
    /// each traceable to a line; list what cannot be derived as "unknown, record it". Exit 1 when some lines are
    /// unknown, 2 on bad input.
    Infer(permissions_infer::InferArgs),
}

pub fn run(command: PermissionsCommand) -> anyhow::Result<ExitCode> {
    match command {
        PermissionsCommand::Infer(args) => permissions_infer::run(args),
    }
}
