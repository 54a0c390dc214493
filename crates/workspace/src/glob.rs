//! Bitbucket branch glob patterns (`main`, `release/*`, `feature/**`, `{main,master}`), as used by
//! `environments.<name>.branches`.
//!
//! Semantics follow Bitbucket's glob cheat sheet: `*` matches any run of characters except `/`, `**` matches
//! any run including `/`, `?` one character except `/`, `{a,b}` either alternative; everything else is literal
//! and the whole branch name must match. NOTE: `crates/pipelines` owns pipeline-selector matching; this small
//! compiler exists so that the workspace model does not depend on the pipeline model. Both follow the same
//! documented rules.

use std::fmt;

use regex::Regex;

/// A compiled branch pattern.
#[derive(Clone)]
pub struct BranchPattern {
    source: String,
    regex: Regex,
}

impl fmt::Debug for BranchPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BranchPattern({:?})", self.source)
    }
}

impl PartialEq for BranchPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// Why a pattern is not a valid glob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    #[error("the pattern is empty")]
    Empty,
    #[error("`{{` at character {0} is never closed by `}}`")]
    UnclosedBrace(usize),
    #[error("`}}` at character {0} has no matching `{{`")]
    UnopenedBrace(usize),
    #[error("nested `{{...}}` alternatives are not supported")]
    NestedBrace,
}

impl BranchPattern {
    pub fn new(source: &str) -> Result<Self, GlobError> {
        if source.is_empty() {
            return Err(GlobError::Empty);
        }
        let mut pattern = String::from("^");
        let chars: Vec<char> = source.chars().collect();
        let mut index = 0;
        let mut brace_open: Option<usize> = None;
        while index < chars.len() {
            let c = chars[index];
            match c {
                '*' if chars.get(index + 1) == Some(&'*') => {
                    pattern.push_str(".*");
                    index += 1;
                }
                '*' => pattern.push_str("[^/]*"),
                '?' => pattern.push_str("[^/]"),
                '{' => {
                    if brace_open.is_some() {
                        return Err(GlobError::NestedBrace);
                    }
                    brace_open = Some(index);
                    pattern.push_str("(?:");
                }
                ',' if brace_open.is_some() => pattern.push('|'),
                '}' => {
                    if brace_open.take().is_none() {
                        return Err(GlobError::UnopenedBrace(index + 1));
                    }
                    pattern.push(')');
                }
                other => pattern.push_str(&regex::escape(&other.to_string())),
            }
            index += 1;
        }
        if let Some(open) = brace_open {
            return Err(GlobError::UnclosedBrace(open + 1));
        }
        pattern.push('$');
        // The pattern is built only from escaped literals and fixed fragments, so it always compiles.
        let regex = Regex::new(&pattern).map_err(|_| GlobError::Empty)?;
        Ok(BranchPattern {
            source: source.to_owned(),
            regex,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn matches(&self, branch: &str) -> bool {
        self.regex.is_match(branch)
    }

    /// A concrete branch name this pattern matches (used to build `keyless check` scenarios).
    pub fn example(&self) -> String {
        let mut out = String::new();
        let chars: Vec<char> = self.source.chars().collect();
        let mut index = 0;
        while index < chars.len() {
            match chars[index] {
                '*' if chars.get(index + 1) == Some(&'*') => {
                    out.push_str("keyless/example");
                    index += 1;
                }
                '*' => out.push_str("example"),
                '?' => out.push('x'),
                '{' => {
                    // Take the first alternative.
                    index += 1;
                    while index < chars.len() && chars[index] != ',' && chars[index] != '}' {
                        out.push(chars[index]);
                        index += 1;
                    }
                    while index < chars.len() && chars[index] != '}' {
                        index += 1;
                    }
                }
                other => out.push(other),
            }
            index += 1;
        }
        out
    }
}

/// A branch name that none of `patterns` matches, if one exists among plausible attacker-chosen names.
pub fn disallowed_example(patterns: &[BranchPattern]) -> Option<String> {
    const CANDIDATES: [&str; 6] = [
        "feature/keyless-check",
        "keyless-check",
        "main-keyless-check",
        "x/keyless-check/y",
        "KEYLESS",
        "-",
    ];
    CANDIDATES
        .iter()
        .find(|candidate| !patterns.iter().any(|pattern| pattern.matches(candidate)))
        .map(|candidate| (*candidate).to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bitbucket_glob_semantics() {
        let cases = [
            ("main", "main", true),
            ("main", "main2", false),
            ("release/*", "release/1.2", true),
            ("release/*", "release/1/2", false),
            ("release/**", "release/1/2", true),
            ("**", "any/thing", true),
            ("*", "feature/x", false),
            ("feature/?", "feature/a", true),
            ("feature/?", "feature/ab", false),
            ("{main,master}", "master", true),
            ("{main,master}", "develop", false),
            ("hotfix/*", "hotfix/", true),
            ("a.b", "axb", false),
        ];
        for (pattern, branch, expected) in cases {
            let compiled = BranchPattern::new(pattern).unwrap();
            assert_eq!(compiled.matches(branch), expected, "{pattern} vs {branch}");
        }
    }

    #[test]
    fn examples_match_their_pattern() {
        for pattern in ["main", "release/*", "feature/**", "{main,master}", "v?.*"] {
            let compiled = BranchPattern::new(pattern).unwrap();
            assert!(compiled.matches(&compiled.example()), "{pattern}");
        }
    }

    #[test]
    fn disallowed_example_avoids_every_pattern() {
        let patterns = vec![
            BranchPattern::new("feature/**").unwrap(),
            BranchPattern::new("keyless-check").unwrap(),
        ];
        let branch = disallowed_example(&patterns).unwrap();
        assert!(!patterns.iter().any(|p| p.matches(&branch)));
        assert_eq!(
            disallowed_example(&[BranchPattern::new("**").unwrap()]),
            None
        );
    }

    #[test]
    fn malformed_patterns_are_rejected() {
        assert_eq!(BranchPattern::new(""), Err(GlobError::Empty));
        assert_eq!(BranchPattern::new("{a,b"), Err(GlobError::UnclosedBrace(1)));
        assert_eq!(BranchPattern::new("a}"), Err(GlobError::UnopenedBrace(2)));
    }
}
