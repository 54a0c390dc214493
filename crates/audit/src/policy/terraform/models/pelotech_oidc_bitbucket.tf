# keyless's model of the registry module pelotech/oidc-bitbucket/aws 0.1.0 (github.com/pelotech/terraform-aws-oidc-bitbucket,
# main.tf and variables.tf at commit 1b15438 / fe9bcd0): the OIDC provider, and one role per entry of
# `role_subject-repos_policies` made by the module's own submodule (the next file of this model). Object
# attributes the module declares `optional` are read with `lookup(..., null)` (keyless's evaluator has no type
# conversion).

variable "role_subject-repos_policies" {
}
variable "bitbucket_tls_url" {
}
variable "aud_value" {
}

resource "aws_iam_openid_connect_provider" "bitbucket" {
  url            = var.bitbucket_tls_url
  client_id_list = [var.aud_value]
}

module "aws_oidc_bitbucket" {
  for_each                    = var.role_subject-repos_policies
  source                      = "./modules/aws-roles-oidc-bitbucket"
  role_name                   = each.key
  role_path                   = lookup(each.value, "role_path", null) != null ? each.value.role_path : "/"
  bitbucket_repos             = each.value.subject_repos
  assume_role_names           = lookup(each.value, "assume_role_names", null)
  bitbucket_oidc_provider_arn = aws_iam_openid_connect_provider.bitbucket.arn
  bitbucket_oidc_provider_url = aws_iam_openid_connect_provider.bitbucket.url
}
