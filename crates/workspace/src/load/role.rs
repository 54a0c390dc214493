//! A `role:` (of an environment, or an extra role of a repository): name, path, description, policies,
//! permissions, boundary, session length and tags, each against IAM's limits; and role names unique per account.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::{POLICY_ARN, POLICY_NAME, ROLE_NAME, ROLE_PATH, Validator, parse_duration};
use crate::location::{Location, Spanned};
use crate::model::{Environment, Permissions, Repository, Role};
use crate::raw::RawRole;

impl Validator {
    /// The role as written, or the defaults (`default_name`, path `/`, one hour) for what it leaves out.
    pub(super) fn role(
        &mut self,
        raw: Option<&RawRole>,
        default_name: String,
        fallback: Location,
    ) -> Role {
        let mut role = Role {
            name: default_name,
            path: "/".to_owned(),
            description: None,
            managed_policies: Vec::new(),
            inline_policies: IndexMap::new(),
            permissions: Permissions::Absent,
            permissions_boundary: None,
            max_session_seconds: 3600,
            tags: IndexMap::new(),
            location: fallback,
        };
        let Some(raw) = raw else {
            return role;
        };
        self.role_identity(raw, &mut role);
        role.managed_policies = self.managed_policies(&raw.managed_policies);
        role.inline_policies = self.inline_policies(&raw.inline_policies);
        if let Some(permissions) = &raw.permissions {
            role.permissions = self.permissions(permissions, &role.inline_policies);
        }
        if let Some(boundary) = &raw.permissions_boundary {
            if POLICY_ARN.is_match(&boundary.value) {
                role.permissions_boundary = Some(boundary.value.clone());
            } else {
                self.error(
                    boundary.location,
                    format!(
                        "permissions boundary `{}` is not a managed policy ARN",
                        boundary.value
                    ),
                    "write `arn:aws:iam::<account or aws>:policy/<name>`",
                );
            }
        }
        if let Some(max_session) = &raw.max_session {
            self.max_session(max_session, &mut role);
        }
        role.tags = self.tags(&raw.tags, fallback);
        role
    }

    /// `name`, `path` and `description`.
    fn role_identity(&mut self, raw: &RawRole, role: &mut Role) {
        if let Some(name) = &raw.name {
            role.location = name.location;
            if ROLE_NAME.is_match(&name.value) {
                role.name = name.value.clone();
            } else {
                self.error(
                    name.location,
                    format!("role name `{}` is not a valid IAM role name", name.value),
                    "use 1-64 characters of letters, digits and `+=,.@_-`",
                );
            }
        }
        if let Some(path) = &raw.path {
            if ROLE_PATH.is_match(&path.value) && path.value.len() <= 512 {
                role.path = path.value.clone();
            } else {
                self.error(
                    path.location,
                    format!("role path `{}` is not a valid IAM path", path.value),
                    "a path starts and ends with `/`, e.g. `/` or `/keyless/deploy/`",
                );
            }
        }
        role.description = raw.description.as_ref().map(|d| d.value.clone());
        if let Some(description) = &raw.description
            && description.value.chars().count() > 1000
        {
            self.error(
                description.location,
                "role description is longer than IAM's 1000 characters",
                "shorten it",
            );
        }
    }

    /// `managed_policies`: at most 20, each an ARN or the bare name of an AWS-managed policy (made an ARN).
    fn managed_policies(&mut self, raw: &[Spanned<String>]) -> Vec<String> {
        if raw.len() > 20 {
            self.error(
                raw[20].location,
                format!(
                    "{} managed policies; IAM attaches at most 20 to a role",
                    raw.len()
                ),
                "combine policies, or move permissions into inline_policies",
            );
        }
        let mut managed = Vec::new();
        for policy in raw {
            let text = policy.value.trim();
            if POLICY_ARN.is_match(text) {
                managed.push(text.to_owned());
            } else if !text.starts_with("arn:")
                && !text.is_empty()
                && text.split('/').all(|part| POLICY_NAME.is_match(part))
            {
                managed.push(format!("arn:aws:iam::aws:policy/{text}"));
            } else {
                self.error(
                    policy.location,
                    format!("`{text}` is not a managed policy ARN or AWS-managed policy name"),
                    "write `arn:aws:iam::<account or aws>:policy/<name>`, or the bare name of an AWS-managed policy such as `ReadOnlyAccess`",
                );
            }
        }
        managed
    }

    /// `inline_policies`: valid names, each a policy document with `Statement` (kept even when reported).
    fn inline_policies(
        &mut self,
        raw: &IndexMap<Spanned<String>, Spanned<serde_json::Value>>,
    ) -> IndexMap<String, serde_json::Value> {
        let mut inline = IndexMap::new();
        for (name, document) in raw {
            if !POLICY_NAME.is_match(&name.value) {
                self.error(
                    name.location,
                    format!("inline policy name `{}` is not valid", name.value),
                    "use 1-128 characters of letters, digits and `+=,.@_-`",
                );
            }
            let valid_shape = document
                .value
                .as_object()
                .is_some_and(|object| object.contains_key("Statement"));
            if !valid_shape {
                self.error(
                    document.location,
                    format!("inline policy `{}` is not an IAM policy document", name.value),
                    "write a mapping with `Version: \"2012-10-17\"` and `Statement:` (a list of statements)",
                );
            }
            inline.insert(name.value.clone(), document.value.clone());
        }
        inline
    }

    /// `permissions:`: `todo`, or a list of statements IAM can read.
    fn permissions(
        &mut self,
        raw: &Spanned<serde_json::Value>,
        inline: &IndexMap<String, serde_json::Value>,
    ) -> Permissions {
        let name = crate::permissions::PERMISSIONS_POLICY_NAME;
        if inline.contains_key(name) {
            self.error(
                raw.location,
                format!("`permissions` renders as the inline policy `{name}`, which `inline_policies` also defines"),
                "rename the inline policy, or move its statements into `permissions`",
            );
        }
        match &raw.value {
            serde_json::Value::String(text) if text == "todo" => Permissions::Todo(raw.location),
            serde_json::Value::Array(statements) => {
                let document =
                    serde_json::json!({"Version": "2012-10-17", "Statement": statements});
                let text = serde_json::to_string(&document).unwrap_or_default();
                let problem = match keyless_iam::parse(&text) {
                    Err(error) => Some(format!("{} (at {})", error.message, error.pointer)),
                    Ok(policy) => policy
                        .validate(keyless_iam::PolicyKind::Identity)
                        .into_iter()
                        .find(|d| d.severity == keyless_iam::Severity::Error)
                        .map(|d| format!("{} (at {})", d.message, d.pointer)),
                };
                match problem {
                    Some(problem) => {
                        self.error(
                            raw.location,
                            format!("`permissions` is not a list of statements IAM accepts: {problem}"),
                            "write IAM statements (`Effect`, `Action`, `Resource`), or `permissions: todo` until they are known (`keyless permissions infer` derives them)",
                        );
                        Permissions::Absent
                    }
                    None => Permissions::Statements(statements.clone()),
                }
            }
            _ => {
                self.error(
                    raw.location,
                    "`permissions` is neither a list of IAM statements nor `todo`",
                    "write a list of statements (`- Effect: Allow`, `Action: [...]`, `Resource: [...]`), or `permissions: todo`",
                );
                Permissions::Absent
            }
        }
    }

    /// `max_session`: a duration from 1h to 12h (IAM's range).
    fn max_session(&mut self, max_session: &Spanned<String>, role: &mut Role) {
        match parse_duration(&max_session.value) {
            Some(seconds) if (3600..=43200).contains(&seconds) => {
                role.max_session_seconds = seconds
            }
            Some(seconds) => self.error(
                max_session.location,
                format!("max_session is {seconds} seconds; IAM allows 3600 (1h) to 43200 (12h)"),
                "choose a value from `1h` to `12h`",
            ),
            None => self.error(
                max_session.location,
                format!("max_session `{}` is not a duration", max_session.value),
                "write seconds (`3600`) or hours and minutes (`1h`, `90m`, `2h30m`)",
            ),
        }
    }

    /// `tags`: at most 50; keys of 1-128 characters not starting with `aws:`, values of at most 256.
    fn tags(
        &mut self,
        raw: &IndexMap<Spanned<String>, Spanned<String>>,
        fallback: Location,
    ) -> IndexMap<String, String> {
        if raw.len() > 50 {
            self.error(
                fallback,
                format!("{} tags; IAM allows at most 50 per role", raw.len()),
                "remove some tags",
            );
        }
        let mut tags = IndexMap::new();
        for (key, value) in raw {
            if key.value.is_empty()
                || key.value.chars().count() > 128
                || key.value.to_ascii_lowercase().starts_with("aws:")
            {
                self.error(
                    key.location,
                    format!("tag key `{}` is not allowed", key.value),
                    "tag keys have 1-128 characters and cannot start with `aws:`",
                );
            }
            if value.value.chars().count() > 256 {
                self.error(
                    value.location,
                    "tag value is longer than 256 characters",
                    "shorten it",
                );
            }
            tags.insert(key.value.clone(), value.value.clone());
        }
        tags
    }
}

/// Role names are unique per account, case-insensitively (IAM's rule): the environments' roles, then the extra
/// roles, in file order.
pub(super) fn unique_names(
    v: &mut Validator,
    environments: &IndexMap<String, Environment>,
    repositories: &IndexMap<String, Repository>,
) {
    let mut names: HashMap<(String, String), (String, Location)> = HashMap::new();
    let mut check_name = |v: &mut Validator, account: &str, role: &Role, owner: String| {
        if role.name.is_empty() {
            return;
        }
        let key = (account.to_owned(), role.name.to_ascii_lowercase());
        if let Some((first, location)) = names.get(&key) {
            v.error(
                role.location,
                format!("role name `{}` is used twice in account {account}: by {first} (line {}) and by {owner}", role.name, location.line),
                "IAM role names are unique per account, ignoring case; give one of them another `name`",
            );
        } else {
            names.insert(key, (owner, role.location));
        }
    };
    for environment in environments.values() {
        check_name(
            v,
            &environment.account,
            &environment.role,
            format!("environment `{}`", environment.name),
        );
    }
    for repo in repositories.values() {
        for extra in &repo.extra_roles {
            if let Some(environment) = environments.get(&extra.environment) {
                check_name(
                    v,
                    &environment.account,
                    &extra.role,
                    format!("an extra role of `{}`", repo.slug),
                );
            }
        }
    }
}
