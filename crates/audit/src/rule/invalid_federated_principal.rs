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
        // A provider ARN IAM accepts, under Bitbucket's API host, that no Bitbucket issuer can ever equal.
        for s in &policy.statements {
            for p in &s.federated {
                let Some(url) = p.provider.as_deref() else {
                    continue;
                };
                if p.holes && url.contains("${") {
                    continue;
                }
                if let Some(problem) = bitbucket_provider_problem(url) {
                    out.push(
                        self.finding()
                            .message(format!("provider `{url}` {problem}: no Bitbucket token's issuer ever equals it"))
                            .at_loc(&p.at)
                            .label("never matches a Bitbucket issuer")
                            .help("use api.bitbucket.org/2.0/workspaces/<workspace-slug>/pipelines-config/identity/oidc (Repository settings → OpenID Connect)"),
                    );
                }
            }
        }
    }
}

/// Why a provider URL under Bitbucket's API host can never be a Bitbucket issuer (STS compares `iss` with the
/// provider URL exactly, case included; the issuer names the workspace by its slug; bitbucket.md §1.2).
fn bitbucket_provider_problem(url: &str) -> Option<&'static str> {
    let host = url.split('/').next().unwrap_or(url);
    if !host.eq_ignore_ascii_case("api.bitbucket.org")
        && !url.to_ascii_lowercase().starts_with("api.bitbucket.org")
    {
        return None;
    }
    if !url.starts_with("api.bitbucket.org") {
        return Some(
            "has upper-case letters in its host; provider URLs are compared case-sensitively with the issuer",
        );
    }
    let issuer = format!("https://{url}");
    let Some(parts) = keyless_oidc::parse_issuer(&issuer) else {
        return Some(
            "is not a Bitbucket Pipelines issuer (`api.bitbucket.org/2.0/workspaces/<workspace>/pipelines-config/identity/oidc`)",
        );
    };
    let slug = parts.slug.trim_matches(['{', '}']);
    let uuid_like = slug.len() == 36 && slug.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    uuid_like.then_some("names the workspace by its UUID; Bitbucket's issuer names it by its slug")
}
