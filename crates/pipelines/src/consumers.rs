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
    // Every marker of the table in one pass over the line (the audit asks this of every script line, several times
    // per step): each match names the index of its service in the table, and the first service wins, wherever on
    // the line its marker is.
    static MARKERS: std::sync::LazyLock<(aho_corasick::AhoCorasick, Vec<usize>)> =
        std::sync::LazyLock::new(|| {
            let (services, markers): (Vec<usize>, Vec<&str>) = TOKEN_CONSUMERS
                .iter()
                .enumerate()
                .flat_map(|(i, (_, markers))| markers.iter().map(move |m| (i, *m)))
                .unzip();
            // The markers are fixed, short literals: building the automaton cannot fail.
            #[allow(clippy::expect_used)]
            let ac = aho_corasick::AhoCorasick::new(markers).expect("token consumer markers");
            (ac, services)
        });
    let (ac, services) = &*MARKERS;
    // Most lines name no consumer: the prefiltered search says so without walking the automaton byte by byte.
    if !ac.is_match(line) {
        return None;
    }
    ac.find_overlapping_iter(line)
        .map(|m| services[m.pattern().as_usize()])
        .min()
        .map(|i| TOKEN_CONSUMERS[i].0)
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
        // Two services on one line: the table's order decides, not the position on the line.
        assert_eq!(
            token_consumer(
                "gcloud auth print-identity-token; aws sts assume-role-with-web-identity"
            ),
            Some(TokenConsumer::Aws)
        );
    }

    /// The one-pass matcher says what reading the table marker by marker says, for every marker alone, every
    /// pair of markers on one line, and lines with none.
    #[test]
    fn one_pass_agrees_with_the_table() {
        let by_table = |line: &str| {
            TOKEN_CONSUMERS
                .iter()
                .find(|(_, markers)| markers.iter().any(|m| line.contains(m)))
                .map(|(c, _)| *c)
        };
        let markers: Vec<&str> = TOKEN_CONSUMERS
            .iter()
            .flat_map(|(_, m)| m.iter().copied())
            .collect();
        for a in &markers {
            assert_eq!(token_consumer(a), by_table(a), "{a}");
            for b in &markers {
                let line = format!("x {a} y {b} z");
                assert_eq!(token_consumer(&line), by_table(&line), "{line}");
            }
        }
        for line in ["", "echo hello", "aws s3 sync . s3://b", "vault status"] {
            assert_eq!(token_consumer(line), by_table(line), "{line}");
        }
    }
}
