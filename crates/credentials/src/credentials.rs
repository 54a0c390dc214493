//! Temporary AWS credentials and the session they belong to, plus conversions into the AWS SDK's types so other
//! keyless commands (e.g. `deploy`) can use them directly.

use aws_credential_types::provider::SharedCredentialsProvider;
use keyless_net::aws::{SdkConfig, SdkOptions};
use keyless_net::http::HttpError;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Secret;

/// A set of temporary credentials. `Debug` shows the access key ID (an identifier, as in CloudTrail) and
/// redacts the secret key and session token.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `ASIA…` access key ID.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Secret,
    /// Session token.
    pub session_token: Secret,
    /// When they stop working.
    pub expiration: OffsetDateTime,
}

impl Credentials {
    /// Expiration as RFC 3339 UTC (`2026-01-01T00:00:00Z`), the form `credential_process` and
    /// `AWS_CREDENTIAL_EXPIRATION` use.
    pub fn expiration_rfc3339(&self) -> String {
        let utc = self
            .expiration
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .unwrap_or(self.expiration);
        utc.format(&Rfc3339)
            .unwrap_or_else(|_| utc.unix_timestamp().to_string())
    }

    /// The SDK's credentials type (for building clients).
    pub fn to_sdk(&self) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.expose().to_owned(),
            Some(self.session_token.expose().to_owned()),
            Some(std::time::SystemTime::from(self.expiration)),
            "keyless",
        )
    }
}

/// One role assumed along the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The role ARN that was requested.
    pub role_arn: String,
    /// The assumed-role ARN AWS returned (`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`).
    pub assumed_role_arn: String,
}

/// What the first `--chain` hop set besides the role: the session tags actually sent (after any optional tags were
/// dropped because AWS found them too large), which of them are transitive, and the source identity. Empty
/// without `--tag`/`--default-tags`/`--transitive-tag`/`--source-identity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionAttributes {
    /// `(key, value)` in the order sent.
    pub tags: Vec<(String, String)>,
    /// Keys of `tags` set as transitive.
    pub transitive_tag_keys: Vec<String>,
    /// The source identity set.
    pub source_identity: Option<String>,
    /// Keys of optional (`--default-tags`) tags dropped after `PackedPolicyTooLarge`, in the order dropped.
    pub dropped_tags: Vec<String>,
}

impl SessionAttributes {
    /// Whether nothing was set.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.source_identity.is_none()
    }
}

/// The result of an assume: final credentials, where they came from, and the region they are for.
#[derive(Debug, Clone)]
pub struct Session {
    /// The final credentials.
    pub credentials: Credentials,
    /// The region (also exported as `AWS_REGION`/`AWS_DEFAULT_REGION`).
    pub region: String,
    /// Every role assumed, web-identity role first.
    pub hops: Vec<Hop>,
    /// The account the final credentials belong to.
    pub account: Option<String>,
    /// Session tags and source identity set on the first `--chain` hop.
    pub attributes: SessionAttributes,
}

impl Session {
    /// The assumed-role ARN of the final credentials.
    pub fn assumed_role_arn(&self) -> &str {
        self.hops
            .last()
            .map(|h| h.assumed_role_arn.as_str())
            .unwrap_or_default()
    }

    /// An AWS SDK configuration with these credentials and region, for any service client:
    /// `aws_sdk_s3::Client::new(&session.sdk_config()?)`. Proxies come from `HTTPS_PROXY`/`NO_PROXY`...; it
    /// fails only when one of those is not a proxy URL.
    pub fn sdk_config(&self) -> Result<SdkConfig, HttpError> {
        keyless_net::aws::fixed(&SdkOptions {
            region: Some(self.region.clone()),
            credentials: Some(SharedCredentialsProvider::new(self.credentials.to_sdk())),
            ..SdkOptions::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_and_expiration_is_rfc3339() {
        let creds = Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("canary-secret"),
            session_token: Secret::new("canary-session"),
            expiration: time::macros::datetime!(2026-01-02 03:04:05.678 UTC),
        };
        let debug = format!("{creds:?}");
        assert!(!debug.contains("canary"), "{debug}");
        assert!(!format!("{:?}", creds.to_sdk()).contains("canary"));
        assert_eq!(creds.expiration_rfc3339(), "2026-01-02T03:04:05Z");
    }
}
