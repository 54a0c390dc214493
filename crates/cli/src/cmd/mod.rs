//! One module per top-level command.

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
