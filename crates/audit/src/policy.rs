//! The audit's view of role trust policies, wherever they are written: an IAM policy JSON file, the output of
//! `aws iam get-role`, or `AWS::IAM::Role` resources of a CloudFormation template (JSON or YAML).
//!
//! NOTE: `keyless-iam` owns policy semantics (parse, validate, evaluate); this view keeps the routes of every
//! principal, operator, key and value so findings point at what the user wrote, and understands CloudFormation
//! intrinsics (`!Sub`, `Fn::Sub`) well enough to read provider ARNs.

use crate::source::{Document, Node, Route, strings};

/// One trust policy.
#[derive(Debug)]
pub struct TrustPolicy<'a> {
    pub doc: &'a Document,
    pub path: &'a str,
    pub route: Route,
    pub node: &'a Node,
    /// The role's name or CloudFormation logical id, when known.
    pub role: Option<String>,
    pub statements: Vec<Statement<'a>>,
    pub production_names: &'a [String],
}

/// One statement.
#[derive(Debug)]
pub struct Statement<'a> {
    pub route: Route,
    pub allow: bool,
    pub federated: Vec<Principal>,
    pub actions: Vec<String>,
    pub condition_route: Option<Route>,
    pub conditions: Vec<Condition<'a>>,
}

/// A federated principal.
#[derive(Debug, Clone)]
pub struct Principal {
    pub value: String,
    pub route: Route,
    /// `host/path` of an IAM OIDC provider ARN (`arn:aws:iam::1:oidc-provider/<this>`), if it is one.
    pub provider: Option<String>,
}

/// One `operator: {key: values}` pair.
#[derive(Debug)]
pub struct Condition<'a> {
    pub operator: &'a str,
    pub operator_route: Route,
    pub key: &'a str,
    pub key_route: Route,
    pub values: Vec<(&'a str, Route)>,
}

impl Condition<'_> {
    /// Operator without `ForAnyValue:`/`ForAllValues:` and `IfExists`.
    pub fn base_operator(&self) -> &str {
        let op = self.operator.rsplit(':').next().unwrap_or(self.operator);
        op.strip_suffix("IfExists").unwrap_or(op)
    }

    pub fn set_operator(&self) -> Option<&str> {
        self.operator.split_once(':').map(|(s, _)| s)
    }

    pub fn is_negated(&self) -> bool {
        let op = self.base_operator();
        op.contains("Not") || op == "Null"
    }

    /// The claim part of a key (`sub` in `api.bitbucket.org/...:sub`), lower-cased.
    pub fn claim(&self) -> Option<String> {
        let (prefix, claim) = self.key.rsplit_once(':')?;
        (!prefix.eq_ignore_ascii_case("aws") && !prefix.eq_ignore_ascii_case("sts"))
            .then(|| claim.to_ascii_lowercase())
    }

    /// The provider part of a key (`api.bitbucket.org/...` in `api.bitbucket.org/...:sub`).
    pub fn key_prefix(&self) -> Option<&str> {
        self.key.rsplit_once(':').map(|(p, _)| p)
    }
}

impl Statement<'_> {
    /// Allows web identity federation from an OIDC provider.
    pub fn is_oidc_allow(&self) -> bool {
        self.allow
            && (self.federated.iter().any(|p| p.provider.is_some())
                || self
                    .actions
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case("sts:AssumeRoleWithWebIdentity")))
    }

    /// An OIDC allow that has conditions, none of them a positive (non-negated) one on `claim`: the shape both
    /// `missing-aud-condition` and `missing-sub-condition` report (no conditions at all is a different rule).
    pub fn lacks_positive_condition_on(&self, claim: &str) -> bool {
        self.is_oidc_allow()
            && !self.conditions.is_empty()
            && !self.conditions_on(claim).any(|c| !c.is_negated())
    }

    /// The OIDC providers this statement trusts.
    pub fn providers(&self) -> impl Iterator<Item = &Principal> {
        self.federated.iter().filter(|p| p.provider.is_some())
    }

    /// Conditions on `claim` of any provider (positive operators only when `positive`).
    pub fn conditions_on<'s>(
        &'s self,
        claim: &'s str,
    ) -> impl Iterator<Item = &'s Condition<'s>> + 's {
        self.conditions
            .iter()
            .filter(move |c| c.claim().as_deref() == Some(claim))
    }
}

/// `true` when the provider is a Bitbucket Pipelines issuer.
pub fn is_bitbucket(provider: &str) -> bool {
    provider.starts_with("api.bitbucket.org/2.0/workspaces/")
        && provider.contains("/pipelines-config/identity/oidc")
}

/// Every trust policy in a document: an IAM policy, `aws iam get-role` output, or CloudFormation roles.
pub fn trust_policies<'a>(
    doc: &'a Document,
    path: &'a str,
    production_names: &'a [String],
) -> Vec<TrustPolicy<'a>> {
    let mut out = Vec::new();
    let root = doc.root();
    let mut push = |route: Route, node: &'a Node, role: Option<String>| {
        if let Some(p) = build(doc, path, route, node, role, production_names) {
            out.push(p);
        }
    };
    if root.get("Statement").is_some() {
        push(Route::root(), root, role_from_path(path));
    } else if let Some(doc_node) = root
        .get("Role")
        .and_then(|r| r.get("AssumeRolePolicyDocument"))
    {
        let name = root
            .get("Role")
            .and_then(|r| r.get("RoleName"))
            .and_then(Node::as_str)
            .map(str::to_owned);
        push(
            Route::root().key("Role").key("AssumeRolePolicyDocument"),
            doc_node,
            name,
        );
    } else if let Some(resources) = root.get("Resources").and_then(Node::as_map) {
        for e in resources {
            let (logical, v) = (e.key.as_str(), &e.value);
            if v.get("Type").and_then(Node::as_str) != Some("AWS::IAM::Role") {
                continue;
            }
            let Some(policy) = v
                .get("Properties")
                .and_then(|p| p.get("AssumeRolePolicyDocument"))
            else {
                continue;
            };
            let name = v
                .get("Properties")
                .and_then(|p| p.get("RoleName"))
                .and_then(intrinsic_string)
                .unwrap_or_else(|| logical.to_owned());
            let route = Route::root()
                .key("Resources")
                .key(logical)
                .key("Properties")
                .key("AssumeRolePolicyDocument");
            push(route, policy, Some(name));
        }
    }
    out
}

fn role_from_path(path: &str) -> Option<String> {
    let file = path.rsplit(['/', '\\']).next()?;
    Some(file.split('.').next().unwrap_or(file).to_owned())
}

/// A plain string, or the template string of `!Sub`/`Fn::Sub`/`Fn::Join` (joined with its delimiter).
pub fn intrinsic_string(node: &Node) -> Option<String> {
    if let Some(s) = node.as_str() {
        return Some(s.to_owned());
    }
    if let Some(sub) = node.get("Fn::Sub") {
        return match sub.as_seq() {
            Some(items) => items.first().and_then(Node::as_str).map(str::to_owned),
            None => sub.as_str().map(str::to_owned),
        };
    }
    if node.origin.tag() == Some("Sub") {
        return node
            .as_seq()
            .and_then(|i| i.first())
            .and_then(Node::as_str)
            .map(str::to_owned);
    }
    if let Some(join) = node.get("Fn::Join").and_then(Node::as_seq) {
        let delim = join.first().and_then(Node::as_str).unwrap_or("");
        let parts = join.get(1)?.as_seq()?;
        let parts: Option<Vec<String>> = parts.iter().map(intrinsic_string).collect();
        return Some(parts?.join(delim));
    }
    None
}

fn build<'a>(
    doc: &'a Document,
    path: &'a str,
    route: Route,
    node: &'a Node,
    role: Option<String>,
    production_names: &'a [String],
) -> Option<TrustPolicy<'a>> {
    let statements_node = node.get("Statement")?;
    let list: Vec<(Route, &Node)> = match statements_node.as_seq() {
        Some(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| (route.key("Statement").index(i), n))
            .collect(),
        None => vec![(route.key("Statement"), statements_node)],
    };
    let mut statements = Vec::new();
    for (sroute, s) in list {
        let allow = s.get("Effect").and_then(Node::as_str) == Some("Allow");
        let mut federated = Vec::new();
        if let Some(fed) = s.get("Principal").and_then(|p| p.get("Federated")) {
            let froute = sroute.key("Principal").key("Federated");
            let items: Vec<(Route, &Node)> = match fed.as_seq() {
                Some(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (froute.index(i), n))
                    .collect(),
                None => vec![(froute, fed)],
            };
            for (r, n) in items {
                let Some(value) = intrinsic_string(n) else {
                    continue;
                };
                let provider = value
                    .split_once(":oidc-provider/")
                    .map(|(_, p)| p.to_owned());
                federated.push(Principal {
                    value,
                    route: r,
                    provider,
                });
            }
        }
        let actions = s
            .get("Action")
            .map(|a| {
                strings(a)
                    .into_iter()
                    .filter_map(|(_, n)| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut conditions = Vec::new();
        let condition_route = s.get("Condition").map(|_| sroute.key("Condition"));
        for op in s
            .get("Condition")
            .and_then(Node::as_map)
            .unwrap_or_default()
        {
            let operator = op.key.as_str();
            let op_route = sroute.key("Condition").key(operator);
            for k in op.value.as_map().unwrap_or_default() {
                let key = k.key.as_str();
                let key_route = op_route.key(key);
                let values = strings(&k.value)
                    .into_iter()
                    .filter_map(|(i, n)| n.as_str().map(|s| (s, key_route.at(i))))
                    .collect();
                conditions.push(Condition {
                    operator,
                    operator_route: op_route.clone(),
                    key,
                    key_route,
                    values,
                });
            }
        }
        statements.push(Statement {
            route: sroute,
            allow,
            federated,
            actions,
            condition_route,
            conditions,
        });
    }
    Some(TrustPolicy {
        doc,
        path,
        route,
        node,
        role,
        statements,
        production_names,
    })
}

impl TrustPolicy<'_> {
    /// The role looks like a production role: a configured production name is a whole word of its name
    /// (`ProdDeployRole`, `deploy-production`; not `preprod`).
    pub fn is_production(&self) -> bool {
        let Some(role) = &self.role else { return false };
        crate::config::is_production_name(role, self.production_names)
    }
}
