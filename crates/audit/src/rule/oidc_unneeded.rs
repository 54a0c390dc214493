//! `oidc-unneeded`: `oidc` is enabled on a step that never uses the token.

use super::prelude::*;

pub struct OidcUnneeded;

static META: RuleMeta = RuleMeta {
    id: "oidc-unneeded",
    summary: "OIDC is enabled on a step that does not use the token",
    severity: Severity::Low,
    confidence: Confidence::Medium,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Every OIDC-enabled step receives a token any trusting role accepts. A step that does not need one only \
          widens what a compromised build tool, test or dependency can reach. Low, medium confidence, when every \
          command of the step is written in the pipeline and none reads the token; only a note (info, low \
          confidence) when the step runs a pipe or a script file, since Bitbucket passes the token to both through \
          the environment and the audit cannot see inside them.",
    fix: "Remove `oidc: true` from steps that do not assume a role; keep it only on the steps that deploy.",
    autofix: false,
};

impl Rule for OidcUnneeded {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        // Only the step's own key: a global `options.oidc` is judged by the pipeline author for all steps.
        if !step.oidc || step.node.get("oidc").is_none() || !analysis::oidc_uses(step).is_empty() {
            return;
        }
        // Pipes may read the token from their environment without a variable naming it (e.g. non-AWS pipes).
        let has_pipe = step.pipes().next().is_some();
        // A script that runs a local script file may use the token inside it.
        let runs_script_file = step.lexed().any(|(_, _, cmds)| {
            cmds.iter().any(|c| {
                c.program().is_some_and(|p| {
                    p.starts_with("./") || p.ends_with(".sh") || p.ends_with(".py")
                }) || matches!(
                    c.program(),
                    Some(
                        "bash"
                            | "sh"
                            | "."
                            | "source"
                            | "make"
                            | "npm"
                            | "yarn"
                            | "pnpm"
                            | "python"
                            | "python3"
                    )
                )
            })
        });
        let f = self
            .finding()
            .message(format!(
                "{} enables OIDC but never reads BITBUCKET_STEP_OIDC_TOKEN",
                step.describe()
            ))
            .at_key(step.key("oidc"))
            .label("token issued but unused")
            .help("remove `oidc: true` unless a script or pipe of this step assumes a role");
        // Bitbucket hands the token to pipes and child processes through the environment: a pipe (corpus 185's Conjur
        // pipe) or a script file (217's `. ./bitbucket-scripts/gcp-oidc-auth.sh`) may well read it where the audit
        // cannot see. Only a note then, not a finding that fails the build.
        out.push(if has_pipe || runs_script_file {
            f.severity(Severity::Info).confidence(Confidence::Low)
        } else {
            f
        });
    }
}
