//! The renderings of an [`Inference`]: keyless.yml `permissions:` blocks with a comment per statement, a
//! CloudFormation template and a Terraform JSON module of `keyless-permissions` inline policies, and the located
//! edit of keyless.yml (`--write`) that keeps every comment and every other byte of the file.

use serde_json::{Value, json};

use super::{Inference, Need, RoleNeeds};
use crate::permissions::PERMISSIONS_POLICY_NAME;

/// A YAML scalar: plain when it is safe in block and flow context, else double-quoted (JSON escapes are YAML's).
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let plain = !s.is_empty()
                && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_./:*@+=-${}".contains(c))
                && !s.ends_with(':')
                && !s.contains("${")
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "todo" | "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
                )
                && s.parse::<f64>().is_err();
            if plain {
                s.clone()
            } else {
                Value::String(s.clone()).to_string()
            }
        }
        other => other.to_string(),
    }
}

/// A value under a key at `indent`: scalars and lists of scalars on the key's line, maps as blocks.
fn write_value(out: &mut String, key: &str, value: &Value, indent: usize, first_prefix: &str) {
    let pad = " ".repeat(indent);
    let lead = if first_prefix.is_empty() {
        pad.clone()
    } else {
        format!(
            "{}{first_prefix}",
            " ".repeat(indent.saturating_sub(first_prefix.len()))
        )
    };
    match value {
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            let items: Vec<String> = items.iter().map(scalar).collect();
            let flow = format!("[{}]", items.join(", "));
            if lead.len() + key.len() + flow.len() <= 110 {
                out.push_str(&format!("{lead}{key}: {flow}\n"));
            } else {
                // Long lists (ARNs) one per line.
                out.push_str(&format!("{lead}{key}:\n"));
                for item in &items {
                    out.push_str(&format!("{pad}  - {item}\n"));
                }
            }
        }
        Value::Array(items) => {
            out.push_str(&format!("{lead}{key}:\n"));
            for item in items {
                match item {
                    Value::Object(map) => write_map(out, map, indent + 4, "- "),
                    other => out.push_str(&format!("{pad}  - {}\n", scalar(other))),
                }
            }
        }
        Value::Object(map) => {
            out.push_str(&format!("{lead}{key}:\n"));
            write_map(out, map, indent + 2, "");
        }
        scalar_value => out.push_str(&format!("{lead}{key}: {}\n", scalar(scalar_value))),
    }
}

fn write_map(
    out: &mut String,
    map: &serde_json::Map<String, Value>,
    indent: usize,
    first_prefix: &str,
) {
    for (index, (key, value)) in map.iter().enumerate() {
        let key = scalar(&Value::String(key.clone()));
        write_value(
            out,
            &key,
            value,
            indent,
            if index == 0 { first_prefix } else { "" },
        );
    }
}

const HEADER: &str = "# Inferred by `keyless permissions infer`";
const UNKNOWN_TAIL: &str = "are unknown: record them (`keyless assume --record`).";

/// One `permissions:` block for a role, its key at column `indent`, each statement after a comment saying where it
/// comes from.
pub fn permissions_block(role: &RoleNeeds, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = format!("{pad}{HEADER}: each statement names the pipeline lines that need it.\n");
    if role.unknown > 0 {
        out.push_str(&format!(
            "{pad}# {} more line(s) that run with this role {UNKNOWN_TAIL}\n",
            role.unknown
        ));
    }
    out.push_str(&format!("{pad}permissions:\n"));
    for need in &role.statements {
        out.push_str(&comment(need, indent + 2));
        if let Value::Object(map) = &need.statement {
            write_map(&mut out, map, indent + 4, "- ");
        }
    }
    out
}

fn comment(need: &Need, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out: String = need
        .from
        .iter()
        .map(|o| {
            format!(
                "{pad}# {}: {} {}:{}\n",
                o.source, o.repository, o.file, o.line
            )
        })
        .collect();
    if need
        .statement
        .get("Sid")
        .and_then(Value::as_str)
        .is_some_and(|sid| sid.starts_with(super::NARROW_BY_HAND_SID))
    {
        out.push_str(&format!(
            "{pad}# narrow by hand: the command line does not name the resources, so this is \"Resource\": \"*\"\n"
        ));
    }
    out
}

/// `--format keyless-yml`: every role's block, headed by where it goes.
pub fn keyless_yml(inference: &Inference) -> String {
    let mut out = String::new();
    for role in &inference.roles {
        out.push_str(&format!(
            "# {}: under `{}.role` ({})\n",
            role.name, role.defined_at, role.role
        ));
        if role.statements.is_empty() {
            out.push_str("# nothing derived; every line that runs with it is unknown\n\n");
            continue;
        }
        out.push_str(&permissions_block(role, 0));
        out.push('\n');
    }
    out
}

fn logical_id(name: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        } else {
            upper = true;
        }
    }
    format!("{out}KeylessPermissions")
}

/// `--format cloudformation`: per account, a template of `AWS::IAM::RolePolicy` resources (the role's inline policy
/// `keyless-permissions`). One account: the template; several: `{account: template}`.
pub fn cloudformation(inference: &Inference) -> Value {
    let mut accounts: indexmap::IndexMap<String, serde_json::Map<String, Value>> =
        indexmap::IndexMap::new();
    for role in inference.roles.iter().filter(|r| !r.statements.is_empty()) {
        accounts.entry(role.account.clone()).or_default().insert(
            logical_id(&role.name),
            json!({
                "Type": "AWS::IAM::RolePolicy",
                "Properties": {
                    "RoleName": role.name,
                    "PolicyName": PERMISSIONS_POLICY_NAME,
                    "PolicyDocument": role.document(),
                }
            }),
        );
    }
    let template = |resources: serde_json::Map<String, Value>| {
        json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": "Inferred by keyless permissions infer",
            "Resources": resources,
        })
    };
    if accounts.len() == 1 {
        accounts
            .into_iter()
            .next()
            .map(|(_, r)| template(r))
            .unwrap_or(Value::Null)
    } else {
        Value::Object(
            accounts
                .into_iter()
                .map(|(a, r)| (a, template(r)))
                .collect(),
        )
    }
}

/// `--format terraform`: Terraform JSON syntax, one `aws_iam_role_policy` per role (the account is the provider's).
pub fn terraform(inference: &Inference) -> Value {
    let mut resources = serde_json::Map::new();
    for role in inference.roles.iter().filter(|r| !r.statements.is_empty()) {
        let name: String = role
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        resources.insert(
            format!("{name}_keyless_permissions"),
            json!({
                "name": PERMISSIONS_POLICY_NAME,
                "role": role.name,
                // Terraform would interpolate `${...}` (IAM policy variables) in a string: escaped as plan does.
                "policy": crate::render::terraform::escape(
                    &serde_json::to_string(&role.document()).unwrap_or_default()
                ),
            }),
        );
    }
    json!({"resource": {"aws_iam_role_policy": resources}})
}

/// Why `--write` could not edit the file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("keyless.yml is not YAML keyless can read: {0}")]
    Parse(String),
    #[error(
        "`{0}` has no `role:` mapping to write `permissions:` into; add `role: {{name: ...}}` first"
    )]
    NoRole(String),
    #[error(
        "`{0}` is written without source positions (a JSON-style flow mapping?): edit it by hand"
    )]
    NoSpan(String),
}

/// Writes every role's `permissions:` into keyless.yml's text, replacing an existing `permissions:` (the `todo`
/// placeholder or earlier statements) or adding it at the end of the role's mapping. Every other byte, comments
/// included, stays. Roles with nothing derived are left alone.
pub fn write(text: &str, inference: &Inference) -> Result<String, WriteError> {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let root =
        keyless_pipelines::parse_document(text).map_err(|e| WriteError::Parse(e.to_string()))?;
    for role in inference.roles.iter().filter(|r| !r.statements.is_empty()) {
        let route = role_route(&role.defined_at);
        let Some(node) = root.at(&route) else {
            return Err(WriteError::NoRole(role.defined_at.clone()));
        };
        if node.as_map().is_none() {
            return Err(WriteError::NoRole(role.defined_at.clone()));
        }
        let span = node
            .origin
            .span
            .ok_or_else(|| WriteError::NoSpan(role.defined_at.clone()))?;
        let indent = span.start.column.saturating_sub(1);
        let block = permissions_block(role, indent);
        match node.entry("permissions") {
            Some(entry) => {
                let key = entry
                    .key_origin
                    .span
                    .ok_or_else(|| WriteError::NoSpan(role.defined_at.clone()))?;
                let value_end = entry
                    .value
                    .origin
                    .span
                    .map_or(key.end.offset, |s| s.end.offset);
                // An earlier `--write`'s header comments go with the block they head.
                let mut start = line_start(text, key.start.offset);
                while start > 0 {
                    let previous = line_start(text, start - 1);
                    let line = text[previous..start].trim();
                    if line.starts_with(HEADER) || line.ends_with(UNKNOWN_TAIL) {
                        start = previous;
                    } else {
                        break;
                    }
                }
                let end = line_end(text, value_end);
                edits.push((start, end, block));
            }
            None => {
                let at = line_end(text, span.end.offset);
                let prefix = if at > 0 && !text[..at].ends_with('\n') {
                    "\n"
                } else {
                    ""
                };
                edits.push((at, at, format!("{prefix}{block}")));
            }
        }
    }
    edits.sort_by_key(|(start, _, _)| std::cmp::Reverse(*start));
    let mut out = text.to_owned();
    for (start, end, replacement) in edits {
        out.replace_range(start..end, &replacement);
    }
    Ok(out)
}

/// `environments.production` → `environments.production.role`; `repositories.web.extra_roles[0]` → `...role`.
fn role_route(defined_at: &str) -> keyless_pipelines::Route {
    let mut route = keyless_pipelines::Route::root();
    for part in defined_at.split('.') {
        match part.split_once('[') {
            Some((key, index)) => {
                route = route.key(key);
                if let Ok(i) = index.trim_end_matches(']').parse::<usize>() {
                    route = route.index(i);
                }
            }
            None => route = route.key(part),
        }
    }
    route.key("role")
}

fn line_start(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1)
}

/// The offset after the newline that ends the line holding `offset - 1` (the end of a span).
fn line_end(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    if offset > 0 && text.as_bytes()[offset - 1] == b'\n' {
        return offset;
    }
    text[offset..]
        .find('\n')
        .map_or(text.len(), |i| offset + i + 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::infer::{Origin, RoleNeeds};

    fn inference() -> Inference {
        Inference {
            version: 1,
            roles: vec![RoleNeeds {
                role: "arn:aws:iam::1:role/deploy".to_owned(),
                name: "deploy".to_owned(),
                account: "111111111111".to_owned(),
                defined_at: "environments.staging".to_owned(),
                statements: vec![Need {
                    statement: json!({"Sid": "S", "Effect": "Allow", "Action": ["s3:PutObject"],
                        "Resource": "arn:aws:s3:::site/*",
                        "Condition": {"StringLike": {"s3:prefix": ["www/*"]}}}),
                    from: vec![Origin {
                        repository: "web".to_owned(),
                        file: "bitbucket-pipelines.yml".to_owned(),
                        line: 12,
                        text: "keyless deploy s3 --bucket site".to_owned(),
                        source: "keyless deploy s3".to_owned(),
                    }],
                }],
                unknown: 0,
            }],
            unknown: Vec::new(),
            narrow_by_hand: Vec::new(),
        }
    }

    #[test]
    fn scalars_are_plain_only_when_safe() {
        assert_eq!(scalar(&json!("s3:PutObject")), "s3:PutObject");
        assert_eq!(scalar(&json!("arn:aws:s3:::site/*")), "arn:aws:s3:::site/*");
        assert_eq!(scalar(&json!("*")), "\"*\"");
        assert_eq!(scalar(&json!("todo")), "\"todo\"");
        assert_eq!(scalar(&json!("123")), "\"123\"");
        assert_eq!(scalar(&json!("a b")), "\"a b\"");
    }

    #[test]
    fn write_adds_a_block_at_the_end_of_the_role_keeping_comments() {
        let text = "# top comment\nenvironments:\n  staging:\n    role:\n      name: deploy # the name\n    region: eu-west-1\n";
        let out = write(text, &inference()).unwrap();
        assert!(out.starts_with("# top comment\n"), "{out}");
        assert!(
            out.contains("      name: deploy # the name\n      # Inferred by"),
            "{out}"
        );
        assert!(out.ends_with("    region: eu-west-1\n"), "{out}");
        let root = keyless_pipelines::parse_document(&out).unwrap();
        let route = keyless_pipelines::Route::root()
            .key("environments")
            .key("staging")
            .key("role")
            .key("permissions");
        let statements = root.at(&route).unwrap().as_seq().unwrap();
        assert_eq!(statements.len(), 1);
        assert_eq!(
            statements[0].get("Resource").and_then(|n| n.as_str()),
            Some("arn:aws:s3:::site/*")
        );
        // Writing again replaces the block.
        assert_eq!(write(&out, &inference()).unwrap(), out);
    }
}
