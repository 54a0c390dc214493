//! `keyless deploy s3`: sync a directory to S3 by content and invalidate CloudFront minimally.
//!
//! The pure parts ([`rules`], [`digest`], [`plan`], [`invalidation`], [`remote`]'s state file) decide; the
//! executor ([`exec`]) talks to S3 and CloudFront through the official AWS SDK for Rust.

mod cloudfront;
pub mod digest;
pub mod exec;
pub mod guard;
pub mod invalidation;
pub mod local;
pub mod plan;
pub mod policy;
pub mod remote;
pub mod report;
pub mod rules;

pub use aws_sdk_cloudfront;
pub use aws_sdk_s3;

pub use exec::{Clients, Connection, DeployError, DeployOptions, Progress, Silent, deploy};
pub use report::Report;
