//! `keyless audit [PATH]...`: run the audit rules over pipelines, trust policies and keyless.yml, print findings
//! in the chosen format, optionally fix them in place or publish them to Bitbucket Code Insights.
//!
//! Exit codes: 0 when no finding at or above `--fail-on` remains, 1 when some do, 2 when a path named on the
//! command line does not exist or no input at all could be read. A file that cannot be read or parsed (or a
//! keyless.yml whose `audit:` section is unusable) is a finding (`invalid-pipeline` / `invalid-input`, high) and
//! the other files are audited and reported in full.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use keyless_audit::files::{self as on_disk, LoadedConfig};
use keyless_audit::output::{code_insights, json, plain, sarif};
use keyless_audit::{Auditor, Confidence, Input, Options, Persona, Report, Repository, Severity};

use crate::format::{FormatChoice, Output, emit};

/// Exit code when findings at or above the threshold remain.
pub const EXIT_FINDINGS: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// rustc-style diagnostics with source snippets.
    Plain,
    /// `{"version": 1, "findings": [...]}`.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// Bitbucket Code Insights report and annotations as JSON.
    CodeInsights,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

macro_rules! value_enum_mirror {
    ($name:ident => $target:ty { $($v:ident),* }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
        pub enum $name { $($v),* }
        impl From<$name> for $target {
            fn from(v: $name) -> Self { match v { $($name::$v => <$target>::$v),* } }
        }
    };
}
value_enum_mirror!(SeverityArg => Severity { Info, Low, Medium, High });
value_enum_mirror!(ConfidenceArg => Confidence { Low, Medium, High });
value_enum_mirror!(PersonaArg => Persona { Regular, Pedantic, Auditor });

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Files or directories to audit (directories are walked for bitbucket-pipelines.yml, keyless.yml,
    /// CloudFormation templates and IAM policy JSON).
    #[arg(default_value = "bitbucket-pipelines.yml")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(
        long,
        value_enum,
        default_value = "plain",
        env = "KEYLESS_AUDIT_FORMAT"
    )]
    pub format: Format,

    /// Which findings to show: `regular`, `pedantic` (adds hardening suggestions) or `auditor` (everything).
    #[arg(
        long,
        value_enum,
        default_value = "regular",
        env = "KEYLESS_AUDIT_PERSONA"
    )]
    pub persona: PersonaArg,

    /// Hide findings below this severity.
    #[arg(long, value_enum, default_value = "info")]
    pub min_severity: SeverityArg,

    /// Hide findings below this confidence.
    #[arg(long, value_enum, default_value = "low")]
    pub min_confidence: ConfidenceArg,

    /// Exit 1 when a finding at or above this severity remains.
    #[arg(long, value_enum, default_value = "low", env = "KEYLESS_AUDIT_FAIL_ON")]
    pub fail_on: SeverityArg,

    /// keyless.yml whose `audit:` section to use (default: keyless.yml next to the audited paths).
    #[arg(long, env = "KEYLESS_CONFIG")]
    pub config: Option<PathBuf>,

    /// Apply safe fixes in place (comments and layout are kept), then report what remains.
    #[arg(long)]
    pub fix: bool,

    /// Publish the findings to Bitbucket Code Insights for BITBUCKET_COMMIT (through the Pipelines proxy).
    #[arg(long)]
    pub publish: bool,

    /// Proxy that authenticates Code Insights calls inside Pipelines.
    #[arg(
        long,
        default_value = "http://localhost:29418",
        env = "KEYLESS_CODE_INSIGHTS_PROXY"
    )]
    pub proxy: String,

    /// Bitbucket API base (plain http: the Pipelines proxy forwards only http).
    #[arg(
        long,
        default_value = "http://api.bitbucket.org/2.0",
        env = "KEYLESS_BITBUCKET_API"
    )]
    pub api_base: String,

    /// Repository (`workspace/slug`): where --publish reports, and which keyless.yml repository the audited
    /// pipelines belong to (default: the name of each pipeline file's directory).
    #[arg(long, env = "BITBUCKET_REPO_FULL_NAME")]
    pub repo: Option<String>,

    /// Commit for --publish.
    #[arg(long, env = "BITBUCKET_COMMIT")]
    pub commit: Option<String>,

    /// Colour in plain output.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,

    /// Values for Terraform variables (`name = value` .tfvars, or .tfvars.json), as `terraform plan -var-file`
    /// takes them; other variables take their defaults. Repeatable: later files win.
    #[arg(long, value_name = "FILE")]
    pub tf_var_file: Vec<PathBuf>,

    /// List the rules and exit.
    #[arg(long)]
    pub list_rules: bool,
}

pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    if args.list_rules {
        for rule in keyless_audit::registry() {
            let m = rule.meta();
            println!(
                "{:<36} {:<6} {}{}",
                m.id,
                m.severity,
                m.summary,
                if m.autofix { " (fixable)" } else { "" }
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let LoadedConfig { config, unusable } =
        on_disk::load_config(args.config.as_deref(), &args.paths).map_err(|e| {
            anyhow::anyhow!(
                "{e} (--config / KEYLESS_CONFIG names the keyless.yml whose audit section to use)"
            )
        })?;
    let options = Options {
        persona: args.persona.into(),
        min_severity: args.min_severity.into(),
        min_confidence: args.min_confidence.into(),
    };
    let mut variables = keyless_audit::policy::terraform::Variables::default();
    for file in &args.tf_var_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading --tf-var-file {}", file.display()))?;
        let more =
            keyless_audit::policy::terraform::Variables::parse(&file.display().to_string(), &text)
                .map_err(|e| anyhow::anyhow!("--tf-var-file {e}"))?;
        variables.extend(more);
    }
    let auditor = Auditor::new(config, options).with_terraform_variables(variables);
    let files =
        keyless_audit::discover::discover(&args.paths).context("collecting files to audit")?;
    if files.is_empty() {
        bail!(
            "no bitbucket-pipelines.yml, keyless.yml, CloudFormation/SAM template, CDK synth output, Terraform file \
             or IAM policy found under the given paths"
        );
    }
    let files = on_disk::with_unusable(files, unusable.as_ref());
    let repository = args.repo.as_deref().and_then(Repository::given);
    let (mut inputs, mut report) =
        on_disk::audit_paths(&auditor, &files, unusable.as_ref(), repository.as_ref());
    if args.fix {
        let fixed = apply_fixes(&files, &inputs, &report)?;
        if fixed > 0 {
            (inputs, report) =
                on_disk::audit_paths(&auditor, &files, unusable.as_ref(), repository.as_ref());
        }
    }
    drop(inputs);
    for u in &report.unreadable {
        eprintln!("warning: {} (reported as {})", u.error, u.rule);
    }
    let fail_on: Severity = args.fail_on.into();
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => crate::format::stdout_wants_colour(),
    };
    emit(
        args.format,
        &Audited {
            report: &report,
            fail_on,
            color,
        },
    )?;
    if report.nothing_readable() {
        bail!("no input could be read: fix the files named above");
    }
    if args.publish {
        publish(&args, &report, fail_on)?;
    }
    Ok(exit_code(&report, fail_on))
}

/// What `keyless audit` shows: the report, the threshold (Code Insights marks the report failed by it) and
/// whether plain output is coloured.
struct Audited<'a> {
    report: &'a Report,
    fail_on: Severity,
    color: bool,
}

impl FormatChoice<Audited<'_>> for Format {
    fn render(self, audited: &Audited<'_>) -> anyhow::Result<Output> {
        let report = audited.report;
        match self {
            Format::Plain => {
                let mut text = plain::render(&report.findings, audited.color);
                if report.ignored > 0 || report.filtered > 0 {
                    text.push_str(&format!(
                        "({} ignored, {} hidden by persona or filters)\n",
                        report.ignored, report.filtered
                    ));
                }
                Ok(Output::text(text))
            }
            Format::Json => Output::json(&json::render(&report.findings)),
            Format::Sarif => Output::json(&sarif::render_report(report, env!("CARGO_PKG_VERSION"))),
            Format::CodeInsights => {
                Output::json(&code_insights::to_json(&report.findings, audited.fail_on))
            }
        }
    }
}

fn exit_code(report: &Report, fail_on: Severity) -> ExitCode {
    if report.findings.iter().any(|f| f.severity >= fail_on) {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Writes `keyless_audit::fix::fix_inputs`'s texts back to their files.
fn apply_fixes(files: &[PathBuf], inputs: &[Input], report: &Report) -> anyhow::Result<usize> {
    let mut total = 0;
    for keyless_audit::fix::InputFix { input, fixed } in
        keyless_audit::fix::fix_inputs(inputs, &report.findings)
    {
        let (Some(file), Some(input)) = (files.get(input), inputs.get(input)) else {
            continue;
        };
        std::fs::write(file, &fixed.text)
            .with_context(|| format!("{}: cannot write the fixed file", file.display()))?;
        eprintln!("fixed {} finding(s) in {}", fixed.applied, input.path);
        if fixed.skipped > 0 {
            eprintln!(
                "{} overlapping fix(es) in {} left for another `--fix` run",
                fixed.skipped, input.path
            );
        }
        total += fixed.applied;
    }
    Ok(total)
}

/// DELETE the previous report (a rerun must not keep stale annotations), PUT the report, then POST the
/// annotations in batches of 100 (at most 1000), through the Pipelines auth proxy (`keyless_net::code_insights`).
fn publish(args: &AuditArgs, report: &Report, fail_on: Severity) -> anyhow::Result<()> {
    use keyless_net::code_insights::{Publisher, Route};
    let repo = args
        .repo
        .as_deref()
        .context("--publish needs the repository: set BITBUCKET_REPO_FULL_NAME or --repo")?;
    let commit = args
        .commit
        .as_deref()
        .context("--publish needs the commit: set BITBUCKET_COMMIT or --commit")?;
    let base = format!(
        "{}/repositories/{repo}/commit/{commit}/reports/{}",
        args.api_base.trim_end_matches('/'),
        code_insights::REPORT_ID
    );
    let (ci_report, annotations) = code_insights::render(&report.findings, fail_on);
    let proxy = args.proxy.trim_end_matches('/');
    let publisher = Publisher::new(
        Route::PipelinesProxy(proxy.to_owned()),
        Publisher::default_config(),
    )?;
    let batches = code_insights::batches(&annotations)
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()?;
    let report_json = serde_json::to_string(&ci_report)?;
    crate::runtime::sequential()?.block_on(publisher.publish(&base, report_json, batches))?;
    eprintln!(
        "published {} annotation(s) to Code Insights report {}",
        annotations.len(),
        code_insights::REPORT_ID
    );
    Ok(())
}
