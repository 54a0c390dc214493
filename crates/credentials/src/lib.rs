//! Step credentials: everything `keyless assume / env / credential-process / configure / doctor` do, as a library.
//!
//! The flow is: [`settings::resolve`] turns flags and the step's environment into [`Settings`] (or an error that
//! says how to fix the pipeline), [`sts::assume`] exchanges the step's OIDC token for AWS credentials through the
//! official AWS SDK (region always explicit, retries bounded by a total timeout, role chaining, session
//! policies), and every refusal from AWS becomes a [`diagnose::Diagnosis`] that names the likely cause and the
//! fix, using the token's own `iss`, `aud` and `sub`. [`render`] turns credentials into shell/JSON output,
//! [`configure`] writes an AWS config profile, and [`doctor`] is the checklist as data.
//!
//! Nothing in this crate prints; secrets live in [`Secret`], whose `Debug`/`Display` redact.

#![cfg_attr(test, allow(clippy::unwrap_used))]

/// Role and policy ARNs live with the IAM model (one place for ARNs); re-exported for existing callers.
pub use keyless_iam::{arn, duration};
pub mod configure;
pub mod credentials;
pub mod diagnose;
pub mod doctor;
pub mod env;
pub mod ini;
pub mod record;
pub mod render;
pub mod retry;
pub mod secret;
pub mod session_name;
pub mod settings;
pub mod sts;
pub mod tags;
pub mod token;
pub mod workspace;

pub use credentials::{Credentials, Session, SessionAttributes};
pub use env::Env;
pub use secret::Secret;
pub use settings::{Inputs, Settings, SettingsError};
pub use sts::{AssumeError, assume};
