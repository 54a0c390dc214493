//! Policy variables in condition values: `${aws:username}`, defaults `${aws:PrincipalTag/team, 'none'}`, and
//! the escapes `${*}`, `${?}`, `${$}` (literal `*`, `?`, `$`). Values are substituted literally: a `*` that
//! comes from a variable is not a wildcard (IAMUG/reference_policies_variables).

use super::glob::Glob;
use super::typed::ArnPattern;
use crate::request::{Context, ContextValue};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Policy text: wildcards in it are wildcards for Like operators.
    Text(String),
    /// Text that is always literal (`${*}` → `*`).
    Escaped(char),
    Variable {
        key: String,
        default: Option<String>,
    },
}

/// A condition value, split into text and variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    raw: String,
    pieces: Vec<Piece>,
}

/// A variable reference found in a value (for validation and explanations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableRef {
    pub key: String,
    pub default: Option<String>,
}

impl Template {
    /// Splits `value` into pieces; with `variables` false (Version 2008-10-17) the value stays literal text.
    pub fn new(value: &str, variables: bool) -> Self {
        let pieces = if variables {
            split(value)
        } else {
            vec![Piece::Text(value.to_string())]
        };
        Template {
            raw: value.to_string(),
            pieces,
        }
    }

    /// True when the value has no variables or escapes, so it can be compiled once.
    pub fn is_static(&self) -> bool {
        matches!(self.pieces.as_slice(), [Piece::Text(_)] | [])
    }

    /// The variables the value refers to.
    pub fn variables(&self) -> Vec<VariableRef> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Variable { key, default } => Some(VariableRef {
                    key: key.clone(),
                    default: default.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// Calls `f` with the substituted value, without allocating when the value is static.
    /// `None` when a variable has no value and no default: such a policy value matches nothing.
    pub fn resolve_with<R>(&self, context: &Context, f: impl FnOnce(&str) -> R) -> Option<R> {
        if self.is_static() {
            return Some(f(&self.raw));
        }
        let mut out = String::with_capacity(self.raw.len());
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Escaped(c) => out.push(*c),
                Piece::Variable { key, default } => {
                    out.push_str(lookup(context, key, default.as_deref())?)
                }
            }
        }
        Some(f(&out))
    }

    /// The value as a wildcard pattern where only policy text can hold wildcards.
    pub fn resolve_glob(&self, context: &Context) -> Option<Glob> {
        let mut glob = Glob::default();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => glob.push_pattern(text),
                Piece::Escaped(c) => glob.push_literal(c.encode_utf8(&mut [0; 4])),
                Piece::Variable { key, default } => {
                    glob.push_literal(lookup(context, key, default.as_deref())?)
                }
            }
        }
        Some(glob)
    }

    /// The value as an ARN pattern (components split on `:` in policy text only).
    pub fn resolve_arn(&self, context: &Context) -> Option<ArnPattern> {
        let mut parts = vec![Glob::default()];
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => {
                    for (i, part) in text.split(':').enumerate() {
                        if i > 0 {
                            if parts.len() == 6 {
                                parts.last_mut()?.push_literal(":");
                            } else {
                                parts.push(Glob::default());
                            }
                        }
                        parts.last_mut()?.push_pattern(part);
                    }
                }
                Piece::Escaped(c) => parts.last_mut()?.push_literal(c.encode_utf8(&mut [0; 4])),
                Piece::Variable { key, default } => {
                    parts
                        .last_mut()?
                        .push_literal(lookup(context, key, default.as_deref())?)
                }
            }
        }
        ArnPattern::from_parts(parts)
    }
}

fn lookup<'a>(context: &'a Context, key: &str, default: Option<&'a str>) -> Option<&'a str> {
    // "You cannot use a multivalued context key as a policy variable": a list behaves as missing.
    match context.get(key) {
        Some(ContextValue::Single(value)) => Some(value),
        _ => default,
    }
}

fn split(value: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let inner = &after[..end];
        let piece = match inner {
            "*" => Some(Piece::Escaped('*')),
            "?" => Some(Piece::Escaped('?')),
            "$" => Some(Piece::Escaped('$')),
            _ => parse_variable(inner),
        };
        match piece {
            Some(piece) => {
                text.push_str(&rest[..start]);
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(piece);
            }
            // Not a variable (e.g. `${}`): keep the text literally.
            None => text.push_str(&rest[..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

/// `key` or `key, 'default'` (whitespace around the comma allowed).
fn parse_variable(inner: &str) -> Option<Piece> {
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let default = default.trim();
            let quoted = default.strip_prefix('\'')?.strip_suffix('\'')?;
            (key.trim(), Some(quoted.to_string()))
        }
        None => (inner.trim(), None),
    };
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":/._-@+=,".contains(c));
    valid.then(|| Piece::Variable {
        key: key.to_string(),
        default,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn context() -> Context {
        Context::new()
            .with("aws:username", "alice")
            .with("aws:PrincipalTag/team", "a*b")
    }

    #[test]
    fn substitution() {
        let ctx = context();
        let cases = [
            ("home/${aws:username}/*", true, "home/alice/*"),
            ("home/${aws:username}/*", false, "home/${aws:username}/*"),
            ("${missing, 'fallback'}", true, "fallback"),
            ("a${*}b${?}c${$}", true, "a*b?c$"),
            ("${}", true, "${}"),
            ("${unterminated", true, "${unterminated"),
        ];
        for (value, variables, expected) in cases {
            let got = Template::new(value, variables)
                .resolve_with(&ctx, str::to_string)
                .unwrap();
            assert_eq!(got, expected, "{value:?}");
        }
        assert!(
            Template::new("${missing}", true)
                .resolve_with(&ctx, |_| ())
                .is_none()
        );
    }

    #[test]
    fn substituted_values_are_literal_in_globs() {
        let ctx = context();
        let glob = Template::new("${aws:PrincipalTag/team}-*", true)
            .resolve_glob(&ctx)
            .unwrap();
        assert!(glob.matches("a*b-x"));
        assert!(!glob.matches("aXb-x"));
        let escaped = Template::new("x${*}", true).resolve_glob(&ctx).unwrap();
        assert!(escaped.matches("x*"));
        assert!(!escaped.matches("xy"));
    }

    #[test]
    fn arn_templates_split_on_policy_colons_only() {
        let ctx = Context::new().with("acct", "123456789012");
        let arn = Template::new("arn:aws:iam::${acct}:role/*", true)
            .resolve_arn(&ctx)
            .unwrap();
        assert!(arn.matches("arn:aws:iam::123456789012:role/deploy"));
        assert!(!arn.matches("arn:aws:iam::999999999999:role/deploy"));
    }
}
