//! `curl-pipe-shell`: a downloaded script piped straight into a shell or interpreter.

use super::prelude::*;

pub struct CurlPipeShell;

static META: RuleMeta = RuleMeta {
    id: "curl-pipe-shell",
    summary: "a downloaded script is piped into a shell",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Whatever the server returns runs with the step's secrets and OIDC token, with no pinning and no review; a \
          compromised host or CDN, or a truncated download, runs in your pipeline.",
    fix: "Download to a file, verify a pinned checksum or signature, then run it; or install a pinned package.",
    autofix: false,
};

const FETCHERS: &[&str] = &["curl", "wget"];
const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "python", "python3", "perl", "ruby", "node",
];

impl Rule for CurlPipeShell {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        for (route, text, cmds) in step.lexed() {
            let mut reported = false;
            for pair in cmds.windows(2) {
                let fetch = pair[0].program().is_some_and(|p| FETCHERS.contains(&p));
                let run = pair[1].program().is_some_and(|p| SHELLS.contains(&p));
                if pair[0].then == "|" && fetch && run && !reported {
                    let prog = pair[0].program().unwrap_or("curl").to_owned();
                    let at = pair[0].args_from_program().first().map_or(0, |(_, at)| *at);
                    out.push(
                        self.finding()
                            .message(format!(
                                "the output of {prog} is piped into {}",
                                pair[1].program().unwrap_or("a shell")
                            ))
                            .at_value(route.clone(), text, at, prog.len())
                            .label("remote code runs unverified")
                            .help("download to a file, check a pinned sha256, then run it"),
                    );
                    reported = true;
                }
            }
            // `bash <(curl …)` and `sh -c "$(curl …)"` (the program check first: few lines run a shell).
            if !reported
                && cmds.iter().any(|c| {
                    c.program()
                        .is_some_and(|p| SHELLS.contains(&p) || p == "eval")
                })
                && let Some(at) = ["<(curl", "<(wget", "$(curl", "$(wget", "`curl", "`wget"]
                    .iter()
                    .filter_map(|p| text.find(p))
                    .min()
            {
                // The fetcher after `<(`, `$(` or the backquote.
                let at = at + if text.as_bytes()[at] == b'`' { 1 } else { 2 };
                out.push(
                    self.finding()
                        .message("a downloaded script is run by a shell")
                        .at_value(route.clone(), text, at, 4)
                        .label("remote code runs unverified")
                        .help("download to a file, check a pinned sha256, then run it"),
                );
            }
        }
    }
}
