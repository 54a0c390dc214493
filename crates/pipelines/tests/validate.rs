//! Validation: Atlassian's schema (positive and negative) and the closed-key checks.
#![allow(clippy::unwrap_used)]

use keyless_pipelines::{DiagnosticKind, PipelineFile, Severity, parse, validate};

fn diags(src: &str) -> Vec<(String, String, Severity)> {
    let f = parse(src).unwrap();
    validate(&f)
        .into_iter()
        .map(|d| (d.route.to_string(), d.message, d.severity))
        .collect()
}

fn step(body: &str) -> String {
    let indented: String = body.lines().map(|l| format!("        {l}\n")).collect();
    format!("pipelines:\n  default:\n    - step:\n{indented}")
}

#[test]
fn valid_files_have_no_diagnostics() {
    assert!(diags(&step("script: [a]\noidc: true\nsize: 4x\nmax-time: 10")).is_empty());
    assert!(diags(&step("script: [a]\noidc:\n  audiences: [https://x]")).is_empty());
    assert!(diags("options:\n  oidc:\n    audiences: [x]\npipelines:\n  default:\n    - step: {script: [a]}\n").is_empty());
}

#[test]
fn schema_errors_point_at_the_offending_route() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "script: [a]\nsize: 3x",
            "pipelines.default[0].step.size",
            "not one of",
        ),
        (
            "script: [a]\nmax-time: 0",
            "pipelines.default[0].step.max-time",
            "",
        ),
        (
            "script: [a]\ntrigger: later",
            "pipelines.default[0].step.trigger",
            "",
        ),
        ("script: []", "pipelines.default[0].step.script", ""),
        (
            "script: [a]\nservices: [a, b, c, d, e, f]",
            "pipelines.default[0].step.services",
            "",
        ),
        (
            "script: [a]\noidc: 'yes'",
            "pipelines.default[0].step.oidc",
            "",
        ),
        (
            "script: [a]\nruns-on: []",
            "pipelines.default[0].step.runs-on",
            "",
        ),
        (
            "script: [a]\nclone:\n  depth: 0",
            "pipelines.default[0].step.clone.depth",
            "",
        ),
        (
            "script: [a]\nartifacts:\n  upload:\n    - name: x",
            "pipelines.default[0].step.artifacts.upload[0]",
            "paths",
        ),
        (
            "script:\n  - pipe: a/b:1\n    variables:\n      X: 1",
            "pipelines.default[0].step.script[0].variables.X",
            "",
        ),
        (
            "script: [a]\ncondition:\n  changesets:\n    includePaths: [a]\n    excludePaths: [b]",
            "pipelines.default[0].step.condition.changesets",
            "",
        ),
    ];
    for (body, route, text) in cases {
        let d = diags(&step(body));
        assert!(
            d.iter()
                .any(|(r, m, s)| r == route && m.contains(text) && *s == Severity::Error),
            "{body}: expected an error at {route}, got {d:#?}"
        );
    }
}

#[test]
fn structural_errors() {
    let d = diags("pipelines:\n  default:\n    - step: {script: [a]}\n      name: x\n");
    assert!(!d.is_empty());
    let d = diags("pipelines:\n  default:\n    - steps: {script: [a]}\n");
    assert!(
        d.iter().any(|(r, _, _)| r == "pipelines.default[0]"),
        "{d:#?}"
    );
    let d = diags("pipelines:\n  branches:\n    main:\n      import: not-three-parts\n");
    assert!(
        d.iter()
            .any(|(r, _, _)| r.starts_with("pipelines.branches.main")),
        "{d:#?}"
    );
    let d = diags(
        "image: {username: u, password: p}\npipelines:\n  default:\n    - step: {script: [a]}\n",
    );
    assert!(d.iter().any(|(r, _, _)| r == "image"), "{d:#?}");
    // Steps inside a stage may not carry `condition`.
    let d = diags(
        "pipelines:\n  default:\n    - stage:\n        steps:\n          - step:\n              script: [a]\n              condition: {changesets: {includePaths: [a]}}\n",
    );
    assert!(
        d.iter()
            .any(|(r, _, _)| r.starts_with("pipelines.default[0].stage.steps[0].step")),
        "{d:#?}"
    );
}

#[test]
fn unknown_keys_are_reported_with_suggestions() {
    let f = parse(&step("script: [a]\nodic: true\ndeploymnet: prod\nfoo: 1")).unwrap();
    let d = validate(&f);
    let unknown: Vec<(String, String)> = d
        .iter()
        .filter_map(|d| match &d.kind {
            DiagnosticKind::UnknownKey { key } => Some((d.route.to_string(), key.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        unknown,
        [
            (
                "pipelines.default[0].step.odic".to_string(),
                "odic".to_string()
            ),
            (
                "pipelines.default[0].step.deploymnet".to_string(),
                "deploymnet".to_string()
            ),
            (
                "pipelines.default[0].step.foo".to_string(),
                "foo".to_string()
            ),
        ]
    );
    let msg = &d
        .iter()
        .find(|d| d.route.to_string().ends_with("odic"))
        .unwrap()
        .message;
    assert!(msg.contains("Did you mean `oidc`?"), "{msg}");
    let msg = &d
        .iter()
        .find(|d| d.route.to_string().ends_with("foo"))
        .unwrap()
        .message;
    assert!(!msg.contains("Did you mean"), "{msg}");

    // Stages, expanded parallel groups, pipes, the pipelines section and the top level.
    let src = "\
imgae: node
pipelines:
  defualt:
    - step: {script: [a]}
  default:
    - stage:
        nmae: x
        steps:
          - step: {script: [a]}
    - parallel:
        failfast: true
        steps:
          - step:
              script:
                - pipe: a/b:1.0.0
                  varaibles: {}
";
    let f = parse(src).unwrap();
    let d: Vec<(String, Severity)> = validate(&f)
        .into_iter()
        .filter(|d| matches!(d.kind, DiagnosticKind::UnknownKey { .. }))
        .map(|d| (d.route.to_string(), d.severity))
        .collect();
    for (route, sev) in [
        ("imgae", Severity::Warning),
        ("pipelines.defualt", Severity::Error),
        ("pipelines.default[0].stage.nmae", Severity::Error),
        ("pipelines.default[1].parallel.failfast", Severity::Error),
        (
            "pipelines.default[1].parallel.steps[0].step.script[0].varaibles",
            Severity::Error,
        ),
    ] {
        assert!(
            d.contains(&(route.to_string(), sev)),
            "missing {route}: {d:#?}"
        );
    }
}

#[test]
fn unquoted_colon_in_a_script_line_gets_a_precise_hint() {
    let d = diags(&step("script:\n  - echo Authorization: Bearer x"));
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].0, "pipelines.default[0].step.script[0]");
    assert!(d[0].1.contains("quote the whole line"), "{}", d[0].1);
}

#[test]
fn diagnostics_resolve_to_spans() {
    let src = step("script: [a]\nsize: 3x");
    let f = parse(&src).unwrap();
    let d = validate(&f);
    let span = f.span(&d[0].route).unwrap();
    assert_eq!(&src[span.range()], "3x");
    assert_eq!(span.start.line, 5);
}

#[test]
fn json_payloads_validate_the_same_way() {
    let f = PipelineFile::from_json(serde_json::json!({
        "pipelines": {"default": [{"step": {"script": ["a"], "size": "3x", "odic": true}}]}
    }))
    .unwrap();
    let d: Vec<String> = validate(&f).iter().map(|d| d.route.to_string()).collect();
    assert!(
        d.contains(&"pipelines.default[0].step.size".to_string()),
        "{d:?}"
    );
    assert!(
        d.contains(&"pipelines.default[0].step.odic".to_string()),
        "{d:?}"
    );
}

#[test]
fn bundled_schema_is_atlassians_unchanged() {
    // The copy is byte-identical to shared/schemas (sha256 in schema/NOTICE.md); overlays are in code.
    let schema = keyless_pipelines::validate::ATLASSIAN_SCHEMA;
    assert!(schema.contains("\"$id\": \"https://bitbucket.org/product/features/pipelines\""));
    assert_eq!(schema.len(), 34887);
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/schemas/bitbucket-pipelines.schema.json");
    if let Ok(upstream) = std::fs::read_to_string(shared) {
        assert_eq!(
            upstream, schema,
            "crates/pipelines/schema differs from shared/schemas"
        );
    }
}

/// `clone.depth` as the Dynamic Pipelines reference documents it (`"depth": "3"`, a string) is valid; other
/// strings than digits and `full` are not.
#[test]
fn clone_depth_may_be_a_string_of_digits() {
    for (depth, ok) in [
        ("\"3\"", true),
        ("full", true),
        ("3", true),
        ("\"0\"", false),
        ("\"three\"", false),
    ] {
        let file = keyless_pipelines::parse(&format!(
            "clone:\n  depth: {depth}\npipelines:\n  default:\n    - step: {{script: [make]}}\n"
        ))
        .unwrap();
        let errors: Vec<_> = keyless_pipelines::validate(&file)
            .into_iter()
            .filter(|d| d.severity == keyless_pipelines::Severity::Error)
            .collect();
        assert_eq!(errors.is_empty(), ok, "depth {depth}: {errors:?}");
    }
}
