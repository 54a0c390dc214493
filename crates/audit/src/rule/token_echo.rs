//! `token-echo`: the OIDC token printed to the build log, directly or through `set -x`.

use super::prelude::*;
use crate::shell::TOKEN_VAR;

pub struct TokenEcho;

static META: RuleMeta = RuleMeta {
    id: "token-echo",
    summary: "the OIDC token is printed to the build log",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "The step's OIDC token is a bearer credential: anyone who reads the log before it expires can exchange it \
          for the role's AWS credentials. `set -x` prints every expanded command, including the token.",
    fix: "Never echo the token; write it to a file outside the clone directory with `printf '%s' \"$BITBUCKET_STEP_OIDC_TOKEN\" > \"$HOME/.aws-oidc/token\"`, \
          and turn tracing off (`set +x`) around commands that use it.",
    autofix: false,
};

impl Rule for TokenEcho {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        let mut xtrace: Option<Route> = None;
        for (route, _, cmds) in step.lexed() {
            for (i, cmd) in cmds.iter().enumerate() {
                let prog = cmd.program().unwrap_or("");
                let args = cmd.unquoted_args();
                if prog == "set" {
                    if args
                        .iter()
                        .skip(1)
                        .any(|a| a.starts_with('-') && a.contains('x'))
                        || args.windows(2).any(|w| w[0] == "-o" && w[1] == "xtrace")
                    {
                        xtrace = Some(route.clone());
                    } else if args
                        .iter()
                        .skip(1)
                        .any(|a| a.starts_with('+') && a.contains('x'))
                    {
                        xtrace = None;
                    }
                    continue;
                }
                let uses_token = cmd.references(TOKEN_VAR);
                let to_file = cmd.redirects.iter().any(|(op, _, t)| {
                    (*op == ">" || *op == ">>")
                        && !t.starts_with('&')
                        && *t != "/dev/stdout"
                        && *t != "/dev/stderr"
                });
                let piped = cmd.then == "|";
                let piped_to_tee =
                    piped && cmds.get(i + 1).is_some_and(|n| n.program() == Some("tee"));
                if uses_token
                    && matches!(prog, "echo" | "printf" | "print")
                    && !to_file
                    && (!piped || piped_to_tee)
                {
                    out.push(
                        self.finding()
                            .message(format!("{} prints the OIDC token to the build log", step.describe()))
                            .at_text(route.clone(), TOKEN_VAR)
                            .label("printed to the build log")
                            .help("write the token to a file (outside the clone directory) instead of printing it"),
                    );
                } else if matches!(prog, "env" | "printenv")
                    && args.len() == 1
                    && !to_file
                    && !piped
                {
                    if step.oidc {
                        out.push(
                            self.finding()
                                .message(format!(
                                    "{} dumps every environment variable, including the OIDC token",
                                    step.describe()
                                ))
                                .at(route.clone())
                                .label("prints BITBUCKET_STEP_OIDC_TOKEN")
                                .confidence(Confidence::Medium)
                                .help("print only the variables you need"),
                        );
                    }
                } else if uses_token && let Some(set_route) = &xtrace {
                    out.push(
                        self.finding()
                            .message(format!(
                                "{} uses the OIDC token while `set -x` traces commands to the log",
                                step.describe()
                            ))
                            .at_text(route.clone(), TOKEN_VAR)
                            .label("expanded and traced")
                            .related(None, set_route.clone(), "tracing turned on here")
                            .help("run `set +x` before commands that use the token"),
                    );
                }
            }
        }
    }
}
