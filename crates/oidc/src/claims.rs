//! `Claims` and `Audience`: the payload of a Bitbucket Pipelines token, every claim of bitbucket.md §1.4.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{BracedUuid, Subject, SubjectError};

/// The `aud` claim: a string, or an array when custom audiences are configured. The form is preserved, because
/// Bitbucket emits a plain string for the default audience and an array once custom audiences are appended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "ari:cloud:bitbucket::workspace/…"`.
    One(String),
    /// `"aud": ["ari:cloud:bitbucket::workspace/…", "https://custom.example"]`.
    Many(Vec<String>),
}

impl Audience {
    /// A string when `values` has one element, an array otherwise (Bitbucket's rule).
    pub fn from_values(mut values: Vec<String>) -> Self {
        if values.len() == 1 {
            Self::One(values.remove(0))
        } else {
            Self::Many(values)
        }
    }

    /// Every audience value, in token order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let slice: &[String] = match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        };
        slice.iter().map(String::as_str)
    }

    /// Whether `value` is one of the audiences (exact, case-sensitive match).
    pub fn contains(&self, value: &str) -> bool {
        self.iter().any(|aud| aud == value)
    }

    /// How many values the claim holds.
    pub fn len(&self) -> usize {
        match self {
            Self::One(_) => 1,
            Self::Many(many) => many.len(),
        }
    }

    /// Whether the claim holds no value (only possible as an empty array).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The claims of a Bitbucket Pipelines OIDC token (bitbucket.md §1.4).
///
/// Timestamps are integer NumericDates (seconds since the epoch), as AWS requires. Claims this type does not name
/// (`compliant`, `accountUuid`, or anything a future Bitbucket adds) are kept in [`Claims::extra`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: `https://api.bitbucket.org/2.0/workspaces/<slug>/pipelines-config/identity/oidc`.
    pub iss: String,
    /// Audience: the workspace audience, plus any custom audiences.
    pub aud: Audience,
    /// Subject: `{repo}:{step}` or `{repo}:{env}:{step}`; see [`Claims::subject`].
    pub sub: String,
    /// Issued at (epoch seconds).
    pub iat: i64,
    /// Expires at (epoch seconds).
    pub exp: i64,
    /// Not before (epoch seconds); Bitbucket is not known to set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// `{uuid}` of the workspace.
    #[serde(
        rename = "workspaceUuid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub workspace_uuid: Option<BracedUuid>,
    /// `{uuid}` of the repository.
    #[serde(
        rename = "repositoryUuid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub repository_uuid: Option<BracedUuid>,
    /// `{uuid}` of the pipeline.
    #[serde(
        rename = "pipelineUuid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub pipeline_uuid: Option<BracedUuid>,
    /// `{uuid}` of the step.
    #[serde(rename = "stepUuid", default, skip_serializing_if = "Option::is_none")]
    pub step_uuid: Option<BracedUuid>,
    /// The branch the pipeline runs for.
    #[serde(
        rename = "branchName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub branch_name: Option<String>,
    /// `{uuid}` of the deployment environment, on deployment steps only.
    #[serde(
        rename = "deploymentEnvironmentUuid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub deployment_environment_uuid: Option<BracedUuid>,
    /// `{uuid}` of the pipeline run (newer tokens).
    #[serde(
        rename = "pipelineRunUuid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub pipeline_run_uuid: Option<BracedUuid>,
    /// Every other claim, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Claims {
    /// `sub` parsed per the Bitbucket grammar.
    pub fn subject(&self) -> Result<Subject, SubjectError> {
        self.sub.parse()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn audience_keeps_string_and_array_forms() {
        let one: Audience = serde_json::from_value(json!("a")).unwrap();
        assert_eq!(one, Audience::One("a".into()));
        assert_eq!(serde_json::to_value(&one).unwrap(), json!("a"));
        let many: Audience = serde_json::from_value(json!(["a", "b"])).unwrap();
        assert_eq!(many, Audience::Many(vec!["a".into(), "b".into()]));
        assert_eq!(serde_json::to_value(&many).unwrap(), json!(["a", "b"]));
        assert!(many.contains("b") && !many.contains("B") && !many.contains("c"));
        assert_eq!(many.iter().collect::<Vec<_>>(), ["a", "b"]);
        // A one-element array stays an array: the form is the token's, not ours.
        let single: Audience = serde_json::from_value(json!(["a"])).unwrap();
        assert_eq!(serde_json::to_value(&single).unwrap(), json!(["a"]));
        assert!(serde_json::from_value::<Audience>(json!(1)).is_err());
        assert!(serde_json::from_value::<Audience>(json!(["a", 1])).is_err());
    }

    #[test]
    fn from_values_is_a_string_for_one_value_only() {
        assert_eq!(
            Audience::from_values(vec!["a".into()]),
            Audience::One("a".into())
        );
        assert_eq!(
            Audience::from_values(vec!["a".into(), "b".into()]),
            Audience::Many(vec!["a".into(), "b".into()])
        );
        assert!(Audience::from_values(vec![]).is_empty());
    }

    #[test]
    fn claims_use_bitbucket_names_and_keep_unknown_claims() {
        let payload = json!({
            "sub": "{11111111-1111-4111-8111-111111111111}:{33333333-3333-4333-8333-333333333333}",
            "aud": "ari:cloud:bitbucket::workspace/44444444-4444-4444-8444-444444444444",
            "stepUuid": "{33333333-3333-4333-8333-333333333333}",
            "iss": "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
            "repositoryUuid": "{11111111-1111-4111-8111-111111111111}",
            "branchName": "main",
            "exp": 1700003600,
            "iat": 1700000000,
            "pipelineUuid": "{55555555-5555-4555-8555-555555555555}",
            "workspaceUuid": "{44444444-4444-4444-8444-444444444444}",
            "pipelineRunUuid": "{66666666-6666-4666-8666-666666666666}",
            "compliant": true
        });
        let claims: Claims = serde_json::from_value(payload.clone()).unwrap();
        assert_eq!(claims.branch_name.as_deref(), Some("main"));
        assert_eq!(claims.deployment_environment_uuid, None);
        assert_eq!(claims.extra.get("compliant"), Some(&json!(true)));
        assert_eq!(
            claims.subject().unwrap().repository(),
            claims.repository_uuid.unwrap()
        );
        assert_eq!(serde_json::to_value(&claims).unwrap(), payload);
    }

    #[test]
    fn claims_reject_float_timestamps() {
        let payload = json!({"iss": "i", "aud": "a", "sub": "s", "iat": 1, "exp": 1.5});
        assert!(serde_json::from_value::<Claims>(payload).is_err());
    }
}
