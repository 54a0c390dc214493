//! ARNs, in one place: roles (parsed up front so that a typo fails before any network call, with the reason),
//! managed policies, and IAM OIDC identity providers (`arn:aws:iam::ACCOUNT:oidc-provider/HOST[/PATH]`, whose
//! resource part is also the condition-key prefix and the issuer URL without `https://`; aws.md §4).

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

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
    path: String,
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
        if let Some(parts) = RoleArnParts::split(value)
            && PARTITIONS.contains(&parts.partition)
            && parts.name.len() <= 64
            && is_role_path(parts.path)
        {
            return Ok(Self {
                arn: value.to_owned(),
                partition: parts.partition.to_owned(),
                account: parts.account.to_owned(),
                path: parts.path.to_owned(),
                name: parts.name.to_owned(),
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

    /// The role's path, slashes included: `/` or `/ci/prod/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The role name, without path.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A role ARN's pieces where the ARN grammar puts them, `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`: the one
/// role-ARN splitter. It checks the shape (`arn:`, service `iam` with an empty region, a 12-digit account,
/// `role/`, a non-empty name of IAM name characters after the last `/`) and nothing IAM adds on top: which
/// partitions exist, the name's 64-character limit, the path's characters. [`RoleArn::parse`] adds those for
/// user input; the emulator's STS takes the pieces as they are (a role that cannot exist is not found).
///
/// ```
/// use keyless_iam::arn::RoleArnParts;
/// let parts = RoleArnParts::split("arn:aws:iam::123456789012:role/ci/prod/deploy").unwrap();
/// assert_eq!(
///     (parts.partition, parts.account, parts.path, parts.name),
///     ("aws", "123456789012", "/ci/prod/", "deploy")
/// );
/// assert_eq!(RoleArnParts::split("arn:aws:iam::123456789012:role/deploy").unwrap().path, "/");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleArnParts<'a> {
    /// `aws`, `aws-cn`, ... (not checked against the known partitions).
    pub partition: &'a str,
    /// The 12-digit account.
    pub account: &'a str,
    /// The role path, slashes included: `/` or `/ci/prod/` (a slice of the ARN).
    pub path: &'a str,
    /// The role name after the last `/`.
    pub name: &'a str,
}

impl<'a> RoleArnParts<'a> {
    /// Splits `arn` as written (no trimming); `None` when it is not a role ARN's shape.
    pub fn split(arn: &'a str) -> Option<Self> {
        let rest = arn.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(':')?;
        let rest = rest.strip_prefix("iam::")?;
        let (account, resource) = rest.split_once(':')?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // `role/ci/prod/deploy`: the path runs from the `/` after `role` to the last `/`, both included.
        let after_role = resource.strip_prefix("role")?;
        if !after_role.starts_with('/') {
            return None;
        }
        let last = after_role.rfind('/')?;
        let (path, name) = (&after_role[..=last], &after_role[last + 1..]);
        (!name.is_empty() && is_name_chars(name)).then_some(Self {
            partition,
            account,
            path,
            name,
        })
    }
}

/// IAM's name characters, `[\w+=,.@-]`: ASCII letters, digits and `_+=,.@-` (AWS's `\w` is ASCII here; `ü` is
/// refused).
pub fn is_name_chars(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

/// A role path: `/` alone, or `/`, then at least one of `!`..`~` (printable ASCII, no space), then `/`. IAM's
/// CreateRole reference: "either a forward slash (/) by itself or a string that must begin and end with forward
/// slashes", ASCII from `!` (the prose says through DEL; printable stops at `~`, as this module always did).
fn is_role_path(path: &str) -> bool {
    path == "/"
        || (path.len() >= 3
            && path.starts_with('/')
            && path.ends_with('/')
            && path.bytes().all(|b| (0x21..=0x7E).contains(&b)))
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

/// The 12-digit account of an ARN: an assumed-role ARN (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`), a role
/// ARN (`arn:aws:iam::ACCOUNT:role/NAME`).
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
    fn role_paths_and_parts() {
        let arn = RoleArn::parse("arn:aws:iam::123456789012:role/ci/prod/deploy").unwrap();
        assert_eq!((arn.path(), arn.name()), ("/ci/prod/", "deploy"));
        assert_eq!(
            RoleArn::parse(" arn:aws:iam::123456789012:role/deploy ")
                .unwrap()
                .path(),
            "/"
        );
        // The splitter checks the shape only: any partition, long names and spaced paths pass it, not `parse`.
        let long = format!("arn:aws:iam::123456789012:role/{}", "n".repeat(65));
        for lenient in [
            "arn:nope:iam::123456789012:role/deploy",
            long.as_str(),
            "arn:aws:iam::123456789012:role/a b/deploy",
            "arn:aws:iam::123456789012:role//deploy",
        ] {
            assert!(RoleArnParts::split(lenient).is_some(), "{lenient}");
            assert!(RoleArn::parse(lenient).is_err(), "{lenient}");
        }
        assert_eq!(
            RoleArnParts::split("arn:aws:iam::123456789012:role/a b/deploy")
                .unwrap()
                .path,
            "/a b/"
        );
        for bad in [
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/ci/",
            "arn:aws:iam::123456789012:roles/deploy",
            "arn:aws:iam::123456789012:rolex",
            "arn:aws:iam:us-east-1:123456789012:role/deploy",
            "arn:aws:sts::123456789012:role/deploy",
            "arn:aws:iam::12345678901:role/deploy",
            " arn:aws:iam::123456789012:role/deploy",
        ] {
            assert_eq!(RoleArnParts::split(bad), None, "{bad}");
        }
    }

    /// `RoleArn::parse` accepted what one regex matched before the splitter; it still accepts exactly that.
    #[test]
    fn parse_accepts_what_the_former_regex_accepted() {
        let former = Regex::new(r"^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::([0-9]{12}):role/((?:[\x21-\x7E]+/)*)([A-Za-z0-9_+=,.@-]{1,64})$").unwrap();
        let partitions = ["aws", "aws-cn", "aws-eusc", "aws-x", "AWS", ""];
        let accounts = [
            "123456789012",
            "12345678901",
            "1234567890123",
            "12345678901a",
        ];
        let resources = [
            "role/deploy",
            "role/ci/deploy",
            "role/ci/prod/deploy",
            "role//deploy",
            "role///deploy",
            "role/a b/deploy",
            "role/a:b/deploy",
            "role/~/x",
            "role/é/x",
            "role/deploy/",
            "role/",
            "role/de ploy",
            "role/déploy",
            "role/a+b=c,d.e@f_g-h",
            "role/*",
            "rolex/deploy",
            "role",
            "role/\u{7f}/x",
        ];
        let long_name = format!("role/{}", "n".repeat(64));
        let too_long = format!("role/{}", "n".repeat(65));
        let mut checked = 0;
        for partition in partitions {
            for account in accounts {
                for resource in resources
                    .iter()
                    .copied()
                    .chain([long_name.as_str(), too_long.as_str()])
                {
                    let arn = format!("arn:{partition}:iam::{account}:{resource}");
                    let captures = former.captures(&arn);
                    let parsed = RoleArn::parse(&arn);
                    assert_eq!(parsed.is_ok(), captures.is_some(), "{arn}");
                    if let (Ok(parsed), Some(captures)) = (parsed, captures) {
                        assert_eq!(parsed.partition(), &captures[1]);
                        assert_eq!(parsed.account(), &captures[2]);
                        assert_eq!(parsed.path(), format!("/{}", &captures[3]));
                        assert_eq!(parsed.name(), &captures[4]);
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 6 * 4 * 20);
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
