//! `keyless init`: write a commented starter `keyless.yml`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the file.
    #[arg(short, long, default_value = "keyless.yml")]
    pub output: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    if args.output.exists() && !args.force {
        bail!(
            "{} already exists; pass --force to overwrite it, or -o to write elsewhere",
            args.output.display()
        );
    }
    std::fs::write(&args.output, keyless_workspace::init::STARTER)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    println!("wrote {}", args.output.display());
    println!(
        "next: set your workspace, accounts and repositories (or run `keyless resolve`), then `keyless plan`"
    );
    Ok(ExitCode::SUCCESS)
}
