//! Branch patterns of `environments.<name>.branches` (`main`, `release/*`, `feature/**`, `{main,master}`).
//!
//! Matching is `keyless_pipelines::Glob`, the one implementation of Bitbucket's glob rules that pipeline
//! selection, `keyless render` and the trust matrix all share (`*` within a path segment, `**` across `/`, `?`,
//! `{a,b}` alternatives that may nest, `[a-z]` classes, `\x` escapes; see docs/pipelines-model.md). This module
//! adds what only `keyless.yml` needs: load-time checks that are stricter than Bitbucket (an empty pattern or an
//! unbalanced brace, which Bitbucket would match literally, is almost always a typo) and example branch names
//! for `keyless check` scenarios.

use std::fmt;

use keyless_pipelines::Glob;

/// A compiled branch pattern.
#[derive(Clone)]
pub struct BranchPattern {
    glob: Glob,
    /// A branch name the pattern matches (checked at construction).
    example: String,
}

impl fmt::Debug for BranchPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BranchPattern({:?})", self.glob.as_str())
    }
}

impl PartialEq for BranchPattern {
    fn eq(&self, other: &Self) -> bool {
        self.glob.as_str() == other.glob.as_str()
    }
}

/// Why a pattern is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    #[error("the pattern is empty")]
    Empty,
    #[error("`{{` at character {0} is never closed by `}}`")]
    UnclosedBrace(usize),
    #[error("`}}` at character {0} has no matching `{{`")]
    UnopenedBrace(usize),
    #[error("the pattern matches no branch name (more than 256 `{{...}}` alternatives?)")]
    MatchesNothing,
}

impl BranchPattern {
    pub fn new(source: &str) -> Result<Self, GlobError> {
        if source.is_empty() {
            return Err(GlobError::Empty);
        }
        check_braces(source)?;
        let glob = Glob::new(source);
        let example = example(source);
        if !glob.matches(&example) {
            return Err(GlobError::MatchesNothing);
        }
        Ok(BranchPattern { glob, example })
    }

    pub fn as_str(&self) -> &str {
        self.glob.as_str()
    }

    pub fn matches(&self, branch: &str) -> bool {
        self.glob.matches(branch)
    }

    /// A concrete branch name this pattern matches (used to build `keyless check` scenarios).
    pub fn example(&self) -> String {
        self.example.clone()
    }
}

/// Braces must balance (escaped braces and braces inside `[...]` classes aside).
fn check_braces(source: &str) -> Result<(), GlobError> {
    let chars: Vec<char> = source.chars().collect();
    let mut open: Vec<usize> = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        match chars[index] {
            '\\' => index += 1,
            '[' => {
                if let Some(end) = class_end(&chars, index) {
                    index = end;
                }
            }
            '{' => open.push(index),
            '}' if open.pop().is_none() => return Err(GlobError::UnopenedBrace(index + 1)),
            _ => {}
        }
        index += 1;
    }
    match open.first() {
        Some(first) => Err(GlobError::UnclosedBrace(first + 1)),
        None => Ok(()),
    }
}

/// The index of the `]` closing the class opened at `open`, as Bitbucket's globs read it (`[]a]`, `[!]a]`).
fn class_end(chars: &[char], open: usize) -> Option<usize> {
    let mut index = open + 1;
    if matches!(chars.get(index), Some('!' | '^')) {
        index += 1;
    }
    if chars.get(index) == Some(&']') {
        index += 1;
    }
    (index..chars.len()).find(|&i| chars[i] == ']')
}

/// A branch name `source` matches: `**` → `keyless/example`, `*` → `example`, `?` → `x`, a class → one of its
/// characters, `{a,b}` → its first alternative. [`BranchPattern::new`] verifies it with the real matcher.
fn example(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::new();
    let mut index = 0;
    while index < chars.len() {
        match chars[index] {
            '\\' if index + 1 < chars.len() => {
                out.push(chars[index + 1]);
                index += 1;
            }
            '*' if chars.get(index + 1) == Some(&'*') => {
                out.push_str("keyless/example");
                while chars.get(index + 1) == Some(&'*') {
                    index += 1;
                }
            }
            '*' => out.push_str("example"),
            '?' => out.push('x'),
            '[' => match class_end(&chars, index) {
                Some(end) => {
                    out.push(class_member(&chars[index + 1..end]));
                    index = end;
                }
                None => out.push('['),
            },
            '{' => match brace_first_alternative(&chars, index) {
                Some((first, end)) => {
                    out.push_str(&example(&first));
                    index = end;
                }
                None => out.push('{'),
            },
            other => out.push(other),
        }
        index += 1;
    }
    out
}

/// A character the class body (between `[` and `]`) accepts.
fn class_member(body: &[char]) -> char {
    let negated = matches!(body.first(), Some('!' | '^'));
    let items = if negated { &body[1..] } else { body };
    let inside = |c: char| {
        let mut index = 0;
        while index < items.len() {
            if index + 2 < items.len() && items[index + 1] == '-' {
                if items[index] <= c && c <= items[index + 2] {
                    return true;
                }
                index += 3;
            } else {
                if items[index] == c {
                    return true;
                }
                index += 1;
            }
        }
        false
    };
    if negated {
        ['x', 'k', '0', '_', 'Z', '-']
            .into_iter()
            .find(|c| !inside(*c))
            .unwrap_or('x')
    } else {
        items.first().copied().unwrap_or('x')
    }
}

/// The first alternative of the `{...}` group opening at `open`, and the index of its closing `}`.
fn brace_first_alternative(chars: &[char], open: usize) -> Option<(String, usize)> {
    let mut depth = 0;
    let mut first_end = None;
    let mut index = open;
    while index < chars.len() {
        match chars[index] {
            '\\' => index += 1,
            '{' => depth += 1,
            ',' if depth == 1 && first_end.is_none() => first_end = Some(index),
            '}' => {
                depth -= 1;
                if depth == 0 {
                    let first: String =
                        chars[open + 1..first_end.unwrap_or(index)].iter().collect();
                    return Some((first, index));
                }
            }
            _ => {}
        }
        index += 1;
    }
    None
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
            // The shared matcher's extensions: nested alternatives, classes, escapes.
            ("{release/{v1,v2},hotfix}/*", "release/v2/x", true),
            ("release/v[0-9]", "release/v7", true),
            ("release/v[0-9]", "release/vx", false),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
        ];
        for (pattern, branch, expected) in cases {
            let compiled = BranchPattern::new(pattern).unwrap();
            assert_eq!(compiled.matches(branch), expected, "{pattern} vs {branch}");
        }
    }

    #[test]
    fn examples_match_their_pattern() {
        for pattern in [
            "main",
            "release/*",
            "feature/**",
            "{main,master}",
            "v?.*",
            "{release/{v1,v2},hotfix}/*",
            "v[!0-9x]*",
            "[[]x]",
            "a\\{b",
            "***",
        ] {
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
        let too_many = "{a,b}".repeat(10);
        assert_eq!(
            BranchPattern::new(&too_many),
            Err(GlobError::MatchesNothing)
        );
        // Escaped and class-held braces are literals, not groups.
        assert!(BranchPattern::new("a\\{b").unwrap().matches("a{b"));
        assert!(BranchPattern::new("a[{]b").unwrap().matches("a{b"));
    }
}
