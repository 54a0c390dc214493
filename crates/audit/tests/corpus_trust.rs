//! The real trust policies of `../shared/corpus/trust` (35 policies extracted from public Terraform,
//! CloudFormation, CDK and docs) and `trust/asis` (12 files in the shapes infrastructure code writes them:
//! CloudFormation intrinsics, CDK synth output, `aws iam get-role` output), each audited with the findings a careful
//! reviewer expects. The expectations were written from AWS's and Atlassian's documented behaviour (aws.md §2-3,
//! bitbucket.md §1-2), not from keyless's output; the reasoning is next to each. Findings below `low` (the
//! pedantic `{repo}:*` note on a non-production role) are not part of the verdict; `unresolved-reference` (info)
//! is, because it says what could not be checked.
//!
//! A file added to the corpus without an expectation fails the test.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use keyless_audit::{AuditConfig, Auditor, Input, Options, Severity};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/trust")
}

/// (file, expected rule ids, reasoning).
const EXPECTED: &[(&str, &[&str], &str)] = &[
    (
        "001__DNXLabs__terraform-aws-bitbucket-oidc.json",
        &[
            "missing-aud-condition",
            "set-operator-on-single-valued-key",
            "source-ip-runtime",
        ],
        "No `:aud` condition: the role relies on the provider's client IDs alone. `ForAnyValue:StringLike` on the \
         single-valued `sub` behaves like StringLike (low). The runner IP list is Atlassian's classic one: since the \
         2024 runtime only 4x/8x steps with atlassian-ip-ranges egress from it (source-ip-runtime, issue 20).",
    ),
    (
        "002__DNXLabs__terraform-aws-bitbucket-oidc.json",
        &["missing-aud-condition"],
        "`{repo}*:{env}:*` admits only that repository's deployments to that environment (the star can only match \
         the empty string before `:{env}:`), so no broad-sub; no `:aud` condition.",
    ),
    (
        "003__calidae__terraform-aws-bitbucket-oidc.json",
        &["missing-sub-condition"],
        "Only the workspace audience: every repository, branch and pull request of the workspace can assume it.",
    ),
    (
        "005__calidae__terraform-aws-bitbucket-oidc.json",
        &["source-ip-runtime", "unsupported-claim-key"],
        "`branchName` and `deploymentEnvironment` are not condition keys AWS sets for a generic OIDC provider \
         (aws.md §3.2): the StringLike conditions on them are always false, the role can never be assumed. The \
         classic Atlassian IP list fails 1x/2x cloud steps (source-ip-runtime).",
    ),
    (
        "006__helecloud__terraform-aws-bitbucket-oidc.json",
        &["missing-aud-condition"],
        "`{repo}*` is pinned to the repository (the first 38 characters are its braced UUID); no `:aud`.",
    ),
    (
        "007__the-ebdm__terraform-aws-bitbucket-oidc.json",
        &["missing-sub-condition"],
        "The OIDC statement checks only the audience. The second statement trusts another account's root with \
         sts:AssumeRole, an ordinary cross-account grant.",
    ),
    (
        "009__shoplineapp__terraform-shoplineapp-bitbucket-oidc-aws-role.json",
        &["missing-aud-condition"],
        "`{repo}:*` pins the repository; no `:aud` condition.",
    ),
    (
        "010__truemark__terraform-aws-bitbucket-oidc-provisioner.json",
        &["missing-aud-condition"],
        "The self-assume statement (`AWS: *` restricted by `aws:PrincipalArn` to the role itself) lets only the role \
         assume itself; the OIDC statement has no `:aud`.",
    ),
    (
        "011__PCDEV-Cloud__terraform-aws-aws_iam.json",
        &["missing-aud-condition"],
        "`{repo}*:{env}*` for two environments: pinned to the repository and those environments; no `:aud`.",
    ),
    (
        "013__johnf__gitlab-aws-cdk-example.json",
        &["issuer-mismatch", "missing-sub-condition"],
        "`gitlab.com:aud` (copied from the GitLab stack) is never present in a Bitbucket token, so StringEquals on \
         it is always false; and no `sub` condition.",
    ),
    (
        "014__dev-sareno__devops.json",
        &[],
        "Workspace audience and `{repo}:*`: any step of one repository, on a role not named production.",
    ),
    (
        "015__unresolved__idx67248162038.json",
        &["missing-sub-condition", "set-operator-on-single-valued-key"],
        "Only the audience, under `ForAnyValue:` (low: false when missing, like the plain operator); no `sub`.",
    ),
    (
        "017__unresolved__idx42971690376.json",
        &["issuer-mismatch", "missing-sub-condition"],
        "The condition key is built from the provider's ARN (`arn:aws:iam::…:oidc-provider/…:aud`); keys use the \
         URL part only, so the key is never present. No `sub` either.",
    ),
    (
        "018__unresolved__idx2809001982.json",
        &[
            "invalid-federated-principal",
            "issuer-mismatch",
            "missing-sub-condition",
        ],
        "The provider is `api.Bitbucket.org/…`: provider URLs are compared case-sensitively with the issuer \
         (`https://api.bitbucket.org/…`), so no token matches it; the key names another account's provider ARN and \
         workspace; no `sub`.",
    ),
    (
        "019__unresolved__idx2430386991.json",
        &["missing-sub-condition", "source-ip-runtime"],
        "Audience plus an Atlassian IP list: any repository of the workspace (on the IP ranges) can assume this \
         AdministratorAccess role; only 4x/8x steps with atlassian-ip-ranges egress from that list (source-ip-runtime).",
    ),
    (
        "021__unresolved__idx51919137193.json",
        &["invalid-federated-principal", "missing-sub-condition"],
        "The provider URL names the workspace by its UUID; Bitbucket's issuer uses the slug, so no token matches. \
         No `sub`.",
    ),
    (
        "022__unresolved__idx58746395527.json",
        &[
            "aud-format",
            "invalid-federated-principal",
            "missing-sub-condition",
        ],
        "The provider is `api.bitbucket.org` alone, never a Bitbucket issuer; the audience names the workspace by \
         its slug (`…workspace/acme`), never a token's audience; no `sub`.",
    ),
    (
        "023__unresolved__idx33220933538.json",
        &["missing-aud-condition"],
        "`{repo}:*`; no `:aud`.",
    ),
    (
        "025__unresolved__idx17292658605.json",
        &[
            "invalid-federated-principal",
            "issuer-mismatch",
            "missing-aud-condition",
        ],
        "The provider URL lost `/2.0/workspaces/` (`api.bitbucket.org{var.workspace_id}/…`), so it is not an issuer; \
         the key uses the right path, which is therefore another provider's; no `:aud`.",
    ),
    (
        "026__unresolved__idx2164856624.json",
        &["missing-aud-condition"],
        "The console wizard's Condition replaced by a `sub` condition only.",
    ),
    (
        "027__unresolved__idx56557210586.json",
        &["sub-never-matches"],
        "`{repo}:main:*`: Bitbucket's subject never holds a branch name (the design doc's `{repo}:{branch}:{step}` \
         is wrong), so the role can never be assumed.",
    ),
    (
        "029__unresolved__idx70812092320.json",
        &[],
        "Workspace audience and `{repo}:*` on a role not named production.",
    ),
    (
        "030__unresolved__idx55572777629.json",
        &["sub-never-matches"],
        "`{workspace}:{repo}:*` starts with the workspace UUID (the audience's): subjects start with the repository \
         UUID, so it never matches.",
    ),
    (
        "031__unresolved__idx55170398130.json",
        &["sub-never-matches", "wildcard-in-equals"],
        "The same workspace-first pattern, under StringEquals where `*` is literal.",
    ),
    (
        "033__unresolved__idx58684781274.json",
        &[],
        "Audience and `{repo}:*` (AdministratorAccess, but the trust itself is scoped to one repository).",
    ),
    (
        "034__unresolved__idx26019565262.json",
        &["missing-sub-condition"],
        "Only the audience: any repository of the workspace gets iam:*, ec2:* and S3.",
    ),
    (
        "035__unresolved__idx29384199677.json",
        &["aud-format", "missing-sub-condition"],
        "The subject pattern was put on the `:aud` key: no token's audience is `{repo}:*`, and there is no `sub` \
         condition.",
    ),
    (
        "037__unresolved__idx53422784076.json",
        &["aud-format", "sub-never-matches"],
        "The audience has braces around the workspace UUID (never a token's audience), and the exact StringEquals \
         subject names one step run.",
    ),
    (
        "038__DNXLabs__terraform-aws-vcs-oidc.json",
        &[
            "broad-sub",
            "missing-aud-condition",
            "set-operator-on-single-valued-key",
            "source-ip-runtime",
        ],
        "`*:*` admits every repository of the workspace (the IP list does not narrow that); `ForAnyValue:` on `sub`; \
         no `:aud`.",
    ),
    (
        "039__lablabs__terraform-aws-eks-bitbucket-runner-autoscaler.json",
        &["broad-sub", "missing-aud-condition"],
        "`sub` StringLike `*`: every repository; no `:aud`.",
    ),
    (
        "041__unresolved__idx44481661388.json",
        &[],
        "Audience and `{repo}:*`.",
    ),
    (
        "042__appvia__terraform-aws-oidc.json",
        &[],
        "Audience and `{repo}:*` (the module ignores `protected_by.branch`, which AWS could not check anyway).",
    ),
    (
        "043__terraform-aws-modules__terraform-aws-iam.json",
        &["aud-format"],
        "The module's default audience `sts.amazonaws.com` is GitHub's: no Bitbucket token carries it. \
         `ForAllValues:StringEquals` on `:aud` is right for a multi-valued aud (no finding).",
    ),
    (
        "045__unresolved__idx32184615406.json",
        &["invalid-federated-principal", "missing-aud-condition"],
        "The `Federated` value is the provider URL, which IAM rejects (\"Federated principals must be valid domain \
         names or SAML metadata ARNs\"); the only condition is keyed by the audience, not an `aud` key.",
    ),
    (
        "046__pelotech__terraform-aws-oidc-bitbucket.json",
        &["missing-aud-condition"],
        "`{repo}:*`; no `:aud`.",
    ),
    (
        "asis/A10_033_live_get_role.json",
        &["broad-sub"],
        "`bitbucket-deploy-live-site` is a production role (`live` is one of its words) and accepts `{repo}:*`: every \
         branch and pull request of the repository.",
    ),
    (
        "asis/A11_provider_clientid_sts.yaml",
        &["provider-client-id"],
        "The provider's only client ID is `sts.amazonaws.com`: STS rejects every Bitbucket token (Incorrect token \
         audience) before the (correct) trust policy.",
    ),
    (
        "asis/A13_federated_ref_bad_aud_sub_claim.json",
        &["aud-format", "sub-without-braces", "unsupported-claim-key"],
        "`Federated: {Ref: P}` is the Bitbucket provider of the same template: GitHub's audience, a subject without \
         braces and a `branchName` condition (never present) — the same findings as with `!Sub`.",
    ),
    (
        "asis/A14_federated_getatt_bad_aud_sub_claim.json",
        &["aud-format", "sub-without-braces", "unsupported-claim-key"],
        "The same through `Fn::GetAtt [P, Arn]`.",
    ),
    (
        "asis/A15_federated_sub_bad_aud_sub_claim.json",
        &["aud-format", "sub-without-braces", "unsupported-claim-key"],
        "The same through `Fn::Sub`.",
    ),
    (
        "asis/A1_019_cfn_fnsub_string.yaml",
        &[
            "admin-permissions",
            "missing-sub-condition",
            "source-ip-runtime",
            "unresolved-reference",
        ],
        "The trust policy is a JSON string under `Fn::Sub`: read, it has no `sub` condition, so any repository can \
         assume this AdministratorAccess role (admin-permissions, issue 22: `ManagedPolicyArns` is read beside the \
         trust policy). The workspace and audience are parameters without defaults: what could not be checked is \
         named.",
    ),
    (
        "asis/A2_013_cdk_synth_ref.json",
        &["issuer-mismatch", "missing-sub-condition"],
        "CDK synth output: `Ref` to the provider of the same template; the `gitlab.com:aud` key is never present; no \
         `sub`.",
    ),
    (
        "asis/A3_036_cdk_synth_no_condition.json",
        &["oidc-trust-without-condition"],
        "CDK's custom provider resource, trusted with no Condition at all.",
    ),
    (
        "asis/A5_sub_star_production.yaml",
        &["broad-sub"],
        "Production role `bitbucket-prod` accepts every step of the repository (`{repo}:*`).",
    ),
    (
        "asis/A6_016_get_role.json",
        &["broad-sub"],
        "`*:*:*` admits every repository's deployment steps. The audience `ariel:stack:bitbucket:pipelines` may be a \
         custom audience (`oidc.audiences`), so it is not judged.",
    ),
    (
        "asis/A7_028_get_role_prod.json",
        &["sub-never-matches"],
        "`{repo}:prod-*:*`: the middle segment is an environment UUID, never a name, so no token matches.",
    ),
    (
        "asis/A9_product_role_get_role.json",
        &[],
        "`product-catalog-deploy` is not a production role (`product` is not `prod`): `{repo}:*` is only the \
         pedantic note.",
    ),
];

/// The files of `trust/sources` that are not Terraform (the Terraform ones are audited as modules in
/// corpus_terraform.rs): CDK TypeScript programs, Markdown docs (one a Jekyll post holding a CloudFormation
/// template), a shell script. Issue 19 asks keyless to read trust where tools write it: CloudFormation/SAM
/// templates, CDK *synth output*, `aws iam get-role` output and Terraform; a TypeScript program or prose is none of
/// those (the trust policy a CDK app makes exists only once `cdk synth` has run it). Each file is therefore judged
/// in the forms keyless reads: the policy the corpus extracted from it (`trust/NNN__*.json`, judged in EXPECTED)
/// and, where the corpus holds it, the file its tool writes (`asis/`). (file, forms, reasoning)
const SOURCES_READ_AS: &[(&str, &[&str], &str)] = &[
    (
        "013__bitbucket-oidc-cdk-stack.ts",
        &[
            "013__johnf__gitlab-aws-cdk-example.json",
            "asis/A2_013_cdk_synth_ref.json",
        ],
        "A CDK stack (TypeScript): its synth output (the provider referenced with `Ref`) is asis/A2.",
    ),
    (
        "014__README.md",
        &["014__dev-sareno__devops.json"],
        "A README's JSON snippet with `<placeholders>`: the extracted policy fills them in.",
    ),
    (
        "019__idx2430386991.md",
        &[
            "019__unresolved__idx2430386991.json",
            "asis/A1_019_cfn_fnsub_string.yaml",
        ],
        "A Jekyll post holding a CloudFormation template (`Fn::Sub` over a JSON string): the template as a file is \
         asis/A1.",
    ),
    (
        "021__idx51919137193.sh",
        &["021__unresolved__idx51919137193.json"],
        "A shell script writing the policy in a heredoc with `${VARIABLES}`.",
    ),
    (
        "022__idx58746395527.md",
        &["022__unresolved__idx58746395527.json"],
        "Docs with a JSON snippet.",
    ),
    (
        "025__idx17292658605.md",
        &["025__unresolved__idx17292658605.json"],
        "Docs with a policy snippet.",
    ),
    (
        "026__idx2164856624.md",
        &["026__unresolved__idx2164856624.json"],
        "Docs with a policy snippet.",
    ),
    (
        "027__idx56557210586.md",
        &["027__unresolved__idx56557210586.json"],
        "Docs with CDKTF Python: a program, like a CDK app.",
    ),
    (
        "029__idx70812092320.md",
        &["029__unresolved__idx70812092320.json"],
        "Docs with a JSON snippet.",
    ),
    (
        "030__idx55572777629.md",
        &["030__unresolved__idx55572777629.json"],
        "Docs with HCL and JSONC snippets.",
    ),
    (
        "031__idx55170398130.md",
        &["031__unresolved__idx55170398130.json"],
        "Design notes with Python snippets.",
    ),
    (
        "033__idx58684781274.ts",
        &[
            "033__unresolved__idx58684781274.json",
            "asis/A10_033_live_get_role.json",
        ],
        "A CDK stack (TypeScript): the role it deploys, as `aws iam get-role` returns it, is asis/A10.",
    ),
    (
        "038__bitbucket.md",
        &["038__DNXLabs__terraform-aws-vcs-oidc.json"],
        "A module's docs page; the module's Terraform (038__iam-role.tf) is audited in corpus_terraform.rs.",
    ),
];

/// Every source file that is not Terraform is judged in a form keyless reads (SOURCES_READ_AS), each with an
/// expectation, and each form is the policy extracted from that file (`trust/SOURCES.tsv`).
#[test]
fn every_corpus_source_is_judged_in_a_form_keyless_reads() {
    let sources = corpus().join("sources");
    if !sources.is_dir() {
        return;
    }
    let tsv = std::fs::read_to_string(sources.join("SOURCES.tsv")).unwrap();
    let rows: Vec<Vec<&str>> = tsv
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    let mut others: Vec<&str> = rows
        .iter()
        .map(|r| r[0])
        .filter(|f| !f.ends_with(".tf"))
        .collect();
    others.sort_unstable();
    let listed: Vec<&str> = SOURCES_READ_AS.iter().map(|(f, _, _)| *f).collect();
    assert_eq!(
        others, listed,
        "a source file that is not Terraform without its forms"
    );
    for (file, forms, _) in SOURCES_READ_AS {
        let extracted = rows.iter().find(|r| r[0] == *file).map(|r| r[1]).unwrap();
        assert!(
            forms.contains(&extracted),
            "{file}: its extracted policy {extracted} is not among its forms"
        );
        for form in *forms {
            assert!(
                corpus().join(form).is_file(),
                "{file}: {form} is not in the corpus"
            );
            assert!(
                EXPECTED.iter().any(|(f, _, _)| f == form),
                "{file}: {form} has no expectation"
            );
        }
    }
}

fn audit(path: &Path, shown: &str) -> Vec<keyless_audit::Finding> {
    let text = std::fs::read_to_string(path).unwrap();
    let input = Input::parse(shown, &text).unwrap_or_else(|e| panic!("{shown}: {e}"));
    Auditor::new(AuditConfig::default(), Options::default())
        .audit(&[input])
        .findings
}

#[test]
fn every_corpus_trust_policy_gets_the_findings_a_reviewer_expects() {
    let root = corpus();
    if !root.is_dir() {
        assert!(
            std::env::var_os("KEYLESS_REQUIRE_TOOLS").is_none(),
            "{} is missing",
            root.display()
        );
        eprintln!("skipping: {} is missing", root.display());
        return;
    }
    let mut files: Vec<String> = Vec::new();
    for dir in ["", "asis"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") || name.ends_with(".yaml") || name.ends_with(".yml") {
                files.push(if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                });
            }
        }
    }
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        let Some((_, expected, why)) = EXPECTED.iter().find(|(f, _, _)| f == file) else {
            failures.push(format!("{file}: no expectation written"));
            continue;
        };
        let findings = audit(&root.join(file), file);
        let got: BTreeSet<&str> = findings
            .iter()
            .filter(|f| f.severity >= Severity::Low || f.rule == "unresolved-reference")
            .map(|f| f.rule)
            .collect();
        let want: BTreeSet<&str> = expected.iter().copied().collect();
        if got != want {
            let detail: Vec<String> = findings
                .iter()
                .map(|f| {
                    format!(
                        "    {}:{} {} {}",
                        f.location.line, f.location.column, f.rule, f.message
                    )
                })
                .collect();
            failures.push(format!(
                "{file}: expected {want:?}, got {got:?} ({why})\n{}",
                detail.join("\n")
            ));
        }
    }
    assert_eq!(
        files.len(),
        EXPECTED.len(),
        "an expectation names a file that is not in the corpus"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The "references hide every Bitbucket rule": the same bad role with `Federated` written as `Ref`,
/// `Fn::GetAtt` and `Fn::Sub` gets the same findings, each located in the file.
#[test]
fn references_to_the_provider_hide_nothing() {
    let root = corpus().join("asis");
    if !root.is_dir() {
        return;
    }
    let mut seen = Vec::new();
    for file in [
        "A13_federated_ref_bad_aud_sub_claim.json",
        "A14_federated_getatt_bad_aud_sub_claim.json",
        "A15_federated_sub_bad_aud_sub_claim.json",
    ] {
        let findings = audit(&root.join(file), file);
        let located: Vec<(&str, usize)> =
            findings.iter().map(|f| (f.rule, f.location.line)).collect();
        assert!(located.iter().all(|(_, line)| *line >= 1), "{file}");
        seen.push(located.iter().map(|(r, _)| *r).collect::<BTreeSet<_>>());
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[1], seen[2]);
}
