//! Scenario fixtures: `fixtures/scenarios/NN-name.yml` is an input pipeline whose first line names
//! the target (`# target: branch B | tag T | pr SRC:DST | custom NAME [BRANCH]`) and optionally
//! the configuration (`# config: file.yml`, default `fixtures/keyless.yml`). The expected result is
//! `NN-name.out.yml` (the rendered YAML, then the changes as `# rule route: message` lines) or
//! `NN-name.rejected.json` (the rejection). `KEYLESS_BLESS=1` writes the expected files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use keyless_enforce::{EnforceConfig, Invocation, Rendered, render};
use keyless_pipelines::{Severity, Target, parse, validate};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn config(name: &str) -> EnforceConfig {
    let path = fixtures().join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    EnforceConfig::from_yaml(&text, &path.display().to_string()).unwrap()
}

fn header(text: &str, key: &str) -> Option<String> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix(&format!("# {key}: ")).map(str::to_string))
}

fn invocation(spec: &str) -> Invocation {
    let mut words = spec.split_whitespace();
    let kind = words.next().unwrap();
    let arg = words.next().unwrap().to_string();
    match kind {
        "branch" => Target::Branch(arg).into(),
        "tag" => Target::Tag(arg).into(),
        "pr" => {
            let (s, d) = arg.split_once(':').unwrap();
            Target::PullRequest {
                source: s.into(),
                destination: d.into(),
            }
            .into()
        }
        "custom" => Invocation {
            target: Some(Target::Custom(arg)),
            branch: words.next().map(str::to_string),
            ..Invocation::default()
        },
        other => panic!("unknown target kind {other}"),
    }
}

fn show(rendered: &Rendered) -> String {
    let mut out = rendered.file.to_yaml_string();
    out.push_str("# changes:\n");
    for c in &rendered.changes {
        out.push_str(&format!("# {} {}: {}\n", c.rule, c.route, c.message));
    }
    out
}

/// A scenario's text, its `# config:` (default keyless.yml) and its `# target:`.
fn scenario(path: &std::path::Path) -> (String, EnforceConfig, Invocation) {
    let text = std::fs::read_to_string(path).unwrap();
    let cfg = config(&header(&text, "config").unwrap_or_else(|| "keyless.yml".into()));
    let inv = invocation(&header(&text, "target").unwrap());
    (text, cfg, inv)
}

fn scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.ends_with(".yml") && !n.ends_with(".out.yml")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn at_least_twenty_scenarios() {
    assert!(scenarios().len() >= 20, "{} scenarios", scenarios().len());
}

#[test]
fn scenarios_match_expected() {
    let bless = std::env::var_os("KEYLESS_BLESS").is_some();
    let mut failures = Vec::new();
    for path in scenarios() {
        let text = std::fs::read_to_string(&path).unwrap();
        let target = header(&text, "target").expect("a `# target:` line");
        let cfg = config(&header(&text, "config").unwrap_or_else(|| "keyless.yml".into()));
        let inv = invocation(&target);
        let file = parse(&text).unwrap();
        let stem = path.with_extension("");
        let out_path = stem.with_extension("out.yml");
        let rej_path = stem.with_extension("rejected.json");
        let (actual, expected_path, other) = match render(&cfg, file, &inv) {
            Ok(r) => (show(&r), out_path, rej_path),
            Err(e) => (
                serde_json::to_string_pretty(&e).unwrap() + "\n",
                rej_path,
                out_path,
            ),
        };
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            let _ = std::fs::remove_file(&other);
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{}: expected\n{expected}\ngot\n{actual}",
                path.display()
            )),
            Err(_) => failures.push(format!(
                "{}: no {} (got\n{actual})",
                path.display(),
                expected_path.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// render(render(x)) == render(x), with no changes the second time, and the output validates.
#[test]
fn idempotent_and_valid() {
    for path in scenarios() {
        let (text, cfg, inv) = scenario(&path);
        let Ok(once) = render(&cfg, parse(&text).unwrap(), &inv) else {
            continue;
        };
        let yaml = once.file.to_yaml_string();
        let errors: Vec<_> = validate(&once.file)
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        let twice = render(&cfg, parse(&yaml).unwrap(), &inv)
            .unwrap_or_else(|e| panic!("{}: second render rejected: {e}", path.display()));
        assert_eq!(twice.file.to_yaml_string(), yaml, "{}", path.display());
        assert!(
            twice.changes.is_empty(),
            "{}: {:?}",
            path.display(),
            twice.changes
        );
        // The JSON (Dynamic Pipelines) form renders the same.
        let from_json = keyless_pipelines::PipelineFile::from_json(once.file.to_json()).unwrap();
        let json_twice = render(&cfg, from_json, &inv).unwrap();
        assert_eq!(json_twice.file.to_json(), once.file.to_json());
    }
}

/// Every change and every rejection names a policy rule.
#[test]
fn everything_names_its_rule() {
    for path in scenarios() {
        let (text, cfg, inv) = scenario(&path);
        match render(&cfg, parse(&text).unwrap(), &inv) {
            Ok(r) => assert!(r.changes.iter().all(|c| !c.rule.is_empty())),
            Err(e) => {
                assert!(
                    !e.rule.is_empty() && !e.message.is_empty() && e.key.starts_with("keyless-")
                )
            }
        }
    }
}

/// `render_request_file` (keyless serve's render, without the list of changes) gives the file, or the rejection,
/// that `render_request` gives, for every scenario and both kinds of trigger.
#[test]
fn the_file_alone_is_the_rendered_file() {
    use keyless_enforce::payload::Request;
    use keyless_enforce::{render_request, render_request_file};
    for path in scenarios() {
        let (text, cfg, inv) = scenario(&path);
        for trigger in ["push", "definitions"] {
            let request = || Request {
                trigger: trigger.to_string(),
                invocation: inv.clone(),
                file: parse(&text).unwrap(),
                workspace: Some(cfg.workspace().workspace.uuid.clone()),
                trigger_context: None,
            };
            match (
                render_request(&cfg, request()),
                render_request_file(&cfg, request()),
            ) {
                (Ok(full), Ok(alone)) => {
                    assert_eq!(
                        alone.file.to_yaml_string(),
                        full.file.to_yaml_string(),
                        "{} ({trigger})",
                        path.display()
                    );
                    assert!(alone.changes.is_empty());
                    assert_eq!(alone.omitted, full.omitted);
                    assert_eq!(alone.notes, full.notes);
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "{} ({trigger})", path.display()),
                (a, b) => panic!(
                    "{} ({trigger}): render_request {:?}, render_request_file {:?}",
                    path.display(),
                    a.map(|r| r.changes),
                    b.map(|_| ())
                ),
            }
        }
    }
}
