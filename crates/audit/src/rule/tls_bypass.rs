//! `tls-bypass`: TLS certificate verification turned off (`curl -k`, `--no-check-certificate`,
//! `clone: skip-ssl-verify`, `GIT_SSL_NO_VERIFY`, `NODE_TLS_REJECT_UNAUTHORIZED=0`, ...).

use super::prelude::*;

pub struct TlsBypass;

static META: RuleMeta = RuleMeta {
    id: "tls-bypass",
    summary: "TLS certificate verification is disabled",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Without certificate checks anyone on the network path can impersonate the server: swap downloads, read \
          credentials and tokens sent to it, or feed a fake repository to the clone.",
    fix: "Remove the flag; if a private CA is involved, add its certificate to the image's trust store \
          (`SSL_CERT_FILE`, `NODE_EXTRA_CA_CERTS`, `git config http.sslCAInfo`).",
    autofix: false,
};

/// `(pattern, what)`: matched against unquoted words, or text for assignments.
const FLAGS: &[(&str, &str, &str)] = &[
    ("curl", "-k", "curl -k"),
    ("curl", "--insecure", "curl --insecure"),
    (
        "wget",
        "--no-check-certificate",
        "wget --no-check-certificate",
    ),
    ("aws", "--no-verify-ssl", "aws --no-verify-ssl"),
    ("pip", "--trusted-host", "pip --trusted-host"),
    ("pip3", "--trusted-host", "pip --trusted-host"),
    (
        "helm",
        "--insecure-skip-tls-verify",
        "helm --insecure-skip-tls-verify",
    ),
    (
        "kubectl",
        "--insecure-skip-tls-verify",
        "kubectl --insecure-skip-tls-verify",
    ),
];
const TEXT: &[(&str, &str)] = &[
    ("GIT_SSL_NO_VERIFY=", "GIT_SSL_NO_VERIFY"),
    ("http.sslVerify=false", "git http.sslVerify=false"),
    ("http.sslverify=false", "git http.sslVerify=false"),
    ("http.sslVerify false", "git http.sslVerify false"),
    (
        "NODE_TLS_REJECT_UNAUTHORIZED=0",
        "NODE_TLS_REJECT_UNAUTHORIZED=0",
    ),
    ("PYTHONHTTPSVERIFY=0", "PYTHONHTTPSVERIFY=0"),
    ("strict-ssl false", "npm strict-ssl false"),
    ("strict-ssl=false", "npm strict-ssl=false"),
];

impl Rule for TlsBypass {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_pipeline(&self, p: &Pipeline<'_>, out: &mut Sink) {
        if p.doc
            .root()
            .get("clone")
            .and_then(|c| c.get("skip-ssl-verify"))
            .and_then(Node::as_bool)
            == Some(true)
        {
            out.push(
                self.finding()
                    .message("the repository is cloned without TLS verification")
                    .at_key(Route::root().key("clone").key("skip-ssl-verify"))
                    .label("skip-ssl-verify: true")
                    .help("remove `skip-ssl-verify`; trust your server's CA instead"),
            );
        }
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        if step
            .node
            .get("clone")
            .and_then(|c| c.get("skip-ssl-verify"))
            .and_then(Node::as_bool)
            == Some(true)
        {
            out.push(
                self.finding()
                    .message(format!(
                        "{} clones without TLS verification",
                        step.describe()
                    ))
                    .at_key(step.key("clone").key("skip-ssl-verify"))
                    .label("skip-ssl-verify: true")
                    .help("remove `skip-ssl-verify`"),
            );
        }
        for (route, text, cmds) in step.lexed() {
            let mut hit: Option<(usize, usize, String)> = None;
            'cmds: for cmd in cmds {
                let args = cmd.args_from_program();
                let Some(prog) = cmd.program() else { continue };
                for (p, flag, what) in FLAGS {
                    // `curl -sSk` bundles short flags.
                    let bundled = |w: &str| {
                        flag.len() == 2
                            && w.starts_with('-')
                            && !w.starts_with("--")
                            && w.contains(&flag[1..])
                            && w.len() <= 6
                    };
                    if prog == *p
                        && let Some(((w, at), _)) = args
                            .iter()
                            .zip(cmd.unquoted_args())
                            .find(|((w, _), unquoted)| unquoted == flag || bundled(w))
                    {
                        hit = Some((*at, w.len(), (*what).to_owned()));
                        break 'cmds;
                    }
                }
            }
            if hit.is_none() {
                // `contains` first: `str::find` builds a two-way searcher for every call, which cost more than the
                // rest of the rule on lines that hold none of the patterns (nearly all of them).
                hit = TEXT.iter().find_map(|(pat, what)| {
                    text.contains(pat)
                        .then(|| text.find(pat))
                        .flatten()
                        .map(|at| (at, pat.len(), (*what).to_owned()))
                });
            }
            if let Some((at, len, what)) = hit {
                out.push(
                    self.finding()
                        .message(format!("TLS verification is disabled ({what})"))
                        .at_value(route.clone(), text, at, len)
                        .label("certificate checks off")
                        .help("remove it and trust the right CA instead"),
                );
            }
        }
    }
}
