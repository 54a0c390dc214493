//! `keyless demo`: the whole story on one machine, with no AWS account, no Bitbucket, no network and no
//! configuration. Starts the emulator in-process on an ephemeral 127.0.0.1 port, then plans, applies and checks
//! the bundled workspace, assumes roles through STS with minted tokens (allowed and refused), calls
//! GetCallerIdentity, renders a pipeline and audits one with classic mistakes.
//!
//! Output is data first: a [`Report`] is built, then rendered as text or JSON. Exit 1 if any expected outcome
//! did not happen, so the demo doubles as a smoke test.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine as _;
use clap::Args;
use keyless_credentials::{AssumeError, Env, Inputs, Session};
use keyless_emulator::{Config as EmulatorConfig, RunningEmulator};
use keyless_enforce::judge::RenderJudge;
use keyless_net::apply;
use keyless_oidc::{BracedUuid, MintRequest};
use keyless_workspace::matrix::{self, TrustView};
use keyless_workspace::{Config, Plan};
use serde::Serialize;

use crate::format::Format;

/// The bundled workspace: two environments in two accounts, three repositories.
const WORKSPACE: &str = include_str!("../../../../examples/demo/keyless.yml");
const WORKSPACE_NAME: &str = "examples/demo/keyless.yml";
/// A pipeline whose deploy step names only its deployment; render completes it.
const RENDER_PIPELINE: &str = include_str!("../../../../examples/demo/render-pipelines.yml");
/// A pipeline with classic mistakes, for the audit.
const AUDIT_PIPELINE: &str = include_str!("../../../../examples/demo/bitbucket-pipelines.yml");
const AUDIT_NAME: &str = "examples/demo/bitbucket-pipelines.yml";
/// The audience GitHub Actions tokens carry, often copied into Bitbucket setups.
const GITHUB_AUDIENCE: &str = "sts.amazonaws.com";
/// Signing region for IAM and STS in the emulator.
const REGION: &str = "eu-west-1";
const BUDGET: Duration = Duration::from_secs(10);

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "text", value_parser = Format::described(
        "Narrated steps for a person",
        r#"`{"steps": [...], "scenarios": [...], "ok": bool}` for a script"#,
    ))]
    pub format: Format,
}

/// One step of the demo (a frozen JSON contract: `name`, `ok`, plus `summary` and `lines`).
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    pub ok: bool,
    /// The one-sentence narration.
    pub summary: String,
    /// Details shown under the sentence.
    pub lines: Vec<String>,
    /// Skipped steps do not count as failures.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Allow,
    Deny,
}

/// One STS scenario (a frozen JSON contract).
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub name: String,
    pub expected: Outcome,
    pub actual: Outcome,
    /// The assumed-role ARN on allow; AWS's error and keyless's diagnosis on deny.
    pub detail: String,
}

/// The whole demo.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub steps: Vec<Step>,
    pub scenarios: Vec<Scenario>,
    pub ok: bool,
    /// Wall time of the demo, milliseconds.
    pub elapsed_ms: u128,
    pub next: Vec<String>,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let runtime = crate::runtime::concurrent(Some(2))?;
    let mut report = runtime.block_on(demo())?;
    report.elapsed_ms = started.elapsed().as_millis();
    args.format.print(&report, text)?;
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn step(name: &str, ok: bool, summary: String, lines: Vec<String>) -> Step {
    Step {
        name: name.to_owned(),
        ok,
        summary,
        lines,
        skipped: false,
    }
}

/// Runs every step against a fresh in-process emulator.
pub async fn demo() -> anyhow::Result<Report> {
    let config = keyless_workspace::parse(WORKSPACE, WORKSPACE_NAME)
        .map_err(|e| anyhow::anyhow!("the bundled workspace is invalid: {e}"))?;
    let mut steps = Vec::new();

    // 1. plan
    let plan = keyless_workspace::plan(&config).context("planning the bundled workspace")?;
    let roles: usize = plan.accounts.iter().map(|a| a.roles.len()).sum();
    let mut lines = Vec::new();
    for account in &plan.accounts {
        lines.push(format!(
            "account {}: OIDC provider {}",
            account.account, account.provider.arn
        ));
        for role in &account.roles {
            lines.push(format!(
                "  role {} trusts {}",
                role.arn,
                role.subjects.join(", ")
            ));
        }
    }
    steps.push(step(
        "plan",
        roles > 0,
        format!(
            "keyless plan turns {WORKSPACE_NAME} into {} OIDC provider(s) and {roles} role(s) whose trust names exact repositories and deployment environments.",
            plan.accounts.len()
        ),
        lines,
    ));

    // The emulator: one in-memory AWS per account, an OIDC issuer, on an ephemeral port.
    let accounts: Vec<String> = plan.accounts.iter().map(|a| a.account.clone()).collect();
    let emulator = start_emulator(&accounts).await?;

    // 2. apply
    steps.push(apply(&emulator, &plan).await);

    // 3. check
    steps.push(check(&config, &plan));

    // 4. scenarios through STS, 5. GetCallerIdentity
    let (scenarios, sessions) = scenarios(&emulator, &config, &plan).await?;
    let allowed = scenarios
        .iter()
        .filter(|s| s.actual == Outcome::Allow)
        .count();
    let as_expected = scenarios.iter().all(|s| s.expected == s.actual);
    steps.push(step(
        "assume",
        as_expected,
        format!(
            "Minted Bitbucket tokens for {} scenarios and called AssumeRoleWithWebIdentity: {allowed} allowed, {} refused{}.",
            scenarios.len(),
            scenarios.len() - allowed,
            if as_expected { ", each as intended" } else { ", NOT as intended" }
        ),
        Vec::new(),
    ));
    steps.push(whoami(&emulator, &sessions).await);
    emulator.shutdown().await;

    // 6. render, 7. audit
    steps.push(render());
    steps.push(audit());

    let ok = steps.iter().all(|s| s.ok || s.skipped) && as_expected;
    Ok(Report {
        steps,
        scenarios,
        ok,
        elapsed_ms: 0,
        next: vec![
            "keyless init                      # a commented starter keyless.yml".to_owned(),
            "keyless plan                      # the providers and roles it needs".to_owned(),
            "keyless check                     # who can assume which role".to_owned(),
            "keyless apply --dry-run           # what would change in IAM".to_owned(),
            "keyless audit .                   # your bitbucket-pipelines.yml and trust policies"
                .to_owned(),
            "keyless render --branch main      # your pipeline under keyless.yml's policy"
                .to_owned(),
            "keyless emulate                   # this demo's AWS and issuer, for your own tests"
                .to_owned(),
        ],
    })
}

async fn start_emulator(accounts: &[String]) -> anyhow::Result<RunningEmulator> {
    let config = EmulatorConfig {
        accounts: accounts.to_vec(),
        ..EmulatorConfig::local()
    };
    keyless_emulator::Emulator::start(config)
        .await
        .context("cannot start the in-process emulator")
}

/// An IAM client with the emulator's admin credentials for `account`.
fn iam_client(emulator: &RunningEmulator, account: &str) -> anyhow::Result<aws_sdk_iam::Client> {
    let creds = emulator
        .accounts
        .get(account)
        .with_context(|| format!("the emulator has no account {account}"))?;
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new(REGION))
        .endpoint_url(&emulator.endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.expose().to_owned(),
            None,
            None,
            "keyless-demo",
        ))
        .build();
    Ok(aws_sdk_iam::Client::from_conf(config))
}

async fn apply(emulator: &RunningEmulator, plan: &Plan) -> Step {
    match apply_inner(emulator, plan).await {
        Ok((lines, total, again)) => step(
            "apply",
            again == 0,
            format!(
                "keyless apply made {total} change(s) in the emulator's IAM (listening on {}); applying again finds {again}.",
                emulator.endpoint
            ),
            lines,
        ),
        Err(error) => step(
            "apply",
            false,
            "keyless apply failed against the emulator.".to_owned(),
            vec![format!("{error:#}")],
        ),
    }
}

async fn apply_inner(
    emulator: &RunningEmulator,
    plan: &Plan,
) -> anyhow::Result<(Vec<String>, usize, usize)> {
    let targets = || -> anyhow::Result<Vec<apply::Target<'_>>> {
        plan.accounts
            .iter()
            .map(|account| {
                Ok(apply::Target {
                    account,
                    client: iam_client(emulator, &account.account)?,
                })
            })
            .collect()
    };
    let pending = apply::prepare(plan, targets()?, false).await?;
    let report = pending.report(apply::Outcome::Applied);
    let lines = report
        .accounts
        .iter()
        .flat_map(|account| {
            account.changes.iter().filter_map(|change| {
                let first = change.summary.lines().next()?;
                Some(format!("account {}: {first}", account.account))
            })
        })
        .collect();
    let total = pending.execute().await?;
    let again = apply::prepare(plan, targets()?, false).await?.total();
    Ok((lines, total, again))
}

fn check(config: &Config, plan: &Plan) -> Step {
    // The trust policies just applied are the plan's (apply verified that no drift remains).
    let view = TrustView::from_plan(plan);
    // The pipeline layer is the enforce engine itself: each scenario's step rendered as keyless render would.
    let judge = RenderJudge::new(config.clone());
    let matrix = matrix::build(config, &view, Some(&judge), time::OffsetDateTime::now_utc());
    let intended = matrix.scenarios.iter().filter(|s| s.intended).count();
    let missing = matrix.missing().count();
    // AWS never sees the branch (`sub` has none): a disallowed branch reaching a role its allowed branches may
    // assume is stopped by the pipeline layer (`keyless render` refuses the step). Anything unintended is a hole.
    let blocked = matrix
        .scenarios
        .iter()
        .filter(|s| {
            s.aws == matrix::AwsVerdict::Allow
                && s.pipeline == matrix::PipelineVerdict::Deny
                && !s.intended
        })
        .count();
    let holes: Vec<_> = matrix.unintended().collect();
    let mut lines = vec![format!(
        "{} scenario(s): {intended} intended and allowed, {missing} intended but refused, {blocked} allowed by AWS but blocked by the pipeline layer (a branch AWS cannot see; keyless render refuses the step), {} unintended path(s)",
        matrix.scenarios.len(),
        holes.len(),
    )];
    for hole in &holes {
        lines.push(format!(
            "  hole: {}",
            keyless_workspace::report::describe(hole)
        ));
    }
    // What each role can then do (issue 22): the example carries inferred permissions, no admin policy.
    let can_then_do: Vec<String> = matrix
        .roles
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.role.rsplit('/').next().unwrap_or(&r.role),
                r.can_then_do
            )
        })
        .collect();
    lines.push(format!("can then do: {}", can_then_do.join(", ")));
    step(
        "check",
        missing == 0 && holes.is_empty(),
        format!(
            "keyless check proves who can assume which role, AWS and pipeline layers together: every intended path works and {} unintended path(s) exist.",
            holes.len()
        ),
        lines,
    )
}

/// A token scenario: who mints, which role, what should happen.
struct Plot {
    name: &'static str,
    repository: &'static str,
    deployment: Option<&'static str>,
    branch: &'static str,
    role_env: &'static str,
    github_audience: bool,
    /// The public address AWS sees the runner's call come from (`aws:SourceIp`): the emulator plays it with
    /// [`keyless_emulator::Emulator::set_default_network`], as `keyless emulate --source-ip` does.
    source_ip: &'static str,
    expected: Outcome,
}

/// Inside production's `source_ips` (203.0.113.0/24, its runners' NAT gateway).
const INSIDE: &str = "203.0.113.10";
/// A public address outside every `source_ips` block.
const OUTSIDE: &str = "198.51.100.7";

const PLOTS: &[Plot] = &[
    Plot {
        name: "web-frontend deploys to production from main on a runner egressing from 203.0.113.10",
        repository: "web-frontend",
        deployment: Some("production"),
        branch: "main",
        role_env: "production",
        github_audience: false,
        source_ip: INSIDE,
        expected: Outcome::Allow,
    },
    Plot {
        name: "web-frontend deploys to production from main on a runner outside its network (198.51.100.7)",
        repository: "web-frontend",
        deployment: Some("production"),
        branch: "main",
        role_env: "production",
        github_audience: false,
        source_ip: OUTSIDE,
        expected: Outcome::Deny,
    },
    Plot {
        name: "orders-api deploys to staging from release/2.4",
        repository: "orders-api",
        deployment: Some("staging"),
        branch: "release/2.4",
        role_env: "staging",
        github_audience: false,
        source_ip: OUTSIDE,
        expected: Outcome::Allow,
    },
    Plot {
        name: "web-frontend feature branch step without a deployment tries production",
        repository: "web-frontend",
        deployment: None,
        branch: "feature/login",
        role_env: "production",
        github_audience: false,
        source_ip: INSIDE,
        expected: Outcome::Deny,
    },
    Plot {
        name: "data-sandbox (never production) tries production",
        repository: "data-sandbox",
        deployment: Some("staging"),
        branch: "main",
        role_env: "production",
        github_audience: false,
        source_ip: INSIDE,
        expected: Outcome::Deny,
    },
    Plot {
        name: "a token with GitHub's audience sts.amazonaws.com tries staging",
        repository: "web-frontend",
        deployment: Some("staging"),
        branch: "main",
        role_env: "staging",
        github_audience: true,
        source_ip: OUTSIDE,
        expected: Outcome::Deny,
    },
];

fn environment_role<'a>(
    plan: &'a Plan,
    environment: &str,
) -> Option<&'a keyless_workspace::RolePlan> {
    plan.accounts.iter().flat_map(|a| &a.roles).find(|r| {
        matches!(&r.kind, keyless_workspace::RoleKind::Environment { environment: e } if e == environment)
    })
}

fn uuid(text: &str) -> anyhow::Result<BracedUuid> {
    text.parse()
        .map_err(|e| anyhow::anyhow!("bad UUID `{text}` in the bundled workspace: {e}"))
}

async fn scenarios(
    emulator: &RunningEmulator,
    config: &Config,
    plan: &Plan,
) -> anyhow::Result<(Vec<Scenario>, Vec<Session>)> {
    let mut out = Vec::new();
    let mut sessions = Vec::new();
    for (index, plot) in PLOTS.iter().enumerate() {
        let repository = config.repositories.get(plot.repository).with_context(|| {
            format!(
                "the bundled workspace has no repository {}",
                plot.repository
            )
        })?;
        let deployment_uuid = match plot.deployment {
            Some(env) => Some(uuid(
                repository
                    .deployments
                    .get(env)
                    .and_then(Option::as_deref)
                    .with_context(|| format!("{} has no {env} deployment UUID", plot.repository))?,
            )?),
            None => None,
        };
        let request = MintRequest {
            workspace: config.workspace.slug.clone(),
            workspace_uuid: uuid(&config.workspace.uuid)?,
            repository_uuid: uuid(&repository.uuid)?,
            deployment_uuid,
            branch: Some(plot.branch.to_owned()),
            step_uuid: None,
            pipeline_uuid: None,
            audiences: None,
            lifetime_seconds: None,
            issued_at: None,
        };
        let mut token = emulator
            .mint(&request)
            .map_err(|e| anyhow::anyhow!("minting a token: {e}"))?
            .token;
        if plot.github_audience {
            token = with_audience(
                emulator,
                &config.workspace.slug,
                token.expose(),
                GITHUB_AUDIENCE,
            )?;
        }
        let role = environment_role(plan, plot.role_env)
            .with_context(|| format!("the plan has no {} role", plot.role_env))?;
        let env = Env::from_pairs([
            (keyless_credentials::settings::TOKEN_ENV, token.expose()),
            ("AWS_ROLE_ARN", role.arn.as_str()),
            ("AWS_REGION", role.region.as_str()),
            ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
        ]);
        let inputs = Inputs {
            session_name: Some(format!("keyless-demo-{}", index + 1)),
            ..Inputs::default()
        };
        let source_ip: std::net::IpAddr = plot.source_ip.parse().with_context(|| {
            format!(
                "bad address `{}` in scenario `{}`",
                plot.source_ip, plot.name
            )
        })?;
        emulator
            .emulator()
            .set_default_network(Some(keyless_iam::network::Network::Internet { source_ip }));
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let settings = keyless_credentials::settings::resolve(&inputs, &env, None, now)
            .map_err(|e| anyhow::anyhow!("preparing the assume for `{}`: {e}", plot.name))?;
        let (actual, detail) = match keyless_credentials::assume(&settings).await {
            Ok(session) => {
                let detail = format!(
                    "assumed {} (access key {})",
                    session.assumed_role_arn(),
                    truncate_key(&session.credentials.access_key_id)
                );
                sessions.push(session);
                (Outcome::Allow, detail)
            }
            Err(AssumeError::Rejected(rejection)) => (
                Outcome::Deny,
                format!(
                    "AWS: {}: {} | keyless: {} Fix: {}",
                    rejection.code,
                    rejection.message,
                    rejection.diagnosis.cause,
                    rejection.diagnosis.fix
                ),
            ),
            Err(other) => {
                return Err(anyhow::Error::from(other).context(format!("scenario `{}`", plot.name)));
            }
        };
        out.push(Scenario {
            name: plot.name.to_owned(),
            expected: plot.expected,
            actual,
            detail: format!("{} → {}: {detail}", role.arn, outcome_word(actual)),
        });
    }
    Ok((out, sessions))
}

fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allow => "allowed",
        Outcome::Deny => "refused",
    }
}

/// `AKIA…`/`ASIA…` keys shown as their first 8 characters only.
fn truncate_key(key: &str) -> String {
    format!("{}…", key.chars().take(8).collect::<String>())
}

/// The same claims re-signed with `aud` replaced, as a GitHub-minded setup would send.
fn with_audience(
    emulator: &RunningEmulator,
    workspace: &str,
    token: &str,
    audience: &str,
) -> anyhow::Result<keyless_oidc::SecretToken> {
    let payload = token
        .split('.')
        .nth(1)
        .context("the minted token is not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .context("the minted token's payload is not base64url")?;
    let mut claims: serde_json::Value =
        serde_json::from_slice(&bytes).context("the minted token's payload is not JSON")?;
    claims["aud"] = serde_json::Value::String(audience.to_owned());
    emulator
        .emulator()
        .sign_raw(workspace, None, &claims)
        .map_err(|e| anyhow::anyhow!("re-signing the token: {e}"))
}

async fn whoami(emulator: &RunningEmulator, sessions: &[Session]) -> Step {
    let mut lines = Vec::new();
    let mut ok = !sessions.is_empty();
    for session in sessions {
        match keyless_credentials::sts::caller_identity(session, Some(&emulator.endpoint), BUDGET)
            .await
        {
            Ok(identity) => lines.push(format!(
                "account {}: {} (user id {})",
                identity.account, identity.arn, identity.user_id
            )),
            Err(error) => {
                ok = false;
                lines.push(format!("GetCallerIdentity failed: {error}"));
            }
        }
    }
    step(
        "caller-identity",
        ok,
        format!(
            "GetCallerIdentity with the {} set(s) of temporary credentials shows who AWS thinks the step is.",
            sessions.len()
        ),
        lines,
    )
}

fn render() -> Step {
    let invocation: keyless_enforce::Invocation =
        keyless_pipelines::Target::Branch("main".to_owned()).into();
    let result = keyless_enforce::EnforceConfig::from_yaml(WORKSPACE, WORKSPACE_NAME)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .and_then(|config| {
            let file = keyless_pipelines::parse(RENDER_PIPELINE)
                .map_err(|e| anyhow::anyhow!("examples/demo/render-pipelines.yml:{e}"))?;
            Ok(keyless_enforce::render(&config, file, &invocation))
        });
    match result {
        Ok(Ok(rendered)) => {
            let mut lines: Vec<String> = rendered
                .changes
                .iter()
                .map(|c| format!("[{}] {}: {}", c.rule, c.route, c.message))
                .collect();
            lines.push("rendered pipeline:".to_owned());
            lines.extend(
                rendered
                    .file
                    .to_yaml_string()
                    .lines()
                    .map(|l| format!("  {l}")),
            );
            step(
                "render",
                !rendered.changes.is_empty(),
                format!(
                    "keyless render --branch main --explain rewrote a deploy step that names only `deployment: production` with {} change(s) from keyless.yml's policy.",
                    rendered.changes.len()
                ),
                lines,
            )
        }
        Ok(Err(rejection)) => step(
            "render",
            false,
            "keyless render rejected the sample pipeline.".to_owned(),
            vec![format!(
                "rejected: {} (rule {}, at {})",
                rejection.message, rejection.rule, rejection.route
            )],
        ),
        Err(error) => step(
            "render",
            false,
            "keyless render could not run.".to_owned(),
            vec![format!("{error:#}")],
        ),
    }
}

fn audit() -> Step {
    let input = match keyless_audit::Input::parse(AUDIT_NAME, AUDIT_PIPELINE) {
        Ok(input) => input,
        Err(error) => {
            return step(
                "audit",
                false,
                "keyless audit could not parse the sample pipeline.".to_owned(),
                vec![error.to_string()],
            );
        }
    };
    let auditor = keyless_audit::Auditor::new(
        keyless_audit::AuditConfig::default(),
        keyless_audit::Options::default(),
    );
    let report = auditor.audit(&[input]);
    let lines = report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{} {} [{}] {}",
                f.location.path, f.location.line, f.location.column, f.severity, f.rule, f.message
            )
        })
        .collect();
    step(
        "audit",
        !report.findings.is_empty(),
        format!(
            "keyless audit found {} problem(s) in a pipeline with classic mistakes.",
            report.findings.len()
        ),
        lines,
    )
}

fn text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "keyless demo: the whole story on this machine, no AWS account, no network.\n"
    );
    for (index, step) in report.steps.iter().enumerate() {
        let mark = if step.skipped {
            "skipped"
        } else if step.ok {
            "ok"
        } else {
            "FAILED"
        };
        let _ = writeln!(out, "{}. [{mark}] {}", index + 1, step.summary);
        for line in &step.lines {
            let _ = writeln!(out, "     {line}");
        }
        if step.name == "assume" {
            for scenario in &report.scenarios {
                let verdict = if scenario.expected == scenario.actual {
                    "as expected"
                } else {
                    "UNEXPECTED"
                };
                let _ = writeln!(
                    out,
                    "     - {}: expected {}, {} ({verdict})\n         {}",
                    scenario.name,
                    match scenario.expected {
                        Outcome::Allow => "allow",
                        Outcome::Deny => "deny",
                    },
                    outcome_word(scenario.actual),
                    scenario.detail
                );
            }
        }
        out.push('\n');
    }
    let failed = report.steps.iter().filter(|s| !s.ok && !s.skipped).count()
        + report
            .scenarios
            .iter()
            .filter(|s| s.expected != s.actual)
            .count();
    if report.ok {
        let _ = writeln!(
            out,
            "All {} steps and {} scenarios behaved as intended ({:.1} s).",
            report.steps.len(),
            report.scenarios.len(),
            report.elapsed_ms as f64 / 1000.0
        );
    } else {
        let _ = writeln!(
            out,
            "{failed} expected outcome(s) did not happen ({:.1} s).",
            report.elapsed_ms as f64 / 1000.0
        );
    }
    let _ = writeln!(out, "\nNext, on your own workspace:");
    for next in &report.next {
        let _ = writeln!(out, "  {next}");
    }
    out
}
