//! `keyless doctor [--offline] [--format text|json]`: the step-credentials checklist, ✓/✗ with a fix on
//! every ✗; exit 1 when a check fails.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use keyless_credentials::doctor::{self, Check, Report};
use keyless_credentials::{Env, settings, sts};

use super::assume::{CredentialOptions, now_unix, runtime};

/// Output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// checklist for people
    Text,
    /// `{"ok": bool, "checks": [{"id","title","status","detail","fix"}]}`
    Json,
}

/// `keyless doctor` arguments.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub options: CredentialOptions,
    /// Skip the live assume and GetCallerIdentity
    #[arg(long)]
    pub offline: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
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
    if let Ok(settings) = &resolved {
        checks.extend(super::assume::trust_check(settings, &env));
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
                        super::assume::annotate(&mut error, settings, &args.options, &env);
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
    match args.format {
        Format::Text => print!("{}", report.render_text()),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
