//! `admin-permissions`: a deployment role with administrator permissions (`AdministratorAccess`, `IAMFullAccess`,
//! `"Action": "*"`, `iam:*`, or a `NotAction` that leaves IAM's policy writes in).

use keyless_iam::privilege::ExcessKind;

use super::permission_excess;
use super::prelude::*;

pub struct AdminPermissions;

static META: RuleMeta = RuleMeta {
    id: "admin-permissions",
    summary: "a deployment role has administrator permissions",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Permissions,
    why: "Whoever runs a step that can assume the role can then do anything in the account: a compromised \
          dependency, a malicious pull request that reaches a deployment step, a leaked token. IAM write access \
          (`IAMFullAccess`, `iam:*`) is the same as administrator: the role can attach `AdministratorAccess` to \
          itself. A deployment needs the few actions its steps call on its own resources (article 003: \"the \
          minimum permissions it needs to deploy a single code base\").",
    fix: "Replace the policy with the actions and resources the pipeline uses: `keyless permissions infer -c \
          keyless.yml` derives them from the pipeline's steps (`keyless deploy s3`, AWS CLI commands, Atlassian \
          pipes, `cdk deploy`), `keyless assume --record` records what a run really calls, and `keyless check` shows \
          the result in its \"can then do\" column (docs/permissions.md).",
    autofix: false,
};

const KINDS: &[ExcessKind] = &[ExcessKind::AdminPolicy, ExcessKind::AllActions];

impl Rule for AdminPermissions {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        permission_excess::check_policy(self, KINDS, "administrator permissions", policy, out);
    }

    fn check_workspace(&self, ws: &Workspace<'_>, out: &mut Sink) {
        permission_excess::check_workspace(self, KINDS, "administrator permissions", ws, out);
    }
}
