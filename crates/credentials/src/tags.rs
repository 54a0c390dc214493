//! What a `--chain` hop carries besides the role: session tags (`--tag K=V`, `--default-tags` from the step's
//! Bitbucket variables, `--transitive-tag`), a source identity and external IDs. The web-identity call cannot carry
//! any of them (STS takes a web identity's tags and source identity only from the token, and Bitbucket's tokens
//! carry none), so tags, transitive keys and the source identity go on the **first** `--chain` hop and reach later
//! hops the way AWS propagates them (transitive tags and the source identity persist through role chaining);
//! `--external-id` is per hop.
//!
//! Tags asserted by the pipeline are for attribution (CloudTrail) and ABAC on resources, never for trust: the step
//! chooses them, so a trust policy must not grant anything on their strength.

use serde::Serialize;

use crate::env::Env;
use crate::session_name;
use keyless_iam::tag;

/// The tags `--default-tags` sets, and the step variable each comes from, in the order they are dropped last
/// (the first is kept longest when AWS refuses the tags as too large).
pub const DEFAULT_TAGS: [(&str, &str); 6] = [
    ("Repository", "BITBUCKET_REPO_FULL_NAME"),
    ("Branch", "BITBUCKET_BRANCH"),
    ("Deployment", "BITBUCKET_DEPLOYMENT_ENVIRONMENT"),
    ("Commit", "BITBUCKET_COMMIT"),
    ("BuildNumber", "BITBUCKET_BUILD_NUMBER"),
    ("StepUuid", "BITBUCKET_STEP_UUID"),
];

/// Where a tag came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TagOrigin {
    /// `--tag K=V` or `--transitive-tag K=V`: always sent.
    Flag,
    /// `--default-tags`, from this step variable: optional, dropped if AWS finds the tags too large (unless it is
    /// also named by `--transitive-tag`).
    Default(&'static str),
}

/// One session tag to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionTag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
    /// Flag or default.
    #[serde(skip)]
    pub origin: TagOrigin,
}

/// Everything the `--chain` hops carry besides the role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainExtras {
    /// Tags for the first `--chain` hop, flags first, then defaults not overridden by a flag.
    pub tags: Vec<SessionTag>,
    /// Keys of `tags` marked transitive (as written in `tags`).
    pub transitive_keys: Vec<String>,
    /// `--source-identity`, set on the first `--chain` hop.
    pub source_identity: Option<String>,
    /// `--external-id` per `--chain` hop (`None`: no external ID on that hop).
    pub external_ids: Vec<Option<String>>,
}

impl ChainExtras {
    /// Whether anything was asked for.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
            && self.transitive_keys.is_empty()
            && self.source_identity.is_none()
            && self.external_ids.iter().all(Option::is_none)
    }

    /// The external ID for `--chain` hop `index` (0-based).
    pub fn external_id(&self, index: usize) -> Option<&str> {
        self.external_ids.get(index).and_then(Option::as_deref)
    }

    /// Whether `key` is marked transitive.
    pub fn is_transitive(&self, key: &str) -> bool {
        self.transitive_keys
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
    }

    /// Removes the next optional tag (a default tag not marked transitive), the least useful first:
    /// `StepUuid`, `BuildNumber`, `Commit`, `Deployment`, `Branch`, `Repository`. `None` when none is left.
    pub fn drop_optional(&mut self) -> Option<SessionTag> {
        let index = DEFAULT_TAGS.iter().rev().find_map(|(key, _)| {
            self.tags.iter().position(|t| {
                matches!(t.origin, TagOrigin::Default(_))
                    && t.key == *key
                    && !self.is_transitive(&t.key)
            })
        })?;
        Some(self.tags.remove(index))
    }
}

/// The raw flags.
#[derive(Debug, Clone, Default)]
pub struct ChainInputs {
    /// `--tag K=V` (repeatable).
    pub tags: Vec<String>,
    /// `--default-tags`.
    pub default_tags: bool,
    /// `--transitive-tag KEY` or `--transitive-tag K=V` (repeatable).
    pub transitive_tags: Vec<String>,
    /// `--source-identity`.
    pub source_identity: Option<String>,
    /// `--external-id` (repeatable; the i-th for the i-th `--chain`; empty for none on that hop).
    pub external_ids: Vec<String>,
}

impl ChainInputs {
    /// The flags given, by name (for "needs --chain").
    pub fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if !self.tags.is_empty() {
            given.push("--tag");
        }
        if self.default_tags {
            given.push("--default-tags");
        }
        if !self.transitive_tags.is_empty() {
            given.push("--transitive-tag");
        }
        if self.source_identity.is_some() {
            given.push("--source-identity");
        }
        if !self.external_ids.is_empty() {
            given.push("--external-id");
        }
        given
    }
}

/// The default tags from the step's variables: each value sanitised to IAM's tag character set and cut to 256
/// characters; a variable that is unset or empty gives no tag; `Branch` is left out of tag builds
/// (`BITBUCKET_TAG` set), and the step UUID loses its braces (IAM refuses `{` and `}`).
pub fn default_tags(env: &Env) -> Vec<SessionTag> {
    let tag_build = env.get("BITBUCKET_TAG").is_some_and(|t| !t.is_empty());
    DEFAULT_TAGS
        .iter()
        .filter(|(key, _)| !(tag_build && *key == "Branch"))
        .filter_map(|(key, variable)| {
            let raw = env.get(variable).filter(|v| !v.trim().is_empty())?;
            let raw = raw.trim();
            let raw = if *key == "StepUuid" {
                raw.trim_start_matches('{').trim_end_matches('}')
            } else {
                raw
            };
            Some(SessionTag {
                key: (*key).to_owned(),
                value: tag::sanitize_value(raw),
                origin: TagOrigin::Default(variable),
            })
        })
        .collect()
}

/// `K=V` (the value may be empty and may hold `=`).
fn split_tag(flag: &str, text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| {
        format!("{flag} `{text}` is not KEY=VALUE\n  fix: write e.g. {flag} Team=payments")
    })?;
    if let Some(problem) = tag::key_problem(key).or_else(|| tag::value_problem(key, value)) {
        return Err(format!("{flag} `{text}`: {problem}"));
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// Resolves the flags into [`ChainExtras`]; `chain_len` is the number of `--chain` roles. Every problem is a
/// message naming the flag and the fix.
pub fn resolve(inputs: &ChainInputs, env: &Env, chain_len: usize) -> Result<ChainExtras, String> {
    let given = inputs.given();
    if !given.is_empty() && chain_len == 0 {
        return Err(format!(
            "{} need --chain: the web-identity call (AssumeRoleWithWebIdentity) cannot carry session tags, a source identity or an external ID (STS takes a web identity's tags and source identity only from the token, and Bitbucket's tokens carry none)\n  fix: add --chain ROLE_ARN for the role that should get them (its trust policy allows the first role with sts:AssumeRole, plus sts:TagSession / sts:SetSourceIdentity), or drop {}",
            given.join(", "),
            if given.len() == 1 { "it" } else { "them" }
        ));
    }
    let mut tags: Vec<SessionTag> = Vec::new();
    let mut transitive_keys: Vec<String> = Vec::new();
    for text in &inputs.tags {
        let (key, value) = split_tag("--tag", text)?;
        tags.push(SessionTag {
            key,
            value,
            origin: TagOrigin::Flag,
        });
    }
    // `--transitive-tag K=V` sets a tag and marks it; `--transitive-tag K` marks one set by --tag or
    // --default-tags (checked once all tags are known).
    let mut marks: Vec<String> = Vec::new();
    for text in &inputs.transitive_tags {
        if text.contains('=') {
            let (key, value) = split_tag("--transitive-tag", text)?;
            transitive_keys.push(key.clone());
            tags.push(SessionTag {
                key,
                value,
                origin: TagOrigin::Flag,
            });
        } else {
            if let Some(problem) = tag::key_problem(text) {
                return Err(format!("--transitive-tag `{text}`: {problem}"));
            }
            marks.push(text.clone());
        }
    }
    if let Some(key) = tag::duplicate_key(tags.iter().map(|t| t.key.as_str())) {
        return Err(format!(
            "tag `{key}` is given twice (AWS treats tag keys case-insensitively: `Team` and `team` are one key)\n  fix: keep one --tag {key}=…"
        ));
    }
    if inputs.default_tags {
        // A flag with the same key (any case) replaces the default.
        for default in default_tags(env) {
            if !tags
                .iter()
                .any(|t| t.key.eq_ignore_ascii_case(&default.key))
            {
                tags.push(default);
            }
        }
    }
    for mark in marks {
        let Some(tag) = tags.iter().find(|t| t.key.eq_ignore_ascii_case(&mark)) else {
            let known: Vec<&str> = tags.iter().map(|t| t.key.as_str()).collect();
            return Err(format!(
                "--transitive-tag {mark}: no tag `{mark}` is set (tags: {})\n  fix: set it with --tag {mark}=VALUE (or --transitive-tag {mark}=VALUE), or with --default-tags when it is one of Repository, Branch, Commit, BuildNumber, Deployment, StepUuid and the step has its variable",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        };
        if !transitive_keys
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&tag.key))
        {
            transitive_keys.push(tag.key.clone());
        }
    }
    if tags.len() > tag::MAX_SESSION_TAGS {
        return Err(format!(
            "{} session tags; AWS accepts at most {}\n  fix: drop some --tag values",
            tags.len(),
            tag::MAX_SESSION_TAGS
        ));
    }
    let source_identity = match &inputs.source_identity {
        None => None,
        Some(value) => {
            source_identity_problem(value)
                .map_or(Ok(()), |p| Err(format!("--source-identity `{value}`: {p}")))?;
            Some(value.clone())
        }
    };
    if inputs.external_ids.len() > chain_len {
        return Err(format!(
            "{} --external-id values for {chain_len} --chain role(s): the i-th --external-id goes with the i-th --chain\n  fix: give at most one --external-id per --chain (an empty one, --external-id '', skips a hop)",
            inputs.external_ids.len()
        ));
    }
    let mut external_ids = Vec::with_capacity(inputs.external_ids.len());
    for value in &inputs.external_ids {
        if value.is_empty() {
            external_ids.push(None);
            continue;
        }
        if let Some(problem) = external_id_problem(value) {
            return Err(format!("--external-id `{value}`: {problem}"));
        }
        external_ids.push(Some(value.clone()));
    }
    Ok(ChainExtras {
        tags,
        transitive_keys,
        source_identity,
        external_ids,
    })
}

/// STS's rule for `SourceIdentity`: 2 to 64 characters of `[\w+=,.@-]` (STS API reference, AssumeRole; the
/// reserved `aws:` prefix is refused by the pattern's lack of `:`).
pub fn source_identity_problem(value: &str) -> Option<String> {
    session_name::validate(value)
        .err()
        .map(|problem| problem.replace("session name", "source identity"))
}

/// STS's rule for `ExternalId`: 2 to 1224 characters of `[\w+=,.@:/-]` (STS API reference, AssumeRole).
pub fn external_id_problem(value: &str) -> Option<String> {
    let chars = value.chars().count();
    if !(2..=1224).contains(&chars) {
        return Some(format!(
            "an external ID has 2 to 1224 characters (this one has {chars})"
        ));
    }
    value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(*c)))
        .map(|c| {
            format!(
                "`{c}` is not allowed: an external ID may use letters, digits and `_ + = , . @ : / -`"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step() -> Env {
        Env::from_pairs([
            ("BITBUCKET_REPO_FULL_NAME", "acme/web site"),
            ("BITBUCKET_BRANCH", "feature/#12 {x}"),
            (
                "BITBUCKET_COMMIT",
                "0123456789abcdef0123456789abcdef01234567",
            ),
            ("BITBUCKET_BUILD_NUMBER", "42"),
            ("BITBUCKET_DEPLOYMENT_ENVIRONMENT", "production"),
            (
                "BITBUCKET_STEP_UUID",
                "{5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d}",
            ),
        ])
    }

    fn pairs(tags: &[SessionTag]) -> Vec<(&str, &str)> {
        tags.iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect()
    }

    #[test]
    fn default_tags_from_the_step() {
        assert_eq!(
            pairs(&default_tags(&step())),
            [
                ("Repository", "acme/web site"),
                ("Branch", "feature/_12 _x_"),
                ("Deployment", "production"),
                ("Commit", "0123456789abcdef0123456789abcdef01234567"),
                ("BuildNumber", "42"),
                ("StepUuid", "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"),
            ]
        );
        let mut tag_build = step();
        tag_build.set("BITBUCKET_TAG", "v1.2.0");
        assert!(default_tags(&tag_build).iter().all(|t| t.key != "Branch"));
        let mut long = step();
        long.set("BITBUCKET_BRANCH", "b".repeat(300));
        let tags = default_tags(&long);
        assert_eq!(tags[1].value.chars().count(), 256);
        assert!(default_tags(&Env::default()).is_empty());
    }

    #[test]
    fn flags_override_defaults_and_mark_transitive() {
        let inputs = ChainInputs {
            tags: vec!["branch=release".into(), "Team=payments".into()],
            default_tags: true,
            transitive_tags: vec!["Repository".into(), "CostCenter=42".into()],
            ..ChainInputs::default()
        };
        let extras = resolve(&inputs, &step(), 1).unwrap();
        let keys: Vec<&str> = extras.tags.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "branch",
                "Team",
                "CostCenter",
                "Repository",
                "Deployment",
                "Commit",
                "BuildNumber",
                "StepUuid"
            ]
        );
        assert_eq!(extras.transitive_keys, ["CostCenter", "Repository"]);
        // Optional tags go least useful first; transitive and flag tags stay.
        let mut extras = extras;
        let mut dropped = Vec::new();
        while let Some(tag) = extras.drop_optional() {
            dropped.push(tag.key);
        }
        assert_eq!(dropped, ["StepUuid", "BuildNumber", "Commit", "Deployment"]);
        assert_eq!(
            extras
                .tags
                .iter()
                .map(|t| t.key.as_str())
                .collect::<Vec<_>>(),
            ["branch", "Team", "CostCenter", "Repository"]
        );
    }

    #[test]
    fn refusals_name_the_flag() {
        let env = step();
        let err = |inputs: ChainInputs, chain: usize| resolve(&inputs, &env, chain).unwrap_err();
        let e = err(
            ChainInputs {
                tags: vec!["A=1".into()],
                source_identity: Some("alice".into()),
                ..ChainInputs::default()
            },
            0,
        );
        assert!(
            e.starts_with("--tag, --source-identity need --chain") && e.contains("cannot carry"),
            "{e}"
        );
        for (inputs, needle) in [
            (
                ChainInputs {
                    tags: vec!["NoEquals".into()],
                    ..ChainInputs::default()
                },
                "not KEY=VALUE",
            ),
            (
                ChainInputs {
                    tags: vec!["aws:x=1".into()],
                    ..ChainInputs::default()
                },
                "reserves",
            ),
            (
                ChainInputs {
                    tags: vec!["A=#1".into()],
                    ..ChainInputs::default()
                },
                "refuses",
            ),
            (
                ChainInputs {
                    tags: vec!["Team=a".into(), "team=b".into()],
                    ..ChainInputs::default()
                },
                "given twice",
            ),
            (
                ChainInputs {
                    transitive_tags: vec!["Missing".into()],
                    ..ChainInputs::default()
                },
                "no tag `Missing` is set",
            ),
            (
                ChainInputs {
                    source_identity: Some("aws:me".into()),
                    ..ChainInputs::default()
                },
                "aws:",
            ),
            (
                ChainInputs {
                    source_identity: Some("a".into()),
                    ..ChainInputs::default()
                },
                "--source-identity `a`",
            ),
            (
                ChainInputs {
                    external_ids: vec!["x".into()],
                    ..ChainInputs::default()
                },
                "2 to 1224",
            ),
            (
                ChainInputs {
                    external_ids: vec!["ok-id".into(), "second".into()],
                    ..ChainInputs::default()
                },
                "2 --external-id values for 1 --chain",
            ),
            (
                ChainInputs {
                    tags: (0..51).map(|i| format!("T{i}=v")).collect(),
                    ..ChainInputs::default()
                },
                "at most 50",
            ),
        ] {
            let e = err(inputs, 1);
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn external_ids_per_hop() {
        let inputs = ChainInputs {
            external_ids: vec![String::new(), "partner-7f3a".into()],
            ..ChainInputs::default()
        };
        let extras = resolve(&inputs, &Env::default(), 2).unwrap();
        assert_eq!(extras.external_id(0), None);
        assert_eq!(extras.external_id(1), Some("partner-7f3a"));
        assert_eq!(extras.external_id(2), None);
        assert!(!extras.is_empty());
    }
}
