//! Role and policy ARNs: parsed up front so that a typo fails before any network call, with the reason.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

// IAM's `[\w+=,.@-]` means ASCII letters, digits and `_+=,.@-`; the classes are spelt out in ASCII because the
// regex crate's `\w`/`\d` are Unicode: they would accept `ü` (which IAM refuses), and compiling `\w{1,64}` as
// Unicode took ~15 ms, most of `keyless assume`'s own CPU time (bench/assume).
static ROLE_ARN: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern, covered by tests
    Regex::new(r"^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::([0-9]{12}):role/((?:[\x21-\x7E]+/)*)([A-Za-z0-9_+=,.@-]{1,64})$").unwrap()
});

static POLICY_ARN: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern, covered by tests
    Regex::new(r"^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::([0-9]{12}|aws):policy/(?:[\x21-\x7E]+/)*[A-Za-z0-9_+=,.@-]{1,128}$").unwrap()
});

/// A well-formed IAM role ARN, `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    arn: String,
    partition: String,
    account: String,
    name: String,
}

/// Why a string is not a role ARN, phrased for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not an IAM role ARN: {reason}")]
pub struct ArnError {
    /// The rejected value.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl RoleArn {
    /// Parses and validates a role ARN.
    pub fn parse(value: &str) -> Result<Self, ArnError> {
        let value = value.trim();
        let fail = |reason: &str| {
            Err(ArnError {
                value: value.to_owned(),
                reason: reason.to_owned(),
            })
        };
        if let Some(caps) = ROLE_ARN.captures(value) {
            return Ok(Self {
                arn: value.to_owned(),
                partition: caps[1].to_owned(),
                account: caps[2].to_owned(),
                name: caps[4].to_owned(),
            });
        }
        if !value.starts_with("arn:") {
            return fail(
                "expected `arn:aws:iam::123456789012:role/NAME` (a role name alone is not enough)",
            );
        }
        let parts: Vec<&str> = value.splitn(6, ':').collect();
        if parts.len() < 6 {
            return fail("an ARN has six `:`-separated parts: arn:aws:iam::ACCOUNT:role/NAME");
        }
        if parts[2] == "sts" {
            return fail(
                "this is an assumed-role (session) ARN; use the role's ARN, `arn:aws:iam::ACCOUNT:role/NAME`",
            );
        }
        if parts[2] != "iam" {
            return fail("the service part must be `iam`");
        }
        if !parts[3].is_empty() {
            return fail("IAM ARNs have an empty region part (`iam::`)");
        }
        if parts[4].len() != 12 || !parts[4].bytes().all(|b| b.is_ascii_digit()) {
            return fail("the account part must be 12 digits");
        }
        if !parts[5].starts_with("role/") {
            return fail("the resource part must start with `role/`");
        }
        fail("the role name may contain only letters, digits and `+=,.@_-` (at most 64 characters)")
    }

    /// The ARN as written.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The 12-digit account that owns the role.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The partition (`aws`, `aws-cn`, ...).
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// The role name, without path.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// Checks a managed policy ARN (for `--policy-arn`).
pub fn validate_policy_arn(value: &str) -> Result<(), ArnError> {
    if POLICY_ARN.is_match(value.trim()) {
        Ok(())
    } else {
        Err(ArnError {
            value: value.to_owned(),
            reason: "expected a managed policy ARN such as `arn:aws:iam::123456789012:policy/NAME` or `arn:aws:iam::aws:policy/ReadOnlyAccess`".to_owned(),
        })
    }
}

/// The account of an assumed-role ARN (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`).
pub fn account_of(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_roles_with_and_without_path() {
        let arn = RoleArn::parse("arn:aws:iam::123456789012:role/deploy").unwrap();
        assert_eq!(
            (arn.account(), arn.name(), arn.partition()),
            ("123456789012", "deploy", "aws")
        );
        let arn = RoleArn::parse("arn:aws-cn:iam::123456789012:role/ci/prod/deploy@x").unwrap();
        assert_eq!(arn.name(), "deploy@x");
    }

    #[test]
    fn explains_bad_arns() {
        let cases = [
            ("deploy", "role name alone"),
            (
                "arn:aws:sts::123456789012:assumed-role/deploy/s",
                "assumed-role",
            ),
            ("arn:aws:iam::12345:role/deploy", "12 digits"),
            ("arn:aws:iam::123456789012:user/deploy", "role/"),
            (
                "arn:aws:iam:eu-west-1:123456789012:role/deploy",
                "empty region",
            ),
            ("arn:aws:iam::123456789012:role/bad name", "letters, digits"),
            // IAM names are ASCII: `\w` in AWS's pattern is not Unicode.
            ("arn:aws:iam::123456789012:role/déploy", "letters, digits"),
            ("arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:role/deploy", "12 digits"),
        ];
        for (value, needle) in cases {
            let err = RoleArn::parse(value).unwrap_err();
            assert!(err.to_string().contains(needle), "{value}: {err}");
        }
    }

    #[test]
    fn policy_arns() {
        assert!(validate_policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess").is_ok());
        assert!(validate_policy_arn("arn:aws:iam::123456789012:policy/team/deploy").is_ok());
        assert!(validate_policy_arn("arn:aws:iam::123456789012:role/deploy").is_err());
    }

    #[test]
    fn account_of_assumed_role() {
        assert_eq!(
            account_of("arn:aws:sts::123456789012:assumed-role/r/s"),
            Some("123456789012")
        );
        assert_eq!(account_of("nonsense"), None);
    }
}
