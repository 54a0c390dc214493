//! `keyless doctor [--offline] [--format text|json]`: the step-credentials checklist, ✓/✗ with a fix on
//! every ✗; exit 1 when a check fails.

use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use keyless_credentials::doctor::{self, Check, Report};
use keyless_credentials::{Env, settings, sts, workspace};

use super::assume::{CredentialOptions, now_unix, runtime};
use crate::format::Format;

/// `keyless doctor` arguments.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub options: CredentialOptions,
    /// Skip the live assume and GetCallerIdentity
    #[arg(long)]
    pub offline: bool,
    /// Output format
    #[arg(long, default_value = "text", value_parser = Format::described(
        "checklist for people",
        r#"`{"ok": bool, "checks": [{"id","title","status","detail","fix"}]}`"#,
    ))]
    pub format: Format,
    /// Ask URL which public address this machine's calls come from (the `aws:SourceIp` AWS sees over the
    /// internet: your NAT gateway's address, not the runner's private one) and check it against keyless.yml's
    /// `source_ips`. Opt-in: it contacts URL.
    #[arg(
        long,
        value_name = "URL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = DEFAULT_CHECK_IP_URL
    )]
    pub check_ip: Option<String>,
}

/// How long `--check-ip` waits for its answer.
const CHECK_IP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// AWS's own "what is my address" service: the address its endpoints see.
pub const DEFAULT_CHECK_IP_URL: &str = "https://checkip.amazonaws.com";

/// Asks `url` for this machine's public address (the body is the address, as checkip.amazonaws.com answers).
fn check_ip(url: &str, timeout: std::time::Duration) -> (Check, Option<IpAddr>) {
    const TITLE: &str = "the public address AWS sees (aws:SourceIp)";
    let fetched = runtime().and_then(|rt| {
        rt.block_on(async {
            let client = keyless_net::http::HttpClient::new(
                &keyless_net::http::HttpConfig::from_env().timeout(timeout),
            )
            .context("cannot build an HTTP client")?;
            let response = client
                .send(client.get(url))
                .await
                .with_context(|| format!("cannot reach {url}"))?;
            let status = response.status();
            let text = response
                .text()
                .await
                .with_context(|| format!("reading the answer of {url}"))?;
            if !status.is_success() {
                anyhow::bail!("{url} answered HTTP {}", status.as_u16());
            }
            Ok(text)
        })
    });
    match fetched {
        Err(error) => (
            Check::fail(
                "public-ip",
                TITLE,
                format!("{error:#}"),
                "check this machine's internet access (a proxy? no NAT gateway?), or pass --check-ip=URL of a service that answers with your address",
            ),
            None,
        ),
        Ok(text) => {
            let answer: String = text.trim().chars().take(64).collect();
            match answer.parse::<IpAddr>() {
                Ok(ip) => {
                    let ip = ip.to_canonical();
                    (
                        Check::pass(
                            "public-ip",
                            TITLE,
                            format!(
                                "{ip} (from {url}): a call to STS over the internet arrives with aws:SourceIp {ip}; through an STS VPC endpoint it has no aws:SourceIp"
                            ),
                        ),
                        Some(ip),
                    )
                }
                Err(_) => (
                    Check::fail(
                        "public-ip",
                        TITLE,
                        format!("{url} answered `{answer}`, not an IP address"),
                        "pass --check-ip=URL of a service that answers with your address only (https://checkip.amazonaws.com does)",
                    ),
                    None,
                ),
            }
        }
    }
}

/// Runs `keyless doctor`.
pub fn run(args: DoctorArgs) -> Result<ExitCode> {
    let env = Env::from_process();
    let inputs = args.options.inputs();
    let now = now_unix();
    let (defaults, mut checks) = match args.options.environment_defaults(&env) {
        Ok(defaults) => (defaults, Vec::new()),
        Err(error) => (
            None,
            vec![Check::from_error(
                "keyless-yml",
                "keyless.yml environment",
                &format!("{error:#}"),
            )],
        ),
    };
    checks.extend(doctor::offline_checks(
        &inputs,
        &env,
        defaults.as_ref(),
        now,
    ));
    let resolved = settings::resolve(&inputs, &env, defaults.as_ref(), now);
    let public_ip = match &args.check_ip {
        None => None,
        Some(url) => {
            let (check, ip) = check_ip(url, CHECK_IP_TIMEOUT);
            checks.push(check);
            ip
        }
    };
    if let Ok(settings) = &resolved {
        checks.extend(workspace::network_checks(settings, &env, public_ip));
        checks.extend(workspace::trust_check(settings, &env, public_ip));
    }
    checks.push(if args.offline {
        Check::skip(
            "assume",
            "assume the role and call GetCallerIdentity",
            "--offline",
        )
    } else {
        match &resolved {
            Err(_) => Check::skip(
                "assume",
                "assume the role and call GetCallerIdentity",
                "skipped: fix the failures above first",
            ),
            Ok(settings) => {
                let rt = runtime()?;
                let result = rt.block_on(async {
                    let session = keyless_credentials::assume(settings).await?;
                    let identity = sts::caller_identity(
                        &session,
                        settings.endpoint_url.as_deref(),
                        settings.timeout,
                    )
                    .await?;
                    Ok::<_, keyless_credentials::AssumeError>((session, identity))
                });
                match result {
                    Ok((session, identity)) => Check::pass(
                        "assume",
                        "assume the role and call GetCallerIdentity",
                        format!(
                            "{} (account {}, expires {})",
                            identity.arn,
                            identity.account,
                            session.credentials.expiration_rfc3339()
                        ),
                    ),
                    Err(mut error) => {
                        workspace::annotate(&mut error, settings, &env);
                        Check::from_error(
                            "assume",
                            "assume the role and call GetCallerIdentity",
                            &error,
                        )
                    }
                }
            }
        }
    });
    let report = Report::new(checks);
    args.format.print(&report, Report::render_text)?;
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
