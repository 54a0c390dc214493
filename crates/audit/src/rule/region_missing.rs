//! `region-missing`: web-identity boilerplate or AWS pipes without `AWS_REGION`/`AWS_DEFAULT_REGION`.

use super::prelude::*;

pub struct RegionMissing;

static META: RuleMeta = RuleMeta {
    id: "region-missing",
    summary: "AWS is used without a region",
    // Both forms are notes: the region may come from variables the audit cannot see (see `why`).
    severity: Severity::Info,
    confidence: Confidence::Low,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Atlassian's AWS pipes fail with `AWS_DEFAULT_REGION variable missing.` when no region reaches them, even \
          with OIDC. Their READMEs mark AWS_DEFAULT_REGION `(**)`: \"If this variable is configured as a repository, \
          account or environment variable, it doesn't need to be declared in the pipe as it will be taken from the \
          context\" (e.g. bitbucket.org/atlassian/aws-s3-deploy). The audit cannot see those variables, so a pipe \
          without the variable is only a note (info, low confidence): it is a failure only where no repository, \
          workspace or deployment variable defines the region. SDKs and the CLI in a script need a region to reach \
          the regional STS endpoint; they read it from the same variables, so a script that never sets one is a \
          note too (info, low confidence).",
    fix: "Pass `AWS_DEFAULT_REGION: $AWS_DEFAULT_REGION` to the pipe (`keyless audit --fix` adds it) and define the \
          repository or deployment variable; in scripts, export AWS_REGION before calling AWS.",
    autofix: true,
};

const REGION_VARS: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];

impl Rule for RegionMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, p: &Pipeline<'_>, out: &mut Sink) {
        for item in step.pipes() {
            let ScriptItem::Pipe {
                name,
                name_route,
                variables,
                route,
                ..
            } = item
            else {
                continue;
            };
            let vars = analysis::pipe_variables(item);
            let oidc_pipe = vars.iter().any(|(n, _, _)| *n == "AWS_OIDC_ROLE_ARN");
            if !(analysis::is_aws_pipe(name) && oidc_pipe)
                || vars.iter().any(|(n, _, _)| REGION_VARS.contains(n))
            {
                continue;
            }
            let mut f = self
                .finding()
                .message(format!(
                    "pipe {name} is not passed AWS_DEFAULT_REGION: it works only if a repository, workspace or \
                     deployment variable defines it, else it fails with `AWS_DEFAULT_REGION variable missing.`"
                ))
                .at(name_route.clone())
                .label("region only from repository or deployment variables")
                // Atlassian's pipe READMEs: a repository/deployment variable reaches the pipe without being passed.
                .severity(Severity::Info)
                .confidence(Confidence::Low)
                .help("if no repository or deployment variable sets it, add `AWS_DEFAULT_REGION: $AWS_DEFAULT_REGION` to the pipe's variables");
            if let Some(vars_node) = variables
                && let Some((key, _)) = p.doc.resolve_entry(&route.key("variables"))
                && let Some(key) = key
                && let Some(edit) = analysis::insert_entry(
                    p.doc,
                    key,
                    vars_node,
                    "AWS_DEFAULT_REGION: $AWS_DEFAULT_REGION",
                )
            {
                f = f.fix(Fix {
                    description: "pass AWS_DEFAULT_REGION to the pipe".into(),
                    edits: vec![edit],
                });
            }
            out.push(f);
        }
        let Some((route, at)) = step.web_identity() else {
            return;
        };
        let sets_region = step.commands().any(|(_, t)| {
            REGION_VARS.iter().any(|v| t.contains(&format!("{v}=")))
                || t.contains("--region")
                || t.contains("aws configure set region")
        });
        if sets_region {
            return;
        }
        let f = self.finding().message(format!(
            "{} assumes a role with web identity but never sets AWS_REGION or AWS_DEFAULT_REGION",
            step.describe()
        ));
        out.push(
            analysis::point(f, route, *at)
                .label("region comes only from repository variables, if at all")
                // Repository or deployment variables define the region for scripts as they do for pipes (they are the
                // step's environment); we cannot see them, so this is a note, as for pipes.
                .severity(Severity::Info)
                .confidence(Confidence::Low)
                .help("export AWS_REGION in the script, or define it as a repository/deployment variable"),
        );
    }
}
