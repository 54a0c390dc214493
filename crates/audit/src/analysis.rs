//! Step analyses shared by several rules: where the OIDC token is written, whether a step uses AWS web
//! identity, which deploy commands it runs, and helpers that build span edits for fixes.

use crate::finding::Edit;
use crate::pipeline::{ScriptItem, Step};
use crate::shell::{self, TOKEN_VAR};
use crate::source::{self, Document, Node, Route, Span};

pub use crate::flow::TokenWrite;

/// Every place a step writes the OIDC token to a file, following variables through the script (see
/// [`crate::flow`]).
pub fn token_writes<'a>(step: &Step<'a>) -> Vec<TokenWrite<'a>> {
    step.flow().writes.clone()
}

/// Pipe variables (`name`, value node, route of the value).
pub fn pipe_variables<'a>(item: &'a ScriptItem<'a>) -> Vec<(&'a str, &'a Node, Route)> {
    let ScriptItem::Pipe {
        route,
        variables: Some(vars),
        ..
    } = item
    else {
        return Vec::new();
    };
    vars.as_map()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e.key.as_str(),
                &e.value,
                route.key("variables").key(e.key.as_str()),
            )
        })
        .collect()
}

/// An Atlassian (or look-alike) AWS pipe.
pub fn is_aws_pipe(name: &str) -> bool {
    let base = name.trim_start_matches("docker://");
    let repo = base.split(['@', ':']).next().unwrap_or(base);
    repo.rsplit('/')
        .next()
        .is_some_and(|n| n.starts_with("aws-"))
}

/// Why a step needs the OIDC token: `(route, reason)` for each use.
pub fn oidc_uses(step: &Step<'_>) -> Vec<(Route, String)> {
    let mut out = Vec::new();
    for (route, text) in step.commands() {
        if shell::references(text, TOKEN_VAR) {
            out.push((route.clone(), format!("reads ${TOKEN_VAR}")));
        } else if text.contains("assume-role-with-web-identity") {
            out.push((
                route.clone(),
                "calls sts assume-role-with-web-identity".into(),
            ));
        } else if text.contains("AWS_WEB_IDENTITY_TOKEN_FILE")
            || text.contains("web_identity_token_file")
        {
            out.push((route.clone(), "configures a web identity token file".into()));
        }
    }
    for item in step.pipes() {
        for (name, value, route) in pipe_variables(item) {
            if name == "AWS_OIDC_ROLE_ARN"
                || value
                    .as_str()
                    .is_some_and(|v| shell::references(v, TOKEN_VAR))
            {
                out.push((route, format!("passes {name} to the pipe")));
            }
        }
    }
    if step
        .node
        .get("image")
        .and_then(|i| i.get("aws"))
        .and_then(|a| a.get("oidc-role"))
        .is_some()
    {
        out.push((
            step.key("image").key("aws").key("oidc-role"),
            "pulls the build image with an OIDC role".into(),
        ));
    }
    out
}

/// A step that configures AWS web identity in its script (as opposed to through a pipe): a line names AWS web
/// identity, or reads the token in a step that sends it to no other service (Vault, Conjur, Google Cloud, Azure:
/// `keyless_pipelines::consumers`, the one table of token consumers).
pub fn script_web_identity(step: &Step<'_>) -> Option<Route> {
    step.web_identity().map(|(r, _)| r.clone())
}

/// [`script_web_identity`] with where in the line: the AWS web identity name or the token reference that made the
/// line count.
pub fn script_web_identity_at<'a>(step: &Step<'a>) -> Option<(Route, Option<InLine<'a>>)> {
    use keyless_pipelines::consumers::{TokenConsumer, token_consumer};
    // Each line's consumer once (a line names one in a few steps only).
    let lines: Vec<_> = step
        .commands()
        .map(|(r, t)| (r, t, token_consumer(t)))
        .collect();
    let elsewhere = lines
        .iter()
        .any(|(_, _, c)| c.is_some_and(|c| c != TokenConsumer::Aws));
    let (route, text, _) = lines
        .into_iter()
        .find(|(_, t, c)| *c == Some(TokenConsumer::Aws) || (!elsewhere && uses_token(t)))?;
    let at = [
        "assume-role-with-web-identity",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "web_identity_token_file",
        TOKEN_VAR,
    ]
    .iter()
    .filter_map(|needle| text.find(needle).map(|at| (text, at, needle.len())))
    .min_by_key(|(_, at, _)| *at);
    Some((route.clone(), at))
}

/// The line reads the token for something other than testing that it is set: `[[ -n "$BITBUCKET_STEP_OIDC_TOKEN" ]]`
/// (corpus 206's "Verify OIDC Token" step) sends it nowhere.
fn uses_token(text: &str) -> bool {
    shell::references(text, TOKEN_VAR)
        && shell::var_refs(text).iter().any(|r| {
            let before = text[..r.offset].trim_end_matches('"').trim_end();
            r.name == TOKEN_VAR && !(before.ends_with("-n") || before.ends_with("-z"))
        })
}

/// The step sends its OIDC token to AWS: an AWS pipe with `AWS_OIDC_ROLE_ARN`, `image.aws.oidc-role`, or AWS web
/// identity in its script ([`script_web_identity`]). Rules that assume AWS (`repository-without-role`) ask this.
pub fn token_goes_to_aws(step: &Step<'_>) -> bool {
    let pipe = step.pipes().any(|item| {
        matches!(item, ScriptItem::Pipe { name, .. } if is_aws_pipe(name))
            && pipe_variables(item)
                .iter()
                .any(|(n, _, _)| *n == "AWS_OIDC_ROLE_ARN")
    });
    let image = step
        .node
        .get("image")
        .and_then(|i| i.get("aws"))
        .and_then(|a| a.get("oidc-role"))
        .is_some();
    pipe || image || script_web_identity(step).is_some()
}

/// Where in a script line a rule matched: the line's text, and the byte offset and length of the match in it.
pub type InLine<'a> = (&'a str, usize, usize);

/// Points a finding at `route`, at the matched text when there is one (the line of a multi-line script that matched,
/// not the block's first line).
pub fn point(
    f: crate::finding::FindingBuilder,
    route: &Route,
    at: Option<InLine<'_>>,
) -> crate::finding::FindingBuilder {
    match at {
        Some((text, offset, len)) => f.at_value(route.clone(), text, offset, len),
        None => f.at(route.clone()),
    }
}

/// Deploy commands and pipes in a step: `(route, what, where in the line)` (no place in a line for a pipe).
pub fn deploy_actions<'a>(step: &Step<'a>) -> Vec<(Route, String, Option<InLine<'a>>)> {
    const COMMANDS: &[(&[&str], &str)] = &[
        (&["cdk", "deploy"], "cdk deploy"),
        (&["terraform", "apply"], "terraform apply"),
        (&["terraform", "destroy"], "terraform destroy"),
        (&["tofu", "apply"], "tofu apply"),
        (&["sam", "deploy"], "sam deploy"),
        (&["serverless", "deploy"], "serverless deploy"),
        (&["sls", "deploy"], "sls deploy"),
        (
            &["aws", "cloudformation", "deploy"],
            "aws cloudformation deploy",
        ),
        (
            &["aws", "cloudformation", "create-stack"],
            "aws cloudformation create-stack",
        ),
        (
            &["aws", "cloudformation", "update-stack"],
            "aws cloudformation update-stack",
        ),
        (&["aws", "s3", "sync"], "aws s3 sync"),
        (&["aws", "s3", "cp"], "aws s3 cp"),
        (&["aws", "ecs", "update-service"], "aws ecs update-service"),
        (
            &["aws", "lambda", "update-function-code"],
            "aws lambda update-function-code",
        ),
        (
            &["aws", "deploy", "create-deployment"],
            "aws deploy create-deployment",
        ),
        (&["copilot", "deploy"], "copilot deploy"),
        (&["pulumi", "up"], "pulumi up"),
    ];
    let mut out = Vec::new();
    for (route, text, cmds) in step.lexed() {
        for cmd in cmds {
            let words = cmd.unquoted_args();
            let first = cmd
                .args_from_program()
                .first()
                .map(|(w, at)| (text, *at, w.len()));
            let plain: Vec<&str> = words
                .iter()
                .map(AsRef::as_ref)
                .filter(|w| !w.starts_with('-'))
                .collect();
            // `npx cdk deploy`, `npx serverless deploy`.
            let plain: &[&str] = if plain.first() == Some(&"npx") {
                &plain[1..]
            } else {
                &plain
            };
            for (pattern, what) in COMMANDS {
                if plain.len() >= pattern.len() && plain[..pattern.len()] == **pattern {
                    out.push((route.clone(), (*what).to_owned(), first));
                }
            }
        }
    }
    for item in step.pipes() {
        if let ScriptItem::Pipe {
            name, name_route, ..
        } = item
        {
            let lower = name.to_ascii_lowercase();
            if is_aws_pipe(name)
                && [
                    "deploy",
                    "cloudformation",
                    "cdk",
                    "sam",
                    "ecr-push",
                    "code-deploy",
                    "lambda",
                ]
                .iter()
                .any(|w| lower.contains(w))
            {
                out.push((name_route.clone(), format!("pipe {name}"), None));
            }
        }
    }
    out
}

/// Inserts `line` as a new entry of a block mapping, before its first entry written after `after` (the key
/// that owns the mapping), keeping the mapping's indentation. `None` for flow mappings or mappings that come
/// entirely from an alias (editing the anchor would change every user of it).
pub fn insert_entry(doc: &Document, after: Span, map: &Node, line: &str) -> Option<Edit> {
    // Keys written at their place (not merged in, not copied through an alias), after `after`.
    let first = map
        .as_map()?
        .iter()
        .filter(|e| e.key_origin.via().is_empty() && !e.key_origin.merged())
        .filter_map(|e| e.key_origin.span.map(Span::from))
        .filter(|k| k.start > after.end)
        .min_by_key(|k| k.start)?;
    let between = doc.text.get(after.end..first.start)?;
    if between.contains('{') || between.contains('*') {
        return None;
    }
    let (l, _) = doc.line_col(first.start);
    let line_start = doc.line_start(l);
    let prefix = doc.text.get(line_start..first.start)?;
    if !prefix.chars().all(|c| c == ' ') {
        return None;
    }
    Some(Edit {
        span: Span::new(line_start, line_start),
        replacement: format!("{prefix}{line}\n"),
    })
}

/// The byte span in the source of `text[offset..offset+len]`, where `text` is the value of `node`: found by
/// locating the value's line in the node's source (works for plain, unescaped quoted and block scalars).
pub fn source_span_in(
    doc: &Document,
    node: &Node,
    text: &str,
    offset: usize,
    len: usize,
) -> Option<Span> {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let node_span = source::span(node);
    let src = doc.text.get(node_span.start..node_span.end)?;
    let mut found = src.match_indices(line);
    let (at, _) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let start = node_span.start + at + (offset - line_start);
    Some(Span::new(start, start + len))
}
