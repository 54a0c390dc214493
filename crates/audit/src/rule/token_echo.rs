//! `token-echo`: the OIDC token or the temporary AWS credentials it bought printed to the build log: `echo`/`printf`
//! (also through pipes such as `| base64`), `printenv`, a dump of the environment (`env`, a bare `export`, `set`,
//! `declare -p`), `cat` of the token file or of a credentials file, an `aws sts assume-role-with-web-identity` whose
//! answer is not captured, and `set -x` before a use. Variables and files are followed through the step's script
//! and after-script ([`crate::flow`]).

use super::prelude::*;

pub struct TokenEcho;

static META: RuleMeta = RuleMeta {
    id: "token-echo",
    summary: "the OIDC token is printed to the build log",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "The step's OIDC token is a bearer credential: anyone who reads the log before it expires can exchange it \
          for the role's AWS credentials; the credentials STS returns for it (AccessKeyId, SecretAccessKey, SessionToken) \
          work from anywhere for up to the session's duration. `set -x` prints every expanded command, `env` and a bare \
          `export` print every variable, and `aws sts …` prints its answer unless it is captured.",
    fix: "Never echo the token; write it to a file outside the clone directory with `printf '%s' \"$BITBUCKET_STEP_OIDC_TOKEN\" > \"$HOME/.aws-oidc/token\"`, \
          and turn tracing off (`set +x`) around commands that use it.",
    autofix: false,
};

impl Rule for TokenEcho {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        for print in &step.flow().prints {
            // A dump prints the token only when the step has one (or credentials it set from STS).
            let f = self
                .finding()
                .message(format!("{} {}", step.describe(), print.how));
            let mut f = match print.focus_offset {
                Some(at) => f.at_value(print.route.clone(), print.text, at, print.focus.len()),
                None => f.at_text(print.route.clone(), print.focus.clone()),
            }
            .label(match (print.what, print.traced_since.is_some()) {
                (_, true) => "expanded and traced",
                (crate::flow::Printed::Token, false) => "printed to the build log",
                (crate::flow::Printed::Credentials, false) => "prints temporary AWS credentials",
            });
            f = match print.what {
                crate::flow::Printed::Token if print.dump => f.help("print only the variables you need"),
                crate::flow::Printed::Token if print.traced_since.is_some() => {
                    f.help("run `set +x` before commands that use the token")
                }
                crate::flow::Printed::Token => {
                    f.help("write the token to a file (outside the clone directory) instead of printing it")
                }
                crate::flow::Printed::Credentials => f.help(
                    "capture STS output in a variable or a 0600 file outside the clone directory, never print it",
                ),
            };
            if print.dump {
                f = f.confidence(Confidence::Medium);
            }
            if let Some(since) = print.traced_since {
                f = f.related(None, since.clone(), "tracing turned on here");
            }
            out.push(f);
        }
    }
}
