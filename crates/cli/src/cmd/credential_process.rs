//! `keyless credential-process`: the `Version: 1` JSON an AWS config file's `credential_process` runs.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use keyless_credentials::render;

use super::assume::{CredentialOptions, get_session};

/// `keyless credential-process` arguments.
#[derive(Debug, Args)]
pub struct CredentialProcessArgs {
    #[command(flatten)]
    pub options: CredentialOptions,
}

/// Runs `keyless credential-process`.
pub fn run(args: CredentialProcessArgs) -> Result<ExitCode> {
    let session = match get_session(&args.options)? {
        Ok(session) => session,
        Err(code) => return Ok(code),
    };
    print!("{}", render::render_credential_process(&session));
    Ok(ExitCode::SUCCESS)
}
