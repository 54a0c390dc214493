//! Terraform as real modules write trust: a module whose broad subject pattern is a variable default in another
//! file, reached through a `dynamic` condition of an `aws_iam_policy_document`; `jsonencode(...)` and heredoc
//! policies; the OIDC provider resource's client IDs; values known only after apply; `.tf.json`; `terraform show
//! -json` output; a syntax error. Each finding is located in the file and line where the value is written.
#![allow(clippy::unwrap_used)]

use keyless_audit::policy::terraform::Variables;
use keyless_audit::{Finding, Input, InputKind, Severity};

#[path = "common/terraform.rs"]
mod common;

use common::{audit, audit_with, rules};

const ISSUER: &str = "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";

const MAIN: &str = r#"locals {
  issuer   = "api.bitbucket.org/2.0/workspaces/${var.workspace}/pipelines-config/identity/oidc"
  audience = "ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11"
}

resource "aws_iam_openid_connect_provider" "bitbucket" {
  url             = "https://${local.issuer}"
  client_id_list  = [local.audience]
  thumbprint_list = ["a031c46782e6e6c662c2c87c76da9aa62ccabd8e"]
}

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.bitbucket.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = [local.audience]
    }
    dynamic "condition" {
      for_each = length(var.subjects) > 0 ? [var.subjects] : []
      content {
        test     = "StringLike"
        variable = "${local.issuer}:sub"
        values   = condition.value
      }
    }
  }
}

resource "aws_iam_role" "deploy" {
  name               = "bitbucket-deploy"
  assume_role_policy = data.aws_iam_policy_document.trust.json
}
"#;

const VARIABLES: &str = r#"variable "workspace" {
  type    = string
  default = "acme"
}

variable "subjects" {
  type    = list(string)
  default = ["*"]
}
"#;

#[test]
fn module_hides_every_repository_behind_a_variable_default() {
    let findings = audit(&[("infra/main.tf", MAIN), ("infra/variables.tf", VARIABLES)]);
    let broad: Vec<&Finding> = findings.iter().filter(|f| f.rule == "broad-sub").collect();
    assert_eq!(broad.len(), 1, "{findings:#?}");
    // At the default of `var.subjects`, in the other file.
    assert_eq!(broad[0].location.path, "infra/variables.tf");
    assert_eq!(broad[0].location.line, 8, "{:#?}", broad[0]);
    // The provider's URL and client ID resolve through locals and a variable: nothing is unresolved.
    assert!(
        !rules(&findings).contains(&"unresolved-reference"),
        "{findings:#?}"
    );
    assert!(
        !rules(&findings).contains(&"provider-client-id"),
        "{findings:#?}"
    );
}

#[test]
fn tf_var_file_overrides_the_default() {
    let vars = Variables::parse(
        "prod.tfvars",
        "subjects = [\"{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}:*\"]\n",
    )
    .unwrap();
    let findings = audit_with(
        &[("infra/main.tf", MAIN), ("infra/variables.tf", VARIABLES)],
        vars,
    );
    assert!(
        findings.iter().all(|f| f.severity < Severity::Medium),
        "{findings:#?}"
    );
    let bad = Variables::parse("x.tfvars", "subjects = var.other\n").unwrap_err();
    assert!(bad.contains("not a constant"), "{bad}");
}

#[test]
fn no_subject_condition_when_the_variable_is_empty() {
    let vars = Variables::parse("v.tfvars.json", r#"{"subjects": []}"#).unwrap();
    let findings = audit_with(
        &[("infra/main.tf", MAIN), ("infra/variables.tf", VARIABLES)],
        vars,
    );
    assert!(
        rules(&findings).contains(&"missing-sub-condition"),
        "{findings:#?}"
    );
}

#[test]
fn jsonencode_and_heredoc_roles() {
    let tf = format!(
        r#"resource "aws_iam_role" "jsonencoded" {{
  name = "deploy-prod"
  assume_role_policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Effect    = "Allow"
      Action    = "sts:AssumeRoleWithWebIdentity"
      Principal = {{ Federated = "arn:aws:iam::123456789012:oidc-provider/{ISSUER}" }}
    }}]
  }})
}}

resource "aws_iam_role" "heredoc" {{
  name = "deploy-staging"
  assume_role_policy = <<EOF
{{
  "Version": "2012-10-17",
  "Statement": [{{
    "Effect": "Allow",
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Principal": {{"Federated": "arn:aws:iam::123456789012:oidc-provider/{ISSUER}"}},
    "Condition": {{"StringEquals": {{"{ISSUER}:aud": "sts.amazonaws.com"}}}}
  }}]
}}
EOF
}}
"#
    );
    let findings = audit(&[("roles.tf", &tf)]);
    let no_condition: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == "oidc-trust-without-condition")
        .collect();
    assert_eq!(no_condition.len(), 1, "{findings:#?}");
    assert_eq!(no_condition[0].location.path, "roles.tf");
    assert!(
        (3..=10).contains(&no_condition[0].location.line),
        "{:#?}",
        no_condition[0]
    );
    // The heredoc's GitHub audience, at its line.
    let aud: Vec<&Finding> = findings.iter().filter(|f| f.rule == "aud-format").collect();
    assert_eq!(aud.len(), 1, "{findings:#?}");
    assert_eq!(aud[0].location.line, 22, "{:#?}", aud[0]);
}

#[test]
fn provider_client_ids_are_checked() {
    let tf = format!(
        r#"resource "aws_iam_openid_connect_provider" "bitbucket" {{
  url            = "https://{ISSUER}"
  client_id_list = ["sts.amazonaws.com"]
}}
"#
    );
    let findings = audit(&[("oidc.tf", &tf)]);
    let f: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == "provider-client-id")
        .collect();
    assert_eq!(f.len(), 1, "{findings:#?}");
    assert_eq!(f[0].location.line, 3);
}

#[test]
fn values_known_after_apply_are_unresolved_not_passed() {
    let tf = r#"resource "aws_iam_role" "r" {
  name               = "deploy"
  assume_role_policy = module.trust.json
}

module "trust" {
  source = "./trust"
}

data "aws_iam_policy_document" "d" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.provider_arn]
    }
  }
}
"#;
    let findings = audit(&[("main.tf", tf)]);
    let unresolved: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == "unresolved-reference")
        .collect();
    assert!(unresolved.len() >= 2, "{findings:#?}");
    assert!(
        unresolved
            .iter()
            .any(|f| f.message.contains("module.trust")),
        "{unresolved:#?}"
    );
    assert!(
        unresolved
            .iter()
            .any(|f| f.message.contains("var.provider_arn")),
        "{unresolved:#?}"
    );
}

/// A statement list that is a union of known statements with ones known only at apply: the known statements are
/// judged (an operand of `concat`/`setunion` can add statements, never remove one), the unknown ones are
/// `unresolved-reference` where they are written, never passed.
#[test]
fn the_known_part_of_a_partly_unknown_statement_list_is_judged() {
    let oidc = format!(
        r#"{{
    Effect    = "Allow"
    Action    = "sts:AssumeRoleWithWebIdentity"
    Principal = {{ Federated = "arn:aws:iam::123456789012:oidc-provider/{ISSUER}" }}
    Condition = {{ StringEquals = {{ "{ISSUER}:aud" = "ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11" }} }}
  }}"#
    );
    for (name, statements) in [
        ("concat", "concat([local.oidc], var.extra_statements)"),
        (
            "setunion",
            "setunion([local.oidc], var.account != \"\" ? [local.other] : [])",
        ),
        ("flatten", "flatten([[local.oidc], var.extra_statements])"),
        (
            "for",
            "[for s in concat([local.oidc], var.extra_statements) : s]",
        ),
    ] {
        let tf = format!(
            r#"locals {{
  oidc = {oidc}
  other = {{ Effect = "Allow", Action = "sts:AssumeRole", Principal = {{ AWS = "arn:aws:iam::${{var.account}}:root" }} }}
}}

resource "aws_iam_role" "r" {{
  name = "deploy"
  assume_role_policy = jsonencode({{
    Version   = "2012-10-17"
    Statement = {statements}
  }})
}}
"#
        );
        let findings = audit(&[("main.tf", &tf)]);
        let got = rules(&findings);
        assert!(
            got.contains(&"missing-sub-condition"),
            "{name}: {findings:#?}"
        );
        let unresolved: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.rule == "unresolved-reference")
            .collect();
        assert_eq!(unresolved.len(), 1, "{name}: {findings:#?}");
        assert!(
            unresolved[0].message.contains("var.")
                && unresolved[0].message.contains("missing-sub-condition"),
            "{name}: {unresolved:#?}"
        );
        let line = tf.lines().position(|l| l.contains("Statement =")).unwrap() + 1;
        assert_eq!(unresolved[0].location.line, line, "{name}");
    }

    // `dynamic "statement"` blocks over a partly known list: the known element's statement is rendered.
    let tf = format!(
        r#"locals {{
  subjects = [{{ aud = "ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11" }}]
}}

data "aws_iam_policy_document" "trust" {{
  dynamic "statement" {{
    for_each = concat(local.subjects, var.more)
    content {{
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {{
        type        = "Federated"
        identifiers = ["arn:aws:iam::123456789012:oidc-provider/{ISSUER}"]
      }}
      condition {{
        test     = "StringEquals"
        variable = "{ISSUER}:aud"
        values   = [statement.value.aud]
      }}
    }}
  }}
}}

resource "aws_iam_role" "r" {{
  name               = "deploy"
  assume_role_policy = data.aws_iam_policy_document.trust.json
}}
"#
    );
    let findings = audit(&[("main.tf", &tf)]);
    let got = rules(&findings);
    assert!(got.contains(&"missing-sub-condition"), "{findings:#?}");
    assert!(got.contains(&"unresolved-reference"), "{findings:#?}");

    // A merge of maps is not a union: a later unknown map may replace a known key, so nothing is judged as known.
    let tf = format!(
        r#"resource "aws_iam_role" "r" {{
  name = "deploy"
  assume_role_policy = jsonencode({{
    Version   = "2012-10-17"
    Statement = [{{
      Effect    = "Allow"
      Action    = "sts:AssumeRoleWithWebIdentity"
      Principal = {{ Federated = "arn:aws:iam::123456789012:oidc-provider/{ISSUER}" }}
      Condition = merge({{ StringEquals = {{ "{ISSUER}:aud" = "ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11" }} }}, var.extra_conditions)
    }}]
  }})
}}
"#
    );
    let findings = audit(&[("main.tf", &tf)]);
    let got = rules(&findings);
    assert!(!got.contains(&"missing-sub-condition"), "{findings:#?}");
    assert!(got.contains(&"unresolved-reference"), "{findings:#?}");
}

#[test]
fn tf_json_is_read() {
    let json = format!(
        r#"{{
  "resource": {{
    "aws_iam_role": {{
      "deploy": {{
        "name": "deploy",
        "assume_role_policy": "${{jsonencode({{Version = \"2012-10-17\", Statement = [{{Effect = \"Allow\", Action = \"sts:AssumeRoleWithWebIdentity\", Principal = {{Federated = \"arn:aws:iam::123456789012:oidc-provider/{ISSUER}\"}}}}]}})}}"
      }}
    }}
  }}
}}
"#
    );
    let input = Input::parse("main.tf.json", &json).unwrap();
    assert_eq!(input.kind, InputKind::Terraform);
    let findings = audit(&[("main.tf.json", &json)]);
    assert!(
        rules(&findings).contains(&"oidc-trust-without-condition"),
        "{findings:#?}"
    );
}

#[test]
fn terraform_show_json_is_read() {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Principal": {"Federated": format!("arn:aws:iam::123456789012:oidc-provider/{ISSUER}")},
            "Condition": {"StringLike": {format!("{ISSUER}:sub"): "*"}}
        }]
    });
    let plan = serde_json::json!({
        "format_version": "1.2",
        "terraform_version": "1.11.0",
        "planned_values": {"root_module": {"child_modules": [{"address": "module.oidc", "resources": [{
            "address": "module.oidc.aws_iam_role.this",
            "mode": "managed",
            "type": "aws_iam_role",
            "name": "this",
            "values": {"name": "deploy", "assume_role_policy": policy.to_string()}
        }]}]}}
    });
    let text = serde_json::to_string_pretty(&plan).unwrap();
    let input = Input::parse("plan.json", &text).unwrap();
    assert_eq!(input.kind, InputKind::TerraformPlan);
    let findings = audit(&[("plan.json", &text)]);
    let broad: Vec<&Finding> = findings.iter().filter(|f| f.rule == "broad-sub").collect();
    assert_eq!(broad.len(), 1, "{findings:#?}");
    assert!(
        text.lines()
            .nth(broad[0].location.line - 1)
            .unwrap()
            .contains("assume_role_policy")
    );
}

#[test]
fn syntax_error_is_bad_input() {
    let err = Input::parse(
        "broken.tf",
        "resource \"aws_iam_role\" \"r\" {\n  name = \n}\n",
    )
    .unwrap_err();
    assert_eq!(err.path, "broken.tf");
    assert!(err.to_string().contains("not valid Terraform"), "{err}");
    assert_eq!(err.line, 2, "{err}");
}
