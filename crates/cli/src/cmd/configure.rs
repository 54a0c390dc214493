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
    /// Remove what an earlier `keyless configure --profile NAME` wrote (token file, marked profile sections,
    /// directories it created), from its manifest beside the token; for an `after-script` on persistent runners.
    #[arg(long, conflicts_with = "overwrite")]
    pub cleanup: bool,
}

/// Runs `keyless configure`.
pub fn run(args: ConfigureArgs) -> Result<ExitCode> {
    let env = Env::from_process();
    if args.cleanup {
        let paths = configure::default_paths(&env)?;
        let report = configure::cleanup(&args.profile, &paths)?;
        let Some(manifest) = &report.manifest else {
            println!(
                "nothing to clean up for profile `{}` (no manifest in {})",
                args.profile,
                paths.token_dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        };
        for file in &report.removed_files {
            println!("removed {}", file.display());
        }
        for section in &report.removed_sections {
            println!("removed [{section}] from {}", paths.config_file.display());
        }
        for dir in &report.removed_dirs {
            println!("removed directory {}", dir.display());
        }
        if report.left.is_empty() {
            println!("cleaned up what {} listed", manifest.display());
            return Ok(ExitCode::SUCCESS);
        }
        for left in &report.left {
            eprintln!("keyless: error: could not remove {left}");
        }
        return Ok(ExitCode::from(1));
    }
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
