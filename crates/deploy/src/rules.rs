//! Header rules: Content-Type from the file extension, Cache-Control and gzip by glob, and excludes.
//!
//! Globs are matched against the path relative to the source directory, with `/` separators. A glob without a
//! `/` matches the file name in any directory (`*.html` matches `docs/index.html`), like `.gitignore`; a glob
//! with a `/` matches the whole relative path (`assets/**`). `*` never crosses a `/`; `**` does.

use std::str::FromStr;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

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
    #[error(
        "invalid --cache-control rule `{0}`: expected GLOB=VALUE, for example `*.html=no-cache` or \
         `assets/**=public, max-age=31536000, immutable`"
    )]
    CacheControlSyntax(String),
}

/// One `--cache-control GLOB=VALUE` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheControlRule {
    pub glob: String,
    pub value: String,
}

impl FromStr for CacheControlRule {
    type Err = RuleError;

    /// Splits at the first `=`: values such as `max-age=60` keep their own `=`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((glob, value)) if !glob.trim().is_empty() && !value.trim().is_empty() => {
                Ok(Self {
                    glob: glob.trim().to_owned(),
                    value: value.trim().to_owned(),
                })
            }
            _ => Err(RuleError::CacheControlSyntax(s.to_owned())),
        }
    }
}

/// The headers an object should carry. These are what `--cache-control`/`--gzip` and the extension decide;
/// comparing them with the stored object's headers finds header-only changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers {
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
}

impl Headers {
    /// Names of the headers that differ, in a fixed order (for plans and reports).
    pub fn differences(&self, other: &Headers) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.content_type != other.content_type {
            out.push("content-type");
        }
        if self.cache_control != other.cache_control {
            out.push("cache-control");
        }
        if self.content_encoding != other.content_encoding {
            out.push("content-encoding");
        }
        out
    }
}

/// Compiled rules.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    cache_control: GlobSet,
    cache_control_values: Vec<String>,
    gzip: GlobSet,
    exclude: GlobSet,
}

impl Rules {
    /// Compiles the rules. For Cache-Control the first matching rule wins, in the order given.
    pub fn new(
        cache_control: &[CacheControlRule],
        gzip: &[String],
        exclude: &[String],
    ) -> Result<Self, RuleError> {
        let mut cc = GlobSetBuilder::new();
        for rule in cache_control {
            cc.add(compile("--cache-control", &rule.glob)?);
        }
        Ok(Self {
            cache_control: build("--cache-control", cc)?,
            cache_control_values: cache_control.iter().map(|r| r.value.clone()).collect(),
            gzip: set("--gzip", gzip)?,
            exclude: set("--exclude", exclude)?,
        })
    }

    /// Whether the relative path is excluded (neither uploaded nor deleted).
    pub fn is_excluded(&self, rel: &str) -> bool {
        self.exclude.is_match(rel)
    }

    /// Whether the file is stored gzip-compressed.
    pub fn is_gzip(&self, rel: &str) -> bool {
        self.gzip.is_match(rel)
    }

    /// The headers for the file at `rel`.
    pub fn headers_for(&self, rel: &str) -> Headers {
        let cache_control = self
            .cache_control
            .matches(rel)
            .into_iter()
            .min()
            .map(|i| self.cache_control_values[i].clone());
        Headers {
            content_type: content_type(rel),
            cache_control,
            content_encoding: self.is_gzip(rel).then(|| "gzip".to_owned()),
        }
    }
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
    fn cache_control_rule_parsing() {
        let r: CacheControlRule = "assets/**=public, max-age=31536000, immutable"
            .parse()
            .unwrap();
        assert_eq!(r.glob, "assets/**");
        assert_eq!(r.value, "public, max-age=31536000, immutable");
        for bad in ["", "=x", "*.html=", "*.html", "  =  "] {
            assert!(bad.parse::<CacheControlRule>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn globs_first_match_wins_and_basename_semantics() {
        let rules = Rules::new(
            &[
                "*.html=no-cache".parse().unwrap(),
                "assets/**=max-age=31536000".parse().unwrap(),
                "**=max-age=60".parse().unwrap(),
            ],
            &["*.{html,css,js}".to_owned(), "data/*.json".to_owned()],
            &["*.map".to_owned(), "drafts/**".to_owned()],
        )
        .unwrap();
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
            let h = rules.headers_for(rel);
            assert_eq!(h.cache_control.as_deref(), cc, "{rel}");
            assert_eq!(h.content_encoding.is_some(), gz, "{rel}");
            assert_eq!(rules.is_gzip(rel), gz, "{rel}");
            assert_eq!(rules.is_excluded(rel), excluded, "{rel}");
        }
    }

    #[test]
    fn no_rules_means_no_optional_headers() {
        let h = Rules::default().headers_for("a/b.css");
        assert_eq!(
            h,
            Headers {
                content_type: "text/css; charset=utf-8".into(),
                cache_control: None,
                content_encoding: None
            }
        );
    }

    #[test]
    fn bad_glob_names_flag_and_glob() {
        let err = Rules::new(&[], &["a[".to_owned()], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--gzip") && err.contains("`a[`"), "{err}");
    }

    #[test]
    fn header_differences() {
        let a = Headers {
            content_type: "text/html".into(),
            cache_control: None,
            content_encoding: None,
        };
        let mut b = a.clone();
        assert!(a.differences(&b).is_empty());
        b.cache_control = Some("no-cache".into());
        b.content_encoding = Some("gzip".into());
        assert_eq!(a.differences(&b), ["cache-control", "content-encoding"]);
    }
}
