//! Differential test of keyless's `aws_iam_policy_document` rendering against the real thing: the machine's
//! Terraform 1.11 with `hashicorp/aws` 5.100 (offline mirror, harness in `clients/terraform.rs`) applies
//! `fixtures/terraform/policy_documents.tf` (data sources only: the provider calls no AWS API for them) and prints
//! every document's `json`; keyless renders the same file with `keyless_audit::policy::terraform`
//! (`render_documents`). Byte-for-byte equal, document by document, and every data source of the file rendered.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod clients;
mod emulate_process;

use clients::terraform::Terraform;
use keyless_audit::policy::terraform::{Source, Variables, render_documents};

const FIXTURE: &str = include_str!("fixtures/terraform/policy_documents.tf");

/// The provider block for data sources only: no credentials check, no account lookup, no metadata.
const PROVIDER: &str = r#"
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "AKIAIOSFODNN7EXAMPLE"
  secret_key                  = "not-a-secret-not-a-secret-not-a-secret00"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = true
}
"#;

/// Every data source of the fixture, by keyless's address (`data.aws_iam_policy_document.NAME[KEY]`).
const OUTPUTS: &str = r#"
output "documents" {
  value = merge(
    { for name, d in {
      dynamic_conditions = data.aws_iam_policy_document.dynamic_conditions
      per_repository     = data.aws_iam_policy_document.per_repository
      mixed              = data.aws_iam_policy_document.mixed
      anyone             = data.aws_iam_policy_document.anyone
      empty              = data.aws_iam_policy_document.empty
      merged             = data.aws_iam_policy_document.merged
    } : "data.aws_iam_policy_document.${name}" => d.json },
    { for k, d in data.aws_iam_policy_document.each : "data.aws_iam_policy_document.each[\"${k}\"]" => d.json },
    { for i, d in data.aws_iam_policy_document.counted : "data.aws_iam_policy_document.counted[${i}]" => d.json },
  )
}
"#;

#[test]
fn policy_documents_render_as_terraform_renders_them() {
    let ours = render_documents(
        &[Source {
            input: 0,
            path: "policy_documents.tf",
            text: FIXTURE,
            json: None,
        }],
        &Variables::default(),
    );
    let data_sources = FIXTURE.matches("data \"aws_iam_policy_document\"").count();
    // `each` has two instances and `counted` two: one more each than their blocks.
    assert_eq!(
        ours.len(),
        data_sources + 2,
        "keyless left documents out: {:?}",
        ours.iter().map(|(a, _)| a).collect::<Vec<_>>()
    );

    let Some(tf) = Terraform::new() else { return };
    tf.write("policy_documents.tf", FIXTURE);
    tf.write("provider.tf", PROVIDER);
    tf.write("outputs.tf", OUTPUTS);
    tf.ok(&["init", "-input=false", "-no-color"]);
    tf.ok(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let out: serde_json::Value =
        serde_json::from_str(&tf.ok(&["output", "-json", "documents"])).unwrap();
    let theirs = out.as_object().unwrap();
    assert_eq!(
        theirs.len(),
        ours.len(),
        "{:?}",
        theirs.keys().collect::<Vec<_>>()
    );
    for (address, json) in &ours {
        let expected = theirs
            .get(address)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_else(|| panic!("Terraform has no {address}"));
        assert_eq!(json, expected, "{address} renders differently");
    }
}
