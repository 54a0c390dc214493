//! One module per top-level command, and the arguments several of them share.

use std::path::PathBuf;

use clap::Args;

pub mod apply;
pub mod assume;
pub mod audit;
pub mod check;
pub mod completions;
pub mod configure;
pub mod connection;
pub mod credential_process;
pub mod demo;
pub mod deploy;
pub mod doctor;
pub mod emulate;
pub mod env;
pub mod init;
pub mod permissions;
pub mod permissions_infer;
pub mod plan;
pub mod policy;
pub mod render;
pub mod resolve;
pub mod serve;
pub mod thumbprint;
pub mod token;

/// `-c/--config FILE`: the workspace file, keyless.yml (`$KEYLESS_CONFIG`, default `./keyless.yml`). A command
/// whose help says more of it keeps its words with `#[command(mut_arg("config", ...))]`.
#[derive(Debug, Clone, Args)]
pub struct WorkspaceFile {
    /// The workspace file.
    #[arg(short, long, env = "KEYLESS_CONFIG", default_value = "keyless.yml")]
    pub config: PathBuf,
}

impl WorkspaceFile {
    /// keyless.yml through keyless-workspace's model (its errors name the file, line and fix).
    pub fn load(&self) -> anyhow::Result<keyless_workspace::Config> {
        Ok(keyless_workspace::load(&self.config)?)
    }
}
