//! Output formats, ignores, configuration and fixes, end to end through the library.
//!
//! `sarif-schema-2.1.0.json` is the OASIS SARIF 2.1.0 JSON schema (as vendored by the MIT-licensed `serde-sarif`
//! crate, `src/schema.json`) with one change: the two `language` patterns, which are not valid regexes as
//! published (`^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`), are replaced by their evident intent
//! `^[a-zA-Z]{2}(-[a-zA-Z]{2})?$` so the validator accepts the schema. keyless does not emit `language`.
#![allow(clippy::unwrap_used)]

use keyless_audit::output::{code_insights, json, sarif};
use keyless_audit::{AuditConfig, Auditor, Finding, Input, Options, Persona, Report, Severity};

fn audit_with(config: AuditConfig, files: &[(&str, &str)]) -> Report {
    let inputs: Vec<Input> = files
        .iter()
        .map(|(p, t)| Input::parse(p, t).unwrap())
        .collect();
    Auditor::new(
        config,
        Options {
            persona: Persona::Auditor,
            ..Options::default()
        },
    )
    .audit(&inputs)
}

fn audit(files: &[(&str, &str)]) -> Report {
    audit_with(AuditConfig::default(), files)
}

fn rules(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule).collect()
}

const MIXED: &str = "\
image: node
pipelines:
  pull-requests:
    '**':
      - step:
          oidc: true
          script:
            - curl -k https://x.example/i.sh | sh
            - echo $BITBUCKET_STEP_OIDC_TOKEN >> token
          artifacts: ['**']
";

#[test]
fn sarif_validates_against_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let report = audit(&[("bitbucket-pipelines.yml", MIXED)]);
    assert!(report.findings.len() >= 5, "{:?}", rules(&report.findings));
    let log = sarif::render(&report.findings, "0.1.0");
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // A broken log must fail, or this test proves nothing.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = "severe".into();
    assert!(!validator.is_valid(&broken));
    assert_eq!(
        log["runs"][0]["results"].as_array().unwrap().len(),
        report.findings.len()
    );
    let first = &log["runs"][0]["results"][0];
    let index = first["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(
        log["runs"][0]["tool"]["driver"]["rules"][index]["id"],
        first["ruleId"]
    );
    // Empty runs validate too.
    assert!(validator.is_valid(&sarif::render(&[], "0.1.0")));
}

#[test]
fn json_v1_shape_is_frozen() {
    let report = audit(&[("bitbucket-pipelines.yml", MIXED)]);
    let v = json::render(&report.findings);
    let text = serde_json::to_string(&v["findings"][0]).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["version", "findings"]);
    assert!(text.starts_with("{\"rule\":"), "{text}");
    let loc: Vec<&String> = v["findings"][0]["location"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(loc, ["path", "line", "column"]);
    let image = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "unpinned-image")
        .unwrap();
    assert_eq!(
        image["location"],
        serde_json::json!({"path": "bitbucket-pipelines.yml", "line": 1, "column": 8})
    );
    assert_eq!(image["severity"], "medium");
    assert_eq!(image["confidence"], "high");
}

#[test]
fn code_insights_batches_and_caps() {
    let mut text = String::from("pipelines:\n  default:\n    - step:\n        script:\n");
    for i in 0..1234 {
        text.push_str(&format!("          - curl -s https://x{i}.example | sh\n"));
    }
    let report = audit(&[("bitbucket-pipelines.yml", &text)]);
    assert_eq!(
        report
            .findings
            .iter()
            .filter(|f| f.rule == "curl-pipe-shell")
            .count(),
        1234
    );
    let (ci, annotations) = code_insights::render(&report.findings, Severity::Medium);
    assert_eq!(annotations.len(), code_insights::MAX_ANNOTATIONS);
    assert_eq!(ci.result, "FAILED");
    assert_eq!(ci.report_type, "SECURITY");
    assert!(ci.data.len() <= 10);
    let sizes: Vec<usize> = code_insights::batches(&annotations)
        .map(<[_]>::len)
        .collect();
    assert_eq!(sizes, vec![100; 10]);
    let ids: std::collections::HashSet<&str> =
        annotations.iter().map(|a| a.external_id.as_str()).collect();
    assert_eq!(ids.len(), annotations.len(), "external ids must be unique");
    let (passed, _) = code_insights::render(&report.findings, Severity::High);
    assert_eq!(passed.result, "PASSED");
    let v = code_insights::to_json(&report.findings[..1], Severity::Low);
    assert_eq!(v["annotations"][0]["severity"], "MEDIUM");
    assert_eq!(v["annotations"][0]["annotation_type"], "VULNERABILITY");
    assert_eq!(v["annotations"][0]["line"], 5);
}

#[test]
fn inline_ignores_and_unused_ignores() {
    let text = "\
pipelines:
  default:
    - step:
        script:
          # keyless: ignore[curl-pipe-shell] vendor installer behind our proxy
          - curl -s https://x.example | sh
          - make  # keyless: ignore[tls-bypass] stale
          - wget -qO- https://y.example | bash  # keyless: ignore[curl-pipe-shel] typo
";
    let report = audit(&[("bitbucket-pipelines.yml", text)]);
    let got: Vec<(&str, usize)> = report
        .findings
        .iter()
        .map(|f| (f.rule, f.location.line))
        .collect();
    assert_eq!(
        got,
        vec![
            ("unused-ignore", 7),
            ("curl-pipe-shell", 8),
            ("unused-ignore", 8)
        ]
    );
    assert_eq!(report.ignored, 1);
    assert!(
        report.findings[2]
            .message
            .contains("unknown rule id(s): curl-pipe-shel")
    );
}

#[test]
fn config_disable_ignore_and_severity() {
    let text = "\
image: node
pipelines:
  default:
    - step:
        script:
          - curl -s https://x.example | sh
          - curl -k https://y.example -o y
";
    let keyless = "\
audit:
  rules:
    unpinned-image:
      disable: true
      reason: scanned in our registry
    tls-bypass:
      severity: high
      reason: we treat this as critical
    curl-pipe-shell:
      ignore:
        - path: bitbucket-pipelines.yml
          line: 6
          reason: vendor installer
        - path: other/bitbucket-pipelines.yml
          reason: does not exist
";
    let config = AuditConfig::from_keyless_yml(keyless, "keyless.yml")
        .unwrap()
        .unwrap();
    let report = audit_with(
        config,
        &[("bitbucket-pipelines.yml", text), ("keyless.yml", keyless)],
    );
    let got: Vec<(&str, Severity)> = report
        .findings
        .iter()
        .map(|f| (f.rule, f.severity))
        .collect();
    assert_eq!(
        got,
        vec![
            ("tls-bypass", Severity::High),
            ("unused-ignore", Severity::Info)
        ],
        "{:#?}",
        report.findings
    );
    assert_eq!(report.findings[1].location.path, "keyless.yml");
    assert!(
        report.findings[1]
            .message
            .contains("other/bitbucket-pipelines.yml")
    );
    assert_eq!(report.ignored, 1);
}

#[test]
fn persona_and_min_filters() {
    let text = "image: node:22.1.0\npipelines:\n  default:\n    - step:\n        script: [make]\n";
    let inputs = [Input::parse("bitbucket-pipelines.yml", text).unwrap()];
    let regular = Auditor::new(AuditConfig::default(), Options::default()).audit(&inputs);
    assert!(regular.findings.is_empty());
    assert_eq!(regular.filtered, 1);
    let pedantic = Options {
        persona: Persona::Pedantic,
        ..Options::default()
    };
    let report = Auditor::new(AuditConfig::default(), pedantic).audit(&inputs);
    assert_eq!(rules(&report.findings), ["unpinned-image"]);
    let strict = Options {
        persona: Persona::Pedantic,
        min_severity: Severity::Low,
        ..Options::default()
    };
    assert!(
        Auditor::new(AuditConfig::default(), strict)
            .audit(&inputs)
            .findings
            .is_empty()
    );
}

fn fix_all(path: &str, text: &str) -> String {
    let report = audit(&[(path, text)]);
    let fixable: Vec<&Finding> = report.findings.iter().filter(|f| f.fix.is_some()).collect();
    keyless_audit::fix::apply(text, &fixable).text
}

/// `fix::fix_inputs` (the `--fix` workflow): one entry per input that a fix changes, with the index the findings
/// name and the same text `fix::apply` gives for that input alone.
#[test]
fn fix_inputs_fixes_each_input_that_has_a_fix() {
    let fixable = "\
pipelines:
  default:
    - step:
        oidc: true
        script:
          - echo \"$BITBUCKET_STEP_OIDC_TOKEN\" >> \"$HOME/token\"
";
    let clean = "pipelines:\n  default:\n    - step:\n        script: [make]\n";
    let files = [
        ("clean/bitbucket-pipelines.yml", clean),
        ("site/bitbucket-pipelines.yml", fixable),
    ];
    let inputs: Vec<Input> = files
        .iter()
        .map(|(p, t)| Input::parse(p, t).unwrap())
        .collect();
    let report = Auditor::new(
        AuditConfig::default(),
        Options {
            persona: Persona::Auditor,
            ..Options::default()
        },
    )
    .audit(&inputs);
    let fixes = keyless_audit::fix::fix_inputs(&inputs, &report.findings);
    assert_eq!(fixes.len(), 1, "{fixes:?}");
    assert_eq!(fixes[0].input, 1);
    assert!(fixes[0].fixed.applied > 0);
    assert_eq!(
        fixes[0].fixed.text,
        fix_all("bitbucket-pipelines.yml", fixable)
    );
    assert_ne!(fixes[0].fixed.text, fixable);
}

#[test]
fn fixes_keep_comments_and_layout() {
    let before = "\
# Deploys the site. Keep this header.
definitions:
  steps:
    - step: &build
        name: Build   # anchors stay untouched
        script: [make]
pipelines:
  branches:
    main:
      - step: *build
      - step:
          name: Deploy   # trailing comment
          deployment: production
          runs-on: [self.hosted]
          script:
            # pipe comment
            - pipe: atlassian/aws-s3-deploy:1.7.0
              variables:
                AWS_OIDC_ROLE_ARN: 'arn:aws:iam::123456789012:role/deploy'  # quoted on purpose
                S3_BUCKET: acme-site
                LOCAL_PATH: dist
      - step:
          name: Token
          deployment: staging
          oidc: true
          script:
            - export AWS_REGION=eu-west-1 && umask 077
            - echo \"$BITBUCKET_STEP_OIDC_TOKEN\" >> \"$HOME/token\"   # appended!
";
    let after = fix_all("bitbucket-pipelines.yml", before);
    let expected = "\
# Deploys the site. Keep this header.
definitions:
  steps:
    - step: &build
        name: Build   # anchors stay untouched
        script: [make]
pipelines:
  branches:
    main:
      - step: *build
      - step:
          oidc: true
          name: Deploy   # trailing comment
          deployment: production
          runs-on: [self.hosted]
          script:
            # pipe comment
            - pipe: atlassian/aws-s3-deploy:1.7.0
              variables:
                AWS_DEFAULT_REGION: $AWS_DEFAULT_REGION
                AWS_OIDC_ROLE_ARN: 'arn:aws:iam::123456789012:role/deploy'  # quoted on purpose
                S3_BUCKET: acme-site
                LOCAL_PATH: dist
      - step:
          name: Token
          deployment: staging
          oidc: true
          script:
            - export AWS_REGION=eu-west-1 && umask 077
            - echo \"$BITBUCKET_STEP_OIDC_TOKEN\" > \"$HOME/token\"   # appended!
";
    assert_eq!(after, expected);
    let remaining = audit(&[("bitbucket-pipelines.yml", &after)]);
    for rule in ["oidc-missing", "region-missing", "token-file-append"] {
        assert!(
            !rules(&remaining.findings).contains(&rule),
            "{rule} still reported: {:#?}",
            remaining.findings
        );
    }
    // Idempotent: nothing left to fix.
    assert_eq!(fix_all("bitbucket-pipelines.yml", &after), after);
}

#[test]
fn fix_in_block_scalar() {
    let before = "pipelines:\n  default:\n    - step:\n        oidc: true\n        deployment: dev\n        script:\n          - |\n            export AWS_REGION=eu-west-1; umask 077\n            echo $BITBUCKET_STEP_OIDC_TOKEN >> /tmp/t\n";
    let after = fix_all("bitbucket-pipelines.yml", before);
    assert_eq!(after, before.replace(">> /tmp/t", "> /tmp/t"));
}

#[test]
fn no_fix_for_shared_anchor() {
    let before = "\
definitions:
  steps:
    - step: &deploy
        deployment: staging
        script:
          - pipe: atlassian/aws-s3-deploy:1.7.0
            variables: {AWS_OIDC_ROLE_ARN: arn, AWS_DEFAULT_REGION: eu-west-1}
pipelines:
  default:
    - step: *deploy
";
    let report = audit(&[("bitbucket-pipelines.yml", before)]);
    let f = report
        .findings
        .iter()
        .find(|f| f.rule == "oidc-missing")
        .unwrap();
    assert!(
        f.fix.is_none(),
        "editing the anchor would change every user of it"
    );
}

#[test]
fn anchored_steps_report_once_at_the_anchor() {
    let text = "\
definitions:
  steps:
    - step: &lint
        script:
          - curl -s https://x.example | sh
pipelines:
  default:
    - step: *lint
  branches:
    main:
      - step:
          <<: *lint
          name: Lint main
";
    let report = audit(&[("bitbucket-pipelines.yml", text)]);
    let curl: Vec<usize> = report
        .findings
        .iter()
        .filter(|f| f.rule == "curl-pipe-shell")
        .map(|f| f.location.line)
        .collect();
    assert_eq!(curl, vec![5]);
}

#[test]
fn cloudformation_yaml_with_intrinsics() {
    let text = "\
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Workspace: {Type: String}
Resources:
  Provider:
    Type: AWS::IAM::OIDCProvider
    Properties:
      Url: !Sub https://api.bitbucket.org/2.0/workspaces/${Workspace}/pipelines-config/identity/oidc
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal:
              Federated: !GetAtt Provider.Arn
            Action: sts:AssumeRoleWithWebIdentity
";
    let report = audit(&[("template.yml", text)]);
    // The GetAtt is followed to the provider: its ARN, with the workspace known only at deployment.
    let trust = report
        .findings
        .iter()
        .find(|f| f.rule == "oidc-trust-without-condition")
        .unwrap();
    assert_eq!(trust.location.line, 16, "at the Federated principal");
    let mut found = rules(&report.findings);
    found.sort_unstable();
    assert_eq!(
        found,
        [
            // The issuer's workspace is a parameter without a default: the key/principal comparison waits.
            "oidc-trust-without-condition",
            // No ClientIdList: STS rejects every token (Incorrect token audience).
            "provider-client-id",
            // No Version: 2008-10-17.
            "trust-policy-warning",
            "unresolved-reference",
        ]
    );
}

/// A directory audit never loses a report (issue 18): an unparsable pipeline file, a policy that is not JSON, a
/// keyless.yml that is not YAML and a file that could not be read are each one finding at their location
/// (`invalid-pipeline` / `invalid-input`) and a SARIF tool notification, and the good file is audited in full.
#[test]
fn directory_audit_reports_unreadable_files_and_audits_the_rest() {
    let files: Vec<(String, Result<String, String>)> = vec![
        (
            "a/bitbucket-pipelines.yml".into(),
            Ok("pipelines:\n  default: [\n".into()),
        ),
        ("b/bitbucket-pipelines.yml".into(), Ok(MIXED.into())),
        ("c/keyless.yml".into(), Ok("version: 1\naudit: [\n".into())),
        (
            "infra/role.json".into(),
            Ok("{\"Version\": \"2012-10-17\",\n \"Statement\": [\n".into()),
        ),
        (
            "d/bitbucket-pipelines.yml".into(),
            Err("cannot read: Permission denied (os error 13)".into()),
        ),
    ];
    let auditor = Auditor::new(AuditConfig::default(), Options::default());
    let (inputs, report) = auditor.audit_files(&files, None);
    assert_eq!(inputs.len(), files.len());
    let bad: Vec<(String, usize, usize, &str)> = report
        .findings
        .iter()
        .filter(|f| f.rule.starts_with("invalid-"))
        .map(|f| {
            (
                f.location.path.clone(),
                f.location.line,
                f.location.column,
                f.rule,
            )
        })
        .collect();
    assert_eq!(
        bad,
        [
            (
                "a/bitbucket-pipelines.yml".to_owned(),
                3,
                1,
                "invalid-pipeline"
            ),
            ("c/keyless.yml".to_owned(), 3, 1, "invalid-input"),
            (
                "d/bitbucket-pipelines.yml".to_owned(),
                1,
                1,
                "invalid-pipeline"
            ),
            ("infra/role.json".to_owned(), 3, 1, "invalid-input"),
        ]
    );
    // The good file's findings are all there, exactly as when it is audited alone.
    let alone = auditor.audit(&[Input::parse("b/bitbucket-pipelines.yml", MIXED).unwrap()]);
    let good: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.location.path.starts_with("b/"))
        .map(|f| f.rule)
        .collect();
    assert_eq!(good, rules(&alone.findings));
    assert!(good.len() >= 4, "{good:?}");
    assert_eq!(report.unreadable.len(), 4);
    assert!(!report.nothing_readable());
    // Every output format is complete: JSON lists every finding, SARIF validates and lists each unreadable file.
    let v = json::render(&report.findings);
    assert_eq!(
        v["findings"].as_array().unwrap().len(),
        report.findings.len()
    );
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let log = sarif::render_report(&report, "0.1.0");
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], true);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    let uris: Vec<&str> = notes
        .iter()
        .map(|n| {
            n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        uris,
        [
            "a/bitbucket-pipelines.yml",
            "c/keyless.yml",
            "infra/role.json",
            "d/bitbucket-pipelines.yml"
        ]
    );
    assert_eq!(notes[1]["descriptor"]["id"], "invalid-input");
    assert_eq!(notes[3]["level"], "error");
    assert_eq!(
        log["runs"][0]["results"].as_array().unwrap().len(),
        report.findings.len()
    );
    // Nothing readable at all: the report still lists each file, and says so.
    let (_, none) = auditor.audit_files(&files[..1], None);
    assert!(none.nothing_readable());
    assert_eq!(rules(&none.findings), ["invalid-pipeline"]);
    assert_eq!(
        sarif::render_report(&none, "0.1.0")["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );
}

/// Issue 18's calibrated default: `production-on-cloud-runner` is a hardening suggestion (persona `pedantic`), so a
/// plain production deployment from cloud runners exits 0 by default; when keyless.yml gives the production
/// environment self-hosted runner labels, the same step contradicts it and is reported to every persona.
#[test]
fn production_on_cloud_runner_is_pedantic_unless_keyless_yml_says_self_hosted() {
    let text = "pipelines:\n  branches:\n    main:\n      - step:\n          deployment: production\n          script: [make deploy]\n";
    let rules_of = |config: AuditConfig, persona: Persona| -> Vec<&'static str> {
        let inputs = [Input::parse("bitbucket-pipelines.yml", text).unwrap()];
        Auditor::new(
            config,
            Options {
                persona,
                ..Options::default()
            },
        )
        .audit(&inputs)
        .findings
        .iter()
        .map(|f| f.rule)
        .filter(|r| *r == "production-on-cloud-runner")
        .collect()
    };
    assert!(rules_of(AuditConfig::default(), Persona::Regular).is_empty());
    assert_eq!(
        rules_of(AuditConfig::default(), Persona::Pedantic),
        ["production-on-cloud-runner"]
    );
    let keyless = "environments:\n  production:\n    account: \"222222222222\"\n    runners:\n      labels: [self.hosted, linux, prod]\n  staging:\n    account: \"111111111111\"\n";
    let config = AuditConfig::from_keyless_yml(keyless, "keyless.yml")
        .unwrap()
        .unwrap();
    assert_eq!(config.self_hosted_environments, ["production"]);
    assert_eq!(
        rules_of(config, Persona::Regular),
        ["production-on-cloud-runner"]
    );
}
