# keyless's model of the registry module calidae/bitbucket-oidc/aws (github.com/calidae/terraform-aws-bitbucket-oidc,
# {main,variables,outputs}.tf at commit 359312d, the copy in ../shared/corpus/trust/sources/003__main.tf): the OIDC
# provider and one trust document per entry of `policies`, which the caller hands to its own roles through the
# `json_policies` output. The provider's URL and audience come from Bitbucket's API at plan time (`data.http`):
# unknown here, as they are to a reviewer who reads the code.

variable "workspace" {
}
variable "api_url" {
  default = "https://api.bitbucket.org/2.0"
}
variable "source_ip" {
  default = []
}
variable "policies" {
  default = {
    default = {
      subjects = []
      claims   = {}
    }
  }
}

data "http" "workspace" {
  url = "${var.api_url}/workspaces/${var.workspace}"
}

locals {
  workspace = jsondecode(data.http.workspace.response_body)
  audience  = "ari:cloud:bitbucket::workspace/${trim(local.workspace.uuid, "}{")}"
  url       = "${var.api_url}/workspaces/${local.workspace.slug}/pipelines-config/identity/oidc"
  host      = trimprefix(local.url, "https://")
}

resource "aws_iam_openid_connect_provider" "bitbucket" {
  url            = local.url
  client_id_list = [local.audience]
}

data "aws_iam_policy_document" "assume_role_with_webid" {
  for_each = var.policies
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.bitbucket.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.host}:aud"
      values   = [local.audience]
    }
    dynamic "condition" {
      for_each = each.value.subjects
      content {
        test     = "StringLike"
        variable = "${local.host}:sub"
        values   = [condition.value]
      }
    }
    dynamic "condition" {
      for_each = each.value.claims
      content {
        test     = "StringLike"
        variable = "${local.host}:${condition.key}"
        values   = condition.value
      }
    }
    dynamic "condition" {
      for_each = length(var.source_ip) > 0 ? [true] : []
      content {
        test     = "IpAddress"
        variable = "aws:SourceIp"
        values   = var.source_ip
      }
    }
  }
}

output "json_policies" {
  value = { for k, d in data.aws_iam_policy_document.assume_role_with_webid : k => d.json }
}
output "arn" {
  value = aws_iam_openid_connect_provider.bitbucket.arn
}
output "audience" {
  value = local.audience
}
