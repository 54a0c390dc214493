//! The one table of OIDC token consumers: which commands in a step's script send `BITBUCKET_STEP_OIDC_TOKEN` to
//! which service. The audit's AWS rules (`region-missing`, `repository-without-role`) apply only where the token
//! goes to AWS; a step that logs in to Vault, Conjur, Google Cloud or Azure with it is not an AWS setup. Pipes are in
//! [`crate::pipes`] (the AWS pipes that take `AWS_OIDC_ROLE_ARN`).
//!
//! Each marker is matched as a substring of one script line; the first service with a marker on the line wins.
//! Sources: AWS CLI `sts assume-role-with-web-identity` and the SDKs' `AWS_WEB_IDENTITY_TOKEN_FILE` /
//! `web_identity_token_file`; Vault's JWT auth method (`vault write auth/jwt/login role=… jwt=…`, or any mount under
//! `auth/…/login` with `jwt=`); Conjur's `authn-jwt` authenticator; Google Cloud workload identity federation
//! (`gcloud iam workload-identity-pools create-cred-config`, `sts.googleapis.com`); Azure `az login
//! --federated-token`.

/// A service the token is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenConsumer {
    Aws,
    Vault,
    Conjur,
    GoogleCloud,
    Azure,
}

/// `(service, markers)`: a line with one of the markers sends the token there (or configures it to).
pub const TOKEN_CONSUMERS: &[(TokenConsumer, &[&str])] = &[
    (
        TokenConsumer::Aws,
        &[
            "assume-role-with-web-identity",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "web_identity_token_file",
            "AssumeRoleWithWebIdentity",
        ],
    ),
    (
        TokenConsumer::Vault,
        &[
            "vault write",
            "vault login",
            "auth/jwt/login",
            "VAULT_ADDR",
            "/v1/auth/",
        ],
    ),
    (TokenConsumer::Conjur, &["authn-jwt", "conjur "]),
    (
        TokenConsumer::GoogleCloud,
        &[
            "gcloud ",
            "workload-identity-pools",
            "sts.googleapis.com",
            "iamcredentials.googleapis.com",
        ],
    ),
    (TokenConsumer::Azure, &["--federated-token", "az login"]),
];

/// The service a script line sends the token to (or configures it for), if it names one.
pub fn token_consumer(line: &str) -> Option<TokenConsumer> {
    TOKEN_CONSUMERS
        .iter()
        .find(|(_, markers)| markers.iter().any(|m| line.contains(m)))
        .map(|(c, _)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_their_consumer() {
        let t = "$BITBUCKET_STEP_OIDC_TOKEN";
        assert_eq!(
            token_consumer(&format!(
                "aws sts assume-role-with-web-identity --web-identity-token {t}"
            )),
            Some(TokenConsumer::Aws)
        );
        assert_eq!(
            token_consumer(&format!("vault write auth/jwt/login role=ci jwt={t}")),
            Some(TokenConsumer::Vault)
        );
        assert_eq!(
            token_consumer(&format!(
                "curl -d \"{t}\" $CONJUR_URL/authn-jwt/bitbucket/acct/authenticate"
            )),
            Some(TokenConsumer::Conjur)
        );
        assert_eq!(
            token_consumer("gcloud auth login --cred-file=creds.json"),
            Some(TokenConsumer::GoogleCloud)
        );
        assert_eq!(token_consumer(&format!("echo {t} > /tmp/t")), None);
    }
}
