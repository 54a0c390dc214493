//! `keyless env`: print the credentials as variables for `eval "$(keyless env)"` (sh, fish, dotenv, JSON).

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use keyless_credentials::Session;
use keyless_credentials::render::{self, EnvFormat};

use super::assume::{CredentialOptions, get_session};
use crate::format::{FormatChoice, Output, emit};

/// Output format of `keyless env`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// `export NAME='value'` lines
    Sh,
    /// `set -gx NAME 'value';` lines
    Fish,
    /// `NAME=value` lines
    Dotenv,
    /// one JSON object
    Json,
}

/// A mirror of [`EnvFormat`] for clap: keyless-credentials stays free of clap, and the shells' quoting (JSON
/// included: one compact object, as `eval` and `jq` take it) is the library's.
impl FormatChoice<Session> for Format {
    fn render(self, session: &Session) -> Result<Output> {
        let format = match self {
            Format::Sh => EnvFormat::Sh,
            Format::Fish => EnvFormat::Fish,
            Format::Dotenv => EnvFormat::Dotenv,
            Format::Json => EnvFormat::Json,
        };
        Ok(Output::text(render::render_env(session, format)))
    }
}

/// `keyless env` arguments.
#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    pub options: CredentialOptions,
    /// Output format
    #[arg(long, value_enum, default_value = "sh")]
    pub format: Format,
}

/// Runs `keyless env`.
pub fn run(args: EnvArgs) -> Result<ExitCode> {
    let session = match get_session(&args.options)? {
        Ok(session) => session,
        Err(code) => return Ok(code),
    };
    emit(args.format, &session)?;
    Ok(ExitCode::SUCCESS)
}
