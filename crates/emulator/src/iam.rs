//! IAM actions (OIDC providers and roles) with IAM's input validation and error texts (aws.md §4, §6).

use std::collections::BTreeMap;

use keyless_iam::tag;
use time::OffsetDateTime;

use crate::error::AwsError;
use crate::query::QueryParams;
use crate::state::{Account, Provider, Role, Tag};
use crate::trust;
use crate::validate::{Echo, Violations, is_arn_chars, is_name_chars, is_path, is_policy_chars};
use crate::xml::Xml;

/// Every IAM action the emulator implements.
pub const ACTIONS: &[&str] = &[
    "CreateOpenIDConnectProvider",
    "GetOpenIDConnectProvider",
    "ListOpenIDConnectProviders",
    "DeleteOpenIDConnectProvider",
    "AddClientIDToOpenIDConnectProvider",
    "RemoveClientIDFromOpenIDConnectProvider",
    "UpdateOpenIDConnectProviderThumbprint",
    "CreateRole",
    "GetRole",
    "ListRoles",
    "UpdateRole",
    "UpdateAssumeRolePolicy",
    "DeleteRole",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    "ListRolePolicies",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
    "UpdateRoleDescription",
    "TagOpenIDConnectProvider",
    "UntagOpenIDConnectProvider",
    "ListOpenIDConnectProviderTags",
    "ListInstanceProfilesForRole",
];

/// Whether an action mutates state (and so must be persisted).
pub fn is_mutation(action: &str) -> bool {
    !(action.starts_with("Get") || action.starts_with("List"))
}

/// Limits from IAM's quota table (aws.md §3.4, §6).
const MAX_PROVIDERS: usize = 100;
const MAX_CLIENT_IDS: usize = 100;
const MAX_THUMBPRINTS: usize = 5;
const MAX_TAGS: usize = 50;
const MAX_ATTACHED: usize = 10;
const MAX_INLINE_BYTES: usize = 10_240;
const POLICY_DOC_MAX: usize = 131_072;

/// The inputs shared by all actions.
pub struct Call<'a> {
    /// The caller's account.
    pub account_id: &'a str,
    /// Request parameters.
    pub params: &'a QueryParams,
    /// The time of the request.
    pub now: OffsetDateTime,
}

/// Runs one read-only action.
pub fn read(action: &str, account: &Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    match action {
        "GetOpenIDConnectProvider" => get_provider(account, call),
        "ListOpenIDConnectProviders" => Ok(Some(list_providers(account, call))),
        "GetRole" => get_role(account, call),
        "ListRoles" => list_roles(account, call),
        "ListAttachedRolePolicies" => list_attached(account, call),
        "GetRolePolicy" => get_role_policy(account, call),
        "ListRolePolicies" => list_role_policies(account, call),
        "ListRoleTags" => list_role_tags(account, call),
        "ListOpenIDConnectProviderTags" => list_provider_tags(account, call),
        "ListInstanceProfilesForRole" => list_instance_profiles_for_role(account, call),
        _ => Err(unknown(action)),
    }
}

/// Runs one mutating action.
pub fn write(
    action: &str,
    account: &mut Account,
    call: &Call<'_>,
) -> Result<Option<Xml>, AwsError> {
    match action {
        "CreateOpenIDConnectProvider" => create_provider(account, call),
        "DeleteOpenIDConnectProvider" => delete_provider(account, call),
        "AddClientIDToOpenIDConnectProvider" => add_client_id(account, call),
        "RemoveClientIDFromOpenIDConnectProvider" => remove_client_id(account, call),
        "UpdateOpenIDConnectProviderThumbprint" => update_thumbprints(account, call),
        "CreateRole" => create_role(account, call),
        "UpdateRole" => update_role(account, call),
        "UpdateAssumeRolePolicy" => update_trust(account, call),
        "DeleteRole" => delete_role(account, call),
        "AttachRolePolicy" => attach(account, call),
        "DetachRolePolicy" => detach(account, call),
        "PutRolePolicy" => put_role_policy(account, call),
        "DeleteRolePolicy" => delete_role_policy(account, call),
        "TagRole" => tag_role(account, call),
        "UntagRole" => untag_role(account, call),
        "UpdateRoleDescription" => update_role_description(account, call),
        "TagOpenIDConnectProvider" => tag_provider(account, call),
        "UntagOpenIDConnectProvider" => untag_provider(account, call),
        _ => Err(unknown(action)),
    }
}

fn unknown(action: &str) -> AwsError {
    AwsError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "InvalidAction",
        format!("Could not find operation {action} for version 2010-05-08"),
    )
}

/// ISO-8601 UTC with `Z` and no fraction, as IAM prints dates.
pub fn iso8601(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// IAM returns policy documents URL-encoded (RFC 3986); the AWS CLI and boto3 decode them.
pub fn url_encode(text: &str) -> String {
    crate::sigv4::uri_encode(text)
}

fn list_param(params: &QueryParams, name: &str) -> Result<Option<Vec<String>>, AwsError> {
    params
        .list(name)
        .map_err(|e| AwsError::invalid_input(e.to_string()))
}

fn tags_param(params: &QueryParams, v: &mut Violations) -> Result<Vec<Tag>, AwsError> {
    let raw = params
        .structs("Tags")
        .map_err(|e| AwsError::invalid_input(e.to_string()))?
        .unwrap_or_default();
    Ok(validate_tags(raw, v))
}

/// A `Tags.member.N.{Key,Value}` list checked against the model (at most 50; keys 1..128 and values 0..256
/// characters of IAM's tag set, `keyless_iam::tag`), for IAM's tagging actions and STS's session tags alike.
pub(crate) fn validate_tags(raw: Vec<BTreeMap<String, String>>, v: &mut Violations) -> Vec<Tag> {
    v.list_length("tags", raw.len(), 0, MAX_TAGS);
    let mut tags = Vec::with_capacity(raw.len());
    for (i, fields) in raw.into_iter().enumerate() {
        let key = fields.get("Key").map(String::as_str);
        let value = fields.get("Value").map(String::as_str);
        let n = i + 1;
        let (key_member, value_member) = (
            format!("tags.{n}.member.key"),
            format!("tags.{n}.member.value"),
        );
        v.required(&key_member, key);
        v.required(&value_member, value);
        v.length(&key_member, key, 1, tag::MAX_KEY_CHARS, Echo::Value);
        v.pattern(&key_member, key, tag::KEY_PATTERN, |k| {
            !k.is_empty() && tag::is_tag_text(k)
        });
        v.length(&value_member, value, 0, tag::MAX_VALUE_CHARS, Echo::Value);
        v.pattern(&value_member, value, tag::VALUE_PATTERN, tag::is_tag_text);
        if let (Some(key), Some(value)) = (key, value) {
            tags.push(Tag {
                key: key.to_owned(),
                value: value.to_owned(),
            });
        }
    }
    tags
}

fn check_duplicate_tag_keys(tags: &[Tag]) -> Result<(), AwsError> {
    for (i, tag) in tags.iter().enumerate() {
        if tags[..i]
            .iter()
            .any(|t| t.key.eq_ignore_ascii_case(&tag.key))
        {
            return Err(AwsError::invalid_input(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(())
}

fn merge_tags(existing: &mut Vec<Tag>, new: Vec<Tag>, quota: &str) -> Result<(), AwsError> {
    let mut merged = existing.clone();
    for tag in new {
        match merged
            .iter_mut()
            .find(|t| t.key.eq_ignore_ascii_case(&tag.key))
        {
            Some(t) => *t = tag,
            None => merged.push(tag),
        }
    }
    if merged.len() > MAX_TAGS {
        return Err(AwsError::limit_exceeded(format!(
            "Cannot exceed quota for {quota}: {MAX_TAGS}"
        )));
    }
    *existing = merged;
    Ok(())
}

fn write_tags(xml: &mut Xml, tags: &[Tag]) {
    xml.open("Tags");
    for tag in tags {
        xml.open("member")
            .leaf("Key", &tag.key)
            .leaf("Value", &tag.value)
            .close("member");
    }
    xml.close("Tags");
}

// ---------------------------------------------------------------------------------------------------------
// OIDC providers

fn provider_arn(account_id: &str, url: &str) -> String {
    format!("arn:aws:iam::{account_id}:oidc-provider/{url}")
}

/// Validates a provider URL and returns it without the scheme, the form IAM stores and matches `iss` against.
fn provider_url(url: &str) -> Result<String, AwsError> {
    let invalid = || AwsError::validation("Invalid Open ID Connect Provider URL");
    let rest = url.strip_prefix("https://").ok_or_else(invalid)?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || rest.contains(['?', '#']) || rest.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    Ok(rest.to_owned())
}

fn thumbprints_param(
    params: &QueryParams,
    v: &mut Violations,
    required: bool,
) -> Result<Vec<String>, AwsError> {
    let list = list_param(params, "ThumbprintList")?;
    if required && list.is_none() {
        v.required("thumbprintList", None);
    }
    let list = list.unwrap_or_default();
    for value in &list {
        if value.chars().count() != 40 {
            v.length("thumbprintList.member", Some(value), 40, 40, Echo::Value);
        }
    }
    Ok(list)
}

fn check_thumbprint_count(list: &[String]) -> Result<(), AwsError> {
    if list.len() > MAX_THUMBPRINTS {
        return Err(AwsError::invalid_input(
            "Thumbprint list must contain fewer than 5 entries.",
        ));
    }
    Ok(())
}

fn client_ids_param(params: &QueryParams, v: &mut Violations) -> Result<Vec<String>, AwsError> {
    let list = list_param(params, "ClientIDList")?.unwrap_or_default();
    for value in &list {
        v.length("clientIDList.member", Some(value), 1, 255, Echo::Value);
    }
    Ok(list)
}

fn client_id_quota(count: usize) -> Result<(), AwsError> {
    if count > MAX_CLIENT_IDS {
        return Err(AwsError::limit_exceeded(format!(
            "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"
        )));
    }
    Ok(())
}

fn create_provider(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let p = call.params;
    let mut v = Violations::default();
    let url = v.required("url", p.get("Url"));
    v.length("url", url, 1, 255, Echo::Value);
    let client_ids = client_ids_param(p, &mut v)?;
    let thumbprints = thumbprints_param(p, &mut v, false)?;
    let tags = tags_param(p, &mut v)?;
    v.finish()?;
    let url = url.unwrap_or_default();
    let stored = provider_url(url)?;
    check_thumbprint_count(&thumbprints)?;
    client_id_quota(client_ids.len())?;
    check_duplicate_tag_keys(&tags)?;
    if account.providers.contains_key(&stored) {
        return Err(AwsError::already_exists(format!(
            "Provider with url {url} already exists."
        )));
    }
    if account.providers.len() >= MAX_PROVIDERS {
        return Err(AwsError::limit_exceeded(format!(
            "Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_PROVIDERS}"
        )));
    }
    let mut unique_ids: Vec<String> = Vec::new();
    for id in client_ids {
        if !unique_ids.contains(&id) {
            unique_ids.push(id);
        }
    }
    let provider = Provider {
        url: stored.clone(),
        client_ids: unique_ids,
        thumbprints,
        create_date: iso8601(call.now),
        tags,
    };
    let mut xml = Xml::new();
    xml.leaf(
        "OpenIDConnectProviderArn",
        &provider_arn(call.account_id, &stored),
    );
    if !provider.tags.is_empty() {
        write_tags(&mut xml, &provider.tags);
    }
    account.providers.insert(stored, provider);
    Ok(Some(xml))
}

/// Resolves `OpenIDConnectProviderArn` to the key of a provider in the caller's account.
fn provider_key(account: &Account, call: &Call<'_>, v: Violations) -> Result<String, AwsError> {
    let mut v = v;
    let arn = v.required(
        "openIDConnectProviderArn",
        call.params.get("OpenIDConnectProviderArn"),
    );
    v.length("openIDConnectProviderArn", arn, 20, 2048, Echo::Value);
    v.finish()?;
    let arn = arn.unwrap_or_default();
    let Some(rest) = arn.strip_prefix("arn:aws:iam::") else {
        return Err(AwsError::invalid_input(format!("ARN {arn} is not valid.")));
    };
    let Some((account_id, resource)) = rest.split_once(':') else {
        return Err(AwsError::invalid_input(format!("ARN {arn} is not valid.")));
    };
    let Some(url) = resource.strip_prefix("oidc-provider/") else {
        return Err(AwsError::invalid_input(format!("ARN {arn} is not valid.")));
    };
    if account_id != call.account_id || !account.providers.contains_key(url) {
        return Err(AwsError::no_such_entity(format!(
            "OpenIDConnect Provider not found for arn {arn}"
        )));
    }
    Ok(url.to_owned())
}

fn get_provider(account: &Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let key = provider_key(account, call, Violations::default())?;
    let provider = &account.providers[&key];
    let mut xml = Xml::new();
    xml.leaf("Url", &provider.url);
    xml.open("ClientIDList");
    for id in &provider.client_ids {
        xml.leaf("member", id);
    }
    xml.close("ClientIDList");
    xml.open("ThumbprintList");
    for t in &provider.thumbprints {
        xml.leaf("member", t);
    }
    xml.close("ThumbprintList");
    xml.leaf("CreateDate", &provider.create_date);
    write_tags(&mut xml, &provider.tags);
    Ok(Some(xml))
}

fn list_providers(account: &Account, call: &Call<'_>) -> Xml {
    let mut xml = Xml::new();
    xml.open("OpenIDConnectProviderList");
    for url in account.providers.keys() {
        xml.open("member")
            .leaf("Arn", &provider_arn(call.account_id, url))
            .close("member");
    }
    xml.close("OpenIDConnectProviderList");
    xml
}

fn delete_provider(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let key = provider_key(account, call, Violations::default())?;
    account.providers.remove(&key);
    Ok(None)
}

fn add_client_id(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let id = v.required("clientID", call.params.get("ClientID"));
    v.length("clientID", id, 1, 255, Echo::Value);
    let key = provider_key(account, call, v)?;
    let id = id.unwrap_or_default().to_owned();
    let provider = account
        .providers
        .get_mut(&key)
        .ok_or_else(|| unknown("AddClientIDToOpenIDConnectProvider"))?;
    if !provider.client_ids.contains(&id) {
        client_id_quota(provider.client_ids.len() + 1)?;
        provider.client_ids.push(id);
    }
    Ok(None)
}

fn remove_client_id(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let id = v.required("clientID", call.params.get("ClientID"));
    v.length("clientID", id, 1, 255, Echo::Value);
    let key = provider_key(account, call, v)?;
    let id = id.unwrap_or_default();
    if let Some(provider) = account.providers.get_mut(&key) {
        provider.client_ids.retain(|c| c != id);
    }
    Ok(None)
}

fn update_thumbprints(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let list = thumbprints_param(call.params, &mut v, true)?;
    let key = provider_key(account, call, v)?;
    check_thumbprint_count(&list)?;
    if let Some(provider) = account.providers.get_mut(&key) {
        provider.thumbprints = list;
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------------------
// Roles

fn role_arn(account_id: &str, role: &Role) -> String {
    format!("arn:aws:iam::{account_id}:role{}{}", role.path, role.name)
}

fn role_name_param<'a>(call: &'a Call<'_>, v: &mut Violations) -> Option<&'a str> {
    let name = v.required("roleName", call.params.get("RoleName"));
    v.length("roleName", name, 1, 64, Echo::Value);
    v.pattern("roleName", name, r"[\w+=,.@-]+", |n| {
        !n.is_empty() && is_name_chars(n)
    });
    name
}

fn no_such_role(name: &str) -> AwsError {
    AwsError::no_such_entity(format!("The role with name {name} cannot be found."))
}

fn find_role<'a>(account: &'a Account, name: &str) -> Result<&'a Role, AwsError> {
    account.role(name).ok_or_else(|| no_such_role(name))
}

fn find_role_mut<'a>(account: &'a mut Account, name: &str) -> Result<&'a mut Role, AwsError> {
    account.role_mut(name).ok_or_else(|| no_such_role(name))
}

fn policy_document_param<'a>(
    call: &'a Call<'_>,
    v: &mut Violations,
    param: &str,
    member: &str,
) -> Option<&'a str> {
    let doc = v.required(member, call.params.get(param));
    v.length(member, doc, 1, POLICY_DOC_MAX, Echo::Value);
    v.pattern(
        member,
        doc,
        r"[\u0009\u000A\u000D\u0020-\u00FF]+",
        is_policy_chars,
    );
    doc
}

fn description_param<'a>(call: &'a Call<'_>, v: &mut Violations) -> Option<&'a str> {
    let description = call.params.get("Description");
    v.length("description", description, 0, 1000, Echo::Value);
    v.pattern("description", description, r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*", |d| {
        d.chars().all(|c| matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{7E}' | '\u{A1}'..='\u{FF}'))
    });
    description
}

/// What of a role a response shows: `ListRoles` omits tags; `GetRole` adds `RoleLastUsed`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RoleDetail {
    List,
    Created,
    Full,
}

fn write_role(xml: &mut Xml, account_id: &str, role: &Role, element: &str, detail: RoleDetail) {
    xml.open(element)
        .leaf("Path", &role.path)
        .leaf("RoleName", &role.name)
        .leaf("RoleId", &role.role_id)
        .leaf("Arn", &role_arn(account_id, role))
        .leaf("CreateDate", &role.create_date)
        .leaf("AssumeRolePolicyDocument", &url_encode(&role.trust_policy))
        .opt_leaf("Description", role.description.as_deref())
        .leaf("MaxSessionDuration", &role.max_session_duration.to_string());
    if let Some(boundary) = &role.permissions_boundary {
        xml.open("PermissionsBoundary")
            .leaf("PermissionsBoundaryType", "Policy")
            .leaf("PermissionsBoundaryArn", boundary)
            .close("PermissionsBoundary");
    }
    if detail != RoleDetail::List && !role.tags.is_empty() {
        write_tags(xml, &role.tags);
    }
    if detail == RoleDetail::Full {
        // Sessions are not tracked per role (it would put a write on every AssumeRole*): an empty RoleLastUsed,
        // which is what IAM returns for a role not used within its tracking period.
        xml.open("RoleLastUsed").close("RoleLastUsed");
    }
    xml.close(element);
}

fn create_role(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let p = call.params;
    let mut v = Violations::default();
    let path = p.get("Path");
    v.length("path", path, 1, 512, Echo::Value);
    v.pattern(
        "path",
        path,
        r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
        is_path,
    );
    let name = role_name_param(call, &mut v);
    let trust_policy = policy_document_param(
        call,
        &mut v,
        "AssumeRolePolicyDocument",
        "assumeRolePolicyDocument",
    );
    let description = description_param(call, &mut v);
    let max = v.integer(
        "maxSessionDuration",
        p.get("MaxSessionDuration"),
        3600,
        43200,
    );
    let boundary = p.get("PermissionsBoundary");
    v.length("permissionsBoundary", boundary, 20, 2048, Echo::Value);
    let tags = tags_param(p, &mut v)?;
    v.finish()?;
    let (name, trust_policy) = (name.unwrap_or_default(), trust_policy.unwrap_or_default());
    if let Some(boundary) = boundary {
        check_policy_arn(boundary)?;
    }
    check_duplicate_tag_keys(&tags)?;
    trust::check_trust_policy(trust_policy)?;
    if account.role(name).is_some() {
        return Err(AwsError::already_exists(format!(
            "Role with name {name} already exists."
        )));
    }
    let role = Role {
        name: name.to_owned(),
        path: path.unwrap_or("/").to_owned(),
        role_id: crate::ids::role_id(),
        create_date: iso8601(call.now),
        trust_policy: trust_policy.to_owned(),
        description: description.map(str::to_owned),
        max_session_duration: max.unwrap_or(3600),
        permissions_boundary: boundary.map(str::to_owned),
        tags,
        inline_policies: BTreeMap::new(),
        attached_policies: Vec::new(),
    };
    let mut xml = Xml::new();
    write_role(
        &mut xml,
        call.account_id,
        &role,
        "Role",
        RoleDetail::Created,
    );
    account.roles.insert(name.to_ascii_lowercase(), role);
    Ok(Some(xml))
}

fn get_role(account: &Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    v.finish()?;
    let role = find_role(account, name.unwrap_or_default())?;
    let mut xml = Xml::new();
    write_role(&mut xml, call.account_id, role, "Role", RoleDetail::Full);
    Ok(Some(xml))
}

/// `Marker`/`MaxItems` pagination over a sorted list of keys; returns the page range and the next marker.
fn paginate<T>(
    items: &[T],
    key: impl Fn(&T) -> String,
    params: &QueryParams,
) -> Result<(usize, usize, Option<String>), AwsError> {
    let mut v = Violations::default();
    let max = v
        .integer("maxItems", params.get("MaxItems"), 1, 1000)
        .unwrap_or(100);
    let marker = params.get("Marker");
    v.length("marker", marker, 1, 320, Echo::Value);
    v.finish()?;
    let max = usize::try_from(max).unwrap_or(100);
    let start = match marker {
        None => 0,
        Some(marker) => items
            .iter()
            .position(|item| key(item) == marker)
            .ok_or_else(|| AwsError::invalid_input("Invalid Marker."))?,
    };
    let end = (start + max).min(items.len());
    let next = items.get(end).map(&key);
    Ok((start, end, next))
}

fn write_truncation(xml: &mut Xml, next: Option<String>) {
    xml.leaf("IsTruncated", if next.is_some() { "true" } else { "false" });
    if let Some(marker) = next {
        xml.leaf("Marker", &marker);
    }
}

fn list_roles(account: &Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let prefix = call.params.get("PathPrefix");
    v.length("pathPrefix", prefix, 1, 512, Echo::Value);
    v.pattern("pathPrefix", prefix, r"\u002F[\u0021-\u007F]*", |p| {
        p.starts_with('/') && p.bytes().all(|b| (0x21..=0x7F).contains(&b))
    });
    v.finish()?;
    let roles: Vec<&Role> = account
        .roles
        .values()
        .filter(|r| prefix.is_none_or(|p| r.path.starts_with(p)))
        .collect();
    let (start, end, next) = paginate(&roles, |r| r.name.to_ascii_lowercase(), call.params)?;
    let mut xml = Xml::new();
    xml.open("Roles");
    for role in &roles[start..end] {
        write_role(&mut xml, call.account_id, role, "member", RoleDetail::List);
    }
    xml.close("Roles");
    write_truncation(&mut xml, next);
    Ok(Some(xml))
}

fn update_role(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    let description = description_param(call, &mut v);
    let max = v.integer(
        "maxSessionDuration",
        call.params.get("MaxSessionDuration"),
        3600,
        43200,
    );
    v.finish()?;
    let role = find_role_mut(account, name.unwrap_or_default())?;
    if let Some(description) = description {
        role.description = Some(description.to_owned());
    }
    if let Some(max) = max {
        role.max_session_duration = max;
    }
    Ok(Some(Xml::new()))
}

fn update_trust(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    let doc = policy_document_param(call, &mut v, "PolicyDocument", "policyDocument");
    v.finish()?;
    let role = find_role_mut(account, name.unwrap_or_default())?;
    let doc = doc.unwrap_or_default();
    trust::check_trust_policy(doc)?;
    role.trust_policy = doc.to_owned();
    Ok(None)
}

fn delete_role(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    v.finish()?;
    let role = find_role(account, name.unwrap_or_default())?;
    if !role.attached_policies.is_empty() {
        return Err(delete_conflict(
            "Cannot delete entity, must detach all policies first.",
        ));
    }
    if !role.inline_policies.is_empty() {
        return Err(delete_conflict(
            "Cannot delete entity, must delete policies first.",
        ));
    }
    account
        .roles
        .remove(&name.unwrap_or_default().to_ascii_lowercase());
    Ok(None)
}

fn delete_conflict(message: &str) -> AwsError {
    AwsError::new(axum::http::StatusCode::CONFLICT, "DeleteConflict", message)
}

fn check_policy_arn(arn: &str) -> Result<(), AwsError> {
    let valid = arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(account, resource)| {
            (account == "aws"
                || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
                && resource
                    .strip_prefix("policy/")
                    .is_some_and(|name| !name.is_empty() && !name.ends_with('/'))
        });
    if valid {
        Ok(())
    } else {
        Err(AwsError::invalid_input(format!("ARN {arn} is not valid.")))
    }
}

fn policy_arn_param<'a>(call: &'a Call<'_>, v: &mut Violations) -> Option<&'a str> {
    let arn = v.required("policyArn", call.params.get("PolicyArn"));
    v.length("policyArn", arn, 20, 2048, Echo::Value);
    v.pattern(
        "policyArn",
        arn,
        r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+",
        is_arn_chars,
    );
    arn
}

fn attach(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    let arn = policy_arn_param(call, &mut v);
    v.finish()?;
    let arn = arn.unwrap_or_default();
    check_policy_arn(arn)?;
    let role = find_role_mut(account, name.unwrap_or_default())?;
    if !role.attached_policies.iter().any(|a| a == arn) {
        if role.attached_policies.len() >= MAX_ATTACHED {
            return Err(AwsError::limit_exceeded(format!(
                "Cannot exceed quota for PoliciesPerRole: {MAX_ATTACHED}"
            )));
        }
        role.attached_policies.push(arn.to_owned());
    }
    Ok(None)
}

fn detach(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    let arn = policy_arn_param(call, &mut v);
    v.finish()?;
    let arn = arn.unwrap_or_default();
    check_policy_arn(arn)?;
    let role = find_role_mut(account, name.unwrap_or_default())?;
    let before = role.attached_policies.len();
    role.attached_policies.retain(|a| a != arn);
    if role.attached_policies.len() == before {
        return Err(AwsError::no_such_entity(format!(
            "Policy {arn} was not found."
        )));
    }
    Ok(None)
}

fn list_attached(account: &Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    let prefix = call.params.get("PathPrefix");
    v.length("pathPrefix", prefix, 1, 512, Echo::Value);
    v.finish()?;
    let role = find_role(account, name.unwrap_or_default())?;
    let arns: Vec<&String> = role
        .attached_policies
        .iter()
        .filter(|arn| {
            let path = arn
                .split_once(":policy")
                .map(|(_, p)| p)
                .unwrap_or_default();
            prefix.is_none_or(|p| path.starts_with(p))
        })
        .collect();
    let (start, end, next) = paginate(&arns, |a| (*a).clone(), call.params)?;
    let mut xml = Xml::new();
    xml.open("AttachedPolicies");
    for arn in &arns[start..end] {
        let name = arn.rsplit('/').next().unwrap_or_default();
        xml.open("member")
            .leaf("PolicyName", name)
            .leaf("PolicyArn", arn)
            .close("member");
    }
    xml.close("AttachedPolicies");
    write_truncation(&mut xml, next);
    Ok(Some(xml))
}

fn policy_name_param<'a>(call: &'a Call<'_>, v: &mut Violations) -> Option<&'a str> {
    let name = v.required("policyName", call.params.get("PolicyName"));
    v.length("policyName", name, 1, 128, Echo::Value);
    v.pattern("policyName", name, r"[\w+=,.@-]+", |n| {
        !n.is_empty() && is_name_chars(n)
    });
    name
}

fn put_role_policy(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    let policy_name = policy_name_param(call, &mut v);
    let doc = policy_document_param(call, &mut v, "PolicyDocument", "policyDocument");
    v.finish()?;
    let (policy_name, doc) = (policy_name.unwrap_or_default(), doc.unwrap_or_default());
    let role = find_role_mut(account, name.unwrap_or_default())?;
    trust::check_permission_policy(doc)?;
    let others: usize = role
        .inline_policies
        .iter()
        .filter(|(n, _)| n.as_str() != policy_name)
        .map(|(_, d)| keyless_iam::size_excluding_whitespace(d))
        .sum();
    if others + keyless_iam::size_excluding_whitespace(doc) > MAX_INLINE_BYTES {
        return Err(AwsError::limit_exceeded(format!(
            "Maximum policy size of {MAX_INLINE_BYTES} bytes exceeded for role {}",
            role.name
        )));
    }
    role.inline_policies
        .insert(policy_name.to_owned(), doc.to_owned());
    Ok(None)
}

fn no_such_role_policy(name: &str) -> AwsError {
    AwsError::no_such_entity(format!("The role policy with name {name} cannot be found."))
}

fn get_role_policy(account: &Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    let policy_name = policy_name_param(call, &mut v);
    v.finish()?;
    let role = find_role(account, name.unwrap_or_default())?;
    let policy_name = policy_name.unwrap_or_default();
    let doc = role
        .inline_policies
        .get(policy_name)
        .ok_or_else(|| no_such_role_policy(policy_name))?;
    let mut xml = Xml::new();
    xml.leaf("RoleName", &role.name)
        .leaf("PolicyName", policy_name)
        .leaf("PolicyDocument", &url_encode(doc));
    Ok(Some(xml))
}

fn delete_role_policy(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    let policy_name = policy_name_param(call, &mut v);
    v.finish()?;
    let role = find_role_mut(account, name.unwrap_or_default())?;
    let policy_name = policy_name.unwrap_or_default();
    role.inline_policies
        .remove(policy_name)
        .ok_or_else(|| no_such_role_policy(policy_name))?;
    Ok(None)
}

fn list_role_policies(account: &Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    v.finish()?;
    let role = find_role(account, name.unwrap_or_default())?;
    let names: Vec<&String> = role.inline_policies.keys().collect();
    let (start, end, next) = paginate(&names, |n| (*n).clone(), call.params)?;
    let mut xml = Xml::new();
    xml.open("PolicyNames");
    for name in &names[start..end] {
        xml.leaf("member", name);
    }
    xml.close("PolicyNames");
    write_truncation(&mut xml, next);
    Ok(Some(xml))
}

fn tag_role(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    let tags = required_tags_param(call.params, &mut v)?;
    v.finish()?;
    check_duplicate_tag_keys(&tags)?;
    let role = find_role_mut(account, name.unwrap_or_default())?;
    merge_tags(&mut role.tags, tags, "TagsPerRole")?;
    Ok(None)
}

/// `TagKeys.member.N`: required, 1..50 keys in IAM's tag-key pattern.
fn tag_keys_param(params: &QueryParams, v: &mut Violations) -> Result<Vec<String>, AwsError> {
    let Some(keys) = list_param(params, "TagKeys")? else {
        v.required("tagKeys", None);
        return Ok(Vec::new());
    };
    v.list_length("tagKeys", keys.len(), 0, MAX_TAGS);
    for key in &keys {
        v.length("tagKeys.member", Some(key), 1, 128, Echo::Value);
        v.pattern("tagKeys.member", Some(key), tag::KEY_PATTERN, |k| {
            !k.is_empty() && tag::is_tag_text(k)
        });
    }
    Ok(keys)
}

/// `Tags.member.N.{Key,Value}`, required.
fn required_tags_param(params: &QueryParams, v: &mut Violations) -> Result<Vec<Tag>, AwsError> {
    if params
        .structs("Tags")
        .map_err(|e| AwsError::invalid_input(e.to_string()))?
        .is_none()
    {
        v.required("tags", None);
    }
    tags_param(params, v)
}

fn remove_tags(tags: &mut Vec<Tag>, keys: &[String]) {
    tags.retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
}

/// `Tags` + `IsTruncated` (+ `Marker`) over tags, paginated like IAM's list calls.
fn list_tags(tags: &[Tag], params: &QueryParams) -> Result<Option<Xml>, AwsError> {
    let (start, end, next) = paginate(tags, |t| t.key.clone(), params)?;
    let mut xml = Xml::new();
    write_tags(&mut xml, &tags[start..end]);
    write_truncation(&mut xml, next);
    Ok(Some(xml))
}

fn untag_role(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    let keys = tag_keys_param(call.params, &mut v)?;
    v.finish()?;
    let role = find_role_mut(account, name.unwrap_or_default())?;
    remove_tags(&mut role.tags, &keys);
    Ok(None)
}

fn list_role_tags(account: &Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    v.finish()?;
    let role = find_role(account, name.unwrap_or_default())?;
    list_tags(&role.tags, call.params)
}

fn update_role_description(
    account: &mut Account,
    call: &Call<'_>,
) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    let description = description_param(call, &mut v);
    v.required("description", description);
    v.finish()?;
    let role = find_role_mut(account, name.unwrap_or_default())?;
    role.description = description.map(str::to_owned);
    let mut xml = Xml::new();
    write_role(&mut xml, call.account_id, role, "Role", RoleDetail::Created);
    Ok(Some(xml))
}

fn tag_provider(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let tags = required_tags_param(call.params, &mut v)?;
    let key = provider_key(account, call, v)?;
    check_duplicate_tag_keys(&tags)?;
    let provider = account
        .providers
        .get_mut(&key)
        .ok_or_else(|| unknown("TagOpenIDConnectProvider"))?;
    merge_tags(&mut provider.tags, tags, "TagsPerOpenIdConnectProvider")?;
    Ok(None)
}

fn untag_provider(account: &mut Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let keys = tag_keys_param(call.params, &mut v)?;
    let key = provider_key(account, call, v)?;
    if let Some(provider) = account.providers.get_mut(&key) {
        remove_tags(&mut provider.tags, &keys);
    }
    Ok(None)
}

fn list_provider_tags(account: &Account, call: &Call<'_>) -> Result<Option<Xml>, AwsError> {
    let key = provider_key(account, call, Violations::default())?;
    list_tags(&account.providers[&key].tags, call.params)
}

/// The emulator has no instance profiles, so every existing role has none (Terraform asks before deleting a
/// role).
fn list_instance_profiles_for_role(
    account: &Account,
    call: &Call<'_>,
) -> Result<Option<Xml>, AwsError> {
    let mut v = Violations::default();
    let name = role_name_param(call, &mut v);
    v.finish()?;
    find_role(account, name.unwrap_or_default())?;
    let none: [String; 0] = [];
    let (_, _, next) = paginate(&none, Clone::clone, call.params)?;
    let mut xml = Xml::new();
    xml.open("InstanceProfiles").close("InstanceProfiles");
    write_truncation(&mut xml, next);
    Ok(Some(xml))
}
