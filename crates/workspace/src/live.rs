//! IAM as it is: reading an account's provider and roles through the AWS SDK for Rust, applying a diff, and the
//! live [`TrustView`] behind `keyless check --live`.

use std::collections::HashMap;

use aws_config::BehaviorVersion;
use aws_sdk_iam::Client;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::Tag;
use indexmap::IndexMap;
use serde_json::Value;

use crate::diff::{AccountState, Change, ProviderState, RoleState};
use crate::matrix::{ProviderView, RoleView, TrustView};
use crate::plan::{AccountPlan, MANAGED_TAG, Plan, WORKSPACE_TAG};

/// How to reach IAM.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// An endpoint override (`keyless emulate`, moto), else AWS.
    pub endpoint_url: Option<String>,
    /// The signing region. IAM is global; the SDK still needs one.
    pub region: String,
    /// Account → AWS profile name; accounts without one use the default credential chain.
    pub profiles: HashMap<String, String>,
}

/// A failure talking to IAM or STS (the remote service, or the user's credentials).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{operation} failed: {message}")]
    Aws { operation: String, message: String },
    #[error(
        "the credentials for account {wanted} belong to account {actual}; pass --profile {wanted}=<profile> with credentials for {wanted}"
    )]
    WrongAccount { wanted: String, actual: String },
    #[error("IAM returned a policy document that is not JSON for {what}: {message}")]
    BadDocument { what: String, message: String },
}

fn aws_error<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    operation: &str,
    error: &SdkError<E, R>,
) -> LiveError {
    let message = match error {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            format!(
                "{}: {}",
                inner.code().unwrap_or("error"),
                inner.message().unwrap_or("no message")
            )
        }
        SdkError::DispatchFailure(failure) => format!(
            "cannot reach the endpoint ({failure:?}); check --endpoint-url and your network"
        ),
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        other => format!("{other}"),
    };
    LiveError::Aws {
        operation: operation.to_owned(),
        message,
    }
}

fn is_no_such_entity<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    matches!(error, SdkError::ServiceError(service) if service.err().code() == Some("NoSuchEntity"))
}

/// An IAM client for `account`, with its identity verified through STS `GetCallerIdentity`.
pub async fn client_for(options: &ConnectOptions, account: &str) -> Result<Client, LiveError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(options.region.clone()));
    if let Some(profile) = options.profiles.get(account) {
        // `profile_name` alone is not enough: the default chain reads AWS_ACCESS_KEY_ID first, so in CI (where
        // those are set for one account) every other account's profile would be ignored.
        let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_name(profile)
            .build();
        loader = loader
            .profile_name(profile)
            .credentials_provider(credentials);
    }
    if let Some(endpoint) = &options.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    let identity = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_error("sts:GetCallerIdentity", &e))?;
    let actual = identity.account().unwrap_or_default();
    if actual != account {
        return Err(LiveError::WrongAccount {
            wanted: account.to_owned(),
            actual: actual.to_owned(),
        });
    }
    Ok(Client::new(&config))
}

fn decode_document(text: &str, what: &str) -> Result<Value, LiveError> {
    // IAM returns policy documents URL-encoded (RFC 3986); some emulators return them as is.
    let decoded = if text.trim_start().starts_with('{') {
        text.to_owned()
    } else {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    serde_json::from_str(&decoded).map_err(|e| LiveError::BadDocument {
        what: what.to_owned(),
        message: e.to_string(),
    })
}

fn tags_map(tags: &[Tag]) -> IndexMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

/// Read one role, or `None` if it does not exist.
async fn read_role(client: &Client, name: &str) -> Result<Option<RoleState>, LiveError> {
    let output = match client.get_role().role_name(name).send().await {
        Ok(output) => output,
        Err(error) if is_no_such_entity(&error) => return Ok(None),
        Err(error) => return Err(aws_error("iam:GetRole", &error)),
    };
    let Some(role) = output.role() else {
        return Ok(None);
    };
    let trust_policy = match role.assume_role_policy_document() {
        Some(text) => decode_document(text, &format!("the trust policy of role {name}"))?,
        None => Value::Null,
    };
    let mut managed_policies = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .list_attached_role_policies()
            .role_name(name)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| aws_error("iam:ListAttachedRolePolicies", &e))?;
        managed_policies.extend(
            page.attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned)),
        );
        marker = page.marker().map(str::to_owned);
        if !page.is_truncated() || marker.is_none() {
            break;
        }
    }
    let mut inline_policies = IndexMap::new();
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .list_role_policies()
            .role_name(name)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| aws_error("iam:ListRolePolicies", &e))?;
        for policy_name in page.policy_names() {
            let policy = client
                .get_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .map_err(|e| aws_error("iam:GetRolePolicy", &e))?;
            let document = decode_document(
                policy.policy_document(),
                &format!("inline policy {policy_name}"),
            )?;
            inline_policies.insert(policy_name.clone(), document);
        }
        marker = page.marker().map(str::to_owned);
        if !page.is_truncated() || marker.is_none() {
            break;
        }
    }
    Ok(Some(RoleState {
        name: role.role_name().to_owned(),
        path: role.path().to_owned(),
        trust_policy,
        description: role.description().map(str::to_owned),
        max_session_duration: role
            .max_session_duration()
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(3600),
        permissions_boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn().map(str::to_owned)),
        managed_policies,
        inline_policies,
        tags: tags_map(role.tags()),
    }))
}

/// Read everything the account's plan touches, plus keyless-managed roles of this workspace that the plan no
/// longer has.
pub async fn read_account(
    client: &Client,
    plan: &AccountPlan,
    workspace: &str,
) -> Result<AccountState, LiveError> {
    let provider = match client
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&plan.provider.arn)
        .send()
        .await
    {
        Ok(output) => Some(ProviderState {
            client_ids: output.client_id_list().to_vec(),
            thumbprints: output.thumbprint_list().to_vec(),
        }),
        Err(error) if is_no_such_entity(&error) => None,
        Err(error) => return Err(aws_error("iam:GetOpenIDConnectProvider", &error)),
    };
    let mut roles = IndexMap::new();
    for role in &plan.roles {
        if let Some(state) = read_role(client, &role.name).await? {
            roles.insert(role.name.clone(), state);
        }
    }
    // Orphans: ListRoles does not return tags, so candidates under keyless's paths are read one by one.
    let mut orphans = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .list_roles()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| aws_error("iam:ListRoles", &e))?;
        for role in page.roles() {
            let name = role.role_name();
            if plan.roles.iter().any(|r| r.name == name) {
                continue;
            }
            let tags = if role.tags().is_empty() {
                match client.get_role().role_name(name).send().await {
                    Ok(output) => output
                        .role()
                        .map(|r| tags_map(r.tags()))
                        .unwrap_or_default(),
                    Err(_) => IndexMap::new(),
                }
            } else {
                tags_map(role.tags())
            };
            if tags.get(MANAGED_TAG).map(String::as_str) == Some("keyless")
                && tags.get(WORKSPACE_TAG).map(String::as_str) == Some(workspace)
            {
                orphans.push(name.to_owned());
            }
        }
        marker = page.marker().map(str::to_owned);
        if !page.is_truncated() || marker.is_none() {
            break;
        }
    }
    Ok(AccountState {
        provider,
        roles,
        orphans,
    })
}

fn tag(key: &str, value: &str) -> Result<Tag, LiveError> {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| LiveError::Aws {
            operation: "building a tag".to_owned(),
            message: e.to_string(),
        })
}

/// Execute `changes` in order. Stops at the first failure (what was done stays done; apply again to resume).
pub async fn execute(client: &Client, changes: &[Change]) -> Result<(), LiveError> {
    for change in changes {
        match change {
            Change::CreateProvider {
                url,
                client_ids,
                thumbprints,
            } => {
                client
                    .create_open_id_connect_provider()
                    .url(url)
                    .set_client_id_list(Some(client_ids.clone()))
                    .set_thumbprint_list((!thumbprints.is_empty()).then(|| thumbprints.clone()))
                    .tags(tag(MANAGED_TAG, "keyless")?)
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:CreateOpenIDConnectProvider", &e))?;
            }
            Change::AddClientId {
                provider_arn,
                client_id,
            } => {
                client
                    .add_client_id_to_open_id_connect_provider()
                    .open_id_connect_provider_arn(provider_arn)
                    .client_id(client_id)
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:AddClientIDToOpenIDConnectProvider", &e))?;
            }
            Change::RemoveClientId {
                provider_arn,
                client_id,
            } => {
                client
                    .remove_client_id_from_open_id_connect_provider()
                    .open_id_connect_provider_arn(provider_arn)
                    .client_id(client_id)
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:RemoveClientIDFromOpenIDConnectProvider", &e))?;
            }
            Change::UpdateThumbprints {
                provider_arn, to, ..
            } => {
                client
                    .update_open_id_connect_provider_thumbprint()
                    .open_id_connect_provider_arn(provider_arn)
                    .set_thumbprint_list(Some(to.clone()))
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:UpdateOpenIDConnectProviderThumbprint", &e))?;
            }
            Change::CreateRole { role } => {
                let mut request = client
                    .create_role()
                    .role_name(&role.name)
                    .path(&role.path)
                    .description(&role.description)
                    .assume_role_policy_document(role.trust_policy_text())
                    .max_session_duration(i32::try_from(role.max_session_duration).unwrap_or(3600))
                    .set_permissions_boundary(role.permissions_boundary.clone());
                for (key, value) in &role.tags {
                    request = request.tags(tag(key, value)?);
                }
                request
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:CreateRole", &e))?;
            }
            Change::UpdateTrustPolicy { role, to, .. } => {
                client
                    .update_assume_role_policy()
                    .role_name(role)
                    .policy_document(serde_json::to_string(to).unwrap_or_default())
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:UpdateAssumeRolePolicy", &e))?;
            }
            Change::UpdateRole {
                role,
                description,
                max_session_duration,
            } => {
                client
                    .update_role()
                    .role_name(role)
                    .description(description)
                    .max_session_duration(i32::try_from(*max_session_duration).unwrap_or(3600))
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:UpdateRole", &e))?;
            }
            Change::PutPermissionsBoundary { role, arn } => {
                client
                    .put_role_permissions_boundary()
                    .role_name(role)
                    .permissions_boundary(arn)
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:PutRolePermissionsBoundary", &e))?;
            }
            Change::DeletePermissionsBoundary { role } => {
                client
                    .delete_role_permissions_boundary()
                    .role_name(role)
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:DeleteRolePermissionsBoundary", &e))?;
            }
            Change::AttachPolicy { role, arn } => {
                client
                    .attach_role_policy()
                    .role_name(role)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:AttachRolePolicy", &e))?;
            }
            Change::DetachPolicy { role, arn } => {
                client
                    .detach_role_policy()
                    .role_name(role)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:DetachRolePolicy", &e))?;
            }
            Change::PutInlinePolicy {
                role,
                name,
                document,
                ..
            } => {
                client
                    .put_role_policy()
                    .role_name(role)
                    .policy_name(name)
                    .policy_document(serde_json::to_string(document).unwrap_or_default())
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:PutRolePolicy", &e))?;
            }
            Change::DeleteInlinePolicy { role, name } => {
                client
                    .delete_role_policy()
                    .role_name(role)
                    .policy_name(name)
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:DeleteRolePolicy", &e))?;
            }
            Change::TagRole { role, tags } => {
                let mut request = client.tag_role().role_name(role);
                for (key, value) in tags {
                    request = request.tags(tag(key, value)?);
                }
                request
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:TagRole", &e))?;
            }
            Change::UntagRole { role, keys } => {
                client
                    .untag_role()
                    .role_name(role)
                    .set_tag_keys(Some(keys.clone()))
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:UntagRole", &e))?;
            }
            Change::DeleteRole { role } => {
                // IAM refuses to delete a role with policies: detach and delete them first.
                if let Some(state) = read_role(client, role).await? {
                    for arn in &state.managed_policies {
                        client
                            .detach_role_policy()
                            .role_name(role)
                            .policy_arn(arn)
                            .send()
                            .await
                            .map_err(|e| aws_error("iam:DetachRolePolicy", &e))?;
                    }
                    for name in state.inline_policies.keys() {
                        client
                            .delete_role_policy()
                            .role_name(role)
                            .policy_name(name)
                            .send()
                            .await
                            .map_err(|e| aws_error("iam:DeleteRolePolicy", &e))?;
                    }
                }
                client
                    .delete_role()
                    .role_name(role)
                    .send()
                    .await
                    .map_err(|e| aws_error("iam:DeleteRole", &e))?;
            }
        }
    }
    Ok(())
}

/// The trust state deployed in every account of `plan`: roles read with `GetRole`, providers with
/// `GetOpenIDConnectProvider`.
pub async fn read_trust_view(
    plan: &Plan,
    options: &ConnectOptions,
) -> Result<TrustView, LiveError> {
    let mut roles = Vec::new();
    let mut providers = HashMap::new();
    for account in &plan.accounts {
        let client = client_for(options, &account.account).await?;
        match client
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(&account.provider.arn)
            .send()
            .await
        {
            Ok(output) => {
                let url = output
                    .url()
                    .unwrap_or_default()
                    .trim_start_matches("https://")
                    .to_owned();
                providers.insert(
                    account.account.clone(),
                    ProviderView {
                        url,
                        client_ids: output.client_id_list().to_vec(),
                    },
                );
            }
            Err(error) if is_no_such_entity(&error) => {}
            Err(error) => return Err(aws_error("iam:GetOpenIDConnectProvider", &error)),
        }
        for role in &account.roles {
            let trust_policy = match client.get_role().role_name(&role.name).send().await {
                Ok(output) => match output.role().and_then(|r| r.assume_role_policy_document()) {
                    Some(text) => Some(
                        serde_json::to_string(&decode_document(
                            text,
                            &format!("the trust policy of role {}", role.name),
                        )?)
                        .unwrap_or_default(),
                    ),
                    None => None,
                },
                Err(error) if is_no_such_entity(&error) => None,
                Err(error) => return Err(aws_error("iam:GetRole", &error)),
            };
            roles.push(RoleView {
                arn: role.arn.clone(),
                name: role.name.clone(),
                account: account.account.clone(),
                kind: role.kind.clone(),
                trust_policy,
            });
        }
    }
    Ok(TrustView { roles, providers })
}
