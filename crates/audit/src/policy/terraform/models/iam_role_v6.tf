# keyless's model of terraform-aws-modules/iam v6, submodule `iam-role` (Apache-2.0): only what decides the role's
# trust policy, from modules/iam-role/{main,variables}.tf (v6; the copy in
# ../shared/corpus/trust/sources/043__main.tf, commit 981121b). Written for keyless's evaluator: the inputs a call
# may set, with the module's defaults, and the trust document rendered as the module renders it — the generic OIDC,
# GitHub, Bitbucket and SAML statements, `trust_policy_conditions` in each, `trust_policy_permissions`, and the
# source/override documents of later v6 releases. Object attributes the module declares `optional` are read with
# `lookup(..., null)` (keyless's evaluator has no type conversion). crates/cli/tests/emulate/terraform_render.rs compares
# this model with Terraform running the module's own main.tf.

variable "create" {
  default = true
}
variable "name" {
  default = null
}
variable "use_name_prefix" {
  default = true
}
variable "path" {
  default = null
}
variable "trust_policy_permissions" {
  default = null
}
variable "trust_policy_conditions" {
  default = []
}
variable "source_trust_policy_documents" {
  default = []
}
variable "override_trust_policy_documents" {
  default = []
}
variable "enable_oidc" {
  default = false
}
variable "oidc_account_id" {
  default = null
}
variable "oidc_provider_urls" {
  default = []
}
variable "oidc_subjects" {
  default = []
}
variable "oidc_wildcard_subjects" {
  default = []
}
variable "oidc_audiences" {
  default = []
}
variable "enable_github_oidc" {
  default = false
}
variable "github_provider" {
  default = "token.actions.githubusercontent.com"
}
variable "enable_bitbucket_oidc" {
  default = false
}
variable "enable_saml" {
  default = false
}
variable "saml_provider_ids" {
  default = []
}
variable "saml_endpoints" {
  default = ["https://signin.aws.amazon.com/saml"]
}
variable "saml_trust_actions" {
  default = []
}

locals {
  account   = try(data.aws_caller_identity.current[0].account_id, "")
  partition = try(data.aws_partition.current[0].partition, "")
  hosts     = [for u in var.oidc_provider_urls : replace(u, "https://", "")]
  bitbucket = try(element(local.hosts, 0), null)
}

data "aws_caller_identity" "current" {
  count = var.create ? 1 : 0
}
data "aws_partition" "current" {
  count = var.create ? 1 : 0
}

data "aws_iam_policy_document" "this" {
  count = var.create ? 1 : 0

  source_policy_documents   = var.source_trust_policy_documents
  override_policy_documents = var.override_trust_policy_documents

  dynamic "statement" {
    for_each = var.enable_oidc ? local.hosts : []
    content {
      effect  = "Allow"
      actions = ["sts:TagSession", "sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = ["arn:${local.partition}:iam::${coalesce(var.oidc_account_id, local.account)}:oidc-provider/${statement.value}"]
      }
      dynamic "condition" {
        for_each = length(var.oidc_subjects) > 0 ? local.hosts : []
        content {
          test     = "StringEquals"
          variable = "${statement.value}:sub"
          values   = var.oidc_subjects
        }
      }
      dynamic "condition" {
        for_each = length(var.oidc_wildcard_subjects) > 0 ? local.hosts : []
        content {
          test     = "StringLike"
          variable = "${statement.value}:sub"
          values   = var.oidc_wildcard_subjects
        }
      }
      dynamic "condition" {
        for_each = length(var.oidc_audiences) > 0 ? local.hosts : []
        content {
          test     = "StringEquals"
          variable = "${statement.value}:aud"
          values   = var.oidc_audiences
        }
      }
      dynamic "condition" {
        for_each = var.trust_policy_conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }

  dynamic "statement" {
    for_each = var.enable_github_oidc ? [1] : []
    content {
      sid     = "GithubOidcAuth"
      actions = ["sts:TagSession", "sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = ["arn:${local.partition}:iam::${local.account}:oidc-provider/${var.github_provider}"]
      }
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "${var.github_provider}:iss"
        values   = ["https://${var.github_provider}"]
      }
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "${var.github_provider}:aud"
        values   = coalescelist(var.oidc_audiences, ["sts.amazonaws.com"])
      }
      dynamic "condition" {
        for_each = length(var.oidc_subjects) > 0 ? [1] : []
        content {
          test     = "StringEquals"
          variable = "${var.github_provider}:sub"
          values   = [for s in var.oidc_subjects : "repo:${trimprefix(s, "repo:")}"]
        }
      }
      dynamic "condition" {
        for_each = length(var.oidc_wildcard_subjects) > 0 ? [1] : []
        content {
          test     = "StringLike"
          variable = "${var.github_provider}:sub"
          values   = [for s in var.oidc_wildcard_subjects : "repo:${trimprefix(s, "repo:")}"]
        }
      }
      dynamic "condition" {
        for_each = var.trust_policy_conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }

  dynamic "statement" {
    for_each = var.enable_bitbucket_oidc ? [1] : []
    content {
      sid     = "BitbucketOidcAuth"
      actions = ["sts:TagSession", "sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = ["arn:${local.partition}:iam::${local.account}:oidc-provider/${local.bitbucket}"]
      }
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "${local.bitbucket}:aud"
        values   = coalescelist(var.oidc_audiences, ["sts.amazonaws.com"])
      }
      dynamic "condition" {
        for_each = length(var.oidc_subjects) > 0 ? [1] : []
        content {
          test     = "StringEquals"
          variable = "${local.bitbucket}:sub"
          values   = var.oidc_subjects
        }
      }
      dynamic "condition" {
        for_each = length(var.oidc_wildcard_subjects) > 0 ? [1] : []
        content {
          test     = "StringLike"
          variable = "${local.bitbucket}:sub"
          values   = var.oidc_wildcard_subjects
        }
      }
      dynamic "condition" {
        for_each = var.trust_policy_conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }

  dynamic "statement" {
    for_each = var.enable_saml ? [1] : []
    content {
      effect  = "Allow"
      actions = compact(distinct(concat(["sts:TagSession", "sts:AssumeRoleWithSAML"], var.saml_trust_actions)))
      principals {
        type        = "Federated"
        identifiers = var.saml_provider_ids
      }
      condition {
        test     = "StringEquals"
        variable = "SAML:aud"
        values   = var.saml_endpoints
      }
      dynamic "condition" {
        for_each = var.trust_policy_conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }

  dynamic "statement" {
    for_each = var.trust_policy_permissions != null ? var.trust_policy_permissions : {}
    content {
      sid           = try(coalesce(lookup(statement.value, "sid", null), statement.key))
      actions       = lookup(statement.value, "actions", null)
      not_actions   = lookup(statement.value, "not_actions", null)
      effect        = lookup(statement.value, "effect", "Allow")
      resources     = lookup(statement.value, "resources", null)
      not_resources = lookup(statement.value, "not_resources", null)
      dynamic "principals" {
        for_each = lookup(statement.value, "principals", null) != null ? statement.value.principals : []
        content {
          type        = principals.value.type
          identifiers = principals.value.identifiers
        }
      }
      dynamic "not_principals" {
        for_each = lookup(statement.value, "not_principals", null) != null ? statement.value.not_principals : []
        content {
          type        = not_principals.value.type
          identifiers = not_principals.value.identifiers
        }
      }
      dynamic "condition" {
        for_each = lookup(statement.value, "condition", null) != null ? statement.value.condition : []
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
  count              = var.create ? 1 : 0
  name               = var.use_name_prefix ? null : var.name
  name_prefix        = var.use_name_prefix ? "${var.name}-" : null
  assume_role_policy = data.aws_iam_policy_document.this[0].json
}

output "arn" {
  value = "arn:${local.partition}:iam::${local.account}:role${coalesce(var.path, "/")}${var.name}"
}
output "name" {
  value = var.name
}
