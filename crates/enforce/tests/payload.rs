//! The request reader and the response writer of the Dynamic Pipelines form.
#![allow(clippy::unwrap_used)]

use keyless_enforce::payload::{JsonTree, PayloadError, RawRequest, parse_request};
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

/// What keyless serve did before `RawRequest`: `serde_json::Value`, the envelope, then `parse_request`. The
/// outcome as text, so requests and every kind of error compare.
fn via_value(text: &str) -> String {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return format!("json: {e}"),
    };
    let wrapped = value.get("trigger").is_none()
        && value
            .get("payload")
            .is_some_and(|p| p.is_object() && p.get("trigger").is_some());
    let value = if wrapped {
        value["payload"].clone()
    } else {
        value
    };
    let trigger = format!("{:?}", value.get("trigger"));
    shown(&trigger, parse_request(&value))
}

/// What a reader made of a body, for comparing the two readers.
fn shown<E: std::fmt::Debug>(
    trigger: &str,
    request: Result<keyless_enforce::payload::Request, E>,
) -> String {
    match request {
        Ok(r) => format!(
            "trigger field {trigger}; {} {:?} {:?}",
            r.trigger,
            r.invocation,
            r.file.root()
        ),
        Err(e) => format!("trigger field {trigger}; payload: {e:?}"),
    }
}

fn via_raw(text: &str) -> String {
    let raw = match RawRequest::from_json_str(text) {
        Ok(raw) => raw.unwrap_envelope(),
        Err(e) => return format!("json: {e}"),
    };
    let trigger = format!("{:?}", raw.trigger());
    shown(&trigger, raw.into_request())
}

/// `RawRequest` (one pass, the configuration straight into the tree) reads every body as `serde_json::Value`
/// followed by `parse_request` does: the same request (tree, key order, numbers) and the same errors.
#[test]
fn the_one_pass_reader_reads_what_the_value_reader_reads() {
    let target = r#"{"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main"}"#;
    let nested =
        |depth: usize, leaf: &str| format!("{}{leaf}{}", "[".repeat(depth), "]".repeat(depth));
    let mut bodies: Vec<String> = vec![
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": {{"pipelines": {{"default": [{{"step": {{"script": ["make"]}}}}]}}}}}}"#),
        // Numbers: i64, beyond i64, u64 max, beyond u64, fractions, exponents, negative zero.
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": {{"n": [0, -1, 9223372036854775807, 9223372036854775808, 18446744073709551615, 18446744073709551616, 1.5, -0, -0.0, 1e3, 2E-3, 123456789012345678901234567890]}}}}"#),
        // Strings: escapes, unicode, empty; keys with escapes.
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": {{"s\u00e9": ["", "a\"b\\c\n\t\u0001", "ünï ✓ \ud83d\ude00", "\/"]}}}}"#),
        // A key repeated: first position, last value, at every level.
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": {{"a": 1, "b": 2, "a": [3], "c": {{"x": 1, "y": 2, "x": 3}}}}}}"#),
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": {{"a": 1}}, "pipelines_configuration": {{"b": 2}}}}"#),
        format!(r#"{{"trigger": "tag", "trigger": "push", "target": {target}, "pipelines_configuration": null}}"#),
        // Configurations that are not objects, or missing.
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": null}}"#),
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": [1, {{"a": 2}}]}}"#),
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": "image: x"}}"#),
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": 3.5}}"#),
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": 3}}"#),
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": false}}"#),
        format!(r#"{{"trigger": "push", "target": {target}}}"#),
        // Triggers and targets.
        format!(r#"{{"trigger": 7, "target": {target}, "pipelines_configuration": {{}}}}"#),
        format!(r#"{{"trigger": null, "target": {target}, "pipelines_configuration": {{}}}}"#),
        format!(r#"{{"trigger": "explode", "target": {target}, "pipelines_configuration": {{}}}}"#),
        r#"{"trigger": "definitions", "target": {"type": "pipeline_pullrequest_target", "source": {"branch": {"name": "f"}}, "destination": "main"}, "pipelines_configuration": {}}"#.to_string(),
        r#"{"trigger": "push", "target": {"type": "pipeline_commit_target", "selector": {"type": "custom", "pattern": "deploy"}}, "pipelines_configuration": {}}"#.to_string(),
        r#"{"trigger": "push", "target": "main", "pipelines_configuration": {}}"#.to_string(),
        // Envelopes: unwrapped, not unwrapped (a trigger outside, a payload without one, a payload that is not an
        // object), repeated payload keys.
        format!(r#"{{"payload": {{"trigger": "push", "target": {target}, "pipelines_configuration": {{"a": 1}}}}, "context": {{"x": 1}}}}"#),
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": {{"a": 1}}, "payload": {{"trigger": "definitions", "target": {target}, "pipelines_configuration": {{"b": 1}}}}}}"#),
        format!(r#"{{"trigger": null, "payload": {{"trigger": "push", "target": {target}, "pipelines_configuration": {{}}}}}}"#),
        r#"{"payload": {"target": {}}, "context": {}}"#.to_string(),
        r#"{"payload": "push", "context": {}}"#.to_string(),
        format!(r#"{{"payload": 1, "payload": {{"trigger": "push", "target": {target}, "pipelines_configuration": {{}}}}}}"#),
        format!(r#"{{"payload": {{"trigger": "push", "target": {target}, "pipelines_configuration": {{}}}}, "payload": [1]}}"#),
        format!(r#"{{"payload": {{"payload": {{"trigger": "push", "target": {target}, "pipelines_configuration": {{}}}}}}}}"#),
        // Not objects, not JSON.
        "[]".to_string(),
        "[1, {\"a\": [2]}]".to_string(),
        "\"push\"".to_string(),
        "null".to_string(),
        "12".to_string(),
        "-3.25".to_string(),
        "true".to_string(),
        String::new(),
        "{".to_string(),
        "{\"trigger\": \"push\",}".to_string(),
        "{\"trigger\": \"push\"} {}".to_string(),
        "{\"trigger\": \"\\ud800\"}".to_string(),
        "{\"trigger\": \"push\", \"n\": 1e999}".to_string(),
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": {{"n": 1e999}}}}"#),
        format!(r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": {{"n": [1, 2,]}}}}"#),
        "{\"a\": 01}".to_string(),
        "{1: 2}".to_string(),
    ];
    // Nesting around serde_json's limit of 128 (the body is one level, so the configuration can be 127).
    for depth in [125, 126, 127, 128, 129, 200] {
        bodies.push(format!(
            r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": {{"a": {}}}}}"#,
            nested(depth - 1, "1")
        ));
        bodies.push(format!(
            r#"{{"payload": {{"trigger": "push", "target": {target}, "pipelines_configuration": {{"a": {}}}}}}}"#,
            nested(depth - 2, "{}")
        ));
        bodies.push(format!(r#"{{"other": {}}}"#, nested(depth, "null")));
        bodies.push(nested(depth, ""));
    }
    // Many keys, some repeated (the hash-map path for large objects).
    let keys: Vec<String> = (0..40)
        .chain([3, 17, 39, 0])
        .map(|i| format!("\"k{i}\": {i}"))
        .collect();
    bodies.push(format!(
        r#"{{"trigger": "push", "target": {target}, "pipelines_configuration": {{{}}}}}"#,
        keys.join(", ")
    ));
    for body in &bodies {
        assert_eq!(via_raw(body), via_value(body), "body: {body}");
    }
}
