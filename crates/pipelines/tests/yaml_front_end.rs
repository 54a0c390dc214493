//! The YAML front end reads `bitbucket-pipelines.yml` as Bitbucket does: flow collections free of block indentation,
//! the last of duplicate keys winning (each repeat listed), YAML 1.1 scalars.
//!
//! Each difference has a fixture in `tests/fixtures/yaml_front_end/`, named after what it reproduces, with its
//! expected tree here. The oracle is PyYAML (`yaml.safe_load`, the YAML 1.1 loader SnakeYAML was ported from):
//! every fixture, and every real pipeline in `../shared/corpus/pipelines` that PyYAML reads, must give the tree
//! PyYAML gives, and keyless must refuse exactly the corpus files PyYAML refuses. PyYAML comes from the project's
//! venv (`KEYLESS_VENV`, default `<repo>/.venv`, installed by `scripts/setup-tools`); without it those checks print a
//! skip line, unless `KEYLESS_REQUIRE_TOOLS=1`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;

use keyless_pipelines::{DuplicateKeys, ParseErrorKind, ParseOptions, Schema, parse, parse_with};
use serde_json::{Value as J, json};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yaml_front_end")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(format!("{name}.yml"))).unwrap()
}

/// The tree of a fixture read as a pipeline, as JSON.
fn tree(name: &str) -> J {
    parse(&fixture(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .to_json()
}

fn step(name: &str) -> J {
    tree(name)["pipelines"]["default"][0]["step"].clone()
}

#[test]
fn flow_sequence_quoted_items_closing_bracket_at_key_column() {
    let t = step("flow_sequence_quoted_items_closing_bracket_at_key_column");
    assert_eq!(
        t["script"][0]["variables"]["EXTRA_ARGS"],
        json!(["\"-plugins:x.dll\"", "\"-tag:Build\""])
    );
    assert_eq!(t["script"][0]["variables"]["DEBUG"], json!("true"));
}

#[test]
fn flow_sequence_closing_bracket_left_of_key() {
    let t = step("flow_sequence_closing_bracket_left_of_key");
    assert_eq!(t["caches"], json!(["node"]));
    assert_eq!(t["script"], json!(["make"]));
}

#[test]
fn flow_mapping_quoted_values_closing_brace_at_key_column() {
    let t = step("flow_mapping_quoted_values_closing_brace_at_key_column");
    assert_eq!(
        t["script"][0]["variables"],
        json!({"WEBHOOK_URL": "$WEBHOOK", "MESSAGE": "done"})
    );
}

#[test]
fn flow_collections_keep_their_spans() {
    let src = fixture("flow_sequence_quoted_items_closing_bracket_at_key_column");
    let f = parse(&src).unwrap();
    let r = "pipelines.default[0].step.script[0].variables.EXTRA_ARGS"
        .parse()
        .unwrap();
    let span = f.span(&r).unwrap();
    let text = &src[span.range()];
    assert!(text.starts_with('[') && text.ends_with(']'), "{text}");
    assert_eq!((span.start.line, span.end.line), (8, 11));
}

#[test]
fn duplicate_key_last_value_wins() {
    let src = fixture("duplicate_key_last_value_wins");
    let f = parse(&src).unwrap();
    assert_eq!(
        f.to_json()["pipelines"]["default"][0]["step"],
        json!({"name": "second", "script": ["echo first"]})
    );
    let [d] = f.duplicates() else {
        panic!("{:?}", f.duplicates())
    };
    assert_eq!(d.key, "name");
    assert_eq!((d.previous.start.line, d.repeat.start.line), (5, 8));
    assert_eq!(&src[d.repeat.range()], "name");
    // The key's origin is the one whose value is kept.
    let key = f.key_span(&"pipelines.default[0].step.name".parse().unwrap());
    assert_eq!(key.unwrap().start.line, 8);
}

#[test]
fn duplicate_key_three_times() {
    let f = parse(&fixture("duplicate_key_three_times")).unwrap();
    assert_eq!(
        f.to_json()["pipelines"]["branches"],
        json!({"develop": [{"step": {"script": ["echo three"]}}], "main": [{"step": {"script": ["echo main"]}}]})
    );
    let lines: Vec<(usize, usize)> = f
        .duplicates()
        .iter()
        .map(|d| (d.previous.start.line, d.repeat.start.line))
        .collect();
    assert_eq!(lines, [(4, 6), (6, 10)]);
    assert_eq!(f.steps().len(), 2);
}

#[test]
fn duplicate_top_level_pipelines() {
    let f = parse(&fixture("duplicate_top_level_pipelines")).unwrap();
    assert_eq!(f.steps().len(), 1);
    assert!(!f.steps()[0].effective.oidc.enabled);
    assert_eq!(f.duplicates()[0].key, "pipelines");
}

#[test]
fn duplicate_keys_are_refused_when_the_options_say_so() {
    let e = parse_with(
        &fixture("duplicate_key_last_value_wins"),
        ParseOptions {
            schema: Schema::Yaml11,
            duplicate_keys: DuplicateKeys::Refuse,
        },
    )
    .unwrap_err();
    assert!(matches!(
        e.kind,
        ParseErrorKind::DuplicateKey { first_line: 5, .. }
    ));
    assert_eq!(e.line, 8);
}

#[test]
fn duplicate_merge_keys_merge_both() {
    let src = "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: *a\n  <<: *b\n";
    let parsed = parse_with(src, ParseOptions::PIPELINE).unwrap();
    assert_eq!(parsed.root.to_json()["c"], json!({"x": 1, "y": 2}));
    assert_eq!(parsed.duplicates.len(), 1);
    assert_eq!(parsed.duplicates[0].key, "<<");
    assert!(parse_with(src, ParseOptions::STRICT).is_err());
}

#[test]
fn yaml11_yes_no_are_booleans() {
    let t = step("yaml11_yes_no_are_booleans");
    assert_eq!(t["oidc"], json!(true));
    assert_eq!(
        t["variables-like"],
        json!({"a": true, "b": false, "c": false})
    );
    let f = parse(&fixture("yaml11_yes_no_are_booleans")).unwrap();
    assert!(f.steps()[0].effective.oidc.enabled);
}

#[test]
fn yaml11_on_off_are_booleans() {
    let t = tree("yaml11_on_off_are_booleans");
    assert_eq!(t["options"]["docker"], json!(true));
    assert_eq!(
        t["pipelines"]["default"][0]["step"]["clone"],
        json!({"enabled": false, "lfs": true, "skip-ssl-verify": false})
    );
}

#[test]
fn yaml11_y_n_are_strings() {
    let t = tree("yaml11_y_n_are_strings");
    assert_eq!(
        t["pipelines"]["custom"]["run"][0]["variables"][0],
        json!({"name": "CONFIRM", "default": "y", "allowed-values": ["y", "n"]})
    );
}

#[test]
fn yaml11_leading_zero_is_octal() {
    let t = step("yaml11_leading_zero_is_octal");
    assert_eq!(t["max-time"], json!(8));
    assert_eq!(
        t["modes"],
        json!({"a": 493, "b": "0o17", "c": "08", "d": 0, "e": -10})
    );
}

#[test]
fn yaml11_binary_and_underscores() {
    let t = step("yaml11_binary_and_underscores");
    assert_eq!(t["max-time"], json!(10));
    assert_eq!(
        t["numbers"],
        json!({"a": 5, "b": 1000, "c": 31, "d": 12, "e": "0b"})
    );
}

#[test]
fn yaml11_base_60() {
    let t = step("yaml11_base_60");
    assert_eq!(t["max-time"], json!(60));
    assert_eq!(
        t["ports"],
        json!({"a": 1342, "b": "80:80", "c": 80.5, "d": -90, "e": "0:30"})
    );
}

#[test]
fn yaml11_floats() {
    let t = step("yaml11_floats");
    let f = &t["floats"];
    assert_eq!(f["a"], json!("1e3"));
    assert_eq!(f["b"], json!("1.5e3"));
    assert_eq!(f["c"], json!(1500.0));
    assert_eq!(f["d"], json!(1.0));
    assert_eq!(f["e"], json!(0.5));
    assert_eq!(f["f"], json!("-.5"));
    assert_eq!(f["g"], json!(10.25));
    // JSON has no infinity: the tree's JSON form writes it as text.
    assert_eq!(f["h"], json!(".inf"));
    assert_eq!(f["i"], json!("-.inf"));
}

#[test]
fn the_core_schema_still_reads_yaml_1_2() {
    let parsed = parse_with(&fixture("yaml11_yes_no_are_booleans"), ParseOptions::STRICT).unwrap();
    assert_eq!(
        parsed.root.to_json()["pipelines"]["default"][0]["step"]["oidc"],
        json!("yes")
    );
    let parsed = parse_with(
        &fixture("yaml11_leading_zero_is_octal"),
        ParseOptions::STRICT,
    )
    .unwrap();
    assert_eq!(
        parsed.root.to_json()["pipelines"]["default"][0]["step"]["modes"]["a"],
        json!(755)
    );
}

#[test]
fn rendered_yaml_11_fixtures_read_back_the_same() {
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        let f = parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let again = parse(&f.to_yaml_string()).unwrap();
        assert_eq!(again.root(), f.root(), "{}", path.display());
    }
}

// ---- PyYAML as the oracle ----

fn python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = std::env::var_os("KEYLESS_VENV").map_or_else(|| root.join(".venv"), PathBuf::from);
    let python = venv.join("bin/python");
    let ok = python.exists()
        && Command::new(&python)
            .args(["-c", "import yaml"])
            .status()
            .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var("KEYLESS_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "PyYAML is missing from {} and KEYLESS_REQUIRE_TOOLS=1: run scripts/setup-tools",
        venv.display()
    );
    println!(
        "skip: PyYAML not found in {} (set KEYLESS_VENV)",
        venv.display()
    );
    None
}

/// `yaml.safe_load` of each file as JSON (`{"ok": tree}` or `{"error": first line}`), one line per file. Floats
/// that JSON cannot hold are written as keyless's JSON form writes them.
const PYYAML: &str = r#"
import json, math, sys, yaml
def fix(v):
    if isinstance(v, float) and math.isinf(v): return ".inf" if v > 0 else "-.inf"
    if isinstance(v, float) and math.isnan(v): return ".nan"
    if isinstance(v, dict): return {str(k).lower() if isinstance(k, bool) else str(k): fix(x) for k, x in v.items()}
    if isinstance(v, list): return [fix(x) for x in v]
    if v is not None and not isinstance(v, (bool, int, float, str)): return str(v)
    return v
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as f:
            print(json.dumps({"ok": fix(yaml.safe_load(f))}))
    except yaml.YAMLError as e:
        print(json.dumps({"error": str(e).splitlines()[0]}))
"#;

fn pyyaml(python: &Path, files: &[PathBuf]) -> Vec<J> {
    let out = Command::new(python)
        .arg("-c")
        .arg(PYYAML)
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Numbers compare by value: PyYAML writes `1.0` where keyless holds the float 1, and both are the same number.
fn same(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn compare(python: &Path, files: &[PathBuf]) -> (usize, Vec<String>) {
    let mut refused = Vec::new();
    let mut compared = 0;
    for (path, oracle) in files.iter().zip(pyyaml(python, files)) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let ours = parse_with(&text, ParseOptions::PIPELINE);
        match (&ours, oracle.get("ok")) {
            (Ok(parsed), Some(tree)) => {
                let mine = parsed.root.to_json();
                assert!(
                    same(&mine, tree),
                    "{name}: keyless and PyYAML read different trees\nkeyless: {mine}\nPyYAML:  {tree}"
                );
                compared += 1;
            }
            (Err(e), None) => refused.push(format!("{name}: {e}")),
            (Ok(_), None) => panic!(
                "{name}: PyYAML refuses it ({}), keyless reads it",
                oracle["error"]
            ),
            (Err(e), Some(_)) => panic!("{name}: PyYAML reads it, keyless refuses it: {e}"),
        }
    }
    (compared, refused)
}

#[test]
fn fixtures_read_as_pyyaml_reads_them() {
    let Some(python) = python() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (compared, refused) = compare(&python, &files);
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(compared, files.len());
}

/// The real pipelines (`../shared/corpus/pipelines`, read in place): the same tree as PyYAML for every file PyYAML
/// reads, and a refusal exactly where PyYAML refuses (4 files: an unquoted `*` branch pattern, an alias used before
/// its anchor, a stray document start and a key line without `:`; the corpus audit test gives each one's reason).
#[test]
fn real_pipelines_read_as_pyyaml_reads_them() {
    let Some(python) = python() else { return };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/pipelines");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        panic!(
            "{} is missing: the corpus sits beside the project",
            dir.display()
        );
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 160, "{} files", files.len());
    let (compared, refused) = compare(&python, &files);
    println!("{compared} trees equal to PyYAML's; refused as PyYAML refuses: {refused:#?}");
    assert_eq!(compared + refused.len(), files.len());
    assert_eq!(refused.len(), 4, "{refused:#?}");
}
