//! IAM as it is: reading an account's provider and roles through the AWS SDK for Rust, applying a diff, and the
//! live [`TrustView`] behind `keyless check --live`.

use std::collections::HashMap;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_iam::Client;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::operation::get_open_id_connect_provider::GetOpenIdConnectProviderOutput;
use aws_sdk_iam::types::{AttachedPolicy, Role, Tag};
use indexmap::IndexMap;
use serde_json::Value;

use crate::error_chain;
use keyless_workspace::diff::{AccountState, Change, ProviderState, RoleState};
use keyless_workspace::matrix::{ProviderView, RoleView, TrustView};
use keyless_workspace::plan::{AccountPlan, MANAGED_TAG, Plan, WORKSPACE_TAG};

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
    #[error(
        "no usable AWS credentials for account {account}: {detail}\n  fix: pass --profile {account}=<profile>, or give the default chain an identity in that account (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or keyless assume/configure in a step)"
    )]
    NoCredentials { account: String, detail: String },
    /// A proxy variable (`HTTPS_PROXY`...) that is not a proxy URL.
    #[error(transparent)]
    Proxy(#[from] crate::http::HttpError),
}

/// The credential chain's failure behind an SDK error, if that is what it was. The SDK reports "no credentials"
/// as a dispatch (connector) failure, which would otherwise read as "cannot reach the endpoint".
fn credentials_failure<E, R>(error: &SdkError<E, R>) -> Option<&CredentialsError> {
    let SdkError::DispatchFailure(failure) = error else {
        return None;
    };
    let mut source: Option<&(dyn std::error::Error + 'static)> = failure
        .as_connector_error()
        .and_then(std::error::Error::source);
    while let Some(error) = source {
        if let Some(credentials) = error.downcast_ref::<CredentialsError>() {
            return Some(credentials);
        }
        source = error.source();
    }
    None
}

fn aws_error<
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
>(
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
        SdkError::DispatchFailure(_) => match credentials_failure(error) {
            Some(credentials) => format!("no usable AWS credentials: {}", error_chain(credentials)),
            None => format!(
                "cannot reach the endpoint: {}; check --endpoint-url and your network",
                error_chain(error)
            ),
        },
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
    let config = crate::aws::load(&crate::aws::SdkOptions {
        region: Some(options.region.clone()),
        endpoint_url: options.endpoint_url.clone(),
        profile: options.profiles.get(account).cloned(),
        ..crate::aws::SdkOptions::default()
    })
    .await?;
    let identity = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| match credentials_failure(&e) {
            Some(credentials) => LiveError::NoCredentials {
                account: account.to_owned(),
                detail: error_chain(credentials),
            },
            None => aws_error("sts:GetCallerIdentity", &e),
        })?;
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

/// Await one SDK call, naming the IAM/STS operation in the error.
async fn call<T, E, R>(
    operation: &str,
    request: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, LiveError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    request.await.map_err(|error| aws_error(operation, &error))
}

/// Like [`call`], with `NoSuchEntity` as `None`.
async fn call_optional<T, E, R>(
    operation: &str,
    request: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<Option<T>, LiveError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match request.await {
        Ok(output) => Ok(Some(output)),
        Err(error) if is_no_such_entity(&error) => Ok(None),
        Err(error) => Err(aws_error(operation, &error)),
    }
}

/// `GetRole`, or `None` if the role does not exist.
async fn get_role(client: &Client, name: &str) -> Result<Option<Role>, LiveError> {
    let output = call_optional("iam:GetRole", client.get_role().role_name(name).send()).await?;
    Ok(output.and_then(|o| o.role))
}

/// `GetOpenIDConnectProvider`, or `None` if the account has no provider with this ARN.
async fn get_provider(
    client: &Client,
    arn: &str,
) -> Result<Option<GetOpenIdConnectProviderOutput>, LiveError> {
    call_optional(
        "iam:GetOpenIDConnectProvider",
        client
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send(),
    )
    .await
}

fn trust_policy_of(role: &Role) -> Result<Option<Value>, LiveError> {
    role.assume_role_policy_document()
        .map(|text| {
            decode_document(
                text,
                &format!("the trust policy of role {}", role.role_name()),
            )
        })
        .transpose()
}

/// Read one role, or `None` if it does not exist.
async fn read_role(client: &Client, name: &str) -> Result<Option<RoleState>, LiveError> {
    let Some(role) = get_role(client, name).await? else {
        return Ok(None);
    };
    let managed_policies: Vec<AttachedPolicy> = call(
        "iam:ListAttachedRolePolicies",
        client
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>(),
    )
    .await?;
    let policy_names: Vec<String> = call(
        "iam:ListRolePolicies",
        client
            .list_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>(),
    )
    .await?;
    let mut inline_policies = IndexMap::new();
    for policy_name in policy_names {
        let policy = call(
            "iam:GetRolePolicy",
            client
                .get_role_policy()
                .role_name(name)
                .policy_name(&policy_name)
                .send(),
        )
        .await?;
        let document = decode_document(
            policy.policy_document(),
            &format!("inline policy {policy_name}"),
        )?;
        inline_policies.insert(policy_name, document);
    }
    Ok(Some(RoleState {
        name: role.role_name().to_owned(),
        path: role.path().to_owned(),
        trust_policy: trust_policy_of(&role)?.unwrap_or(Value::Null),
        description: role.description().map(str::to_owned),
        max_session_duration: role
            .max_session_duration()
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(3600),
        permissions_boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn().map(str::to_owned)),
        managed_policies: managed_policies
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect(),
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
    let provider = get_provider(client, &plan.provider.arn)
        .await?
        .map(|output| ProviderState {
            client_ids: output.client_id_list().to_vec(),
            thumbprints: output.thumbprint_list().to_vec(),
        });
    let mut roles = IndexMap::new();
    for role in &plan.roles {
        if let Some(state) = read_role(client, &role.name).await? {
            roles.insert(role.name.clone(), state);
        }
    }
    // Orphans: ListRoles does not return tags, so roles outside the plan are read one by one.
    let listed: Vec<Role> = call(
        "iam:ListRoles",
        client
            .list_roles()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>(),
    )
    .await?;
    let mut orphans = Vec::new();
    for role in listed {
        let name = role.role_name();
        if plan.roles.iter().any(|r| r.name == name) {
            continue;
        }
        let tags = if role.tags().is_empty() {
            // A role deleted meanwhile, or one we may not read, is not ours to prune.
            match get_role(client, name).await {
                Ok(Some(full)) => tags_map(full.tags()),
                Ok(None) | Err(_) => IndexMap::new(),
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

fn tags<'a>(
    pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<Vec<Tag>, LiveError> {
    pairs
        .into_iter()
        .map(|(key, value)| tag(key, value))
        .collect()
}

fn policy_text(document: &Value) -> String {
    serde_json::to_string(document).unwrap_or_default()
}

fn session_seconds(seconds: u32) -> i32 {
    i32::try_from(seconds).unwrap_or(3600)
}

async fn detach_policy(client: &Client, role: &str, arn: &str) -> Result<(), LiveError> {
    call(
        "iam:DetachRolePolicy",
        client
            .detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send(),
    )
    .await
    .map(drop)
}

async fn delete_inline_policy(client: &Client, role: &str, name: &str) -> Result<(), LiveError> {
    call(
        "iam:DeleteRolePolicy",
        client
            .delete_role_policy()
            .role_name(role)
            .policy_name(name)
            .send(),
    )
    .await
    .map(drop)
}

/// Execute `changes` in order. Stops at the first failure (what was done stays done; apply again to resume).
pub async fn execute(client: &Client, changes: &[Change]) -> Result<(), LiveError> {
    for change in changes {
        execute_one(client, change).await?;
    }
    Ok(())
}

async fn execute_one(client: &Client, change: &Change) -> Result<(), LiveError> {
    match change {
        Change::CreateProvider {
            url,
            client_ids,
            thumbprints,
        } => {
            let request = client
                .create_open_id_connect_provider()
                .url(url)
                .set_client_id_list(Some(client_ids.clone()))
                .set_thumbprint_list((!thumbprints.is_empty()).then(|| thumbprints.clone()))
                .tags(tag(MANAGED_TAG, "keyless")?);
            call("iam:CreateOpenIDConnectProvider", request.send()).await?;
        }
        Change::AddClientId {
            provider_arn,
            client_id,
        } => {
            let request = client
                .add_client_id_to_open_id_connect_provider()
                .open_id_connect_provider_arn(provider_arn)
                .client_id(client_id);
            call("iam:AddClientIDToOpenIDConnectProvider", request.send()).await?;
        }
        Change::RemoveClientId {
            provider_arn,
            client_id,
        } => {
            let request = client
                .remove_client_id_from_open_id_connect_provider()
                .open_id_connect_provider_arn(provider_arn)
                .client_id(client_id);
            call(
                "iam:RemoveClientIDFromOpenIDConnectProvider",
                request.send(),
            )
            .await?;
        }
        Change::UpdateThumbprints {
            provider_arn, to, ..
        } => {
            let request = client
                .update_open_id_connect_provider_thumbprint()
                .open_id_connect_provider_arn(provider_arn)
                .set_thumbprint_list(Some(to.clone()));
            call("iam:UpdateOpenIDConnectProviderThumbprint", request.send()).await?;
        }
        Change::CreateRole { role } => {
            let request = client
                .create_role()
                .role_name(&role.name)
                .path(&role.path)
                .description(&role.description)
                .assume_role_policy_document(role.trust_policy_text())
                .max_session_duration(session_seconds(role.max_session_duration))
                .set_permissions_boundary(role.permissions_boundary.clone())
                .set_tags(Some(tags(&role.tags)?).filter(|t| !t.is_empty()));
            call("iam:CreateRole", request.send()).await?;
        }
        Change::UpdateTrustPolicy { role, to, .. } => {
            let request = client
                .update_assume_role_policy()
                .role_name(role)
                .policy_document(policy_text(to));
            call("iam:UpdateAssumeRolePolicy", request.send()).await?;
        }
        Change::UpdateRole {
            role,
            description,
            max_session_duration,
        } => {
            let request = client
                .update_role()
                .role_name(role)
                .description(description)
                .max_session_duration(session_seconds(*max_session_duration));
            call("iam:UpdateRole", request.send()).await?;
        }
        Change::PutPermissionsBoundary { role, arn } => {
            let request = client
                .put_role_permissions_boundary()
                .role_name(role)
                .permissions_boundary(arn);
            call("iam:PutRolePermissionsBoundary", request.send()).await?;
        }
        Change::DeletePermissionsBoundary { role } => {
            let request = client.delete_role_permissions_boundary().role_name(role);
            call("iam:DeleteRolePermissionsBoundary", request.send()).await?;
        }
        Change::AttachPolicy { role, arn } => {
            let request = client.attach_role_policy().role_name(role).policy_arn(arn);
            call("iam:AttachRolePolicy", request.send()).await?;
        }
        Change::DetachPolicy { role, arn } => detach_policy(client, role, arn).await?,
        Change::PutInlinePolicy {
            role,
            name,
            document,
            ..
        } => {
            let request = client
                .put_role_policy()
                .role_name(role)
                .policy_name(name)
                .policy_document(policy_text(document));
            call("iam:PutRolePolicy", request.send()).await?;
        }
        Change::DeleteInlinePolicy { role, name } => {
            delete_inline_policy(client, role, name).await?;
        }
        Change::TagRole { role, tags: pairs } => {
            let request = client
                .tag_role()
                .role_name(role)
                .set_tags(Some(tags(pairs.iter().map(|(k, v)| (k, v)))?));
            call("iam:TagRole", request.send()).await?;
        }
        Change::UntagRole { role, keys } => {
            let request = client
                .untag_role()
                .role_name(role)
                .set_tag_keys(Some(keys.clone()));
            call("iam:UntagRole", request.send()).await?;
        }
        Change::DeleteRole { role } => {
            // IAM refuses to delete a role with policies: detach and delete them first.
            if let Some(state) = read_role(client, role).await? {
                for arn in &state.managed_policies {
                    detach_policy(client, role, arn).await?;
                }
                for name in state.inline_policies.keys() {
                    delete_inline_policy(client, role, name).await?;
                }
            }
            call(
                "iam:DeleteRole",
                client.delete_role().role_name(role).send(),
            )
            .await?;
        }
    }
    Ok(())
}

/// The default version's document of a customer managed policy, or `None` when it cannot be read (no
/// permission to read it, or it does not exist): the caller then reports it as `unknown`.
async fn read_customer_policy(client: &Client, arn: &str) -> Option<Value> {
    let policy = call("iam:GetPolicy", client.get_policy().policy_arn(arn).send())
        .await
        .ok()?;
    let version = policy.policy()?.default_version_id()?.to_owned();
    let output = call(
        "iam:GetPolicyVersion",
        client
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send(),
    )
    .await
    .ok()?;
    let text = output.policy_version()?.document()?;
    decode_document(text, arn).ok()
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
        if let Some(output) = get_provider(&client, &account.provider.arn).await? {
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
        for role in &account.roles {
            // The deployed role: its trust policy, and the policies that say what it can then do.
            let deployed = read_role(&client, &role.name).await?;
            let trust_policy = deployed
                .as_ref()
                .filter(|state| !state.trust_policy.is_null())
                .map(|state| policy_text(&state.trust_policy));
            let permissions = match &deployed {
                Some(state) => {
                    // Customer managed policies are read (GetPolicy, GetPolicyVersion) and judged by their
                    // documents; one that cannot be read stays `unknown`.
                    let mut managed = Vec::new();
                    let mut documents = state.inline_policies.clone();
                    for arn in &state.managed_policies {
                        if keyless_iam::privilege::aws_managed_name(arn).is_some() {
                            managed.push(arn.clone());
                            continue;
                        }
                        match read_customer_policy(&client, arn).await {
                            Some(document) => {
                                documents
                                    .insert(format!("customer managed policy `{arn}`"), document);
                            }
                            None => managed.push(arn.clone()),
                        }
                    }
                    keyless_workspace::permissions::judge_role(
                        &role.arn, &managed, &documents, false,
                    )
                }
                None => keyless_workspace::permissions::RolePermissions {
                    role: role.arn.clone(),
                    can_then_do: keyless_iam::privilege::Reach::Unknown,
                    reasons: vec!["the role does not exist".to_owned()],
                },
            };
            roles.push(RoleView {
                arn: role.arn.clone(),
                name: role.name.clone(),
                account: account.account.clone(),
                kind: role.kind.clone(),
                trust_policy,
                permissions,
            });
        }
    }
    Ok(TrustView { roles, providers })
}
