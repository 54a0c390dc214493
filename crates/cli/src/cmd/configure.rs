//! `keyless configure [--profile NAME] [--overwrite]`: write the token to a private file and an AWS config
//! profile that every SDK, the AWS CLI, CDK and Terraform use to assume (and re-assume) by themselves.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use keyless_credentials::{Env, configure};

use super::assume::CredentialOptions;

/// `keyless configure` arguments.
#[derive(Debug, Args)]
pub struct ConfigureArgs {
    #[command(flatten)]
    pub options: CredentialOptions,
    /// Profile to write (`default` writes `[default]`)
    #[arg(long, default_value = "default")]
    pub profile: String,
    /// Replace the profile if it already exists
    #[arg(long)]
    pub overwrite: bool,
}

/// Runs `keyless configure`.
pub fn run(args: ConfigureArgs) -> Result<ExitCode> {
    let env = Env::from_process();
    let settings = args.options.resolve(&env)?;
    let paths = configure::default_paths(&env)?;
    let report = configure::configure(&settings, &args.profile, args.overwrite, &paths)?;
    let verb = if report.replaced { "replaced" } else { "wrote" };
    println!(
        "{verb} profile `{}` in {}",
        report.profile,
        report.config_file.display()
    );
    for helper in &report.helper_profiles {
        println!("  with helper profile `{helper}` (chain hop)");
    }
    println!("token file: {} (0600)", report.token_file.display());
    let use_profile = if report.profile == "default" {
        String::new()
    } else {
        format!("AWS_PROFILE={} ", report.profile)
    };
    println!("use it: {use_profile}aws sts get-caller-identity");
    Ok(ExitCode::SUCCESS)
}
