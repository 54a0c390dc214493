//! The request reader and the response writer of the Dynamic Pipelines form.
#![allow(clippy::unwrap_used)]

use keyless_enforce::payload::{JsonTree, PayloadError, parse_request};
use keyless_pipelines::{PipelineFile, parse};
use serde_json::json;

/// `JsonTree` writes the bytes `serde_json` writes for `Node::to_json`, for every kind of scalar (floats JSON
/// cannot hold included), nesting, key order and escaping.
#[test]
fn json_tree_writes_what_to_json_writes() {
    let yaml = r#"
image: "atlassian/default-image:4"
options: {max-time: 30, size: 2x}
numbers: [0, -7, 9007199254740993, 1.5, -0.0, 1e300, .nan, .inf, -.inf]
scalars: [true, false, null, "", "quote \" and \\ and \t tab", "ünïcödé ✓", "line\nbreak", "\u0001"]
"key with: colon": {"z": 1, "a": 2, "m": [[], {}, [{}]]}
pipelines:
  default:
    - step:
        name: Build
        script: ["echo a", {pipe: "atlassian/aws-s3-deploy:2.0.1", variables: {A: "1"}}]
"#;
    let file = parse(yaml).unwrap();
    let direct = serde_json::to_vec(&JsonTree(file.root())).unwrap();
    let via_value = serde_json::to_vec(&file.root().to_json()).unwrap();
    assert_eq!(
        String::from_utf8(direct).unwrap(),
        String::from_utf8(via_value).unwrap()
    );
}

/// A JSON configuration round-trips through the tree and `JsonTree` unchanged.
#[test]
fn json_tree_round_trips_a_json_configuration() {
    let configuration = json!({
        "image": {"name": "node:22", "run-as-user": 1000},
        "pipelines": {"branches": {"release/*": [{"step": {"name": "x", "script": ["make"], "max-time": 5}}]}},
        "definitions": {"caches": {"node": "node_modules"}},
        "big": 18446744073709551615u64, "float": 0.25
    });
    let file = PipelineFile::from_json(configuration.clone()).unwrap();
    let written: serde_json::Value =
        serde_json::from_slice(&serde_json::to_vec(&JsonTree(file.root())).unwrap()).unwrap();
    assert_eq!(written, file.root().to_json());
    assert_eq!(written["pipelines"], configuration["pipelines"]);
}

fn request(configuration: serde_json::Value) -> serde_json::Value {
    json!({
        "trigger": "push",
        "target": {"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main"},
        "pipelines_configuration": configuration,
    })
}

/// The configuration is read from the borrowed request: the same tree as `PipelineFile::from_json`, and the
/// same errors for what the model refuses.
#[test]
fn the_configuration_is_read_as_the_model_reads_it() {
    let configuration = json!({"pipelines": {"default": [{"step": {"script": ["make"]}}]}});
    let read = parse_request(&request(configuration.clone())).unwrap();
    assert_eq!(
        read.file.root(),
        PipelineFile::from_json(configuration).unwrap().root()
    );

    // null: "may be empty".
    let empty = parse_request(&request(serde_json::Value::Null)).unwrap();
    assert_eq!(empty.file.root().as_map().map(<[_]>::len), Some(0));

    for (value, found) in [
        (json!("text"), "a string"),
        (json!([1]), "a list"),
        (json!(3), "a number"),
        (json!(true), "a boolean"),
    ] {
        let Err(PayloadError::Configuration(message)) = parse_request(&request(value.clone()))
        else {
            panic!("{value} must be refused");
        };
        let model = PipelineFile::from_json(value).unwrap_err().to_string();
        assert_eq!(message, model);
        assert!(message.contains(found), "{message}");
    }

    let mut deep = json!("leaf");
    for _ in 0..200 {
        deep = json!({ "a": deep });
    }
    let Err(PayloadError::Configuration(message)) = parse_request(&request(deep.clone())) else {
        panic!("a configuration nested 200 levels deep must be refused");
    };
    assert_eq!(
        message,
        PipelineFile::from_json(deep).unwrap_err().to_string()
    );

    let mut missing = request(json!({}));
    missing
        .as_object_mut()
        .unwrap()
        .remove("pipelines_configuration");
    assert_eq!(
        parse_request(&missing).unwrap_err(),
        PayloadError::Missing("pipelines_configuration")
    );
}
