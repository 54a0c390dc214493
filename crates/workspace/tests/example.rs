#![allow(clippy::unwrap_used)]
//! The bundled example and the `init` starter load and plan.

use std::path::Path;

#[test]
fn example_workspace_loads_and_plans() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/keyless.yml");
    let config = keyless_workspace::load(&path).unwrap();
    assert_eq!(config.environments.len(), 2);
    assert_eq!(config.repositories.len(), 3);
    let plan = keyless_workspace::plan(&config).unwrap();
    assert_eq!(plan.accounts.len(), 2);
    let production = &plan.accounts[1];
    assert_eq!(production.roles.len(), 1);
    // data-sandbox never deploys to production: its UUID is not in the production trust policy.
    let trust = production.roles[0].trust_policy_text();
    assert!(!trust.contains("c5a3e1f4"), "{trust}");
    assert!(trust.contains(
        "{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}:{7e6d5c4b-3a2f-4e1d-9c0b-8a7f6e5d4c31}:*"
    ));
}

#[test]
fn starter_loads_and_plans() {
    let config = keyless_workspace::parse(keyless_workspace::init::STARTER, "keyless.yml").unwrap();
    keyless_workspace::plan(&config).unwrap();
}
