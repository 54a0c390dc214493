//! `token-in-clone-dir`: the token written under the clone directory, worse when artifacts capture it.

use super::prelude::*;

pub struct TokenInCloneDir;

static META: RuleMeta = RuleMeta {
    id: "token-in-clone-dir",
    summary: "the OIDC token is written inside the clone directory",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Files in the clone directory are what `artifacts`, caches and build tools (Docker build contexts, \
          `aws s3 sync .`, packaging) pick up. A token there can be uploaded as an artifact and read by later steps \
          or anyone who can download artifacts.",
    fix: "Write the token outside the clone directory, e.g. `$HOME/.aws-oidc/token` (mode 0600 in a 0700 directory), \
          or let `keyless assume` handle it.",
    autofix: false,
};

/// `artifacts` globs that would capture `file` (a relative path).
fn captured_by(step: &Step<'_>, file: &str) -> Option<Route> {
    let artifacts = step.node.get("artifacts")?;
    let (list, route) = match artifacts.get("paths") {
        Some(p) => (p, step.key("artifacts").key("paths")),
        None => (artifacts, step.key("artifacts")),
    };
    for (i, glob) in crate::source::strings(list) {
        let g = glob.as_str()?;
        if glob_matches(g, file) {
            return Some(route.at(i));
        }
    }
    None
}

/// Bitbucket artifact globs: `**` crosses directories, `*` does not.
fn glob_matches(glob: &str, path: &str) -> bool {
    fn m(g: &[u8], p: &[u8]) -> bool {
        match (g.first(), p.first()) {
            (None, None) => true,
            (Some(b'*'), _) if g.get(1) == Some(&b'*') => {
                let rest = if g.get(2) == Some(&b'/') {
                    &g[3..]
                } else {
                    &g[2..]
                };
                (0..=p.len()).any(|i| m(rest, &p[i..]))
            }
            (Some(b'*'), _) => (0..=p.len())
                .take_while(|&i| i == 0 || p[i - 1] != b'/')
                .any(|i| m(&g[1..], &p[i..])),
            (Some(b'?'), Some(c)) if *c != b'/' => m(&g[1..], &p[1..]),
            (Some(a), Some(b)) if a == b => m(&g[1..], &p[1..]),
            _ => false,
        }
    }
    m(glob.trim_start_matches("./").as_bytes(), path.as_bytes())
}

impl Rule for TokenInCloneDir {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        for w in analysis::token_writes(step) {
            if !w.in_clone_dir {
                continue;
            }
            // The file as the step's variables make it (`"$AWS_WEB_IDENTITY_TOKEN_FILE"` → `$(pwd)/token`).
            let target = w.resolved.as_str();
            let relative = [
                "$BITBUCKET_CLONE_DIR/",
                "${BITBUCKET_CLONE_DIR}/",
                "$(pwd)/",
                "$PWD/",
                "${PWD}/",
                "./",
            ]
            .iter()
            .find_map(|p| target.strip_prefix(p))
            .unwrap_or(target)
            .to_owned();
            let mut f = self
                .finding()
                .message(format!(
                    "{} writes the OIDC token to `{target}` inside the clone directory",
                    step.describe()
                ))
                .at_value(w.route.clone(), w.text, w.target_offset, w.target.len())
                .label("inside $BITBUCKET_CLONE_DIR")
                .help("write it under $HOME (e.g. `$HOME/.aws-oidc/token`) instead");
            if let Some(glob) = captured_by(step, &relative) {
                f = f
                    .severity(Severity::High)
                    .message(format!(
                        "{} writes the OIDC token to `{target}`, which the step's artifacts upload",
                        step.describe()
                    ))
                    .related(None, glob, "this artifact glob captures the token file");
            }
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs() {
        assert!(glob_matches("**", "web-identity-token"));
        assert!(glob_matches("**/*", "a/b"));
        assert!(glob_matches("*", "token"));
        assert!(!glob_matches("dist/**", "token"));
        assert!(glob_matches("dist/**", "dist/a/b"));
        assert!(!glob_matches("*", "a/b"));
    }
}
