//! The IAM policy `keyless deploy s3` needs for one set of flags (`--print-policy`): the table of this crate's calls
//! and their actions lives beside the inference that uses it, in `keyless_workspace::infer::deploy_s3` (pure, so
//! `keyless permissions infer` needs no AWS SDK). When [`crate::exec`] gains or drops an S3 or CloudFront call,
//! change that table too.

pub use keyless_workspace::infer::deploy_s3::{PolicyRequest, document, statements};
