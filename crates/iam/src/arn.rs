//! ARNs, in one place: roles (parsed up front so that a typo fails before any network call, with the reason),
//! managed policies, and IAM OIDC identity providers (`arn:aws:iam::ACCOUNT:oidc-provider/HOST[/PATH]`, whose
//! resource part is also the condition-key prefix and the issuer URL without `https://`; aws.md §4).

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
#[error("`{value}` is not {what}: {reason}")]
pub struct ArnError {
    /// What was expected, e.g. "an IAM role ARN".
    pub what: &'static str,
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
                what: "an IAM role ARN",
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

/// The partitions IAM ARNs may name.
const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// An IAM OIDC identity provider ARN, `arn:PARTITION:iam::ACCOUNT:oidc-provider/HOST[/PATH]`.
///
/// ```
/// use keyless_iam::arn::ProviderArn;
/// let arn = ProviderArn::parse(
///     "arn:aws:iam::123456789012:oidc-provider/api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
/// ).unwrap();
/// assert_eq!(arn.account(), "123456789012");
/// assert_eq!(arn.url(), "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc");
/// assert_eq!(arn.issuer(), "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc");
/// assert_eq!(ProviderArn::for_issuer("123456789012", &arn.issuer()).unwrap(), arn);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderArn {
    arn: String,
    /// Byte offset of the account in `arn`.
    account_at: usize,
    /// Byte offset of the provider URL (after `oidc-provider/`) in `arn`.
    url_at: usize,
}

impl ProviderArn {
    /// Parses an OIDC provider ARN; the reason names what is wrong.
    pub fn parse(value: &str) -> Result<Self, ArnError> {
        let fail = |reason: &str| {
            Err(ArnError {
                what: "an IAM OIDC provider ARN",
                value: value.to_owned(),
                reason: reason.to_owned(),
            })
        };
        let parts: Vec<&str> = value.splitn(6, ':').collect();
        let ["arn", partition, service, region, account, resource] = parts.as_slice() else {
            return fail(
                "expected arn:aws:iam::<account>:oidc-provider/<host>[/<path>], e.g. \
                 arn:aws:iam::123456789012:oidc-provider/api.bitbucket.org/2.0/workspaces/<workspace>/pipelines-config/identity/oidc",
            );
        };
        if !PARTITIONS.contains(partition) {
            return fail("the partition must be `aws` (or another AWS partition such as `aws-cn`)");
        }
        if *service != "iam" || !region.is_empty() {
            return fail(
                "an OIDC provider ARN is an IAM ARN with an empty region: `arn:aws:iam::`",
            );
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return fail("the account part must be 12 digits");
        }
        let Some(url) = resource.strip_prefix("oidc-provider/") else {
            return fail("the resource part must start with `oidc-provider/`");
        };
        if url.is_empty() {
            return fail("the provider URL after `oidc-provider/` is empty");
        }
        if url.contains("://") {
            return fail(
                "the provider URL in an ARN has no scheme: drop `https://` after `oidc-provider/`",
            );
        }
        if url.contains('*') || url.contains(char::is_whitespace) {
            return fail("the provider URL cannot contain `*` or whitespace");
        }
        let account_at = value.len() - resource.len() - 1 - account.len();
        Ok(Self {
            arn: value.to_owned(),
            account_at,
            url_at: value.len() - url.len(),
        })
    }

    /// The ARN of the provider for `issuer` (`https://host/path`, as in a token's `iss` or a provider's `Url`) in
    /// `account`, in the `aws` partition. `None` when the issuer is not an `https://` URL or the account is not 12
    /// digits.
    pub fn for_issuer(account: &str, issuer: &str) -> Option<Self> {
        let url = issuer.strip_prefix("https://")?;
        Self::parse(&format!("arn:aws:iam::{account}:oidc-provider/{url}")).ok()
    }

    /// The ARN as written.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The 12-digit account that owns the provider.
    pub fn account(&self) -> &str {
        &self.arn[self.account_at..self.account_at + 12]
    }

    /// The provider URL without its scheme (`host/path`): what IAM stores, and the prefix of its condition keys
    /// (`<url>:aud`, `<url>:sub`).
    pub fn url(&self) -> &str {
        &self.arn[self.url_at..]
    }

    /// The issuer URL tokens of this provider carry in `iss`: `https://` + [`ProviderArn::url`].
    pub fn issuer(&self) -> String {
        format!("https://{}", self.url())
    }
}

impl fmt::Display for ProviderArn {
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
            what: "a managed policy ARN",
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
#[allow(clippy::unwrap_used)]
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
    fn provider_arns() {
        let arn = ProviderArn::parse("arn:aws-cn:iam::123456789012:oidc-provider/example.com/id/X")
            .unwrap();
        assert_eq!(
            (arn.account(), arn.url()),
            ("123456789012", "example.com/id/X")
        );
        for (bad, needle) in [
            ("arn:aws:iam::123:oidc-provider/x", "12 digits"),
            ("arn:aws:iam::123456789012:role/x", "oidc-provider/"),
            ("example.com", "expected arn:aws:iam"),
            (
                "arn:aws:iam::123456789012:oidc-provider/https://x",
                "no scheme",
            ),
            ("arn:aws:iam::123456789012:oidc-provider/", "empty"),
            ("arn:aws:iam::123456789012:oidc-provider/*", "`*`"),
            ("arn:aws:sts::123456789012:oidc-provider/x", "empty region"),
            ("arn:nope:iam::123456789012:oidc-provider/x", "partition"),
        ] {
            let error = ProviderArn::parse(bad).unwrap_err();
            assert!(error.to_string().contains(needle), "{bad}: {error}");
        }
        assert!(ProviderArn::for_issuer("123456789012", "http://x").is_none());
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
