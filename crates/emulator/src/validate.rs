//! Model-constraint validation with AWS's `ValidationError` texts:
//! `N validation error(s) detected: Value '<v>' at '<member>' failed to satisfy constraint: Member must …`,
//! joined by `; ` (aws.md §1.4, §8.1).

use crate::error::AwsError;

/// Collects constraint violations for one request, in parameter order.
#[derive(Debug, Default)]
pub struct Violations {
    items: Vec<String>,
}

/// How a value is echoed in the message. Sensitive members (the web identity token) are never echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// `Value 'x' at 'member'`.
    Value,
    /// `Value at 'member'` (the token: AWS marks it sensitive, and keyless never prints tokens).
    Hidden,
}

impl Violations {
    fn push(&mut self, value: Option<&str>, echo: Echo, member: &str, constraint: &str) {
        let value = match (value, echo) {
            (None, _) => "Value null".to_owned(),
            (Some(_), Echo::Hidden) => "Value".to_owned(),
            (Some(v), Echo::Value) => format!("Value '{v}'"),
        };
        self.items.push(format!(
            "{value} at '{member}' failed to satisfy constraint: Member {constraint}"
        ));
    }

    /// A required member: `Value null at 'x' failed to satisfy constraint: Member must not be null`.
    pub fn required<'a>(&mut self, member: &str, value: Option<&'a str>) -> Option<&'a str> {
        if value.is_none() {
            self.push(None, Echo::Value, member, "must not be null");
        }
        value
    }

    /// Length bounds in characters (UTF-16 code units in AWS; the difference only shows outside the BMP).
    pub fn length(
        &mut self,
        member: &str,
        value: Option<&str>,
        min: usize,
        max: usize,
        echo: Echo,
    ) {
        let Some(v) = value else { return };
        let len = v.chars().count();
        if len < min {
            self.push(
                Some(v),
                echo,
                member,
                &format!("must have length greater than or equal to {min}"),
            );
        }
        if len > max {
            self.push(
                Some(v),
                echo,
                member,
                &format!("must have length less than or equal to {max}"),
            );
        }
    }

    /// A regular-expression constraint; `pattern` is the model's text, `ok` the check.
    pub fn pattern(
        &mut self,
        member: &str,
        value: Option<&str>,
        pattern: &str,
        ok: impl Fn(&str) -> bool,
    ) {
        let Some(v) = value else { return };
        if !ok(v) {
            self.push(
                Some(v),
                Echo::Value,
                member,
                &format!("must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// An integer member with bounds; a value that is not an integer is itself a violation.
    pub fn integer(
        &mut self,
        member: &str,
        value: Option<&str>,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let v = value?;
        let Ok(n) = v.trim().parse::<i64>() else {
            self.push(Some(v), Echo::Value, member, "must be an integer");
            return None;
        };
        if n < min {
            self.push(
                Some(v),
                Echo::Value,
                member,
                &format!("must have value greater than or equal to {min}"),
            );
        }
        if n > max {
            self.push(
                Some(v),
                Echo::Value,
                member,
                &format!("must have value less than or equal to {max}"),
            );
        }
        Some(n)
    }

    /// A list-size constraint.
    pub fn list_length(&mut self, member: &str, len: usize, min: usize, max: usize) {
        if len < min {
            self.items.push(format!(
                "Value at '{member}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
            ));
        }
        if len > max {
            self.items.push(format!(
                "Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max}"
            ));
        }
    }

    /// `Ok` when nothing failed, else one `ValidationError` listing every violation.
    pub fn finish(self) -> Result<(), AwsError> {
        match self.items.len() {
            0 => Ok(()),
            1 => Err(AwsError::validation(format!(
                "1 validation error detected: {}",
                self.items[0]
            ))),
            n => Err(AwsError::validation(format!(
                "{n} validation errors detected: {}",
                self.items.join("; ")
            ))),
        }
    }
}

/// Whether XML 1.0 can carry the character (`Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
/// [#x10000-#x10FFFF]`; a Rust `char` is never a surrogate).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
        && !matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// Refuses a request any of whose parameter names or values holds a character XML 1.0 cannot carry, before any
/// handler can echo it into a response: `ValidationError` naming the parameter and the character, never the
/// value. Without this, a control character echoed into a message made responses that were not well-formed (and
/// boto3 retried on `ResponseParserError` instead of reporting the error).
pub fn xml_safe(params: &crate::query::QueryParams) -> Result<(), AwsError> {
    for (name, value) in params.pairs() {
        let bad = name
            .char_indices()
            .chain(value.char_indices())
            .find(|(_, c)| !is_xml_char(*c));
        if let Some((_, c)) = bad {
            let shown: String = if name.chars().all(is_xml_char) {
                crate::log::Quoted(name).to_string()
            } else {
                "(a parameter name)".to_owned()
            };
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value at '{shown}' failed to satisfy constraint: Member must \
                 contain only characters XML 1.0 can carry (found U+{:04X})",
                u32::from(c)
            )));
        }
    }
    Ok(())
}

/// `[\w+=,.@-]*` with Java's ASCII `\w`: role names, session names, source identities (keyless-iam's, the one
/// definition).
pub use keyless_iam::arn::is_name_chars;

/// The model pattern shared by ARNs and policy texts: tab, LF, CR and printable characters (no other controls).
pub fn is_arn_chars(text: &str) -> bool {
    !text.is_empty()
        && text.chars().all(|c| {
            matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
        })
}

/// IAM policy documents: `[\u0009\u000A\u000D\u0020-\u00FF]+`.
pub fn is_policy_chars(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{FF}'))
}

/// IAM paths: `/` or `/a/b/` (model pattern `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`).
pub fn is_path(text: &str) -> bool {
    text == "/"
        || (text.len() >= 2
            && text.starts_with('/')
            && text.ends_with('/')
            && text.bytes().all(|b| (0x21..=0x7E).contains(&b)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn one_violation_reads_like_aws() {
        let mut v = Violations::default();
        v.pattern(
            "roleSessionName",
            Some("a:b"),
            r"[\w+=,.@-]*",
            is_name_chars,
        );
        let error = v.finish().unwrap_err();
        assert_eq!(error.code, "ValidationError");
        assert_eq!(
            error.message,
            r"1 validation error detected: Value 'a:b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        );
    }

    #[test]
    fn several_violations_are_counted_and_joined() {
        let mut v = Violations::default();
        v.length("roleArn", Some(""), 20, 2048, Echo::Value);
        v.required("roleSessionName", None);
        v.integer("durationSeconds", Some("50000"), 900, 43200);
        v.length("webIdentityToken", Some("abc"), 4, 20000, Echo::Hidden);
        let message = v.finish().unwrap_err().message;
        assert_eq!(
            message,
            "4 validation errors detected: Value '' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20; \
             Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null; \
             Value '50000' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200; \
             Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"
        );
    }

    #[test]
    fn xml_characters() {
        for c in [
            '\t',
            '\n',
            '\r',
            ' ',
            'é',
            '\u{D7FF}',
            '\u{E000}',
            '\u{FFFD}',
            '\u{1F600}',
        ] {
            assert!(is_xml_char(c), "{c:?}");
        }
        for c in [
            '\u{0}', '\u{1}', '\u{8}', '\u{B}', '\u{1F}', '\u{FFFE}', '\u{FFFF}',
        ] {
            assert!(!is_xml_char(c), "{c:?}");
        }
        let params = crate::query::parse(None, None, b"Action=GetRole&RoleName=a%01b").unwrap();
        assert_eq!(
            xml_safe(&params).unwrap_err().message,
            "1 validation error detected: Value at 'RoleName' failed to satisfy constraint: Member must contain \
             only characters XML 1.0 can carry (found U+0001)"
        );
        let params = crate::query::parse(None, None, b"Action=GetRole&Role%00Name=x").unwrap();
        assert!(
            xml_safe(&params)
                .unwrap_err()
                .message
                .contains("'(a parameter name)'")
        );
        let params = crate::query::parse(None, None, b"Action=GetRole&RoleName=caf%C3%A9").unwrap();
        xml_safe(&params).unwrap();
    }

    #[test]
    fn character_classes() {
        assert!(is_name_chars("deploy+prod=1,a.b@c-d_e"));
        assert!(!is_name_chars("a b") || !is_name_chars("a/b"));
        assert!(is_path("/") && is_path("/a/b/") && !is_path("a/") && !is_path("/a"));
        assert!(
            is_policy_chars("{\"a\":\"é\"}") && !is_policy_chars("\u{1}") && !is_policy_chars("€")
        );
        assert!(is_arn_chars("arn:aws:iam::1:role/x") && !is_arn_chars("a\u{0}b"));
    }
}
