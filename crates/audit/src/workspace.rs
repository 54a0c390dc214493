//! The context of cross-file rules: every audited pipeline, trust policy and `keyless.yml` at once.

use crate::Input;
use crate::config::AuditConfig;
use crate::keyless::KeylessFile;
use crate::pipeline::Pipeline;
use crate::policy::{ProviderResource, TrustPolicy};

/// All audited inputs, with their views.
#[derive(Debug)]
pub struct Workspace<'a> {
    pub inputs: &'a [Input],
    /// `(input index, view)`.
    pub pipelines: Vec<(usize, Pipeline<'a>)>,
    pub policies: Vec<(usize, TrustPolicy<'a>)>,
    /// `(input index, provider)`: the IAM OIDC providers defined in the audited files.
    pub providers: Vec<(usize, ProviderResource)>,
    /// Every audited keyless.yml with its model (keyless-workspace's, read from the input's tree).
    pub keyless: Vec<KeylessFile<'a>>,
    pub config: &'a AuditConfig,
}
