//! Terraform in JSON syntax (`<account>.tf.json`): `aws_iam_openid_connect_provider`, `aws_iam_role`,
//! `aws_iam_role_policy_attachment` and `aws_iam_role_policy`.
//!
//! Policies are embedded as JSON strings. Terraform's JSON syntax interpolates `${` and `%{` in every string, so
//! literal occurrences (IAM policy variables such as `${aws:username}`) are escaped as `$${` and `%%{`.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::plan::{AccountPlan, Plan};

const PROVIDER: &str = "bitbucket";

/// Escape Terraform template sequences in a literal string.
pub fn escape(text: &str) -> String {
    text.replace("${", "$${").replace("%{", "%%{")
}

fn escape_value(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(escape(text)),
        Value::Array(items) => Value::Array(items.iter().map(escape_value).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (escape(k), escape_value(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A Terraform resource name: lowercase letters, digits and underscores.
fn resource_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert_str(0, "role_");
    }
    out
}

pub fn module(plan: &Plan, account: &AccountPlan) -> Value {
    let mut provider = Map::new();
    provider.insert("url".into(), json!(account.provider.url));
    provider.insert(
        "client_id_list".into(),
        escape_value(&json!(account.provider.client_ids)),
    );
    if !account.provider.thumbprints.is_empty() {
        provider.insert(
            "thumbprint_list".into(),
            json!(account.provider.thumbprints),
        );
    }
    provider.insert("tags".into(), json!({ "managed-by": "keyless" }));

    let mut roles = Map::new();
    let mut attachments = Map::new();
    let mut inline = Map::new();
    let mut outputs = Map::new();
    let mut used = HashSet::new();
    for role in &account.roles {
        let mut name = resource_name(&role.name);
        let base = name.clone();
        let mut counter = 2;
        while !used.insert(name.clone()) {
            name = format!("{base}_{counter}");
            counter += 1;
        }
        let mut resource = Map::new();
        resource.insert("name".into(), json!(role.name));
        resource.insert("path".into(), json!(role.path));
        resource.insert("description".into(), json!(escape(&role.description)));
        resource.insert(
            "assume_role_policy".into(),
            json!(escape(&role.trust_policy_text())),
        );
        resource.insert(
            "max_session_duration".into(),
            json!(role.max_session_duration),
        );
        if let Some(boundary) = &role.permissions_boundary {
            resource.insert("permissions_boundary".into(), json!(boundary));
        }
        resource.insert("tags".into(), escape_value(&json!(role.tags)));
        resource.insert(
            "depends_on".into(),
            json!([format!("aws_iam_openid_connect_provider.{PROVIDER}")]),
        );
        roles.insert(name.clone(), Value::Object(resource));
        for (index, arn) in role.managed_policies.iter().enumerate() {
            attachments.insert(
                format!("{name}_{}", index + 1),
                json!({ "role": format!("${{aws_iam_role.{name}.name}}"), "policy_arn": arn }),
            );
        }
        for (policy_name, document) in &role.inline_policies {
            let text = serde_json::to_string(document).unwrap_or_default();
            inline.insert(
                format!("{name}_{}", resource_name(policy_name)),
                json!({
                    "name": policy_name,
                    "role": format!("${{aws_iam_role.{name}.id}}"),
                    "policy": escape(&text),
                }),
            );
        }
        outputs.insert(
            format!("{name}_arn"),
            json!({ "description": format!("ARN of role {}", role.name), "value": format!("${{aws_iam_role.{name}.arn}}") }),
        );
    }
    outputs.insert(
        "oidc_provider_arn".into(),
        json!({ "value": format!("${{aws_iam_openid_connect_provider.{PROVIDER}.arn}}") }),
    );

    let mut resources = Map::new();
    resources.insert(
        "aws_iam_openid_connect_provider".into(),
        json!({ PROVIDER: provider }),
    );
    resources.insert("aws_iam_role".into(), Value::Object(roles));
    if !attachments.is_empty() {
        resources.insert(
            "aws_iam_role_policy_attachment".into(),
            Value::Object(attachments),
        );
    }
    if !inline.is_empty() {
        resources.insert("aws_iam_role_policy".into(), Value::Object(inline));
    }
    json!({
        "//": format!(
            "Bitbucket Pipelines OIDC trust for workspace {} in account {}. Generated by keyless plan; edit keyless.yml, not this file.",
            plan.workspace, account.account
        ),
        "terraform": { "required_providers": { "aws": { "source": "hashicorp/aws", "version": ">= 5.0" } } },
        "resource": resources,
        "output": outputs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_sequences_are_escaped() {
        assert_eq!(
            escape("arn:${aws:username}/%{x}"),
            "arn:$${aws:username}/%%{x}"
        );
        assert_eq!(resource_name("bitbucket-acme-prod"), "bitbucket_acme_prod");
        assert_eq!(resource_name("1x"), "role_1x");
    }
}
