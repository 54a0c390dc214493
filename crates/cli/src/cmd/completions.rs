//! `keyless completions SHELL`: a completion script generated from the CLI definition itself (clap_complete),
//! so it can never lag behind the commands and flags.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// `keyless completions` arguments.
#[derive(Debug, Args)]
#[command(after_help = "\
Install (then open a new shell):
  bash        keyless completions bash > ~/.local/share/bash-completion/completions/keyless
  zsh         keyless completions zsh > ~/.zfunc/_keyless   # with fpath+=(~/.zfunc) before compinit
  fish        keyless completions fish > ~/.config/fish/completions/keyless.fish
  powershell  keyless completions powershell >> $PROFILE
  elvish      keyless completions elvish > ~/.config/elvish/lib/keyless.elv   # then: use keyless")]
pub struct CompletionsArgs {
    /// The shell to generate the script for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Runs `keyless completions`: the script goes to stdout.
pub fn run(args: CompletionsArgs) -> Result<ExitCode> {
    let mut command = crate::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "keyless", &mut script);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&script)
        .and_then(|()| stdout.flush())
        .context("cannot write the completion script to stdout")?;
    Ok(ExitCode::SUCCESS)
}
