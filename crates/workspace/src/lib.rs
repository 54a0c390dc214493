//! `keyless.yml`: the workspace trust model. Loads and validates the file (errors with line, column and fix),
//! derives the trust plan (one IAM OIDC provider and one role per environment, per account), renders it as
//! CloudFormation, Terraform or JSON, and builds the who-can-assume-what matrix that `keyless check` prints.
//!
//! ```no_run
//! let config = keyless_workspace::load(std::path::Path::new("keyless.yml"))?;
//! let plan = keyless_workspace::plan(&config)?;
//! for account in &plan.accounts {
//!     println!("{}: {} roles", account.account, account.roles.len());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod diagnostic;
pub mod diff;
pub mod glob;
pub mod infer;
pub mod init;
#[cfg(feature = "live")]
pub mod live;
pub mod load;
pub mod location;
pub mod matrix;
pub mod model;
pub mod permissions;
pub mod permissions_check;
pub mod plan;
pub mod policy;
pub mod raw;
pub mod render;
pub mod report;
#[cfg(feature = "live")]
pub mod resolve;
pub mod schema;
#[cfg(feature = "live")]
pub mod thumbprint;

pub use diagnostic::{Diagnostic, Diagnostics};

/// An error and its sources, `: `-separated, each said once. reqwest's Display hides the cause ("error sending
/// request") and the AWS SDK's `DisplayErrorContext` appends a `Debug` dump; the chain names the cause (refused,
/// certificate, empty credential chain...) in words.
#[cfg(feature = "live")]
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
pub use load::{LoadError, load, parse, parse_raw, raw_from_tree};
pub use location::{Location, Spanned};
pub use model::{Config, Environment, ExtraRole, Permissions, Repository, Role, Workspace};
pub use plan::{
    AccountPlan, Plan, PlanError, ProviderPlan, RoleKind, RolePlan, plan, plan_unchecked,
};
pub use policy::{Policy, SetupForm};
