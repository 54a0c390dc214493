# keyless's model of pelotech/oidc-bitbucket/aws 0.1.0, submodule modules/aws-roles-oidc-bitbucket (main.tf and
# variables.tf at commit 0ea9fa4 / 16eeafa): one role whose trust lets the listed repositories (a StringLike on
# `sub`, no audience condition) and, optionally, other roles of the account assume it.

variable "bitbucket_oidc_provider_arn" {
}
variable "bitbucket_oidc_provider_url" {
}
variable "bitbucket_repos" {
}
variable "role_name" {
}
variable "role_path" {
}
variable "assume_role_names" {
  default = []
}

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "assume-role-policy" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.bitbucket_oidc_provider_arn]
    }
    condition {
      test     = "StringLike"
      variable = "${trimprefix(var.bitbucket_oidc_provider_url, "https://")}:sub"
      values   = var.bitbucket_repos
    }
  }
  dynamic "statement" {
    for_each = var.assume_role_names != null ? var.assume_role_names : []
    content {
      actions = ["sts:AssumeRole"]
      principals {
        type        = "AWS"
        identifiers = formatlist("arn:%s:iam::%s:role/%s", data.aws_partition.current.partition, data.aws_caller_identity.current.account_id, var.assume_role_names)
      }
    }
  }
}

resource "aws_iam_role" "bitbucket_ci" {
  name               = var.role_name
  assume_role_policy = data.aws_iam_policy_document.assume-role-policy.json
}
