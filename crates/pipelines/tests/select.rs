//! Which pipeline runs: Bitbucket's glob semantics and precedence, as tables.
#![allow(clippy::unwrap_used)]

use keyless_pipelines::{MatchKind, Selector, Target, parse, select_pipeline};

const FILE: &str = "\
pipelines:
  default:
    - step: {script: [default]}
  branches:
    '**':
      - step: {script: [any]}
    'feature/*':
      - step: {script: [feature-star]}
    'feature/bb-*':
      - step: {script: [feature-bb]}
    'feature/bb-123-*':
      - step: {script: [feature-bb-123]}
    feature/bb-123-fix-links:
      - step: {script: [exact]}
    '{main,master}':
      - step: {script: [main-or-master]}
    'release/**':
      - step: {script: [release-deep]}
    'release/*':
      - step: {script: [release-one]}
    '*':
      - step: {script: [single-star]}
  tags:
    'v*':
      - step: {script: [v-star]}
    'v*.*.*':
      - step: {script: [semver]}
  pull-requests:
    '**':
      - step: {script: [pr-any]}
    'feature/*':
      destinations:
        main:
          - step: {script: [feature-to-main]}
        'release/*':
          - step: {script: [feature-to-release]}
    hotfix/urgent:
      - step: {script: [hotfix-exact]}
  custom:
    deploy:
      - step: {script: [custom-deploy]}
";

const NO_CATCH_ALL: &str = "\
pipelines:
  default:
    - step: {script: [default]}
  branches:
    main:
      - step: {script: [main]}
    'feature/*':
      - step: {script: [feature]}
";

/// The first script line of the selected pipeline (each pipeline in the fixtures is labelled).
fn pick(src: &str, target: Target) -> Option<(String, MatchKind)> {
    let f = parse(src).unwrap();
    let sel = select_pipeline(&f, &target)?;
    let step = f.steps_of(sel.pipeline).into_iter().next().unwrap();
    Some((
        step.step.script[0].command().unwrap().to_string(),
        sel.matched,
    ))
}

fn branch(b: &str) -> Target {
    Target::Branch(b.into())
}

#[test]
fn branch_table() {
    use MatchKind::*;
    let cases: &[(&str, &str, &str, MatchKind)] = &[
        // Atlassian's documented examples: exact beats glob, longer partial beats shorter.
        (FILE, "feature/bb-123-fix-links", "exact", Exact),
        (FILE, "feature/bb-123-other", "feature-bb-123", Glob),
        (FILE, "feature/bb-9", "feature-bb", Glob),
        (FILE, "feature/x", "feature-star", Glob),
        // `*` does not cross `/`, `**` does.
        (FILE, "feature/x/y", "any", Glob),
        (FILE, "release/1.2", "release-one", Glob),
        (FILE, "release/1.2/hotfix", "release-deep", Glob),
        // Alternation.
        (FILE, "main", "main-or-master", Glob),
        (FILE, "master", "main-or-master", Glob),
        // `*` beats `**` for a name without `/` (same literals, fewer `**`).
        (FILE, "develop", "single-star", Glob),
        (NO_CATCH_ALL, "main", "main", Exact),
        (NO_CATCH_ALL, "feature/a", "feature", Glob),
        (NO_CATCH_ALL, "feature/a/b", "default", Default),
        (NO_CATCH_ALL, "develop", "default", Default),
    ];
    for (src, name, want, kind) in cases {
        assert_eq!(
            pick(src, branch(name)),
            Some((want.to_string(), *kind)),
            "branch {name}"
        );
    }
}

#[test]
fn tag_table_has_no_default_fallback() {
    let tag = |t: &str| Target::Tag(t.into());
    assert_eq!(pick(FILE, tag("v1.2.3")).unwrap().0, "semver");
    assert_eq!(pick(FILE, tag("v1")).unwrap().0, "v-star");
    assert_eq!(pick(FILE, tag("release-1")), None);
    assert_eq!(pick(NO_CATCH_ALL, tag("v1")), None);
}

#[test]
fn pull_request_table() {
    let pr = |s: &str, d: &str| Target::PullRequest {
        source: s.into(),
        destination: d.into(),
    };
    assert_eq!(
        pick(FILE, pr("feature/x", "main")).unwrap().0,
        "feature-to-main"
    );
    assert_eq!(
        pick(FILE, pr("feature/x", "release/2")).unwrap().0,
        "feature-to-release"
    );
    // The specific source has no matching destination: the catch-all source runs.
    assert_eq!(pick(FILE, pr("feature/x", "develop")).unwrap().0, "pr-any");
    assert_eq!(
        pick(FILE, pr("hotfix/urgent", "main")),
        Some(("hotfix-exact".to_string(), MatchKind::Exact))
    );
    assert_eq!(pick(FILE, pr("bugfix/a/b", "main")).unwrap().0, "pr-any");
    // No pull-requests section: nothing runs (the default pipeline is for pushes).
    assert_eq!(pick(NO_CATCH_ALL, pr("feature/a", "main")), None);
}

#[test]
fn custom_by_exact_name() {
    assert_eq!(
        pick(FILE, Target::Custom("deploy".into())),
        Some(("custom-deploy".to_string(), MatchKind::Name))
    );
    assert_eq!(pick(FILE, Target::Custom("dep*".into())), None);
}

#[test]
fn ties_go_to_the_first_written() {
    let src = "pipelines:\n  branches:\n    'a/*':\n      - step: {script: [first]}\n    '*/b':\n      - step: {script: [second]}\n";
    assert_eq!(pick(src, branch("a/b")).unwrap().0, "first");
    let f = parse(src).unwrap();
    let sel = select_pipeline(&f, &branch("a/b")).unwrap();
    assert_eq!(sel.pipeline.selector, Selector::Branches("a/*".into()));
}
