//! `source-ip-with-vpc-key`: one statement requires both `aws:SourceIp` and a VPC key (`aws:SourceVpce`,
//! `aws:SourceVpc`, `aws:SourceVpcArn`, `aws:VpcSourceIp`), which are never present together. Reported from
//! `keyless-iam`'s validation registry (code `source-ip-with-vpc-key`), through the one adapter.

use super::prelude::*;

pub struct SourceIpWithVpcKey;

static META: RuleMeta = RuleMeta {
    id: "source-ip-with-vpc-key",
    summary: "one statement requires aws:SourceIp and a VPC key, which are never present together",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "AWS sets `aws:SourceIp` only for a call that arrives over the public internet, and `aws:SourceVpc`, \
          `aws:SourceVpcArn`, `aws:SourceVpce` and `aws:VpcSourceIp` only for a call through an interface VPC endpoint \
          (IAM User Guide, \"Use VPC condition keys to control federated access\"). Conditions in one statement are \
          ANDed, so a statement that requires both can never match, from any runner.",
    fix: "Put each network path in an Allow statement of its own (either is then enough), or mark one of them \
          `...IfExists`. keyless.yml's `source_ips` and `vpc_endpoints`/`vpcs` render that way.",
    autofix: false,
};

impl Rule for SourceIpWithVpcKey {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        validation::report(policy, &META, out);
    }
}
