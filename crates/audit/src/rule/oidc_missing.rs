//! `oidc-missing`: a step uses AWS web identity (role variables, the token, AWS pipes) without `oidc` enabled.

use super::prelude::*;

pub struct OidcMissing;

static META: RuleMeta = RuleMeta {
    id: "oidc-missing",
    summary: "the step uses AWS web identity but OIDC is not enabled",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Without `oidc: true` Bitbucket does not set BITBUCKET_STEP_OIDC_TOKEN, so `AssumeRoleWithWebIdentity` fails \
          with AccessDenied, or Atlassian pipes silently fall back to access keys (they log \
          `Parameter \"oidc: true\" in the step configuration is required for OIDC authentication`).",
    fix: "Add `oidc: true` to the step (`keyless audit --fix` does this).",
    autofix: true,
};

impl Rule for OidcMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, p: &Pipeline<'_>, out: &mut Sink) {
        if step.oidc {
            return;
        }
        let uses = analysis::oidc_uses(step);
        let Some((route, why)) = uses.first() else {
            return;
        };
        // The `image.aws.oidc-role` form alone may not need `oidc: true` (UNCONFIRMED, bitbucket.md §6).
        let image_only = uses
            .iter()
            .all(|(r, _)| r.to_string().ends_with("image.aws.oidc-role"));
        let mut f = self
            .finding()
            .message(format!(
                "{} {why} but `oidc` is not enabled, so no token is issued",
                step.describe()
            ))
            .at(route.clone())
            .label("needs the step's OIDC token")
            .help("add `oidc: true` to the step");
        if image_only {
            f = f.confidence(Confidence::Low);
        }
        if p.options()
            .and_then(|o| o.get("oidc"))
            .is_some_and(|o| o.as_bool() == Some(true))
        {
            // `options` has no `oidc` switch (Atlassian's global options and schema; see docs/audit.md).
            f = f.related_key(
                None,
                Route::root().key("options").key("oidc"),
                "`options.oidc` does not enable OIDC: only `oidc` on the step does",
            );
        }
        if step.node.get("oidc").is_some() {
            f = f.related(None, step.key("oidc"), "OIDC is explicitly off here");
        } else if let Some(edit) = insert_oidc(p, step) {
            f = f.fix(Fix {
                description: "add `oidc: true` to the step".into(),
                edits: vec![edit],
            });
        }
        out.push(f);
    }
}

fn insert_oidc(p: &Pipeline<'_>, step: &Step<'_>) -> Option<Edit> {
    let (key, node) = p.doc.resolve_entry(step.route)?;
    analysis::insert_entry(p.doc, key?, node, "oidc: true")
}
