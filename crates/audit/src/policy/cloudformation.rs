//! CloudFormation, SAM and CDK synth output: every intrinsic resolved to the value the stack will have, or marked
//! unknown with what it depends on. `Ref` and `Fn::GetAtt` are followed to resources of the same template (an
//! `AWS::IAM::OIDCProvider` or CDK's `Custom::AWSCDKOpenIdConnectProvider` gives its ARN from its `Url`),
//! parameters give their `Default`, `Fn::Sub` substitutes (also over a policy written as a JSON string),
//! `Fn::If` is decided when its condition only depends on parameter defaults, and `Fn::Join`, `Fn::Select`,
//! `Fn::Split` and `Fn::FindInMap` are evaluated. Both the `Fn::X` form and the YAML short tags (`!Sub`) are read
//! from the one located tree.
//!
//! Pseudo parameters: `AWS::Partition` is `aws` and `AWS::URLSuffix` `amazonaws.com` (the commercial partition,
//! where Bitbucket's issuer is used); `AWS::AccountId`, `AWS::Region`, `AWS::StackName` stay as `${...}` holes.

use std::collections::HashMap;

use crate::source::{Node, Route, Value};

use super::value::{At, REntry, RNode, RValue, Text};

/// Intrinsics nest a few levels at most; past this the value is unknown (and a template cannot loop us).
const MAX_DEPTH: usize = 32;

/// Resource types that are IAM OIDC identity providers, with the names of their URL and client-ID properties.
pub const PROVIDER_TYPES: [(&str, &str, &str); 2] = [
    ("AWS::IAM::OIDCProvider", "Url", "ClientIdList"),
    ("Custom::AWSCDKOpenIdConnectProvider", "Url", "ClientIDList"),
];

/// A template, indexed for resolution.
pub struct Template<'a> {
    parameters: HashMap<&'a str, &'a Node>,
    resources: HashMap<&'a str, &'a Node>,
    mappings: Option<&'a Node>,
    conditions: Option<&'a Node>,
}

/// The name of an intrinsic and its argument: `{"Fn::Sub": x}`, `{"Ref": x}` or a short tag `!Sub x`.
pub(crate) fn intrinsic(node: &Node) -> Option<(&str, &Node)> {
    if let Some(tag) = node.origin.tag() {
        let name = match tag {
            "Ref" => "Ref",
            "Condition" => "Condition",
            other => return Some((long_name(other)?, node)),
        };
        return Some((name, node));
    }
    let entries = node.as_map()?;
    let [entry] = entries else { return None };
    let key = entry.key.as_str();
    (key == "Ref" || key.starts_with("Fn::") || key == "Condition").then_some((key, &entry.value))
}

fn long_name(tag: &str) -> Option<&'static str> {
    Some(match tag {
        "Sub" => "Fn::Sub",
        "GetAtt" => "Fn::GetAtt",
        "Join" => "Fn::Join",
        "Select" => "Fn::Select",
        "Split" => "Fn::Split",
        "If" => "Fn::If",
        "ImportValue" => "Fn::ImportValue",
        "FindInMap" => "Fn::FindInMap",
        "Base64" => "Fn::Base64",
        "GetAZs" => "Fn::GetAZs",
        "Cidr" => "Fn::Cidr",
        "Equals" => "Fn::Equals",
        "Not" => "Fn::Not",
        "And" => "Fn::And",
        "Or" => "Fn::Or",
        "Transform" => "Fn::Transform",
        "ToJsonString" => "Fn::ToJsonString",
        "Length" => "Fn::Length",
        _ => return None,
    })
}

/// The route of an intrinsic's argument: `{"Fn::Sub": x}` → `.Fn::Sub`; a short tag is the node itself.
fn argument_route(node: &Node, route: &Route, name: &str) -> Route {
    if node.origin.tag().is_some() {
        route.clone()
    } else {
        route.key(name)
    }
}

/// The outcome of resolving a string-valued intrinsic.
enum Resolved {
    Text(Text),
    Unknown(String),
}

impl<'a> Template<'a> {
    /// Indexes a template's root (a map with `Resources`).
    pub fn new(root: &'a Node) -> Self {
        let section = |name: &str| -> HashMap<&'a str, &'a Node> {
            root.get(name)
                .and_then(Node::as_map)
                .unwrap_or_default()
                .iter()
                .map(|e| (e.key.as_str(), &e.value))
                .collect()
        };
        Template {
            parameters: section("Parameters"),
            resources: section("Resources"),
            mappings: root.get("Mappings"),
            conditions: root.get("Conditions"),
        }
    }

    /// A resource by logical id.
    pub fn resource(&self, logical: &str) -> Option<&'a Node> {
        self.resources.get(logical).copied()
    }

    /// Resolves any value.
    pub fn resolve(&self, node: &Node, route: &Route) -> RNode {
        self.resolve_at(node, route, 0)
    }

    fn resolve_at(&self, node: &Node, route: &Route, depth: usize) -> RNode {
        let at = At::node(route.clone());
        if depth > MAX_DEPTH {
            return RNode::unknown("intrinsics nested too deeply", at);
        }
        if let Some((name, arg)) = intrinsic(node) {
            let arg_route = argument_route(node, route, name);
            return match name {
                "Fn::If" => self.resolve_if(arg, &arg_route, at, depth),
                "Fn::Join" | "Fn::Sub" | "Ref" | "Fn::GetAtt" | "Fn::Select" | "Fn::FindInMap" => {
                    match name {
                        "Fn::Select" => self.resolve_select(arg, &arg_route, at, depth),
                        _ => match self.string(name, arg, &arg_route, depth) {
                            Resolved::Text(text) => RNode::new(RValue::String(text), at),
                            Resolved::Unknown(why) => RNode::unknown(why, at),
                        },
                    }
                }
                "Fn::Split" => self.resolve_split(arg, &arg_route, at, depth),
                other => RNode::unknown(describe(other, arg), at),
            };
        }
        match &node.value {
            Value::Null => RNode::new(RValue::Null, at),
            Value::Bool(b) => RNode::new(RValue::Bool(*b), at),
            Value::Int(i) => RNode::new(RValue::Number(i.to_string()), at),
            Value::Float(f) => RNode::new(RValue::Number(f.to_string()), at),
            Value::String(s) => RNode::string(s.clone(), false, at),
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let resolved = self.resolve_at(item, &route.index(i), depth + 1);
                    // `Fn::If` with `AWS::NoValue` removes the element.
                    if !is_no_value(&resolved) {
                        out.push(resolved);
                    }
                }
                RNode::new(RValue::Seq(out), at)
            }
            Value::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for e in entries {
                    let key_route = route.key(e.key.as_str());
                    let value = self.resolve_at(&e.value, &key_route, depth + 1);
                    if is_no_value(&value) {
                        continue;
                    }
                    out.push(REntry {
                        key: e.key.to_string(),
                        key_holes: false,
                        key_at: At::key(key_route),
                        value,
                    });
                }
                RNode::new(RValue::Map(out), at)
            }
        }
    }

    /// A string from a scalar or a string-valued intrinsic.
    fn string(&self, name: &str, arg: &Node, route: &Route, depth: usize) -> Resolved {
        if depth > MAX_DEPTH {
            return Resolved::Unknown("intrinsics nested too deeply".into());
        }
        match name {
            "Ref" => match arg.as_str() {
                Some(target) => self.reference(target, None, depth),
                None => Resolved::Unknown("a `Ref` whose target is not a name".into()),
            },
            "Fn::GetAtt" => {
                let parts: Option<(String, String)> = match arg.as_seq() {
                    Some([logical, attribute]) => logical
                        .as_str()
                        .zip(attribute.as_str())
                        .map(|(l, a)| (l.to_owned(), a.to_owned())),
                    _ => arg
                        .as_str()
                        .and_then(|s| s.split_once('.'))
                        .map(|(a, b)| (a.to_owned(), b.to_owned())),
                };
                match parts {
                    Some((logical, attribute)) => self.reference(&logical, Some(&attribute), depth),
                    None => Resolved::Unknown("a malformed `Fn::GetAtt`".into()),
                }
            }
            "Fn::Sub" => {
                let (template, vars) = match arg.as_seq() {
                    Some([template, vars]) => (template, Some(vars)),
                    _ => (arg, None),
                };
                let Some(template) = template.as_str() else {
                    return Resolved::Unknown("a `Fn::Sub` whose template is not a string".into());
                };
                self.substitute(template, vars, route, depth)
            }
            "Fn::Join" => {
                let Some([delimiter, list]) = arg.as_seq() else {
                    return Resolved::Unknown("a malformed `Fn::Join`".into());
                };
                let delimiter = delimiter.as_str().unwrap_or("");
                let list = self.resolve_at(list, &route.index(1), depth + 1);
                let Some(items) = list.as_seq() else {
                    return match list.unknown_ref() {
                        Some(u) => Resolved::Unknown(u.depends_on.clone()),
                        None => Resolved::Unknown("a `Fn::Join` over a non-list".into()),
                    };
                };
                let mut text = String::new();
                let mut holes = false;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        text.push_str(delimiter);
                    }
                    match &item.value {
                        RValue::String(t) => {
                            text.push_str(&t.text);
                            holes |= t.holes;
                        }
                        RValue::Number(n) => text.push_str(n),
                        RValue::Unknown(u) => return Resolved::Unknown(u.depends_on.clone()),
                        _ => return Resolved::Unknown("a `Fn::Join` over non-strings".into()),
                    }
                }
                Resolved::Text(Text { text, holes })
            }
            "Fn::FindInMap" => {
                let Some([map, top, second]) = arg.as_seq() else {
                    return Resolved::Unknown("a malformed `Fn::FindInMap`".into());
                };
                let key =
                    |n: &Node, i: usize| match self.resolve_at(n, &route.index(i), depth + 1).value
                    {
                        RValue::String(t) if !t.holes => Some(t.text),
                        _ => None,
                    };
                let (Some(map), Some(top), Some(second)) =
                    (key(map, 0), key(top, 1), key(second, 2))
                else {
                    return Resolved::Unknown(
                        "a `Fn::FindInMap` with keys known only at deployment".into(),
                    );
                };
                match self
                    .mappings
                    .and_then(|m| m.get(&map))
                    .and_then(|m| m.get(&top))
                    .and_then(|m| m.get(&second))
                    .and_then(Node::as_str)
                {
                    Some(value) => Resolved::Text(Text {
                        text: value.to_owned(),
                        holes: false,
                    }),
                    None => Resolved::Unknown(format!("Mappings {map}.{top}.{second}")),
                }
            }
            "Fn::Select" => match self
                .resolve_select(arg, route, At::node(route.clone()), depth)
                .value
            {
                RValue::String(t) => Resolved::Text(t),
                RValue::Unknown(u) => Resolved::Unknown(u.depends_on),
                _ => Resolved::Unknown("a `Fn::Select` of a non-string".into()),
            },
            other => Resolved::Unknown(describe(other, arg)),
        }
    }

    /// `Ref name` (no attribute) or `Fn::GetAtt name.attribute`.
    fn reference(&self, target: &str, attribute: Option<&str>, depth: usize) -> Resolved {
        let hole = |name: &str| {
            Resolved::Text(Text {
                text: format!("${{{name}}}"),
                holes: true,
            })
        };
        if attribute.is_none() {
            match target {
                "AWS::Partition" => {
                    return Resolved::Text(Text {
                        text: "aws".into(),
                        holes: false,
                    });
                }
                "AWS::URLSuffix" => {
                    return Resolved::Text(Text {
                        text: "amazonaws.com".into(),
                        holes: false,
                    });
                }
                t if t.starts_with("AWS::") => return hole(t),
                _ => {}
            }
            if let Some(parameter) = self.parameters.get(target) {
                return match parameter.get("Default") {
                    Some(default) => match default.as_str().map(str::to_owned).or_else(|| {
                        default.as_seq().map(|items| {
                            items
                                .iter()
                                .filter_map(Node::as_str)
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                    }) {
                        Some(text) => Resolved::Text(Text { text, holes: false }),
                        None => hole(target),
                    },
                    // Known at deployment only: keep `${Name}` so the rest of the value can still be read.
                    None => hole(target),
                };
            }
        }
        let Some(resource) = self.resources.get(target) else {
            return Resolved::Unknown(format!("`{target}`, which is not defined in this template"));
        };
        let kind = resource
            .get("Type")
            .and_then(Node::as_str)
            .unwrap_or_default();
        let properties = resource.get("Properties");
        let provider = PROVIDER_TYPES.iter().find(|(t, _, _)| *t == kind);
        match (provider, attribute) {
            // The ARN of an OIDC provider: `Ref` (and the custom resource's physical id) or `GetAtt .Arn`.
            (Some((_, url_key, _)), None | Some("Arn")) => {
                let Some(url) = properties.and_then(|p| p.get(url_key)) else {
                    return Resolved::Unknown(format!("`{target}` has no `{url_key}`"));
                };
                match self.string_of(url, depth) {
                    Resolved::Text(t) => Resolved::Text(Text {
                        text: format!(
                            "arn:aws:iam::${{AWS::AccountId}}:oidc-provider/{}",
                            t.text.trim_start_matches("https://")
                        ),
                        holes: true,
                    }),
                    unknown => unknown,
                }
            }
            _ if kind == "AWS::IAM::Role" && attribute.is_none() => {
                match properties.and_then(|p| p.get("RoleName")) {
                    Some(name) => self.string_of(name, depth),
                    None => hole(target),
                }
            }
            _ => Resolved::Unknown(match attribute {
                Some(a) => format!("`Fn::GetAtt {target}.{a}` ({kind})"),
                None => format!("`Ref {target}` ({kind})"),
            }),
        }
    }

    /// A node that should be a string, resolved.
    fn string_of(&self, node: &Node, depth: usize) -> Resolved {
        match self.resolve_at(node, &Route::root(), depth + 1).value {
            RValue::String(t) => Resolved::Text(t),
            RValue::Unknown(u) => Resolved::Unknown(u.depends_on),
            _ => Resolved::Unknown("a value that is not a string".into()),
        }
    }

    /// `Fn::Sub`: `${Name}` from the variables, parameters, pseudo parameters and resources (`${R}` is `Ref R`,
    /// `${R.Attr}` is `Fn::GetAtt`); `${!Literal}` is `${Literal}`.
    fn substitute(
        &self,
        template: &str,
        vars: Option<&Node>,
        route: &Route,
        depth: usize,
    ) -> Resolved {
        let mut out = String::with_capacity(template.len());
        let mut holes = false;
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            rest = &after[end + 1..];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
                continue;
            }
            let resolved = match vars.and_then(|v| v.get(name)) {
                Some(var) => match self
                    .resolve_at(var, &route.index(1).key(name), depth + 1)
                    .value
                {
                    RValue::String(t) => Resolved::Text(t),
                    RValue::Number(n) => Resolved::Text(Text {
                        text: n,
                        holes: false,
                    }),
                    RValue::Unknown(u) => Resolved::Unknown(u.depends_on),
                    _ => Resolved::Unknown(format!("`{name}`, not a string")),
                },
                None => match name.split_once('.') {
                    Some((logical, attribute)) if !name.starts_with("AWS::") => {
                        self.reference(logical, Some(attribute), depth + 1)
                    }
                    _ => self.reference(name, None, depth + 1),
                },
            };
            match resolved {
                Resolved::Text(t) => {
                    out.push_str(&t.text);
                    holes |= t.holes;
                }
                // An unknown piece leaves a readable hole: the rest of the string still says what it is.
                Resolved::Unknown(_) => {
                    out.push_str("${");
                    out.push_str(name);
                    out.push('}');
                    holes = true;
                }
            }
        }
        out.push_str(rest);
        Resolved::Text(Text { text: out, holes })
    }

    fn resolve_if(&self, arg: &Node, route: &Route, at: At, depth: usize) -> RNode {
        let Some([condition, yes, no]) = arg.as_seq() else {
            return RNode::unknown("a malformed `Fn::If`", at);
        };
        let Some(name) = condition.as_str() else {
            return RNode::unknown("a `Fn::If` whose condition is not a name", at);
        };
        match self.condition(name, depth) {
            Some(true) => self.resolve_at(yes, &route.index(1), depth + 1),
            Some(false) => self.resolve_at(no, &route.index(2), depth + 1),
            None => RNode::unknown(
                format!("`Fn::If {name}`, a condition known only at deployment"),
                at,
            ),
        }
    }

    fn resolve_select(&self, arg: &Node, route: &Route, at: At, depth: usize) -> RNode {
        let Some([index, list]) = arg.as_seq() else {
            return RNode::unknown("a malformed `Fn::Select`", at);
        };
        let index = index
            .as_i64()
            .or_else(|| index.as_str().and_then(|s| s.parse().ok()));
        let list = self.resolve_at(list, &route.index(1), depth + 1);
        match (index, &list.value) {
            (Some(i), RValue::Seq(items)) => usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i).cloned())
                .unwrap_or_else(|| RNode::unknown("`Fn::Select` out of range", at)),
            (_, RValue::Unknown(u)) => RNode::unknown(u.depends_on.clone(), at),
            _ => RNode::unknown("a `Fn::Select` that cannot be evaluated", at),
        }
    }

    fn resolve_split(&self, arg: &Node, route: &Route, at: At, depth: usize) -> RNode {
        let Some([delimiter, source]) = arg.as_seq() else {
            return RNode::unknown("a malformed `Fn::Split`", at);
        };
        let Some(delimiter) = delimiter.as_str().filter(|d| !d.is_empty()) else {
            return RNode::unknown("a `Fn::Split` without a delimiter", at);
        };
        let source = self.resolve_at(source, &route.index(1), depth + 1);
        match &source.value {
            RValue::String(t) => RNode::new(
                RValue::Seq(
                    t.text
                        .split(delimiter)
                        .map(|part| RNode::string(part, t.holes, at.clone()))
                        .collect(),
                ),
                at,
            ),
            RValue::Unknown(u) => RNode::unknown(u.depends_on.clone(), at),
            _ => RNode::unknown("a `Fn::Split` of a non-string", at),
        }
    }

    /// A condition of the `Conditions` section, when it only depends on parameter defaults.
    fn condition(&self, name: &str, depth: usize) -> Option<bool> {
        let node = self.conditions?.get(name)?;
        self.condition_value(node, depth + 1)
    }

    fn condition_value(&self, node: &Node, depth: usize) -> Option<bool> {
        if depth > MAX_DEPTH {
            return None;
        }
        if let Some(b) = node.as_bool() {
            return Some(b);
        }
        let (name, arg) = intrinsic(node)?;
        match name {
            "Condition" => self.condition(arg.as_str()?, depth),
            "Fn::Not" => {
                let inner = arg.as_seq().and_then(|s| s.first()).unwrap_or(arg);
                self.condition_value(inner, depth + 1).map(|b| !b)
            }
            "Fn::And" | "Fn::Or" => {
                let values: Option<Vec<bool>> = arg
                    .as_seq()?
                    .iter()
                    .map(|c| self.condition_value(c, depth + 1))
                    .collect();
                let values = values?;
                Some(if name == "Fn::And" {
                    values.iter().all(|b| *b)
                } else {
                    values.iter().any(|b| *b)
                })
            }
            "Fn::Equals" => {
                let [a, b] = arg.as_seq()? else { return None };
                let text = |n: &Node| match self.resolve_at(n, &Route::root(), depth + 1).value {
                    RValue::String(t) if !t.holes => Some(t.text),
                    RValue::Number(n) => Some(n),
                    RValue::Bool(b) => Some(b.to_string()),
                    _ => None,
                };
                Some(text(a)? == text(b)?)
            }
            _ => None,
        }
    }
}

/// `Ref AWS::NoValue`: the property or element is removed.
fn is_no_value(node: &RNode) -> bool {
    matches!(&node.value, RValue::String(t) if t.holes && t.text == "${AWS::NoValue}")
}

/// How an intrinsic that cannot be resolved offline is shown: `Fn::ImportValue BitbucketProviderArn`.
fn describe(name: &str, arg: &Node) -> String {
    match arg.as_str() {
        Some(s) => format!("`{name} {s}`"),
        None => match intrinsic(arg) {
            Some((inner, inner_arg)) => format!("`{name}` of {}", describe(inner, inner_arg)),
            None => format!("`{name}`"),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::source::Document;

    fn resolve(template: &str, path: &[&str]) -> RNode {
        let doc = Document::parse(template).unwrap();
        let t = Template::new(doc.root());
        let mut route = Route::root();
        let mut node = doc.root();
        for p in path {
            route = route.key(*p);
            node = node.get(p).unwrap();
        }
        t.resolve(node, &route)
    }

    const TEMPLATE: &str = r#"
Parameters:
  Workspace: {Type: String, Default: acme}
  Audience: {Type: String}
  Env: {Type: String, Default: prod}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  Unknowable: !Equals [!Ref Audience, x]
Mappings:
  Ws: {acme: {uuid: "9f1c3a52"}}
Resources:
  Provider:
    Type: AWS::IAM::OIDCProvider
    Properties:
      Url: !Sub https://api.bitbucket.org/2.0/workspaces/${Workspace}/pipelines-config/identity/oidc
      ClientIdList: [!Sub "ari:cloud:bitbucket::workspace/${Audience}"]
  Values:
    Type: Test
    Properties:
      ByRef: !Ref Provider
      ByGetAtt: {"Fn::GetAtt": [Provider, Arn]}
      ByShortGetAtt: !GetAtt Provider.Arn
      Sub: !Sub "${Provider}/x/${!Literal}"
      SubVars: !Sub ["${a}-${b}", {a: !Ref Workspace, b: !FindInMap [Ws, acme, uuid]}]
      Join: !Join ["/", [a, !Ref Env]]
      If: !If [IsProd, yes-prod, no]
      IfUnknown: !If [Unknowable, a, b]
      Import: !ImportValue SharedProviderArn
      Select: !Select [1, !Split [",", "a,b,c"]]
      Missing: !Ref Nowhere
"#;

    fn text(node: &RNode) -> (&str, bool) {
        let t = node.as_text().unwrap_or_else(|| panic!("{node:?}"));
        (&t.text, t.holes)
    }

    #[test]
    fn intrinsics_resolve() {
        let arn = "arn:aws:iam::${AWS::AccountId}:oidc-provider/api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";
        let values = resolve(TEMPLATE, &["Resources", "Values", "Properties"]);
        for key in ["ByRef", "ByGetAtt", "ByShortGetAtt"] {
            assert_eq!(text(values.get(key).unwrap()), (arn, true), "{key}");
        }
        assert_eq!(
            text(values.get("Sub").unwrap()),
            (format!("{arn}/x/${{Literal}}").as_str(), true)
        );
        assert_eq!(
            text(values.get("SubVars").unwrap()),
            ("acme-9f1c3a52", false)
        );
        assert_eq!(text(values.get("Join").unwrap()), ("a/prod", false));
        assert_eq!(text(values.get("If").unwrap()), ("yes-prod", false));
        assert!(
            values
                .get("IfUnknown")
                .unwrap()
                .unknown_ref()
                .unwrap()
                .depends_on
                .contains("Unknowable")
        );
        assert_eq!(
            values
                .get("Import")
                .unwrap()
                .unknown_ref()
                .unwrap()
                .depends_on,
            "`Fn::ImportValue SharedProviderArn`"
        );
        assert_eq!(text(values.get("Select").unwrap()), ("b", false));
        assert!(
            values
                .get("Missing")
                .unwrap()
                .unknown_ref()
                .unwrap()
                .depends_on
                .contains("Nowhere")
        );
        let provider = resolve(TEMPLATE, &["Resources", "Provider", "Properties"]);
        assert_eq!(
            text(&provider.get("ClientIdList").unwrap().as_seq().unwrap()[0]),
            ("ari:cloud:bitbucket::workspace/${Audience}", true)
        );
    }
}
