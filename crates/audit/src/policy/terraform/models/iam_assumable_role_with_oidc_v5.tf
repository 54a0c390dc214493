# keyless's model of terraform-aws-modules/iam v5, submodule `iam-assumable-role-with-oidc` (Apache-2.0): only
# what decides the role's trust policy, from modules/iam-assumable-role-with-oidc/{main,variables}.tf at v5.5.5
# (the copy in ../shared/corpus/trust/sources/010__modules_iam-assumable-role-with-oidc_main.tf) and the later
# v5 releases (`provider_trust_policy_conditions`). Written for keyless's evaluator: the inputs a call may set, with
# the module's defaults, and one policy document rendered as the module renders it. The `set(string)` inputs are
# sets in the module, so their values come out sorted (`toset`). crates/cli/tests/emulate/terraform_render.rs compares
# this model with Terraform running the module's own main.tf.

variable "create_role" {
  default = false
}
variable "provider_url" {
  default = ""
}
variable "provider_urls" {
  default = []
}
variable "aws_account_id" {
  default = ""
}
variable "role_name" {
  default = null
}
variable "role_name_prefix" {
  default = null
}
variable "role_path" {
  default = "/"
}
variable "oidc_fully_qualified_subjects" {
  default = []
}
variable "oidc_subjects_with_wildcards" {
  default = []
}
variable "oidc_fully_qualified_audiences" {
  default = []
}
variable "allow_self_assume_role" {
  default = false
}
variable "provider_trust_policy_conditions" {
  default = []
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account = var.aws_account_id != "" ? var.aws_account_id : data.aws_caller_identity.current.account_id
  hosts   = [for u in compact(distinct(concat(var.provider_urls, [var.provider_url]))) : replace(u, "https://", "")]
  self    = var.role_name != null ? var.role_name : "${var.role_name_prefix}*"
}

data "aws_iam_policy_document" "assume_role_with_oidc" {
  count = var.create_role ? 1 : 0

  dynamic "statement" {
    for_each = var.allow_self_assume_role ? [1] : []
    content {
      sid     = "ExplicitSelfRoleAssumption"
      effect  = "Allow"
      actions = ["sts:AssumeRole"]
      principals {
        type        = "AWS"
        identifiers = ["*"]
      }
      condition {
        test     = "ArnLike"
        variable = "aws:PrincipalArn"
        values   = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role${var.role_path}${local.self}"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.hosts
    content {
      effect  = "Allow"
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account}:oidc-provider/${statement.value}"]
      }
      dynamic "condition" {
        for_each = length(var.oidc_fully_qualified_subjects) > 0 ? local.hosts : []
        content {
          test     = "StringEquals"
          variable = "${statement.value}:sub"
          values   = toset(var.oidc_fully_qualified_subjects)
        }
      }
      dynamic "condition" {
        for_each = length(var.oidc_subjects_with_wildcards) > 0 ? local.hosts : []
        content {
          test     = "StringLike"
          variable = "${statement.value}:sub"
          values   = toset(var.oidc_subjects_with_wildcards)
        }
      }
      dynamic "condition" {
        for_each = length(var.oidc_fully_qualified_audiences) > 0 ? local.hosts : []
        content {
          test     = "StringLike"
          variable = "${statement.value}:aud"
          values   = toset(var.oidc_fully_qualified_audiences)
        }
      }
      dynamic "condition" {
        for_each = var.provider_trust_policy_conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role" "this" {
  count              = var.create_role ? 1 : 0
  name               = var.role_name
  name_prefix        = var.role_name_prefix
  assume_role_policy = data.aws_iam_policy_document.assume_role_with_oidc[0].json
}

output "iam_role_arn" {
  value = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role${var.role_path}${local.self}"
}
output "iam_role_name" {
  value = var.role_name
}
