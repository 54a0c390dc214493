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
    /// Names that count as production (`production-on-cloud-runner`, `deploy-on-pull-request`, the trust-policy
    /// rules), matched on word boundaries by [`AuditConfig::is_production`]. When `audit:` does not set it,
    /// [`AuditConfig::from_keyless_yml`] takes keyless.yml's `policy.production_environments`, else
    /// `[production, prod, prd, live]`.
    #[serde(default = "default_production")]
    pub production_environments: Vec<String>,
    /// Per-rule settings by rule id.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleConfig>,
    /// keyless.yml's environments whose `runners.labels` include `self.hosted` (not part of the `audit:` section:
    /// [`AuditConfig::from_keyless_yml`] reads them). A production deployment of one of them on cloud runners
    /// contradicts keyless.yml, so `production-on-cloud-runner` reports it to every persona.
    #[serde(skip)]
    pub self_hosted_environments: Vec<String>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            production_environments: default_production(),
            rules: BTreeMap::new(),
            self_hosted_environments: Vec::new(),
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

    /// Reads the `audit:` section of a `keyless.yml` text, and `policy.production_environments` as the default of
    /// `audit.production-environments` (one list of production names for enforce and the audit). Returns
    /// `Ok(None)` when keyless.yml sets neither.
    pub fn from_keyless_yml(text: &str, path: &str) -> Result<Option<Self>, ConfigError> {
        let doc =
            Document::parse_with(text, keyless_pipelines::ParseOptions::STRICT).map_err(|e| {
                ConfigError::Invalid {
                    path: path.to_owned(),
                    message: crate::source::SourceError::from(e).to_string(),
                }
            })?;
        let audit = doc.root().get("audit");
        let policy_names: Option<Vec<String>> = doc
            .root()
            .get("policy")
            .and_then(|p| p.get("production_environments"))
            .and_then(Node::as_seq)
            .map(|names| names.iter().filter_map(Node::scalar_text).collect());
        let self_hosted: Vec<String> = doc
            .root()
            .get("environments")
            .and_then(Node::as_map)
            .unwrap_or_default()
            .iter()
            .filter(|e| {
                e.value
                    .get("runners")
                    .and_then(|r| r.get("labels"))
                    .and_then(Node::as_seq)
                    .is_some_and(|labels| labels.iter().any(|l| l.as_str() == Some("self.hosted")))
            })
            .map(|e| e.key.as_str().to_owned())
            .collect();
        let mut config = match audit {
            Some(node) => Self::from_node(node, path, &doc)?,
            None if policy_names.is_some() || !self_hosted.is_empty() => AuditConfig::default(),
            None => return Ok(None),
        };
        config.self_hosted_environments = self_hosted;
        let set_here = audit.is_some_and(|a| a.get("production-environments").is_some());
        if let (false, Some(names)) = (set_here, policy_names) {
            config.production_environments = names;
        }
        Ok(Some(config))
    }

    /// Whether a deployment environment or role name is a production one: one of
    /// [`AuditConfig::production_environments`] is a whole word of it (see [`is_production_name`]).
    pub fn is_production(&self, name: &str) -> bool {
        is_production_name(name, &self.production_environments)
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

/// Whether one of `names` is a whole word of `name`, case-insensitively. Words break at anything not a letter or
/// digit, between a lowercase letter and an uppercase one (`ProdDeployRole`), and between letters and digits
/// (`prod2`): `production-eu`, `eu_prod`, `ProdRole` and `live` are production for `[production, prod, live]`;
/// `preprod`, `non-production`… `nonprod`, `reproduce` and `delivery` are not.
pub fn is_production_name(name: &str, names: &[String]) -> bool {
    let words = words(name);
    names.iter().any(|n| {
        let n = n.to_ascii_lowercase();
        name.eq_ignore_ascii_case(&n) || words.contains(&n)
    })
}

/// `name` split into lowercase words (see [`is_production_name`]).
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev = None;
            continue;
        }
        let boundary = prev.is_some_and(|p| {
            (p.is_lowercase() && c.is_uppercase()) || (p.is_alphabetic() != c.is_alphabetic())
        });
        if boundary && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
        prev = Some(c);
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn production_names_match_on_word_boundaries() {
        let names: Vec<String> = ["production", "prod", "live"].map(str::to_owned).to_vec();
        for yes in [
            "production",
            "Production",
            "production-eu",
            "eu_prod",
            "ProdDeployRole",
            "prod2",
            "keyless-prod",
            "LIVE",
            "app.live",
        ] {
            assert!(is_production_name(yes, &names), "{yes}");
        }
        for no in [
            "preprod",
            "nonprod",
            "reproduce",
            "delivery",
            "productionish",
            "staging",
            "",
            "Product",
        ] {
            assert!(!is_production_name(no, &names), "{no}");
        }
    }

    #[test]
    fn production_environments_default_to_the_policy_section() {
        let text = "version: 1\npolicy:\n  production_environments: [prd-eu, live]\n";
        let c = AuditConfig::from_keyless_yml(text, "keyless.yml")
            .unwrap()
            .unwrap();
        assert_eq!(c.production_environments, ["prd-eu", "live"]);
        assert!(c.is_production("prd-eu"));
        assert!(!c.is_production("production"));
        // `audit.production-environments` wins when it is set.
        let text = "policy:\n  production_environments: [prd-eu]\naudit:\n  production-environments: [main-prod]\n";
        let c = AuditConfig::from_keyless_yml(text, "keyless.yml")
            .unwrap()
            .unwrap();
        assert_eq!(c.production_environments, ["main-prod"]);
        // Neither: the built-in list.
        let text = "policy:\n  forbidden: {}\naudit:\n  rules: {}\n";
        let c = AuditConfig::from_keyless_yml(text, "keyless.yml")
            .unwrap()
            .unwrap();
        assert_eq!(
            c.production_environments,
            ["production", "prod", "prd", "live"]
        );
    }

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
