//! `keyless.yml` as the audit reads it: `keyless-workspace`'s as-written model ([`RawConfig`], every value with its
//! location), deserialized from the very tree the audit parsed for the input (one parser, one model, one parse). A
//! file the loader refuses is `invalid-input` with the loader's own diagnostic, so the audit and `keyless plan` can
//! never disagree about what a keyless.yml says. Findings still name places by route
//! (`environments.production.source_ips`), which follow the model's keys.

use keyless_pipelines::Route;
pub use keyless_workspace::raw::{RawConfig, RawEnvironment, RawRepository, RawRole};

use crate::source::Document;

/// One audited keyless.yml: its input index, its tree (for routes and snippets) and its model.
#[derive(Debug, Clone, Copy)]
pub struct KeylessFile<'a> {
    pub input: usize,
    pub doc: &'a Document,
    pub model: &'a RawConfig,
}

impl<'a> KeylessFile<'a> {
    /// The environments in file order, by name.
    pub fn environments(&self) -> impl Iterator<Item = (&'a str, &'a RawEnvironment)> + use<'a> {
        self.model
            .environments
            .iter()
            .map(|(name, env)| (name.value.as_str(), &env.value))
    }

    /// The repositories in file order, by slug as written.
    pub fn repositories(&self) -> impl Iterator<Item = (&'a str, &'a RawRepository)> + use<'a> {
        self.model
            .repositories
            .iter()
            .map(|(slug, repo)| (slug.value.as_str(), repo))
    }

    /// `policy.production_environments`, when written.
    pub fn policy_production_environments(&self) -> Option<Vec<String>> {
        production_environments(self.model)
    }
}

/// `policy.production_environments` of a model, when written.
pub(crate) fn production_environments(model: &RawConfig) -> Option<Vec<String>> {
    let policy = model.policy.as_ref()?;
    policy
        .value
        .production_environments
        .as_ref()
        .map(|names| names.iter().map(|n| n.value.clone()).collect())
}

/// The route of environment `name`.
pub fn environment_route(name: &str) -> Route {
    Route::root().key("environments").key(name)
}

/// The route of repository `slug` (as written).
pub fn repository_route(slug: &str) -> Route {
    Route::root().key("repositories").key(slug)
}

/// Whether the environment's runners include `self.hosted`.
pub fn self_hosted(env: &RawEnvironment) -> bool {
    env.runners
        .as_ref()
        .is_some_and(|r| r.labels.iter().any(|l| l.value == "self.hosted"))
}

/// Reads the model from a keyless.yml the audit parsed (with `ParseOptions::STRICT`, as the loader does).
pub(crate) fn read(doc: &Document) -> Result<RawConfig, keyless_workspace::Diagnostic> {
    keyless_workspace::raw_from_tree(doc.root(), &doc.text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{Input, InputKind};

    fn loader_refusal(text: &str) -> keyless_workspace::Diagnostic {
        match keyless_workspace::parse_raw(text, "keyless.yml") {
            Err(keyless_workspace::LoadError::Invalid(d)) => d.items[0].clone(),
            other => panic!("the loader accepted {text:?}: {other:?}"),
        }
    }

    /// A keyless.yml the loader refuses for its shape is refused by the audit at the same line and column, with the
    /// loader's message: one parser, one model.
    #[test]
    fn the_audit_refuses_what_the_loader_refuses_at_the_same_place() {
        for text in [
            "workspace:\n  slug: acme\nenvironments:\n  prod:\n    regoin: eu-west-1\n",
            "environments:\n  prod:\n    account: \"111111111111\"\n    branches: main\n",
            "workspace: acme\n",
            "audit:\n  rules: {}\nextra: 1\n",
            "environments:\n  prod:\n    region: eu-west-1\n    region: eu-west-2\n",
            "environments:\n  prod: [\n",
            "repositories:\n  web:\n    dangerously_allow_any_step: yes\n",
        ] {
            let d = loader_refusal(text);
            let e = Input::parse("keyless.yml", text).unwrap_err();
            assert_eq!(
                (e.line as u64, e.column as u64),
                (d.location.line, d.location.column),
                "{text:?}: {e} / {d:?}"
            );
            assert!(e.message.contains(&d.message), "{text:?}: {e} / {d:?}");
        }
    }

    /// The model is the loader's: the audit sees the environments and repositories `keyless plan` sees, and a partial
    /// keyless.yml (only an `audit:` section, environments without accounts yet) is still audited.
    #[test]
    fn the_audit_reads_the_loaders_model() {
        let text = include_str!("../../../examples/keyless.yml");
        let config = keyless_workspace::parse(text, "keyless.yml").unwrap();
        let input = Input::parse("keyless.yml", text).unwrap();
        assert_eq!(input.kind, InputKind::Keyless);
        let model = input.keyless.as_deref().unwrap();
        let names: Vec<&str> = model
            .environments
            .keys()
            .map(|n| n.value.as_str())
            .collect();
        assert_eq!(
            names,
            config
                .environments
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        assert_eq!(model.repositories.len(), config.repositories.len());
        for text in [
            "audit:\n  rules: {}\n",
            "version: 1\nenvironments:\n  staging: {}\n",
        ] {
            let input = Input::parse("keyless.yml", text).unwrap();
            assert!(input.keyless.is_some(), "{text:?}");
            // `keyless plan` refuses it: the missing keys are the loader's semantic checks, not a shape error.
            assert!(keyless_workspace::parse(text, "keyless.yml").is_err());
        }
    }
}
