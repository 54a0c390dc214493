//! `pass-role-any-role`: a deployment role may pass any role to any service (`iam:PassRole` on `*` without an
//! `iam:PassedToService` condition).

use keyless_iam::privilege::ExcessKind;

use super::permission_excess;
use super::prelude::*;

pub struct PassRoleAnyRole;

static META: RuleMeta = RuleMeta {
    id: "pass-role-any-role",
    summary: "a deployment role may pass any role to any service",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Permissions,
    why: "`iam:PassRole` lets the role hand another role to a service it controls (a Lambda function, an ECS task, \
          a CloudFormation stack, an EC2 instance). On `\"Resource\": \"*\"` without `iam:PassedToService`, a step can \
          pass the account's most privileged role to code it writes, then act as that role: privilege escalation \
          without any IAM write permission (IAM User Guide, \"Granting a user permissions to pass a role to an AWS \
          service\").",
    fix: "Name the roles the deployment passes (`arn:aws:iam::<account>:role/<app-task-role>`) and add \
          `Condition: {StringEquals: {iam:PassedToService: <service>.amazonaws.com}}`.",
    autofix: false,
};

const KINDS: &[ExcessKind] = &[ExcessKind::PassRoleAny];

impl Rule for PassRoleAnyRole {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        permission_excess::check_policy(self, KINDS, "iam:PassRole on every role", policy, out);
    }

    fn check_workspace(&self, ws: &Workspace<'_>, out: &mut Sink) {
        permission_excess::check_workspace(self, KINDS, "iam:PassRole on every role", ws, out);
    }
}
