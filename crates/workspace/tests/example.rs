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

/// Issue 22: the examples grant no AWS managed policy, and their `permissions:` for web-frontend's
/// `keyless deploy s3` are exactly the statements `deploy s3 --print-policy` prints for the command in the comment.
#[test]
fn examples_carry_the_print_policy_statements() {
    use keyless_workspace::Permissions;
    use keyless_workspace::infer::deploy_s3::{PolicyRequest, statements};
    for file in [
        "../../examples/keyless.yml",
        "../../examples/demo/keyless.yml",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let config = keyless_workspace::load(&path).unwrap();
        for (env, bucket, distribution) in [
            ("staging", "acme-web-staging", "E1WEBSTAGING001"),
            ("production", "acme-web", "E2WEBPROD000001"),
        ] {
            let environment = &config.environments[env];
            assert!(environment.role.managed_policies.is_empty(), "{file} {env}");
            let Permissions::Statements(written) = &environment.role.permissions else {
                panic!("{file} {env} has no permissions");
            };
            let mut request = PolicyRequest::new(bucket);
            request.delete = true;
            request.distributions = vec![distribution.to_owned()];
            request.account = Some(environment.account.clone());
            let expected = statements(&request);
            assert_eq!(&written[..expected.len()], &expected[..], "{file} {env}");
        }
        let plan = keyless_workspace::plan(&config).unwrap();
        for account in &plan.accounts {
            for role in &account.roles {
                let judged = keyless_workspace::permissions::judge_role(
                    &role.arn,
                    &role.managed_policies,
                    &role.inline_policies,
                    role.permissions_todo,
                );
                // The production role's boundary is customer managed, but the boundary only limits: minimal.
                assert_eq!(
                    judged.can_then_do,
                    keyless_iam::privilege::Reach::Minimal,
                    "{file} {}: {:?}",
                    role.name,
                    judged.reasons
                );
            }
        }
    }
}
