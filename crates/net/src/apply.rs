//! `keyless apply`'s workflow as values: connect to each account, read what IAM holds, diff it against the plan
//! ([`prepare`] → [`Pending`]), then, once the caller has shown the diff and has its answer, [`Pending::execute`].
//! `keyless apply` and `keyless demo` both run it; they only differ in where their IAM clients come from and how
//! they render the [`Report`].

use std::fmt::Write as _;

use aws_sdk_iam::Client;
use serde::Serialize;

use crate::live::{self, ConnectOptions, LiveError};
use keyless_workspace::diff::{self, Change, PathConflict};
use keyless_workspace::plan::{AccountPlan, Plan};

/// Why the workflow stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    PathConflict(#[from] PathConflict),
    /// A change failed part-way: what ran before it stays done.
    #[error(
        "applying to account {account} (changes before the failure were made; apply again to resume)"
    )]
    Execute {
        account: String,
        #[source]
        source: LiveError,
    },
}

/// One account and the IAM client that reaches it.
pub struct Target<'a> {
    pub account: &'a AccountPlan,
    pub client: Client,
}

/// IAM clients for the plan's accounts (all of them, or those in `only`), each identity checked with
/// `sts:GetCallerIdentity` ([`live::client_for`]). The caller checks that `only` names accounts of the plan.
pub async fn connect<'a>(
    options: &ConnectOptions,
    plan: &'a Plan,
    only: &[String],
) -> Result<Vec<Target<'a>>, LiveError> {
    let mut targets = Vec::new();
    for account in plan
        .accounts
        .iter()
        .filter(|a| only.is_empty() || only.contains(&a.account))
    {
        let client = live::client_for(options, &account.account).await?;
        targets.push(Target { account, client });
    }
    Ok(targets)
}

/// One account's changes, not yet made.
pub struct AccountChanges<'a> {
    pub account: &'a AccountPlan,
    client: Client,
    pub changes: Vec<Change>,
    /// keyless-managed roles of this workspace that keyless.yml no longer has (deleted only with `prune`).
    pub orphans: Vec<String>,
}

/// The diff of every target account, ready to execute.
pub struct Pending<'a> {
    pub accounts: Vec<AccountChanges<'a>>,
    pub prune: bool,
}

/// Read each target account and diff it against the plan. Nothing is changed.
pub async fn prepare<'a>(
    plan: &Plan,
    targets: Vec<Target<'a>>,
    prune: bool,
) -> Result<Pending<'a>, ApplyError> {
    let mut accounts = Vec::new();
    for Target { account, client } in targets {
        let state = live::read_account(&client, account, &plan.workspace).await?;
        let changes = diff::diff(account, &state, prune)?;
        accounts.push(AccountChanges {
            account,
            client,
            changes,
            orphans: state.orphans,
        });
    }
    Ok(Pending { accounts, prune })
}

/// How an apply ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// IAM already matches the plan.
    NoChanges,
    /// `--dry-run`: the changes were shown, nothing changed.
    DryRun,
    /// Every change was made.
    Applied,
}

/// What `keyless apply --format json` prints: the changes per account and how the run ended.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub outcome: Outcome,
    /// The number of changes (made, when `outcome` is `applied`).
    pub total: usize,
    pub prune: bool,
    pub accounts: Vec<AccountReport>,
}

/// One account in a [`Report`].
#[derive(Clone, Debug, Serialize)]
pub struct AccountReport {
    pub account: String,
    pub changes: Vec<ChangeReport>,
    pub orphans: Vec<String>,
}

/// One change: what the text output says of it, and the change itself (`action` names it).
#[derive(Clone, Debug, Serialize)]
pub struct ChangeReport {
    pub summary: String,
    #[serde(flatten)]
    pub change: Change,
}

impl Pending<'_> {
    /// The number of changes over all accounts.
    pub fn total(&self) -> usize {
        self.accounts.iter().map(|a| a.changes.len()).sum()
    }

    /// Make the changes, account by account, in order; stops at the first failure. Returns how many were made.
    pub async fn execute(&self) -> Result<usize, ApplyError> {
        for account in &self.accounts {
            live::execute(&account.client, &account.changes)
                .await
                .map_err(|source| ApplyError::Execute {
                    account: account.account.account.clone(),
                    source,
                })?;
        }
        Ok(self.total())
    }

    /// The value the CLI renders.
    pub fn report(&self, outcome: Outcome) -> Report {
        Report {
            outcome,
            total: self.total(),
            prune: self.prune,
            accounts: self
                .accounts
                .iter()
                .map(|a| AccountReport {
                    account: a.account.account.clone(),
                    changes: a
                        .changes
                        .iter()
                        .map(|change| ChangeReport {
                            summary: change.describe(),
                            change: change.clone(),
                        })
                        .collect(),
                    orphans: a.orphans.clone(),
                })
                .collect(),
        }
    }
}

impl Report {
    /// The text `keyless apply` prints before it asks (or stops, with `--dry-run`): the orphan notes, then each
    /// account's changes and the count; for [`Outcome::NoChanges`], the one line saying so.
    pub fn text(&self, config: &str) -> String {
        let mut text = String::new();
        if !self.prune {
            for account in self.accounts.iter().filter(|a| !a.orphans.is_empty()) {
                let _ = writeln!(
                    text,
                    "note: account {}: {} keyless-managed role(s) no longer in keyless.yml: {} (apply --prune deletes them)",
                    account.account,
                    account.orphans.len(),
                    account.orphans.join(", ")
                );
            }
        }
        if self.total == 0 {
            let _ = writeln!(text, "No changes: IAM already matches {config}.");
            return text;
        }
        for account in self.accounts.iter().filter(|a| !a.changes.is_empty()) {
            let _ = writeln!(text, "account {}:", account.account);
            for change in &account.changes {
                for line in change.summary.lines() {
                    let _ = writeln!(text, "  {line}");
                }
            }
        }
        let _ = writeln!(text, "{} change(s).", self.total);
        text
    }
}
