//! `keyless apply`: create or update the plan's OIDC providers and roles in IAM, showing the diff first.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use keyless_net::apply::{self, Outcome};
use keyless_net::live::ConnectOptions;

use crate::format::Format;

/// Where IAM is and whose credentials to use (shared by `apply` and `check --live`).
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// IAM/STS endpoint (e.g. `keyless emulate`'s URL); default: AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Signing region for IAM and STS.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Use an AWS profile for one account: `--profile 123456789012=prod-admin` (repeatable). Other accounts use
    /// the default credential chain; every account's identity is checked with sts:GetCallerIdentity first.
    #[arg(long = "profile", value_name = "ACCOUNT=PROFILE", value_parser = parse_profile)]
    pub profiles: Vec<(String, String)>,
}

fn parse_profile(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((account, profile))
            if account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && !profile.is_empty() =>
        {
            Ok((account.to_owned(), profile.to_owned()))
        }
        _ => Err(format!(
            "`{text}` is not ACCOUNT=PROFILE (a 12-digit account ID, `=`, a profile name)"
        )),
    }
}

impl AwsArgs {
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
            profiles: self.profiles.iter().cloned().collect::<HashMap<_, _>>(),
        }
    }
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub workspace: super::WorkspaceFile,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Show the changes and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also delete what keyless.yml no longer has: extra client IDs, policies, tags, and roles keyless created
    /// for this workspace.
    #[arg(long)]
    pub prune: bool,
    /// Only these accounts (repeatable); default: every account in keyless.yml.
    #[arg(long = "account", value_name = "ACCOUNT")]
    pub accounts: Vec<String>,
    /// Output format. `json` (`{"outcome", "total", "prune", "accounts": [{"account", "changes", "orphans"}]}`,
    /// docs/plan.md) never asks: it needs --yes or --dry-run.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let config = args.workspace.load()?;
    let plan = keyless_workspace::plan(&config)?;
    let todos = keyless_workspace::permissions::todos(&config);
    if !todos.is_empty() {
        let places: Vec<String> = todos
            .iter()
            .map(|(role, at)| format!("role `{role}` ({}:{at})", args.workspace.config.display()))
            .collect();
        bail!(
            "`permissions: todo` is a placeholder, not a policy: {}. Write the role's permissions (`keyless permissions \
             infer -c {} --write` derives them from the pipelines), then apply",
            places.join(", "),
            args.workspace.config.display()
        );
    }
    for account in &args.accounts {
        if !plan.accounts.iter().any(|a| &a.account == account) {
            bail!(
                "account {account} is not in {}; its accounts are: {}",
                args.workspace.config.display(),
                plan.accounts
                    .iter()
                    .map(|a| a.account.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let json = args.format == Format::Json;
    if json && !args.yes && !args.dry_run {
        bail!(
            "--format json does not ask: pass --yes to apply, or --dry-run to show the changes only"
        );
    }
    let options = args.aws.connect_options();
    let runtime = crate::runtime::concurrent(None)?;
    runtime.block_on(async {
        let targets = apply::connect(&options, &plan, &args.accounts).await?;
        let pending = apply::prepare(&plan, targets, args.prune).await?;
        let outcome = if pending.total() == 0 {
            Outcome::NoChanges
        } else if args.dry_run {
            Outcome::DryRun
        } else {
            Outcome::Applied
        };
        let config = args.workspace.config.display().to_string();
        // JSON does not ask (`--yes` was checked above): it applies first and reports what it did.
        if json && outcome == Outcome::Applied {
            pending.execute().await?;
        }
        args.format
            .print(&pending.report(outcome), |report| report.text(&config))?;
        if json {
            return Ok(ExitCode::SUCCESS);
        }
        match outcome {
            Outcome::NoChanges => return Ok(ExitCode::SUCCESS),
            Outcome::DryRun => {
                println!("Dry run: nothing changed.");
                return Ok(ExitCode::SUCCESS);
            }
            Outcome::Applied => {}
        }
        if !args.yes && !confirmed()? {
            println!("Nothing changed.");
            return Ok(ExitCode::from(1));
        }
        let total = pending.execute().await?;
        println!("Applied {total} change(s).");
        Ok(ExitCode::SUCCESS)
    })
}

/// Ask on the terminal; refuse when there is none to ask on.
fn confirmed() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "not applying without confirmation: stdin is not a terminal; pass --yes to apply, or --dry-run"
        );
    }
    print!("Apply these changes? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
