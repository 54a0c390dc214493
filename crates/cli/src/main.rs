//! The `keyless` binary: parses arguments, calls the library crates, renders results, chooses exit codes.
//!
//! Each command lives in `cmd/<name>.rs` and returns an [`ExitCode`]; errors bubble up as `anyhow::Error` and
//! are printed once, here, with their context chain.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Keyless, provably least-privilege deployments from Bitbucket Pipelines to AWS.
#[derive(Debug, Parser)]
#[command(name = "keyless", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with IAM policy documents: evaluate a request against a trust policy, like AWS would.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
}

/// Exit code for bad input (unreadable or invalid files, bad arguments).
pub const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Policy(command) => cmd::policy::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
