//! Atlassian's AWS pipes that authenticate with OpenID Connect: which pipe, from which version, reads
//! `AWS_OIDC_ROLE_ARN`, and which variable carries its region (bitbucket.md §6).
//!
//! One table, shared by `keyless render`/`serve` (which set the role on such pipes), the audit (which knows
//! which pipes consume the step's token) and the permissions work. A pipe is in [`AWS_OIDC_PIPES`] only when a
//! published source confirms both the variable and the version that introduced it; every other pipe, and an
//! older or unpinned version of a listed one, is [`PipeOidc::Unknown`], [`PipeOidc::TooOld`] or
//! [`PipeOidc::Unpinned`]: never assumed to read the role. The pipes left out, and why, are listed in
//! `docs/enforce.md` ("OIDC for pipes").
//!
//! ```
//! use keyless_pipelines::pipes::{oidc_support, PipeOidc};
//! let PipeOidc::Supported(pipe) = oidc_support("atlassian/aws-cloudfront-invalidate", Some("0.6.0")) else {
//!     panic!("listed")
//! };
//! assert_eq!(pipe.region_variable, "AWS_DEFAULT_REGION");
//! assert!(matches!(oidc_support("atlassian/aws-cloudfront-invalidate", Some("0.4.1")), PipeOidc::TooOld { .. }));
//! assert!(matches!(oidc_support("atlassian/aws-s3-deploy", Some("1.1.0")), PipeOidc::Unknown));
//! ```

use std::cmp::Ordering;
use std::fmt;

/// The pipe variable that carries the role to assume with the step's OIDC token.
pub const ROLE_VARIABLE: &str = "AWS_OIDC_ROLE_ARN";

/// Pipe variables that carry static AWS credentials. With OIDC they are never needed: the pipes listed here
/// delete them from their environment when the role and the token are present (bitbucket.md §6, C-CF
/// `pipe.py`), so a value written there is only a long-lived secret kept for nothing.
pub const STATIC_KEY_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// One AWS pipe that reads [`ROLE_VARIABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsPipe {
    /// `owner/name` as written after `pipe:` (without the version).
    pub name: &'static str,
    /// The first version whose documentation or change log names [`ROLE_VARIABLE`].
    pub min_version: Version,
    /// The variable the pipe reads its region from.
    pub region_variable: &'static str,
    /// The pipe's source repository.
    pub source: &'static str,
    /// What confirms `min_version` and `region_variable` (a published file, quoted where it was read).
    pub evidence: &'static str,
}

/// The confirmed pipes, by name.
pub const AWS_OIDC_PIPES: &[AwsPipe] = &[
    AwsPipe {
        name: "atlassian/aws-cloudfront-invalidate",
        min_version: Version::new(0, 5, 0),
        region_variable: "AWS_DEFAULT_REGION",
        source: "https://bitbucket.org/atlassian/aws-cloudfront-invalidate",
        evidence: "change file `.changes/0.5.0.json`: \"Support AWS OIDC authentication. Environment variables \
                   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY are not required anymore.\" (read in the mirror \
                   github.com/luong-komorebi/bitbucket-pipeline-aws-cloudfront-invalidate, 2026-12-06); `pipe.py` \
                   reads AWS_OIDC_ROLE_ARN and requires AWS_DEFAULT_REGION (bitbucket.md §6, C-CF)",
    },
    AwsPipe {
        name: "atlassian/aws-elasticbeanstalk-deploy",
        min_version: Version::new(1, 0, 0),
        region_variable: "AWS_DEFAULT_REGION",
        source: "https://bitbucket.org/atlassian/aws-elasticbeanstalk-deploy",
        evidence: "README of `atlassian/aws-elasticbeanstalk-deploy:1.0.0` (a copy in the public code index, read \
                   2026-12-06): `AWS_OIDC_ROLE_ARN: \"<string>\" # Optional by default. Required for OpenID Connect \
                   (OIDC) authentication.` next to `AWS_DEFAULT_REGION`; the 0.2.4 README has no OIDC variable",
    },
];

/// The table entry for pipe `name` (`owner/name`, no version), whatever its version.
pub fn aws_oidc_pipe(name: &str) -> Option<&'static AwsPipe> {
    AWS_OIDC_PIPES.iter().find(|p| p.name == name)
}

/// Whether a pipe reference reads [`ROLE_VARIABLE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipeOidc {
    /// Listed, at or above its minimum version.
    Supported(&'static AwsPipe),
    /// Listed, but this version is older than the first one that reads the role.
    TooOld {
        pipe: &'static AwsPipe,
        version: String,
    },
    /// Listed, but no version is pinned (any version may run, older ones included).
    Unpinned(&'static AwsPipe),
    /// Listed, but the version is not a dotted number (a digest, `latest`, a branch): cannot be compared.
    UnreadableVersion {
        pipe: &'static AwsPipe,
        version: String,
    },
    /// Not in the table.
    Unknown,
}

/// What keyless knows about pipe `name` at `version` (as [`crate::Pipe::reference`] splits them).
pub fn oidc_support(name: &str, version: Option<&str>) -> PipeOidc {
    let Some(pipe) = aws_oidc_pipe(name) else {
        return PipeOidc::Unknown;
    };
    let Some(written) = version else {
        return PipeOidc::Unpinned(pipe);
    };
    match Version::parse(written) {
        None => PipeOidc::UnreadableVersion {
            pipe,
            version: written.to_string(),
        },
        Some(v) if v < pipe.min_version => PipeOidc::TooOld {
            pipe,
            version: written.to_string(),
        },
        Some(_) => PipeOidc::Supported(pipe),
    }
}

/// A pipe version `MAJOR[.MINOR[.PATCH]]` (missing parts are 0; a leading `v` is accepted). Pipes are tagged
/// this way; anything else (a digest, `latest`) does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// `1`, `1.2`, `1.2.3`, `v1.2.3`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.strip_prefix('v').unwrap_or(text);
        let mut parts = text.split('.');
        let mut next = |required: bool| -> Option<u64> {
            match parts.next() {
                None if !required => Some(0),
                None => None,
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok(),
                Some(_) => None,
            }
        };
        let version = Version::new(next(true)?, next(false)?, next(false)?);
        if parts.next().is_some() {
            return None;
        }
        Some(version)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_compare_numerically() {
        assert_eq!(Version::parse("0.6.0"), Some(Version::new(0, 6, 0)));
        assert_eq!(Version::parse("1"), Some(Version::new(1, 0, 0)));
        assert_eq!(Version::parse("v2.10"), Some(Version::new(2, 10, 0)));
        for bad in ["", "latest", "1.2.3.4", "1..2", "1.x", "sha256:abc", "-1"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
        assert!(Version::new(0, 10, 0) > Version::new(0, 9, 9));
        assert!(Version::new(1, 0, 0) > Version::new(0, 99, 0));
    }

    #[test]
    fn support_follows_the_table() {
        let name = "atlassian/aws-cloudfront-invalidate";
        assert!(matches!(
            oidc_support(name, Some("0.5.0")),
            PipeOidc::Supported(_)
        ));
        assert!(matches!(
            oidc_support(name, Some("0.10.1")),
            PipeOidc::Supported(_)
        ));
        assert!(matches!(
            oidc_support(name, Some("0.4.1")),
            PipeOidc::TooOld { .. }
        ));
        assert!(matches!(oidc_support(name, None), PipeOidc::Unpinned(_)));
        assert!(matches!(
            oidc_support(name, Some("latest")),
            PipeOidc::UnreadableVersion { .. }
        ));
        assert_eq!(
            oidc_support("atlassian/aws-lambda-deploy", Some("1.12.0")),
            PipeOidc::Unknown
        );
    }

    #[test]
    fn every_entry_names_its_evidence() {
        for pipe in AWS_OIDC_PIPES {
            assert!(pipe.source.starts_with("https://"), "{}", pipe.name);
            assert!(pipe.evidence.contains(ROLE_VARIABLE) || pipe.evidence.contains("OIDC"));
            assert_eq!(aws_oidc_pipe(pipe.name), Some(pipe));
        }
    }
}
