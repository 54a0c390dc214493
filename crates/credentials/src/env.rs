//! A snapshot of the environment variables keyless reads, so that resolution is a pure function and tests never
//! touch the real process environment.

use std::collections::BTreeMap;

/// Environment variables by name. Empty values count as unset: a Bitbucket variable defined but left blank
/// must not win over a fallback.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The current process environment (non-UTF-8 values are skipped).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made of the given pairs (for tests and for callers that build their own).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `name`, trimmed; `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The first of `names` that is set, with its name.
    pub fn first<'a>(&self, names: &[&'a str]) -> Option<(&'a str, &str)> {
        names
            .iter()
            .find_map(|name| self.get(name).map(|v| (*name, v)))
    }

    /// Sets a variable (tests, and callers that add derived values).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// True inside a Bitbucket Pipelines step.
    pub fn in_pipelines(&self) -> bool {
        self.get("BITBUCKET_BUILD_NUMBER").is_some() || self.get("BITBUCKET_STEP_UUID").is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_counts_as_unset() {
        let env = Env::from_pairs([("AWS_REGION", "  "), ("AWS_DEFAULT_REGION", "eu-west-1")]);
        assert_eq!(env.get("AWS_REGION"), None);
        assert_eq!(
            env.first(&["AWS_REGION", "AWS_DEFAULT_REGION"]),
            Some(("AWS_DEFAULT_REGION", "eu-west-1"))
        );
    }
}
