//! Renderers of a [`Plan`]: one file per AWS account in CloudFormation, Terraform (JSON syntax) or plain IAM
//! JSON, and a readable summary for people.

pub mod cloudformation;
pub mod summary;
pub mod terraform;

use serde_json::{Value, json};

use crate::plan::{AccountPlan, Plan};

/// An output format of `keyless plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    CloudFormation,
    Terraform,
    Json,
}

impl Format {
    /// The file name of `account`'s output.
    pub fn file_name(self, account: &str) -> String {
        match self {
            Format::CloudFormation => format!("{account}.template.json"),
            Format::Terraform => format!("{account}.tf.json"),
            Format::Json => format!("{account}.iam.json"),
        }
    }
}

/// A rendered file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedFile {
    pub file_name: String,
    pub contents: String,
}

/// Render every account of `plan` in `format`, in account order.
pub fn render(plan: &Plan, format: Format) -> Vec<RenderedFile> {
    plan.accounts
        .iter()
        .map(|account| {
            let value = match format {
                Format::CloudFormation => cloudformation::template(plan, account),
                Format::Terraform => terraform::module(plan, account),
                Format::Json => iam_json(plan, account),
            };
            let mut contents = serde_json::to_string_pretty(&value).unwrap_or_default();
            contents.push('\n');
            RenderedFile {
                file_name: format.file_name(&account.account),
                contents,
            }
        })
        .collect()
}

/// The plain JSON form: the provider and roles as IAM's API takes them.
pub fn iam_json(plan: &Plan, account: &AccountPlan) -> Value {
    json!({
        "workspace": plan.workspace,
        "issuer": plan.issuer,
        "audience": plan.audience,
        "account": account.account,
        "provider": account.provider,
        "roles": account.roles,
    })
}

/// A resource name from a role name: letters and digits only, PascalCase, prefixed.
pub(crate) fn identifier(prefix: &str, name: &str) -> String {
    let mut out = String::from(prefix);
    let mut upper = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}
