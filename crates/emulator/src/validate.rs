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

/// `[\w+=,.@-]*` with Java's ASCII `\w`: role names, session names, source identities.
pub fn is_name_chars(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

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
