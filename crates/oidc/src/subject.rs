//! `Subject`: the `sub` claim grammar, `{repo}:{step}` or `{repo}:{env}:{step}` (bitbucket.md §1.4).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::BracedUuid;

/// The `sub` of a Bitbucket Pipelines token.
///
/// ```
/// use keyless_oidc::Subject;
/// let sub: Subject = "{11111111-1111-4111-8111-111111111111}:{22222222-2222-4222-8222-222222222222}:{33333333-3333-4333-8333-333333333333}"
///     .parse().unwrap();
/// assert!(matches!(sub, Subject::Deployment { .. }));
/// assert_eq!(sub.environment().unwrap().to_string(), "{22222222-2222-4222-8222-222222222222}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A step without `deployment:`: `{repositoryUuid}:{stepUuid}`.
    Step {
        /// `repositoryUuid`.
        repository: BracedUuid,
        /// `stepUuid`.
        step: BracedUuid,
    },
    /// A deployment step: `{repositoryUuid}:{deploymentEnvironmentUuid}:{stepUuid}`.
    Deployment {
        /// `repositoryUuid`.
        repository: BracedUuid,
        /// `deploymentEnvironmentUuid`.
        environment: BracedUuid,
        /// `stepUuid`.
        step: BracedUuid,
    },
}

/// Why a `sub` is not a Bitbucket subject (the token's issuer or the user's input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// Not two or three `:`-separated parts.
    #[error(
        "`{sub}` is not a Bitbucket Pipelines subject: expected `{{repositoryUuid}}:{{stepUuid}}` or \
         `{{repositoryUuid}}:{{environmentUuid}}:{{stepUuid}}`, found {parts} part(s)"
    )]
    WrongShape {
        /// The rejected subject, truncated to 200 characters.
        sub: String,
        /// How many `:`-separated parts it had.
        parts: usize,
    },
    /// A part is not a braced UUID.
    #[error(
        "`{sub}` is not a Bitbucket Pipelines subject: its {part} part `{value}` is not a {{UUID}} in braces"
    )]
    NotAUuid {
        /// The rejected subject, truncated to 200 characters.
        sub: String,
        /// `repository`, `environment` or `step`.
        part: &'static str,
        /// The offending part.
        value: String,
    },
}

impl Subject {
    /// The repository UUID (first part).
    pub fn repository(&self) -> BracedUuid {
        match self {
            Self::Step { repository, .. } | Self::Deployment { repository, .. } => *repository,
        }
    }

    /// The deployment environment UUID, for deployment steps.
    pub fn environment(&self) -> Option<BracedUuid> {
        match self {
            Self::Step { .. } => None,
            Self::Deployment { environment, .. } => Some(*environment),
        }
    }

    /// The step UUID (last part).
    pub fn step(&self) -> BracedUuid {
        match self {
            Self::Step { step, .. } | Self::Deployment { step, .. } => *step,
        }
    }
}

impl FromStr for Subject {
    type Err = SubjectError;

    fn from_str(sub: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = sub.split(':').collect();
        let short = || sub.chars().take(200).collect::<String>();
        let uuid = |part: &'static str, value: &str| {
            // Bitbucket always writes braces in `sub`; a brace-less part means the value came from elsewhere.
            if !(value.starts_with('{') && value.ends_with('}')) {
                return Err(SubjectError::NotAUuid {
                    sub: short(),
                    part,
                    value: value.to_owned(),
                });
            }
            value
                .parse::<BracedUuid>()
                .map_err(|_| SubjectError::NotAUuid {
                    sub: short(),
                    part,
                    value: value.chars().take(80).collect(),
                })
        };
        match parts.as_slice() {
            [repository, step] => Ok(Self::Step {
                repository: uuid("repository", repository)?,
                step: uuid("step", step)?,
            }),
            [repository, environment, step] => Ok(Self::Deployment {
                repository: uuid("repository", repository)?,
                environment: uuid("environment", environment)?,
                step: uuid("step", step)?,
            }),
            _ => Err(SubjectError::WrongShape {
                sub: short(),
                parts: parts.len(),
            }),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Step { repository, step } => write!(f, "{repository}:{step}"),
            Self::Deployment {
                repository,
                environment,
                step,
            } => write!(f, "{repository}:{environment}:{step}"),
        }
    }
}

impl Serialize for Subject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const REPO: &str = "{11111111-1111-4111-8111-111111111111}";
    const ENV: &str = "{22222222-2222-4222-8222-222222222222}";
    const STEP: &str = "{33333333-3333-4333-8333-333333333333}";

    #[test]
    fn step_subject_round_trips() {
        let text = format!("{REPO}:{STEP}");
        let sub: Subject = text.parse().unwrap();
        assert_eq!(
            sub,
            Subject::Step {
                repository: REPO.parse().unwrap(),
                step: STEP.parse().unwrap()
            }
        );
        assert_eq!(sub.to_string(), text);
        assert_eq!(sub.environment(), None);
        assert_eq!(sub.repository().to_string(), REPO);
        assert_eq!(sub.step().to_string(), STEP);
    }

    #[test]
    fn deployment_subject_round_trips() {
        let text = format!("{REPO}:{ENV}:{STEP}");
        let sub: Subject = text.parse().unwrap();
        assert_eq!(sub.environment().unwrap().to_string(), ENV);
        assert_eq!(sub.to_string(), text);
        assert_eq!(serde_json::to_value(sub).unwrap(), serde_json::json!(text));
    }

    #[test]
    fn uppercase_parts_normalise_to_lowercase() {
        let text = format!("{}:{STEP}", REPO.to_uppercase());
        assert_eq!(
            text.parse::<Subject>().unwrap().to_string(),
            format!("{REPO}:{STEP}")
        );
    }

    #[test]
    fn wrong_shapes_are_rejected_with_the_part_count() {
        for (text, parts) in [
            (REPO.to_owned(), 1),
            (format!("{REPO}:{ENV}:{STEP}:{STEP}"), 4),
            ("repo:acme/app:ref:refs/heads/main".to_owned(), 4),
        ] {
            assert_eq!(
                text.parse::<Subject>().unwrap_err(),
                SubjectError::WrongShape {
                    sub: text.clone(),
                    parts
                }
            );
        }
    }

    #[test]
    fn parts_must_be_braced_uuids() {
        let error = format!("{}:{STEP}", &REPO[1..REPO.len() - 1])
            .parse::<Subject>()
            .unwrap_err();
        assert!(
            matches!(
                error,
                SubjectError::NotAUuid {
                    part: "repository",
                    ..
                }
            ),
            "{error}"
        );
        let error = format!("{REPO}:production:{STEP}")
            .parse::<Subject>()
            .unwrap_err();
        assert!(
            matches!(
                error,
                SubjectError::NotAUuid {
                    part: "environment",
                    ..
                }
            ),
            "{error}"
        );
        let error = format!("{REPO}:{{not-a-uuid}}")
            .parse::<Subject>()
            .unwrap_err();
        assert!(
            matches!(error, SubjectError::NotAUuid { part: "step", .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains("step part `{not-a-uuid}`"),
            "{error}"
        );
    }
}
