#![allow(clippy::unwrap_used)]
//! Every mistake is reported with its line, column, cause and fix.

use keyless_workspace::{Diagnostic, LoadError};

const BASE: &str = r#"workspace:
  slug: acme
  uuid: "{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}"
environments:
  staging:
    account: "111111111111"
    region: eu-west-1
    branches: [main]
  production:
    account: "222222222222"
    region: eu-west-1
    branches: [main]
    source_ips: [203.0.113.0/24]
repositories:
  web:
    uuid: "{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}"
    deployments:
      staging: "{0f9d8c7b-6a5e-4d3c-8b2a-1c0e9f8d7a61}"
      production: "{7e6d5c4b-3a2f-4e1d-9c0b-8a7f6e5d4c31}"
"#;

fn errors(text: &str) -> Vec<Diagnostic> {
    match keyless_workspace::parse(text, "keyless.yml") {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(LoadError::Invalid(diagnostics)) => diagnostics.items,
        Err(other) => panic!("{other}"),
    }
}

fn single(text: &str) -> Diagnostic {
    let mut items = errors(text);
    assert_eq!(items.len(), 1, "{items:#?}");
    items.remove(0)
}

#[test]
fn base_is_valid() {
    keyless_workspace::parse(BASE, "keyless.yml").unwrap();
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let d = single(&BASE.replace(
        "    region: eu-west-1\n    branches: [main]\n  production",
        "    regoin: eu-west-1\n    branches: [main]\n  production",
    ));
    assert_eq!((d.location.line, d.location.column), (7, 5));
    assert_eq!(d.message, "unknown key `regoin`");
    assert!(d.help.unwrap().starts_with("did you mean `region`?"));
}

#[test]
fn uuid_without_braces() {
    let d = single(&BASE.replace(
        r#"uuid: "{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}""#,
        "uuid: a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13",
    ));
    assert_eq!((d.location.line, d.location.column), (16, 11));
    assert!(d.message.contains("has no braces"), "{}", d.message);
    assert!(
        d.help
            .unwrap()
            .contains(r#""{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}""#)
    );
}

#[test]
fn bad_account_id() {
    let d = single(&BASE.replace(r#"account: "111111111111""#, "account: 11111111111"));
    assert_eq!((d.location.line, d.location.column), (6, 14));
    assert!(d.message.contains("`11111111111` is not an AWS account ID"));
    assert!(d.help.unwrap().contains("quote it"));
}

#[test]
fn bad_cidr_and_host_bits() {
    let d = single(&BASE.replace("203.0.113.0/24", "203.0.113.300/24"));
    assert_eq!((d.location.line, d.location.column), (13, 18));
    assert!(d.message.contains("is not a CIDR block"));
    let d = single(&BASE.replace("203.0.113.0/24", "203.0.113.1/24"));
    assert!(d.message.contains("host bits"));
    assert!(d.help.unwrap().contains("203.0.113.0/24"));
}

#[test]
fn environment_used_but_not_defined() {
    let text = BASE.replace("      production: \"{7e6d", "      prodution: \"{7e6d")
        + "  other:\n    uuid: \"{b4f2d0e3-5c8a-4f9b-8d72-3e6a9c1f8b24}\"\n    deployments:\n      production: \"{2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d61}\"\n";
    let d = single(&text);
    assert_eq!((d.location.line, d.location.column), (19, 7));
    assert_eq!(d.message, "environment `prodution` is used but not defined");
    assert!(d.help.unwrap().starts_with("did you mean `production`?"));
}

#[test]
fn duplicate_role_names_in_an_account() {
    let text = BASE.replace("    branches: [main]\n  production:\n    account: \"222222222222\"", "    branches: [main]\n    role: {name: Deploy}\n  production:\n    account: \"111111111111\"\n    role: {name: deploy}");
    let d = single(&text);
    assert!(
        d.message
            .contains("role name `deploy` is used twice in account 111111111111"),
        "{}",
        d.message
    );
    assert_eq!(d.location.line, 12);
}

#[test]
fn missing_deployment_uuid_needs_resolve_or_the_dangerous_flag() {
    let text = BASE.replace(
        r#"staging: "{0f9d8c7b-6a5e-4d3c-8b2a-1c0e9f8d7a61}""#,
        "staging: ~",
    );
    let d = single(&text);
    assert!(
        d.message
            .contains("has no deployment-environment UUID for `staging`")
    );
    assert!(d.help.unwrap().contains("keyless resolve"));
    let allowed = text.replace(
        "    deployments:\n",
        "    dangerously_allow_any_step: true\n    deployments:\n",
    );
    let config = keyless_workspace::parse(&allowed, "keyless.yml").unwrap();
    let plan = keyless_workspace::plan(&config).unwrap();
    let staging = &plan.accounts[0].roles[0];
    assert!(staging.any_step);
    assert_eq!(
        staging.subjects,
        vec!["{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}:*".to_owned()]
    );
}

#[test]
fn duplicate_keys_and_yaml_types() {
    let d = single(&BASE.replace(
        "    region: eu-west-1\n    branches: [main]\n  production",
        "    region: eu-west-1\n    region: eu-west-2\n    branches: [main]\n  production",
    ));
    assert_eq!(d.location.line, 8);
    assert!(
        d.message.contains("duplicate key `region`"),
        "{}",
        d.message
    );
    let d = single(&BASE.replace(
        "branches: [main]\n  production",
        "branches: main\n  production",
    ));
    assert_eq!(d.location.line, 8);
}

#[test]
fn several_mistakes_are_reported_together_in_order() {
    let text = BASE
        .replace(r#"account: "111111111111""#, r#"account: "1""#)
        .replace("203.0.113.0/24", "nope")
        .replace(
            "eu-west-1\n    branches: [main]\n    source",
            "Ireland\n    branches: [main]\n    source",
        );
    let items = errors(&text);
    let lines: Vec<u64> = items.iter().map(|d| d.location.line).collect();
    assert_eq!(lines, vec![6, 11, 13]);
    let rendered = keyless_workspace::parse(&text, "keyless.yml")
        .unwrap_err()
        .to_string();
    assert!(rendered.contains("  --> keyless.yml:6:14"), "{rendered}");
    assert!(rendered.contains("6 |     account: \"1\""), "{rendered}");
    assert!(rendered.contains("3 errors in keyless.yml"), "{rendered}");
}

#[test]
fn trust_policy_over_the_quota_suggests_a_split() {
    let mut text = BASE.to_owned();
    for i in 0..40 {
        text.push_str(&format!(
            "  repo{i}:\n    uuid: \"{{a3e1c9d2-4b7f-4e8a-9c61-{i:012}}}\"\n    deployments:\n      staging: \"{{0f9d8c7b-6a5e-4d3c-8b2a-{i:012}}}\"\n"
        ));
    }
    let config = keyless_workspace::parse(&text, "keyless.yml").unwrap();
    let error = keyless_workspace::plan(&config).unwrap_err().to_string();
    assert!(
        error.contains("over IAM's 2048-character quota (41 `sub` patterns)"),
        "{error}"
    );
    assert!(error.contains("define a second environment"), "{error}");
}

/// The `policy:` section is validated here too (keyless-workspace owns the whole file): each mistake at its
/// line and column, all at once.
#[test]
fn policy_mistakes_have_locations() {
    let text = format!(
        "{BASE}policy:\n  production_environments: [prodution]\n  atlassian_ip_size: 2x\n  forbidden:\n    scripts:\n      - regex: \"(\"\n        message: m\n  prepend:\n    - name: scan\n      script: [a]\n    - name: scan\n      script: [b]\n"
    );
    let items = errors(&text);
    let at = |needle: &str| {
        items
            .iter()
            .find(|d| d.message.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in {items:#?}"))
    };
    let base = BASE.lines().count() as u64;
    let env = at("names `prodution`, which is not defined");
    assert_eq!((env.location.line, env.location.column), (base + 2, 29));
    assert!(
        env.help
            .as_deref()
            .unwrap()
            .contains("did you mean `production`?")
    );
    assert_eq!(at("atlassian_ip_size").location.line, base + 3);
    let regex = at("forbidden.scripts[0].regex");
    assert_eq!(regex.location.line, base + 6);
    assert_eq!(
        at("two prepended steps are named `scan`").location.line,
        base + 11
    );
    assert_eq!(items.len(), 4, "{items:#?}");

    // Unknown keys get the usual suggestion.
    let d = single(&format!("{BASE}policy:\n  setup: shell\n  forbid: []\n"));
    assert_eq!(d.message, "unknown key `forbid`");
    assert!(d.help.unwrap().contains("did you mean `forbidden`?"));
    assert_eq!(d.location.line, base + 3);

    // A valid section is typed.
    let config = keyless_workspace::parse(
        &format!("{BASE}policy:\n  setup: keyless\n  production_labels: [prod]\n"),
        "keyless.yml",
    )
    .unwrap();
    let policy = config.policy.unwrap();
    assert_eq!(policy.setup, keyless_workspace::SetupForm::Keyless);
    assert_eq!(policy.production_labels, Some(vec!["prod".to_owned()]));
    assert!(policy.atlassian_ip_ranges);
    assert!(
        keyless_workspace::parse(BASE, "k.yml")
            .unwrap()
            .policy
            .is_none()
    );
}

#[test]
fn role_names_are_ascii_like_iam() {
    // IAM's `[\w+=,.@-]` is ASCII: a letter outside ASCII is refused here, not by IAM at apply time.
    let text = BASE.replace(
        "    branches: [main]\n  production:",
        "    branches: [main]\n    role: {name: d\u{e9}ploy}\n  production:",
    );
    let d = single(&text);
    assert_eq!(
        d.message,
        "role name `d\u{e9}ploy` is not a valid IAM role name"
    );
    assert_eq!(d.location.line, 9);
}

/// The YAML front end is `keyless-pipelines` (one parser for every file keyless reads); its errors reach the user
/// typed, at the node they are about, in the file's words, each with a fix.
#[test]
fn shapes_and_documents_are_named_in_the_files_words() {
    let d = single(&BASE.replace(
        "branches: [main]\n  production",
        "branches: main\n  production",
    ));
    assert_eq!((d.location.line, d.location.column), (8, 15));
    assert_eq!(d.message, r#"expected a list, found string "main""#);
    assert!(d.help.unwrap().contains("`[a, b]`"));

    let d = single(&BASE.replace("  slug: acme\n", "  slug: acme\n  thumbprints: {a: b}\n"));
    assert_eq!((d.location.line, d.location.column), (3, 16));
    assert_eq!(d.message, "expected a list, found a mapping");

    let d = single(&BASE.replace(
        "environments:\n  staging:",
        "environments:\n  staging: ~\n  other:",
    ));
    assert_eq!(d.location.line, 5);
    assert_eq!(
        d.message,
        "expected a mapping, found nothing (an empty value)"
    );

    let d = single(&BASE.replace("workspace:\n  slug: acme\n", "workspace:\n"));
    assert_eq!((d.location.line, d.location.column), (2, 3));
    assert_eq!(d.message, "missing required key `slug`");

    let d = single(&format!("{BASE}    trigger: later\n").replace(
        "    source_ips: [203.0.113.0/24]\n",
        "    source_ips: [203.0.113.0/24]\n    trigger: later\n",
    ));
    assert_eq!(d.message, "unknown value `later`");
    assert_eq!(d.help.as_deref(), Some("write one of: manual, automatic"));

    let d = single("");
    assert_eq!((d.location.line, d.location.column), (1, 1));
    assert_eq!(d.message, "keyless.yml is empty");
    let d = single("- workspace\n");
    assert_eq!(d.message, "the top level must be a mapping, found a list");
    let d = single(&format!("{BASE}---\nversion: 1\n"));
    assert_eq!(d.location.line, 20);
    assert_eq!(d.message, "the file holds more than one YAML document");
    assert!(d.help.unwrap().contains("remove the `---`"));
    let d = single(&BASE.replace("  slug: acme\n", "  slug: acme\n\tuuid: x\n"));
    assert!(d.message.starts_with("invalid YAML: "), "{}", d.message);
    // saphyr-parser stops at the end of the scalar before the tab (2:9) or at the tab itself.
    assert!((2..=3).contains(&d.location.line), "{d:?}");
    assert!(d.help.unwrap().contains("spaces, not tabs"));
}

/// keyless.yml reads with the YAML 1.2 core schema, and a value read into a string is the text as written: an
/// unquoted account ID keeps its leading zero, `yes` is a string (not YAML 1.1's true).
#[test]
fn scalars_are_read_as_written() {
    let config = keyless_workspace::parse(
        &BASE.replace("account: \"111111111111\"", "account: 011111111111"),
        "keyless.yml",
    )
    .unwrap();
    assert_eq!(config.environments["staging"].account, "011111111111");
    let d = single(&BASE.replace("  web:\n", "  web:\n    dangerously_allow_any_step: yes\n"));
    assert_eq!(
        d.message,
        r#"expected `true` or `false`, found string "yes""#
    );
}
