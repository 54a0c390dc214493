//! Anchor holders: top-level keys that exist only to hold YAML anchors for the rest of the file.
//!
//! Atlassian's own pipe template and many real files write shared steps under a key of their own choosing
//! (`x-deploy: &deploy ...`, `test: &test ...`) and use them with `*deploy` under `pipelines:`. Bitbucket runs
//! such files: the key is outside the known top-level keys ([`crate::TOP_LEVEL_KEYS`]), but the root of
//! Atlassian's schema does not forbid unknown keys (bitbucket.md §3.2, §3.6). Such a key is not configuration
//! Bitbucket reads: it is a place to define anchors.
//!
//! **Definition** (the one `keyless render`/`serve` and the audit share): an anchor holder is a top-level key
//! outside [`crate::TOP_LEVEL_KEYS`] whose value defines, at its own place (not through an alias copy), at least
//! one anchor (`&name`) that is aliased (`*name`, including `<<: *name`) somewhere outside that key's value.
//! A key whose anchors are never used elsewhere, or that holds no anchor, is an ordinary unknown key. Anchors
//! are matched by name (a name redefined later in the file counts as used when any alias of that name is).
//! JSON input (a Dynamic Pipelines request) has no anchors, so it never has anchor holders.

use std::collections::BTreeSet;

use crate::model::TOP_LEVEL_KEYS;
use crate::node::{Node, Value};
use crate::route::Route;

/// One anchor holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorHolder {
    /// The top-level key.
    pub key: String,
    /// Its route (`<key>`).
    pub route: Route,
    /// The anchors it defines that are aliased elsewhere, sorted.
    pub used_anchors: Vec<String>,
}

/// The anchor holders of a document tree, in document order.
pub fn anchor_holders(root: &Node) -> Vec<AnchorHolder> {
    let Some(entries) = root.as_map() else {
        return Vec::new();
    };
    let unknown: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| !TOP_LEVEL_KEYS.contains(&e.key.as_str()))
        .map(|(i, _)| i)
        .collect();
    if unknown.is_empty() {
        return Vec::new();
    }
    // Alias names used under each top-level entry (every node and key copied through an alias records it).
    let used: Vec<BTreeSet<&str>> = entries
        .iter()
        .map(|e| {
            let mut names = BTreeSet::new();
            for via in e.key_origin.via() {
                names.insert(via.name.as_str());
            }
            alias_uses(&e.value, &mut names);
            names
        })
        .collect();
    let mut holders = Vec::new();
    for i in unknown {
        let entry = &entries[i];
        let mut defined = BTreeSet::new();
        anchors_defined(&entry.value, &mut defined);
        let used_anchors: Vec<String> = defined
            .into_iter()
            .filter(|name| {
                used.iter()
                    .enumerate()
                    .any(|(j, names)| j != i && names.contains(name))
            })
            .map(str::to_string)
            .collect();
        if !used_anchors.is_empty() {
            holders.push(AnchorHolder {
                key: entry.key.to_string(),
                route: Route::root().key(entry.key.as_str()),
                used_anchors,
            });
        }
    }
    holders
}

/// Anchors defined at their own place in `node` (copies made by aliases carry the anchors of their source,
/// so only nodes that did not come through an alias count).
fn anchors_defined<'a>(node: &'a Node, out: &mut BTreeSet<&'a str>) {
    if !node.origin.via().is_empty() {
        return;
    }
    if let Some(anchor) = node.origin.anchor() {
        out.insert(anchor.name.as_str());
    }
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|n| anchors_defined(n, out)),
        Value::Map(entries) => entries
            .iter()
            .filter(|e| e.key_origin.via().is_empty())
            .for_each(|e| anchors_defined(&e.value, out)),
        _ => {}
    }
}

/// Every alias name through which a node or key of `node` was copied.
fn alias_uses<'a>(node: &'a Node, out: &mut BTreeSet<&'a str>) {
    for via in node.origin.via() {
        out.insert(via.name.as_str());
    }
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|n| alias_uses(n, out)),
        Value::Map(entries) => {
            for e in entries {
                for via in e.key_origin.via() {
                    out.insert(via.name.as_str());
                }
                alias_uses(&e.value, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::parse;

    fn holders(yaml: &str) -> Vec<(String, Vec<String>)> {
        parse(yaml)
            .unwrap()
            .anchor_holders()
            .into_iter()
            .map(|h| (h.key, h.used_anchors))
            .collect()
    }

    #[test]
    fn a_key_whose_anchor_is_aliased_elsewhere_is_a_holder() {
        let yaml = "x-steps:\n  build: &build\n    name: Build\n    script: [make]\n  unused: &unused {name: U}\npipelines:\n  default:\n    - step: *build\n";
        assert_eq!(
            holders(yaml),
            vec![("x-steps".to_string(), vec!["build".to_string()])]
        );
    }

    #[test]
    fn merge_keys_count_as_uses() {
        let yaml = "base: &base\n  name: Base\n  script: [make]\npipelines:\n  default:\n    - step:\n        <<: *base\n        name: Merged\n";
        assert_eq!(
            holders(yaml),
            vec![("base".to_string(), vec!["base".to_string()])]
        );
    }

    #[test]
    fn unused_anchors_known_keys_and_self_use_are_not_holders() {
        // Anchored but never aliased.
        assert!(
            holders("lonely: &a {x: 1}\npipelines: {default: [{step: {script: [make]}}]}\n")
                .is_empty()
        );
        // No anchor at all.
        assert!(
            holders("simage: maven:3\npipelines: {default: [{step: {script: [make]}}]}\n")
                .is_empty()
        );
        // A known key holding anchors (definitions) is not an unknown key.
        assert!(
            holders("definitions:\n  steps:\n    - step: &s {script: [make]}\npipelines:\n  default:\n    - step: *s\n")
                .is_empty()
        );
        // Used only inside the holder itself.
        assert!(
            holders(
                "x:\n  a: &a {k: 1}\n  b: *a\npipelines: {default: [{step: {script: [make]}}]}\n"
            )
            .is_empty()
        );
    }

    #[test]
    fn a_chain_of_holders_counts_each_link() {
        let yaml = ".base: &base\n  image: node:22\n.deploy: &deploy\n  <<: *base\n  script: [deploy]\npipelines:\n  default:\n    - step: *deploy\n";
        assert_eq!(
            holders(yaml),
            vec![
                (".base".to_string(), vec!["base".to_string()]),
                (".deploy".to_string(), vec!["deploy".to_string()]),
            ]
        );
    }

    #[test]
    fn json_has_no_holders() {
        let file =
            crate::PipelineFile::from_json(serde_json::json!({"x": {"a": 1}, "pipelines": {}}))
                .unwrap();
        assert!(file.anchor_holders().is_empty());
    }
}
