//! `keyless resolve`: fill missing workspace, repository and deployment-environment UUIDs from Bitbucket.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use keyless_net::bitbucket::{BitbucketApi, Credential};
use keyless_workspace::resolve;

#[derive(Debug, Args)]
#[command(mut_arg("config", |arg| arg.help("The workspace file (edited in place; comments and layout are kept)")))]
pub struct ResolveArgs {
    #[command(flatten)]
    pub workspace: super::WorkspaceFile,
    /// Bitbucket API base URL.
    #[arg(long, default_value = "https://api.bitbucket.org")]
    pub api_url: String,
    /// Show what would be filled without writing the file.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: ResolveArgs) -> anyhow::Result<ExitCode> {
    let config = &args.workspace.config;
    let Some(token) = std::env::var("BITBUCKET_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
    else {
        bail!(
            "BITBUCKET_TOKEN is not set; create a workspace or repository access token with read access to repositories and pipelines, and export it"
        );
    };
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let origin = config.display().to_string();
    let api = BitbucketApi::new(&args.api_url, Credential::from_value(&token))?;
    let runtime = crate::runtime::sequential()?;
    let fills = runtime.block_on(resolve::plan_fills(&text, &origin, &api))?;
    if fills.is_empty() {
        println!("Nothing to resolve: every UUID in {origin} is set.");
        return Ok(ExitCode::SUCCESS);
    }
    for fill in &fills {
        println!("{}: {}", fill.what, fill.uuid);
    }
    if args.dry_run {
        println!("Dry run: {origin} not changed.");
        return Ok(ExitCode::SUCCESS);
    }
    let updated = resolve::apply_fills(&text, &fills);
    // Validate before writing, so a resolve never leaves a file keyless cannot read.
    keyless_workspace::parse(&updated, &origin)?;
    let temporary = config.with_extension("yml.keyless-tmp");
    std::fs::write(&temporary, &updated)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, config)
        .with_context(|| format!("cannot replace {}", config.display()))?;
    println!("Filled {} UUID(s) in {origin}.", fills.len());
    Ok(ExitCode::SUCCESS)
}
