//! Parsing: spans, anchors, aliases, merge keys, scalar resolution and parse errors.
#![allow(clippy::unwrap_used)]

use keyless_pipelines::{ParseErrorKind, PipelineFile, Route, Value, parse};

fn route(s: &str) -> Route {
    s.parse().unwrap()
}

/// The source text a span covers.
fn text_at<'a>(src: &'a str, file: &PipelineFile, r: &str) -> &'a str {
    let span = file
        .span(&route(r))
        .unwrap_or_else(|| panic!("no span for {r}"));
    &src[span.range()]
}

const ANCHORS: &str = "\
definitions:
  steps:
    - step: &build
        name: Build
        script:
          - npm ci
          - npm test
    - step: &deploy
        name: Deploy
        deployment: staging
        oidc: true
        script:
          - ./deploy.sh
pipelines:
  default:
    - step: *build
    - step:
        <<: *deploy
        deployment: production
  branches:
    main:
      - step: *build
";

#[test]
fn alias_copies_carry_definition_span_and_use_site() {
    let f = parse(ANCHORS).unwrap();
    // The step reached through `*build` has the anchor's text ...
    assert_eq!(
        text_at(ANCHORS, &f, "pipelines.default[0].step.script[1]"),
        "npm test"
    );
    let span = f
        .span(&route("pipelines.default[0].step.script[1]"))
        .unwrap();
    assert_eq!((span.start.line, span.start.column), (7, 13));
    // ... and records the alias use site, outermost first.
    let origin = f
        .origin(&route("pipelines.default[0].step.script[1]"))
        .unwrap();
    assert_eq!(origin.via().len(), 1);
    assert_eq!(origin.via()[0].name, "build");
    assert_eq!(origin.via()[0].span.start.line, 16);
    assert_eq!(&ANCHORS[origin.via()[0].span.range()], "*build");
    // The use-site span points at the alias for findings about the copy.
    let use_site = f
        .use_site_span(&route("pipelines.default[0].step"))
        .unwrap();
    assert_eq!(use_site.start.line, 16);
    // Each use is a separate copy with its own route.
    let main_origin = f.origin(&route("pipelines.branches.main[0].step")).unwrap();
    assert_eq!(main_origin.via()[0].span.start.line, 22);
    // The definition itself has the anchor and no alias use.
    let def = f.origin(&route("definitions.steps[0].step")).unwrap();
    assert!(def.via().is_empty());
    assert_eq!(def.anchor().unwrap().name, "build");
    assert_eq!(&ANCHORS[def.anchor().unwrap().span.range()], "&build");
    // The anchored mapping's own span starts at its first key, not at `&build`.
    assert_eq!(
        text_at(ANCHORS, &f, "definitions.steps[0].step")
            .lines()
            .next(),
        Some("name: Build")
    );
}

#[test]
fn merge_key_overrides_and_keeps_origins() {
    let f = parse(ANCHORS).unwrap();
    let step = f.node(&route("pipelines.default[1].step")).unwrap();
    let keys: Vec<&str> = step
        .as_map()
        .unwrap()
        .iter()
        .map(|e| e.key.as_str())
        .collect();
    // Merged keys take the place of `<<`; the explicit key overrides and keeps its place.
    assert_eq!(keys, ["name", "oidc", "script", "deployment"]);
    assert_eq!(
        f.node(&route("pipelines.default[1].step.deployment"))
            .unwrap()
            .as_str(),
        Some("production")
    );
    // The explicit override is written at the use site.
    assert_eq!(
        text_at(ANCHORS, &f, "pipelines.default[1].step.deployment"),
        "production"
    );
    let dep = f
        .origin(&route("pipelines.default[1].step.deployment"))
        .unwrap();
    assert!(!dep.merged() && dep.via().is_empty());
    // A merged key points into the anchor and records the alias and the merge.
    let oidc = f.origin(&route("pipelines.default[1].step.oidc")).unwrap();
    assert!(oidc.merged());
    assert_eq!(oidc.via()[0].name, "deploy");
    assert_eq!(oidc.span.unwrap().start.line, 11);
    let k = f
        .key_span(&route("pipelines.default[1].step.oidc"))
        .unwrap();
    assert_eq!(&ANCHORS[k.range()], "oidc");
    // The merging mapping spans from `<<` to its last explicit value.
    let s = f.span(&route("pipelines.default[1].step")).unwrap();
    assert_eq!(
        &ANCHORS[s.range()],
        "<<: *deploy\n        deployment: production"
    );
    // The typed model sees the merged step.
    let st = &f.steps()[1];
    assert_eq!(st.step.name.as_deref(), Some("Deploy"));
    assert_eq!(st.step.deployment.as_deref(), Some("production"));
    assert!(st.effective.oidc.enabled);
}

#[test]
fn merge_list_first_mapping_wins() {
    let src = "\
a: &a {x: 1, y: 1}
b: &b {y: 2, z: 2}
c:
  <<: [*a, *b]
  z: 3
";
    let f = parse(src).unwrap();
    let c = f.node(&route("c")).unwrap();
    let got: Vec<(String, i64)> = c
        .as_map()
        .unwrap()
        .iter()
        .map(|e| (e.key.to_string(), e.value.as_i64().unwrap()))
        .collect();
    assert_eq!(got, [("x".into(), 1), ("y".into(), 1), ("z".into(), 3)]);
}

#[test]
fn merge_of_inline_mapping_and_quoted_merge_key() {
    let f = parse("a:\n  <<: {x: 1}\n  y: 2\nb:\n  '<<': literal\n").unwrap();
    assert_eq!(f.node(&route("a.x")).unwrap().as_i64(), Some(1));
    // A quoted `<<` is an ordinary key.
    assert_eq!(
        f.node(&route("b")).unwrap().get("<<").unwrap().as_str(),
        Some("literal")
    );
}

#[test]
fn nested_aliases_record_every_use_outermost_first() {
    let src = "\
s: &script
  - make
st: &step
  script: *script
pipelines:
  default:
    - step: *step
";
    let f = parse(src).unwrap();
    let o = f
        .origin(&route("pipelines.default[0].step.script[0]"))
        .unwrap();
    let names: Vec<&str> = o.via().iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["step", "script"]);
    assert_eq!(o.via()[0].span.start.line, 7);
    assert_eq!(o.via()[1].span.start.line, 4);
    assert_eq!(o.span.unwrap().start.line, 2);
}

#[test]
fn spans_of_flow_block_and_quoted_scalars() {
    let src = "\
pipelines:
  branches:
    'release/*': [ {step: {name: \"Rel ease\", script: [a, 'b c']}} ]
  custom:
    run:
      - step:
          script:
            - |
              echo one
              echo two
            - >-
              folded
              line
";
    let f = parse(src).unwrap();
    assert_eq!(
        text_at(src, &f, "pipelines.branches.\"release/*\"[0].step"),
        "{name: \"Rel ease\", script: [a, 'b c']}"
    );
    assert_eq!(
        text_at(src, &f, "pipelines.branches.\"release/*\"[0].step.name"),
        "\"Rel ease\""
    );
    assert_eq!(
        text_at(
            src,
            &f,
            "pipelines.branches.\"release/*\"[0].step.script[1]"
        ),
        "'b c'"
    );
    assert_eq!(
        text_at(src, &f, "pipelines.branches.\"release/*\"[0]"),
        "{step: {name: \"Rel ease\", script: [a, 'b c']}}"
    );
    let k = f
        .key_span(&route("pipelines.branches.\"release/*\""))
        .unwrap();
    assert_eq!(&src[k.range()], "'release/*'");
    // Block scalars end at their last character, not at the next line.
    let lit = f
        .span(&route("pipelines.custom.run[0].step.script[0]"))
        .unwrap();
    assert_eq!(lit.end.line, 10);
    assert!(src[lit.range()].ends_with("echo two"));
    assert_eq!(
        f.node(&route("pipelines.custom.run[0].step.script[0]"))
            .unwrap()
            .as_str(),
        Some("echo one\necho two\n")
    );
    assert_eq!(
        f.node(&route("pipelines.custom.run[0].step.script[1]"))
            .unwrap()
            .as_str(),
        Some("folded line")
    );
    // A block mapping ends with its last value.
    let step = f.span(&route("pipelines.custom.run[0].step")).unwrap();
    assert_eq!(step.start.line, 7);
    assert_eq!(step.end.line, 13);
}

/// A block scalar with an anchor or a tag starts where its content starts, as a bare one does: it used to start at
/// the `|`, a line early (corpus 210's `- script: &assume-role |`, whose findings pointed at the indicator's line).
#[test]
fn block_scalar_with_anchor_or_tag_starts_at_its_content() {
    let src = "\
definitions:
  scripts:
    - script: &assume-role |

        export A=1
        echo two
    - script: !custom >-  # note
        folded
        line
    - script: |
        bare
    - script: &empty |
    - script: &flow 'x'
";
    let f = parse(src).unwrap();
    for (r, line, column, text) in [
        (
            "definitions.scripts[0].script",
            5,
            9,
            "export A=1\n        echo two",
        ),
        (
            "definitions.scripts[1].script",
            8,
            9,
            "folded\n        line",
        ),
        ("definitions.scripts[2].script", 11, 9, "bare"),
        ("definitions.scripts[4].script", 13, 21, "'x'"),
    ] {
        let span = f.span(&route(r)).unwrap();
        assert_eq!((span.start.line, span.start.column), (line, column), "{r}");
        assert_eq!(&src[span.range()], text, "{r}");
    }
    assert_eq!(
        f.node(&route("definitions.scripts[0].script"))
            .unwrap()
            .as_str(),
        Some("\nexport A=1\necho two\n")
    );
    let empty = f.span(&route("definitions.scripts[3].script")).unwrap();
    assert!(empty.start.line >= 12, "{empty:?}");
}

#[test]
fn columns_count_characters_and_offsets_count_bytes() {
    let src = "pipelines:\n  default:\n    - step:\n        name: \"é🚀\"\n        script: [x]\n";
    let f = parse(src).unwrap();
    let s = f
        .span(&route("pipelines.default[0].step.script[0]"))
        .unwrap();
    assert_eq!(&src[s.range()], "x");
    assert_eq!((s.start.line, s.start.column), (5, 18));
    let n = f.span(&route("pipelines.default[0].step.name")).unwrap();
    assert_eq!(&src[n.range()], "\"é🚀\"");
    assert_eq!(n.end.column, 19);
}

#[test]
fn scalars_resolve_with_the_core_schema() {
    let src = "a: true\nb: 'true'\nc: 120\nd: '120'\ne: 1.5\nf: ~\ng: yes\nh: 0x1f\ni: 2x\nj: !!str 5\nk:\n";
    // keyless.yml and JSON read with the core schema; pipelines with YAML 1.1 (tests/yaml_front_end.rs).
    let f =
        keyless_pipelines::PipelineFile::from_root(keyless_pipelines::parse_document(src).unwrap());
    let v = |k: &str| f.node(&route(k)).unwrap().value.clone();
    assert_eq!(v("a"), Value::Bool(true));
    assert_eq!(v("b"), Value::String("true".into()));
    assert_eq!(v("c"), Value::Int(120));
    assert_eq!(v("d"), Value::String("120".into()));
    assert_eq!(v("e"), Value::Float(1.5));
    assert_eq!(v("f"), Value::Null);
    // YAML 1.2: `yes` is a string.
    assert_eq!(v("g"), Value::String("yes".into()));
    assert_eq!(v("h"), Value::Int(31));
    assert_eq!(v("i"), Value::String("2x".into()));
    assert_eq!(v("j"), Value::String("5".into()));
    assert_eq!(v("k"), Value::Null);
}

fn err(src: &str) -> keyless_pipelines::ParseError {
    parse(src).unwrap_err()
}

#[test]
fn parse_errors_name_position_and_fix() {
    // Duplicate keys are refused where the options say so (pipelines take the last value: yaml_front_end.rs).
    let e = keyless_pipelines::parse_document(
        "pipelines:\n  default:\n    - step:\n        script:\n          - a\n        script:\n          - b\n",
    )
    .unwrap_err();
    assert!(
        matches!(e.kind, ParseErrorKind::DuplicateKey { ref key, first_line: 4 } if key == "script")
    );
    assert_eq!((e.line, e.column), (6, 9));
    assert!(e.to_string().contains("Remove one"), "{e}");

    let e = err("pipelines:\n  default:\n    - step: *missing\n");
    assert_eq!(e.line, 3);
    assert!(e.to_string().contains("unknown anchor"), "{e}");
    assert!(e.to_string().contains("&name"), "{e}");

    for pattern in ["*", "**", "*/feature"] {
        let e = err(&format!(
            "pipelines:\n  branches:\n    {pattern}:\n      - step: {{script: [a]}}\n"
        ));
        assert_eq!((e.line, e.column), (3, 5), "{e}");
        assert!(e.to_string().contains("must be quoted"), "{pattern}: {e}");
    }

    let e = err("a: &a\n  b: *a\n");
    assert!(
        matches!(e.kind, ParseErrorKind::RecursiveAlias { ref name } if name == "a"),
        "{e}"
    );

    let e = err("x: &x 1\ny:\n  <<: *x\n");
    assert!(
        matches!(
            e.kind,
            ParseErrorKind::BadMerge {
                found: "an integer"
            }
        ),
        "{e}"
    );
    let e = err("x: &x [1]\ny:\n  <<: [*x]\n");
    assert!(
        matches!(e.kind, ParseErrorKind::BadMerge { found: "a list" }),
        "{e}"
    );

    let e = err("pipelines:\n  default:\n\t- step: {}\n");
    assert_eq!(e.line, 3);
    assert!(e.to_string().contains("tabs"), "{e}");

    let e = err("a: 1\n---\nb: 2\n");
    assert!(matches!(e.kind, ParseErrorKind::MultipleDocuments), "{e}");
    assert_eq!(e.line, 2);

    assert!(matches!(err("").kind, ParseErrorKind::Empty));
    assert!(matches!(
        err("# only a comment\n").kind,
        ParseErrorKind::Empty
    ));
    assert!(matches!(
        err("- a\n- b\n").kind,
        ParseErrorKind::NotAMapping { found: "a list" }
    ));
    assert!(matches!(
        err("? [a, b]\n: c\n").kind,
        ParseErrorKind::ComplexKey { .. }
    ));

    let e = err("pipelines:\n  default:\n    - step:\n      script: [a]\n     name: x\n");
    assert!(e.line >= 4, "{e}");
    assert!(matches!(e.kind, ParseErrorKind::Syntax { .. }), "{e}");
}

#[test]
fn limits_refuse_deep_nesting_and_alias_bombs() {
    let deep = format!("a: {}{}\n", "[".repeat(200), "]".repeat(200));
    assert!(matches!(err(&deep).kind, ParseErrorKind::TooDeep { .. }));
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    assert!(matches!(err(&bomb).kind, ParseErrorKind::TooLarge { .. }));
}

#[test]
fn json_input_has_routes_but_no_spans() {
    let json = serde_json::json!({
        "pipelines": {"default": [{"step": {"script": ["make"], "oidc": true}}]}
    });
    let f = PipelineFile::from_json(json.clone()).unwrap();
    assert_eq!(f.steps()[0].route.to_string(), "pipelines.default[0].step");
    assert_eq!(f.span(&route("pipelines.default[0].step")), None);
    assert_eq!(f.to_json(), json);
    assert!(matches!(
        PipelineFile::from_json(serde_json::json!([1]))
            .unwrap_err()
            .kind,
        ParseErrorKind::JsonNotObject { found: "a list" }
    ));
    let mut deep = serde_json::json!(1);
    for _ in 0..200 {
        deep = serde_json::json!({ "a": deep });
    }
    // serde_json's own recursion limit is 128 when parsing text; values built in code can be deeper.
    assert!(matches!(
        PipelineFile::from_json(deep).unwrap_err().kind,
        ParseErrorKind::TooDeep { .. }
    ));
}
