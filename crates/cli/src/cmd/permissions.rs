//! `keyless permissions ...`: what each role may do, from what its steps do (`infer`, in `permissions_infer`) and
//! what they really do (`from-record`, `check`).
//!
//! `keyless permissions from-record FILE…` turns recordings made by `keyless assume --record FILE` (several runs
//! merged) into the identity policy they need (`keyless_iam::record::policy`): actions from the generated IAM
//! action table, scoped by region where the events carry it, `"Resource": "*"` listed as "narrow by hand" where the
//! action could be scoped to resources. Exit codes: 0 policy written, 1 some recorded calls have no known IAM action
//! (listed; the policy holds the rest), 2 bad input. `keyless permissions check -c keyless.yml [PIPELINE…]` proves
//! each role's planned policy against the calls its steps need, inferred from the pipelines and recorded
//! (`keyless_workspace::permissions_check`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use keyless_iam::record::{self, FromRecord, Recording};

use super::permissions_infer;
use crate::format::{FormatChoice, Output, emit};

/// Exit code when a recorded call has no IAM action keyless knows.
const EXIT_UNKNOWN_CALLS: u8 = 1;

#[derive(Debug, Subcommand)]
pub enum PermissionsCommand {
    /// Derive each role's IAM statements from the pipelines that run with it (`keyless deploy s3`, `cdk deploy`,
    /// AWS CLI commands, Atlassian's S3 and CloudFront pipes), each traceable to a line; list what cannot be
    /// derived as "unknown, record it". Exit 1 when some lines are unknown, 2 on bad input.
    Infer(permissions_infer::InferArgs),
    /// Turn recordings of `keyless assume --record FILE -- CMD` into the IAM policy those calls need.
    ///
    /// Several files (several runs) are merged. Client-side-monitoring events carry service, operation and region
    /// but no resource: each action is scoped to its recorded regions (aws:RequestedRegion) and granted on
    /// "Resource": "*"; the actions that could be scoped to resources are listed as "narrow by hand" with the ARN
    /// formats they accept. Exit 0 when every call was mapped, 1 when some have no known IAM action (listed, left
    /// out of the policy), 2 on bad input.
    FromRecord(FromRecordArgs),
    /// Prove each role's policy against the calls its steps need: every needed call allowed, and what the policy
    /// allows beyond them.
    ///
    /// A role's policy is its planned inline policies (keyless.yml) plus the managed policies whose documents you
    /// pass with --policy-document, intersected with its permissions boundary when one is set, evaluated by
    /// keyless-iam with resources. Needed calls come from the pipelines (PIPELINE… / --repo NAME=PIPELINE: what
    /// `keyless permissions infer` derives, each call on its inferred resource) and from recordings (`--record
    /// ENV=FILE`: a keyless.yml environment or a role ARN, and a file of `keyless assume --record`). A call a
    /// managed policy or boundary keyless cannot read might decide is `unknown`; a pipeline line infer cannot
    /// derive is listed, and counts as unproven unless a recording covers its role. Exit 0 when every needed call
    /// is allowed, 1 when one is denied or unknown (or a line is unproven), 2 on bad input.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    workspace: super::WorkspaceFile,

    /// Pipeline files whose inferred calls each role must allow; each belongs to the repository named by its
    /// folder, or to the only repository in keyless.yml.
    #[arg(value_name = "PIPELINE")]
    pipelines: Vec<PathBuf>,

    /// A pipeline file of a named repository: NAME=PIPELINE (repeatable).
    #[arg(long = "repo", value_name = "NAME=PIPELINE")]
    repos: Vec<String>,

    /// Calls a role needs: ENV=FILE, where ENV is a keyless.yml environment (or a role ARN) and FILE a recording
    /// of `keyless assume --record` (repeatable).
    #[arg(long = "record", value_name = "ENV=FILE", value_parser = parse_pair)]
    records: Vec<(String, PathBuf)>,

    /// The document of a managed policy or permissions boundary: ARN=FILE, the JSON policy document (e.g. from
    /// `aws iam get-policy-version`); repeatable. Without it such a policy cannot be evaluated offline.
    #[arg(long = "policy-document", value_name = "ARN=FILE", value_parser = parse_pair)]
    documents: Vec<(String, PathBuf)>,

    #[arg(long, value_enum, default_value_t)]
    format: crate::format::Format,
}

fn parse_pair(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((key, path)) if !key.is_empty() && !path.is_empty() => {
            Ok((key.to_string(), PathBuf::from(path)))
        }
        _ => Err(format!("`{text}` is not NAME=FILE")),
    }
}

#[derive(Debug, Args)]
pub struct FromRecordArgs {
    /// Recording files (JSON Lines written by `keyless assume --record`).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// `policy`: the IAM policy document on stdout, notes on stderr; `json`: {"policy", "calls",
    /// "narrow_by_hand", "unknown"}; `text`: the policy and the notes for people.
    #[arg(long, value_enum, default_value_t = Format::Policy)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Policy,
    Json,
    Text,
}

/// What `from-record` shows: the policy the recordings need, and how many calls they held.
struct Recorded<'a> {
    result: &'a FromRecord,
    total: u64,
}

/// `policy`: the IAM policy document alone (the command writes the notes to stderr); `json`: the whole result;
/// `text`: the policy and the notes.
impl FormatChoice<Recorded<'_>> for Format {
    fn render(self, recorded: &Recorded<'_>) -> anyhow::Result<Output> {
        Ok(match self {
            Format::Policy => Output::json(&recorded.result.policy)?,
            Format::Json => Output::json(recorded.result)?,
            Format::Text => Output::text(
                crate::format::json(&recorded.result.policy)?
                    + &notes(recorded.result, recorded.total),
            ),
        })
    }
}

pub fn run(command: PermissionsCommand) -> anyhow::Result<ExitCode> {
    match command {
        PermissionsCommand::Infer(args) => permissions_infer::run(args),
        PermissionsCommand::FromRecord(args) => from_record(&args),
        PermissionsCommand::Check(args) => check(&args),
    }
}

fn read_recording(path: &std::path::Path) -> anyhow::Result<Recording> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the recording {}", path.display()))?;
    Recording::parse(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}: {}\n  fix: pass files written by `keyless assume --record FILE -- CMD`",
            path.display(),
            e.line,
            e.message
        )
    })
}

fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    use keyless_workspace::permissions_check::{self, Needed, Verdict};
    use std::collections::BTreeMap;
    use std::fmt::Write as _;

    let config = args.workspace.load()?;
    let plan = keyless_workspace::plan_unchecked(&config);
    let known = |target: &str| {
        config.environments.contains_key(target)
            || plan
                .accounts
                .iter()
                .flat_map(|a| &a.roles)
                .any(|r| r.arn == target)
    };
    let mut needs: BTreeMap<String, Vec<Needed>> = BTreeMap::new();
    let mut unmapped = Vec::new();
    for (target, path) in &args.records {
        if !known(target) {
            anyhow::bail!(
                "--record {target}={}: `{target}` is neither an environment of {} nor a role it plans\n  fix: use one of: {}",
                path.display(),
                args.workspace.config.display(),
                config
                    .environments
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let recording = read_recording(path)?;
        let (list, unknown) =
            permissions_check::needs_from_recording(&recording, &path.display().to_string());
        needs.entry(target.clone()).or_default().extend(list);
        unmapped.extend(unknown);
    }
    // The pipelines: every inferred statement's calls, keyed by the role; the lines infer cannot derive are
    // unproven unless a recording covers their role.
    let sources = permissions_infer::sources(&config, &args.pipelines, &args.repos)?;
    let mut unproven = Vec::new();
    if !sources.is_empty() {
        let inference = permissions_infer::inferred(&config, &sources)?;
        for role in &inference.roles {
            for need in &role.statements {
                let from = need
                    .from
                    .iter()
                    .map(|o| format!("{}:{}: {}", o.file, o.line, o.text))
                    .collect::<Vec<_>>()
                    .join("; ");
                needs.entry(role.role.clone()).or_default().extend(
                    permissions_check::needs_from_statement(&need.statement, &from),
                );
            }
        }
        let recorded = |role: &str| {
            args.records.iter().any(|(target, _)| {
                target == role
                    || config
                        .environments
                        .get(target)
                        .is_some_and(|env| env.role_arn() == role)
            })
        };
        for unknown in inference.unknown {
            if unknown.role.as_deref().is_some_and(recorded) {
                continue;
            }
            unproven.push(unknown);
        }
    }
    if needs.is_empty() && unproven.is_empty() {
        anyhow::bail!(
            "no needed calls to check\n  fix: pass the pipelines (PIPELINE… or --repo NAME=PIPELINE) or --record ENV=FILE with a recording of `keyless assume --record`"
        );
    }
    let mut documents = BTreeMap::new();
    for (arn, path) in &args.documents {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the policy document {}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        // `aws iam get-policy-version` wraps the document: accept both.
        let document = value
            .pointer("/PolicyVersion/Document")
            .cloned()
            .unwrap_or(value);
        documents.insert(arn.clone(), document);
    }
    let result = permissions_check::check(&plan, &needs, &documents);
    let mut value = serde_json::to_value(&result)?;
    value["unmapped_calls"] = serde_json::json!(unmapped);
    value["unproven_lines"] = serde_json::to_value(&unproven)?;
    args.format.print(&value, |_| {
        let mut out = String::new();
        for role in &result.roles {
            let _ = writeln!(
                out,
                "{} {} ({})",
                if role.ok { "✓" } else { "✗" },
                role.role,
                role.environment
            );
            for call in &role.calls {
                let mark = match call.verdict {
                    Verdict::Allowed => "allowed",
                    Verdict::Denied => "DENIED",
                    Verdict::Unknown => "unknown",
                };
                let _ = writeln!(
                    out,
                    "  {mark:8} {} on {}{} ({})",
                    call.needed.action,
                    call.needed.resource.as_deref().unwrap_or("any resource"),
                    call.allowed_on
                        .as_deref()
                        .map(|r| format!(" (allowed on {r})"))
                        .unwrap_or_default(),
                    call.needed.from
                );
            }
            for beyond in &role.beyond {
                let _ = writeln!(
                    out,
                    "  beyond: {} {} `{}` allows {} more action(s) on {} (e.g. {})",
                    beyond.policy,
                    beyond.statement,
                    beyond.pattern,
                    beyond.extra_actions,
                    beyond.resources.join(", "),
                    beyond.examples.join(", ")
                );
            }
            for note in &role.notes {
                let _ = writeln!(out, "  note: {note}");
            }
        }
        for call in &unmapped {
            let _ = writeln!(out, "unknown, no IAM action known: {call}");
        }
        for line in &unproven {
            let _ = writeln!(
                out,
                "unproven, record it: {} {}:{}: {} ({})",
                line.repository, line.file, line.line, line.text, line.reason
            );
        }
        out
    })?;
    Ok(if result.ok && unmapped.is_empty() && unproven.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_UNKNOWN_CALLS)
    })
}

fn from_record(args: &FromRecordArgs) -> anyhow::Result<ExitCode> {
    let mut recording = Recording::new();
    for path in &args.files {
        recording.merge(read_recording(path)?);
    }
    if recording.is_empty() {
        anyhow::bail!(
            "the recordings hold no calls: the command made no AWS call, or its SDK does not emit client-side \
             monitoring (botocore, i.e. the AWS CLI v1 and boto3, does; see docs/permissions.md)\n  fix: record a \
             run that calls AWS through a recording SDK"
        );
    }
    let result = record::policy(&recording);
    let recorded = Recorded {
        result: &result,
        total: recording.total(),
    };
    emit(args.format, &recorded)?;
    if args.format == Format::Policy {
        // The policy alone on stdout, so it pipes into a file or `aws iam`; the notes after it, for people.
        eprint!("{}", notes(&result, recording.total()));
    }
    Ok(if result.unknown.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_UNKNOWN_CALLS)
    })
}

/// What a person must know about the policy: what to narrow by hand and what was left out.
fn notes(result: &FromRecord, total: u64) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "keyless: {} recorded call(s), {} distinct, {} IAM action(s)",
        total,
        result.calls.len() + result.unknown.len(),
        result
            .calls
            .iter()
            .flat_map(|c| c.actions.iter())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
    if !result.narrow_by_hand.is_empty() {
        let _ = writeln!(
            out,
            "narrow by hand: recordings carry no resources, so these actions are granted on \"Resource\": \"*\":"
        );
        for item in &result.narrow_by_hand {
            let _ = writeln!(
                out,
                "  {} ({}): {}",
                item.action,
                item.calls.join(", "),
                item.resource_arns.join(" | ")
            );
        }
    }
    if !result.unknown.is_empty() {
        let _ = writeln!(out, "unknown, not in the policy:");
        for call in &result.unknown {
            let _ = writeln!(
                out,
                "  {} {} ({} call(s)): {}",
                call.service, call.api, call.count, call.reason
            );
        }
    }
    out
}
