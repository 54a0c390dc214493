//! `token-file-permissions`: the token file is left readable by other users (no `chmod 600`/`umask 077`).

use super::prelude::*;

pub struct TokenFilePermissions;

static META: RuleMeta = RuleMeta {
    id: "token-file-permissions",
    summary: "the OIDC token file is not restricted to its owner",
    severity: Severity::Low,
    confidence: Confidence::Medium,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "With the default umask the token file is world-readable (0644): service containers, other processes and \
          self-hosted runner users can read it while it is valid.",
    fix: "Run `umask 077` before writing the token, or `chmod 600` the file right after (0600 file in a 0700 directory).",
    autofix: false,
};

impl Rule for TokenFilePermissions {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        let writes = analysis::token_writes(step);
        if writes.is_empty() {
            return;
        }
        let mut umask = false;
        let mut chmods: Vec<(String, String, Route)> = Vec::new();
        for (route, _, cmds) in step.lexed() {
            for cmd in cmds {
                let args = cmd.unquoted_args();
                match args.first().map(AsRef::as_ref) {
                    Some("umask") if args.get(1).is_some_and(|m| m.ends_with("77")) => umask = true,
                    Some("chmod") if args.len() >= 3 => {
                        for file in &args[2..] {
                            chmods.push((args[1].to_string(), file.to_string(), route.clone()));
                        }
                    }
                    _ => {}
                }
            }
        }
        if umask {
            return;
        }
        for w in writes {
            let target = shell::unquote(w.target);
            let chmod = chmods.iter().find(|(_, f, _)| *f == target);
            let restricted = chmod.is_some_and(|(mode, _, _)| {
                matches!(
                    mode.as_str(),
                    "600"
                        | "400"
                        | "0600"
                        | "0400"
                        | "u=rw"
                        | "u=r"
                        | "go-rwx"
                        | "og-rwx"
                        | "u=rw,go="
                        | "u=r,go="
                )
            });
            if restricted {
                continue;
            }
            let mut f = self
                .finding()
                .message(format!(
                    "{} writes the OIDC token to `{target}` without restricting its permissions",
                    step.describe()
                ))
                .at_value(w.route.clone(), w.text, w.target_offset, w.target.len())
                .label("created with the default umask (usually 0644)")
                .help(format!(
                    "add `chmod 600 {target}` after writing it, or `umask 077` before"
                ));
            if let Some((mode, _, route)) = chmod {
                f = f
                    .message(format!(
                        "the OIDC token file `{target}` is made mode {mode}, readable by others"
                    ))
                    .related(None, route.clone(), "permissions set here")
                    .confidence(Confidence::High);
            }
            out.push(f);
        }
    }
}
