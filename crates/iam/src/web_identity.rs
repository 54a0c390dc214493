//! The request context of `sts:AssumeRoleWithWebIdentity`: exactly the condition keys AWS provides for an
//! OIDC token (aws.md §3.2–3.3). Custom claims such as Bitbucket's `branchName` or `repositoryUuid` are *not*
//! keys, because AWS does not provide them: a condition on them finds the key missing, as in AWS.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::network::Network;
use crate::request::{Context, ContextValue, Principal, Request};

/// The action of the web-identity call itself.
pub const ASSUME_ROLE_WITH_WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";
/// Needed in addition when the token carries session tags (`https://aws.amazon.com/tags`).
pub const TAG_SESSION: &str = "sts:TagSession";
/// Needed in addition when the token carries `https://aws.amazon.com/source_identity`.
pub const SET_SOURCE_IDENTITY: &str = "sts:SetSourceIdentity";

const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";
const SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";

/// Claims every OIDC provider's tokens can expose as `<provider>:<claim>` (IAM UG; aws.md §3.2).
const GENERIC_CLAIMS: [&str; 6] = ["aud", "sub", "amr", "azp", "email", "oaud"];
/// GitHub's provider-specific keys (AWS, Jan 2026; aws.md §3.2).
const GITHUB_CLAIMS: [&str; 9] = [
    "actor",
    "actor_id",
    "job_workflow_ref",
    "repository",
    "repository_id",
    "workflow",
    "ref",
    "environment",
    "enterprise_id",
];

/// Everything the context depends on. `now` is a parameter: this crate never reads the clock.
#[derive(Debug, Clone)]
pub struct WebIdentityInput<'a> {
    /// The IAM OIDC provider ARN, `arn:aws:iam::<account>:oidc-provider/<host>[/<path>]`, or a built-in
    /// web IdP name (`accounts.google.com`, `cognito-identity.amazonaws.com`, ...).
    pub provider_arn: &'a str,
    /// The token's payload claims.
    pub claims: &'a Map<String, Value>,
    /// How the call reaches STS: `aws:SourceIp` over the internet, the VPC keys through a VPC endpoint.
    pub network: &'a Network,
    pub now: OffsetDateTime,
    pub role_session_name: Option<&'a str>,
    /// The audience STS matched against the provider's client IDs (see [`crate::sts`]): `<prefix>:aud` holds
    /// this value, so the condition key and the audience check agree for a token whose `aud` is an array. `None`
    /// gives the claim as written (a string, or the first element of an array).
    pub audience: Option<&'a str>,
}

/// The token or provider cannot form a request (the user's input is at fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebIdentityError {
    #[error(
        "`{0}` is not an OIDC provider ARN: expected arn:aws:iam::<account>:oidc-provider/<host>[/<path>], e.g. \
         arn:aws:iam::123456789012:oidc-provider/api.bitbucket.org/2.0/workspaces/<workspace>/pipelines-config/identity/oidc"
    )]
    ProviderArn(String),
    #[error("claim `{claim}` is {found}; AWS needs {expected}")]
    ClaimType {
        claim: String,
        found: &'static str,
        expected: &'static str,
    },
    #[error("session tags in `{TAGS_CLAIM}` are malformed: {0}")]
    Tags(String),
}

/// The provider's condition-key prefix: the ARN's resource after `oidc-provider/` (host plus path), or the
/// built-in IdP name itself.
pub fn provider_prefix(provider_arn: &str) -> Result<&str, WebIdentityError> {
    if !provider_arn.starts_with("arn:") {
        return if is_builtin_idp(provider_arn) {
            Ok(provider_arn)
        } else {
            Err(WebIdentityError::ProviderArn(provider_arn.to_string()))
        };
    }
    let parts: Vec<&str> = provider_arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource]
            if !partition.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit()) =>
        {
            match resource.strip_prefix("oidc-provider/") {
                Some(prefix) if !prefix.is_empty() && !prefix.contains("://") => Ok(prefix),
                _ => Err(WebIdentityError::ProviderArn(provider_arn.to_string())),
            }
        }
        _ => Err(WebIdentityError::ProviderArn(provider_arn.to_string())),
    }
}

fn is_builtin_idp(name: &str) -> bool {
    matches!(
        name,
        "accounts.google.com"
            | "graph.facebook.com"
            | "www.amazon.com"
            | "cognito-identity.amazonaws.com"
    )
}

/// The context AWS builds for this token: `<prefix>:aud/sub/amr/azp/email/oaud` as available from the
/// claims (provider-specific keys for the built-in IdPs and GitHub), the network keys of
/// [`WebIdentityInput::network`] (`aws:SourceIp`, or `aws:SourceVpc`/`aws:SourceVpcArn`/`aws:SourceVpce`/
/// `aws:VpcSourceIp`), `aws:CurrentTime`,
/// `aws:EpochTime`, `sts:RoleSessionName`, `sts:SourceIdentity`, and from the session-tags claim
/// `aws:RequestTag/<key>`, `aws:TagKeys`, `sts:TransitiveTagKeys`.
///
/// An array `aud` gives [`WebIdentityInput::audience`], the value that matched a client ID, or its first element
/// when no audience was matched (which value AWS puts in the key is UNCONFIRMED; see docs/iam-divergences.md).
pub fn context(input: &WebIdentityInput) -> Result<Context, WebIdentityError> {
    let prefix = provider_prefix(input.provider_arn)?;
    let mut context = Context::new();
    let claims = input.claims;
    let keys: Vec<(&str, &str)> = match prefix {
        // Google: `aud` is the authorized party when `azp` is set, `oaud` the token's audience
        // (IAMUG/reference_policies_iam-condition-keys).
        "accounts.google.com" => vec![("sub", "sub")],
        "graph.facebook.com" => vec![("app_id", "app_id"), ("id", "id")],
        "www.amazon.com" => vec![("app_id", "app_id"), ("user_id", "user_id")],
        "cognito-identity.amazonaws.com" => vec![("aud", "aud"), ("sub", "sub"), ("amr", "amr")],
        "token.actions.githubusercontent.com" => GENERIC_CLAIMS
            .iter()
            .chain(GITHUB_CLAIMS.iter())
            .map(|c| (*c, *c))
            .collect(),
        _ => GENERIC_CLAIMS.iter().map(|c| (*c, *c)).collect(),
    };
    for (key, claim) in keys {
        if claim == "aud"
            && let Some(audience) = input.audience
            && prefix != "accounts.google.com"
        {
            context.insert(format!("{prefix}:aud"), audience);
            continue;
        }
        if let Some(value) = claims.get(claim)
            && let Some(value) = claim_value(claim, value)?
        {
            context.insert(format!("{prefix}:{key}"), value);
        }
    }
    if prefix == "accounts.google.com"
        && let Some(aud) = claims.get("aud")
    {
        let aud = claim_value("aud", aud)?;
        let effective = match claims.get("azp") {
            Some(azp) => claim_value("azp", azp)?,
            None => aud.clone(),
        };
        if let Some(effective) = effective {
            context.insert("accounts.google.com:aud", effective);
        }
        if let Some(aud) = aud {
            context.insert("accounts.google.com:oaud", aud);
        }
    }
    for (key, value) in input.network.context_keys() {
        context.insert(key, value);
    }
    let now = input
        .now
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(input.now);
    if let Ok(current) = now.format(&Rfc3339) {
        context.insert("aws:CurrentTime", current);
    }
    context.insert("aws:EpochTime", input.now.unix_timestamp().to_string());
    if let Some(name) = input.role_session_name {
        context.insert("sts:RoleSessionName", name);
    }
    if let Some(value) = claims.get(SOURCE_IDENTITY_CLAIM) {
        match value {
            Value::String(s) => {
                context.insert("sts:SourceIdentity", s.as_str());
            }
            other => {
                return Err(WebIdentityError::ClaimType {
                    claim: SOURCE_IDENTITY_CLAIM.into(),
                    found: json_type(other),
                    expected: "a string",
                });
            }
        }
    }
    if let Some(tags) = claims.get(TAGS_CLAIM) {
        add_session_tags(&mut context, tags)?;
    }
    Ok(context)
}

/// The request AWS evaluates against the role trust policy: the provider as `Federated` principal, the
/// action `sts:AssumeRoleWithWebIdentity`, and [`context`].
pub fn request(input: &WebIdentityInput) -> Result<Request, WebIdentityError> {
    Ok(Request {
        principal: Principal::federated(input.provider_arn),
        action: ASSUME_ROLE_WITH_WEB_IDENTITY.to_string(),
        context: context(input)?,
    })
}

/// The actions the trust policy must also allow for this token: `sts:TagSession` when it carries session
/// tags, `sts:SetSourceIdentity` when it carries a source identity (IAMUG/id_session-tags).
pub fn required_extra_actions(claims: &Map<String, Value>) -> Vec<&'static str> {
    let mut actions = Vec::new();
    if claims.contains_key(TAGS_CLAIM) {
        actions.push(TAG_SESSION);
    }
    if claims.contains_key(SOURCE_IDENTITY_CLAIM) {
        actions.push(SET_SOURCE_IDENTITY);
    }
    actions
}

/// Every request AWS authorizes for this token: the web-identity call, then each extra action with the same
/// principal and context.
pub fn requests(input: &WebIdentityInput) -> Result<Vec<Request>, WebIdentityError> {
    let main = request(input)?;
    let mut all = vec![main.clone()];
    for action in required_extra_actions(input.claims) {
        all.push(Request {
            action: action.to_string(),
            ..main.clone()
        });
    }
    Ok(all)
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Strings stay strings; numbers and booleans become their JSON text; arrays become multivalued keys.
/// `amr` is multivalued (AWS's own example uses `ForAnyValue:StringLike` on it); every other claim key is
/// single-valued, so an array claim gives its first element (an empty array gives no key). For `aud` this
/// matches Bitbucket, which puts the workspace audience first and appends custom audiences; which value AWS
/// puts in `<provider>:aud` for an array audience is UNCONFIRMED (docs/iam-divergences.md).
fn claim_value(claim: &str, value: &Value) -> Result<Option<ContextValue>, WebIdentityError> {
    let scalar = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| {
                scalar(item).ok_or_else(|| WebIdentityError::ClaimType {
                    claim: claim.to_string(),
                    found: "an array with a non-scalar element",
                    expected: "a string or an array of strings",
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|values| {
                if claim == "amr" {
                    Some(ContextValue::Multi(values))
                } else {
                    values.into_iter().next().map(ContextValue::Single)
                }
            }),
        other => scalar(other)
            .map(|v| Some(ContextValue::Single(v)))
            .ok_or_else(|| WebIdentityError::ClaimType {
                claim: claim.to_string(),
                found: json_type(other),
                expected: "a string or an array of strings",
            }),
    }
}

/// `{"principal_tags": {"Project": ["Automation"]}, "transitive_tag_keys": ["Project"]}` (IAMUG/id_session-tags):
/// each tag value is an array with exactly one element, because STS does not support multivalued session tags.
fn add_session_tags(context: &mut Context, tags: &Value) -> Result<(), WebIdentityError> {
    let Value::Object(tags) = tags else {
        return Err(WebIdentityError::Tags(format!(
            "expected an object with `principal_tags`, found {}",
            json_type(tags)
        )));
    };
    let mut keys = Vec::new();
    if let Some(principal_tags) = tags.get("principal_tags") {
        let Value::Object(principal_tags) = principal_tags else {
            return Err(WebIdentityError::Tags(
                "`principal_tags` must be an object of tag key to [value]".into(),
            ));
        };
        for (key, value) in principal_tags {
            let value = match value {
                Value::Array(items) if items.len() == 1 => items[0].as_str(),
                _ => None,
            }
            .ok_or_else(|| {
                WebIdentityError::Tags(format!(
                    "tag `{key}` must have exactly one string value in an array, e.g. [\"value\"]"
                ))
            })?;
            context.insert(format!("aws:RequestTag/{key}"), value);
            keys.push(key.clone());
        }
    }
    context.insert("aws:TagKeys", ContextValue::Multi(keys));
    if let Some(transitive) = tags.get("transitive_tag_keys") {
        let values = transitive
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| {
                WebIdentityError::Tags("`transitive_tag_keys` must be an array of tag keys".into())
            })?;
        context.insert("sts:TransitiveTagKeys", ContextValue::Multi(values));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const PROVIDER: &str = "arn:aws:iam::123456789012:oidc-provider/api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";
    const PREFIX: &str = "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";

    static NETWORK: Network = Network::Internet {
        source_ip: std::net::IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7)),
    };

    fn input<'a>(claims: &'a Map<String, Value>) -> WebIdentityInput<'a> {
        WebIdentityInput {
            provider_arn: PROVIDER,
            claims,
            network: &NETWORK,
            now: time::macros::datetime!(2026-11-22 04:00:00.5 UTC),
            role_session_name: Some("deploy"),
            audience: None,
        }
    }

    #[test]
    fn bitbucket_claims_give_exactly_the_aws_keys() {
        let claims = json!({
            "sub": "{repo}:{env}:{step}", "aud": "ari:cloud:bitbucket::workspace/ws", "iss": "https://x",
            "branchName": "main", "repositoryUuid": "{repo}", "stepUuid": "{step}", "iat": 1, "exp": 2
        });
        let claims = claims.as_object().unwrap();
        let context = context(&input(claims)).unwrap();
        let keys: Vec<&str> = context.iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                format!("{PREFIX}:aud").as_str(),
                &format!("{PREFIX}:sub"),
                "aws:SourceIp",
                "aws:CurrentTime",
                "aws:EpochTime",
                "sts:RoleSessionName"
            ]
        );
        assert_eq!(
            context.get("aws:CurrentTime").unwrap().as_slice(),
            ["2026-11-22T04:00:00Z"]
        );
        assert_eq!(
            context.get("aws:EpochTime").unwrap().as_slice(),
            ["1795320000"]
        );
        assert!(context.get(&format!("{PREFIX}:branchName")).is_none());
        assert!(required_extra_actions(claims).is_empty());
    }

    #[test]
    fn session_tags_and_source_identity() {
        let claims = json!({
            "sub": "s", "aud": ["a", "b"],
            "https://aws.amazon.com/tags": {"principal_tags": {"Project": ["Automation"], "CostCenter": ["987654"]},
                                             "transitive_tag_keys": ["Project"]},
            "https://aws.amazon.com/source_identity": "Admin"
        });
        let claims = claims.as_object().unwrap();
        let context = context(&input(claims)).unwrap();
        assert_eq!(
            context.get("aws:RequestTag/Project").unwrap().as_slice(),
            ["Automation"]
        );
        assert_eq!(
            context.get("aws:TagKeys").unwrap().as_slice(),
            ["Project", "CostCenter"]
        );
        assert_eq!(
            context.get("sts:TransitiveTagKeys").unwrap().as_slice(),
            ["Project"]
        );
        assert_eq!(
            context.get("sts:SourceIdentity").unwrap().as_slice(),
            ["Admin"]
        );
        assert_eq!(
            context.get(&format!("{PREFIX}:aud")).unwrap().as_slice(),
            ["a"]
        );
        assert_eq!(
            required_extra_actions(claims),
            [TAG_SESSION, SET_SOURCE_IDENTITY]
        );
        assert_eq!(requests(&input(claims)).unwrap().len(), 3);
        // The audience STS matched decides the key (here the second element).
        let mut matched = input(claims);
        matched.audience = Some("b");
        assert_eq!(
            super::context(&matched)
                .unwrap()
                .get(&format!("{PREFIX}:aud"))
                .unwrap()
                .as_slice(),
            ["b"]
        );
    }

    #[test]
    fn multivalued_session_tags_are_rejected() {
        let claims = json!({"https://aws.amazon.com/tags": {"principal_tags": {"P": ["a", "b"]}}});
        let error = context(&input(claims.as_object().unwrap())).unwrap_err();
        assert!(error.to_string().contains("exactly one"), "{error}");
    }

    #[test]
    fn google_aud_is_azp_when_present() {
        let claims = json!({"sub": "1", "aud": "client", "azp": "authorized"});
        let claims = claims.as_object().unwrap();
        let mut i = input(claims);
        i.provider_arn = "accounts.google.com";
        let context = context(&i).unwrap();
        assert_eq!(
            context.get("accounts.google.com:aud").unwrap().as_slice(),
            ["authorized"]
        );
        assert_eq!(
            context.get("accounts.google.com:oaud").unwrap().as_slice(),
            ["client"]
        );
    }

    #[test]
    fn provider_arns() {
        assert_eq!(provider_prefix(PROVIDER).unwrap(), PREFIX);
        for bad in [
            "arn:aws:iam::123:oidc-provider/x",
            "arn:aws:iam::123456789012:role/x",
            "example.com",
            "arn:aws:iam::123456789012:oidc-provider/https://x",
        ] {
            assert!(provider_prefix(bad).is_err(), "{bad}");
        }
    }
}
