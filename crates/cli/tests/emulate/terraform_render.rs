//! Differential test of keyless's `aws_iam_policy_document` rendering against the real thing: the machine's
//! Terraform 1.11 with `hashicorp/aws` 5.100 (offline mirror, harness in `clients/terraform.rs`) applies
//! `fixtures/terraform/policy_documents.tf` (data sources only: the provider calls no AWS API for them) and prints
//! every document's `json`; keyless renders the same file with `keyless_audit::policy::terraform`
//! (`render_documents`). Byte-for-byte equal, document by document, and every data source of the file rendered.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use crate::support::clients;

use clients::terraform::Terraform;
use keyless_audit::policy::terraform::{Source, Variables, render_documents};

const FIXTURE: &str = include_str!("../fixtures/terraform/policy_documents.tf");

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

// ---------------------------------------------------------------------------------------------------------------
// Module models (keyless_audit::policy::terraform::models) against the modules they model.
// ---------------------------------------------------------------------------------------------------------------

/// The variable declarations of terraform-aws-modules/iam v5.5.5 `modules/iam-assumable-role-with-oidc` that its
/// main.tf reads (names, types and defaults of the module's variables.tf; the corpus holds only main.tf). The types
/// matter: the `set(string)` inputs come out sorted.
const V5_VARIABLES: &str = r#"
variable "create_role" { type = bool, default = false }
variable "provider_url" { type = string, default = "" }
variable "provider_urls" { type = list(string), default = [] }
variable "aws_account_id" { type = string, default = "" }
variable "tags" { type = map(string), default = {} }
variable "role_name" { type = string, default = null }
variable "role_name_prefix" { type = string, default = null }
variable "role_description" { type = string, default = "" }
variable "role_path" { type = string, default = "/" }
variable "role_permissions_boundary_arn" { type = string, default = "" }
variable "max_session_duration" { type = number, default = 3600 }
variable "role_policy_arns" { type = list(string), default = [] }
variable "number_of_role_policy_arns" { type = number, default = null }
variable "oidc_fully_qualified_subjects" { type = set(string), default = [] }
variable "oidc_subjects_with_wildcards" { type = set(string), default = [] }
variable "oidc_fully_qualified_audiences" { type = set(string), default = [] }
variable "force_detach_policies" { type = bool, default = false }
variable "allow_self_assume_role" { type = bool, default = false }
"#;

/// The same for terraform-aws-modules/iam v6 `modules/iam-role` (variables.tf of the v6 module).
const V6_VARIABLES: &str = r#"
variable "create" { type = bool, default = true }
variable "tags" { type = map(string), default = {} }
variable "name" { type = string, default = null }
variable "use_name_prefix" { type = bool, default = true }
variable "path" { type = string, default = null }
variable "description" { type = string, default = null }
variable "max_session_duration" { type = number, default = null }
variable "permissions_boundary" { type = string, default = null }
variable "trust_policy_permissions" {
  type = map(object({
    sid           = optional(string)
    actions       = optional(list(string))
    not_actions   = optional(list(string))
    effect        = optional(string, "Allow")
    resources     = optional(list(string))
    not_resources = optional(list(string))
    principals = optional(list(object({
      type        = string
      identifiers = list(string)
    })))
    not_principals = optional(list(object({
      type        = string
      identifiers = list(string)
    })))
    condition = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })))
  }))
  default = null
}
variable "trust_policy_conditions" {
  type = list(object({
    test     = string
    variable = string
    values   = list(string)
  }))
  default = []
}
variable "policies" { type = map(string), default = {} }
variable "enable_oidc" { type = bool, default = false }
variable "oidc_account_id" { type = string, default = null }
variable "oidc_provider_urls" { type = list(string), default = [] }
variable "oidc_subjects" { type = list(string), default = [] }
variable "oidc_wildcard_subjects" { type = list(string), default = [] }
variable "oidc_audiences" { type = list(string), default = [] }
variable "enable_github_oidc" { type = bool, default = false }
variable "github_provider" { type = string, default = "token.actions.githubusercontent.com" }
variable "enable_bitbucket_oidc" { type = bool, default = false }
variable "enable_saml" { type = bool, default = false }
variable "saml_provider_ids" { type = list(string), default = [] }
variable "saml_endpoints" { type = list(string), default = ["https://signin.aws.amazon.com/saml"] }
variable "saml_trust_actions" { type = list(string), default = [] }
variable "create_inline_policy" { type = bool, default = false }
variable "source_inline_policy_documents" { type = list(string), default = [] }
variable "override_inline_policy_documents" { type = list(string), default = [] }
variable "inline_policy_permissions" { type = any, default = null }
variable "create_instance_profile" { type = bool, default = false }
"#;

const ISSUER: &str = "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";
const AUDIENCE: &str = "ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11";

/// One comparison: the module (its registry source and version, its main.tf in the corpus, the variables it
/// declares, the document that becomes the role's trust policy) and the inputs of a call.
struct ModelCase {
    source: &'static str,
    version: &'static str,
    corpus_main: &'static str,
    variables: &'static str,
    document: &'static str,
    inputs: serde_json::Value,
}

fn model_cases() -> Vec<ModelCase> {
    use serde_json::json;
    let v5 = |inputs| ModelCase {
        source: "terraform-aws-modules/iam/aws//modules/iam-assumable-role-with-oidc",
        version: "5.5.5",
        corpus_main: "010__modules_iam-assumable-role-with-oidc_main.tf",
        variables: V5_VARIABLES,
        document: "assume_role_with_oidc",
        inputs,
    };
    let v6 = |inputs| ModelCase {
        source: "terraform-aws-modules/iam/aws//modules/iam-role",
        version: "~> 6.0",
        corpus_main: "043__main.tf",
        variables: V6_VARIABLES,
        document: "this",
        inputs,
    };
    vec![
        // The corpus's 010 call, with two subjects in reverse order (a set: Terraform sorts them).
        v5(json!({
            "create_role": true,
            "role_name": "bitbucket-provisioner",
            "provider_urls": [ISSUER],
            "oidc_subjects_with_wildcards": ["{b3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}:*", "{7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80}:*"],
            "allow_self_assume_role": true,
        })),
        v5(json!({
            "create_role": true,
            "role_name_prefix": "deploy-",
            "provider_url": ISSUER,
            "provider_urls": [ISSUER, "api.bitbucket.org/2.0/workspaces/other/pipelines-config/identity/oidc"],
            "aws_account_id": "210987654321",
            "oidc_fully_qualified_subjects": ["{7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80}:{66666666-7777-8888-9999-000000000000}:{e1d2c3b4-a596-4877-8695-a4b3c2d1e0f9}"],
            "oidc_fully_qualified_audiences": [AUDIENCE, "sts.amazonaws.com"],
        })),
        // The corpus's 043 call: the audience defaults to sts.amazonaws.com.
        v6(json!({
            "name": "bitbucket",
            "enable_bitbucket_oidc": true,
            "oidc_provider_urls": [ISSUER],
            "oidc_wildcard_subjects": ["{7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80}:*"],
        })),
        v6(json!({
            "name": "everything",
            "enable_oidc": true,
            "enable_bitbucket_oidc": true,
            "enable_github_oidc": true,
            "oidc_provider_urls": [ISSUER],
            "oidc_account_id": "210987654321",
            "oidc_subjects": ["{7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80}:{66666666-7777-8888-9999-000000000000}:*"],
            "oidc_wildcard_subjects": ["{7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80}:*", "repo:acme/*"],
            "oidc_audiences": [AUDIENCE],
            "trust_policy_conditions": [
                {"test": "IpAddress", "variable": "aws:SourceIp", "values": ["203.0.113.0/24"]},
                {"test": "StringEquals", "variable": "aws:RequestTag/team", "values": ["platform"]},
            ],
        })),
        v6(json!({
            "name": "custom",
            "use_name_prefix": false,
            "trust_policy_permissions": {
                "BreakGlass": {
                    "actions": ["sts:AssumeRole", "sts:TagSession"],
                    "principals": [{"type": "AWS", "identifiers": ["arn:aws:iam::210987654321:root"]}],
                    "condition": [{"test": "Bool", "variable": "aws:MultiFactorAuthPresent", "values": ["true"]}],
                },
                "ci": {
                    "sid": "Pipelines",
                    "effect": "Allow",
                    "actions": ["sts:AssumeRoleWithWebIdentity"],
                    "principals": [{"type": "Federated", "identifiers": ["arn:aws:iam::210987654321:oidc-provider/api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"]}],
                },
            },
        })),
    ]
}

/// The one-line declarations above (`variable "x" { type = T, default = D }`) as Terraform wants them, one
/// argument per line.
fn multi_line(declarations: &str) -> String {
    declarations
        .lines()
        .map(
            |line| match line.strip_suffix(" }").and_then(|l| l.split_once(" { ")) {
                Some((head, body)) if head.starts_with("variable ") => {
                    let args = body.replacen(", default = ", "\n  default = ", 1);
                    format!("{head} {{\n  {args}\n}}")
                }
                _ => line.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// A JSON value written in Terraform's native syntax (objects with `=`).
fn hcl(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Array(items) => {
            format!("[{}]", items.iter().map(hcl).collect::<Vec<_>>().join(", "))
        }
        serde_json::Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, x)| format!("{} = {}", serde_json::Value::from(k.as_str()), hcl(x)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// The account and partition parts of IAM ARNs (`arn:aws:iam::123456789012:`, or with keyless's unknown
/// `${…}` parts: both come from the module's `aws_caller_identity`/`aws_partition` data sources, which keyless
/// cannot know offline) made the same on both sides.
fn without_account(json: &str) -> String {
    let mut out = String::new();
    let mut rest = json;
    while let Some(i) = rest.find("arn:") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        // `<partition>:iam::<account>:` where each part is plain text or one `${...}`.
        let part = |s: &str| -> Option<usize> {
            if s.starts_with("${") {
                s.find('}').map(|e| e + 1)
            } else {
                s.find([':', '"']).filter(|&e| s[e..].starts_with(':'))
            }
        };
        match part(after).and_then(|p| {
            let r = after[p..].strip_prefix(":iam::")?;
            let a = part(r)?;
            r[a..]
                .starts_with(':')
                .then_some(p + ":iam::".len() + a + 1)
        }) {
            Some(len) => {
                out.push_str("arn:PARTITION:iam::ACCOUNT:");
                rest = &after[len..];
            }
            None => {
                out.push_str("arn:");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn module_models_render_the_trust_policy_the_modules_render() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/trust/sources");
    if !corpus.is_dir() {
        eprintln!("skip: {} not found", corpus.display());
        return;
    }
    let cases = model_cases();
    // keyless's side first: it needs neither Terraform nor the emulator.
    let mut ours = Vec::new();
    for case in &cases {
        let mut call = format!(
            "module \"m\" {{\n  source  = \"{}\"\n  version = \"{}\"\n",
            case.source, case.version
        );
        for (name, value) in case.inputs.as_object().unwrap() {
            call.push_str(&format!("  {name} = {}\n", hcl(value)));
        }
        call.push_str("}\n");
        let rendered = keyless_audit::policy::terraform::render_called_documents(
            &[Source {
                input: 0,
                path: "main.tf",
                text: &call,
                json: None,
            }],
            &Variables::default(),
        );
        let address = format!("module.m.data.aws_iam_policy_document.{}[0]", case.document);
        let json = rendered
            .iter()
            .find(|(a, _)| *a == address)
            .map(|(_, j)| j.clone())
            .unwrap_or_else(|| panic!("the model rendered no {address}: {rendered:?}\n{call}"));
        ours.push(without_account(&json));
    }

    let Some(tf) = Terraform::new() else { return };
    let emu = clients::SpawnedEmulator::start(&["123456789012"], &[]);
    let (key, secret) = emu.key("123456789012");
    // One Terraform root for every case (one init, one apply, one show: each Terraform command starts the 675 MB
    // provider, which is most of this test's time): the module's own main.tf, with its variables, as the local
    // module `./caseN`, called with the case's inputs written exactly as keyless's side read them above.
    let mut root = format!(
        "terraform {{\n  required_providers {{\n    aws = {{ source = \"hashicorp/aws\" }}\n  }}\n}}\n{}",
        clients::terraform::provider_block(
            &emu.endpoint,
            &clients::terraform::Auth::Static {
                access_key: &key,
                secret_key: &secret,
            },
        )
    );
    let mut targets = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let main = std::fs::read_to_string(corpus.join(case.corpus_main)).unwrap();
        let dir = tf.work().join(format!("case{i}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("main.tf"), &main).unwrap();
        std::fs::write(dir.join("variables.tf"), multi_line(case.variables)).unwrap();
        root.push_str(&format!(
            "module \"case{i}\" {{\n  source = \"./case{i}\"\n"
        ));
        for (name, value) in case.inputs.as_object().unwrap() {
            root.push_str(&format!("  {name} = {}\n", hcl(value)));
        }
        root.push_str("}\n");
        // Only the document (and the data sources it reads): no role is made.
        targets.push(format!(
            "-target=module.case{i}.data.aws_iam_policy_document.{}",
            case.document
        ));
    }
    tf.write("main.tf", &root);
    tf.ok(&["init", "-input=false", "-no-color"]);
    let mut apply = vec!["apply", "-auto-approve", "-input=false", "-no-color"];
    apply.extend(targets.iter().map(String::as_str));
    tf.ok(&apply);
    let state: serde_json::Value = serde_json::from_str(&tf.ok(&["show", "-json"])).unwrap();
    let modules = state
        .pointer("/values/root_module/child_modules")
        .and_then(serde_json::Value::as_array)
        .unwrap_or_else(|| panic!("no modules in the state: {state}"));
    for (i, (case, ours)) in cases.iter().zip(&ours).enumerate() {
        let address = format!(
            "module.case{i}.data.aws_iam_policy_document.{}[0]",
            case.document
        );
        let theirs = modules
            .iter()
            .filter_map(|m| m["resources"].as_array())
            .flatten()
            .find(|r| r["address"] == address)
            .and_then(|r| r.pointer("/values/json"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_else(|| panic!("no {address} in the state: {state}"));
        assert_eq!(
            ours,
            &without_account(theirs),
            "the model of {} renders differently for {}",
            case.source,
            case.inputs
        );
    }
}
