//! The original Terraform of `../shared/corpus/trust/sources` (the files the corpus's trust policies were extracted
//! from), audited as Terraform reads it: the files of one repository (same policy number and repository in
//! `SOURCES.tsv`) together, as `keyless audit` reads a checkout, so a module called by another directory (`../.`,
//! `./modules/x`) is read with its caller's inputs, and a call of a published module keyless has a model of is judged
//! through the model; variables take their defaults. Findings are compared per module (the directory of the file
//! each is located in). Most of these modules declare their variables in a
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
        &["missing-sub-condition", "unresolved-reference"],
        "The role's policy is the `json_policies.default` output of `calidae/bitbucket-oidc/aws`, judged through \
         keyless's model of the module: the default `policies` has no subjects, so the document checks only the \
         workspace audience and every repository of the workspace can assume the role (as the extracted 003 in \
         corpus_trust.rs), reported at the `module` block. The provider's URL is built from Bitbucket's API \
         response (`data.http`) at plan time: unresolved.",
    ),
    (
        "005 calidae/terraform-aws-bitbucket-oidc/.",
        &["unresolved-reference"],
        "Same module as 003 (another example calls it): conditions from `var.policies`, URL from `data.http`.",
    ),
    (
        "005 calidae/terraform-aws-bitbucket-oidc/examples/strict",
        &["broad-permissions", "unresolved-reference"],
        "Two roles built from outputs of `calidae/bitbucket-oidc/aws`, judged through keyless's model. The claim \
         keys (`branchName`, `deploymentEnvironment`) are written under the provider's host, which comes from \
         Bitbucket's API at plan time, and `source_ip` from `calidae/ip-addresses/bitbucket` (no model): the \
         claim-key and issuer rules could not run, and keyless says so instead of passing. Issue 22: the roles are \
         Bitbucket deployment roles with `ViewOnlyAccess` and `PowerUserAccess` (every service but IAM): broad.",
    ),
    (
        "006 helecloud/terraform-aws-bitbucket-oidc/.",
        &["missing-aud-condition"],
        "Read through the example's call (`../.`) with its inputs: the statement checks `sub` \
         (`{573817ba-…}*`, pinned to the repository) but never `:aud`; the provider's client ID is the workspace \
         audience built from the example's `workspace_uuid`, so nothing is unresolved.",
    ),
    (
        "006 helecloud/terraform-aws-bitbucket-oidc/example",
        &[],
        "Calls the module of the directory above (its findings are reported there, where the statement is \
         written); its own document is a permissions policy.",
    ),
    (
        "007 the-ebdm/terraform-aws-bitbucket-oidc/.",
        &["missing-sub-condition", "unresolved-reference"],
        "The role's `Statement` is `setunion([local.main_policy_statement], var.allow_account != \"\" ? \
         [account_statement] : [])`. Terraform's `setunion` \"produces a single set containing the elements from \
         all of the given sets\" (developer.hashicorp.com/terraform/language/functions/setunion), so the OIDC \
         statement is in the policy whatever `var.allow_account` (not declared in the file) turns out to be; the \
         other operand can only add statements. IAM evaluates every statement of a policy and any matching Allow \
         grants unless a Deny matches (docs.aws.amazon.com/IAM/latest/UserGuide/\
         reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html); both branches of the \
         conditional are Allow statements, so nothing in the unknown part can narrow the OIDC statement. That \
         statement allows `sts:AssumeRoleWithWebIdentity` from the module's provider with one condition, \
         `StringEquals` on `<url>:aud` against the provider's own client IDs: the audience a Bitbucket token \
         carries is the workspace's (`ari:cloud:bitbucket::workspace/{uuid}`), the same for every repository, \
         and there is no `:sub` condition, so any repository, branch or pull-request step of the workspace can \
         assume the role (missing-sub-condition, as for the extracted 007 in corpus_trust.rs). What depends on the \
         undeclared `var.allow_account`, `var.url` and `var.audiences` (the second statement, the provider host in \
         the condition key and the client IDs) is reported as unresolved, never passed. (The second statement, \
         another account's root with `sts:AssumeRole`, is an ordinary cross-account grant, not a finding once \
         known.)",
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
        "The role is made by terraform-aws-modules/iam `iam-assumable-role-with-oidc` 5.5.5, judged through \
         keyless's v5 model: `create_role`, `provider_urls` and `allow_self_assume_role` are this module's own \
         variables, declared in a variables.tf the corpus does not hold, so whether the role exists and whom it \
         trusts is unresolved, never passed.",
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
        &[
            "admin-permissions",
            "broad-permissions",
            "missing-sub-condition",
            "unresolved-reference",
        ],
        "Only the audience (the provider's client IDs, whose UUID comes from a variable): any repository of the workspace can assume a role with iam:*, ec2:*. \
         Issue 22: the attached `aws_iam_policy.ecr_access_policy` allows `iam:*` (admin: it can grant itself \
         anything) and `ec2:*`, `sns:*`, `events:*`, `logs:*`; AmazonS3FullAccess, AmazonAthenaFullAccess, \
         AWSGlueConsoleFullAccess and SecretsManagerReadWrite are attached too (broad).",
    ),
    (
        "035 unresolved/.",
        &["missing-sub-condition", "unresolved-reference"],
        "The only condition is on `:aud`, with the values of `var.allowed_subjects` (undeclared): no `sub` condition at all.",
    ),
    (
        "037 unresolved/examples/bitbucket",
        &["provider-client-id", "unresolved-reference"],
        "The example's `oidc_audiences` input becomes the module's provider client IDs: \
         `ari:cloud:bitbucket::workspace/{…}` has braces, which no Bitbucket token's audience has, reported at the \
         input. The condition keys are written under `local.oidc_provider_host`, which depends on \
         `var.oidc_provider_arn` (declared in a variables.tf the corpus does not hold): unresolved.",
    ),
    (
        "037 unresolved/modules/aws-eks-ci-oidc-access",
        &["provider-client-id", "unresolved-reference"],
        "Read through the example's call: the provider it would create lists no workspace audience (STS rejects \
         every Bitbucket token); whether it is created, and the role's `Federated`, depend on \
         `var.oidc_provider_arn`, not declared in the files read.",
    ),
    (
        "038 DNXLabs/terraform-aws-vcs-oidc/.",
        &["unresolved-reference"],
        "Conditions from `dynamic` blocks over `each.value` of `var.roles`; client IDs from `var.audiences`.",
    ),
    (
        "039 lablabs/terraform-aws-eks-bitbucket-runner-autoscaler/.",
        &[],
        "Only calls the local module `./modules/addon-oidc` (read through the call; its findings are reported in \
         the module's files, where the statement is written).",
    ),
    (
        "039 lablabs/terraform-aws-eks-bitbucket-runner-autoscaler/modules/addon-oidc",
        &["unresolved-reference"],
        "Read through the root's call: one instance per entry of `local.addon_oidc` and every input from the \
         root's variables, none of them in the files read, so the condition's test, variable and values are \
         unresolved.",
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
        &["missing-aud-condition", "sub-never-matches"],
        "Both roles are made by `pelotech/oidc-bitbucket/aws` 0.1.0, judged through keyless's model: its \
         submodule checks `sub` but never `:aud` (each role reported at its entry of the input map). The example's \
         subject `{xxdfsdf-sdf3123f-4a93-sdf-c1sdf}:*` is a placeholder, not a UUID: as written no Bitbucket \
         token's subject matches it (the extracted 046 in corpus_trust.rs has a real UUID filled in).",
    ),
];

/// Modules where keyless does not yet say what a reviewer would, and why (the test fails when one starts to
/// match, so the entry is moved to EXPECTED). Empty: every module of the corpus is judged as a reviewer would.
const NOT_YET: &[(&str, &[&str], &str)] = &[];

/// Where a corpus file sits in its repository when `SOURCES.tsv` gives an index id instead of a path: 037's example
/// calls `../../modules/aws-eks-ci-oidc-access` (trust/SOURCES.tsv: "examples/bitbucket -> modules/aws-eks-ci-oidc-access",
/// the example being `examples/*/main.tf`).
const LAYOUT: &[(&str, &str)] = &[
    ("037__idx53422784076.tf", "examples/bitbucket/main.tf"),
    (
        "037__idx53120105320.tf",
        "modules/aws-eks-ci-oidc-access/main.tf",
    ),
];

/// One corpus file: its name in the corpus, its path in its repository.
struct File {
    corpus: String,
    path: String,
}

/// The Terraform of the corpus, by repository (`NNN repo`): a module calls another directory of its repository
/// (`../.`, `./modules/x`), so the files of one repository are audited together, as `keyless audit` reads a checkout.
fn repositories() -> BTreeMap<String, Vec<File>> {
    let tsv = std::fs::read_to_string(sources().join("SOURCES.tsv")).unwrap();
    let mut out: BTreeMap<String, Vec<File>> = BTreeMap::new();
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, repo, path) = (cols[0], cols[2], cols[4]);
        if !file.ends_with(".tf") {
            continue;
        }
        let path = match LAYOUT.iter().find(|(f, _)| *f == file) {
            Some((_, p)) => (*p).to_owned(),
            None if path.ends_with(".tf") => path.to_owned(),
            None => format!("{path}.tf"),
        };
        out.entry(format!("{} {repo}", &file[..3]))
            .or_default()
            .push(File {
                corpus: file.to_owned(),
                path,
            });
    }
    out
}

/// The module (`NNN repo/dir`) a path of an audited repository belongs to.
fn module_of(repository: &str, path: &str) -> String {
    let rel = path
        .strip_prefix(repository)
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or(path);
    let dir = rel.rsplit_once('/').map_or(".", |(d, _)| d);
    format!("{repository}/{dir}")
}

/// Every module (`NNN repo/dir`) of the corpus.
fn modules() -> BTreeSet<String> {
    repositories()
        .iter()
        .flat_map(|(repo, files)| {
            files
                .iter()
                .map(move |f| module_of(repo, &format!("{repo}/{}", f.path)))
        })
        .collect()
}

/// The findings of one repository's Terraform, by module (the directory of the file each is located in).
fn audit(repository: &str, files: &[File]) -> BTreeMap<String, Vec<keyless_audit::Finding>> {
    let inputs: Vec<Input> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(sources().join(&f.corpus)).unwrap();
            Input::parse(&format!("{repository}/{}", f.path), &text)
                .unwrap_or_else(|e| panic!("{}: {e}", f.corpus))
        })
        .collect();
    let mut out: BTreeMap<String, Vec<keyless_audit::Finding>> = BTreeMap::new();
    for f in Auditor::new(AuditConfig::default(), Options::default())
        .audit(&inputs)
        .findings
    {
        out.entry(module_of(repository, &f.location.path))
            .or_default()
            .push(f);
    }
    out
}

#[test]
fn every_corpus_terraform_module_gets_the_findings_a_reviewer_expects() {
    if !sources().exists() {
        eprintln!("skip: {} not found", sources().display());
        return;
    }
    let modules = modules();
    assert!(modules.len() >= 20, "{} modules", modules.len());
    let mut findings: BTreeMap<String, Vec<keyless_audit::Finding>> = BTreeMap::new();
    for (repository, files) in repositories() {
        findings.extend(audit(&repository, &files));
    }
    let mut failures = Vec::new();
    for module in &modules {
        let found = findings.get(module).map(Vec::as_slice).unwrap_or_default();
        let got: BTreeSet<&str> = found
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
        let show = |failures: &mut Vec<String>, why: String| {
            failures.push(why);
            for f in found {
                eprintln!(
                    "  {module}: {} {}:{} {}",
                    f.rule, f.location.path, f.location.line, f.message
                );
            }
        };
        let Some((_, expected, _)) = EXPECTED.iter().find(|(m, _, _)| m == module) else {
            show(
                &mut failures,
                format!("{module}: no expectation; keyless says {got:?}"),
            );
            continue;
        };
        let expected: BTreeSet<&str> = expected.iter().copied().collect();
        if got != expected {
            show(
                &mut failures,
                format!("{module}: expected {expected:?}, got {got:?}"),
            );
        }
    }
    // Every finding belongs to a module of the corpus.
    for m in findings.keys() {
        assert!(
            modules.contains(m),
            "a finding outside the corpus modules: {m}"
        );
    }
    for (m, _, _) in EXPECTED {
        assert!(
            modules.contains(*m),
            "expectation for a module not in the corpus: {m}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
