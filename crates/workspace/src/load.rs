//! Reading `keyless.yml`: YAML with locations → [`RawConfig`] → validated [`Config`], every mistake reported with
//! its line, column and fix.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use ipnet::IpNet;
use keyless_iam::network;
use regex::Regex;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::location::{Location, Spanned};
use crate::model::{Config, Source};
use crate::raw::RawConfig;

mod environments;
mod repositories;
mod role;
mod workspace;

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

/// A required key missing from the mapping at `location`.
pub(crate) fn missing_key(location: Location, key: &str) -> Diagnostic {
    Diagnostic::new(location, format!("missing required key `{key}`"))
        .help(format!("add `{key}:` here (see docs/config.md)"))
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
        DeErrorKind::MissingField { field } => missing_key(location, field),
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

    /// A required key the mapping at `location` lacks (the types keep it optional; see [`crate::raw`]).
    fn require<'a, T>(
        &mut self,
        value: Option<&'a T>,
        location: Location,
        key: &str,
    ) -> Option<&'a T> {
        if value.is_none() {
            self.items.push(missing_key(location, key));
        }
        value
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
}

/// `3600`, `1h`, `90m`, `2h30m`, `45s` → seconds, through [`keyless_iam::duration::parse`] (the step commands'
/// parser); `None` when it is not a duration or does not fit in `u32`.
pub fn parse_duration(text: &str) -> Option<u32> {
    let seconds = keyless_iam::duration::parse(text).ok()?.as_secs();
    u32::try_from(seconds).ok()
}

/// The closest of `candidates` to `word`, if it is a plausible typo: two edits, or a third of a long name.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    keyless_pipelines::suggest::closest(word, candidates, |candidate| 2.max(candidate.len() / 3))
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

/// Validate a parsed file. Every mistake is collected, so a user fixes them all in one round. Each section of
/// the file has its module under `load/`; they run in the file's order, and the diagnostics are sorted by
/// location at the end.
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
    let workspace = workspace::validate(&mut v, raw.workspace.as_ref());
    let (environments, trust_problems) =
        environments::validate(&mut v, &raw.environments, &workspace.slug);
    let env_names: Vec<&str> = raw.environments.keys().map(|k| k.value.as_str()).collect();
    let repositories =
        repositories::validate(&mut v, &raw.repositories, &raw.environments, &env_names);
    repositories::reachable(
        &mut v,
        &environments,
        &repositories,
        raw.repositories.is_empty(),
    );
    role::unique_names(&mut v, &environments, &repositories);

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

    /// keyless.yml's `max_session` read `h`, `m`, `s` in that order with a regex of its own before it used the
    /// step commands' parser: what that accepted gives the same seconds; the parser adds units in any order.
    #[test]
    fn durations_the_former_regex_accepted_keep_their_seconds() {
        let former = Regex::new(r"^(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$")
            .unwrap_or_else(|_| unreachable!("static regex"));
        let former_parse = |text: &str| -> Option<u32> {
            let text = text.trim();
            if let Ok(seconds) = text.parse::<u32>() {
                return Some(seconds);
            }
            if text.is_empty() {
                return None;
            }
            let captures = former.captures(text)?;
            let part = |index: usize, unit: u32| -> Option<u32> {
                captures.get(index).map_or(Some(0), |m| {
                    m.as_str().parse::<u32>().ok()?.checked_mul(unit)
                })
            };
            part(1, 3600)?
                .checked_add(part(2, 60)?)?
                .checked_add(part(3, 1)?)
        };
        for text in [
            "3600",
            "+3600",
            " 1h ",
            "1h",
            "12h",
            "2h30m",
            "90m",
            "45s",
            "1h0m1s",
            "0h",
            "0",
            "007m",
            "4294967295",
            "4294967296",
            "1193047h",
            "1193046h",
            "71582789m",
            "h",
            "m",
            "s",
            "",
            " ",
            "1d",
            "1h 30m",
            "1.5h",
            "-1h",
            "1H",
            "1h30",
            "30m1h",
            "1m1m",
            "1s1h",
            "99999999999999999999h",
        ] {
            match former_parse(text) {
                Some(seconds) => assert_eq!(parse_duration(text), Some(seconds), "{text:?}"),
                None => {
                    let now = parse_duration(text);
                    let reordered = ["30m1h", "1m1m", "1s1h"].contains(&text);
                    assert_eq!(now.is_some(), reordered, "{text:?}: {now:?}");
                }
            }
        }
        assert_eq!(parse_duration("30m1h"), Some(5400));
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
