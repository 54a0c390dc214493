//! Runner networks end to end (issue 20): article 004's keyless.yml (the runners' private VPC CIDR as
//! `source_ips`) is refused by `plan` and `check` with the reason and the fix and only warned about by `render`;
//! the corrected keyless.yml (public egress and an STS VPC endpoint) plans both paths, its CloudFormation passes
//! cfn-lint and its Terraform `terraform validate`, and `check` proves the role assumable only from inside the
//! networks. The emulator's side is `crates/emulator/tests/oneshot/sts.rs`
//! (`vpc_headers_play_a_call_through_an_sts_vpc_endpoint`), doctor's `crates/cli/tests/aws/assume_env.rs`.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use crate::support::{self, clients};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clients::terraform::{Auth, Terraform, provider_block};
use serde_json::{Value, json};

const PRODUCTION: &str = "222222222222";

fn keyless() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("keyless"))
}

/// examples/keyless.yml with production's `source_ips` line replaced by `network`.
fn workspace(dir: &Path, network: &str) -> PathBuf {
    let text = std::fs::read_to_string(support::repo_root().join("examples/keyless.yml")).unwrap();
    let line = "    source_ips: [203.0.113.0/24]\n";
    assert!(text.contains(line));
    let path = dir.join("keyless.yml");
    std::fs::write(&path, text.replace(line, network)).unwrap();
    path
}

/// Article 004: "if your VPC CIDR is: 10.0.0.0/24" as the runners' source IPs.
const ARTICLE_004: &str = "    source_ips: [10.0.0.0/24]\n";
/// The corrected environment: the NAT gateway's public egress, or the STS interface endpoint from the runners'
/// subnet.
const CORRECTED: &str = "    source_ips: [203.0.113.0/24]\n    vpc_endpoints: [vpce-0a1b2c3d4e5f60718]\n    vpc_source_ips: [10.0.0.0/24]\n";

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn article_004_is_refused_by_plan_and_check_and_only_warned_about_by_render() {
    let dir = tempfile::tempdir().unwrap();
    let config = workspace(dir.path(), ARTICLE_004);
    for command in [&["plan", "-c"][..], &["check", "-c"][..]] {
        let output = keyless().args(command).arg(&config).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(
            err.contains("`10.0.0.0/24` in `source_ips` of `production` is private (RFC 1918)")
                && err.contains("AWS never sees it in `aws:SourceIp`")
                && err.contains("NAT gateway")
                && err.contains("keyless doctor --check-ip")
                && err.contains("vpc_endpoints"),
            "{err}"
        );
        assert!(
            err.contains("keyless.yml:"),
            "the error names the file and line: {err}"
        );
    }
    let output = keyless()
        .args(["render", "-c"])
        .arg(&config)
        .args(["--branch", "main"])
        .arg(support::repo_root().join("examples/demo/render-pipelines.yml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("warning:") && err.contains("10.0.0.0/24") && err.contains("render goes on"),
        "{err}"
    );
}

fn plan_to(config: &Path, format: &str, out: &Path) {
    let output = keyless()
        .args(["plan", "-c"])
        .arg(config)
        .args(["--format", format, "-o"])
        .arg(out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn the_corrected_workspace_plans_both_paths_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let config = workspace(dir.path(), CORRECTED);
    let out = dir.path().join("out");

    plan_to(&config, "json", &out.join("json"));
    let plan: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(format!("json/{PRODUCTION}.iam.json"))).unwrap(),
    )
    .unwrap();
    let trust = &plan["roles"][0]["trust_policy"];
    let statements = trust["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{trust:#}");
    assert_eq!(
        statements[0]["Condition"]["IpAddress"],
        json!({"aws:SourceIp": ["203.0.113.0/24"]})
    );
    assert_eq!(
        statements[1]["Condition"]["StringEquals"]["aws:SourceVpce"],
        json!(["vpce-0a1b2c3d4e5f60718"])
    );
    assert_eq!(
        statements[1]["Condition"]["IpAddress"],
        json!({"aws:VpcSourceIp": ["10.0.0.0/24"]})
    );

    plan_to(&config, "cloudformation", &out.join("cfn"));
    let template_path = out.join(format!("cfn/{PRODUCTION}.template.json"));
    let template: Value =
        serde_json::from_str(&std::fs::read_to_string(&template_path).unwrap()).unwrap();
    // The same statements (the principal is an `Fn::If` on `CreateOidcProvider` in CloudFormation).
    let conditions = |doc: &Value| -> Vec<Value> {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Condition"].clone())
            .collect()
    };
    assert_eq!(
        conditions(
            &template["Resources"]["RoleBitbucketProductionDeploy"]["Properties"]["AssumeRolePolicyDocument"]
        ),
        conditions(trust)
    );
    if let Some(cfn_lint) = support::venv_tool("cfn-lint") {
        let output = Command::new(cfn_lint).arg(&template_path).output().unwrap();
        assert!(
            output.status.success() && output.stdout.is_empty(),
            "cfn-lint: {}",
            text(&output)
        );
    }

    plan_to(&config, "terraform", &out.join("tf"));
    let module = std::fs::read_to_string(out.join(format!("tf/{PRODUCTION}.tf.json"))).unwrap();
    let parsed: Value = serde_json::from_str(&module).unwrap();
    let embedded: Value = serde_json::from_str(
        parsed["resource"]["aws_iam_role"]["bitbucket_production_deploy"]["assume_role_policy"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(embedded, *trust);
    if let Some(tf) = Terraform::new() {
        tf.write("main.tf.json", &module);
        tf.write(
            "provider.tf",
            &provider_block(
                "http://127.0.0.1:9",
                &Auth::Static {
                    access_key: "AKIAEXAMPLEEXAMPLE00",
                    secret_key: "validate-only",
                },
            ),
        );
        tf.ok(&["init", "-input=false", "-no-color"]);
        let validated = tf.ok(&["validate", "-no-color"]);
        assert!(validated.contains("Success"), "{validated}");
    }
}

#[test]
fn check_proves_the_role_assumable_only_from_inside_the_networks() {
    let dir = tempfile::tempdir().unwrap();
    let config = workspace(dir.path(), CORRECTED);
    let output = keyless()
        .args(["check", "--format", "json", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let json: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&output)));
    let production = "arn:aws:iam::222222222222:role/keyless/bitbucket-production-deploy";
    let rows: Vec<&Value> = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["role"] == production
                && s["repository"] == "web-frontend"
                && s["deployment"] == "production"
                && s["branch"] == "main"
        })
        .collect();
    let aws = |pred: &dyn Fn(&Value) -> bool| -> Vec<&str> {
        rows.iter()
            .filter(|s| pred(&s["network"]))
            .map(|s| s["aws"].as_str().unwrap())
            .collect()
    };
    assert_eq!(
        aws(&|n| n["path"] == "internet" && n["source_ip"] == "203.0.113.1"),
        ["allow"]
    );
    assert_eq!(
        aws(&|n| n["path"] == "internet" && n["source_ip"] == "198.51.100.7"),
        ["deny"]
    );
    assert_eq!(
        aws(&|n| n["path"] == "vpc" && n["endpoint"] == "vpce-0a1b2c3d4e5f60718"),
        ["allow"]
    );
    assert_eq!(
        aws(&|n| n["path"] == "vpc" && n["endpoint"] != "vpce-0a1b2c3d4e5f60718"),
        ["deny"]
    );
    let notes: Vec<&str> = json["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes.iter().any(|n| n
            .contains("`production` trusts calls through an STS interface VPC endpoint")
            && n.contains("https://sts.eu-west-1.amazonaws.com")),
        "{notes:?}"
    );
    // The table says where AWS sees each caller.
    let output = keyless()
        .args(["check", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("vpce-0a1b2c3d4e5f60718 10.0.0.1"), "{table}");
    assert!(table.contains("note: `production` trusts calls"), "{table}");
}
