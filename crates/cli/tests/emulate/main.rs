//! `keyless emulate` driven by real clients (the AWS CLI, boto3, the JavaScript and Rust SDKs, Terraform), and the
//! commands that run against a spawned emulator (apply, permissions, token mint, the seed recipes). One test binary
//! per area (crates/cli/tests/support/mod.rs says why).

#[path = "../support/mod.rs"]
mod support;

mod apply_emulate;
mod emulate_clients;
mod emulate_remote_issuers;
mod network;
mod permissions;
mod seed_recipes;
mod slow_clients;
mod terraform_e2e;
mod terraform_render;
mod token_emulator;
