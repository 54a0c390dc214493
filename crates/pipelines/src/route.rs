//! Routes: the path of a node from the document root, such as
//! `pipelines.branches.main[2].step.script[0]`.
//!
//! Rules and transforms speak in routes; [`crate::PipelineFile::span`] turns a route into a file span.

use std::fmt;
use std::str::FromStr;

use compact_str::CompactString;

/// One step of a route: a mapping key or a sequence index.
///
/// Keys are `CompactString`s: routes are cloned and extended for every node the model derives, and the keys
/// of a pipeline file (`pipelines`, `step`, `script`, branch globs) fit in its 24 inline bytes, so cloning a
/// route copies bytes instead of allocating one string per segment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    Key(CompactString),
    Index(usize),
}

/// The path from the root of the document to one node.
///
/// Displayed as dotted keys and bracketed indices. Keys that are not plain identifiers
/// (`[A-Za-z0-9_-]+`) are written as JSON strings: `pipelines.branches."release/*"[0].step`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    segments: Vec<Segment>,
}

impl Route {
    /// The empty route: the document root.
    pub fn root() -> Self {
        Route::default()
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// This route extended by a mapping key.
    pub fn key(&self, key: impl Into<CompactString>) -> Route {
        let mut r = self.clone();
        r.segments.push(Segment::Key(key.into()));
        r
    }

    /// This route extended by a sequence index.
    pub fn index(&self, index: usize) -> Route {
        let mut r = self.clone();
        r.segments.push(Segment::Index(index));
        r
    }

    /// `route.at(None)` is the route itself, `route.at(Some(i))` its `i`th item (for values that
    /// are a single string or a list of strings).
    pub fn at(&self, index: Option<usize>) -> Route {
        match index {
            Some(i) => self.index(i),
            None => self.clone(),
        }
    }

    /// The route of the enclosing node, or `None` at the root.
    pub fn parent(&self) -> Option<Route> {
        if self.segments.is_empty() {
            return None;
        }
        let mut r = self.clone();
        r.segments.pop();
        Some(r)
    }

    pub fn last(&self) -> Option<&Segment> {
        self.segments.last()
    }

    /// True when `self` is `other` or lies inside it.
    pub fn starts_with(&self, other: &Route) -> bool {
        self.segments.starts_with(&other.segments)
    }

    pub fn push(&mut self, segment: Segment) {
        self.segments.push(segment);
    }
}

fn is_plain_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("<root>");
        }
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_plain_key(k) {
                        f.write_str(k)?;
                    } else {
                        // serde_json string encoding cannot fail for a &str.
                        let quoted = serde_json::to_string(k.as_str()).map_err(|_| fmt::Error)?;
                        f.write_str(&quoted)?;
                    }
                }
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A route string that does not follow the route grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid route `{input}` at character {position}: {reason}; write routes like `pipelines.branches.\"release/*\"[0].step`"
)]
pub struct RouteParseError {
    pub input: String,
    pub position: usize,
    pub reason: &'static str,
}

impl FromStr for Route {
    type Err = RouteParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |position: usize, reason: &'static str| RouteParseError {
            input: s.to_string(),
            position,
            reason,
        };
        let mut route = Route::root();
        if s == "<root>" || s.is_empty() {
            return Ok(route);
        }
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        let mut expect_key = true;
        while i < chars.len() {
            match chars[i] {
                '[' => {
                    let start = i + 1;
                    let mut j = start;
                    while j < chars.len() && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                    if j == start || j >= chars.len() || chars[j] != ']' {
                        return Err(err(i, "expected a number and `]` after `[`"));
                    }
                    let n: String = chars[start..j].iter().collect();
                    let n = n.parse().map_err(|_| err(start, "index too large"))?;
                    route.segments.push(Segment::Index(n));
                    i = j + 1;
                    expect_key = false;
                }
                '.' if !expect_key && i + 1 < chars.len() => {
                    i += 1;
                    expect_key = true;
                }
                '"' if expect_key => {
                    // Find the closing quote, honouring backslash escapes, then let serde_json decode.
                    let mut j = i + 1;
                    while j < chars.len() && chars[j] != '"' {
                        if chars[j] == '\\' {
                            j += 1;
                        }
                        j += 1;
                    }
                    if j >= chars.len() {
                        return Err(err(i, "unterminated quoted key"));
                    }
                    let lit: String = chars[i..=j].iter().collect();
                    let key: String = serde_json::from_str(&lit)
                        .map_err(|_| err(i, "bad escape in quoted key"))?;
                    route.segments.push(Segment::Key(key.into()));
                    i = j + 1;
                    expect_key = false;
                }
                c if expect_key && (c.is_ascii_alphanumeric() || c == '_' || c == '-') => {
                    let start = i;
                    while i < chars.len()
                        && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '-')
                    {
                        i += 1;
                    }
                    route
                        .segments
                        .push(Segment::Key(chars[start..i].iter().collect()));
                    expect_key = false;
                }
                _ => return Err(err(i, "unexpected character")),
            }
        }
        if expect_key {
            return Err(err(chars.len(), "route ends with `.`"));
        }
        Ok(route)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn display_matches_the_documented_form() {
        let r = Route::root()
            .key("pipelines")
            .key("branches")
            .key("main")
            .index(2)
            .key("step")
            .key("script")
            .index(0);
        assert_eq!(r.to_string(), "pipelines.branches.main[2].step.script[0]");
        let g = Route::root()
            .key("pipelines")
            .key("branches")
            .key("release/*")
            .index(0);
        assert_eq!(g.to_string(), "pipelines.branches.\"release/*\"[0]");
        assert_eq!(Route::root().to_string(), "<root>");
    }

    #[test]
    fn parse_round_trips_display() {
        for s in [
            "pipelines.branches.main[2].step.script[0]",
            "pipelines.branches.\"release/*\"[0].step",
            "pipelines.branches.\"{a,b}\\\"x\"[10]",
            "pipelines.custom.deploy-prod[0].variables[1].name",
        ] {
            let r: Route = s.parse().unwrap();
            assert_eq!(r.to_string(), s);
        }
    }

    #[test]
    fn parse_rejects_malformed_routes() {
        for s in ["a..b", "a.", "a[x]", "a[1", ".a", "a b", "\"open"] {
            assert!(s.parse::<Route>().is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn parent_and_starts_with() {
        let r: Route = "a.b[1].c".parse().unwrap();
        assert_eq!(r.parent().unwrap().to_string(), "a.b[1]");
        assert!(r.starts_with(&"a.b".parse().unwrap()));
        assert!(!r.starts_with(&"a.c".parse().unwrap()));
    }
}
