//! `DiscoveryDocument`: `<issuer>/.well-known/openid-configuration`, as Bitbucket serves it (bitbucket.md §1.2).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The claims Bitbucket's discovery document lists, in its order (bitbucket.md §1.2).
pub const BITBUCKET_CLAIMS_SUPPORTED: [&str; 12] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "branchName",
    "compliant",
    "deploymentEnvironmentUuid",
    "pipelineUuid",
    "repositoryUuid",
    "stepUuid",
    "workspaceUuid",
];

/// An OpenID Provider configuration document. Only `issuer` and `jwks_uri` are required when reading another
/// issuer's document; everything else is kept verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveryDocument {
    /// The issuer, byte-identical to the tokens' `iss`.
    pub issuer: String,
    /// Where the JWKS is.
    pub jwks_uri: String,
    /// `["public"]` for Bitbucket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_types_supported: Vec<String>,
    /// `["id_token"]` for Bitbucket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_types_supported: Vec<String>,
    /// `["RS256"]` for Bitbucket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `["openid"]` for Bitbucket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// The claims tokens carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims_supported: Vec<String>,
    /// Any other member, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DiscoveryDocument {
    /// The document Bitbucket serves for `issuer`, with `jwks_uri = <issuer>/keys.json`.
    pub fn bitbucket(issuer: &str) -> Self {
        let strings = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect();
        Self {
            issuer: issuer.to_owned(),
            jwks_uri: format!("{issuer}/keys.json"),
            subject_types_supported: strings(&["public"]),
            response_types_supported: strings(&["id_token"]),
            id_token_signing_alg_values_supported: strings(&["RS256"]),
            scopes_supported: strings(&["openid"]),
            claims_supported: strings(&BITBUCKET_CLAIMS_SUPPORTED),
            extra: Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn bitbucket_document_matches_the_reference_bytes() {
        let issuer = "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";
        let expected = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/keys.json"),
            "subject_types_supported": ["public"], "response_types_supported": ["id_token"],
            "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "branchName", "compliant",
                "deploymentEnvironmentUuid", "pipelineUuid", "repositoryUuid", "stepUuid", "workspaceUuid"]});
        assert_eq!(
            serde_json::to_string(&DiscoveryDocument::bitbucket(issuer)).unwrap(),
            expected.to_string()
        );
    }

    #[test]
    fn reads_a_minimal_foreign_document() {
        let document: DiscoveryDocument = serde_json::from_value(json!({
            "issuer": "https://token.actions.githubusercontent.com",
            "jwks_uri": "https://token.actions.githubusercontent.com/.well-known/jwks",
            "claims_supported": ["sub"], "token_endpoint": "x"
        }))
        .unwrap();
        assert_eq!(
            document.jwks_uri,
            "https://token.actions.githubusercontent.com/.well-known/jwks"
        );
        assert_eq!(document.extra.get("token_endpoint"), Some(&json!("x")));
        assert!(serde_json::from_value::<DiscoveryDocument>(json!({"issuer": "x"})).is_err());
    }
}
