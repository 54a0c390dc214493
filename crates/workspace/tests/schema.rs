#![allow(clippy::unwrap_used)]
//! The committed JSON Schema matches the Rust types, and the bundled files validate against it.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn committed_schema_is_up_to_date() {
    let path = root().join("schema/keyless.schema.json");
    let generated = keyless_workspace::schema::json_schema();
    if std::env::var("KEYLESS_UPDATE_SCHEMA").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema/keyless.schema.json is out of date with crates/workspace/src/raw.rs; regenerate it with \
         `KEYLESS_UPDATE_SCHEMA=1 cargo test -p keyless-workspace --test schema` and commit it"
    );
}

fn validate(text: &str) -> Vec<String> {
    let schema: serde_json::Value =
        serde_json::from_str(&keyless_workspace::schema::json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance = keyless_pipelines::parse_document(text).unwrap().to_json();
    validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn example_and_starter_validate_against_the_schema() {
    let example = std::fs::read_to_string(root().join("examples/keyless.yml")).unwrap();
    assert_eq!(validate(&example), Vec::<String>::new());
    assert_eq!(
        validate(keyless_workspace::init::STARTER),
        Vec::<String>::new()
    );
}

#[test]
fn schema_rejects_what_editors_should_flag() {
    let example = std::fs::read_to_string(root().join("examples/keyless.yml")).unwrap();
    assert!(!validate(&example.replace("region: eu-west-1", "regoin: eu-west-1")).is_empty());
    assert!(
        !validate(&example.replace(r#"account: "111111111111""#, r#"account: "1111""#)).is_empty()
    );
    assert!(!validate(&example.replace("trigger: manual", "trigger: sometimes")).is_empty());
}
