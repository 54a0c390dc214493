//! Reading `keyless.yml`: YAML with locations → [`RawConfig`] → validated [`Config`], every mistake reported with
//! its line, column and fix.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use indexmap::IndexMap;
use ipnet::IpNet;
use keyless_iam::network::{self, AddressClass};
use regex::Regex;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::glob::BranchPattern;
use crate::location::{Location, Spanned};
use crate::model::{Config, Environment, ExtraRole, Repository, Role, Source, Workspace};
use crate::raw::{RawConfig, RawRole, Trigger};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read (the user's filesystem).
    #[error(
        "cannot read {path}: {error}; pass the right file with -c/--config or create one with `keyless init`"
    )]
    Read {
        path: PathBuf,
        // Not a `#[source]`: the message already names it, and a source would repeat it in `{:#}` chains.
        error: std::io::Error,
    },
    /// The file is not a valid `keyless.yml` (the user's input). Displays every mistake with its location.
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl LoadError {
    /// The individual mistakes, when the file was read but is invalid.
    pub fn diagnostics(&self) -> Option<&Diagnostics> {
        match self {
            LoadError::Invalid(diagnostics) => Some(diagnostics),
            LoadError::Read { .. } => None,
        }
    }
}

/// Read and validate the file at `path`.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|error| LoadError::Read {
        path: path.to_owned(),
        error,
    })?;
    parse(&text, &path.display().to_string())
}

/// Parse and validate `text`; `origin` names it in diagnostics (a path, or `<input>`).
pub fn parse(text: &str, origin: &str) -> Result<Config, LoadError> {
    let raw = parse_raw(text, origin)?;
    validate(
        raw,
        Source {
            origin: origin.to_owned(),
            text: text.to_owned(),
        },
    )
    .map_err(LoadError::Invalid)
}

/// Parse `text` into the as-written types, checking YAML syntax, key names and value types only. `keyless
/// resolve` uses this to work on files whose UUIDs are still missing.
///
/// The YAML is read by `keyless-pipelines` (the one YAML front end: YAML 1.2 core scalars, duplicate keys refused)
/// and deserialized from its located tree ([`raw_from_tree`]), so every error is typed and located, never
/// recognised by its text.
pub fn parse_raw(text: &str, origin: &str) -> Result<RawConfig, LoadError> {
    let invalid = |diagnostic: Diagnostic| {
        LoadError::Invalid(Diagnostics {
            origin: origin.to_owned(),
            source: text.to_owned(),
            items: vec![diagnostic],
        })
    };
    let parsed = keyless_pipelines::parse_with(text, keyless_pipelines::ParseOptions::STRICT)
        .map_err(|error| invalid(yaml_diagnostic(&error)))?;
    raw_from_tree(&parsed.root, text).map_err(invalid)
}

/// The as-written types from a tree `keyless-pipelines` already parsed from `text` (with
/// [`keyless_pipelines::ParseOptions::STRICT`]): what `keyless audit` does with the keyless.yml it read, so the audit
/// and every other command see one model of the file.
pub fn raw_from_tree(root: &keyless_pipelines::Node, text: &str) -> Result<RawConfig, Diagnostic> {
    let start = Location { line: 1, column: 1 };
    match &root.value {
        keyless_pipelines::Value::Map(_) => {}
        keyless_pipelines::Value::Null => {
            return Err(Diagnostic::new(start, "keyless.yml is empty").help(
                "write `version: 1`, `workspace:` and `environments:` (`keyless init` writes a starter file; see docs/config.md)",
            ));
        }
        _ => {
            let location = root.span().map(Location::from).unwrap_or(start);
            return Err(Diagnostic::new(
                location,
                format!("the top level must be a mapping, found {}", root.kind()),
            )
            .help("write `version: 1`, `workspace:` and `environments:` as top-level keys (see docs/config.md)"));
        }
    }
    keyless_pipelines::de::from_node::<RawConfig>(root, text)
        .map_err(|error| shape_diagnostic(&error))
}

/// A YAML syntax error (or a duplicate key) as a diagnostic.
fn yaml_diagnostic(error: &keyless_pipelines::ParseError) -> Diagnostic {
    use keyless_pipelines::ParseErrorKind;
    let location = Location {
        line: error.line as u64,
        column: error.column as u64,
    };
    let (message, help): (String, String) = match &error.kind {
        ParseErrorKind::DuplicateKey { key, first_line } => (
            format!("duplicate key `{key}`"),
            format!(
                "each key may appear once in a mapping (first written at line {first_line}); merge the two entries"
            ),
        ),
        ParseErrorKind::Syntax { message, hint } => {
            (format!("invalid YAML: {message}"), (*hint).to_owned())
        }
        ParseErrorKind::MultipleDocuments => (
            "the file holds more than one YAML document".to_owned(),
            "keyless.yml is one document: remove the `---` separator and merge the parts"
                .to_owned(),
        ),
        ParseErrorKind::RecursiveAlias { name } => (
            format!("alias `*{name}` refers to its own anchor"),
            "move the shared part into a separate anchor".to_owned(),
        ),
        ParseErrorKind::BadMerge { found } => (
            format!("the merge key `<<` takes a mapping or a list of mappings, found {found}"),
            "write `<<: *anchor` or `<<: [*a, *b]`".to_owned(),
        ),
        ParseErrorKind::ComplexKey { found } => (
            format!("a mapping key must be a plain value, found {found}"),
            "use a string key".to_owned(),
        ),
        ParseErrorKind::TooDeep { limit } => (
            format!("nesting deeper than {limit} levels"),
            "flatten the document".to_owned(),
        ),
        ParseErrorKind::TooLarge { limit } => (
            format!("aliases expand to more than {limit} nodes"),
            "reduce nested aliases".to_owned(),
        ),
        // Not produced when reading YAML text with `parse_with`; kept whole should that change.
        other @ (ParseErrorKind::Empty
        | ParseErrorKind::NotAMapping { .. }
        | ParseErrorKind::JsonNotObject { .. }) => (
            other.to_string(),
            "see docs/config.md for the expected shape".to_owned(),
        ),
    };
    Diagnostic::new(location, message).help(help)
}

/// A value of the wrong shape as a diagnostic whose message names the cause and whose help names the fix.
fn shape_diagnostic(error: &keyless_pipelines::de::DeError) -> Diagnostic {
    use keyless_pipelines::de::DeErrorKind;
    const SHAPE: &str = "see docs/config.md for the expected shape";
    let location = error.span.map(Location::from).unwrap_or_default();
    match &error.kind {
        DeErrorKind::UnknownField { field, expected } => {
            let mut help = format!("allowed keys here: {}", expected.join(", "));
            if let Some(closest) = closest(field, expected.iter().copied()) {
                help = format!("did you mean `{closest}`? ({help})");
            }
            Diagnostic::new(location, format!("unknown key `{field}`")).help(help)
        }
        DeErrorKind::DuplicateField { field } => {
            Diagnostic::new(location, format!("duplicate key `{field}`"))
                .help("each key may appear once in a mapping; merge the two entries")
        }
        DeErrorKind::MissingField { field } => {
            Diagnostic::new(location, format!("missing required key `{field}`"))
                .help(format!("add `{field}:` here (see docs/config.md)"))
        }
        DeErrorKind::UnknownVariant { variant, expected } => {
            Diagnostic::new(location, format!("unknown value `{variant}`"))
                .help(format!("write one of: {}", expected.join(", ")))
        }
        DeErrorKind::InvalidType { found, expected } => {
            let (expected, help) = expected_shape(expected);
            Diagnostic::new(
                location,
                format!("expected {expected}, found {}", found_shape(found)),
            )
            .help(help)
        }
        DeErrorKind::InvalidValue { found, expected } => {
            let (expected, help) = expected_shape(expected);
            Diagnostic::new(
                location,
                format!(
                    "invalid value: expected {expected}, found {}",
                    found_shape(found)
                ),
            )
            .help(help)
        }
        DeErrorKind::InvalidLength { length, expected } => {
            Diagnostic::new(location, format!("{length} values, expected {expected}")).help(SHAPE)
        }
        DeErrorKind::Custom(message) => Diagnostic::new(location, message.clone()).help(SHAPE),
    }
}

/// What serde says a type expects (`struct RawWorkspace`, `a sequence`, `u32`), in the file's words, and how to
/// write it.
fn expected_shape(expected: &str) -> (String, String) {
    let (words, help) = match expected {
        "a sequence" => (
            "a list",
            "write a list: `[a, b]`, or one `- item` per line below the key",
        ),
        "a map" => (
            "a mapping",
            "write `key: value` lines, indented below the key",
        ),
        "a string" => (
            "a string",
            "write text here; quote it (`\"...\"`) if YAML reads it as something else",
        ),
        "a boolean" => (
            "`true` or `false`",
            "write `true` or `false` (YAML 1.2: `yes`/`no` are strings)",
        ),
        "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" => {
            ("a whole number", "write the number without quotes")
        }
        other if other.starts_with("struct ") => (
            "a mapping",
            "write `key: value` lines, indented below the key",
        ),
        other => {
            return (
                other.to_owned(),
                "see docs/config.md for the expected shape".to_owned(),
            );
        }
    };
    (words.to_owned(), help.to_owned())
}

/// What serde says was found (`unit value`, `map`, `string "main"`), in the file's words.
fn found_shape(found: &str) -> String {
    match found {
        "unit value" => "nothing (an empty value)".to_owned(),
        "map" => "a mapping".to_owned(),
        "sequence" => "a list".to_owned(),
        other => other.to_owned(),
    }
}

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\{?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}?$",
    )
    .unwrap_or_else(|_| unreachable!("static regex"))
});
static SLUG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9][a-z0-9._-]*$").unwrap_or_else(|_| unreachable!("static regex"))
});
static REGION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$").unwrap_or_else(|_| unreachable!("static regex"))
});
// IAM's `[\w+=,.@-]` is ASCII; the regex crate's `\w` is Unicode (and slow to compile), so the class is spelt out.
static ROLE_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_+=,.@-]{1,64}$").unwrap_or_else(|_| unreachable!("static regex"))
});
static ROLE_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^/([\x21-\x7E]+/)*$").unwrap_or_else(|_| unreachable!("static regex"))
});
static POLICY_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws(-[a-z]+)*:iam::(aws|[0-9]{12}):policy/[A-Za-z0-9_+=,.@/-]+$")
        .unwrap_or_else(|_| unreachable!("static regex"))
});
static POLICY_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_+=,.@-]{1,128}$").unwrap_or_else(|_| unreachable!("static regex"))
});
static THUMBPRINT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9A-Fa-f]{40}$").unwrap_or_else(|_| unreachable!("static regex"))
});
static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$")
        .unwrap_or_else(|_| unreachable!("static regex"))
});

/// Each value as a valid CIDR (host bits zero, IPv4-mapped forms as IPv4), or `None`.
fn parsed_nets(values: &[Spanned<String>]) -> Vec<Option<IpNet>> {
    values
        .iter()
        .map(|cidr| {
            network::parse_net(&cidr.value)
                .filter(|net| net.trunc() == *net)
                .map(network::canonical_net)
        })
        .collect()
}

/// Collects diagnostics while validating.
struct Validator {
    items: Vec<Diagnostic>,
}

impl Validator {
    fn error(&mut self, location: Location, message: impl Into<String>, help: impl Into<String>) {
        self.items
            .push(Diagnostic::new(location, message).help(help));
    }

    /// CIDR blocks (a bare address is a /32 or /128; host bits must be zero; IPv4-mapped IPv6 forms become their
    /// IPv4 block), each mistake reported at its location.
    fn cidrs(&mut self, values: &[Spanned<String>]) -> Vec<IpNet> {
        let mut out = Vec::new();
        for (cidr, parsed) in values.iter().zip(parsed_nets(values)) {
            let text = cidr.value.trim();
            match parsed {
                Some(net) => out.push(net),
                None => match network::parse_net(text) {
                    Some(net) => self.error(
                        cidr.location,
                        format!("`{text}` has host bits set"),
                        format!("write the network address: `{}`", net.trunc()),
                    ),
                    None => self.error(
                        cidr.location,
                        format!("`{text}` is not a CIDR block or IP address"),
                        "write e.g. `203.0.113.0/24` or `203.0.113.7`",
                    ),
                },
            }
        }
        out
    }

    /// A braced, lowercase UUID, or a diagnostic naming the fix.
    fn uuid(&mut self, value: &Spanned<String>, what: &str) -> Option<String> {
        let text = value.value.trim();
        let Some(captures) = UUID.captures(text) else {
            self.error(
                value.location,
                format!("{what} `{text}` is not a UUID"),
                "copy it from Repository settings → OpenID Connect, or leave it out and run `keyless resolve`",
            );
            return None;
        };
        let bare = captures.get(1).map_or("", |m| m.as_str());
        let braced = format!("{{{}}}", bare.to_ascii_lowercase());
        if !(text.starts_with('{') && text.ends_with('}')) {
            self.error(
                value.location,
                format!("{what} `{text}` has no braces"),
                format!(
                    "Bitbucket writes UUIDs with braces in every token claim; write `\"{braced}\"` (quoted, so YAML does not read the braces as a mapping)"
                ),
            );
            return None;
        }
        if bare.chars().any(|c| c.is_ascii_uppercase()) {
            self.error(
                value.location,
                format!("{what} `{text}` has uppercase letters"),
                format!("tokens carry lowercase UUIDs and `sub` matching is case-sensitive; write `\"{braced}\"`"),
            );
            return None;
        }
        Some(braced)
    }

    /// `permissions:`: `todo`, or a list of statements IAM can read.
    fn permissions(
        &mut self,
        raw: &Spanned<serde_json::Value>,
        inline: &IndexMap<String, serde_json::Value>,
    ) -> crate::model::Permissions {
        use crate::model::Permissions;
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

    fn role(&mut self, raw: Option<&RawRole>, default_name: String, fallback: Location) -> Role {
        let mut role = Role {
            name: default_name,
            path: "/".to_owned(),
            description: None,
            managed_policies: Vec::new(),
            inline_policies: IndexMap::new(),
            permissions: crate::model::Permissions::Absent,
            permissions_boundary: None,
            max_session_seconds: 3600,
            tags: IndexMap::new(),
            location: fallback,
        };
        let Some(raw) = raw else {
            return role;
        };
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
        if raw.managed_policies.len() > 20 {
            self.error(
                raw.managed_policies[20].location,
                format!(
                    "{} managed policies; IAM attaches at most 20 to a role",
                    raw.managed_policies.len()
                ),
                "combine policies, or move permissions into inline_policies",
            );
        }
        for policy in &raw.managed_policies {
            let text = policy.value.trim();
            if POLICY_ARN.is_match(text) {
                role.managed_policies.push(text.to_owned());
            } else if !text.starts_with("arn:")
                && !text.is_empty()
                && text.split('/').all(|part| POLICY_NAME.is_match(part))
            {
                role.managed_policies
                    .push(format!("arn:aws:iam::aws:policy/{text}"));
            } else {
                self.error(
                    policy.location,
                    format!("`{text}` is not a managed policy ARN or AWS-managed policy name"),
                    "write `arn:aws:iam::<account or aws>:policy/<name>`, or the bare name of an AWS-managed policy such as `ReadOnlyAccess`",
                );
            }
        }
        for (name, document) in &raw.inline_policies {
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
            role.inline_policies
                .insert(name.value.clone(), document.value.clone());
        }
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
            match parse_duration(&max_session.value) {
                Some(seconds) if (3600..=43200).contains(&seconds) => {
                    role.max_session_seconds = seconds
                }
                Some(seconds) => self.error(
                    max_session.location,
                    format!(
                        "max_session is {seconds} seconds; IAM allows 3600 (1h) to 43200 (12h)"
                    ),
                    "choose a value from `1h` to `12h`",
                ),
                None => self.error(
                    max_session.location,
                    format!("max_session `{}` is not a duration", max_session.value),
                    "write seconds (`3600`) or hours and minutes (`1h`, `90m`, `2h30m`)",
                ),
            }
        }
        if raw.tags.len() > 50 {
            self.error(
                fallback,
                format!("{} tags; IAM allows at most 50 per role", raw.tags.len()),
                "remove some tags",
            );
        }
        for (key, value) in &raw.tags {
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
            role.tags.insert(key.value.clone(), value.value.clone());
        }
        role
    }
}

/// `3600`, `1h`, `90m`, `2h30m`, `45s` → seconds.
pub fn parse_duration(text: &str) -> Option<u32> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u32>() {
        return Some(seconds);
    }
    if text.is_empty() {
        return None;
    }
    let captures = DURATION.captures(text)?;
    let part = |index: usize, unit: u32| -> Option<u32> {
        captures.get(index).map_or(Some(0), |m| {
            m.as_str().parse::<u32>().ok()?.checked_mul(unit)
        })
    };
    part(1, 3600)?
        .checked_add(part(2, 60)?)?
        .checked_add(part(3, 1)?)
}

/// The closest of `candidates` to `word`, if it is a plausible typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|candidate| (levenshtein(word, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 3) && *distance > 0)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

/// A role name derived from the workspace and environment, valid for IAM.
fn default_role_name(slug: &str, environment: &str) -> String {
    let raw = format!("bitbucket-{slug}-{environment}");
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(64);
    name
}

/// Validate a parsed file. Every mistake is collected, so a user fixes them all in one round.
pub fn validate(raw: RawConfig, source: Source) -> Result<Config, Diagnostics> {
    let mut v = Validator { items: Vec::new() };

    if let Some(version) = &raw.version
        && version.value != 1
    {
        v.error(
            version.location,
            format!("unknown version {}", version.value),
            "this keyless understands `version: 1`",
        );
    }

    // Workspace.
    let slug = &raw.workspace.slug;
    if !SLUG.is_match(&slug.value) {
        v.error(
            slug.location,
            format!(
                "workspace slug `{}` is not a Bitbucket workspace slug",
                slug.value
            ),
            "use the lowercase ID from `bitbucket.org/<slug>/`, not the display name",
        );
    }
    let workspace_uuid = match &raw.workspace.uuid {
        Some(uuid) => v.uuid(uuid, "workspace UUID").unwrap_or_default(),
        None => {
            v.error(
                slug.location,
                "the workspace has no `uuid`",
                "add `uuid: \"{...}\"` under `workspace:` (Repository settings → OpenID Connect shows it), or run `keyless resolve`",
            );
            String::new()
        }
    };
    if raw.workspace.thumbprints.len() > 5 {
        v.error(
            raw.workspace.thumbprints[5].location,
            "more than 5 thumbprints",
            "IAM keeps at most 5; remove old ones",
        );
    }
    let mut thumbprints = Vec::new();
    for thumbprint in &raw.workspace.thumbprints {
        if THUMBPRINT.is_match(&thumbprint.value) {
            thumbprints.push(thumbprint.value.to_ascii_lowercase());
        } else {
            v.error(
                thumbprint.location,
                format!(
                    "thumbprint `{}` is not 40 hexadecimal characters",
                    thumbprint.value
                ),
                "compute it with `keyless thumbprint <issuer URL>` (colons removed)",
            );
        }
    }
    let workspace = Workspace {
        slug: slug.value.clone(),
        uuid: workspace_uuid,
        thumbprints,
    };

    // Environments.
    if raw.environments.is_empty() {
        v.error(
            Location { line: 1, column: 1 },
            "no environments are defined",
            "add an `environments:` mapping with at least one deployment environment (see `keyless init`)",
        );
    }
    let mut environments = IndexMap::new();
    let mut trust_problems: Vec<Diagnostic> = Vec::new();
    for (name, env) in &raw.environments {
        let account = env.account.value.trim().to_owned();
        if !(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())) {
            let help = if account.chars().all(|c| c.is_ascii_digit()) && account.len() < 12 {
                "AWS account IDs have exactly 12 digits; if yours starts with 0, quote it (`account: \"0123...\"`) so YAML keeps the zeros"
            } else {
                "AWS account IDs have exactly 12 digits, e.g. `account: \"123456789012\"`"
            };
            v.error(
                env.account.location,
                format!("`{account}` is not an AWS account ID"),
                help,
            );
        }
        if !REGION.is_match(&env.region.value) {
            v.error(
                env.region.location,
                format!("`{}` is not an AWS region", env.region.value),
                "write a region code such as `eu-west-1` or `us-east-1`",
            );
        }
        if env.branches.is_empty() {
            v.error(
                name.location,
                format!("environment `{}` allows no branches", name.value),
                "list the branches that may deploy, e.g. `branches: [main]`",
            );
        }
        let mut branches = Vec::new();
        for branch in &env.branches {
            match BranchPattern::new(&branch.value) {
                Ok(pattern) => branches.push(pattern),
                Err(error) => v.error(
                    branch.location,
                    format!("branch pattern `{}` is invalid: {error}", branch.value),
                    "use Bitbucket glob syntax: `main`, `release/*`, `feature/**`, `{main,master}`",
                ),
            }
        }
        let mut runner_labels = Vec::new();
        if let Some(runners) = &env.runners {
            for label in &runners.labels {
                if label.value.trim().is_empty() || label.value.contains(char::is_whitespace) {
                    v.error(
                        label.location,
                        format!("runner label `{}` is not valid", label.value),
                        "labels are single words such as `self.hosted` or `linux`",
                    );
                } else {
                    runner_labels.push(label.value.clone());
                }
            }
        }
        let source_ips = v.cidrs(&env.source_ips);
        for (cidr, net) in env.source_ips.iter().zip(parsed_nets(&env.source_ips)) {
            if let Some(net) = net
                && let AddressClass::Refused(range) = network::classify(net)
            {
                trust_problems.push(
                    Diagnostic::new(
                        cidr.location,
                        format!(
                            "`{net}` in `source_ips` of `{}` is {} ({}): AWS never sees it in `aws:SourceIp`, so the \
                             role could never be assumed from there",
                            name.value, range.name, range.range
                        ),
                    )
                    .help(
                        "`aws:SourceIp` holds the public address a call arrives from: a runner behind a NAT gateway is seen \
                         with the gateway's public IP, not its own private one, and a call through an STS VPC endpoint has \
                         no `aws:SourceIp` at all. List the public egress address (e.g. your NAT gateway's Elastic IP; \
                         `keyless doctor --check-ip` prints it), or describe the VPC path: `vpc_endpoints: [vpce-…]` and/or \
                         `vpcs: [vpc-…]`, with `vpc_source_ips` for the runners' private CIDRs (docs/config.md)",
                    ),
                );
            }
        }
        let mut vpc_endpoints = Vec::new();
        for id in &env.vpc_endpoints {
            let text = id.value.trim();
            if network::is_vpc_endpoint_id(text) {
                vpc_endpoints.push(text.to_owned());
            } else {
                v.error(
                    id.location,
                    format!("`{text}` is not a VPC endpoint ID"),
                    "write the STS interface endpoint's ID as the VPC console shows it: `vpce-` and 17 lowercase hex digits, e.g. `vpce-0a1b2c3d4e5f60718`",
                );
            }
        }
        let mut vpcs = Vec::new();
        for id in &env.vpcs {
            let text = id.value.trim();
            if network::is_vpc_id(text) || network::is_vpc_arn(text) {
                vpcs.push(text.to_owned());
            } else {
                v.error(
                    id.location,
                    format!("`{text}` is neither a VPC ID nor a VPC ARN"),
                    "write `vpc-` and 17 lowercase hex digits (e.g. `vpc-0e9801d129c0ffee1`), or the VPC's ARN `arn:aws:ec2:<region>:<account>:vpc/vpc-…`",
                );
            }
        }
        let vpc_source_ips = v.cidrs(&env.vpc_source_ips);
        if !env.vpc_source_ips.is_empty() && env.vpc_endpoints.is_empty() && env.vpcs.is_empty() {
            trust_problems.push(
                Diagnostic::new(
                    env.vpc_source_ips[0].location,
                    format!(
                        "`vpc_source_ips` of `{}` needs `vpc_endpoints` or `vpcs`",
                        name.value
                    ),
                )
                .help(
                    "`aws:VpcSourceIp` is set only for calls through an STS interface VPC endpoint; name the endpoint \
                     (`vpc_endpoints: [vpce-…]`) or the VPC (`vpcs: [vpc-…]`) the runners use, so the VPC path is one \
                     statement that pins all of them",
                ),
            );
        }
        let role = v.role(
            env.role.as_ref(),
            default_role_name(&workspace.slug, &name.value),
            name.location,
        );
        environments.insert(
            name.value.clone(),
            Environment {
                name: name.value.clone(),
                account,
                region: env.region.value.clone(),
                branches,
                runner_labels,
                source_ips,
                vpc_endpoints,
                vpcs,
                vpc_source_ips,
                manual: env
                    .trigger
                    .as_ref()
                    .is_some_and(|t| t.value == Trigger::Manual),
                role,
                location: name.location,
            },
        );
    }

    // Repositories.
    let env_names: Vec<&str> = raw.environments.keys().map(|k| k.value.as_str()).collect();
    let undefined_environment = |v: &mut Validator, name: &Spanned<String>| {
        let mut help = format!(
            "define it under `environments:`, or use one of: {}",
            if env_names.is_empty() {
                "(none defined)".to_owned()
            } else {
                env_names.join(", ")
            }
        );
        if let Some(suggestion) = closest(&name.value, env_names.iter().copied()) {
            help = format!("did you mean `{suggestion}`? Otherwise {help}");
        }
        v.error(
            name.location,
            format!("environment `{}` is used but not defined", name.value),
            help,
        );
    };
    let mut repositories = IndexMap::new();
    let mut seen_repo_uuids: HashMap<String, (String, Location)> = HashMap::new();
    let mut seen_deployment_uuids: HashMap<String, (String, Location)> = HashMap::new();
    for (slug, repo) in &raw.repositories {
        if !SLUG.is_match(&slug.value) {
            v.error(
                slug.location,
                format!(
                    "repository slug `{}` is not a Bitbucket repository slug",
                    slug.value
                ),
                "use the lowercase slug from `bitbucket.org/<workspace>/<slug>`",
            );
        }
        let uuid = match &repo.uuid {
            Some(uuid) => v.uuid(uuid, "repository UUID").unwrap_or_default(),
            None => {
                v.error(
                    slug.location,
                    format!("repository `{}` has no `uuid`", slug.value),
                    "add `uuid: \"{...}\"` (Repository settings → OpenID Connect), or run `keyless resolve`",
                );
                String::new()
            }
        };
        if !uuid.is_empty() {
            if let Some((other, location)) = seen_repo_uuids.get(&uuid) {
                v.error(
                    repo.uuid.as_ref().map_or(slug.location, |u| u.location),
                    format!("repository `{}` has the same UUID as `{other}` (line {})", slug.value, location.line),
                    "each repository has its own UUID; copy the right one from its OpenID Connect settings",
                );
            } else {
                seen_repo_uuids.insert(uuid.clone(), (slug.value.clone(), slug.location));
            }
        }
        let any_step = repo
            .dangerously_allow_any_step
            .as_ref()
            .is_some_and(|flag| flag.value);
        let mut deployments = IndexMap::new();
        for (env_name, deployment_uuid) in &repo.deployments {
            if !raw.environments.contains_key(env_name) {
                undefined_environment(&mut v, env_name);
                continue;
            }
            let value = match deployment_uuid {
                Some(text) if !text.value.trim().is_empty() => {
                    let parsed = v.uuid(text, "deployment environment UUID");
                    if let Some(parsed) = &parsed {
                        if let Some((other, location)) = seen_deployment_uuids.get(parsed) {
                            v.error(
                                text.location,
                                format!("this deployment UUID is already used by {other} (line {})", location.line),
                                "Bitbucket gives each repository's environment its own UUID; copy the right one, or run `keyless resolve`",
                            );
                        } else {
                            seen_deployment_uuids.insert(
                                parsed.clone(),
                                (
                                    format!("`{}` → `{}`", slug.value, env_name.value),
                                    text.location,
                                ),
                            );
                        }
                    }
                    parsed
                }
                _ => {
                    if !any_step {
                        v.error(
                            env_name.location,
                            format!(
                                "repository `{}` has no deployment-environment UUID for `{}`",
                                slug.value, env_name.value
                            ),
                            "run `keyless resolve` to fill it in; without it the role can only be pinned to the whole repository, which needs `dangerously_allow_any_step: true`",
                        );
                    }
                    None
                }
            };
            deployments.insert(env_name.value.clone(), value);
        }
        let mut extra_roles = Vec::new();
        for extra in &repo.extra_roles {
            if !raw.environments.contains_key(&extra.environment) {
                undefined_environment(&mut v, &extra.environment);
                continue;
            }
            if extra.role.name.is_none() {
                v.error(
                    extra.environment.location,
                    format!("an extra role of repository `{}` has no `name`", slug.value),
                    "add `name:` under `role:`",
                );
                continue;
            }
            let role = v.role(Some(&extra.role), String::new(), extra.environment.location);
            extra_roles.push(ExtraRole {
                environment: extra.environment.value.clone(),
                role,
            });
        }
        repositories.insert(
            slug.value.clone(),
            Repository {
                slug: slug.value.clone(),
                uuid,
                deployments,
                dangerously_allow_any_step: any_step,
                extra_roles,
                location: slug.location,
            },
        );
    }

    // Every environment must be reachable by someone, or its role would trust no one.
    for environment in environments.values() {
        let used = repositories
            .values()
            .any(|repo: &Repository| repo.deployments.contains_key(&environment.name));
        if !used && !raw.repositories.is_empty() {
            v.error(
                environment.location,
                format!("no repository deploys to environment `{}`", environment.name),
                format!(
                    "add `{}: \"{{deployment UUID}}\"` under a repository's `deployments:`, or remove the environment",
                    environment.name
                ),
            );
        }
    }
    if raw.repositories.is_empty() {
        v.error(
            Location { line: 1, column: 1 },
            "no repositories are defined",
            "add a `repositories:` mapping: slug → uuid and deployments (see `keyless init`)",
        );
    }

    // Role names are unique per account, case-insensitively (IAM's rule).
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
            &mut v,
            &environment.account,
            &environment.role,
            format!("environment `{}`", environment.name),
        );
    }
    for repo in repositories.values() {
        for extra in &repo.extra_roles {
            if let Some(environment) = environments.get(&extra.environment) {
                check_name(
                    &mut v,
                    &environment.account,
                    &extra.role,
                    format!("an extra role of `{}`", repo.slug),
                );
            }
        }
    }

    // The pipeline policy (its own module owns the shape and the checks).
    let policy = raw.policy.as_ref().map(|section| {
        crate::policy::validate(&section.value, &env_names, section.location, &mut v.items)
    });

    if !v.items.is_empty() {
        v.items.sort_by_key(|d| d.location);
        return Err(Diagnostics {
            origin: source.origin,
            source: source.text,
            items: v.items,
        });
    }
    Ok(Config {
        workspace,
        environments,
        repositories,
        policy,
        audit: raw.audit.map(|a| a.value),
        trust_problems,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3600"), Some(3600));
        assert_eq!(parse_duration("1h"), Some(3600));
        assert_eq!(parse_duration("2h30m"), Some(9000));
        assert_eq!(parse_duration("90m"), Some(5400));
        assert_eq!(parse_duration("1d"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn typo_suggestions() {
        assert_eq!(
            closest("prodution", ["staging", "production"].into_iter()),
            Some("production")
        );
        assert_eq!(closest("qa", ["staging", "production"].into_iter()), None);
    }
}
