#![allow(clippy::unwrap_used)]
//! Runner networks (issue 20): `source_ips` holds only public egress (a private range is a trust problem that
//! `plan` refuses), the VPC path (`vpc_endpoints`, `vpcs`, `vpc_source_ips`) renders its own Allow statement, and
//! the matrix tries each identity over the internet and through each VPC endpoint, as AWS fills the keys
//! (IAM User Guide, `reference_sts_vpc_condition_keys_federated`).

use keyless_iam::network::Network;
use keyless_workspace::matrix::{self, AwsVerdict, TrustView};
use keyless_workspace::{Config, PlanError};
use serde_json::{Value, json};
use time::macros::datetime;

const NOW: time::OffsetDateTime = datetime!(2026-11-22 05:00 UTC);
const ISSUER: &str = "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";

/// A workspace whose production environment has `network` (YAML lines under the environment).
fn workspace(network: &str) -> String {
    format!(
        r#"version: 1
workspace:
  slug: acme
  uuid: "{{5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}}"
environments:
  production:
    account: "222222222222"
    region: eu-west-1
    branches: [main]
    runners:
      labels: [self.hosted, linux]
{network}repositories:
  web:
    uuid: "{{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}}"
    deployments:
      production: "{{7e6d5c4b-3a2f-4e1d-9c0b-8a7f6e5d4c31}}"
"#
    )
}

fn config(network: &str) -> Config {
    keyless_workspace::parse(&workspace(network), "keyless.yml").unwrap()
}

fn trust(config: &Config) -> Value {
    let plan = keyless_workspace::plan(config).unwrap();
    plan.accounts[0].roles[0].trust_policy.clone()
}

#[test]
fn a_private_range_in_source_ips_is_a_trust_problem_plan_refuses() {
    // Article 004: the runners' VPC CIDR as aws:SourceIp.
    for range in [
        "10.0.0.0/24",
        "172.31.0.0/16",
        "192.168.1.7",
        "::ffff:10.0.0.0/120",
        "fd00::/8",
    ] {
        let config = config(&format!("    source_ips: [\"{range}\"]\n"));
        let error = keyless_workspace::plan(&config).unwrap_err();
        let PlanError::Network(diagnostics) = &error else {
            panic!("{range}: {error}");
        };
        let d = &diagnostics.items[0];
        assert!(
            d.message.contains("AWS never sees it in `aws:SourceIp`"),
            "{}",
            d.message
        );
        let help = d.help.as_deref().unwrap();
        assert!(
            help.contains("NAT gateway") && help.contains("vpc_endpoints"),
            "{help}"
        );
        assert_eq!(d.location.line, 12, "{range}");
        // render and serve only warn.
        assert_eq!(config.trust_warnings().len(), 1);
        assert!(config.check_trust().is_err());
    }
    // Public and documentation ranges are accepted.
    for range in [
        "203.0.113.0/24",
        "34.248.0.0/24",
        "2001:db8::/32",
        "2600:1f18::/32",
    ] {
        let config = config(&format!("    source_ips: [\"{range}\"]\n"));
        assert!(config.check_trust().is_ok(), "{range}");
        keyless_workspace::plan(&config).unwrap();
    }
}

#[test]
fn the_vpc_path_needs_an_endpoint_or_vpc_and_valid_ids() {
    let only_ips = config("    vpc_source_ips: [10.20.0.0/24]\n");
    let error = keyless_workspace::plan(&only_ips).unwrap_err().to_string();
    assert!(error.contains("needs `vpc_endpoints` or `vpcs`"), "{error}");
    for (line, expected) in [
        (
            "    vpc_endpoints: [vpc-0a1b2c3d4e5f60718]\n",
            "is not a VPC endpoint ID",
        ),
        (
            "    vpcs: [vpce-0a1b2c3d4e5f60718]\n",
            "is neither a VPC ID nor a VPC ARN",
        ),
        (
            "    vpc_source_ips: [10.20.0.1/24]\n    vpcs: [vpc-0e9801d129c0ffee1]\n",
            "has host bits set",
        ),
    ] {
        let error = keyless_workspace::parse(&workspace(line), "keyless.yml")
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{line}: {error}");
    }
}

#[test]
fn each_path_renders_its_own_allow_statement() {
    let both = config(
        "    source_ips: [203.0.113.0/24]\n    vpc_endpoints: [vpce-0a1b2c3d4e5f60718]\n    vpcs: [vpc-0e9801d129c0ffee1, \"arn:aws:ec2:eu-west-1:222222222222:vpc/vpc-0e9801d129c0ffee2\"]\n    vpc_source_ips: [10.20.0.0/24]\n",
    );
    let policy = trust(&both);
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{policy:#}");
    assert_eq!(statements[0]["Sid"], "BitbucketProduction");
    assert_eq!(
        statements[0]["Condition"]["IpAddress"],
        json!({"aws:SourceIp": ["203.0.113.0/24"]})
    );
    assert_eq!(statements[1]["Sid"], "BitbucketProductionVpc");
    let vpc = &statements[1]["Condition"];
    assert_eq!(
        vpc["StringEquals"]["aws:SourceVpce"],
        json!(["vpce-0a1b2c3d4e5f60718"])
    );
    assert_eq!(
        vpc["StringEquals"]["aws:SourceVpc"],
        json!(["vpc-0e9801d129c0ffee1"])
    );
    assert_eq!(
        vpc["ArnEquals"]["aws:SourceVpcArn"],
        json!(["arn:aws:ec2:eu-west-1:222222222222:vpc/vpc-0e9801d129c0ffee2"])
    );
    assert_eq!(vpc["IpAddress"]["aws:VpcSourceIp"], json!(["10.20.0.0/24"]));
    assert!(vpc.get("IpAddress").unwrap().get("aws:SourceIp").is_none());
    // Both statements keep the identity conditions.
    for s in statements {
        assert_eq!(
            s["Condition"]["StringEquals"][format!("{ISSUER}:aud")],
            "ari:cloud:bitbucket::workspace/5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11"
        );
        assert!(s["Condition"]["StringLike"][format!("{ISSUER}:sub")].is_array());
    }
    // keyless-iam's validation finds nothing to say about it (no private aws:SourceIp, no mixed statement).
    let parsed = keyless_iam::parse(&policy.to_string()).unwrap();
    let codes: Vec<&str> = parsed
        .validate(keyless_iam::PolicyKind::Trust)
        .iter()
        .map(|d| d.code.id())
        .filter(|c| c.starts_with("source-ip"))
        .collect();
    assert_eq!(codes, ["source-ip-documentation-range"]);

    // Only the VPC path: one statement, no aws:SourceIp anywhere.
    let vpc_only = trust(&config("    vpc_endpoints: [vpce-0a1b2c3d4e5f60718]\n"));
    assert_eq!(vpc_only["Statement"].as_array().unwrap().len(), 1);
    assert!(!vpc_only.to_string().contains("aws:SourceIp"));
}

#[test]
fn the_matrix_tries_each_path_and_allows_only_the_configured_networks() {
    let config = config(
        "    source_ips: [203.0.113.0/24]\n    vpc_endpoints: [vpce-0a1b2c3d4e5f60718]\n    vpc_source_ips: [10.20.0.0/24]\n",
    );
    let plan = keyless_workspace::plan(&config).unwrap();
    let m = matrix::build(&config, &TrustView::from_plan(&plan), None, NOW);
    assert_eq!(
        m.missing().count(),
        0,
        "{:#?}",
        m.missing().collect::<Vec<_>>()
    );
    let web: Vec<_> = m
        .scenarios
        .iter()
        .filter(|s| s.repository == "web" && s.deployment.as_deref() == Some("production"))
        .collect();
    let verdict = |pred: &dyn Fn(&Network) -> bool| -> Vec<AwsVerdict> {
        web.iter()
            .filter(|s| pred(&s.network))
            .map(|s| s.aws)
            .collect()
    };
    // Over the internet: allowed from the public egress only.
    let inside = verdict(
        &|n| matches!(n, Network::Internet { source_ip } if source_ip.to_string() == "203.0.113.1"),
    );
    assert!(!inside.is_empty() && inside.iter().all(|v| *v == AwsVerdict::Allow));
    let outside = verdict(
        &|n| matches!(n, Network::Internet { source_ip } if source_ip.to_string() == "198.51.100.7"),
    );
    assert!(!outside.is_empty() && outside.iter().all(|v| *v == AwsVerdict::Deny));
    // Through the endpoint, from the runners' subnet: allowed; through another VPC's endpoint: denied.
    let through = verdict(
        &|n| matches!(n, Network::Vpc(p) if p.endpoint.as_deref() == Some("vpce-0a1b2c3d4e5f60718")),
    );
    assert!(!through.is_empty() && through.iter().all(|v| *v == AwsVerdict::Allow));
    let other = verdict(
        &|n| matches!(n, Network::Vpc(p) if p.endpoint.as_deref() != Some("vpce-0a1b2c3d4e5f60718")),
    );
    assert!(!other.is_empty() && other.iter().all(|v| *v == AwsVerdict::Deny));
    // The VPC scenarios carry the private address as `source_ip` and the path in `network`.
    let json = serde_json::to_value(&m).unwrap();
    let vpc_row = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["network"]["path"] == "vpc" && s["network"]["endpoint"] == "vpce-0a1b2c3d4e5f60718"
        })
        .unwrap();
    assert_eq!(vpc_row["source_ip"], "10.20.0.1");
    assert_eq!(vpc_row["network"]["private_ip"], "10.20.0.1");
    // The notes say what the matrix cannot: the regional endpoint, IPv6 egress.
    assert!(
        m.notes
            .iter()
            .any(|n| n.contains("https://sts.eu-west-1.amazonaws.com")),
        "{:?}",
        m.notes
    );
    assert!(m.notes.iter().any(|n| n.contains("IPv6")), "{:?}", m.notes);
}
