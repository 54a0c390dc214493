//! The commands that call AWS, against stand-ins: assume, env, credential-process, doctor and every command's
//! secret hygiene (an in-process emulator), apply/check --live and deploy s3 (moto_server). One test binary per
//! area (crates/cli/tests/support/mod.rs says why).

#[path = "../support/mod.rs"]
mod support;

mod apply_moto;
mod assume_e2e;
mod assume_env;
mod deploy;
mod secrets;
mod secrets_all;
