//! The rule trait (a visitor with default methods), rule metadata and the registry of every rule.
//!
//! A rule overrides only the level it needs: a whole pipeline file, one step, one trust policy, or the whole
//! set of audited files (cross-file rules). Rules never print, never choose exit codes and never know formats.

use crate::finding::{Confidence, FindingBuilder, Persona, Severity};
use crate::pipeline::{Pipeline, Step};
use crate::policy::{TrustFile, TrustPolicy};
use crate::workspace::Workspace;

/// What a rule looks at (used for docs and the SARIF rule list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Pipeline,
    TrustPolicy,
    /// What deployment roles may do once assumed: keyless.yml and the permissions written beside trust policies.
    Permissions,
    CrossFile,
    Meta,
}

/// A rule's fixed metadata. `id` is kebab-case and never changes.
#[derive(Debug)]
pub struct RuleMeta {
    pub id: &'static str,
    /// One line, also the default finding message.
    pub summary: &'static str,
    pub severity: Severity,
    pub confidence: Confidence,
    pub persona: Persona,
    pub kind: RuleKind,
    /// Why it matters (docs and SARIF `fullDescription`).
    pub why: &'static str,
    /// How to fix it (docs and SARIF `help`).
    pub fix: &'static str,
    /// Whether `--fix` can repair some findings of this rule.
    pub autofix: bool,
}

impl RuleMeta {
    /// Docs page, relative to the repository root.
    pub fn docs_path(&self) -> String {
        format!("docs/rules/{}.md", self.id)
    }
}

/// Collects the findings a rule reports.
#[derive(Debug, Default)]
pub struct Sink {
    pub(crate) drafts: Vec<FindingBuilder>,
}

impl Sink {
    pub fn push(&mut self, finding: FindingBuilder) {
        self.drafts.push(finding);
    }
}

/// A rule. Every method has a default that reports nothing.
pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;

    /// A fresh finding pre-filled with this rule's defaults.
    fn finding(&self) -> FindingBuilder {
        FindingBuilder::new(self.meta())
    }

    fn check_pipeline(&self, _pipeline: &Pipeline<'_>, _out: &mut Sink) {}
    fn check_step(&self, _step: &Step<'_>, _pipeline: &Pipeline<'_>, _out: &mut Sink) {}
    fn check_policy(&self, _policy: &TrustPolicy<'_>, _out: &mut Sink) {}
    /// Every trust policy and OIDC provider of one file (providers can be checked without a role).
    fn check_trust_file(&self, _file: &TrustFile<'_>, _out: &mut Sink) {}
    fn check_workspace(&self, _workspace: &Workspace<'_>, _out: &mut Sink) {}
    /// An input that could not be read or parsed (see [`crate::Input::read`]); no other method sees it.
    fn check_unreadable(&self, _input: &crate::Input, _error: &crate::InputError, _out: &mut Sink) {
    }
}

/// What every rule file imports.
pub(crate) mod prelude {
    pub use super::{Rule, RuleKind, RuleMeta, Sink};
    pub use crate::analysis;
    pub use crate::finding::{Confidence, Edit, FindingBuilder, Fix, Persona, Severity};
    pub use crate::pipeline::{Pipeline, ScriptItem, Selector, Step, is_automatic};
    pub use crate::policy::{At, TrustFile, TrustPolicy, is_bitbucket, validation};
    pub use crate::shell;
    pub use crate::source::{Node, Route};
    pub use crate::workspace::Workspace;
}

mod admin_permissions;
mod aud_format;
mod broad_permissions;
mod broad_sub;
mod curl_pipe_shell;
mod deploy_on_pull_request;
mod deploy_without_deployment;
mod duplicate_deployment;
mod duplicate_key;
mod environment_without_role;
mod https_in_condition_key;
mod invalid_federated_principal;
mod invalid_input;
mod invalid_pipeline;
mod invalid_trust_policy;
mod issuer_mismatch;
mod long_lived_aws_keys;
mod manual_first_step;
mod missing_aud_condition;
mod missing_sub_condition;
mod oidc_audience_limits;
mod oidc_missing;
mod oidc_on_pull_request;
mod oidc_trust_without_condition;
mod oidc_unneeded;
mod pass_role_any_role;
mod permission_excess;
mod permissions_todo;
mod production_on_cloud_runner;
mod production_without_network_condition;
mod provider_client_id;
mod region_missing;
mod repository_without_role;
mod script_injection;
mod set_operator_on_single_valued_key;
mod source_ip_private_range;
mod source_ip_runtime;
mod source_ip_with_vpc_key;
mod sub_never_matches;
mod sub_without_braces;
mod tls_bypass;
mod token_echo;
mod token_file_append;
mod token_file_permissions;
mod token_in_clone_dir;
mod too_many_steps;
mod trust_policy_size;
mod trust_policy_warning;
mod unknown_step_key;
mod unpinned_image;
mod unpinned_pipe;
mod unresolved_reference;
mod unsupported_claim_key;
pub(crate) mod unused_ignore;
mod wildcard_in_equals;

/// Every rule, in docs order.
pub fn registry() -> &'static [&'static dyn Rule] {
    &[
        // Credentials
        &long_lived_aws_keys::LongLivedAwsKeys,
        &oidc_missing::OidcMissing,
        &oidc_unneeded::OidcUnneeded,
        // Token handling
        &token_echo::TokenEcho,
        &token_in_clone_dir::TokenInCloneDir,
        &token_file_append::TokenFileAppend,
        &token_file_permissions::TokenFilePermissions,
        // Configuration
        &region_missing::RegionMissing,
        // Pinning
        &unpinned_pipe::UnpinnedPipe,
        &unpinned_image::UnpinnedImage,
        // Deployment gating
        &deploy_without_deployment::DeployWithoutDeployment,
        &oidc_on_pull_request::OidcOnPullRequest,
        &deploy_on_pull_request::DeployOnPullRequest,
        &production_on_cloud_runner::ProductionOnCloudRunner,
        &duplicate_deployment::DuplicateDeployment,
        &manual_first_step::ManualFirstStep,
        // Limits
        &invalid_pipeline::InvalidPipeline,
        &invalid_input::InvalidInput,
        &duplicate_key::DuplicateKey,
        &too_many_steps::TooManySteps,
        &unknown_step_key::UnknownStepKey,
        &oidc_audience_limits::OidcAudienceLimits,
        // Script safety
        &script_injection::ScriptInjection,
        &curl_pipe_shell::CurlPipeShell,
        &tls_bypass::TlsBypass,
        // Trust policies
        &invalid_trust_policy::InvalidTrustPolicy,
        &invalid_federated_principal::InvalidFederatedPrincipal,
        &oidc_trust_without_condition::OidcTrustWithoutCondition,
        &missing_aud_condition::MissingAudCondition,
        &missing_sub_condition::MissingSubCondition,
        &broad_sub::BroadSub,
        &set_operator_on_single_valued_key::SetOperatorOnSingleValuedKey,
        &wildcard_in_equals::WildcardInEquals,
        &source_ip_private_range::SourceIpPrivateRange,
        &source_ip_with_vpc_key::SourceIpWithVpcKey,
        &sub_without_braces::SubWithoutBraces,
        &sub_never_matches::SubNeverMatches,
        &aud_format::AudFormat,
        &https_in_condition_key::HttpsInConditionKey,
        &issuer_mismatch::IssuerMismatch,
        &provider_client_id::ProviderClientId,
        &trust_policy_size::TrustPolicySize,
        &unsupported_claim_key::UnsupportedClaimKey,
        &trust_policy_warning::TrustPolicyWarning,
        &unresolved_reference::UnresolvedReference,
        // Permissions
        &admin_permissions::AdminPermissions,
        &broad_permissions::BroadPermissions,
        &pass_role_any_role::PassRoleAnyRole,
        &permissions_todo::PermissionsTodo,
        // Cross-file
        &source_ip_runtime::SourceIpRuntime,
        &production_without_network_condition::ProductionWithoutNetworkCondition,
        &environment_without_role::EnvironmentWithoutRole,
        &repository_without_role::RepositoryWithoutRole,
        // Meta
        &unused_ignore::UnusedIgnore,
    ]
}

/// Looks a rule up by id.
pub fn by_id(id: &str) -> Option<&'static dyn Rule> {
    registry().iter().copied().find(|r| r.meta().id == id)
}
