//! `source-ip-private-range`: a private, loopback, link-local, shared or reserved range in `aws:SourceIp`, which
//! AWS never puts there, so the condition never matches (article 004's `"aws:SourceIp": "10.0.0.0/24"`). A
//! documentation range (RFC 5737, RFC 3849) is reported at info. Reported from `keyless-iam`'s validation registry
//! (codes `source-ip-private-range` and `source-ip-documentation-range`), through the one adapter.

use super::prelude::*;

pub struct SourceIpPrivateRange;

static META: RuleMeta = RuleMeta {
    id: "source-ip-private-range",
    summary: "aws:SourceIp names a private or other non-public range, which AWS never sees",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "`aws:SourceIp` holds the public address a call arrives from. A runner behind a NAT gateway is seen with the \
          gateway's public IP, never its own 10.x, 172.16-31.x or 192.168.x address, and a call through an STS \
          interface VPC endpoint carries no `aws:SourceIp` at all, but `aws:SourceVpc`, `aws:SourceVpce` and \
          `aws:VpcSourceIp` instead (IAM User Guide, \"AWS global condition context keys\": aws:SourceIp; \"Use VPC \
          condition keys to control federated access\"). So a statement that requires a private range in \
          `aws:SourceIp` can never be satisfied: the role is unassumable. A documentation range (192.0.2.0/24, \
          198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) is reported at info: no real runner has it.",
    fix: "List the runners' public egress addresses (the NAT gateway's Elastic IP; `keyless doctor --check-ip` prints \
          the address AWS sees), or, for runners that reach STS through an interface VPC endpoint, put \
          `aws:SourceVpce` (and `aws:VpcSourceIp` for the private CIDR) in a statement of its own. In keyless.yml: \
          `source_ips` for the first, `vpc_endpoints`/`vpcs`/`vpc_source_ips` for the second.",
    autofix: false,
};

impl Rule for SourceIpPrivateRange {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        validation::report(policy, &META, out);
    }
}
