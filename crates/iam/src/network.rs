//! The network path of a call to STS, the condition keys each path puts in the request context, and the address
//! ranges AWS never puts in `aws:SourceIp`.
//!
//! AWS fills exactly one of two sets of keys (IAM User Guide, "Use VPC condition keys to control federated access",
//! `reference_sts_vpc_condition_keys_federated`; "AWS global condition context keys", `aws:SourceIp`):
//!
//! | key | through an STS interface VPC endpoint | over the public internet |
//! |---|---|---|
//! | `aws:SourceVpc`, `aws:SourceVpcArn`, `aws:SourceVpce`, `aws:VpcSourceIp` | yes | no |
//! | `aws:SourceIp` | no | yes: the **public** address the call arrives from |
//!
//! So `aws:SourceIp` never holds a private address: a runner behind a NAT gateway is seen with the gateway's public
//! address, and a runner that reaches STS through an interface endpoint has no `aws:SourceIp` at all
//! ("The `aws:SourceIp` condition key can only be used for public IP address ranges").

use std::net::IpAddr;
use std::sync::LazyLock;

use ipnet::IpNet;
use serde::Serialize;

/// The public address a call arrives from; absent through a VPC endpoint.
pub const SOURCE_IP: &str = "aws:SourceIp";
/// The VPC a call through a VPC endpoint traverses (`vpc-…`).
pub const SOURCE_VPC: &str = "aws:SourceVpc";
/// The ARN of that VPC (`arn:aws:ec2:<region>:<account>:vpc/vpc-…`); AWS recommends it over `aws:SourceVpc`.
pub const SOURCE_VPC_ARN: &str = "aws:SourceVpcArn";
/// The VPC endpoint a call traverses (`vpce-…`).
pub const SOURCE_VPCE: &str = "aws:SourceVpce";
/// The caller's private address inside the VPC, through a VPC endpoint.
pub const VPC_SOURCE_IP: &str = "aws:VpcSourceIp";
/// The keys only a call through a VPC endpoint carries.
pub const VPC_KEYS: [&str; 4] = [SOURCE_VPC, SOURCE_VPC_ARN, SOURCE_VPCE, VPC_SOURCE_IP];

/// Whether `key` is one of the VPC-path keys (keys are case-insensitive).
pub fn is_vpc_key(key: &str) -> bool {
    VPC_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// Whether `key` is `aws:SourceIp` (keys are case-insensitive).
pub fn is_source_ip_key(key: &str) -> bool {
    key.eq_ignore_ascii_case(SOURCE_IP)
}

/// How a call reaches STS, which decides the network condition keys.
///
/// `#[non_exhaustive]` so that further paths can be added without reshaping callers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(tag = "path", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Network {
    /// Not known: no network key in the context (`policy eval` without `--source-ip`).
    #[default]
    Unspecified,
    /// Over the public internet from this address: `aws:SourceIp`, no VPC keys.
    Internet { source_ip: IpAddr },
    /// Through an STS interface VPC endpoint: the VPC keys that are known, no `aws:SourceIp`.
    Vpc(VpcPath),
}

/// What a call through an STS interface VPC endpoint carries. AWS always sets all four keys; a caller that knows
/// only some of them (the emulator's `X-Keyless-*` headers, `policy eval`) leaves the others absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct VpcPath {
    /// `aws:SourceVpce`: the endpoint ID, `vpce-…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `aws:SourceVpc`: the VPC ID, `vpc-…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    /// `aws:SourceVpcArn`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_arn: Option<String>,
    /// `aws:VpcSourceIp`: the caller's private address in the VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<IpAddr>,
}

impl VpcPath {
    #[must_use]
    pub fn endpoint(mut self, id: impl Into<String>) -> Self {
        self.endpoint = Some(id.into());
        self
    }

    #[must_use]
    pub fn vpc(mut self, id: impl Into<String>) -> Self {
        self.vpc = Some(id.into());
        self
    }

    #[must_use]
    pub fn vpc_arn(mut self, arn: impl Into<String>) -> Self {
        self.vpc_arn = Some(arn.into());
        self
    }

    #[must_use]
    pub fn private_ip(mut self, ip: IpAddr) -> Self {
        self.private_ip = Some(ip);
        self
    }
}

impl Network {
    /// The condition keys this path puts in the request context, in a stable order.
    pub fn context_keys(&self) -> Vec<(&'static str, String)> {
        match self {
            Network::Unspecified => Vec::new(),
            Network::Internet { source_ip } => {
                vec![(SOURCE_IP, source_ip.to_canonical().to_string())]
            }
            Network::Vpc(vpc) => {
                let mut keys = Vec::new();
                if let Some(endpoint) = &vpc.endpoint {
                    keys.push((SOURCE_VPCE, endpoint.clone()));
                }
                if let Some(id) = &vpc.vpc {
                    keys.push((SOURCE_VPC, id.clone()));
                }
                if let Some(arn) = &vpc.vpc_arn {
                    keys.push((SOURCE_VPC_ARN, arn.clone()));
                }
                if let Some(ip) = vpc.private_ip {
                    keys.push((VPC_SOURCE_IP, ip.to_canonical().to_string()));
                }
                keys
            }
        }
    }

    /// How people read the path: `over the internet from 198.51.100.7`, `through VPC endpoint vpce-… (VPC vpc-…,
    /// from 10.20.0.7)`.
    pub fn describe(&self) -> String {
        match self {
            Network::Unspecified => "from an unspecified network".to_owned(),
            Network::Internet { source_ip } => {
                format!("over the internet from {}", source_ip.to_canonical())
            }
            Network::Vpc(vpc) => {
                let mut parts = Vec::new();
                if let Some(id) = &vpc.vpc {
                    parts.push(format!("VPC {id}"));
                } else if let Some(arn) = &vpc.vpc_arn {
                    parts.push(format!("VPC {arn}"));
                }
                if let Some(ip) = vpc.private_ip {
                    parts.push(format!("from {}", ip.to_canonical()));
                }
                let endpoint = vpc.endpoint.as_deref().map_or_else(
                    || "a VPC endpoint".to_owned(),
                    |e| format!("VPC endpoint {e}"),
                );
                if parts.is_empty() {
                    format!("through {endpoint}")
                } else {
                    format!("through {endpoint} ({})", parts.join(", "))
                }
            }
        }
    }
}

/// A range AWS never sees as a caller's `aws:SourceIp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedRange {
    /// The range, e.g. `10.0.0.0/8`.
    pub range: IpNet,
    /// What it is, e.g. `private (RFC 1918)`.
    pub name: &'static str,
}

/// What an address or CIDR is, for `aws:SourceIp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressClass {
    /// A public range: AWS can see a caller in it.
    Public,
    /// Inside a documentation range (RFC 5737, RFC 3849): fine for examples, never a real runner.
    Documentation(ReservedRange),
    /// Inside a range AWS never puts in `aws:SourceIp` (private, loopback, link-local, shared address space,
    /// multicast, reserved).
    Refused(ReservedRange),
}

fn ranges(list: &[(&str, &'static str)]) -> Vec<ReservedRange> {
    list.iter()
        .map(|(range, name)| ReservedRange {
            range: range
                .parse()
                .unwrap_or_else(|_| unreachable!("static CIDR {range}")),
            name,
        })
        .collect()
}

/// The ranges keyless refuses in `source_ips` and `audit` flags in `aws:SourceIp` (issue 20's list, exactly).
/// IPv4-mapped IPv6 forms (`::ffff:10.0.0.0/104`) are classified as their IPv4 range.
pub static REFUSED_RANGES: LazyLock<Vec<ReservedRange>> = LazyLock::new(|| {
    ranges(&[
        ("0.0.0.0/8", "\"this network\" (RFC 1122)"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        (
            "100.64.0.0/10",
            "carrier-grade NAT shared address space (RFC 6598)",
        ),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (RFC 1112)"),
        ("::1/128", "IPv6 loopback"),
        ("fc00::/7", "IPv6 unique local (RFC 4193)"),
        ("fe80::/10", "IPv6 link-local"),
    ])
});

/// Documentation ranges: accepted (examples use them), reported by `audit` at info.
pub static DOCUMENTATION_RANGES: LazyLock<Vec<ReservedRange>> = LazyLock::new(|| {
    ranges(&[
        ("192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)"),
        ("198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)"),
        ("203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)"),
        ("2001:db8::/32", "IPv6 documentation (RFC 3849)"),
    ])
});

/// The IPv4 form of an IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104` → `10.0.0.0/8`); others unchanged.
pub fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && v6.prefix_len() >= 96
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && let Ok(mapped) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(mapped);
    }
    net
}

/// Classifies a CIDR for `aws:SourceIp`: refused when it lies wholly inside a refused range (then no caller AWS
/// sees can ever match it), documentation when wholly inside a documentation range, public otherwise (a block
/// that only partly covers a refused range still matches its public part).
pub fn classify(net: IpNet) -> AddressClass {
    let net = canonical_net(net);
    if let Some(range) = REFUSED_RANGES.iter().find(|r| r.range.contains(&net)) {
        return AddressClass::Refused(range.clone());
    }
    if let Some(range) = DOCUMENTATION_RANGES.iter().find(|r| r.range.contains(&net)) {
        return AddressClass::Documentation(range.clone());
    }
    AddressClass::Public
}

/// Classifies one address (see [`classify`]).
pub fn classify_addr(ip: IpAddr) -> AddressClass {
    classify(IpNet::from(ip.to_canonical()))
}

/// Parses a CIDR or a bare address (`/32` or `/128`) as IAM reads `IpAddress` values.
pub fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// A VPC endpoint ID as AWS writes them: `vpce-` and 8 or 17 lowercase hex digits.
pub fn is_vpc_endpoint_id(text: &str) -> bool {
    hex_id(text, "vpce-")
}

/// A VPC ID: `vpc-` and 8 or 17 lowercase hex digits.
pub fn is_vpc_id(text: &str) -> bool {
    hex_id(text, "vpc-")
}

fn hex_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|rest| {
        matches!(rest.len(), 8 | 17)
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A VPC ARN, `arn:<partition>:ec2:<region>:<account>:vpc/vpc-…`.
pub fn is_vpc_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "ec2", region, account, resource] => {
            partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("vpc/").is_some_and(is_vpc_id)
        }
        _ => false,
    }
}

/// A condition that requires its key to be present with a matching value (not negated, not `…IfExists`, not
/// `Null`), i.e. one that can only hold on the path that sets the key.
fn requires_key(c: &crate::Condition) -> bool {
    !c.operator.base.is_negated()
        && !c.operator.if_exists
        && c.operator.base != crate::BaseOperator::Null
        && c.operator.set != Some(crate::SetOperator::ForAllValues)
}

/// Why a trust policy's network conditions cannot hold for a call on `network`, in sentences for people: a
/// private range in `aws:SourceIp`, a VPC key asked of a call over the internet, `aws:SourceIp` asked of a call
/// through a VPC endpoint, both asked of one statement. Empty when nothing about the network explains a denial.
pub fn explain_mismatch(policy: &crate::PolicyDocument, network: &Network) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    let mut push = |note: String| {
        if !notes.contains(&note) {
            notes.push(note);
        }
    };
    for statement in &policy.statements {
        if statement.effect != Some(crate::Effect::Allow) {
            continue;
        }
        let wants_ip = statement
            .conditions
            .iter()
            .map(|l| &l.condition)
            .filter(|c| requires_key(c) && is_source_ip_key(&c.key))
            .collect::<Vec<_>>();
        let wants_vpc: Vec<&str> = statement
            .conditions
            .iter()
            .map(|l| &l.condition)
            .filter(|c| requires_key(c) && is_vpc_key(&c.key))
            .map(|c| c.key.as_str())
            .collect();
        for c in &wants_ip {
            let refused: Vec<String> = c
                .values
                .iter()
                .filter_map(|v| match classify(parse_net(v)?) {
                    AddressClass::Refused(r) => Some(format!("{v} ({})", r.name)),
                    _ => None,
                })
                .collect();
            if !refused.is_empty() {
                push(format!(
                    "`aws:SourceIp` holds the public address a call arrives from, so it is never {}: a runner behind a \
                     NAT gateway is seen with the gateway's public address, and a call through an STS VPC endpoint \
                     has no `aws:SourceIp` at all (IAM User Guide, reference_sts_vpc_condition_keys_federated). List \
                     the runners' public egress addresses in `source_ips`, or use the VPC path (`vpc_endpoints`, \
                     `vpcs`, `vpc_source_ips`)",
                    refused.join(", ")
                ));
            }
        }
        if !wants_ip.is_empty() && !wants_vpc.is_empty() {
            push(format!(
                "statement {} asks for both `aws:SourceIp` and `{}`, which are never present together (AWS sets \
                 `aws:SourceIp` only over the internet and the VPC keys only through a VPC endpoint): it can never \
                 match; split it into two statements",
                statement
                    .sid
                    .as_deref()
                    .map_or_else(|| statement.index.to_string(), |s| format!("`{s}`")),
                wants_vpc[0]
            ));
            continue;
        }
        match network {
            Network::Internet { source_ip } if !wants_vpc.is_empty() => push(format!(
                "the call came over the internet (aws:SourceIp {}), so it carries no `{}`: AWS sets the VPC keys only \
                 when the call goes through an STS interface VPC endpoint, which needs the regional STS endpoint \
                 (https://sts.<region>.amazonaws.com) with the endpoint's private DNS enabled, or the endpoint's own DNS name",
                source_ip.to_canonical(),
                wants_vpc[0]
            )),
            Network::Vpc(_) if !wants_ip.is_empty() => push(
                "the call came through an STS VPC endpoint, where AWS sets no `aws:SourceIp` (use `aws:VpcSourceIp` \
                 for the runner's private address)"
                    .to_owned(),
            ),
            _ => {}
        }
    }
    notes
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn class(text: &str) -> AddressClass {
        classify(parse_net(text).unwrap())
    }

    #[test]
    fn refused_ranges_are_exactly_the_contract() {
        for text in [
            "0.0.0.0/8",
            "10.0.0.0/8",
            "10.20.0.0/24",
            "10.0.0.7",
            "100.64.0.0/10",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.0/12",
            "172.31.255.0/24",
            "192.168.1.0/24",
            "224.0.0.0/4",
            "239.1.2.3",
            "240.0.0.0/4",
            "255.255.255.255",
            "::1",
            "fc00::/7",
            "fd12:3456::/48",
            "fe80::/10",
            "fe80::1",
            // IPv4-mapped forms of refused ranges.
            "::ffff:10.0.0.0/104",
            "::ffff:192.168.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(
                matches!(class(text), AddressClass::Refused(_)),
                "{text} should be refused"
            );
        }
        for text in [
            "34.199.54.113",
            "8.8.8.0/24",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "11.0.0.0/8",
            "2600:1f18::/32",
            "::ffff:34.199.54.113",
            // Wider than a refused range: its public part still matches.
            "0.0.0.0/0",
            "10.0.0.0/7",
        ] {
            assert_eq!(class(text), AddressClass::Public, "{text}");
        }
        for text in [
            "192.0.2.0/24",
            "198.51.100.7",
            "203.0.113.0/24",
            "2001:db8::/32",
            "2001:db8:1::/48",
            "::ffff:203.0.113.9",
        ] {
            assert!(
                matches!(class(text), AddressClass::Documentation(_)),
                "{text}"
            );
        }
    }

    #[test]
    fn canonical_nets() {
        assert_eq!(
            canonical_net("::ffff:10.0.0.0/104".parse().unwrap()).to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            canonical_net("2001:db8::/32".parse().unwrap()).to_string(),
            "2001:db8::/32"
        );
    }

    #[test]
    fn identifiers() {
        assert!(is_vpc_endpoint_id("vpce-0a1b2c3d4e5f60718"));
        assert!(is_vpc_endpoint_id("vpce-1a2b3c4d"));
        assert!(!is_vpc_endpoint_id("vpce-0A1B2C3D4E5F60718"));
        assert!(!is_vpc_endpoint_id("vpc-0a1b2c3d4e5f60718"));
        assert!(!is_vpc_endpoint_id("vpce-123"));
        assert!(is_vpc_id("vpc-0e9801d129c0ffee1"));
        assert!(!is_vpc_id("vpce-0e9801d1"));
        assert!(is_vpc_arn(
            "arn:aws:ec2:eu-west-1:222222222222:vpc/vpc-0e9801d129c0ffee1"
        ));
        assert!(!is_vpc_arn("arn:aws:ec2:eu-west-1:2222:vpc/vpc-0e9801d1"));
        assert!(!is_vpc_arn("arn:aws:iam::222222222222:role/x"));
    }

    #[test]
    fn paths_give_their_keys_only() {
        let internet = Network::Internet {
            source_ip: "::ffff:198.51.100.7".parse().unwrap(),
        };
        assert_eq!(
            internet.context_keys(),
            [(SOURCE_IP, "198.51.100.7".to_owned())]
        );
        let vpc = Network::Vpc(
            VpcPath::default()
                .endpoint("vpce-0a1b2c3d4e5f60718")
                .vpc("vpc-0e9801d129c0ffee1")
                .private_ip("10.20.0.7".parse().unwrap()),
        );
        let keys: Vec<&str> = vpc.context_keys().iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [SOURCE_VPCE, SOURCE_VPC, VPC_SOURCE_IP]);
        assert_eq!(
            vpc.describe(),
            "through VPC endpoint vpce-0a1b2c3d4e5f60718 (VPC vpc-0e9801d129c0ffee1, from 10.20.0.7)"
        );
        assert!(Network::Unspecified.context_keys().is_empty());
    }
}
