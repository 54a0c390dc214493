//! The `audit:` section of `keyless.yml`: rule disables, path/line ignores and severity overrides, each with a
//! required reason, plus rule settings. `keyless-workspace` embeds [`AuditConfig`] in its model.
//!
//! ```yaml
//! audit:
//!   production-environments: [production, prod, live]
//!   rules:
//!     unpinned-image:
//!       disable: true
//!       reason: images come from our own registry and are scanned there
//!     token-echo:
//!       severity: low
//!       reason: the token is masked by our runner
//!     curl-pipe-shell:
//!       ignore:
//!         - path: bitbucket-pipelines.yml
//!           line: 42
//!           reason: vendor installer, checksum verified in the next line
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::finding::Severity;
use crate::source::{Document, Node};

/// Settings of the audit (the `audit:` section of `keyless.yml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AuditConfig {
    /// Deployment environment and role names that count as production (`production-on-cloud-runner`, `broad-sub`).
    #[serde(default = "default_production")]
    pub production_environments: Vec<String>,
    /// Per-rule settings by rule id.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleConfig>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            production_environments: default_production(),
            rules: BTreeMap::new(),
        }
    }
}

fn default_production() -> Vec<String> {
    ["production", "prod", "prd", "live"]
        .map(str::to_owned)
        .to_vec()
}

/// Settings for one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RuleConfig {
    /// Do not run the rule at all.
    #[serde(default)]
    pub disable: bool,
    /// Report the rule's findings at this severity instead.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Why the rule is disabled or re-rated (required with `disable` or `severity`).
    #[serde(default)]
    pub reason: Option<String>,
    /// Findings to ignore by path, or path and line.
    #[serde(default)]
    pub ignore: Vec<IgnoreEntry>,
}

/// Ignore one rule's findings in a file, or on one line of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreEntry {
    /// Path relative to the directory of `keyless.yml` (or as given on the command line).
    pub path: String,
    #[serde(default)]
    pub line: Option<usize>,
    pub reason: String,
}

/// Why an audit configuration is unusable.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl AuditConfig {
    /// Checks what serde cannot: known rule ids and required reasons.
    pub fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        for (id, rule) in &self.rules {
            if crate::rule::by_id(id).is_none() {
                return Err(invalid(format!(
                    "audit.rules.{id}: unknown rule id; run `keyless audit --list-rules` for the ids"
                )));
            }
            let needs_reason = rule.disable || rule.severity.is_some();
            if needs_reason && rule.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                return Err(invalid(format!(
                    "audit.rules.{id}: `disable` and `severity` need a `reason:` saying why (it is kept for reviewers)"
                )));
            }
            for (i, ig) in rule.ignore.iter().enumerate() {
                if ig.reason.trim().is_empty() {
                    return Err(invalid(format!(
                        "audit.rules.{id}.ignore[{i}]: `reason` must not be empty"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Reads the `audit:` section of a `keyless.yml` text (other sections are left to `keyless-workspace`).
    /// Returns `Ok(None)` when there is no `audit:` key.
    pub fn from_keyless_yml(text: &str, path: &str) -> Result<Option<Self>, ConfigError> {
        let doc = Document::parse(text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: crate::source::SourceError::from(e).to_string(),
        })?;
        let Some(node) = doc.root().get("audit") else {
            return Ok(None);
        };
        Self::from_node(node, path, &doc).map(Some)
    }

    fn from_node(node: &Node, path: &str, doc: &Document) -> Result<Self, ConfigError> {
        let json = if node.is_null() {
            serde_json::json!({})
        } else {
            node.to_json()
        };
        let config: AuditConfig = serde_json::from_value(json).map_err(|e| {
            let (line, col) = doc.line_col(crate::source::span(node).start);
            ConfigError::Invalid {
                path: path.to_owned(),
                message: format!("audit section at {line}:{col}: {e}"),
            }
        })?;
        config.validate(path)?;
        Ok(config)
    }

    pub fn rule(&self, id: &str) -> Option<&RuleConfig> {
        self.rules.get(id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_audit_section() {
        let text = "version: 1\naudit:\n  rules:\n    token-echo:\n      severity: low\n      reason: masked\n";
        let c = AuditConfig::from_keyless_yml(text, "keyless.yml")
            .unwrap()
            .unwrap();
        assert_eq!(c.rules["token-echo"].severity, Some(Severity::Low));
    }

    #[test]
    fn reason_is_required() {
        let text = "audit:\n  rules:\n    token-echo:\n      disable: true\n";
        let err = AuditConfig::from_keyless_yml(text, "keyless.yml").unwrap_err();
        assert!(err.to_string().contains("need a `reason:`"), "{err}");
        let text = "audit:\n  rules:\n    token-echo:\n      ignore:\n        - path: a.yml\n";
        let err = AuditConfig::from_keyless_yml(text, "keyless.yml").unwrap_err();
        assert!(err.to_string().contains("reason"), "{err}");
    }

    #[test]
    fn unknown_rule_is_an_error() {
        let text = "audit:\n  rules:\n    no-such-rule:\n      disable: true\n      reason: x\n";
        let err = AuditConfig::from_keyless_yml(text, "keyless.yml").unwrap_err();
        assert!(err.to_string().contains("unknown rule id"), "{err}");
    }

    #[test]
    fn no_audit_section() {
        assert_eq!(
            AuditConfig::from_keyless_yml("version: 1\n", "k.yml").unwrap(),
            None
        );
    }
}
