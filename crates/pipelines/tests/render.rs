//! Rendering: deterministic YAML and JSON, `render(render(x)) == render(x)`, exact string
//! round trips for every awkward scalar.
#![allow(clippy::unwrap_used)]

use keyless_pipelines::{Node, PipelineFile, Value, parse};

fn round_trip(value: Node) -> Node {
    let file = PipelineFile::from_root(Node::map([("v", value)]));
    let yaml = file.to_yaml_string();
    let back = parse(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(back.to_yaml_string(), yaml, "not idempotent");
    back.root().get("v").unwrap().clone()
}

#[test]
fn awkward_strings_survive() {
    let cases = [
        "",
        " ",
        "yes",
        "No",
        "on",
        "OFF",
        "y",
        "n",
        "true",
        "False",
        "null",
        "~",
        "<<",
        "=",
        "1",
        "-1",
        "1.0",
        "1e3",
        "010",
        "0x1F",
        "0o7",
        "0b101",
        "1_000",
        "12:30",
        "2024-01-01",
        ".inf",
        "-.inf",
        ".nan",
        "- x",
        "-x",
        "? x",
        ": x",
        "a: b",
        "a:",
        "a #b",
        "#x",
        "&a",
        "*a",
        "!tag",
        "|",
        ">",
        "'q",
        "\"q",
        "%x",
        "@x",
        "`x",
        "{a,b}",
        "[x]",
        "**",
        "release/*",
        " lead",
        "trail ",
        "tab\there",
        "\ttab",
        "multi\nline",
        "multi\nline\n",
        "x\n\n",
        "\nlead",
        "a\n  indented",
        "  \n",
        "crlf\r\nline",
        "nul\u{0}",
        "bell\u{7}",
        "nel\u{85}x",
        "ls\u{2028}x",
        "bom\u{feff}",
        "emoji 🚀",
        "é",
        "back\\slash",
        "quote \" mid",
        "echo \"$BITBUCKET_STEP_OIDC_TOKEN\" > /tmp/t",
        "export A=$(pwd)/x",
        "curl -H \"Authorization: Bearer x\" https://e",
        "line one\n\nline three\n",
    ];
    for s in cases {
        assert_eq!(
            round_trip(Node::string(s)).value,
            Value::String(s.to_string()),
            "{s:?}"
        );
    }
}

#[test]
fn other_scalars_keep_their_types() {
    for v in [
        Value::Null,
        Value::Bool(true),
        Value::Bool(false),
        Value::Int(0),
        Value::Int(-42),
        Value::Int(i64::MAX),
        Value::Float(1.0),
        Value::Float(-0.5),
        Value::Float(1e300),
        Value::Float(1.5e-7),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
    ] {
        assert_eq!(round_trip(Node::new(v.clone())).value, v);
    }
    assert!(
        matches!(round_trip(Node::new(Value::Float(f64::NAN))).value, Value::Float(f) if f.is_nan())
    );
    assert_eq!(round_trip(Node::seq([])).value, Value::Seq(vec![]));
    assert_eq!(round_trip(Node::map::<&str>([])).value, Value::Map(vec![]));
    let nested = Node::seq([
        Node::seq([Node::string("a"), Node::seq([])]),
        Node::map([("k", Node::seq([Node::int(1)]))]),
    ]);
    assert_eq!(round_trip(nested.clone()), nested);
}

/// A small deterministic generator: many random strings over an alphabet of YAML's troublemakers.
#[test]
fn random_strings_round_trip() {
    let alphabet: Vec<char> =
        " \t\n\r-?:,[]{}#&*!|>'\"%@`\\/.~<=+0123456789aeEnNoyYtT_é🚀\u{85}\u{2028}\u{0}"
            .chars()
            .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut keys = Vec::new();
    for _ in 0..3000 {
        let len = (next() % 12) as usize;
        let s: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        assert_eq!(
            round_trip(Node::string(s.clone())).value,
            Value::String(s.clone()),
            "{s:?}"
        );
        keys.push(s);
    }
    // Keys too (each key once: mappings may not repeat keys).
    keys.sort();
    keys.dedup();
    let map = Node::map(keys.iter().map(|k| (k.as_str(), Node::int(1))));
    let file = PipelineFile::from_root(map.clone());
    let back = parse(&file.to_yaml_string()).unwrap();
    assert_eq!(back.root(), &map);
}

#[test]
fn very_long_keys_use_the_explicit_form() {
    // Found by the fuzzer: YAML limits implicit keys to 1024 characters.
    for key in [
        "z".repeat(1500),
        "\u{7}".repeat(300),
        format!("a: {}", "b".repeat(2000)),
    ] {
        let map = Node::map([
            (key.as_str(), Node::map([("x", Node::seq([Node::int(1)]))])),
            ("after", Node::string(key.clone())),
        ]);
        let file = PipelineFile::from_root(Node::map([(
            "seq",
            Node::seq([map.clone(), Node::string("s")]),
        )]));
        let yaml = file.to_yaml_string();
        let back = parse(&yaml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.root(), file.root());
        assert_eq!(back.to_yaml_string(), yaml);
    }
}

#[test]
fn layout_is_block_style_and_stable() {
    let src = "pipelines: {default: [{step: {name: Build, script: [make, 'echo \"a: b\"'], oidc: true}}, {parallel: [{step: {script: [x]}}]}]}\n";
    let f = parse(src).unwrap();
    let want = "\
pipelines:
  default:
    - step:
        name: Build
        script:
          - make
          - \"echo \\\"a: b\\\"\"
        oidc: true
    - parallel:
        - step:
            script:
              - x
";
    assert_eq!(f.to_yaml_string(), want);
    let multi = parse("a: |\n  one\n  two\nb: |-\n  x\n  y\nc: |+\n  k\n\nd: e\n").unwrap();
    assert_eq!(
        multi.to_yaml_string(),
        "a: |\n  one\n  two\nb: |-\n  x\n  y\nc: |+\n  k\n\nd: e\n"
    );
}

#[test]
fn anchors_come_out_expanded_and_stable() {
    let src = "d:\n  s: &s {name: a, script: [x]}\np:\n  - step: *s\n  - step:\n      <<: *s\n      name: b\n";
    let f = parse(src).unwrap();
    let once = f.to_yaml_string();
    assert!(
        !once.contains('&') && !once.contains('*') && !once.contains("<<"),
        "{once}"
    );
    let again = parse(&once).unwrap();
    assert_eq!(again.root(), f.root());
    assert_eq!(again.to_yaml_string(), once);
}

#[test]
fn json_form_round_trips_and_keeps_key_order() {
    let json = serde_json::json!({
        "pipelines": {"custom": {"z": [{"variables": [{"name": "A"}]}, {"step": {"script": ["b"], "name": "n"}}]},
                      "default": [{"step": {"script": ["a"]}}]},
        "image": {"name": "x", "run-as-user": 1000}
    });
    let f = PipelineFile::from_json(json.clone()).unwrap();
    let out = f.to_json();
    assert_eq!(out, json);
    assert_eq!(
        serde_json::to_string(&out).unwrap(),
        serde_json::to_string(&json).unwrap(),
        "key order is kept"
    );
    let yaml = f.to_yaml_string();
    assert!(yaml.starts_with("pipelines:\n  custom:"), "{yaml}");
    assert_eq!(parse(&yaml).unwrap().to_json(), json);
}
