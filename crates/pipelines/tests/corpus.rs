//! The corpus of realistic pipeline files: every file parses, validates cleanly, renders stably,
//! round-trips through JSON, and together the files cover every construct of bitbucket.md §3.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use keyless_pipelines::{
    Artifacts, ImageAuth, Item, Oidc, PipelineBody, PipelineFile, STEP_KEYS, SelectorKind, parse,
    validate,
};

fn corpus() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_has_at_least_thirty_files() {
    assert!(corpus().len() >= 30, "only {} corpus files", corpus().len());
}

#[test]
fn every_corpus_file_parses_validates_and_renders_stably() {
    for (name, src) in corpus() {
        let file = parse(&src).unwrap_or_else(|e| panic!("{name}: {e}"));
        let diags = validate(&file);
        let shown: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert!(diags.is_empty(), "{name}: {shown:#?}");
        assert!(
            !file.steps().is_empty() || name.contains("import"),
            "{name}: no steps"
        );
        for s in file.steps() {
            let span = file
                .span(s.route)
                .unwrap_or_else(|| panic!("{name}: no span for {}", s.route));
            assert!(
                span.start.line >= 1 && span.end.offset >= span.start.offset,
                "{name}"
            );
        }
        // Rendering is stable and keeps the tree.
        let once = file.to_yaml_string();
        let reparsed = parse(&once)
            .unwrap_or_else(|e| panic!("{name}: rendered YAML does not parse: {e}\n{once}"));
        assert_eq!(
            reparsed.root(),
            file.root(),
            "{name}: render changed the tree"
        );
        assert_eq!(
            reparsed.to_yaml_string(),
            once,
            "{name}: render is not idempotent"
        );
        assert!(
            validate(&reparsed).is_empty(),
            "{name}: rendered YAML does not validate"
        );
        // The JSON (Dynamic Pipelines) form round-trips too.
        let json = file.to_json();
        let from_json = PipelineFile::from_json(json.clone()).unwrap();
        assert_eq!(
            from_json.root(),
            file.root(),
            "{name}: JSON round trip changed the tree"
        );
        assert_eq!(from_json.to_json(), json);
        assert_eq!(
            from_json.to_yaml_string(),
            once,
            "{name}: JSON and YAML renders differ"
        );
        assert_eq!(
            from_json.config(),
            file.config(),
            "{name}: typed model differs from JSON"
        );
    }
}

/// Line and column of a byte offset, counted independently of the parser.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, src[start..offset].chars().count() + 1)
}

#[test]
fn every_span_agrees_with_its_offsets() {
    for (name, src) in corpus() {
        let file = parse(&src).unwrap();
        let mut checked = 0;
        file.root()
            .walk(&keyless_pipelines::Route::root(), &mut |route, node| {
                let mut spans: Vec<keyless_pipelines::Span> =
                    node.origin.via().iter().map(|v| v.span).collect();
                spans.extend(node.origin.span);
                for span in spans {
                    for pos in [span.start, span.end] {
                        assert_eq!(
                            (pos.line, pos.column),
                            line_col(&src, pos.offset),
                            "{name}: {route}"
                        );
                    }
                    assert!(span.start.offset <= span.end.offset, "{name}: {route}");
                    let text = &src[span.range()];
                    assert_eq!(text.trim_end(), text, "{name}: {route} ends in white space");
                    checked += 1;
                }
            });
        assert!(checked > 10, "{name}");
    }
}

#[test]
fn corpus_covers_every_construct() {
    let mut selectors = BTreeSet::new();
    let mut step_keys = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for (_, src) in corpus() {
        let file = parse(&src).unwrap();
        let c = file.config();
        if let Some(i) = &c.image {
            seen.insert(match i.auth {
                ImageAuth::None
                    if src.contains("image:\n  name") || src.contains("image: {name") =>
                {
                    "image-mapping"
                }
                ImageAuth::None => "image-string",
                ImageAuth::Basic { .. } => "image-basic",
                ImageAuth::AwsKeys { .. } => "image-aws-keys",
                ImageAuth::AwsOidc { .. } => "image-aws-oidc",
                ImageAuth::Invalid => "image-invalid",
            });
        }
        if c.clone.is_some() {
            seen.insert("clone");
        }
        if c.export == Some(true) {
            seen.insert("export");
        }
        if c.labels.is_some() {
            seen.insert("labels");
        }
        let o = &c.options;
        for (flag, name) in [
            (o.docker.is_some(), "options.docker"),
            (o.max_time.is_some(), "options.max-time"),
            (o.size.is_some(), "options.size"),
            (
                o.runtime.as_ref().and_then(|r| r.cloud.as_ref()).is_some(),
                "options.runtime.cloud",
            ),
            (o.oidc_audiences.is_some(), "options.oidc.audiences"),
            (!c.definitions.caches.is_empty(), "definitions.caches"),
            (
                c.definitions.caches.iter().any(|c| !c.key_files.is_empty()),
                "definitions.caches.key",
            ),
            (!c.definitions.services.is_empty(), "definitions.services"),
            (!c.definitions.pipelines.is_empty(), "definitions.pipelines"),
            (c.definitions.steps.is_some(), "definitions.steps"),
        ] {
            if flag {
                seen.insert(name);
            }
        }
        if src.contains("<<: [") {
            seen.insert("merge-list");
        } else if src.contains("<<:") {
            seen.insert("merge");
        }
        for p in file.pipelines() {
            selectors.insert(format!("{:?}", p.selector.kind()));
            if matches!(
                p.selector,
                keyless_pipelines::Selector::PullRequests {
                    destination: Some(_),
                    ..
                }
            ) {
                seen.insert("pull-requests-destinations");
            }
            match &p.body {
                PipelineBody::Import(i) => {
                    assert!(i.parts.is_some());
                    seen.insert("import");
                }
                PipelineBody::Items { variables, items } => {
                    if variables.is_some() {
                        seen.insert("custom-variables");
                    }
                    for it in items {
                        match it {
                            Item::Parallel(par) if par.expanded => {
                                seen.insert("parallel-expanded");
                            }
                            Item::Parallel(_) => {
                                seen.insert("parallel-list");
                            }
                            Item::Stage(st) => {
                                seen.insert("stage");
                                if st.trigger.is_some() {
                                    seen.insert("stage-trigger");
                                }
                            }
                            _ => {}
                        }
                    }
                }
                PipelineBody::Invalid => panic!("invalid pipeline {}", p.route),
            }
        }
        for s in file.steps() {
            let node = file.node(s.route).unwrap();
            for e in node.as_map().unwrap() {
                step_keys.insert(e.key.clone());
            }
            let st = s.step;
            match &st.oidc {
                Some(Oidc::Audiences(_)) => {
                    seen.insert("oidc-audiences");
                }
                Some(Oidc::Flag(true)) => {
                    seen.insert("oidc-true");
                }
                _ => {}
            }
            match &st.artifacts {
                Some(Artifacts::Paths(_)) => {
                    seen.insert("artifacts-list");
                }
                Some(Artifacts::Expanded { .. }) => {
                    seen.insert("artifacts-expanded");
                }
                _ => {}
            }
            if st.pipes().next().is_some() {
                seen.insert("pipe");
            }
            if st.pipes().any(|p| {
                p.variables
                    .iter()
                    .any(|v| matches!(v.value, keyless_pipelines::PipeValue::List(_)))
            }) {
                seen.insert("pipe-list-variable");
            }
            if st
                .after_script
                .iter()
                .any(|e| matches!(e, keyless_pipelines::ScriptEntry::Pipe(_)))
            {
                seen.insert("after-script-pipe");
            }
            if node.get("runs-on").is_some_and(|r| r.as_str().is_some()) {
                seen.insert("runs-on-string");
            }
            if node.get("runs-on").is_some_and(|r| r.as_seq().is_some()) {
                seen.insert("runs-on-list");
            }
            if st
                .image
                .as_ref()
                .is_some_and(|i| matches!(i.auth, ImageAuth::AwsKeys { .. }))
            {
                seen.insert("image-aws-keys");
            }
        }
    }
    let missing_keys: Vec<&&str> = STEP_KEYS
        .iter()
        .filter(|k| !step_keys.contains(**k))
        .collect();
    assert!(
        missing_keys.is_empty(),
        "step keys not covered: {missing_keys:?}"
    );
    for kind in [
        SelectorKind::Default,
        SelectorKind::Branches,
        SelectorKind::Tags,
        SelectorKind::PullRequests,
        SelectorKind::Custom,
        SelectorKind::Imported,
    ] {
        assert!(
            selectors.contains(&format!("{kind:?}")),
            "no {kind:?} pipeline in the corpus"
        );
    }
    for want in [
        "image-string",
        "image-mapping",
        "image-basic",
        "image-aws-keys",
        "image-aws-oidc",
        "clone",
        "export",
        "labels",
        "options.docker",
        "options.max-time",
        "options.size",
        "options.runtime.cloud",
        "options.oidc.audiences",
        "definitions.caches",
        "definitions.caches.key",
        "definitions.services",
        "definitions.pipelines",
        "definitions.steps",
        "merge",
        "merge-list",
        "pull-requests-destinations",
        "import",
        "custom-variables",
        "parallel-list",
        "parallel-expanded",
        "stage",
        "stage-trigger",
        "oidc-true",
        "oidc-audiences",
        "artifacts-list",
        "artifacts-expanded",
        "pipe",
        "pipe-list-variable",
        "after-script-pipe",
        "runs-on-string",
        "runs-on-list",
    ] {
        assert!(seen.contains(want), "corpus does not cover {want}");
    }
}
