//! Does a finding's line name what its rule matched? For each rule that points into a script line, a pipe, an image
//! or a key, the text the rule matched (named in its message) must be on the line the finding reports. Shared by
//! the fixture tests (`rules.rs`) and the corpus test (`corpus_pipelines.rs`): a finding one line early, at a block's
//! first line or at the first mention of a word in a `- |` block fails here.

/// The texts in backquotes in `message`, in order.
fn quoted(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

/// `Ok(true)` when `line` holds what `rule` matched, `Ok(false)` when the rule is not checked here, `Err` with what
/// was looked for otherwise.
pub fn names_what_matched(rule: &str, message: &str, line: &str) -> Result<bool, String> {
    let lower = line.to_ascii_lowercase();
    let any = |needles: &[&str]| {
        needles
            .iter()
            .any(|n| lower.contains(&n.to_ascii_lowercase()))
    };
    let q = quoted(message);
    let want: Vec<String> = match rule {
        "script-injection" => {
            let name: String = message
                .split('$')
                .nth(1)
                .unwrap_or_default()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            vec![format!("${name}"), format!("${{{name}")]
        }
        "token-echo" => {
            if message.contains("the output of `aws sts`") {
                vec!["sts".into()]
            } else if message.contains("dumps every environment variable")
                || message.contains("`s a file")
            {
                // `cat`s, `export` dumps, `env` dumps: the command.
                let cmd = q.first().copied().unwrap_or_default();
                vec![cmd.split(' ').next().unwrap_or(cmd).to_owned()]
            } else {
                // prints / traces a value: a reference on the line, or printenv.
                vec!["$".into(), "printenv".into()]
            }
        }
        "token-in-clone-dir" | "token-file-permissions" | "token-file-append" => {
            vec![">".into(), "tee".into()]
        }
        "long-lived-aws-keys" => {
            if message.contains("AWS CLI is configured") {
                vec!["aws configure set".into()]
            } else if message.contains("pulls its image") {
                vec!["access-key".into()]
            } else if message.contains("access key id is written") {
                vec!["AKIA".into(), "ASIA".into()]
            } else {
                [
                    "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_SESSION_TOKEN",
                ]
                .iter()
                .filter(|k| message.contains(*k))
                .map(|k| (*k).to_owned())
                .collect()
            }
        }
        "curl-pipe-shell" => vec!["curl".into(), "wget".into()],
        // `TLS verification is disabled (curl -k)`: the program or setting named first (flags may be bundled: `-sSk`).
        "tls-bypass" => message
            .split('(')
            .nth(1)
            .and_then(|what| what.split([' ', ')', '=']).next())
            .map(|w| vec![w.to_owned()])
            .unwrap_or_default(),
        "deploy-without-deployment" | "deploy-on-pull-request" => {
            if let Some(what) = message
                .split("runs `")
                .nth(1)
                .and_then(|r| r.split('`').next())
            {
                match what.strip_prefix("pipe ") {
                    Some(pipe) => vec![pipe.to_owned()],
                    None => vec![what.rsplit(' ').next().unwrap_or(what).to_owned()],
                }
            } else if message.contains("deploys to") {
                q.last().map(|e| vec![(*e).to_owned()]).unwrap_or_default()
            } else {
                vec!["oidc".into()]
            }
        }
        "region-missing" => {
            if message.starts_with("pipe ") {
                vec!["pipe".into()]
            } else {
                vec![
                    "BITBUCKET_STEP_OIDC_TOKEN".into(),
                    "web-identity".into(),
                    "web_identity".into(),
                ]
            }
        }
        "oidc-unneeded" | "oidc-on-pull-request" => vec!["oidc".into()],
        "unpinned-image" | "duplicate-key" | "unknown-step-key" => {
            q.first().map(|t| vec![(*t).to_owned()]).unwrap_or_default()
        }
        "unpinned-pipe" => {
            let name = message.strip_prefix("pipe ").unwrap_or_default();
            vec![name.split(' ').next().unwrap_or_default().to_owned()]
        }
        "manual-first-step" => vec!["manual".into()],
        _ => return Ok(false),
    };
    if want.is_empty() || any(&want.iter().map(String::as_str).collect::<Vec<_>>()) {
        Ok(true)
    } else {
        Err(format!("the line holds none of {want:?}"))
    }
}

/// Checks every finding: the findings whose line does not hold what their rule matched (described), and how many
/// findings were checked at all.
pub fn misplaced(findings: &[keyless_audit::Finding]) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut checked = 0;
    for f in findings {
        let line = f
            .source
            .lines()
            .nth(f.location.line.saturating_sub(1))
            .unwrap_or_default();
        match names_what_matched(f.rule, &f.message, line) {
            Ok(true) => checked += 1,
            Ok(false) => {}
            Err(why) => out.push(format!(
                "{}:{} {} {}: {why}: {line:?}",
                f.location.path, f.location.line, f.rule, f.message
            )),
        }
    }
    (out, checked)
}
