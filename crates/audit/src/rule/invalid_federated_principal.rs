//! `invalid-federated-principal`: a `Federated` principal IAM rejects (a provider URL, an ARN with a scheme or a
//! bad account) or one that no web identity token ever presents (a bare domain that is not a built-in provider).
//! Reported from `keyless-iam`'s validation registry (codes `invalid-federated-principal`,
//! `federated-principal-not-a-provider`, `wildcard-federated-principal`), through the one adapter.

use super::prelude::*;

pub struct InvalidFederatedPrincipal;

static META: RuleMeta = RuleMeta {
    id: "invalid-federated-principal",
    summary: "the Federated principal is not an identity provider ARN",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "An IAM OIDC provider is trusted by its ARN, `arn:aws:iam::<account>:oidc-provider/<host>/<path>`. IAM \
          rejects anything that is neither an identity provider ARN nor a domain name (\"Federated principals must be \
          valid domain names or SAML metadata ARNs\", terraform-aws-modules/terraform-aws-iam#202), so writing the \
          provider URL itself fails the deployment. A bare domain is accepted but only ever matches AWS's built-in \
          providers (`accounts.google.com`, `cognito-identity.amazonaws.com`, `graph.facebook.com`, \
          `www.amazon.com`): the statement never applies to a Bitbucket token. Access Analyzer: \"Invalid federated \
          principal syntax in role trust policy\".",
    fix: "Use the provider's ARN: `arn:aws:iam::<account>:oidc-provider/api.bitbucket.org/2.0/workspaces/<workspace>/pipelines-config/identity/oidc` \
          (in CloudFormation `!Ref` or `!GetAtt Provider.Arn`, in Terraform `aws_iam_openid_connect_provider.x.arn`).",
    autofix: false,
};

impl Rule for InvalidFederatedPrincipal {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        validation::report(policy, &META, out);
    }
}
