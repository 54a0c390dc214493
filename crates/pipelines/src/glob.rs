//! Bitbucket's glob patterns for `branches`, `tags` and `pull-requests` keys.
//!
//! `*` matches any run of characters except `/`; `**` matches any run including `/`; `?` matches
//! one character except `/`; `{a,b}` matches either alternative (alternatives may nest and may
//! hold globs); `[abc]`, `[a-z]`, `[!a]` match one character from a class; `\x` is a literal
//! `x`. Hand-written because the precedence rules (exact names first, then the most specific
//! glob) need the pattern's literal length, which general glob crates do not expose. See
//! `docs/pipelines-model.md` for the sources and what is UNCONFIRMED.

/// The most alternatives one pattern may expand to; larger patterns match nothing.
const MAX_ALTERNATIVES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    Star,
    DoubleStar,
    Any,
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
}

/// A compiled glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    /// Each alternative of the `{a,b}` expansion, as tokens.
    alternatives: Vec<Vec<Tok>>,
}

/// How specifically a pattern matched a name: greater is more specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Specificity {
    /// An exact name (no glob characters) always beats a glob.
    pub exact: bool,
    /// Literal characters in the matching alternative.
    pub literals: usize,
    /// Negated count of `**` (fewer `**` is more specific).
    pub fewer_double_stars: i64,
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        let chars: Vec<char> = pattern.chars().collect();
        let alternatives = expand(&chars).unwrap_or_default();
        let alternatives = alternatives.iter().map(|a| tokenize(a)).collect();
        Glob {
            pattern: pattern.to_string(),
            alternatives,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// True when the pattern has no glob characters (it names one branch or tag).
    pub fn is_exact(&self) -> bool {
        self.alternatives.len() == 1
            && self.alternatives[0]
                .iter()
                .all(|t| matches!(t, Tok::Lit(_)))
    }

    pub fn matches(&self, name: &str) -> bool {
        self.specificity(name).is_some()
    }

    /// How specifically this pattern matches `name`, or `None` when it does not match.
    pub fn specificity(&self, name: &str) -> Option<Specificity> {
        let name: Vec<char> = name.chars().collect();
        let exact = self.is_exact();
        self.alternatives
            .iter()
            .filter(|alt| match_tokens(alt, &name))
            .map(|alt| Specificity {
                exact,
                literals: alt.iter().filter(|t| matches!(t, Tok::Lit(_))).count(),
                fewer_double_stars: -(alt.iter().filter(|t| **t == Tok::DoubleStar).count() as i64),
            })
            .max()
    }
}

/// True when `pattern` matches `name` with Bitbucket's glob semantics.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    Glob::new(pattern).matches(name)
}

/// Expands `{a,b}` groups into alternatives. `None` when there are too many.
fn expand(chars: &[char]) -> Option<Vec<Vec<char>>> {
    // Find the first top-level `{` with a matching `}`.
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '[' => {
                // Skip a character class so that `[{]` stays literal.
                match class_end(chars, i) {
                    Some(end) => i = end + 1,
                    None => i += 1,
                }
            }
            '{' => {
                let mut depth = 0;
                let mut j = i;
                let mut commas = Vec::new();
                while j < chars.len() {
                    match chars[j] {
                        '\\' => j += 1,
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        ',' if depth == 1 => commas.push(j),
                        _ => {}
                    }
                    j += 1;
                }
                if j >= chars.len() {
                    // Unbalanced: the `{` is a literal.
                    i += 1;
                    continue;
                }
                let mut bounds = vec![i];
                bounds.extend(commas);
                bounds.push(j);
                let prefix = &chars[..i];
                let rest = expand(&chars[j + 1..])?;
                let mut out = Vec::new();
                for w in bounds.windows(2) {
                    for inner in expand(&chars[w[0] + 1..w[1]])? {
                        for tail in &rest {
                            let mut v = prefix.to_vec();
                            v.extend(&inner);
                            v.extend(tail);
                            out.push(v);
                            if out.len() > MAX_ALTERNATIVES {
                                return None;
                            }
                        }
                    }
                }
                return Some(out);
            }
            _ => i += 1,
        }
    }
    Some(vec![chars.to_vec()])
}

fn class_end(chars: &[char], open: usize) -> Option<usize> {
    let mut j = open + 1;
    if j < chars.len() && (chars[j] == '!' || chars[j] == '^') {
        j += 1;
    }
    if j < chars.len() && chars[j] == ']' {
        j += 1;
    }
    while j < chars.len() {
        if chars[j] == ']' {
            return Some(j);
        }
        j += 1;
    }
    None
}

fn tokenize(chars: &[char]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                out.push(Tok::Lit(chars[i + 1]));
                i += 2;
            }
            '*' => {
                if i + 1 < chars.len() && chars[i + 1] == '*' {
                    while i < chars.len() && chars[i] == '*' {
                        i += 1;
                    }
                    out.push(Tok::DoubleStar);
                } else {
                    out.push(Tok::Star);
                    i += 1;
                }
            }
            '?' => {
                out.push(Tok::Any);
                i += 1;
            }
            '[' => match class_end(chars, i) {
                Some(end) => {
                    let mut j = i + 1;
                    let negated = j < end && (chars[j] == '!' || chars[j] == '^');
                    if negated {
                        j += 1;
                    }
                    let mut items = Vec::new();
                    while j < end {
                        if j + 2 < end && chars[j + 1] == '-' {
                            items.push((chars[j], chars[j + 2]));
                            j += 3;
                        } else {
                            items.push((chars[j], chars[j]));
                            j += 1;
                        }
                    }
                    out.push(Tok::Class { negated, items });
                    i = end + 1;
                }
                None => {
                    out.push(Tok::Lit('['));
                    i += 1;
                }
            },
            c => {
                out.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    out
}

/// Dynamic programming over (token, character): linear in pattern × name, no backtracking blow-up.
fn match_tokens(toks: &[Tok], name: &[char]) -> bool {
    let n = name.len();
    // reach[j]: the tokens consumed so far can match name[..j].
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    for t in toks {
        let mut next = vec![false; n + 1];
        match t {
            Tok::Star | Tok::DoubleStar => {
                let crosses = *t == Tok::DoubleStar;
                for j in 0..=n {
                    if reach[j] {
                        next[j] = true;
                        let mut k = j;
                        while k < n && (crosses || name[k] != '/') {
                            k += 1;
                            next[k] = true;
                        }
                    }
                }
            }
            _ => {
                for j in 0..n {
                    if reach[j] {
                        let c = name[j];
                        let ok = match t {
                            Tok::Lit(l) => *l == c,
                            Tok::Any => c != '/',
                            Tok::Class { negated, items } => {
                                let inside = items.iter().any(|(lo, hi)| *lo <= c && c <= *hi);
                                c != '/' && inside != *negated
                            }
                            Tok::Star | Tok::DoubleStar => false,
                        };
                        if ok {
                            next[j + 1] = true;
                        }
                    }
                }
            }
        }
        reach = next;
        if !reach.iter().any(|r| *r) {
            return false;
        }
    }
    reach[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("main", "main", true),
            ("main", "main2", false),
            ("feature/*", "feature/x", true),
            ("feature/*", "feature/a/b", false),
            ("feature/*", "feature/", true),
            ("feature/**", "feature/a/b", true),
            ("*", "main", true),
            ("*", "feature/x", false),
            ("**", "feature/x/y", true),
            ("**", "", true),
            ("*/feature", "x/feature", true),
            ("*/feature", "x/y/feature", false),
            ("**/feature", "x/y/feature", true),
            ("release/v?", "release/v1", true),
            ("release/v?", "release/v10", false),
            ("release/v?", "release/v/", false),
            ("{main,master}", "master", true),
            ("{main,master}", "develop", false),
            ("{feature,bugfix}/*", "bugfix/x", true),
            ("{feature,bugfix}/*", "hotfix/x", false),
            ("{release/*,hotfix/**}", "hotfix/a/b", true),
            ("{release/*,hotfix/**}", "release/a/b", false),
            ("{a,{b,c}}x", "cx", true),
            ("v[0-9].*", "v1.2", true),
            ("v[0-9].*", "vx.2", false),
            ("v[!0-9]*", "vx", true),
            ("v[!0-9]*", "v1", false),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("{unbalanced", "{unbalanced", true),
            ("[unclosed", "[unclosed", true),
            ("feature/bb-*", "feature/bb-123-fix-links", true),
            ("*-hotfix", "prod-hotfix", true),
            ("ümlaut/*", "ümlaut/ß", true),
        ];
        for (pat, name, want) in cases {
            assert_eq!(glob_matches(pat, name), *want, "{pat} vs {name}");
        }
    }

    #[test]
    fn specificity_orders_exact_then_longer_literals() {
        let s = |p: &str| Glob::new(p).specificity("feature/bb-123-fix-links");
        assert!(s("feature/bb-123-fix-links") > s("feature/bb-123-*"));
        assert!(s("feature/bb-123-*") > s("feature/bb-*"));
        assert!(s("feature/bb-*") > s("feature/*"));
        assert!(s("feature/*") > s("**"));
        assert!(s("feature/**") < s("feature/*"));
        assert_eq!(s("release/*"), None);
        assert!(Glob::new("main").is_exact());
        assert!(!Glob::new("{main,master}").is_exact());
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let pat = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let name = "a".repeat(200);
        assert!(!glob_matches(pat, &name));
        let braces = "{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}";
        // 1024 alternatives exceed the cap: the pattern matches nothing rather than exploding.
        assert!(!glob_matches(braces, "aaaaaaaaaa"));
    }
}
