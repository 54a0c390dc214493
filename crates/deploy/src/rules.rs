//! Which paths take part and which headers each object gets: hidden paths, excludes, gzip, and the header rules
//! (`--header`, `--content-type`, `--cache-control`), with Content-Type from the extension by default.
//!
//! Globs are matched against the path relative to the source directory, with `/` separators. A glob without a
//! `/` matches the file name in any directory (`*.html` matches `docs/index.html`), like `.gitignore`; a glob
//! with a `/` matches the whole relative path (`assets/**`). `*` never crosses a `/`; `**` does.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::remote::{META_PART_SIZE, META_SHA256};

/// The one hidden directory published by default, when it sits at the source root: sites need it (ACME
/// challenges, `security.txt`, `apple-app-site-association`, `assetlinks.json`).
pub const WELL_KNOWN: &str = ".well-known";
/// User metadata names keyless reserves for itself (`x-amz-meta-keyless-*`).
pub const RESERVED_META_PREFIX: &str = "keyless-";
/// S3 limits the user metadata of one PUT to 2 KB: the bytes of every name and value together.
pub const MAX_USER_METADATA: usize = 2048;
/// What keyless's own metadata takes of that budget at most: `keyless-sha256` (64 hex digits) and
/// `keyless-part-size` (at most 5 GiB: 10 digits).
const OWN_METADATA: usize = META_SHA256.len() + 64 + META_PART_SIZE.len() + 10;

/// Bad rule arguments: always the user's input.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error(
        "invalid glob `{glob}` in {flag}: {source}. Globs use `*`, `**`, `?`, `[abc]` and `{{a,b}}`; \
         a glob without `/` matches the file name in any directory"
    )]
    Glob {
        flag: &'static str,
        glob: String,
        #[source]
        source: globset::Error,
    },
    #[error("invalid {flag} rule `{rule}`: {problem}. {example}")]
    Syntax {
        flag: &'static str,
        rule: String,
        problem: String,
        example: &'static str,
    },
    #[error(
        "{first} and {second} both set {name} for the glob `{glob}`: the first matching rule wins, so the second \
         would never apply. Keep one of them"
    )]
    Duplicate {
        glob: String,
        name: String,
        first: String,
        second: String,
    },
    #[error(
        "the x-amz-meta-* rules can give one object {total} bytes of user metadata (names and values, with \
         keyless's own {own} bytes), more than S3's {max}-byte limit: shorten the values or use fewer names"
    )]
    MetadataTooLarge {
        total: usize,
        own: usize,
        max: usize,
    },
}

/// A header a rule may set. Content-Encoding is not among them: `--gzip` sets it together with the body it
/// describes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HeaderName {
    CacheControl,
    ContentDisposition,
    ContentLanguage,
    ContentType,
    Expires,
    WebsiteRedirectLocation,
    /// `x-amz-meta-<name>`, holding `<name>` lower-cased (S3 stores user metadata names in lower case).
    Meta(String),
}

impl HeaderName {
    /// The names `--header` accepts, for error messages.
    pub const ALLOWED: &'static str = "Cache-Control, Content-Disposition, Content-Language, Content-Type, \
                                       Expires, x-amz-website-redirect-location and x-amz-meta-*";

    /// Parses a header name, case-insensitively.
    pub fn parse(name: &str) -> Result<Self, String> {
        let lower = name.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "cache-control" => Self::CacheControl,
            "content-disposition" => Self::ContentDisposition,
            "content-language" => Self::ContentLanguage,
            "content-type" => Self::ContentType,
            "expires" => Self::Expires,
            "x-amz-website-redirect-location" => Self::WebsiteRedirectLocation,
            "content-encoding" => {
                return Err(
                    "Content-Encoding is set by --gzip GLOB, which also compresses the body it describes"
                        .to_owned(),
                );
            }
            other => match other.strip_prefix("x-amz-meta-") {
                Some("") => return Err("`x-amz-meta-` needs a name after the prefix".to_owned()),
                Some(meta) if meta.starts_with(RESERVED_META_PREFIX) => {
                    return Err(format!(
                        "`x-amz-meta-{meta}` is reserved: keyless keeps its own metadata \
                         (x-amz-meta-keyless-sha256, x-amz-meta-keyless-part-size) under x-amz-meta-keyless-"
                    ));
                }
                Some(meta)
                    if meta
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) =>
                {
                    Self::Meta(meta.to_owned())
                }
                Some(meta) => {
                    return Err(format!(
                        "`x-amz-meta-{meta}`: user metadata names use letters, digits, `-`, `_` and `.`"
                    ));
                }
                None => {
                    return Err(format!(
                        "`{}` is not a header keyless sets; allowed: {}",
                        name.trim(),
                        Self::ALLOWED
                    ));
                }
            },
        })
    }

    /// Checks a value for this header and returns it as stored (Expires is normalised to an HTTP date).
    fn check_value(&self, value: &str) -> Result<String, String> {
        if let Some(bad) = value.chars().find(|c| !(' '..='~').contains(c)) {
            return Err(format!(
                "the value has {bad:?}: header values are printable ASCII (S3 would reject or re-encode anything \
                 else; percent-encode non-ASCII text, e.g. filename*=UTF-8''na%C3%AFve.pdf)"
            ));
        }
        match self {
            Self::ContentType if !value.contains('/') => Err(format!(
                "`{value}` is not a media type: use type/subtype, e.g. image/webp or text/plain; charset=utf-8"
            )),
            Self::Expires => normalize_http_date(value).ok_or_else(|| {
                format!(
                    "`{value}` is not a date: use an HTTP date (Wed, 21 Oct 2026 07:28:00 GMT) or RFC 3339 \
                     (2026-10-21T07:28:00Z)"
                )
            }),
            Self::WebsiteRedirectLocation
                if !(value.starts_with('/')
                    || value.starts_with("http://")
                    || value.starts_with("https://")) =>
            {
                Err(format!(
                    "`{value}`: S3 accepts a redirect location starting with `/` (an object in the bucket), \
                     `http://` or `https://`"
                ))
            }
            _ => Ok(value.to_owned()),
        }
    }
}

impl HeaderName {
    /// The name as HTTP documents write it (`Cache-Control`, `x-amz-meta-team`), for messages.
    pub fn canonical(&self) -> String {
        match self {
            Self::CacheControl => "Cache-Control".to_owned(),
            Self::ContentDisposition => "Content-Disposition".to_owned(),
            Self::ContentLanguage => "Content-Language".to_owned(),
            Self::ContentType => "Content-Type".to_owned(),
            Self::Expires => "Expires".to_owned(),
            other => other.to_string(),
        }
    }
}

/// Lower case, as the report's `changed` lists name headers.
impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CacheControl => f.write_str("cache-control"),
            Self::ContentDisposition => f.write_str("content-disposition"),
            Self::ContentLanguage => f.write_str("content-language"),
            Self::ContentType => f.write_str("content-type"),
            Self::Expires => f.write_str("expires"),
            Self::WebsiteRedirectLocation => f.write_str("x-amz-website-redirect-location"),
            Self::Meta(name) => write!(f, "x-amz-meta-{name}"),
        }
    }
}

/// An HTTP date (IMF-fixdate) or RFC 3339 timestamp, as an IMF-fixdate: the form S3 returns `Expires` in.
pub fn normalize_http_date(value: &str) -> Option<String> {
    let value = value.trim();
    let parsed = DateTime::from_str(value, DateTimeFormat::HttpDate)
        .or_else(|_| DateTime::from_str(value, DateTimeFormat::DateTime))
        .ok()?;
    parsed.fmt(DateTimeFormat::HttpDate).ok()
}

/// One header rule: files matching `glob` get `name: value`, unless an earlier rule for the same name matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderRule {
    pub glob: String,
    pub name: HeaderName,
    /// As stored: Expires normalised to an HTTP date, everything else as given (trimmed).
    pub value: String,
    /// The flag it came from: `--header`, `--content-type` or `--cache-control`.
    pub flag: &'static str,
    /// The flag's argument as given (for error messages).
    pub given: String,
}

impl HeaderRule {
    /// `--header GLOB=NAME:VALUE`.
    pub fn header(s: &str) -> Result<Self, RuleError> {
        const EXAMPLE: &str = "Expected GLOB=NAME:VALUE, e.g. '*.pdf=Content-Disposition:attachment' or \
                               'old/index.html=x-amz-website-redirect-location:/new/'";
        let syntax = |problem: String| RuleError::Syntax {
            flag: "--header",
            rule: s.to_owned(),
            problem,
            example: EXAMPLE,
        };
        let (glob, header) = split_rule(s).ok_or_else(|| syntax("no `=` after the glob".into()))?;
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| syntax("no `:` between the header name and its value".into()))?;
        let name = HeaderName::parse(name).map_err(&syntax)?;
        Self::new("--header", s, glob, name, value).map_err(syntax)
    }

    /// `--content-type GLOB=TYPE`.
    pub fn content_type(s: &str) -> Result<Self, RuleError> {
        Self::shorthand(
            "--content-type",
            HeaderName::ContentType,
            s,
            "Expected GLOB=TYPE, e.g. '*.webp=image/webp'",
        )
    }

    /// `--cache-control GLOB=VALUE`: shorthand for `--header GLOB=Cache-Control:VALUE`.
    pub fn cache_control(s: &str) -> Result<Self, RuleError> {
        Self::shorthand(
            "--cache-control",
            HeaderName::CacheControl,
            s,
            "Expected GLOB=VALUE, e.g. '*.html=no-cache' or 'assets/**=public, max-age=31536000, immutable'",
        )
    }

    fn shorthand(
        flag: &'static str,
        name: HeaderName,
        s: &str,
        example: &'static str,
    ) -> Result<Self, RuleError> {
        let syntax = |problem: String| RuleError::Syntax {
            flag,
            rule: s.to_owned(),
            problem,
            example,
        };
        let (glob, value) = split_rule(s).ok_or_else(|| syntax("no `=` after the glob".into()))?;
        Self::new(flag, s, glob, name, value).map_err(syntax)
    }

    fn new(
        flag: &'static str,
        raw: &str,
        glob: &str,
        name: HeaderName,
        value: &str,
    ) -> Result<Self, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err("the value is empty".to_owned());
        }
        Ok(Self {
            glob: glob.to_owned(),
            value: name.check_value(value)?,
            name,
            flag,
            given: raw.to_owned(),
        })
    }

    /// The flag and its argument, as a user would write them: `--header '*.pdf=…'`.
    pub fn origin(&self) -> String {
        format!("{} '{}'", self.flag, self.given)
    }
}

/// Splits `GLOB=REST` at the first `=` (values such as `max-age=60` keep their own); both sides non-empty.
fn split_rule(s: &str) -> Option<(&str, &str)> {
    let (glob, rest) = s.split_once('=')?;
    let glob = glob.trim();
    (!glob.is_empty()).then_some((glob, rest))
}

impl FromStr for HeaderRule {
    type Err = RuleError;

    /// Parses `--header` syntax.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::header(s)
    }
}

/// The rules as given on the command line: a plain value that other tools (a policy printer, a config file)
/// can read without compiling anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSpec {
    /// Header rules in command-line order across `--header`, `--content-type` and `--cache-control`.
    pub headers: Vec<HeaderRule>,
    pub gzip: Vec<String>,
    pub exclude: Vec<String>,
    /// Upload hidden paths too (`--include-hidden`).
    pub include_hidden: bool,
}

/// The headers an object should carry. These are what the rules and the extension decide; comparing them with
/// the stored object's headers finds header-only changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers {
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// An HTTP date (IMF-fixdate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_redirect_location: Option<String>,
    /// User metadata (`x-amz-meta-<name>`), by lower-case name, without keyless's own keys.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl Headers {
    /// The single-valued headers by name (lower case, as sent), in a fixed order.
    fn named(&self) -> [(&'static str, Option<&String>); 7] {
        [
            ("content-type", Some(&self.content_type)),
            ("cache-control", self.cache_control.as_ref()),
            ("content-encoding", self.content_encoding.as_ref()),
            ("content-disposition", self.content_disposition.as_ref()),
            ("content-language", self.content_language.as_ref()),
            ("expires", self.expires.as_ref()),
            (
                "x-amz-website-redirect-location",
                self.website_redirect_location.as_ref(),
            ),
        ]
    }

    /// Names of the headers that differ (lower case, as sent), in a fixed order (for plans and reports).
    pub fn differences(&self, other: &Headers) -> Vec<String> {
        let mut out: Vec<String> = self
            .named()
            .into_iter()
            .zip(other.named())
            .filter(|((_, a), (_, b))| a != b)
            .map(|((name, _), _)| name.to_owned())
            .collect();
        let names: std::collections::BTreeSet<&String> =
            self.metadata.keys().chain(other.metadata.keys()).collect();
        for name in names {
            if self.metadata.get(name) != other.metadata.get(name) {
                out.push(format!("x-amz-meta-{name}"));
            }
        }
        out
    }

    fn set(&mut self, name: &HeaderName, value: &str) {
        let owned = value.to_owned();
        match name {
            HeaderName::CacheControl => self.cache_control = Some(owned),
            HeaderName::ContentDisposition => self.content_disposition = Some(owned),
            HeaderName::ContentLanguage => self.content_language = Some(owned),
            HeaderName::ContentType => self.content_type = owned,
            HeaderName::Expires => self.expires = Some(owned),
            HeaderName::WebsiteRedirectLocation => self.website_redirect_location = Some(owned),
            HeaderName::Meta(meta) => {
                self.metadata.insert(meta.clone(), owned);
            }
        }
    }

    /// `expires` as the SDK's timestamp (it was normalised when the rule was parsed).
    pub fn expires_timestamp(&self) -> Option<DateTime> {
        let expires = self.expires.as_deref()?;
        DateTime::from_str(expires, DateTimeFormat::HttpDate).ok()
    }
}

/// Compiled rules.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    spec: RuleSpec,
    headers: GlobSet,
    gzip: GlobSet,
    exclude: GlobSet,
}

impl Rules {
    /// Compiles the rules. Two rules for the same header and the same glob are refused: the second could never
    /// apply.
    pub fn new(spec: RuleSpec) -> Result<Self, RuleError> {
        let mut seen: BTreeMap<(&str, &HeaderName), &HeaderRule> = BTreeMap::new();
        let mut builder = GlobSetBuilder::new();
        for rule in &spec.headers {
            if let Some(first) = seen.insert((rule.glob.as_str(), &rule.name), rule) {
                return Err(RuleError::Duplicate {
                    glob: rule.glob.clone(),
                    name: rule.name.canonical(),
                    first: first.origin(),
                    second: rule.origin(),
                });
            }
            builder.add(compile(rule.flag, &rule.glob)?);
        }
        check_metadata_size(&spec.headers)?;
        Ok(Self {
            headers: build("--header", builder)?,
            gzip: set("--gzip", &spec.gzip)?,
            exclude: set("--exclude", &spec.exclude)?,
            spec,
        })
    }

    /// The rules as given.
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    /// Whether the relative path is excluded (neither uploaded nor deleted).
    pub fn is_excluded(&self, rel: &str) -> bool {
        self.exclude.is_match(rel)
    }

    /// Whether the relative path is left out for being hidden (see [`is_hidden`]) without `--include-hidden`.
    pub fn skips_hidden(&self, rel: &str) -> bool {
        !self.spec.include_hidden && is_hidden(rel)
    }

    /// Whether a relative path takes part in the sync at all: not excluded, not a skipped hidden path.
    pub fn takes_part(&self, rel: &str) -> bool {
        !self.skips_hidden(rel) && !self.is_excluded(rel)
    }

    /// Whether the file is stored gzip-compressed.
    pub fn is_gzip(&self, rel: &str) -> bool {
        self.gzip.is_match(rel)
    }

    /// The headers for the file at `rel`: for each header, the first matching rule in command-line order;
    /// Content-Type from the extension when no rule sets it.
    pub fn headers_for(&self, rel: &str) -> Headers {
        let mut headers = Headers::default();
        let mut set: Vec<&HeaderName> = Vec::new();
        // GlobSet reports matches in ascending index order, which is command-line order.
        let mut matches = self.headers.matches(rel);
        matches.sort_unstable();
        for i in matches {
            let rule = &self.spec.headers[i];
            if !set.contains(&&rule.name) {
                headers.set(&rule.name, &rule.value);
                set.push(&rule.name);
            }
        }
        if !set.contains(&&HeaderName::ContentType) {
            headers.content_type = content_type(rel);
        }
        if self.is_gzip(rel) {
            headers.content_encoding = Some("gzip".to_owned());
        }
        headers
    }
}

/// The most user metadata any one object can get: per name, the longest value a rule gives it.
fn check_metadata_size(rules: &[HeaderRule]) -> Result<(), RuleError> {
    let mut longest: BTreeMap<&str, usize> = BTreeMap::new();
    for rule in rules {
        if let HeaderName::Meta(name) = &rule.name {
            let len = longest.entry(name).or_default();
            *len = (*len).max(rule.value.len());
        }
    }
    let total: usize = longest
        .iter()
        .map(|(name, value)| name.len() + value)
        .sum::<usize>()
        + OWN_METADATA;
    if longest.is_empty() || total <= MAX_USER_METADATA {
        return Ok(());
    }
    Err(RuleError::MetadataTooLarge {
        total,
        own: OWN_METADATA,
        max: MAX_USER_METADATA,
    })
}

/// Whether a source-relative path (or the part of a key after the prefix) is hidden: any component starts with
/// `.`. The one exception is `.well-known/` at the root, which sites need; its own hidden entries stay hidden.
///
/// ```
/// use keyless_deploy::rules::is_hidden;
/// assert!(is_hidden(".env") && is_hidden(".git/config") && is_hidden("docs/.DS_Store"));
/// assert!(is_hidden("docs/.well-known/x") && is_hidden(".well-known/.secret"));
/// assert!(!is_hidden(".well-known/security.txt") && !is_hidden("index.html"));
/// ```
pub fn is_hidden(rel: &str) -> bool {
    let mut components = rel.split('/');
    let first = components.next().unwrap_or_default();
    let rest_hidden = components.clone().any(|c| c.starts_with('.'));
    if first == WELL_KNOWN && components.next().is_some() {
        return rest_hidden;
    }
    first.starts_with('.') || rest_hidden
}

fn compile(flag: &'static str, glob: &str) -> Result<globset::Glob, RuleError> {
    let pattern = if glob.contains('/') {
        glob.trim_start_matches('/').to_owned()
    } else {
        format!("**/{glob}")
    };
    GlobBuilder::new(&pattern)
        .literal_separator(true)
        .build()
        .map_err(|source| RuleError::Glob {
            flag,
            glob: glob.to_owned(),
            source,
        })
}

fn set(flag: &'static str, globs: &[String]) -> Result<GlobSet, RuleError> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        builder.add(compile(flag, glob)?);
    }
    build(flag, builder)
}

fn build(flag: &'static str, builder: GlobSetBuilder) -> Result<GlobSet, RuleError> {
    builder.build().map_err(|source| RuleError::Glob {
        flag,
        glob: String::new(),
        source,
    })
}

/// Content-Type from the extension; text types get `; charset=utf-8` so browsers never guess the encoding.
/// Unknown extensions are `application/octet-stream`, like S3's own default.
pub fn content_type(rel: &str) -> String {
    let Some(mime) = mime_guess::from_path(rel).first() else {
        return "application/octet-stream".to_owned();
    };
    let essence = mime.essence_str();
    let textual = mime.type_() == mime_guess::mime::TEXT
        || matches!(
            essence,
            "application/javascript"
                | "application/json"
                | "application/ld+json"
                | "application/manifest+json"
                | "application/xml"
                | "application/xhtml+xml"
                | "application/rss+xml"
                | "application/atom+xml"
                | "image/svg+xml"
        );
    if textual && mime.get_param(mime_guess::mime::CHARSET).is_none() {
        format!("{essence}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rules(headers: &[&str], gzip: &[&str], exclude: &[&str]) -> Rules {
        Rules::new(spec(headers, gzip, exclude)).unwrap()
    }

    /// Header rules from `flag=rule` strings, e.g. `cc:*.html=no-cache`, `ct:*.x=a/b`, `h:*.pdf=Expires:…`.
    fn spec(headers: &[&str], gzip: &[&str], exclude: &[&str]) -> RuleSpec {
        RuleSpec {
            headers: headers.iter().map(|h| parse(h).unwrap()).collect(),
            gzip: gzip.iter().map(|s| (*s).to_owned()).collect(),
            exclude: exclude.iter().map(|s| (*s).to_owned()).collect(),
            include_hidden: false,
        }
    }

    fn parse(h: &str) -> Result<HeaderRule, RuleError> {
        match h.split_once(':') {
            Some(("cc", rule)) => HeaderRule::cache_control(rule),
            Some(("ct", rule)) => HeaderRule::content_type(rule),
            Some(("h", rule)) => HeaderRule::header(rule),
            _ => panic!("{h}"),
        }
    }

    #[test]
    fn content_types_by_extension() {
        let table = [
            ("index.html", "text/html; charset=utf-8"),
            ("a/b/style.css", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("data.json", "application/json; charset=utf-8"),
            ("logo.svg", "image/svg+xml; charset=utf-8"),
            ("feed.xml", "text/xml; charset=utf-8"),
            ("readme.txt", "text/plain; charset=utf-8"),
            ("photo.JPG", "image/jpeg"),
            ("image.png", "image/png"),
            ("font.woff2", "font/woff2"),
            ("app.wasm", "application/wasm"),
            ("archive.tar.gz", "application/gzip"),
            ("LICENSE", "application/octet-stream"),
            ("file.unknownext", "application/octet-stream"),
        ];
        for (path, want) in table {
            assert_eq!(content_type(path), want, "{path}");
        }
    }

    #[test]
    fn rule_parsing() {
        let r = HeaderRule::cache_control("assets/**=public, max-age=31536000, immutable").unwrap();
        assert_eq!(
            (r.glob.as_str(), &r.name, r.value.as_str()),
            (
                "assets/**",
                &HeaderName::CacheControl,
                "public, max-age=31536000, immutable"
            )
        );
        let r = HeaderRule::header("*.pdf=content-DISPOSITION: attachment; filename=\"a.pdf\"")
            .unwrap();
        assert_eq!(r.name, HeaderName::ContentDisposition);
        assert_eq!(r.value, "attachment; filename=\"a.pdf\"");
        let r = HeaderRule::header(
            "old.html=x-amz-website-redirect-location:https://example.com/a?b=c",
        )
        .unwrap();
        assert_eq!(r.value, "https://example.com/a?b=c");
        let r = HeaderRule::header("*.pdf=X-Amz-Meta-Owner:Web Team").unwrap();
        assert_eq!(r.name, HeaderName::Meta("owner".into()));
        assert_eq!(r.name.to_string(), "x-amz-meta-owner");
        for expires in ["Wed, 21 Oct 2026 07:28:00 GMT", "2026-10-21T07:28:00Z"] {
            let r = HeaderRule::header(&format!("*=Expires:{expires}")).unwrap();
            assert_eq!(r.value, "Wed, 21 Oct 2026 07:28:00 GMT", "{expires}");
        }
        assert_eq!(
            HeaderRule::content_type("*.webp=image/webp").unwrap().value,
            "image/webp"
        );

        // (rule, a word the error must contain)
        let bad = [
            ("cc:", "no `=`"),
            ("cc:=x", "no `=`"),
            ("cc:*.html=", "empty"),
            ("cc:*.html", "no `=`"),
            ("cc:  =  ", "no `=`"),
            ("h:*.html=Cache-Control", "no `:`"),
            ("h:*.html=X-Frame-Options:DENY", "allowed: Cache-Control"),
            ("h:*.html=Content-Encoding:gzip", "--gzip"),
            ("h:*.html=x-amz-meta-keyless-sha256:00", "reserved"),
            ("h:*.html=x-amz-meta-keyless-anything:00", "reserved"),
            ("h:*.html=x-amz-meta-:v", "needs a name"),
            ("h:*.html=x-amz-meta-a b:v", "letters, digits"),
            (
                "h:*.html=x-amz-website-redirect-location:example.com",
                "`/`",
            ),
            ("h:*.html=Expires:tomorrow", "not a date"),
            ("h:*.html=Content-Language:fr\nx", "printable ASCII"),
            (
                "h:*.pdf=Content-Disposition:attachment; filename=\"naïve.pdf\"",
                "printable ASCII",
            ),
            ("ct:*.x=webp", "type/subtype"),
        ];
        for (rule, word) in bad {
            let err = parse(rule).unwrap_err().to_string();
            assert!(err.contains(word), "{rule}: {err}");
        }
    }

    #[test]
    fn first_match_per_header_wins_in_command_line_order() {
        let r = rules(
            &[
                "cc:*.html=no-cache",
                "h:**=Cache-Control:max-age=60",
                "h:*.html=Content-Language:en",
                "ct:*.txt=text/plain",
                "h:downloads/**=Content-Disposition:attachment",
                "h:**=x-amz-meta-team:web",
                "h:docs/**=x-amz-meta-team:docs",
                "h:old/index.html=x-amz-website-redirect-location:/new/",
                "h:*.pdf=Expires:2030-01-01T00:00:00Z",
                "ct:**=application/x-custom",
            ],
            &["*.html"],
            &[],
        );
        let h = r.headers_for("docs/index.html");
        assert_eq!(h.cache_control.as_deref(), Some("no-cache"));
        assert_eq!(h.content_language.as_deref(), Some("en"));
        // `ct:**` comes after no other Content-Type rule for .html, so it applies: rules beat the extension.
        assert_eq!(h.content_type, "application/x-custom");
        assert_eq!(h.content_encoding.as_deref(), Some("gzip"));
        assert_eq!(
            h.metadata["team"], "web",
            "the earlier ** rule wins over docs/**"
        );
        let h = r.headers_for("downloads/a.pdf");
        assert_eq!(h.cache_control.as_deref(), Some("max-age=60"));
        assert_eq!(h.content_disposition.as_deref(), Some("attachment"));
        assert_eq!(h.expires.as_deref(), Some("Tue, 01 Jan 2030 00:00:00 GMT"));
        assert_eq!(h.content_encoding, None);
        assert_eq!(r.headers_for("notes.txt").content_type, "text/plain");
        let h = r.headers_for("old/index.html");
        assert_eq!(h.website_redirect_location.as_deref(), Some("/new/"));
        assert_eq!(r.headers_for("index.html").website_redirect_location, None);

        // The order of the flags decides, not the flag: the same two rules the other way round.
        let r = rules(
            &["h:**=Cache-Control:max-age=60", "cc:*.html=no-cache"],
            &[],
            &[],
        );
        assert_eq!(
            r.headers_for("index.html").cache_control.as_deref(),
            Some("max-age=60")
        );
    }

    #[test]
    fn globs_basename_semantics_gzip_and_excludes() {
        let r = rules(
            &[
                "cc:*.html=no-cache",
                "cc:assets/**=max-age=31536000",
                "cc:**=max-age=60",
            ],
            &["*.{html,css,js}", "data/*.json"],
            &["*.map", "drafts/**"],
        );
        let table: [(&str, Option<&str>, bool, bool); 9] = [
            ("index.html", Some("no-cache"), true, false),
            ("docs/deep/page.html", Some("no-cache"), true, false),
            ("assets/app.js", Some("max-age=31536000"), true, false),
            (
                "assets/img/logo.png",
                Some("max-age=31536000"),
                false,
                false,
            ),
            ("robots.txt", Some("max-age=60"), false, false),
            ("data/x.json", Some("max-age=60"), true, false),
            ("data/sub/x.json", Some("max-age=60"), false, false),
            ("assets/app.js.map", Some("max-age=31536000"), false, true),
            ("drafts/a/b.md", Some("max-age=60"), false, true),
        ];
        for (rel, cc, gz, excluded) in table {
            let h = r.headers_for(rel);
            assert_eq!(h.cache_control.as_deref(), cc, "{rel}");
            assert_eq!(h.content_encoding.is_some(), gz, "{rel}");
            assert_eq!(r.is_gzip(rel), gz, "{rel}");
            assert_eq!(r.is_excluded(rel), excluded, "{rel}");
        }
    }

    #[test]
    fn the_same_header_and_glob_twice_is_refused() {
        for pair in [
            ["cc:*.html=no-cache", "h:*.html=cache-control:max-age=60"],
            ["ct:*.x=a/b", "h:*.x=Content-Type:c/d"],
            ["h:*.x=x-amz-meta-a:1", "h:*.x=X-AMZ-META-A:2"],
            ["cc:*.html=a", "cc:*.html=b"],
        ] {
            let err = Rules::new(spec(&pair, &[], &[])).unwrap_err().to_string();
            assert!(err.contains("would never apply"), "{pair:?}: {err}");
            assert!(err.contains("`*.") && err.contains("--"), "{err}");
        }
        // Different headers, or different globs, are fine.
        rules(
            &[
                "cc:*.html=no-cache",
                "h:*.html=Content-Language:en",
                "cc:**.html=x",
            ],
            &[],
            &[],
        );
    }

    #[test]
    fn user_metadata_is_bounded_by_s3s_limit() {
        let long = "v".repeat(1000);
        let ok = format!("h:*.a=x-amz-meta-a:{long}");
        // Two values for the same name never meet on one object: only the longest counts.
        rules(&[&ok, &format!("h:*.b=x-amz-meta-a:{long}")], &[], &[]);
        let err = Rules::new(spec(
            &[&ok, &format!("h:*.b=x-amz-meta-b:{long}")],
            &[],
            &[],
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("2048") && err.contains("2107"), "{err}");
    }

    #[test]
    fn no_rules_means_no_optional_headers() {
        let h = Rules::default().headers_for("a/b.css");
        assert_eq!(
            h,
            Headers {
                content_type: "text/css; charset=utf-8".into(),
                ..Headers::default()
            }
        );
    }

    #[test]
    fn bad_glob_names_flag_and_glob() {
        let err = Rules::new(spec(&[], &["a["], &[])).unwrap_err().to_string();
        assert!(err.contains("--gzip") && err.contains("`a[`"), "{err}");
        let err = Rules::new(spec(&["ct:a[=x/y"], &[], &[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--content-type") && err.contains("`a[`"),
            "{err}"
        );
    }

    #[test]
    fn header_differences() {
        let a = Headers {
            content_type: "text/html".into(),
            ..Headers::default()
        };
        let mut b = a.clone();
        assert!(a.differences(&b).is_empty());
        b.cache_control = Some("no-cache".into());
        b.content_encoding = Some("gzip".into());
        b.website_redirect_location = Some("/x".into());
        b.metadata.insert("team".into(), "web".into());
        assert_eq!(
            a.differences(&b),
            [
                "cache-control",
                "content-encoding",
                "x-amz-website-redirect-location",
                "x-amz-meta-team"
            ]
        );
    }

    #[test]
    fn hidden_paths() {
        let table = [
            (".env", true),
            (".env.production", true),
            (".git/HEAD", true),
            ("a/.git/HEAD", true),
            ("docs/.DS_Store", true),
            ("a/b/.c/d.txt", true),
            (".well-known/security.txt", false),
            (".well-known/acme-challenge/token", false),
            (".well-known/.hidden", true),
            (".well-known", true),
            ("docs/.well-known/security.txt", true),
            ("index.html", false),
            ("a.b/c..d/e.", false),
        ];
        for (rel, hidden) in table {
            assert_eq!(is_hidden(rel), hidden, "{rel}");
        }
        let mut s = spec(&[], &[], &["*.map"]);
        let r = Rules::new(s.clone()).unwrap();
        assert!(!r.takes_part(".env") && !r.takes_part("a.map") && r.takes_part(".well-known/x"));
        s.include_hidden = true;
        let r = Rules::new(s).unwrap();
        assert!(r.takes_part(".env") && !r.takes_part(".x.map"));
    }
}
