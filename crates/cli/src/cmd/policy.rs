//! `keyless policy ...`: evaluate IAM policy documents offline through `keyless-iam`.

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {}

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
