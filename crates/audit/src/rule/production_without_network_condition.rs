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

fn non_empty(env: &Node, key: &str) -> bool {
    env.get(key)
        .and_then(Node::as_seq)
        .is_some_and(|s| !s.is_empty())
}

impl Rule for ProductionWithoutNetworkCondition {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_workspace(&self, ws: &Workspace<'_>, out: &mut Sink) {
        for (input, doc) in &ws.keyless {
            for e in doc
                .root()
                .get("environments")
                .and_then(Node::as_map)
                .unwrap_or_default()
            {
                let (name, env) = (e.key.as_str(), &e.value);
                if !ws.config.is_production(name) {
                    continue;
                }
                let self_hosted = env
                    .get("runners")
                    .and_then(|r| r.get("labels"))
                    .and_then(Node::as_seq)
                    .is_some_and(|labels| labels.iter().any(|l| l.as_str() == Some("self.hosted")));
                if !self_hosted
                    || ["source_ips", "vpc_endpoints", "vpcs"]
                        .iter()
                        .any(|k| non_empty(env, k))
                {
                    continue;
                }
                out.push(
                    self.finding()
                        .message(format!(
                            "production environment `{name}` runs on self-hosted runners, but its role accepts a token \
                             from any network: no `source_ips`, `vpc_endpoints` or `vpcs`"
                        ))
                        .at(Route::root().key("environments").key(name))
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
