//! The original Terraform of `../shared/corpus/trust/sources` (the files the corpus's trust policies were extracted
//! from), audited as Terraform reads it: the files of one module (same policy number, repository and directory in
//! `SOURCES.tsv`) together, variables from their defaults. Most of these modules declare their variables in a
//! `variables.tf` the corpus does not hold, so what depends on them is unknown: the expectation is then the
//! `unresolved-reference` that names what could not be checked, never a silent pass. Each expectation was written
//! from AWS's documented semantics (aws.md §2-3) and the source, with the reasoning next to it; findings below `low`
//! other than `unresolved-reference` are not part of the verdict.
//!
//! A Terraform module added to the corpus without an expectation fails the test.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use keyless_audit::{AuditConfig, Auditor, Input, Options, Severity};

fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/trust/sources")
}

/// (module: `NNN directory`, expected rule ids, reasoning).
const EXPECTED: &[(&str, &[&str], &str)] = &[
    (
        "001 DNXLabs/terraform-aws-bitbucket-oidc/.",
        &[
            "missing-aud-condition",
            "set-operator-on-single-valued-key",
            "source-ip-runtime",
            "unresolved-reference",
        ],
        "The statement has a `sub` condition but none on `:aud` (the provider's client IDs are the only audience check). `ForAnyValue:StringLike` on the single-valued `sub` behaves like StringLike (low). Its `aws:SourceIp` list is Atlassian's classic runner IP list: on the 2024 runtime only 4x/8x steps with atlassian-ip-ranges egress from it (source-ip-runtime, as for the extracted 001 in corpus_trust.rs). The subject patterns come from `each.value.conditions` over `var.roles` and the client IDs from `var.audience`, neither declared in the files read: unresolved, not passed.",
    ),
    (
        "002 DNXLabs/terraform-aws-bitbucket-oidc/.",
        &["missing-aud-condition", "unresolved-reference"],
        "No `:aud` condition. The subject (`{repo}:*` or `{repo}*:{env}:*`, chosen by `var.environment_uuid`) and the client IDs depend on variables the files read do not declare.",
    ),
    (
        "003 calidae/terraform-aws-bitbucket-oidc/.",
        &["unresolved-reference"],
        "The provider URL and audience come from `data.http` (the workspace read from Bitbucket's API at plan time) and every condition but the audience from `dynamic` blocks over `var.policies`: nothing a reviewer could judge offline, and keyless says so.",
    ),
    (
        "003 calidae/terraform-aws-bitbucket-oidc/examples/naive",
        &["unresolved-reference"],
        "The role's policy is an output of the registry module `calidae/bitbucket-oidc/aws`, which is not read.",
    ),
    (
        "005 calidae/terraform-aws-bitbucket-oidc/.",
        &["unresolved-reference"],
        "Same module as 003 (another example calls it): conditions from `var.policies`, URL from `data.http`.",
    ),
    (
        "005 calidae/terraform-aws-bitbucket-oidc/examples/strict",
        &["unresolved-reference"],
        "Two roles built from outputs of the registry module, which is not read.",
    ),
    (
        "006 helecloud/terraform-aws-bitbucket-oidc/.",
        &["missing-aud-condition", "unresolved-reference"],
        "The statement checks `sub` (from `var.roles`, not declared here) but never `:aud`; the client ID embeds `var.workspace_uuid`.",
    ),
    (
        "006 helecloud/terraform-aws-bitbucket-oidc/example",
        &[],
        "Calls the module of the directory above (`../.`, audited on its own); its own document is a permissions policy.",
    ),
    (
        "009 shoplineapp/terraform-shoplineapp-bitbucket-oidc-aws-role/.",
        &["missing-aud-condition", "unresolved-reference"],
        "A `sub` condition from `var.allowed_subjects` and no `:aud` condition; the provider ARN is a variable.",
    ),
    (
        "010 terraform-aws-modules/terraform-aws-iam/modules/iam-assumable-role-with-oidc",
        &["unresolved-reference"],
        "terraform-aws-modules/iam v5.5.5: every statement is a `dynamic` block over `var.provider_urls` / `var.allow_self_assume_role`, declared in a variables.tf the corpus does not hold.",
    ),
    (
        "010 truemark/terraform-aws-bitbucket-oidc-provisioner/.",
        &["unresolved-reference"],
        "The role is made by the registry module terraform-aws-modules/iam (not read, no model yet): the call is reported, never passed.",
    ),
    (
        "011 PCDEV-Cloud/terraform-aws-aws_iam/modules/iam-bitbucket-oidc",
        &["missing-aud-condition", "unresolved-reference"],
        "`{repo}*:{env}*` subjects (from `var.repositories`) and no `:aud` condition. The `sts-assume-role` document is a permissions policy (an `aws_iam_policy` uses it), not a trust policy: no finding on it.",
    ),
    (
        "015 unresolved/.",
        &[
            "missing-sub-condition",
            "set-operator-on-single-valued-key",
            "unresolved-reference",
        ],
        "Only the audience, under `ForAnyValue:` (low); no `sub`: any repository of the workspace. The provider is a data source: its client IDs are not in the file.",
    ),
    (
        "017 unresolved/.",
        &["unresolved-reference"],
        "Every statement is a `dynamic` block over `var.github_idp`/`gitlab_idp`/`bitbucket_idp`, not declared in the file.",
    ),
    (
        "018 unresolved/.",
        &["unresolved-reference"],
        "Same shape as 017: statements chosen by variables the file does not declare.",
    ),
    (
        "023 unresolved/.",
        &["missing-aud-condition", "unresolved-reference"],
        "A `sub` condition from `local.aws_repository_filter` (not in the file) and no `:aud` condition; the provider ARN has the account and workspace from variables.",
    ),
    (
        "034 unresolved/.",
        &["missing-sub-condition", "unresolved-reference"],
        "Only the audience (the provider's client IDs, whose UUID comes from a variable): any repository of the workspace can assume a role with iam:*, ec2:*.",
    ),
    (
        "035 unresolved/.",
        &["missing-sub-condition", "unresolved-reference"],
        "The only condition is on `:aud`, with the values of `var.allowed_subjects` (undeclared): no `sub` condition at all.",
    ),
    (
        "037 unresolved/.",
        &["unresolved-reference"],
        "The trust conditions are `var.trust_conditions` and the audiences `var.oidc_audiences`, given by the example through a local module call.",
    ),
    (
        "038 DNXLabs/terraform-aws-vcs-oidc/.",
        &["unresolved-reference"],
        "Conditions from `dynamic` blocks over `each.value` of `var.roles`; client IDs from `var.audiences`.",
    ),
    (
        "039 lablabs/terraform-aws-eks-bitbucket-runner-autoscaler/.",
        &[],
        "Only calls the local module `./modules/addon-oidc` (audited as its own directory).",
    ),
    (
        "039 lablabs/terraform-aws-eks-bitbucket-runner-autoscaler/modules/addon-oidc",
        &["unresolved-reference"],
        "The condition's test, variable and values are all module variables.",
    ),
    (
        "041 unresolved/.",
        &["unresolved-reference"],
        "The audience is chosen by `var.oidc_connector`; the provider is a data source (client IDs not in the file).",
    ),
    (
        "042 appvia/terraform-aws-oidc/modules/role",
        &["unresolved-reference"],
        "The provider is a data source not in the files read and the subjects come from `var.custom_provider`/`var.protected_by`.",
    ),
    (
        "043 terraform-aws-modules/terraform-aws-iam/modules/iam-role",
        &["unresolved-reference"],
        "terraform-aws-modules/iam v6 `iam-role`: the Bitbucket statement is a `dynamic` block over `var.enable_bitbucket_oidc`, declared in a variables.tf the corpus does not hold.",
    ),
    (
        "045 unresolved/.",
        &["invalid-federated-principal", "missing-aud-condition"],
        "`Federated` is the provider URL, which IAM rejects (it names providers by ARN); the only condition is keyed by the audience, not an `aud` key.",
    ),
    (
        "046 pelotech/terraform-aws-oidc-bitbucket/examples",
        &["unresolved-reference"],
        "The roles are made by the registry module `pelotech/oidc-bitbucket/aws`, not read.",
    ),
];

/// Modules where keyless does not yet say what a reviewer would, and why (the test fails when one starts to
/// match, so the entry is moved to EXPECTED).
const NOT_YET: &[(&str, &[&str], &str)] = &[(
    "007 the-ebdm/terraform-aws-bitbucket-oidc/.",
    &["missing-sub-condition", "unresolved-reference"],
    "The statement list is `setunion([oidc_statement], var.allow_account != \"\" ? [account_statement] : [])`: the \
     OIDC statement (audience only, no `sub`) is there whatever the variable, but keyless makes the whole list \
     unknown because the second operand depends on an undeclared variable. Expected missing-sub-condition.",
)];

/// The Terraform modules of the corpus: `NNN directory` → files (name in the corpus, name in the module).
fn modules() -> BTreeMap<String, Vec<(String, String)>> {
    let tsv = std::fs::read_to_string(sources().join("SOURCES.tsv")).unwrap();
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, repo, path) = (cols[0], cols[2], cols[4]);
        if !file.ends_with(".tf") {
            continue;
        }
        let number = &file[..3];
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (d.to_owned(), n.to_owned()),
            None => (".".to_owned(), path.to_owned()),
        };
        let name = if name.ends_with(".tf") {
            name
        } else {
            format!("{name}.tf")
        };
        out.entry(format!("{number} {repo}/{dir}"))
            .or_default()
            .push((file.to_owned(), name));
    }
    out
}

fn audit(module: &str, files: &[(String, String)]) -> Vec<keyless_audit::Finding> {
    let inputs: Vec<Input> = files
        .iter()
        .map(|(file, name)| {
            let text = std::fs::read_to_string(sources().join(file)).unwrap();
            Input::parse(&format!("{module}/{name}"), &text)
                .unwrap_or_else(|e| panic!("{file}: {e}"))
        })
        .collect();
    Auditor::new(AuditConfig::default(), Options::default())
        .audit(&inputs)
        .findings
}

#[test]
fn every_corpus_terraform_module_gets_the_findings_a_reviewer_expects() {
    if !sources().exists() {
        eprintln!("skip: {} not found", sources().display());
        return;
    }
    let modules = modules();
    assert!(modules.len() >= 20, "{} modules", modules.len());
    let mut failures = Vec::new();
    for (module, files) in &modules {
        let findings = audit(module, files);
        let got: BTreeSet<&str> = findings
            .iter()
            .filter(|f| f.severity >= Severity::Low || f.rule == "unresolved-reference")
            .map(|f| f.rule)
            .collect();
        if let Some((_, wanted, _)) = NOT_YET.iter().find(|(m, _, _)| m == module) {
            let wanted: BTreeSet<&str> = wanted.iter().copied().collect();
            assert_ne!(
                got, wanted,
                "{module} now matches: move it from NOT_YET to EXPECTED"
            );
            continue;
        }
        let Some((_, expected, _)) = EXPECTED.iter().find(|(m, _, _)| m == module) else {
            failures.push(format!("{module}: no expectation; keyless says {got:?}"));
            for f in &findings {
                eprintln!(
                    "  {module}: {} {}:{} {}",
                    f.rule, f.location.path, f.location.line, f.message
                );
            }
            continue;
        };
        let expected: BTreeSet<&str> = expected.iter().copied().collect();
        if got != expected {
            failures.push(format!("{module}: expected {expected:?}, got {got:?}"));
            for f in &findings {
                eprintln!(
                    "  {module}: {} {}:{} {}",
                    f.rule, f.location.path, f.location.line, f.message
                );
            }
        }
    }
    for (m, _, _) in EXPECTED {
        assert!(
            modules.contains_key(*m),
            "expectation for a module not in the corpus: {m}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
