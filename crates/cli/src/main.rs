//! The `keyless` binary: parses arguments, calls the library crates, renders results, chooses exit codes.
//!
//! Each command lives in `cmd/<name>.rs` and returns an [`ExitCode`]; errors bubble up as `anyhow::Error` and
//! are printed once, here, with their context chain.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod format;
mod runtime;

/// mimalloc instead of the system allocator: keyless allocates many small, short-lived values (YAML trees, routes,
/// JSON) and glibc malloc was about a third of the CPU samples of `keyless audit` and `keyless render`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keyless, provably least-privilege deployments from Bitbucket Pipelines to AWS.
#[derive(Debug, Parser)]
#[command(name = "keyless", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a commented starter keyless.yml.
    Init(cmd::init::InitArgs),
    /// Show the IAM OIDC providers and roles keyless.yml needs, or write them as CloudFormation/Terraform/JSON.
    Plan(cmd::plan::PlanArgs),
    /// Create or update the plan in IAM (shows the diff first; never deletes without --prune).
    Apply(cmd::apply::ApplyArgs),
    /// Prove who can assume which role; exit 1 if any unintended path exists.
    Check(cmd::check::CheckArgs),
    /// Fill missing workspace, repository and deployment-environment UUIDs in keyless.yml from Bitbucket.
    Resolve(cmd::resolve::ResolveArgs),
    /// Print the IAM OIDC provider thumbprints of an issuer: SHA-1 of the last certificate its JWKS host (and its
    /// discovery host, when another) presents.
    Thumbprint(cmd::thumbprint::ThumbprintArgs),
    /// Audit bitbucket-pipelines.yml, trust policies and keyless.yml for OIDC and pipeline security problems.
    Audit(cmd::audit::AuditArgs),
    /// Run a command with the step's AWS credentials (OIDC web identity) in its environment.
    Assume(cmd::assume::AssumeArgs),
    /// Print the step's AWS credentials as variables: eval "$(keyless env)".
    Env(cmd::env::EnvArgs),
    /// Print credentials as `credential_process` JSON (Version 1) for an AWS config profile.
    CredentialProcess(cmd::credential_process::CredentialProcessArgs),
    /// Write the token to a private file and an AWS config profile that assumes the role by itself.
    Configure(cmd::configure::ConfigureArgs),
    /// Check everything step credentials need, with a fix for each failure.
    Doctor(cmd::doctor::DoctorArgs),
    /// Work with IAM policy documents: evaluate a request against a trust policy, like AWS would.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
    /// What each role may do: infer its IAM permissions from the pipelines, record the calls its steps make, and
    /// prove its policy against them.
    #[command(subcommand)]
    Permissions(cmd::permissions::PermissionsCommand),
    /// Deploy a built site: sync to S3 by content, invalidate CloudFront.
    #[command(subcommand)]
    Deploy(cmd::deploy::DeployCommand),
    /// Bitbucket Pipelines OIDC tokens: mint one from `keyless emulate`, or decode one to see its claims.
    #[command(subcommand)]
    Token(cmd::token::TokenCommand),
    /// Render bitbucket-pipelines.yml under keyless.yml's policy (the Dynamic Pipelines provider, offline); exit 1 if rejected.
    Render(cmd::render::RenderArgs),
    /// Serve the Dynamic Pipelines provider over HTTP for a Forge Remote endpoint; SIGHUP reloads keyless.yml.
    Serve(cmd::serve::ServeArgs),
    /// Run a local Bitbucket OIDC issuer plus an AWS STS/IAM that enforces trust like AWS.
    Emulate(cmd::emulate::EmulateArgs),
    /// The whole story in seconds, offline: plan, apply and check a sample workspace against an in-process
    /// emulator, assume roles (allowed and refused), render and audit sample pipelines.
    Demo(cmd::demo::DemoArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(cmd::completions::CompletionsArgs),
}

/// Exit code for bad input (unreadable or invalid files, bad arguments).
pub const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => cmd::init::run(args),
        Command::Plan(args) => cmd::plan::run(args),
        Command::Apply(args) => cmd::apply::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Resolve(args) => cmd::resolve::run(args),
        Command::Thumbprint(args) => cmd::thumbprint::run(args),
        Command::Audit(args) => cmd::audit::run(args),
        Command::Assume(args) => cmd::assume::run(args),
        Command::Env(args) => cmd::env::run(args),
        Command::CredentialProcess(args) => cmd::credential_process::run(args),
        Command::Configure(args) => cmd::configure::run(args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Policy(command) => cmd::policy::run(command),
        Command::Permissions(command) => cmd::permissions::run(command),
        Command::Deploy(command) => cmd::deploy::run(command),
        Command::Token(command) => cmd::token::run(command),
        Command::Emulate(args) => cmd::emulate::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Completions(args) => cmd::completions::run(args),
        Command::Render(args) => cmd::render::run(args),
        Command::Serve(args) => cmd::serve::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            let text = format!("{error:#}");
            // File diagnostics (keyless.yml) already render rustc-style with their own `error:` lines.
            if text.starts_with("error: ") || text.starts_with("error[") {
                eprintln!("{}", text.trim_end());
            } else {
                eprintln!("error: {text}");
            }
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
