//! The audit's view of role trust policies and IAM OIDC identity providers, wherever they are written: an IAM
//! policy JSON file, `aws iam get-role` output, CloudFormation/SAM templates and CDK synth output (JSON or YAML,
//! every intrinsic resolved by [`cloudformation`]), and Terraform ([`terraform`]).
//!
//! Every input becomes the same thing: the policy document as it will reach IAM ([`value::RNode`]), each value
//! remembering where the user wrote it ([`At`]), and values known only at deployment marked as such, so that a
//! rule that needs one says so (`unresolved-reference`) instead of passing silently. `keyless-iam` owns policy
//! semantics; [`validation`] is the one adapter from its validation registry to findings.

pub mod cloudformation;
pub mod permissions;
pub mod subject;
pub mod terraform;
pub mod validation;
pub mod value;

use crate::source::{Document, Node, Route};

pub use value::{At, RNode, RValue, Text, Unknown};

use cloudformation::{PROVIDER_TYPES, Template};

/// How a trust policy was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An IAM policy document.
    PolicyJson,
    /// `aws iam get-role` output (`{"Role": {"AssumeRolePolicyDocument": ...}}`).
    GetRole,
    /// An `AWS::IAM::Role` of a CloudFormation/SAM template or CDK synth output.
    CloudFormation,
    /// An `aws_iam_role`, `aws_iam_policy_document` or a modelled module call in Terraform.
    Terraform,
}

/// One trust policy.
#[derive(Debug, Clone)]
pub struct TrustPolicy<'a> {
    pub path: &'a str,
    pub format: Format,
    /// Where the document is written (whole-document findings).
    pub at: At,
    /// The role's name, CloudFormation logical id or Terraform address, when known.
    pub role: Option<String>,
    /// The document as it will reach IAM.
    pub doc: RNode,
    pub statements: Vec<Statement>,
    pub production_names: &'a [String],
    /// `keyless-iam`'s validation of the document, located (see [`validation`]).
    pub diagnostics: Vec<validation::Located>,
    /// The OIDC providers defined in the same file.
    pub providers: Vec<ProviderResource>,
    /// The permission policies attached to the role in the same file (what it may do once assumed).
    pub permissions: Vec<permissions::Attached>,
}

/// One statement.
#[derive(Debug, Clone)]
pub struct Statement {
    pub index: usize,
    pub at: At,
    pub allow: bool,
    pub federated: Vec<Principal>,
    pub actions: Vec<String>,
    pub condition_at: Option<At>,
    pub conditions: Vec<Condition>,
    /// The `Condition` block (or one operator's keys) cannot be known before deployment.
    pub conditions_unknown: Vec<(Unknown, At)>,
}

/// A federated principal.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The value (`${Name}` for the parts known only at deployment).
    pub value: String,
    /// Parts of the value are known only at deployment.
    pub holes: bool,
    /// The whole value is known only at deployment.
    pub unknown: Option<Unknown>,
    pub at: At,
    /// `host/path` of an IAM OIDC provider ARN (`arn:aws:iam::1:oidc-provider/<this>`), if it is one.
    pub provider: Option<String>,
}

/// One `operator: {key: values}` pair.
#[derive(Debug, Clone)]
pub struct Condition {
    pub operator: String,
    pub operator_at: At,
    pub key: String,
    /// The key has parts known only at deployment.
    pub key_holes: bool,
    pub key_at: At,
    pub values: Vec<CValue>,
}

/// One condition value.
#[derive(Debug, Clone)]
pub struct CValue {
    pub text: String,
    /// False when the value (or part of it) is known only at deployment: rules must not judge it.
    pub known: bool,
    pub at: At,
}

/// An IAM OIDC identity provider defined in the file.
#[derive(Debug, Clone)]
pub struct ProviderResource {
    /// The CloudFormation logical id or Terraform address.
    pub name: String,
    pub at: At,
    /// The provider URL as written (`https://...`), when present.
    pub url: Option<CValue>,
    pub url_at: Option<At>,
    /// The client IDs, or why they cannot be known.
    pub client_ids: Result<Vec<CValue>, (Unknown, At)>,
    pub client_ids_at: Option<At>,
}

impl ProviderResource {
    /// The URL without the scheme, as IAM stores it and as ARNs and condition keys name it.
    pub fn host_path(&self) -> Option<&str> {
        self.url
            .as_ref()
            .filter(|u| u.known || u.text.contains("api.bitbucket.org/"))
            .map(|u| u.text.trim_start_matches("https://"))
    }
}

impl Condition {
    /// Operator without `ForAnyValue:`/`ForAllValues:` and `IfExists`.
    pub fn base_operator(&self) -> &str {
        let op = self.operator.rsplit(':').next().unwrap_or(&self.operator);
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

impl Statement {
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
            && self.conditions_unknown.is_empty()
            && !self.conditions.is_empty()
            && !self.conditions_on(claim).any(|c| !c.is_negated())
    }

    /// The OIDC providers this statement trusts.
    pub fn providers(&self) -> impl Iterator<Item = &Principal> {
        self.federated.iter().filter(|p| p.provider.is_some())
    }

    /// True when this statement trusts a Bitbucket Pipelines issuer: a `Federated` provider that is one, or (when
    /// the principal cannot be known before deployment) condition keys that name one.
    pub fn trusts_bitbucket(&self) -> bool {
        self.providers()
            .any(|p| p.provider.as_deref().is_some_and(is_bitbucket))
            || (self
                .federated
                .iter()
                .any(|p| p.unknown.is_some() || p.holes)
                && self
                    .conditions
                    .iter()
                    .any(|c| c.key_prefix().is_some_and(is_bitbucket)))
    }

    /// Conditions on `claim` of any provider.
    pub fn conditions_on<'s>(&'s self, claim: &'s str) -> impl Iterator<Item = &'s Condition> + 's {
        self.conditions
            .iter()
            .filter(move |c| c.claim().as_deref() == Some(claim))
    }
}

/// `true` when the provider (`host/path`) is a Bitbucket Pipelines issuer.
pub fn is_bitbucket(provider: &str) -> bool {
    provider
        .strip_prefix(keyless_oidc::BITBUCKET_API_HOST)
        .is_some_and(|path| path.starts_with(keyless_oidc::ISSUER_PREFIX))
        && provider.contains(keyless_oidc::ISSUER_SUFFIX)
}

/// Every trust policy and OIDC provider in one file.
#[derive(Debug, Clone, Default)]
pub struct TrustFile<'a> {
    pub policies: Vec<TrustPolicy<'a>>,
    /// Providers, also when the file has no role.
    pub providers: Vec<ProviderResource>,
}

/// Every trust policy in a document: an IAM policy, `aws iam get-role` output, or CloudFormation roles.
pub fn trust_policies<'a>(
    doc: &'a Document,
    path: &'a str,
    production_names: &'a [String],
) -> Vec<TrustPolicy<'a>> {
    read(doc, path, production_names).policies
}

/// Reads a parsed JSON/YAML file: an IAM policy, `aws iam get-role` output, or a CloudFormation template.
pub fn read<'a>(doc: &'a Document, path: &'a str, production_names: &'a [String]) -> TrustFile<'a> {
    let root = doc.root();
    let template = Template::new(root);
    if terraform::is_plan(root) {
        return terraform::read_plan(doc, path, production_names);
    }
    let mut file = TrustFile::default();
    if root.get("Statement").is_some() {
        let rnode = template.resolve(root, &Route::root());
        file.policies.push(build(
            rnode,
            At::node(Route::root()),
            Format::PolicyJson,
            path,
            role_from_path(path),
            production_names,
        ));
        return file;
    }
    if let Some(role) = root.get("Role")
        && role.get("AssumeRolePolicyDocument").is_some()
    {
        let mut policy = role_detail(
            &template,
            role,
            &Route::root().key("Role"),
            path,
            production_names,
        );
        // `aws iam list-attached-role-policies` output merged beside it.
        policy.permissions.extend(attached_arns(
            &template,
            root,
            &Route::root(),
            "AttachedPolicies",
        ));
        file.policies.push(policy);
        return file;
    }
    // `aws iam get-account-authorization-details`: every role with its policies.
    if let Some(details) = root.get("RoleDetailList").and_then(Node::as_seq) {
        for (index, role) in details.iter().enumerate() {
            if role.get("AssumeRolePolicyDocument").is_none() {
                continue;
            }
            let route = Route::root().key("RoleDetailList").index(index);
            file.policies
                .push(role_detail(&template, role, &route, path, production_names));
        }
        return file;
    }
    let Some(resources) = root.get("Resources").and_then(Node::as_map) else {
        return file;
    };
    // Logical id → index in `file.policies`, for policies attached by `Ref`.
    let mut role_logicals: Vec<(String, usize)> = Vec::new();
    for e in resources {
        let (logical, resource) = (e.key.as_str(), &e.value);
        let kind = resource
            .get("Type")
            .and_then(Node::as_str)
            .unwrap_or_default();
        let properties_route = Route::root()
            .key("Resources")
            .key(logical)
            .key("Properties");
        if let Some((_, url_key, ids_key)) = PROVIDER_TYPES.iter().find(|(t, _, _)| *t == kind) {
            let properties = resource.get("Properties");
            let url = properties.and_then(|p| p.get(url_key)).map(|n| {
                let route = properties_route.key(*url_key);
                (template.resolve(n, &route), At::key(route))
            });
            let ids = properties.and_then(|p| p.get(ids_key)).map(|n| {
                let route = properties_route.key(*ids_key);
                (template.resolve(n, &route), At::key(route))
            });
            file.providers.push(provider_resource(
                logical,
                At::key(Route::root().key("Resources").key(logical)),
                url,
                ids,
            ));
            continue;
        }
        if kind != "AWS::IAM::Role" {
            continue;
        }
        let Some(node) = resource
            .get("Properties")
            .and_then(|p| p.get("AssumeRolePolicyDocument"))
        else {
            continue;
        };
        let route = properties_route.key("AssumeRolePolicyDocument");
        let rnode = document(template.resolve(node, &route), node, &route);
        let name = resource
            .get("Properties")
            .and_then(|p| p.get("RoleName"))
            .map(|n| template.resolve(n, &properties_route.key("RoleName")))
            .and_then(|n| n.as_str().map(str::to_owned))
            .unwrap_or_else(|| logical.to_owned());
        let mut policy = build(
            rnode,
            At::key(route),
            Format::CloudFormation,
            path,
            Some(name),
            production_names,
        );
        if let Some(properties) = resource.get("Properties") {
            policy.permissions = cfn_role_permissions(&template, properties, &properties_route);
        }
        role_logicals.push((logical.to_owned(), file.policies.len()));
        file.policies.push(policy);
    }
    // Policies defined as their own resources, attached to a role of the template by `Ref`.
    for e in resources {
        let (logical, resource) = (e.key.as_str(), &e.value);
        let kind = resource
            .get("Type")
            .and_then(Node::as_str)
            .unwrap_or_default();
        let roles_key = match kind {
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => "Roles",
            "AWS::IAM::RolePolicy" => "RoleName",
            _ => continue,
        };
        let Some(properties) = resource.get("Properties") else {
            continue;
        };
        let properties_route = Route::root()
            .key("Resources")
            .key(logical)
            .key("Properties");
        let Some(document_node) = properties.get("PolicyDocument") else {
            continue;
        };
        let targets: Vec<&str> = match properties.get(roles_key) {
            Some(node) => match node.as_seq() {
                Some(items) => items.iter().filter_map(permissions::ref_target).collect(),
                None => permissions::ref_target(node).into_iter().collect(),
            },
            None => Vec::new(),
        };
        let document_route = properties_route.key("PolicyDocument");
        let doc = document(
            template.resolve(document_node, &document_route),
            document_node,
            &document_route,
        );
        for target in targets {
            if let Some((_, index)) = role_logicals.iter().find(|(l, _)| l == target) {
                file.policies[*index]
                    .permissions
                    .push(permissions::Attached::Inline {
                        name: logical.to_owned(),
                        doc: doc.clone(),
                    });
            }
        }
    }
    for policy in &mut file.policies {
        policy.providers.clone_from(&file.providers);
    }
    file
}

/// A role as `aws iam get-role` prints it (`{"Role": {...}}`), or an entry of `RoleDetailList`: its trust policy, and
/// its permissions where the object carries them (`AttachedManagedPolicies`, `RolePolicyList`).
fn role_detail<'a>(
    template: &Template<'_>,
    role: &Node,
    role_route: &Route,
    path: &'a str,
    production_names: &'a [String],
) -> TrustPolicy<'a> {
    let route = role_route.key("AssumeRolePolicyDocument");
    let node = role.get("AssumeRolePolicyDocument");
    let rnode = match node {
        Some(node) => document(template.resolve(node, &route), node, &route),
        None => RNode::unknown("no AssumeRolePolicyDocument", At::node(role_route.clone())),
    };
    let name = role
        .get("RoleName")
        .and_then(Node::as_str)
        .map(str::to_owned);
    let mut policy = build(
        rnode,
        At::key(route),
        Format::GetRole,
        path,
        name,
        production_names,
    );
    policy.permissions.extend(attached_arns(
        template,
        role,
        role_route,
        "AttachedManagedPolicies",
    ));
    for (index, p) in role
        .get("RolePolicyList")
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let item_route = role_route.key("RolePolicyList").index(index);
        let Some(doc_node) = p.get("PolicyDocument") else {
            continue;
        };
        let doc_route = item_route.key("PolicyDocument");
        policy.permissions.push(permissions::Attached::Inline {
            name: p
                .get("PolicyName")
                .and_then(Node::as_str)
                .unwrap_or("inline")
                .to_owned(),
            doc: document(template.resolve(doc_node, &doc_route), doc_node, &doc_route),
        });
    }
    policy
}

/// The managed policies of a `[{"PolicyName", "PolicyArn"}]` list (`AttachedManagedPolicies`, `AttachedPolicies`).
fn attached_arns(
    template: &Template<'_>,
    parent: &Node,
    parent_route: &Route,
    key: &str,
) -> Vec<permissions::Attached> {
    let mut out = Vec::new();
    for (index, p) in parent
        .get(key)
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if let Some(arn) = p.get("PolicyArn") {
            let route = parent_route.key(key).index(index).key("PolicyArn");
            out.push(permissions::Attached::Managed(cvalue(
                &template.resolve(arn, &route),
            )));
        }
    }
    out
}

/// The permissions written on an `AWS::IAM::Role`: `ManagedPolicyArns` and `Policies`.
fn cfn_role_permissions(
    template: &Template<'_>,
    properties: &Node,
    properties_route: &Route,
) -> Vec<permissions::Attached> {
    let mut out = Vec::new();
    if let Some(arns) = properties.get("ManagedPolicyArns") {
        let resolved = template.resolve(arns, &properties_route.key("ManagedPolicyArns"));
        for item in resolved.items() {
            out.push(permissions::Attached::Managed(cvalue(item)));
        }
    }
    if let Some(policies) = properties.get("Policies").and_then(Node::as_seq) {
        for (index, p) in policies.iter().enumerate() {
            let item_route = properties_route.key("Policies").index(index);
            let Some(doc_node) = p.get("PolicyDocument") else {
                continue;
            };
            let doc_route = item_route.key("PolicyDocument");
            let name = p
                .get("PolicyName")
                .map(|n| template.resolve(n, &item_route.key("PolicyName")))
                .and_then(|n| n.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("Policies[{index}]"));
            out.push(permissions::Attached::Inline {
                name,
                doc: document(template.resolve(doc_node, &doc_route), doc_node, &doc_route),
            });
        }
    }
    out
}

/// An OIDC provider from its resolved `Url` and client-ID list.
pub(crate) fn provider_resource(
    name: &str,
    at: At,
    url: Option<(RNode, At)>,
    ids: Option<(RNode, At)>,
) -> ProviderResource {
    let (url, url_at) = match url {
        Some((node, key_at)) => (Some(cvalue(&node)), Some(key_at)),
        None => (None, None),
    };
    let (client_ids, client_ids_at) = match ids {
        Some((node, key_at)) => {
            let ids = match node.unknown_ref() {
                Some(u) => Err((u.clone(), node.at.clone())),
                None => Ok(node.items().into_iter().map(cvalue).collect()),
            };
            (ids, Some(key_at))
        }
        // CDK: "no clients are allowed" by default; CloudFormation: an empty list.
        None => (Ok(Vec::new()), None),
    };
    ProviderResource {
        name: name.to_owned(),
        at,
        url,
        url_at,
        client_ids,
        client_ids_at,
    }
}

fn role_from_path(path: &str) -> Option<String> {
    let file = path.rsplit(['/', '\\']).next()?;
    Some(file.split('.').next().unwrap_or(file).to_owned())
}

/// A policy document that is a string holds JSON: CloudFormation accepts the document as a JSON string (often
/// through `Fn::Sub`, to put parameters into condition keys), and IAM's API returns it URL-encoded.
fn document(resolved: RNode, node: &Node, route: &Route) -> RNode {
    let Some(text) = resolved.as_text() else {
        return resolved;
    };
    let holes = text.holes;
    let mut json = text.text.clone();
    if json.trim_start().starts_with("%7B") || json.trim_start().starts_with("%7b") {
        json = percent_encoding::percent_decode_str(&json)
            .decode_utf8_lossy()
            .into_owned();
    }
    // The template text the user wrote, line by line: the JSON's lines, before substitution, are the same lines
    // (substituted values have no newlines), so each value points at its line in the file.
    let template = sub_template(node).unwrap_or(&json).to_owned();
    let template_route = sub_template_route(node, route);
    match keyless_iam::json::parse(&json) {
        Ok(spanned) => from_json(&spanned, holes, &template, &template_route),
        Err(error) => RNode::unknown(
            format!(
                "a policy document string that is not JSON ({} at line {}, column {})",
                error.message, error.location.line, error.location.column
            ),
            resolved.at,
        ),
    }
}

/// The template string of `Fn::Sub` (either form), or the string itself.
fn sub_template(node: &Node) -> Option<&str> {
    if let Some(s) = node.as_str() {
        return Some(s);
    }
    let sub = node
        .get("Fn::Sub")
        .or_else(|| (node.origin.tag() == Some("Sub")).then_some(node))?;
    match sub.as_seq() {
        Some(items) => items.first()?.as_str(),
        None => sub.as_str(),
    }
}

fn sub_template_route(node: &Node, route: &Route) -> Route {
    let sub_route = if node.get("Fn::Sub").is_some() {
        route.key("Fn::Sub")
    } else {
        route.clone()
    };
    let sub = node.get("Fn::Sub").unwrap_or(node);
    if sub.as_seq().is_some() {
        sub_route.index(0)
    } else {
        sub_route
    }
}

/// A JSON value parsed from a string in the file, each part located by its line of the template.
fn from_json(
    spanned: &keyless_iam::json::Spanned,
    holes: bool,
    template: &str,
    route: &Route,
) -> RNode {
    use keyless_iam::json::Value as J;
    let at = |line: usize| {
        let text = template
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .trim();
        if text.is_empty() {
            At::node(route.clone())
        } else {
            At::text(route.clone(), text)
        }
    };
    let here = at(spanned.location.line);
    let value = match &spanned.value {
        J::Null => RValue::Null,
        J::Bool(b) => RValue::Bool(*b),
        J::Number(n) => RValue::Number(n.clone()),
        J::String(s) => RValue::String(Text {
            text: s.clone(),
            holes: holes && s.contains("${"),
        }),
        J::Array(items) => RValue::Seq(
            items
                .iter()
                .map(|i| from_json(i, holes, template, route))
                .collect(),
        ),
        J::Object(members) => RValue::Map(
            members
                .iter()
                .map(|m| value::REntry {
                    key: m.key.clone(),
                    key_holes: holes && m.key.contains("${"),
                    key_at: at(m.key_location.line),
                    value: from_json(&m.value, holes, template, route),
                })
                .collect(),
        ),
    };
    RNode::new(value, here)
}

pub(crate) fn cvalue(node: &RNode) -> CValue {
    match &node.value {
        RValue::String(t) => CValue {
            text: t.text.clone(),
            known: !t.holes,
            at: node.at.clone(),
        },
        RValue::Number(n) => CValue {
            text: n.clone(),
            known: true,
            at: node.at.clone(),
        },
        RValue::Bool(b) => CValue {
            text: b.to_string(),
            known: true,
            at: node.at.clone(),
        },
        RValue::Unknown(u) => CValue {
            text: format!("${{{}}}", u.depends_on),
            known: false,
            at: node.at.clone(),
        },
        _ => CValue {
            text: String::new(),
            known: false,
            at: node.at.clone(),
        },
    }
}

/// Builds the view of a resolved policy document.
pub(crate) fn build<'a>(
    doc: RNode,
    at: At,
    format: Format,
    path: &'a str,
    role: Option<String>,
    production_names: &'a [String],
) -> TrustPolicy<'a> {
    let mut statements = Vec::new();
    let list: Vec<&RNode> = doc.get("Statement").map(RNode::items).unwrap_or_default();
    for (index, s) in list.into_iter().enumerate() {
        let allow = s.get("Effect").and_then(RNode::as_str) == Some("Allow");
        let mut federated = Vec::new();
        if let Some(fed) = s.get("Principal").and_then(|p| p.get("Federated")) {
            for n in fed.items() {
                let (value, holes, unknown) = match &n.value {
                    RValue::String(t) => (t.text.clone(), t.holes, None),
                    RValue::Unknown(u) => (format!("${{{}}}", u.depends_on), true, Some(u.clone())),
                    _ => continue,
                };
                let provider = value
                    .split_once(":oidc-provider/")
                    .map(|(_, p)| p.to_owned());
                federated.push(Principal {
                    value,
                    holes,
                    unknown,
                    at: n.at.clone(),
                    provider,
                });
            }
        }
        let actions = s
            .get("Action")
            .map(|a| {
                a.items()
                    .into_iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut conditions = Vec::new();
        let mut conditions_unknown = Vec::new();
        let condition_entry = s.entry("Condition");
        let condition_at = condition_entry.map(|e| e.key_at.clone());
        if let Some(entry) = condition_entry {
            if let Some(u) = entry.value.unknown_ref() {
                conditions_unknown.push((u.clone(), entry.value.at.clone()));
            }
            for op in entry.value.as_map().unwrap_or_default() {
                if let Some(u) = op.value.unknown_ref() {
                    conditions_unknown.push((u.clone(), op.value.at.clone()));
                    continue;
                }
                for k in op.value.as_map().unwrap_or_default() {
                    let values = k.value.items().into_iter().map(cvalue).collect();
                    conditions.push(Condition {
                        operator: op.key.clone(),
                        operator_at: op.key_at.clone(),
                        key: k.key.clone(),
                        key_holes: k.key_holes,
                        key_at: k.key_at.clone(),
                        values,
                    });
                }
            }
        }
        statements.push(Statement {
            index,
            at: s.at.clone(),
            allow,
            federated,
            actions,
            condition_at,
            conditions,
            conditions_unknown,
        });
    }
    let diagnostics = validation::validate(&doc);
    TrustPolicy {
        path,
        format,
        at,
        role,
        doc,
        statements,
        production_names,
        diagnostics,
        providers: Vec::new(),
        permissions: Vec::new(),
    }
}

impl TrustPolicy<'_> {
    /// The role looks like a production role: one of its words (split at punctuation and camelCase) is a
    /// configured production name. `delivery-api` is not `live`, `product-catalog` is not `prod`.
    /// One matcher for every rule: [`crate::config::is_production_name`].
    pub fn is_production(&self) -> bool {
        let Some(role) = &self.role else { return false };
        crate::config::is_production_name(role, self.production_names)
    }

    /// The whole document cannot be known before deployment.
    pub fn unknown(&self) -> Option<&Unknown> {
        self.doc.unknown_ref()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn production_is_a_word() {
        let names = [
            "production".to_owned(),
            "prod".to_owned(),
            "live".to_owned(),
        ];
        let policy = |role: &str| {
            let doc = Document::parse(r#"{"Version": "2012-10-17", "Statement": []}"#).unwrap();
            let mut p = trust_policies(&doc, "x.json", &names).remove(0);
            p.role = Some(role.to_owned());
            p.is_production()
        };
        assert!(policy("bitbucket-prod"));
        assert!(policy("tamimi-dlh-bitbucket-deploy-prod"));
        assert!(policy("ProdDeployRole"));
        assert!(!policy("product-catalog-deploy"));
        assert!(policy("bitbucket-deploy-live-site"));
        assert!(!policy("delivery-api"));
    }

    #[test]
    fn fn_sub_json_string_is_read() {
        let text = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Fn::Sub:\n          - |\n            {\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\",\n              \"Principal\": {\"Federated\": \"arn:aws:iam::${AWS::AccountId}:oidc-provider/api.bitbucket.org/2.0/workspaces/${w}/pipelines-config/identity/oidc\"},\n              \"Action\": \"sts:AssumeRoleWithWebIdentity\"}]}\n          - w: acme\n";
        let doc = Document::parse(text).unwrap();
        let policies = trust_policies(&doc, "t.yaml", &[]);
        assert_eq!(policies.len(), 1);
        let principal = &policies[0].statements[0].federated[0];
        assert_eq!(
            principal.provider.as_deref(),
            Some("api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc")
        );
        assert!(principal.holes);
        assert!(
            matches!(&principal.at.focus, crate::finding::Focus::Text(t) if t.starts_with("\"Principal\""))
        );
    }
}
