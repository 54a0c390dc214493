//! `permissions-todo`: a keyless.yml role whose `permissions:` is still the `todo` placeholder.

use super::prelude::*;
use crate::policy::permissions;

pub struct PermissionsTodo;

static META: RuleMeta = RuleMeta {
    id: "permissions-todo",
    summary: "a role's permissions are still `permissions: todo`",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Permissions,
    why: "`permissions: todo` is the placeholder `keyless init` writes when it cannot know what a role needs: \
          `keyless plan` renders the role without it and warns, `keyless apply` refuses the plan. Until it is \
          replaced, the role cannot deploy anything, or someone attaches a broad policy by hand to make it work.",
    fix: "Run `keyless permissions infer -c keyless.yml --write` to derive the statements from the pipelines, \
          review them, and prove them with `keyless check` (docs/permissions.md).",
    autofix: false,
};

impl Rule for PermissionsTodo {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_workspace(&self, ws: &Workspace<'_>, out: &mut Sink) {
        for (input, doc) in &ws.keyless {
            for role in permissions::keyless_roles(doc) {
                let Some(at) = &role.todo else { continue };
                out.push(
                    self.finding()
                        .message(format!(
                            "the role of {} has no permissions yet (`permissions: todo`)",
                            role.what
                        ))
                        .at_loc(at)
                        .in_input(*input)
                        .label("placeholder")
                        .help(
                            "run `keyless permissions infer -c keyless.yml --write`, review the statements, then `keyless plan`",
                        ),
                );
            }
        }
    }
}
