//! Edits through the model: the tree changes, then the typed model is derived again. Edited or
//! inserted nodes have no spans.

use crate::PipelineFile;
use crate::model::Trigger;
use crate::node::{Node, Value};
use crate::route::Route;

/// Why an edit could not be applied. The caller's fault (a stale or wrong route).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("no node at `{0}`")]
    NotFound(Route),
    #[error("`{route}` is {found}, not a mapping")]
    NotAMapping { route: Route, found: &'static str },
    #[error("`{route}` is {found}, not a list")]
    NotAList { route: Route, found: &'static str },
    #[error("index {index} is past the end of `{route}` ({len} items)")]
    OutOfRange {
        route: Route,
        index: usize,
        len: usize,
    },
}

impl PipelineFile {
    /// Runs `f` on the tree, then derives the typed model again. Use this to batch many edits.
    pub fn edit<R>(&mut self, f: impl FnOnce(&mut Node) -> R) -> R {
        let r = f(&mut self.root);
        self.config = std::sync::OnceLock::new();
        r
    }

    fn map_at(&mut self, route: &Route) -> Result<&mut Node, EditError> {
        let node = self
            .root
            .at_mut(route)
            .ok_or_else(|| EditError::NotFound(route.clone()))?;
        if node.as_map().is_none() {
            return Err(EditError::NotAMapping {
                route: route.clone(),
                found: node.kind(),
            });
        }
        Ok(node)
    }

    /// Sets `key` to `value` in the mapping at `route` (a step, a stage, `options`, ...). An
    /// existing key keeps its position; a new key is appended.
    pub fn set_key(&mut self, route: &Route, key: &str, value: Node) -> Result<(), EditError> {
        self.map_at(route)?.set(key, value);
        self.config = std::sync::OnceLock::new();
        Ok(())
    }

    /// Removes `key` from the mapping at `route`; returns the old value.
    pub fn remove_key(&mut self, route: &Route, key: &str) -> Result<Option<Node>, EditError> {
        let old = self.map_at(route)?.remove(key);
        self.config = std::sync::OnceLock::new();
        Ok(old)
    }

    /// Inserts `value` at `index` of the list at `route` (a pipeline's items, a parallel
    /// group's or a stage's steps, a script). `index == len` appends.
    pub fn insert(&mut self, route: &Route, index: usize, value: Node) -> Result<(), EditError> {
        let node = self
            .root
            .at_mut(route)
            .ok_or_else(|| EditError::NotFound(route.clone()))?;
        let found = node.kind();
        let Some(items) = node.as_seq_mut() else {
            return Err(EditError::NotAList {
                route: route.clone(),
                found,
            });
        };
        if index > items.len() {
            return Err(EditError::OutOfRange {
                route: route.clone(),
                index,
                len: items.len(),
            });
        }
        items.insert(index, value);
        self.config = std::sync::OnceLock::new();
        Ok(())
    }

    /// Puts `lines` before the first line of the step's `script` (creating `script` if absent).
    pub fn prepend_script(&mut self, step: &Route, lines: &[&str]) -> Result<(), EditError> {
        let node = self.map_at(step)?;
        let new: Vec<Node> = lines.iter().map(|l| Node::string(*l)).collect();
        match node.get_mut("script") {
            Some(script) => match &mut script.value {
                Value::Seq(items) => {
                    items.splice(0..0, new);
                }
                _ => {
                    return Err(EditError::NotAList {
                        route: step.key("script"),
                        found: script.kind(),
                    });
                }
            },
            None => {
                node.set("script", Node::seq(new));
            }
        }
        self.config = std::sync::OnceLock::new();
        Ok(())
    }

    /// `oidc: true|false` on the step (replacing any audience form).
    pub fn set_oidc(&mut self, step: &Route, enabled: bool) -> Result<(), EditError> {
        self.set_key(step, "oidc", Node::bool(enabled))
    }

    /// `runs-on:` the given labels (a single label is written as a string).
    pub fn set_runs_on(&mut self, step: &Route, labels: &[&str]) -> Result<(), EditError> {
        let value = match labels {
            [one] => Node::string(*one),
            many => Node::seq(many.iter().map(|l| Node::string(*l))),
        };
        self.set_key(step, "runs-on", value)
    }

    /// `trigger:` on a step or a stage.
    pub fn set_trigger(&mut self, route: &Route, trigger: &Trigger) -> Result<(), EditError> {
        self.set_key(route, "trigger", Node::string(trigger.as_str()))
    }

    /// `runtime.cloud.atlassian-ip-ranges: value` on a step, keeping other runtime keys.
    pub fn set_atlassian_ip_ranges(&mut self, step: &Route, value: bool) -> Result<(), EditError> {
        let node = self.map_at(step)?;
        if node.get("runtime").and_then(Node::as_map).is_none() {
            node.set("runtime", Node::map::<&str>([]));
        }
        let runtime = node
            .get_mut("runtime")
            .ok_or_else(|| EditError::NotFound(step.key("runtime")))?;
        if runtime.get("cloud").and_then(Node::as_map).is_none() {
            runtime.set("cloud", Node::map::<&str>([]));
        }
        let cloud = runtime
            .get_mut("cloud")
            .ok_or_else(|| EditError::NotFound(step.key("runtime").key("cloud")))?;
        cloud.set("atlassian-ip-ranges", Node::bool(value));
        self.config = std::sync::OnceLock::new();
        Ok(())
    }

    /// A `- step:` item with a name and script lines, ready for [`PipelineFile::insert`].
    pub fn step_item(name: &str, script: &[&str]) -> Node {
        Node::map([(
            "step",
            Node::map([
                ("name", Node::string(name)),
                ("script", Node::seq(script.iter().map(|l| Node::string(*l)))),
            ]),
        )])
    }
}
