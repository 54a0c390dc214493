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
pub mod resolve;
pub mod schema;

pub use diagnostic::{Diagnostic, Diagnostics};

pub use load::{LoadError, load, parse, parse_raw, raw_from_tree};
pub use location::{Location, Spanned};
pub use model::{Config, Environment, ExtraRole, Permissions, Repository, Role, Workspace};
pub use plan::{
    AccountPlan, Plan, PlanError, ProviderPlan, RoleKind, RolePlan, plan, plan_unchecked,
};
pub use policy::{Policy, SetupForm};
