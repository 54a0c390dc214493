//! `keyless policy ...`: IAM policy documents offline, through `keyless-iam`.
//!
//! `keyless policy eval` answers "would AWS allow this request?" for a policy file and either a request file or
//! an OIDC token's claims; with a token it asks `keyless_iam::sts::decide`, the one STS decision (provider by
//! `iss`, audience, expiry, trust policy). Exit codes: 0 allow, 1 deny, 2 bad input (including a policy IAM would
//! reject). `keyless policy validate` lists what IAM would reject and what is probably wrong, from the one
//! validation registry (`keyless_iam::Code`); exit 0 when IAM would accept the policy, 1 when it would not.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use clap::{Args, Subcommand, ValueEnum};
use keyless_iam::arn::ProviderArn;
use keyless_iam::sts::{self, Rejection, RequestContext};
use keyless_iam::verdict::{ExtraAction, Verdict};
use keyless_iam::{
    Decision, Diagnostic, Evaluation, ParseError, PolicyDocument, PolicyKind, Request, Severity,
};
use keyless_oidc::SecretToken;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::format::Format;

/// Exit code when the policy allows the request.
const EXIT_ALLOW: u8 = 0;
/// Exit code when the policy denies the request (explicitly or implicitly).
const EXIT_DENY: u8 = 1;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Evaluate a request against a policy like AWS does. Exit 0 on allow, 1 on deny, 2 on bad input.
    ///
    /// Either give a request file (`--request`), or an OIDC token (`--token`) or its claims (`--claims`)
    /// with `--provider-arn`: keyless then builds exactly the context AWS gives
    /// sts:AssumeRoleWithWebIdentity (custom claims such as branchName are not condition keys in AWS).
    Eval(EvalArgs),
    /// Validate a policy like IAM does: every error IAM would reject it for, and every warning (Access
    /// Analyzer's and keyless's), each with its code, level and location. Exit 0 when IAM would accept it, 1 when
    /// it would not, 2 when the file cannot be read or is not JSON.
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The policy document (JSON).
    #[arg(value_name = "FILE")]
    policy: PathBuf,

    /// What kind of policy it is; decides which rules apply.
    #[arg(long, value_enum, default_value_t = Kind::Trust)]
    kind: Kind,

    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The policy document (JSON), e.g. a role trust policy.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,

    /// A request file: {"principal": "<ARN or *>", "principal_type": "Federated|AWS|Service",
    /// "action": "...", "context": {"<key>": "<value>" | ["<v1>", "<v2>"]}}.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["token", "claims"],
          conflicts_with_all = ["token", "claims", "provider_arn", "source_ip", "at", "role_session_name", "client_ids"])]
    request: Option<PathBuf>,

    /// A file holding an OIDC token (JWT). Its payload is decoded WITHOUT verifying the signature.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "claims",
        requires = "provider_arn"
    )]
    token: Option<PathBuf>,

    /// A JSON file with the token's claims (the decoded JWT payload).
    #[arg(long, value_name = "FILE", requires = "provider_arn")]
    claims: Option<PathBuf>,

    /// The IAM OIDC provider ARN, e.g.
    /// arn:aws:iam::123456789012:oidc-provider/api.bitbucket.org/2.0/workspaces/WORKSPACE/pipelines-config/identity/oidc
    #[arg(long, value_name = "ARN")]
    provider_arn: Option<String>,

    /// A client ID (audience) of the provider, as IAM lists it; repeat for several. STS requires one of the
    /// token's audiences to be one of them ("Incorrect token audience"). Default for a Bitbucket provider: the
    /// workspace audience, `ari:cloud:bitbucket::workspace/<workspaceUuid without braces>` (what Atlassian's
    /// instructions and `keyless plan` create); for other providers the audience check is skipped.
    #[arg(long = "client-id", value_name = "AUDIENCE", requires = "provider_arn")]
    client_ids: Vec<String>,

    /// The caller's IP address (`aws:SourceIp`); omitted from the context when not given.
    #[arg(long, value_name = "IP")]
    source_ip: Option<IpAddr>,

    /// The time of the request (`aws:CurrentTime`, `aws:EpochTime`): RFC 3339 (2026-01-31T12:00:00Z) or
    /// Unix seconds. Defaults to now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    at: Option<OffsetDateTime>,

    /// The role session name (`sts:RoleSessionName`); omitted from the context when not given.
    #[arg(long, value_name = "NAME")]
    role_session_name: Option<String>,

    /// What kind of policy `--policy` is; decides which validation rules apply.
    #[arg(long, value_enum, default_value_t = Kind::Trust)]
    kind: Kind,

    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    Trust,
    Identity,
}

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Eval(args) => eval(&args),
        PolicyCommand::Validate(args) => validate(&args),
    }
}

fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    if let Ok(seconds) = text.parse::<i64>() {
        return OffsetDateTime::from_unix_timestamp(seconds)
            .map_err(|e| format!("`{text}` is out of range: {e}"));
    }
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        format!("`{text}` is not a time: use RFC 3339 (2026-01-31T12:00:00Z) or Unix seconds")
    })
}

/// The JSON output: `{"decision", "explanation", "statements", "additional_actions", "diagnostics"}`, and with a
/// token `"rejection"` (STS's stage, code and message when it refuses; `null` when it accepts), `"audience"` (the
/// audience STS matched) and `"notes"`.
#[derive(Debug, Serialize)]
struct Output<'a> {
    decision: Decision,
    explanation: String,
    statements: &'a [keyless_iam::StatementTrace],
    additional_actions: Vec<ExtraAction>,
    diagnostics: Vec<Diagnostic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejection: Option<Option<Rejection>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audience: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))
}

/// `path:line:column: message`, the way compilers point at bad input.
fn located(path: &Path, error: &ParseError) -> anyhow::Error {
    let pointer = if error.pointer.is_empty() {
        String::new()
    } else {
        format!(" (at {})", error.pointer)
    };
    anyhow!(
        "{}:{}:{}: {}{pointer}",
        path.display(),
        error.line,
        error.column,
        error.message
    )
}

fn kind(kind: Kind) -> PolicyKind {
    match kind {
        Kind::Trust => PolicyKind::Trust,
        Kind::Identity => PolicyKind::Identity,
    }
}

/// `path:line:column: error[code]: message`, one line per diagnostic.
fn diagnostic_line(path: &Path, d: &Diagnostic) -> String {
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    format!(
        "{}:{}:{}: {severity}[{}]: {}",
        path.display(),
        d.line,
        d.column,
        d.code,
        d.message
    )
}

/// The JSON output of `policy validate`.
#[derive(Debug, Serialize)]
struct ValidateOutput<'a> {
    valid: bool,
    diagnostics: &'a [Diagnostic],
}

fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let text = read(&args.policy, "policy")?;
    let policy = keyless_iam::parse(&text).map_err(|e| located(&args.policy, &e))?;
    let diagnostics = policy.validate(kind(args.kind));
    let valid = !diagnostics.iter().any(|d| d.severity == Severity::Error);
    let output = ValidateOutput {
        valid,
        diagnostics: &diagnostics,
    };
    args.format.print(&output, |output| {
        let mut out = String::new();
        for d in output.diagnostics {
            let _ = writeln!(
                out,
                "{} ({})",
                diagnostic_line(&args.policy, d),
                level_name(d)
            );
        }
        let errors = output
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        if output.valid {
            let _ = writeln!(
                out,
                "{}: IAM would accept this policy ({} warning(s))",
                args.policy.display(),
                output.diagnostics.len()
            );
        } else {
            let _ = writeln!(
                out,
                "{}: IAM would reject this policy ({errors} error(s), {} warning(s))",
                args.policy.display(),
                output.diagnostics.len() - errors
            );
        }
        out
    })?;
    Ok(ExitCode::from(if valid { EXIT_ALLOW } else { EXIT_DENY }))
}

fn level_name(d: &Diagnostic) -> &'static str {
    match d.level {
        keyless_iam::Level::Info => "info",
        keyless_iam::Level::Low => "low",
        keyless_iam::Level::Medium => "medium",
        keyless_iam::Level::High => "high",
    }
}

fn eval(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let policy_text = read(&args.policy, "policy")?;
    let policy = keyless_iam::parse(&policy_text).map_err(|e| located(&args.policy, &e))?;
    let diagnostics = policy.validate(kind(args.kind));
    let errors: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if !errors.is_empty() {
        let mut message = format!(
            "{} is not a valid policy ({} error(s)); AWS would reject it:",
            args.policy.display(),
            errors.len()
        );
        for d in errors {
            let _ = write!(message, "\n  {}", diagnostic_line(&args.policy, d));
        }
        bail!(message);
    }

    let verdict = match &args.request {
        Some(path) => request_verdict(&policy, path)?,
        None => token_verdict(args, &policy)?,
    };
    let additional = verdict.additional_actions();
    let statements = verdict.statements();

    if args.format == Format::Text {
        // JSON carries the diagnostics in the value; text keeps stdout for the decision.
        for d in &diagnostics {
            eprintln!("{}", diagnostic_line(&args.policy, d));
        }
    }
    let output = Output {
        decision: verdict.decision,
        explanation: verdict.explanation.clone(),
        statements,
        additional_actions: additional,
        diagnostics,
        rejection: verdict.rejection.clone(),
        audience: verdict.audience.clone(),
        notes: verdict.notes.clone(),
    };
    args.format.print(&output, |output| {
        render_text(
            &output.explanation,
            &policy,
            verdict.evaluations.first(),
            &output.additional_actions,
        )
    })?;
    Ok(ExitCode::from(if verdict.decision.is_allow() {
        EXIT_ALLOW
    } else {
        EXIT_DENY
    }))
}

fn request_verdict(policy: &PolicyDocument, path: &Path) -> anyhow::Result<Verdict> {
    let text = read(path, "request")?;
    let request = Request::from_json(&text).map_err(|e| located(path, &e))?;
    Ok(Verdict::of_request(policy, &request))
}

/// STS's decision (`keyless_iam::sts::decide`) on the token or claims, with `--provider-arn` as the account's
/// only OIDC provider.
fn token_verdict(args: &EvalArgs, policy: &PolicyDocument) -> anyhow::Result<Verdict> {
    let provider_arn = args
        .provider_arn
        .as_deref()
        .context("--provider-arn is required with --token or --claims")?;
    let arn = ProviderArn::parse(provider_arn).map_err(|e| anyhow!("--provider-arn: {e}"))?;
    let claims = read_claims(args)?;
    let mut assumed = None;
    let client_ids = if args.client_ids.is_empty() {
        let workspace = keyless_oidc::parse_issuer(&arn.issuer()).and_then(|parts| {
            let uuid = claims.get("workspaceUuid")?.as_str()?.parse().ok()?;
            keyless_oidc::WorkspaceRef::with_issuer_base(parts.slug, uuid, parts.base).ok()
        });
        workspace.map(|ws| {
            assumed = Some(format!(
                "assumed the provider's client IDs are the workspace audience `{}` (what Atlassian's setup and keyless \
                 plan create); pass --client-id to give the provider's actual list",
                ws.audience()
            ));
            vec![ws.audience()]
        })
    } else {
        Some(args.client_ids.clone())
    };
    let providers = [sts::Provider::new(arn, client_ids)];
    let mut context = RequestContext::new(args.at.unwrap_or_else(OffsetDateTime::now_utc));
    if let Some(name) = args.role_session_name.as_deref() {
        context = context.role_session_name(name);
    }
    if let Some(ip) = args.source_ip {
        context = context.source_ip(ip);
    }
    Ok(Verdict::of_token(
        &providers, policy, &claims, &context, assumed,
    ))
}

fn read_claims(args: &EvalArgs) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    if let Some(path) = &args.token {
        let token = SecretToken::new(read(path, "token")?);
        return claims_from_token(&token)
            .with_context(|| format!("cannot decode the token in {}", path.display()));
    }
    let Some(path) = &args.claims else {
        bail!("give --request FILE, or --token FILE / --claims FILE with --provider-arn ARN");
    };
    let text = read(path, "claims")?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{}:{}:{}: malformed JSON: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    match value {
        serde_json::Value::Object(map) => Ok(map),
        _ => bail!(
            "{}:1:1: the claims file must be a JSON object (the decoded token payload)",
            path.display()
        ),
    }
}

/// Decodes a JWT's payload without verifying it. base64url is decoded with the `base64` crate rather than
/// keyless-oidc, so this command does not depend on the verifier. Errors never include the token.
fn claims_from_token(
    token: &SecretToken,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let parts: Vec<&str> = token.expose().trim().split('.').collect();
    if parts.len() != 3 {
        bail!(
            "not a JWT: expected three base64url parts separated by `.`, found {}",
            parts.len()
        );
    }
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1].trim_end_matches('='))
        .map_err(|_| anyhow!("the JWT payload (second part) is not base64url"))?;
    match serde_json::from_slice::<serde_json::Value>(&payload) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => bail!("the JWT payload is not a JSON object"),
        Err(_) => bail!("the JWT payload is not JSON"),
    }
}

fn mark(matched: bool) -> &'static str {
    if matched { "match   " } else { "NO MATCH" }
}

fn values(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The explanation sentence, then each statement with each element and condition compared.
fn render_text(
    explanation: &str,
    policy: &PolicyDocument,
    evaluation: Option<&Evaluation>,
    additional: &[ExtraAction],
) -> String {
    let mut out = format!("{explanation}\n");
    for s in evaluation.map_or(&[][..], |e| e.statements.as_slice()) {
        let effect = s.effect.map_or("no valid Effect", |e| match e {
            keyless_iam::Effect::Allow => "Allow",
            keyless_iam::Effect::Deny => "Deny",
        });
        let sid = s
            .sid
            .as_deref()
            .map(|sid| format!(" \"{sid}\""))
            .unwrap_or_default();
        let applies = if s.applies {
            "applies"
        } else {
            "does not apply"
        };
        let _ = writeln!(
            out,
            "\nstatement {}{sid} ({effect}, line {}): {applies}",
            s.index, s.location.line
        );
        if let Some(element) = s.principal.element {
            let _ = writeln!(
                out,
                "  {} {element}: {}",
                mark(s.principal.matched),
                values(&s.principal.values)
            );
        }
        match s.action.element {
            Some(element) => {
                let _ = writeln!(
                    out,
                    "  {} {element}: {}",
                    mark(s.action.matched),
                    values(&s.action.values)
                );
            }
            None => {
                let _ = writeln!(out, "  {} no Action", mark(false));
            }
        }
        for c in &s.conditions {
            let request = c
                .request_values
                .as_deref()
                .map_or_else(|| "(absent)".to_string(), values);
            let _ = writeln!(
                out,
                "  {} {} `{}`: policy {} / request {request}",
                mark(c.matched),
                c.operator,
                c.key,
                values(&c.policy_values)
            );
        }
        for name in &s.unknown_operators {
            let _ = writeln!(out, "  {} unknown operator `{name}`", mark(false));
        }
    }
    for extra in additional {
        let _ = writeln!(
            out,
            "\nalso required: `{}` ({}): {}",
            extra.action, extra.reason, extra.explanation
        );
    }
    if !policy.variables_enabled && policy.version.is_none() {
        let _ = writeln!(
            out,
            "\nnote: the policy has no Version, so `${{...}}` policy variables are literal text"
        );
    }
    out
}
