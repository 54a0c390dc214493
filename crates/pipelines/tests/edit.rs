//! Edits through the model, as `keyless render` makes them: the output validates and renders
//! stably, and edits to one alias copy leave the others alone.
#![allow(clippy::unwrap_used)]

use keyless_pipelines::{
    EditError, Item, Node, PipelineBody, PipelineFile, Route, Trigger, parse, validate,
};

const SRC: &str = "\
definitions:
  steps:
    - step: &deploy
        name: Deploy
        deployment: production
        script:
          - ./deploy.sh
pipelines:
  branches:
    main:
      - step: *deploy
    develop:
      - step:
          <<: *deploy
          deployment: staging
  custom:
    release:
      - variables:
          - name: V
      - stage:
          name: Release
          deployment: production
          steps:
            - step:
                script: [./release.sh]
  pull-requests:
    '**':
      - parallel:
          - step: {script: [a]}
          - step: {script: [b]}
";

fn r(s: &str) -> Route {
    s.parse().unwrap()
}

#[test]
fn step_edits_apply_and_validate() {
    let mut f = parse(SRC).unwrap();
    let main = r("pipelines.branches.main[0].step");
    f.prepend_script(
        &main,
        &[
            "export AWS_REGION=eu-west-1",
            "export AWS_ROLE_ARN=arn:aws:iam::1:role/r",
        ],
    )
    .unwrap();
    f.set_oidc(&main, true).unwrap();
    f.set_runs_on(&main, &["self.hosted", "prod"]).unwrap();
    f.set_atlassian_ip_ranges(&main, true).unwrap();
    f.set_key(&main, "size", Node::string("4x")).unwrap();
    f.set_trigger(&r("pipelines.custom.release[1].stage"), &Trigger::Manual)
        .unwrap();

    // The typed model follows the edits.
    let steps = f.steps();
    let s = steps.iter().find(|s| s.route == &main).unwrap();
    assert_eq!(s.step.script.len(), 3);
    assert_eq!(
        s.step.script[0].command(),
        Some("export AWS_REGION=eu-west-1")
    );
    assert!(s.effective.oidc.enabled);
    assert!(s.effective.self_hosted);
    assert!(s.effective.runtime.atlassian_ip_ranges);
    let stage_step = steps.iter().find(|s| s.stage.is_some()).unwrap();
    assert_eq!(stage_step.effective.trigger.value, Trigger::Manual);
    // The other copy of the anchor is untouched.
    let dev = steps
        .iter()
        .find(|s| s.route == &r("pipelines.branches.develop[0].step"))
        .unwrap();
    assert_eq!(dev.step.script.len(), 1);
    assert!(!dev.effective.oidc.enabled);
    // Edited nodes have no span; untouched ones keep theirs.
    assert_eq!(f.span(&r("pipelines.branches.main[0].step.oidc")), None);
    assert!(
        f.span(&r("pipelines.branches.develop[0].step.deployment"))
            .is_some()
    );

    assert!(validate(&f).is_empty(), "{:#?}", validate(&f));
    let once = f.to_yaml_string();
    let again = parse(&once).unwrap();
    assert_eq!(again.to_yaml_string(), once);
    assert!(validate(&again).is_empty());
    assert!(
        once.contains("runs-on:\n            - self.hosted\n            - prod\n"),
        "{once}"
    );
    assert!(once.contains("size: 4x\n"), "{once}");
}

/// Prepends a scan step to every pipeline the way enforce does: as the first item of plain
/// pipelines, after a custom pipeline's `variables`.
#[test]
fn inserting_a_first_step_everywhere() {
    let mut f = parse(SRC).unwrap();
    let targets: Vec<(Route, usize)> = f
        .pipelines()
        .iter()
        .filter_map(|p| match &p.body {
            PipelineBody::Items { variables, .. } => {
                Some((p.route.clone(), usize::from(variables.is_some())))
            }
            _ => None,
        })
        .collect();
    for (route, at) in &targets {
        f.insert(
            route,
            *at,
            PipelineFile::step_item("Security scan", &["./scan.sh"]),
        )
        .unwrap();
    }
    for p in f.pipelines() {
        let PipelineBody::Items { items, .. } = &p.body else {
            continue;
        };
        match &items[0] {
            Item::Step(s) => assert_eq!(s.name.as_deref(), Some("Security scan"), "{}", p.route),
            other => panic!("{}: {other:?}", p.route),
        }
    }
    let custom = f
        .pipelines()
        .iter()
        .find(|p| p.route == r("pipelines.custom.release"))
        .unwrap();
    let first = &f.steps_of(custom)[0];
    assert_eq!(first.route.to_string(), "pipelines.custom.release[1].step");
    assert!(first.position.is_first());
    assert!(validate(&f).is_empty(), "{:#?}", validate(&f));
    let once = f.to_yaml_string();
    assert_eq!(parse(&once).unwrap().to_yaml_string(), once);
    // Into a stage and a parallel group too.
    f.insert(
        &r("pipelines.custom.release[2].stage.steps"),
        0,
        PipelineFile::step_item("s", &["x"]),
    )
    .unwrap();
    f.insert(
        &r("pipelines.pull-requests.\"**\"[1].parallel"),
        2,
        PipelineFile::step_item("p", &["y"]),
    )
    .unwrap();
    assert!(validate(&f).is_empty(), "{:#?}", validate(&f));
    assert_eq!(f.steps().len(), 11);
}

#[test]
fn edit_errors_name_the_route() {
    let mut f = parse(SRC).unwrap();
    assert_eq!(
        f.set_oidc(&r("pipelines.branches.nope[0].step"), true),
        Err(EditError::NotFound(r("pipelines.branches.nope[0].step")))
    );
    assert!(matches!(
        f.insert(&r("pipelines.branches.main[0].step"), 0, Node::string("x")),
        Err(EditError::NotAList { .. })
    ));
    assert!(matches!(
        f.insert(&r("pipelines.branches.main"), 9, Node::string("x")),
        Err(EditError::OutOfRange { len: 1, .. })
    ));
    assert!(matches!(
        f.prepend_script(&r("pipelines.branches.main[0].step.script"), &["x"]),
        Err(EditError::NotAMapping { .. })
    ));
    let e = f
        .set_oidc(&r("pipelines.branches.nope[0].step"), true)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "no node at `pipelines.branches.nope[0].step`"
    );
}

#[test]
fn batch_edit_and_json_output() {
    let mut f = PipelineFile::from_json(serde_json::json!({
        "pipelines": {"default": [{"step": {"script": ["make"]}}]}
    }))
    .unwrap();
    let removed = f.edit(|root| {
        let step = root.at_mut(&r("pipelines.default[0].step")).unwrap();
        step.set("oidc", Node::bool(true));
        step.set("deployment", Node::string("test"));
        step.remove("deployment")
    });
    assert_eq!(removed, Some(Node::string("test")));
    assert!(f.steps()[0].effective.oidc.enabled);
    assert_eq!(
        f.to_json(),
        serde_json::json!({"pipelines": {"default": [{"step": {"script": ["make"], "oidc": true}}]}})
    );
    assert_eq!(
        f.remove_key(&r("pipelines.default[0].step"), "oidc")
            .unwrap(),
        Some(Node::bool(true))
    );
    assert!(!f.steps()[0].effective.oidc.enabled);
}
