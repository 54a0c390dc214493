//! The commands that need no AWS stand-in: audit, check, demo, init, permissions infer, plan, policy eval, render,
//! resolve and thumbprint (against local stubs), serve, token. One test binary per area
//! (crates/cli/tests/support/mod.rs says why).

#[path = "../support/mod.rs"]
mod support;

mod audit;
mod check;
mod demo;
mod init;
mod permissions_infer;
mod plan;
mod policy_eval;
mod render;
mod resolve;
mod serve;
mod thumbprint;
mod token;
