//! One module per top-level command.

pub mod assume;
pub mod audit;
pub mod configure;
pub mod credential_process;
pub mod doctor;
pub mod emulate;
pub mod env;
pub mod policy;
pub mod token;
