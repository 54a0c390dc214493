//! The context of cross-file rules: every audited pipeline, trust policy and `keyless.yml` at once.

use crate::Input;
use crate::config::AuditConfig;
use crate::pipeline::Pipeline;
use crate::policy::{ProviderResource, TrustPolicy};
use crate::source::Document;

/// All audited inputs, with their views.
#[derive(Debug)]
pub struct Workspace<'a> {
    pub inputs: &'a [Input],
    /// `(input index, view)`.
    pub pipelines: Vec<(usize, Pipeline<'a>)>,
    pub policies: Vec<(usize, TrustPolicy<'a>)>,
    /// `(input index, provider)`: the IAM OIDC providers defined in the audited files.
    pub providers: Vec<(usize, ProviderResource)>,
    pub keyless: Vec<(usize, &'a Document)>,
    pub config: &'a AuditConfig,
}
