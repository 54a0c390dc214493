//! `broad-permissions`: a deployment role with broad permissions: `PowerUserAccess` and other broad AWS managed
//! policies, a service-wide wildcard (`s3:*`), `"Resource": "*"` on actions that have resource-level permissions,
//! or an allowed `NotAction`/`NotResource`.

use keyless_iam::privilege::ExcessKind;

use super::permission_excess;
use super::prelude::*;

pub struct BroadPermissions;

static META: RuleMeta = RuleMeta {
    id: "broad-permissions",
    summary: "a deployment role has broad permissions",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    persona: Persona::Regular,
    kind: RuleKind::Permissions,
    why: "A deployment touches a few resources of a few services. `PowerUserAccess` (every service but IAM), a \
          service-wide wildcard such as `s3:*`, or `\"Resource\": \"*\"` on `s3:PutObject` let whoever runs the step \
          read, change or delete every bucket, function or table of the account, not only the application's. \
          `\"Resource\": \"*\"` is not reported on actions that have no resource-level permissions (such as \
          `sts:GetCallerIdentity`), where it is the only way to write them.",
    fix: "Name the actions and the resources: `keyless permissions infer -c keyless.yml` derives both from the \
          pipeline's steps, `keyless check` shows the role's \"can then do\" (docs/permissions.md).",
    autofix: false,
};

const KINDS: &[ExcessKind] = &[
    ExcessKind::BroadPolicy,
    ExcessKind::NotAction,
    ExcessKind::ServiceWildcard,
    ExcessKind::AllResources,
];

impl Rule for BroadPermissions {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        permission_excess::check_policy(self, KINDS, "broad permissions", policy, out);
    }

    fn check_workspace(&self, ws: &Workspace<'_>, out: &mut Sink) {
        permission_excess::check_workspace(self, KINDS, "broad permissions", ws, out);
    }
}
