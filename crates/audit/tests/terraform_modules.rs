//! Terraform module calls: published modules keyless has a model of (terraform-aws-modules/iam v5 and v6, the
//! Bitbucket OIDC modules of the corpus) judged from the caller's inputs, with findings at the `module` block or at
//! the input that decides them; other published modules unresolved, never passed; local modules read with the
//! caller's inputs; `terraform.tfvars` and `*.auto.tfvars` loaded in Terraform's order, `--tf-var-file` last.
#![allow(clippy::unwrap_used)]

use keyless_audit::Finding;
use keyless_audit::policy::terraform::Variables;

#[path = "common/terraform.rs"]
mod common;

use common::{audit, audit_with, line_of, one, rules};

const V6: &str = r#"module "deploy" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-role"
  version = "~> 6.0"

  name                  = "bitbucket-deploy"
  enable_bitbucket_oidc = true
  oidc_provider_urls    = ["https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"]
  oidc_audiences        = ["ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11"]
  oidc_wildcard_subjects = ["*"]
}
"#;

#[test]
fn iam_role_v6_with_bitbucket_is_judged_from_its_inputs() {
    let findings = audit(&[("infra/main.tf", V6)]);
    // `*` lets every repository of the workspace assume the role: reported at the input that says so.
    let broad = one(&findings, "broad-sub");
    assert_eq!(broad.location.path, "infra/main.tf");
    assert_eq!(
        broad.location.line,
        line_of(V6, "oidc_wildcard_subjects"),
        "{broad:#?}"
    );
    // The workspace audience under `ForAllValues:StringEquals` is right (the rule docs' table): no aud finding.
    assert!(!rules(&findings).contains(&"aud-format"), "{findings:#?}");
}

#[test]
fn iam_role_v6_default_audience_is_githubs() {
    // The corpus's 043: `oidc_audiences` unset, so the module writes `sts.amazonaws.com` (GitHub's audience).
    let tf = V6
        .replace(
            "  oidc_audiences        = [\"ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11\"]\n",
            "",
        )
        .replace(
            "[\"*\"]",
            "[\"{7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80}:*\"]",
        );
    let findings = audit(&[("main.tf", tf.as_str())]);
    let aud = one(&findings, "aud-format");
    // The value is the model's default: reported at the module block.
    assert_eq!(aud.location.line, 1, "{aud:#?}");
    assert!(aud.message.contains("sts.amazonaws.com"), "{aud:#?}");
    assert!(!rules(&findings).contains(&"broad-sub"), "{findings:#?}");
}

#[test]
fn iam_role_v6_without_bitbucket_trusts_nobody_from_bitbucket() {
    // Nothing enabled: the module renders a document without statements, which is not a Bitbucket trust.
    let tf = V6.replace(
        "enable_bitbucket_oidc = true",
        "enable_bitbucket_oidc = false",
    );
    let findings = audit(&[("main.tf", tf.as_str())]);
    assert!(!rules(&findings).contains(&"broad-sub"), "{findings:#?}");
}

#[test]
fn iam_assumable_role_with_oidc_v5_pinned() {
    let tf = r#"module "provisioner" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-assumable-role-with-oidc"
  version = "5.5.5"

  create_role                  = true
  role_name                    = "bitbucket-provisioner"
  provider_urls                = ["api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"]
  oidc_subjects_with_wildcards = ["{7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80}:*"]
  allow_self_assume_role       = true
}
"#;
    let findings = audit(&[("main.tf", tf)]);
    // v5 writes an `aud` condition only when `oidc_fully_qualified_audiences` is given: the corpus's 010.
    let aud = one(&findings, "missing-aud-condition");
    assert_eq!(aud.location.line, 1, "{aud:#?}");
    // The self-assume statement (`AWS: *` limited by aws:PrincipalArn to the role) is not a broad trust.
    assert!(!rules(&findings).contains(&"broad-sub"), "{findings:#?}");
    // With the module's `create_role = false` default nothing is made, so nothing is reported.
    let off = tf.replace("  create_role                  = true\n", "");
    let findings = audit(&[("main.tf", off.as_str())]);
    assert!(
        !rules(&findings).contains(&"missing-aud-condition"),
        "{findings:#?}"
    );
}

#[test]
fn a_model_applies_only_to_the_versions_it_follows() {
    for (version, why) in [
        ("", "no `version`"),
        ("  version = \">= 5.0\"\n", "version `>= 5.0`"),
        ("  version = \"4.24.1\"\n", "version `4.24.1`"),
    ] {
        let tf = format!(
            "module \"r\" {{\n  source = \"terraform-aws-modules/iam/aws//modules/iam-assumable-role-with-oidc\"\n{version}  create_role = true\n  provider_url = \"api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc\"\n}}\n"
        );
        let findings = audit(&[("main.tf", tf.as_str())]);
        let unresolved = one(&findings, "unresolved-reference");
        assert!(unresolved.message.contains(why), "{unresolved:#?}");
        assert!(
            unresolved.message.contains("5.x"),
            "names the modelled release: {unresolved:#?}"
        );
        assert_eq!(rules(&findings), ["unresolved-reference"], "{findings:#?}");
    }
}

#[test]
fn a_module_without_a_model_is_unresolved_never_passed() {
    let tf = r#"module "oidc" {
  source  = "example-org/bitbucket-oidc-role/aws"
  version = "1.2.3"
  subjects = ["*"]
}
"#;
    let findings = audit(&[("main.tf", tf)]);
    let unresolved = one(&findings, "unresolved-reference");
    assert!(unresolved.message.contains("no model"), "{unresolved:#?}");
    assert_eq!(unresolved.location.line, 1);
}

#[test]
fn calidae_default_policy_lets_every_repository_in() {
    // The corpus's 003 (examples/naive): the role takes the module's `json_policies.default` output, whose default
    // `policies` has no subjects.
    let tf = r#"module "bitbucket_oidc" {
  source    = "calidae/bitbucket-oidc/aws"
  workspace = "mywspace"
}

resource "aws_iam_role" "bitbucket" {
  name               = "example"
  assume_role_policy = module.bitbucket_oidc.json_policies.default
}
"#;
    let findings = audit(&[("examples/naive/main.tf", tf)]);
    let sub = one(&findings, "missing-sub-condition");
    assert_eq!(sub.location.path, "examples/naive/main.tf");
    // The statement is the model's: reported at the module call.
    assert_eq!(sub.location.line, 1, "{sub:#?}");
    // The workspace's URL comes from Bitbucket's API at plan time (`local.workspace` decodes `data.http`):
    // unresolved, and said so.
    assert!(
        findings
            .iter()
            .any(|f| f.rule == "unresolved-reference" && f.message.contains("local.workspace")),
        "{findings:#?}"
    );
}

#[test]
fn pelotech_roles_from_a_map_of_inputs() {
    // The corpus's 046: each entry of the map is a role made by the module's own submodule.
    let tf = r#"module "aws_oidc_bitbucket" {
  source            = "pelotech/oidc-bitbucket/aws"
  version           = "0.1.0"
  bitbucket_tls_url = "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"
  aud_value         = "ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11"
  role_subject-repos_policies = {
    "deploy" = {
      subject_repos = ["{7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80}:*"]
      policy_arns   = ["arn:aws:iam::aws:policy/AdministratorAccess"]
    }
    "everyone" = {
      subject_repos = ["*"]
      policy_arns   = []
    }
  }
}
"#;
    let findings = audit(&[("main.tf", tf)]);
    // The submodule writes no `aud` condition: both roles.
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.rule == "missing-aud-condition")
            .count(),
        2,
        "{findings:#?}"
    );
    let broad = one(&findings, "broad-sub");
    assert_eq!(broad.location.line, line_of(tf, "subject_repos = [\"*\"]"));
    // The provider's client ID is the workspace audience: no provider finding.
    assert!(
        !rules(&findings).contains(&"provider-client-id"),
        "{findings:#?}"
    );
}

const LOCAL_ROLE: &str = r#"variable "subjects" {
  type = list(string)
}

variable "issuer" {
  type = string
}

resource "aws_iam_role" "this" {
  name = "deploy"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRoleWithWebIdentity"
      Principal = { Federated = "arn:aws:iam::123456789012:oidc-provider/${var.issuer}" }
      Condition = {
        StringEquals = { "${var.issuer}:aud" = "ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11" }
        StringLike   = { "${var.issuer}:sub" = var.subjects }
      }
    }]
  })
}

output "arn" {
  value = aws_iam_role.this.arn
}
"#;

const LOCAL_CALLER: &str = r#"module "role" {
  source   = "./modules/role"
  issuer   = "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"
  subjects = ["*"]
}
"#;

#[test]
fn a_local_module_is_read_with_its_callers_inputs() {
    let findings = audit(&[
        ("infra/main.tf", LOCAL_CALLER),
        ("infra/modules/role/main.tf", LOCAL_ROLE),
    ]);
    let broad = one(&findings, "broad-sub");
    // Where the caller wrote `*`.
    assert_eq!(broad.location.path, "infra/main.tf");
    assert_eq!(broad.location.line, 4);
    // The module is read through its call, not on its own with undefined variables.
    assert!(
        !rules(&findings).contains(&"unresolved-reference"),
        "{findings:#?}"
    );

    // `../` paths resolve as Terraform resolves them.
    let caller = LOCAL_CALLER.replace("./modules/role", "../modules/role");
    let findings = audit(&[
        ("infra/live/main.tf", caller.as_str()),
        ("infra/modules/role/main.tf", LOCAL_ROLE),
    ]);
    assert_eq!(
        one(&findings, "broad-sub").location.path,
        "infra/live/main.tf"
    );
}

#[test]
fn a_local_module_whose_files_are_missing_is_unresolved() {
    let findings = audit(&[("infra/main.tf", LOCAL_CALLER)]);
    let unresolved = one(&findings, "unresolved-reference");
    assert!(
        unresolved.message.contains("not among the audited inputs"),
        "{unresolved:#?}"
    );
}

#[test]
fn a_local_modules_outputs_reach_the_caller() {
    let provider = r#"resource "aws_iam_openid_connect_provider" "this" {
  url            = "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"
  client_id_list = ["sts.amazonaws.com"]
}

output "arn" {
  value = aws_iam_openid_connect_provider.this.arn
}
"#;
    let caller = r#"module "oidc" {
  source = "./oidc"
}

resource "aws_iam_role" "deploy" {
  name = "deploy"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRoleWithWebIdentity"
      Principal = { Federated = module.oidc.arn }
      Condition = {
        StringLike = { "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc:sub" = "{7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80}:*" }
      }
    }]
  })
}
"#;
    let findings = audit(&[("main.tf", caller), ("oidc/main.tf", provider)]);
    // The provider made by the module is checked: GitHub's audience, reported in the module's file.
    let ids = one(&findings, "provider-client-id");
    assert_eq!(ids.location.path, "oidc/main.tf");
    assert!(rules(&findings).contains(&"missing-aud-condition"));
}

const TFVARS_MAIN: &str = r#"variable "subjects" {
  type = list(string)
}

resource "aws_iam_role" "deploy" {
  name = "deploy"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRoleWithWebIdentity"
      Principal = { Federated = "arn:aws:iam::123456789012:oidc-provider/api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc" }
      Condition = {
        StringEquals = { "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc:aud" = "ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11" }
        StringLike   = { "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc:sub" = var.subjects }
      }
    }]
  })
}
"#;

const GOOD: &str = "subjects = [\"{7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80}:*\"]\n";
const BROAD: &str = "subjects = [\"*\"]\n";

#[test]
fn auto_loaded_variables_follow_terraforms_precedence() {
    let broad = |findings: &[Finding]| rules(findings).contains(&"broad-sub");
    // terraform.tfvars alone.
    let findings = audit(&[("main.tf", TFVARS_MAIN), ("terraform.tfvars", BROAD)]);
    assert!(broad(&findings), "{findings:#?}");
    assert_eq!(
        one(&findings, "broad-sub").location.path,
        "terraform.tfvars"
    );
    assert!(!rules(&findings).contains(&"unresolved-reference"));
    // *.auto.tfvars wins over terraform.tfvars.
    let findings = audit(&[
        ("main.tf", TFVARS_MAIN),
        ("terraform.tfvars", BROAD),
        ("a.auto.tfvars", GOOD),
    ]);
    assert!(!broad(&findings), "{findings:#?}");
    // Among *.auto.tfvars, the later name wins (lexical order), whatever the order of the inputs.
    let findings = audit(&[
        ("main.tf", TFVARS_MAIN),
        ("b.auto.tfvars", BROAD),
        (
            "a.auto.tfvars.json",
            r#"{"subjects": ["{7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80}:*"]}"#,
        ),
    ]);
    assert!(broad(&findings), "{findings:#?}");
    // --tf-var-file wins over every auto-loaded file.
    let findings = audit_with(
        &[("main.tf", TFVARS_MAIN), ("terraform.tfvars", BROAD)],
        Variables::parse("prod.tfvars", GOOD).unwrap(),
    );
    assert!(!broad(&findings), "{findings:#?}");
    // A variables file in another directory is not this module's.
    let findings = audit(&[("infra/main.tf", TFVARS_MAIN), ("terraform.tfvars", GOOD)]);
    assert!(
        rules(&findings).contains(&"unresolved-reference"),
        "{findings:#?}"
    );
    // A file not auto-loaded (prod.tfvars) counts only when given with --tf-var-file.
    let findings = audit(&[("main.tf", TFVARS_MAIN), ("prod.tfvars", BROAD)]);
    assert!(!broad(&findings), "{findings:#?}");
}

#[test]
fn a_variables_file_with_references_is_reported() {
    let findings = audit(&[
        ("main.tf", TFVARS_MAIN),
        ("terraform.tfvars", "subjects = var.other\n"),
    ]);
    let unresolved: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == "unresolved-reference")
        .collect();
    assert!(
        unresolved
            .iter()
            .any(|f| f.location.path == "terraform.tfvars" && f.message.contains("not a constant")),
        "{findings:#?}"
    );
}
