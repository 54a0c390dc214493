//! `keyless policy ...`: evaluate IAM policy documents offline through `keyless-iam`.
//!
//! `keyless policy eval` answers "would AWS allow this request?" for a policy file and either a request file
//! or an OIDC token's claims (built into the exact context AWS gives `sts:AssumeRoleWithWebIdentity`).
//! Exit codes: 0 allow, 1 deny (explicit or implicit), 2 bad input.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use clap::{Args, Subcommand, ValueEnum};
use keyless_iam::web_identity::{self, WebIdentityInput};
use keyless_iam::{
    Decision, Diagnostic, Evaluation, ParseError, PolicyDocument, PolicyKind, Request, Severity,
};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

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
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The policy document (JSON), e.g. a role trust policy.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,

    /// A request file: {"principal": "<ARN or *>", "principal_type": "Federated|AWS|Service",
    /// "action": "...", "context": {"<key>": "<value>" | ["<v1>", "<v2>"]}}.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["token", "claims"],
          conflicts_with_all = ["token", "claims", "provider_arn", "source_ip", "at", "role_session_name"])]
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

    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    Trust,
    Identity,
}

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Eval(args) => eval(&args),
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

/// An OIDC token read from a file. Never printed: `Debug` redacts it.
struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// One action the token needs beyond sts:AssumeRoleWithWebIdentity, and how the policy answers it.
#[derive(Debug, Serialize)]
struct ExtraAction {
    action: String,
    reason: &'static str,
    decision: Decision,
    explanation: String,
}

/// The JSON output: `{"decision", "explanation", "statements", "additional_actions", "diagnostics"}`.
#[derive(Debug, Serialize)]
struct Output<'a> {
    decision: Decision,
    explanation: String,
    statements: &'a [keyless_iam::StatementTrace],
    additional_actions: Vec<ExtraAction>,
    diagnostics: Vec<Diagnostic>,
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

fn eval(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let policy_text = read(&args.policy, "policy")?;
    let policy = keyless_iam::parse(&policy_text).map_err(|e| located(&args.policy, &e))?;
    let kind = match args.kind {
        Kind::Trust => PolicyKind::Trust,
        Kind::Identity => PolicyKind::Identity,
    };
    let diagnostics = policy.validate(kind);
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
            let _ = write!(
                message,
                "\n  {}:{}:{}: error[{}]: {}",
                args.policy.display(),
                d.line,
                d.column,
                d.code,
                d.message
            );
        }
        bail!(message);
    }

    let (request, extra_actions) = build_request(args)?;
    let evaluation = policy.evaluate(&request);
    let mut decision = evaluation.decision;
    let mut explanation = evaluation.explain();
    let mut additional = Vec::new();
    for (action, reason) in extra_actions {
        let extra_request = Request {
            action: action.to_string(),
            ..request.clone()
        };
        let extra = policy.evaluate(&extra_request);
        if decision.is_allow() && !extra.decision.is_allow() {
            decision = extra.decision;
            explanation = format!(
                "DENY: {reason}, so the trust policy must also allow `{action}` — {}",
                strip_verdict(&extra.explain())
            );
        }
        additional.push(ExtraAction {
            action: action.to_string(),
            reason,
            decision: extra.decision,
            explanation: extra.explain(),
        });
    }

    match args.format {
        Format::Json => {
            let output = Output {
                decision,
                explanation,
                statements: &evaluation.statements,
                additional_actions: additional,
                diagnostics,
            };
            println!("{}", serde_json::to_string_pretty(&output)?);
        }
        Format::Text => {
            for d in &diagnostics {
                eprintln!(
                    "{}:{}:{}: warning[{}]: {}",
                    args.policy.display(),
                    d.line,
                    d.column,
                    d.code,
                    d.message
                );
            }
            print!(
                "{}",
                render_text(&explanation, &policy, &evaluation, &additional)
            );
        }
    }
    Ok(ExitCode::from(if decision.is_allow() {
        EXIT_ALLOW
    } else {
        EXIT_DENY
    }))
}

fn strip_verdict(explanation: &str) -> &str {
    explanation
        .split_once(": ")
        .map_or(explanation, |(_, rest)| rest)
}

/// The request, plus the extra actions the token needs (`sts:TagSession`, `sts:SetSourceIdentity`).
fn build_request(args: &EvalArgs) -> anyhow::Result<(Request, Vec<(&'static str, &'static str)>)> {
    if let Some(path) = &args.request {
        let text = read(path, "request")?;
        let request = Request::from_json(&text).map_err(|e| located(path, &e))?;
        return Ok((request, Vec::new()));
    }
    let provider_arn = args
        .provider_arn
        .as_deref()
        .context("--provider-arn is required with --token or --claims")?;
    let claims = if let Some(path) = &args.token {
        let token = Token(read(path, "token")?);
        claims_from_token(&token)
            .with_context(|| format!("cannot decode the token in {}", path.display()))?
    } else if let Some(path) = &args.claims {
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
            serde_json::Value::Object(map) => map,
            _ => bail!(
                "{}:1:1: the claims file must be a JSON object (the decoded token payload)",
                path.display()
            ),
        }
    } else {
        bail!("give --request FILE, or --token FILE / --claims FILE with --provider-arn ARN");
    };
    let input = WebIdentityInput {
        provider_arn,
        claims: &claims,
        source_ip: args.source_ip,
        now: args.at.unwrap_or_else(OffsetDateTime::now_utc),
        role_session_name: args.role_session_name.as_deref(),
    };
    let request = web_identity::request(&input)
        .context("cannot build the AssumeRoleWithWebIdentity request")?;
    let mut extra = Vec::new();
    for action in web_identity::required_extra_actions(&claims) {
        let reason = if action == web_identity::TAG_SESSION {
            "the token carries session tags (https://aws.amazon.com/tags)"
        } else {
            "the token carries a source identity (https://aws.amazon.com/source_identity)"
        };
        extra.push((action, reason));
    }
    Ok((request, extra))
}

/// Decodes a JWT's payload without verifying it. base64url is decoded with the `base64` crate rather than
/// keyless-oidc, so this command does not depend on the verifier. Errors never include the token.
fn claims_from_token(token: &Token) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let parts: Vec<&str> = token.0.trim().split('.').collect();
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
    evaluation: &Evaluation,
    additional: &[ExtraAction],
) -> String {
    let mut out = format!("{explanation}\n");
    for s in &evaluation.statements {
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
