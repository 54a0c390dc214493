//! `production-without-network-condition`: keyless.yml says a production environment's steps run on self-hosted
//! runners, but its role has no network condition (`source_ips`, `vpc_endpoints`, `vpcs`), so AWS accepts its
//! token from anywhere: a leaked token works from any host.

use super::prelude::*;

pub struct ProductionWithoutNetworkCondition;

static META: RuleMeta = RuleMeta {
    id: "production-without-network-condition",
    summary: "a production role on self-hosted runners has no network condition",
    severity: Severity::Medium,
    confidence: Confidence::Medium,
    persona: Persona::Regular,
    kind: RuleKind::CrossFile,
    why: "Self-hosted runners egress from a network you control, so AWS can check it: over the internet as the \
          public `aws:SourceIp` of your NAT gateway, through an STS interface VPC endpoint as `aws:SourceVpce`, \
          `aws:SourceVpc` and `aws:VpcSourceIp` (IAM User Guide, \"Use VPC condition keys to control federated \
          access\"). Without such a condition a production token that leaks (a log, an artifact, a compromised step) \
          can be exchanged for credentials from any host until it expires.",
    fix: "Add the runners' public egress to the environment's `source_ips` (`keyless doctor --check-ip` on a runner \
          prints it), or, if they reach STS through an interface endpoint, `vpc_endpoints: [vpce-...]` (and \
          `vpc_source_ips`), then `keyless plan`. Which names count as production is set by \
          `audit.production-environments`.",
    autofix: false,
};

impl Rule for ProductionWithoutNetworkCondition {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_workspace(&self, ws: &Workspace<'_>, out: &mut Sink) {
        for keyless in &ws.keyless {
            let input = &keyless.input;
            for (name, env) in keyless.environments() {
                if !ws.config.is_production(name) {
                    continue;
                }
                if !crate::keyless::self_hosted(env)
                    || !env.source_ips.is_empty()
                    || !env.vpc_endpoints.is_empty()
                    || !env.vpcs.is_empty()
                {
                    continue;
                }
                out.push(
                    self.finding()
                        .message(format!(
                            "production environment `{name}` runs on self-hosted runners, but its role accepts a token \
                             from any network: no `source_ips`, `vpc_endpoints` or `vpcs`"
                        ))
                        .at(crate::keyless::environment_route(name))
                        .in_input(*input)
                        .label("no network condition")
                        .help(
                            "add `source_ips: [<the runners' public egress>]` or `vpc_endpoints: [vpce-...]`, then run `keyless plan`",
                        ),
                );
            }
        }
    }
}
