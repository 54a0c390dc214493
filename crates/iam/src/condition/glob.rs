//! IAM wildcard matching: `*` matches any run of characters (including none), `?` exactly one character, and
//! the pattern must match the whole value. Compiled once at parse time; matching never allocates.

/// One piece of a compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Literal(String),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters, possibly empty.
    Star,
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    /// Compiles `pattern`, treating `*` and `?` as wildcards.
    pub fn new(pattern: &str) -> Self {
        let mut glob = Glob::default();
        glob.push_pattern(pattern);
        glob
    }

    /// Appends `pattern` with `*` and `?` as wildcards.
    pub fn push_pattern(&mut self, pattern: &str) {
        let mut literal_start = 0;
        for (i, c) in pattern.char_indices() {
            if c == '*' || c == '?' {
                self.push_literal(&pattern[literal_start..i]);
                if c == '*' {
                    // Consecutive stars are one star; keeping one keeps backtracking linear.
                    if self.tokens.last() != Some(&Token::Star) {
                        self.tokens.push(Token::Star);
                    }
                } else {
                    self.tokens.push(Token::One);
                }
                literal_start = i + 1;
            }
        }
        self.push_literal(&pattern[literal_start..]);
    }

    /// Appends text that matches only itself (a resolved policy variable, `${*}`, `${?}`).
    pub fn push_literal(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(Token::Literal(last)) = self.tokens.last_mut() {
            last.push_str(text);
        } else {
            self.tokens.push(Token::Literal(text.to_string()));
        }
    }

    /// Whether the pattern contains a wildcard.
    pub fn has_wildcard(&self) -> bool {
        self.tokens.iter().any(|t| !matches!(t, Token::Literal(_)))
    }

    /// Case-sensitive whole-string match.
    pub fn matches(&self, value: &str) -> bool {
        self.matches_with(value.as_bytes(), false)
    }

    /// Whole-string match ignoring ASCII case (IAM action names).
    pub fn matches_ignore_ascii_case(&self, value: &str) -> bool {
        self.matches_with(value.as_bytes(), true)
    }

    fn matches_with(&self, s: &[u8], ignore_case: bool) -> bool {
        let tokens = &self.tokens;
        let (mut ti, mut si) = (0usize, 0usize);
        // Where to resume after the last `*`: (token index after it, value index it has consumed up to).
        let mut resume: Option<(usize, usize)> = None;
        loop {
            if let Some(token) = tokens.get(ti) {
                let advanced = match token {
                    Token::Star => {
                        resume = Some((ti + 1, si));
                        ti += 1;
                        continue;
                    }
                    Token::Literal(literal) => {
                        let literal = literal.as_bytes();
                        let end = si + literal.len();
                        let hit = s.get(si..end).is_some_and(|part| {
                            if ignore_case {
                                part.eq_ignore_ascii_case(literal)
                            } else {
                                part == literal
                            }
                        });
                        if hit {
                            si = end;
                        }
                        hit
                    }
                    Token::One => match s.get(si) {
                        Some(&b) => {
                            si += utf8_len(b);
                            true
                        }
                        None => false,
                    },
                };
                if advanced {
                    ti += 1;
                    continue;
                }
            } else if si >= s.len() {
                return true;
            }
            // Mismatch: let the last `*` swallow one more character and retry from there.
            match resume {
                Some((t, consumed)) if consumed < s.len() => {
                    let next = consumed + utf8_len(s[consumed]);
                    resume = Some((t, next));
                    ti = t;
                    si = next;
                }
                _ => return false,
            }
        }
    }
}

/// Length of the UTF-8 sequence that starts with `lead` (values are `&str`, so sequences are valid).
fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything", true),
            ("a*", "a", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "a\u{e9}c", true),
            ("*:prod:*", "{repo}:prod:{step}", true),
            ("*:prod:*", "{repo}:{step}", false),
            ("{repo}:*", "{repo}:{env}:{step}", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("abc", "ABC", false),
            ("**a", "bba", true),
            ("?", "", false),
            ("", "", true),
            ("", "x", false),
        ];
        for &(pattern, value, expected) in cases {
            assert_eq!(
                Glob::new(pattern).matches(value),
                expected,
                "{pattern:?} vs {value:?}"
            );
        }
    }

    #[test]
    fn literal_parts_do_not_glob() {
        let mut glob = Glob::new("a");
        glob.push_literal("*");
        assert!(glob.matches("a*"));
        assert!(!glob.matches("ab"));
    }

    #[test]
    fn ignore_case_for_actions() {
        assert!(
            Glob::new("sts:AssumeRole*").matches_ignore_ascii_case("STS:assumerolewithwebidentity")
        );
        assert!(
            !Glob::new("sts:AssumeRole").matches_ignore_ascii_case("sts:AssumeRoleWithWebIdentity")
        );
    }
}
