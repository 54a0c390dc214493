//! Traversal: every step with route, selector, position and effective settings.
#![allow(clippy::unwrap_used, clippy::type_complexity)]

use keyless_pipelines::{DEFAULT_IMAGE, Oidc, Selector, Source, Trigger, parse};

const FILE: &str = "\
image: node:20
clone:
  enabled: true
options:
  docker: true
  max-time: 30
  size: 2x
  runtime:
    cloud:
      arch: arm
  oidc:
    audiences: [https://a.example]
pipelines:
  default:
    - step:
        script: [a]
    - parallel:
        - step:
            size: 4x
            oidc: true
            runtime:
              cloud:
                atlassian-ip-ranges: true
            script: [b]
        - step:
            image: alpine:3
            max-time: 5
            clone:
              enabled: false
            oidc:
              audiences: [https://b.example]
            script: [c]
  branches:
    'release/*':
      - stage:
          name: Ship
          deployment: production
          trigger: manual
          steps:
            - step:
                script: [d]
            - step:
                deployment: other
                environment: env1
                runs-on: [self.hosted, linux]
                script: [e]
  pull-requests:
    '**':
      destinations:
        main:
          - parallel:
              fail-fast: true
              steps:
                - step:
                    runs-on: linux
                    services: [docker]
                    trigger: manual
                    script: [f]
  custom:
    go:
      - variables:
          - name: X
      - step:
          oidc: false
          script: [g]
definitions:
  pipelines:
    shared:
      - step:
          script: [h]
";

#[test]
fn routes_selectors_and_positions() {
    let f = parse(FILE).unwrap();
    let steps = f.steps();
    let got: Vec<(String, String, usize, Option<usize>, Option<usize>, usize)> = steps
        .iter()
        .map(|s| {
            (
                s.route.to_string(),
                s.selector.to_string(),
                s.position.item,
                s.position.parallel_index,
                s.position.stage_index,
                s.position.ordinal,
            )
        })
        .collect();
    let want: Vec<(&str, &str, usize, Option<usize>, Option<usize>, usize)> = vec![
        ("pipelines.default[0].step", "default", 0, None, None, 0),
        (
            "pipelines.default[1].parallel[0].step",
            "default",
            1,
            Some(0),
            None,
            1,
        ),
        (
            "pipelines.default[1].parallel[1].step",
            "default",
            1,
            Some(1),
            None,
            2,
        ),
        (
            "pipelines.branches.\"release/*\"[0].stage.steps[0].step",
            "branches `release/*`",
            0,
            None,
            Some(0),
            0,
        ),
        (
            "pipelines.branches.\"release/*\"[0].stage.steps[1].step",
            "branches `release/*`",
            0,
            None,
            Some(1),
            1,
        ),
        (
            "pipelines.pull-requests.\"**\".destinations.main[0].parallel.steps[0].step",
            "pull-requests `**` → `main`",
            0,
            Some(0),
            None,
            0,
        ),
        (
            "pipelines.custom.go[1].step",
            "custom `go`",
            1,
            None,
            None,
            0,
        ),
        (
            "definitions.pipelines.shared[0].step",
            "shared pipeline `shared`",
            0,
            None,
            None,
            0,
        ),
    ];
    let want: Vec<(String, String, usize, Option<usize>, Option<usize>, usize)> = want
        .into_iter()
        .map(|(a, b, c, d, e, g)| (a.to_string(), b.to_string(), c, d, e, g))
        .collect();
    assert_eq!(got, want);
    assert_eq!(steps[6].selector, &Selector::Custom("go".into()));
    assert_eq!(
        steps[5].selector,
        &Selector::PullRequests {
            source: "**".into(),
            destination: Some("main".into())
        }
    );
    assert!(steps[1].parallel.is_some() && steps[1].stage.is_none());
    // The custom pipeline's first step follows its `variables` entry and still starts it.
    assert!(steps[6].position.is_first());
    assert!(steps[0].position.is_first() && !steps[1].position.is_first());
    assert_eq!(steps[3].stage.unwrap().name.as_deref(), Some("Ship"));
    assert_eq!(steps[5].parallel.unwrap().fail_fast, Some(true));
    // Every traversal route resolves to a step mapping in the tree.
    for s in &steps {
        assert!(f.node(s.route).unwrap().as_map().is_some(), "{}", s.route);
    }
}

#[test]
fn effective_settings_follow_step_then_options_then_defaults() {
    let f = parse(FILE).unwrap();
    let steps = f.steps();
    let e0 = &steps[0].effective;
    assert_eq!(
        (e0.image.value.as_str(), e0.image.source),
        ("node:20", Source::Global)
    );
    assert_eq!(
        (e0.size.value.as_str(), e0.size.source),
        ("2x", Source::Global)
    );
    assert_eq!(
        (e0.max_time.value, e0.max_time.source),
        (30, Source::Global)
    );
    assert!(
        !e0.oidc.enabled,
        "options.oidc.audiences alone does not enable OIDC"
    );
    assert!(e0.oidc.audiences.is_empty());
    assert_eq!(e0.runtime.arch, "arm");
    assert!(!e0.runtime.atlassian_ip_ranges);
    assert!(e0.docker);
    assert!(e0.clone_enabled);
    assert_eq!(
        (e0.trigger.value.clone(), e0.trigger.source),
        (Trigger::Automatic, Source::Default)
    );

    let e1 = &steps[1].effective;
    assert_eq!(
        (e1.size.value.as_str(), e1.size.source),
        ("4x", Source::Step)
    );
    assert!(e1.oidc.enabled);
    assert_eq!(e1.oidc.audiences, ["https://a.example"]);
    assert_eq!(e1.oidc.source, Source::Global);
    assert!(e1.runtime.atlassian_ip_ranges);
    assert_eq!(e1.runtime.arch, "arm", "runtime merges field by field");

    let e2 = &steps[2].effective;
    assert_eq!(
        (e2.image.value.as_str(), e2.image.source),
        ("alpine:3", Source::Step)
    );
    assert_eq!((e2.max_time.value, e2.max_time.source), (5, Source::Step));
    assert!(!e2.clone_enabled);
    assert!(e2.oidc.enabled);
    assert_eq!(e2.oidc.audiences, ["https://b.example"]);
    assert_eq!(e2.oidc.source, Source::Step);
    assert!(matches!(steps[2].step.oidc, Some(Oidc::Audiences(_))));

    let e3 = &steps[3].effective;
    assert_eq!(e3.deployment.as_ref().unwrap().value, "production");
    assert_eq!(e3.deployment.as_ref().unwrap().source, Source::Stage);
    assert_eq!(
        (e3.trigger.value.clone(), e3.trigger.source),
        (Trigger::Manual, Source::Stage)
    );
    let e4 = &steps[4].effective;
    assert_eq!(e4.deployment.as_ref().unwrap().value, "other");
    assert_eq!(e4.deployment.as_ref().unwrap().source, Source::Step);
    assert_eq!(e4.environment.as_ref().unwrap().value, "env1");
    assert!(e4.self_hosted);
    assert_eq!(e4.runs_on, ["self.hosted", "linux"]);

    let e5 = &steps[5].effective;
    assert_eq!(e5.runs_on, ["linux"]);
    assert!(!e5.self_hosted);
    assert_eq!(
        (e5.trigger.value.clone(), e5.trigger.source),
        (Trigger::Manual, Source::Step)
    );

    let e6 = &steps[6].effective;
    assert!(!e6.oidc.enabled);
    assert_eq!(e6.oidc.source, Source::Step);
}

#[test]
fn defaults_apply_without_options() {
    let f = parse("pipelines:\n  default:\n    - step:\n        script: [a]\n").unwrap();
    let e = &f.steps()[0].effective;
    assert_eq!(
        (e.image.value.as_str(), e.image.source),
        (DEFAULT_IMAGE, Source::Default)
    );
    assert_eq!(
        (e.size.value.as_str(), e.size.source),
        ("1x", Source::Default)
    );
    assert_eq!(
        (e.max_time.value, e.max_time.source),
        (120, Source::Default)
    );
    assert_eq!(e.runtime.arch, "x86");
    assert!(!e.docker && !e.self_hosted && e.clone_enabled && !e.oidc.enabled);
    assert!(e.deployment.is_none() && e.environment.is_none());
}

#[test]
fn steps_of_one_pipeline_and_imports_without_steps() {
    let f = parse(
        "pipelines:\n  branches:\n    main:\n      import: shared:main:deploy\n    dev:\n      - step: {script: [a]}\n      - step: {script: [b]}\n",
    )
    .unwrap();
    let main = f.pipeline(&Selector::Branches("main".into())).unwrap();
    assert_eq!(main.route.to_string(), "pipelines.branches.main");
    assert!(f.pipeline(&Selector::Default).is_none());
    assert!(f.steps_of(main).is_empty());
    let dev = &f.pipelines()[1];
    assert_eq!(f.steps_of(dev).len(), 2);
    match &main.body {
        keyless_pipelines::PipelineBody::Import(i) => {
            assert_eq!(
                i.parts,
                Some(("shared".into(), "main".into(), "deploy".into()))
            );
            assert_eq!(i.route.to_string(), "pipelines.branches.main.import");
        }
        other => panic!("{other:?}"),
    }
}

/// `options` has no OIDC switch: Atlassian's global options are `docker`, `max-time`, `size` and `runtime`
/// (and `oidc.audiences`, A-AUD); OIDC is enabled per step. So `options.oidc: true` enables nothing, and the
/// schema check reports it. `keyless audit` reads this same model (docs/audit.md).
#[test]
fn options_oidc_true_does_not_enable_steps() {
    let file = parse(
        "options:\n  oidc: true\npipelines:\n  default:\n    - step:\n        script: [a]\n    - step:\n        oidc: true\n        script: [b]\n",
    )
    .unwrap();
    let steps = file.steps();
    assert!(!steps[0].effective.oidc.enabled);
    assert_eq!(steps[0].effective.oidc.source, Source::Default);
    assert!(steps[1].effective.oidc.enabled);
    assert!(steps[1].effective.oidc.audiences.is_empty());
    let diagnostics = keyless_pipelines::validate(&file);
    assert!(
        diagnostics
            .iter()
            .any(|d| d.route.to_string() == "options.oidc"),
        "{diagnostics:?}"
    );
}
