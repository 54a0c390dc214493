//! `keyless apply`: create or update the plan's OIDC providers and roles in IAM, showing the diff first.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use keyless_net::live::{self, ConnectOptions};
use keyless_workspace::diff;

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
    /// The workspace file.
    #[arg(short, long, env = "KEYLESS_CONFIG", default_value = "keyless.yml")]
    pub config: PathBuf,
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
}

pub fn run(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let config = keyless_workspace::load(&args.config)?;
    let plan = keyless_workspace::plan(&config)?;
    let todos = keyless_workspace::permissions::todos(&config);
    if !todos.is_empty() {
        let places: Vec<String> = todos
            .iter()
            .map(|(role, at)| format!("role `{role}` ({}:{at})", args.config.display()))
            .collect();
        bail!(
            "`permissions: todo` is a placeholder, not a policy: {}. Write the role's permissions (`keyless permissions \
             infer -c {} --write` derives them from the pipelines), then apply",
            places.join(", "),
            args.config.display()
        );
    }
    for account in &args.accounts {
        if !plan.accounts.iter().any(|a| &a.account == account) {
            bail!(
                "account {account} is not in {}; its accounts are: {}",
                args.config.display(),
                plan.accounts
                    .iter()
                    .map(|a| a.account.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let options = args.aws.connect_options();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let mut work = Vec::new();
        for account in plan.accounts.iter().filter(|a| args.accounts.is_empty() || args.accounts.contains(&a.account)) {
            let client = live::client_for(&options, &account.account).await?;
            let state = live::read_account(&client, account, &plan.workspace).await?;
            let changes = diff::diff(account, &state, args.prune)?;
            if !state.orphans.is_empty() && !args.prune {
                println!(
                    "note: account {}: {} keyless-managed role(s) no longer in keyless.yml: {} (apply --prune deletes them)",
                    account.account,
                    state.orphans.len(),
                    state.orphans.join(", ")
                );
            }
            work.push((account, client, changes));
        }
        let total: usize = work.iter().map(|(_, _, changes)| changes.len()).sum();
        if total == 0 {
            println!("No changes: IAM already matches {}.", args.config.display());
            return Ok(ExitCode::SUCCESS);
        }
        for (account, _, changes) in &work {
            if changes.is_empty() {
                continue;
            }
            println!("account {}:", account.account);
            for change in changes {
                for line in change.describe().lines() {
                    println!("  {line}");
                }
            }
        }
        println!("{total} change(s).");
        if args.dry_run {
            println!("Dry run: nothing changed.");
            return Ok(ExitCode::SUCCESS);
        }
        if !args.yes {
            if !std::io::stdin().is_terminal() {
                bail!("not applying without confirmation: stdin is not a terminal; pass --yes to apply, or --dry-run");
            }
            print!("Apply these changes? [y/N] ");
            std::io::stdout().flush()?;
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer)?;
            if !matches!(answer.trim(), "y" | "Y" | "yes") {
                println!("Nothing changed.");
                return Ok(ExitCode::from(1));
            }
        }
        for (account, client, changes) in &work {
            live::execute(client, changes)
                .await
                .with_context(|| format!("applying to account {} (changes before the failure were made; apply again to resume)", account.account))?;
        }
        println!("Applied {total} change(s).");
        Ok(ExitCode::SUCCESS)
    })
}
