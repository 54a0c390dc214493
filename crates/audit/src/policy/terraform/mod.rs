//! Terraform: trust policies and OIDC providers as a module writes them, and as `terraform show -json` prints them.
//!
//! A module is the `.tf` and `.tf.json` files of one directory, read together (variables, locals and data sources
//! live in other files than the role). Native syntax is parsed by `hcl-edit` ([`ast`]); expressions are evaluated
//! the way `terraform plan` sees them before anything exists ([`eval`], [`functions`]): variables take their
//! defaults (or the values of `--tf-var-file`), locals, `for` expressions, `for_each`/`count` and `dynamic` blocks
//! are expanded, and what exists only after apply (an account ID, another module's outputs, a variable without a
//! default) is unknown and reported by `unresolved-reference` instead of passing silently.
//! `data "aws_iam_policy_document"` is rendered the way the AWS provider 5.100 renders it ([`document`]); a
//! differential test compares the rendering with the machine's Terraform (`crates/cli/tests/terraform_render.rs`).
//!
//! What is read:
//! - `resource "aws_iam_role"`: `assume_role_policy` written as `jsonencode(...)`, a heredoc or string of JSON,
//!   or a data source's `.json`.
//! - `data "aws_iam_policy_document"` that allows `sts:AssumeRoleWithWebIdentity` and that no role of the module
//!   uses (a module that outputs the document for its caller's role).
//! - `resource`/`data "aws_iam_openid_connect_provider"`: `url` and `client_id_list`; its `arn` is
//!   `arn:aws:iam::<account>:oidc-provider/<url without https://>`, as IAM builds it, so a role that names it is
//!   judged against the provider's URL.
//! - `terraform show -json` of a plan or of the state: `aws_iam_role.assume_role_policy` and the providers in
//!   `planned_values`/`values`, every module included ([`read_plan`]).

mod ast;
mod document;
mod eval;
mod functions;

use std::cell::RefCell;
use std::collections::HashSet;

use crate::source::{Document, Node, Route};

use super::value::{At, REntry, RNode, RValue, Text};
use super::{Format, TrustFile, build, provider_resource};

pub use ast::SyntaxError;
use ast::{Block, Body, E, Loc};
use eval::{Eval, PARTIAL, Resolver, Scope, V, Val, each, object, short};

/// One file of a module.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// Index of the file among the audited inputs (findings name it).
    pub input: usize,
    pub path: &'a str,
    pub text: &'a str,
    /// The parsed tree of a `.tf.json` file; `None` for native syntax.
    pub json: Option<&'a Document>,
}

/// `true` for a file in Terraform's native syntax.
pub fn is_native(path: &str) -> bool {
    path.ends_with(".tf")
}

/// `true` for a file in Terraform's JSON syntax.
pub fn is_json(path: &str) -> bool {
    path.ends_with(".tf.json")
}

/// Checks the syntax of a native file (what `Input::parse` refuses).
pub fn check_syntax(text: &str) -> Result<(), SyntaxError> {
    ast::parse_hcl(0, text).map(|_| ())
}

/// Values given for variables (`--tf-var-file`), by name.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    values: Vec<(String, serde_json::Value)>,
}

impl Variables {
    /// Reads a `.tfvars` file (native syntax: `name = value`, values without references) or a `.tfvars.json`.
    pub fn parse(path: &str, text: &str) -> Result<Self, String> {
        let mut values = Vec::new();
        if path.ends_with(".json") {
            let json: serde_json::Value =
                serde_json::from_str(text).map_err(|e| format!("{path}: not JSON: {e}"))?;
            let Some(map) = json.as_object() else {
                return Err(format!(
                    "{path}: a variables file is an object of names and values"
                ));
            };
            values.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
        } else {
            let body = ast::parse_hcl(0, text).map_err(|e| {
                format!(
                    "{path}:{}:{}: not Terraform: {}",
                    e.line, e.column, e.message
                )
            })?;
            let empty = Module::default();
            let ev = Eval::new(&empty);
            for attr in &body.attrs {
                let v = ev.value(&attr.expr, &Scope::default());
                let Some(json) = to_json(&v) else {
                    return Err(format!(
                        "{path}: the value of `{}` is not a constant (a variables file holds values, not references)",
                        attr.name
                    ));
                };
                values.push((attr.name.clone(), json));
            }
        }
        Ok(Variables { values })
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Adds the values of another file (they win over earlier ones, as with repeated `-var-file`).
    pub fn extend(&mut self, other: Variables) {
        self.values.extend(other.values);
    }

    fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

fn to_json(v: &Val) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    Some(match &v.v {
        V::Null => J::Null,
        V::Bool(b) => J::Bool(*b),
        V::Num(n) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
        V::Str { text, holes: false } => J::String(text.clone()),
        V::List(items) => J::Array(items.iter().map(to_json).collect::<Option<_>>()?),
        V::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, x)| Some((k.clone(), to_json(x)?)))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

fn from_json(j: &serde_json::Value, at: Loc) -> Val {
    use serde_json::Value as J;
    let v = match j {
        J::Null => V::Null,
        J::Bool(b) => V::Bool(*b),
        J::Number(n) => V::Num(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => V::Str {
            text: s.clone(),
            holes: false,
        },
        J::Array(items) => V::List(items.iter().map(|i| from_json(i, at)).collect()),
        J::Object(map) => {
            return object(
                map.iter()
                    .map(|(k, x)| (k.clone(), from_json(x, at)))
                    .collect(),
                Some(at),
            );
        }
    };
    Val::new(v, Some(at))
}

/// The files of one module, parsed and indexed.
#[derive(Default)]
struct Module<'a> {
    texts: Vec<&'a str>,
    inputs: Vec<usize>,
    paths: Vec<&'a str>,
    bodies: Vec<Body>,
    variables: Variables,
    /// Addresses being evaluated (a reference cycle is unknown, not a stack overflow).
    active: RefCell<Vec<String>>,
    /// `aws_iam_policy_document`s some expression read.
    used: RefCell<HashSet<String>>,
}

impl<'a> Module<'a> {
    fn load(sources: &[Source<'a>], variables: &Variables) -> Self {
        let mut module = Module {
            variables: variables.clone(),
            ..Module::default()
        };
        for (i, s) in sources.iter().enumerate() {
            let body = match s.json {
                Some(doc) => ast::parse_json(i, doc),
                // A file with a syntax error was refused when it was read; nothing to add here.
                None => ast::parse_hcl(i, s.text).unwrap_or_default(),
            };
            module.texts.push(s.text);
            module.inputs.push(s.input);
            module.paths.push(s.path);
            module.bodies.push(body);
        }
        module
    }

    fn blocks(&self) -> impl Iterator<Item = (usize, &Block)> {
        self.bodies
            .iter()
            .enumerate()
            .flat_map(|(i, b)| b.blocks.iter().map(move |x| (i, x)))
    }

    fn find(&self, ident: &str, labels: &[&str]) -> Option<&Block> {
        self.blocks().map(|(_, b)| b).find(|b| {
            b.ident == ident
                && b.labels.len() == labels.len()
                && b.labels.iter().zip(labels).all(|(a, b)| a == b)
        })
    }

    /// `address` is written in a block other than itself and the module's outputs: a permissions policy
    /// (`aws_iam_policy.policy`, `aws_iam_role_policy.policy`) or an input of another module, not a trust policy
    /// this module hands out.
    fn referenced_outside_outputs(&self, address: &str, own: &Block) -> bool {
        self.blocks().any(|(fi, b)| {
            !std::ptr::eq(b, own)
                && b.ident != "output"
                && self
                    .texts
                    .get(fi)
                    .and_then(|t| t.get(b.loc.start..b.loc.end))
                    .is_some_and(|t| t.contains(address))
        })
    }

    fn at(&self, loc: Loc) -> At {
        At::span(
            self.inputs.get(loc.file).copied().unwrap_or(0),
            loc.start,
            loc.end,
        )
    }

    /// The instances of a block with `for_each` or `count`: `(key, scope)`; `None` as the key when the
    /// collection is not known (one instance stands for all, with `each`/`count.index` unknown).
    fn instances(&self, ev: &Eval<'_>, block: &Block, address: &str) -> Vec<(Option<Val>, Scope)> {
        let base = Scope::default();
        if let Some(fe) = block.body.attr("for_each") {
            let coll = ev.value(&fe.expr, &base);
            return match functions::for_each_instances(&coll) {
                Some(instances) => instances
                    .into_iter()
                    .map(|(k, v)| {
                        let key = Val::str(k, v.at);
                        (Some(key.clone()), base.with("each", each(key, v)))
                    })
                    .collect(),
                None => {
                    let why = format!(
                        "`each` of {address} (for_each = {})",
                        coll.first_unknown()
                            .map_or_else(|| short(self.text(fe.expr.loc)), str::to_owned)
                    );
                    vec![(
                        None,
                        base.with("each", Val::unknown(why, Some(fe.expr.loc))),
                    )]
                }
            };
        }
        if let Some(c) = block.body.attr("count") {
            let n = ev.value(&c.expr, &base);
            return match n.v {
                V::Num(n) if n >= 0.0 => (0..n as usize)
                    .map(|i| {
                        let key = Val::new(V::Num(i as f64), Some(c.expr.loc));
                        let count = object(vec![("index".into(), key.clone())], None);
                        (Some(key), base.with("count", count))
                    })
                    .collect(),
                _ => {
                    let why = format!(
                        "`count.index` of {address} (count = {})",
                        short(self.text(c.expr.loc))
                    );
                    let count = object(
                        vec![("index".into(), Val::unknown(why, Some(c.expr.loc)))],
                        None,
                    );
                    vec![(None, base.with("count", count))]
                }
            };
        }
        vec![(None, base)]
    }

    /// The attributes of one instance of a resource or data source.
    fn instance(
        &self,
        ev: &Eval<'_>,
        data: bool,
        block: &Block,
        scope: &Scope,
        address: &str,
    ) -> Val {
        let kind = block.labels.first().map_or("", String::as_str);
        if data && kind == "aws_iam_policy_document" {
            self.used.borrow_mut().insert(address.to_owned());
            let json = document::render(ev, &block.body, scope, block.loc);
            return object(
                vec![
                    ("json".into(), json.clone()),
                    ("minified_json".into(), json),
                    (PARTIAL.into(), Val::null()),
                ],
                Some(block.loc),
            );
        }
        let mut attrs: Vec<(String, Val)> = block
            .body
            .attrs
            .iter()
            .filter(|a| {
                !matches!(
                    a.name.as_str(),
                    "for_each" | "count" | "depends_on" | "provider"
                )
            })
            .map(|a| (a.name.clone(), ev.value(&a.expr, scope)))
            .collect();
        if kind == "aws_iam_openid_connect_provider" {
            let url = attrs
                .iter()
                .find(|(n, _)| n == "url")
                .map(|(_, v)| v.clone());
            if let Some(url) = url {
                // IAM stores (and the provider reads back) the URL without its scheme.
                let host = match &url.v {
                    V::Str { text, holes } => Val::new(
                        V::Str {
                            text: text.trim_start_matches("https://").to_owned(),
                            holes: *holes,
                        },
                        url.at,
                    ),
                    _ => url.clone(),
                };
                if !attrs.iter().any(|(n, _)| n == "arn") {
                    let arn = match &host.v {
                        V::Str { text, .. } => Val::new(
                            V::Str {
                                text: format!(
                                    "arn:aws:iam::${{data.aws_caller_identity.current.account_id}}:oidc-provider/{text}"
                                ),
                                holes: true,
                            },
                            url.at,
                        ),
                        _ => host.clone(),
                    };
                    attrs.push(("arn".into(), arn));
                }
                attrs.retain(|(n, _)| n != "url");
                attrs.push(("url".into(), host));
            }
        }
        attrs.push((PARTIAL.into(), Val::null()));
        object(attrs, Some(block.loc))
    }
}

impl Resolver for Module<'_> {
    fn variable(&self, name: &str, at: Loc) -> Val {
        if let Some(j) = self.variables.get(name) {
            return from_json(j, at);
        }
        let Some(block) = self.find("variable", &[name]) else {
            return Val::unknown(
                format!("`var.{name}` (no `variable \"{name}\"` in the files read)"),
                Some(at),
            );
        };
        match block.body.attr("default") {
            Some(d) => {
                let ev = Eval::new(self);
                let v = ev.value(&d.expr, &Scope::default());
                if matches!(v.v, V::Null) {
                    Val::unknown(format!("`var.{name}` (its default is null)"), Some(at))
                } else {
                    v
                }
            }
            None => Val::unknown(
                format!("`var.{name}` (no default; give it with --tf-var-file)"),
                Some(at),
            ),
        }
    }

    fn local(&self, name: &str) -> Option<&E> {
        self.blocks()
            .filter(|(_, b)| b.ident == "locals")
            .find_map(|(_, b)| b.body.attr(name))
            .map(|a| &a.expr)
    }

    fn resource(
        &self,
        ev: &Eval<'_>,
        data: bool,
        kind: &str,
        name: &str,
        key: Option<&Val>,
        at: Loc,
    ) -> Val {
        let address = if data {
            format!("data.{kind}.{name}")
        } else {
            format!("{kind}.{name}")
        };
        let ident = if data { "data" } else { "resource" };
        let Some(block) = self.find(ident, &[kind, name]) else {
            return Val::unknown(format!("`{address}` (not in the files read)"), Some(at));
        };
        if self.active.borrow().contains(&address) {
            return Val::unknown(format!("`{address}` (refers to itself)"), Some(at));
        }
        self.active.borrow_mut().push(address.clone());
        let counted = block.body.attr("for_each").is_some() || block.body.attr("count").is_some();
        let instances = self.instances(ev, block, &address);
        let out = match (counted, key) {
            (false, _) => self.instance(ev, data, block, &Scope::default(), &address),
            (true, Some(key)) => match instances.iter().find(|(k, _)| match k {
                Some(k) => eval::same(k, key),
                None => true,
            }) {
                Some((_, scope)) => self.instance(ev, data, block, scope, &address),
                None if key.is_unknown() || eval::contains_unknown(key) => Val::unknown(
                    format!("`{}` (an instance chosen at apply)", short(self.text(at))),
                    Some(at),
                ),
                None => Val::unknown(
                    format!("`{}` (no such instance)", short(self.text(at))),
                    Some(at),
                ),
            },
            (true, None) => match instances.as_slice() {
                [(None, scope)] => {
                    // Not known how many: every instance has these attributes.
                    let one = self.instance(ev, data, block, scope, &address);
                    Val::unknown(
                        format!(
                            "`{address}` (its instances are known after apply){}",
                            one.first_unknown()
                                .map(|u| format!("; {u}"))
                                .unwrap_or_default()
                        ),
                        Some(at),
                    )
                }
                _ if block.body.attr("count").is_some() => Val::new(
                    V::List(
                        instances
                            .iter()
                            .map(|(_, s)| self.instance(ev, data, block, s, &address))
                            .collect(),
                    ),
                    Some(at),
                ),
                _ => object(
                    instances
                        .iter()
                        .map(|(k, s)| {
                            (
                                k.as_ref()
                                    .and_then(Val::as_str)
                                    .unwrap_or_default()
                                    .to_owned(),
                                self.instance(ev, data, block, s, &address),
                            )
                        })
                        .collect(),
                    Some(at),
                ),
            },
        };
        self.active.borrow_mut().pop();
        out
    }

    fn module_call(&self, _ev: &Eval<'_>, name: &str, _key: Option<&Val>, at: Loc) -> Val {
        let source = self
            .find("module", &[name])
            .and_then(|b| b.body.attr("source"))
            .map(|a| short(self.text(a.expr.loc)));
        Val::unknown(
            match source {
                Some(s) => format!("`module.{name}` (outputs of module {s})"),
                None => format!("`module.{name}` (not in the files read)"),
            },
            Some(at),
        )
    }

    fn text(&self, at: Loc) -> &str {
        self.texts
            .get(at.file)
            .and_then(|t| t.get(at.start..at.end))
            .unwrap_or("")
    }
}

/// Reads the trust policies and OIDC providers of one module (its files, any order).
pub fn read_module<'a>(
    sources: &[Source<'a>],
    variables: &Variables,
    production_names: &'a [String],
) -> TrustFile<'a> {
    let module = Module::load(sources, variables);
    let ev = Eval::new(&module);
    let mut file = TrustFile::default();
    let mut roles = Vec::new();
    for (fi, block) in module.blocks() {
        let (ident, kind, name) = match block.labels.as_slice() {
            [kind, name] => (block.ident.as_str(), kind.as_str(), name.as_str()),
            _ => continue,
        };
        let data = ident == "data";
        if ident != "resource" && !data {
            continue;
        }
        let address = if data {
            format!("data.{kind}.{name}")
        } else {
            format!("{kind}.{name}")
        };
        match (data, kind) {
            (false, "aws_iam_role") => roles.push((fi, block, address)),
            (_, "aws_iam_openid_connect_provider") => {
                for (key, scope) in module.instances(&ev, block, &address) {
                    let v = module.instance(&ev, data, block, &scope, &address);
                    let field = |n: &str| {
                        let attr = block.body.attr(n)?;
                        let value = if n == "url" {
                            // As written (`provider_resource` strips the scheme where IAM does).
                            ev.value(&attr.expr, &scope)
                        } else {
                            v.get(n).cloned()?
                        };
                        Some((
                            to_rnode(&module, &value, attr.expr.loc),
                            module.at(attr.loc),
                        ))
                    };
                    let url = field("url");
                    let ids = field("client_id_list");
                    // A data source reads an existing provider: its client IDs are not in the file.
                    let ids = if data && ids.is_none() {
                        Some((
                            RNode::unknown(
                                format!("`{address}.client_id_list` (an existing provider)"),
                                module.at(block.loc),
                            ),
                            module.at(block.loc),
                        ))
                    } else {
                        ids
                    };
                    file.providers.push(provider_resource(
                        &instance_address(&address, key.as_ref()),
                        module.at(block.loc),
                        url,
                        ids,
                    ));
                }
            }
            _ => {}
        }
    }
    for (fi, block, address) in roles {
        let Some(attr) = block.body.attr("assume_role_policy") else {
            continue;
        };
        for (key, scope) in module.instances(&ev, block, &address) {
            let v = ev.value(&attr.expr, &scope);
            let doc = policy_rnode(&module, &v, attr.expr.loc);
            let name = block
                .body
                .attr("name")
                .or_else(|| block.body.attr("name_prefix"))
                .map(|a| ev.value(&a.expr, &scope))
                .and_then(|n| n.as_str().map(str::to_owned))
                .unwrap_or_else(|| instance_address(&address, key.as_ref()));
            file.policies.push(build(
                doc,
                module.at(attr.loc),
                Format::Terraform,
                module.paths[fi],
                Some(name),
                production_names,
            ));
        }
    }
    // A policy document no role of the module uses, that allows web identity federation: a module that hands the
    // document to its caller's role (an output). Judged on its own.
    let used = module.used.borrow().clone();
    for (fi, block) in module.blocks() {
        let [kind, name] = block.labels.as_slice() else {
            continue;
        };
        if block.ident != "data" || kind != "aws_iam_policy_document" {
            continue;
        }
        let address = format!("data.{kind}.{name}");
        if used.contains(&address) || module.referenced_outside_outputs(&address, block) {
            continue;
        }
        for (key, scope) in module.instances(&ev, block, &address) {
            let json = document::render(&ev, &block.body, &scope, block.loc);
            if !eval::json_text(&json).contains("AssumeRoleWithWebIdentity") {
                continue;
            }
            file.policies.push(build(
                policy_rnode(&module, &json, block.loc),
                module.at(block.loc),
                Format::Terraform,
                module.paths[fi],
                Some(instance_address(&address, key.as_ref())),
                production_names,
            ));
        }
    }
    // A call of a module from elsewhere (the registry, git) that looks like it makes roles or providers: its
    // trust is not in the files read, and keyless has no model of the module yet. Never a silent pass.
    for (fi, block) in module.blocks() {
        let [name] = block.labels.as_slice() else {
            continue;
        };
        if block.ident != "module" {
            continue;
        }
        let Some(source) = block.body.attr("source").and_then(|a| {
            let v = ev.value(&a.expr, &Scope::default());
            v.as_str().map(str::to_owned)
        }) else {
            continue;
        };
        if source.starts_with("./")
            || source.starts_with("../")
            || !about_trust(&source, &block.body)
        {
            continue;
        }
        file.policies.push(build(
            RNode::unknown(
                format!("the trust policies of `module.{name}` (source \"{source}\": modules are not read)"),
                module.at(block.loc),
            ),
            module.at(block.loc),
            Format::Terraform,
            module.paths[fi],
            Some(format!("module.{name}")),
            production_names,
        ));
    }
    for policy in &mut file.policies {
        policy.providers.clone_from(&file.providers);
    }
    file
}

/// A module call that makes IAM roles or OIDC providers: its source or its inputs say so.
fn about_trust(source: &str, body: &Body) -> bool {
    const WORDS: [&str; 6] = ["iam", "oidc", "role", "bitbucket", "assume", "trust"];
    let source = source.to_ascii_lowercase();
    WORDS.iter().any(|w| source.contains(w))
        || body.attrs.iter().any(|a| {
            let n = a.name.to_ascii_lowercase();
            ["oidc", "subject", "assume", "trust", "provider_url"]
                .iter()
                .any(|w| n.contains(w))
        })
}

fn instance_address(address: &str, key: Option<&Val>) -> String {
    match key.map(|k| &k.v) {
        Some(V::Str { text, .. }) => format!("{address}[\"{text}\"]"),
        Some(V::Num(n)) => format!("{address}[{}]", eval::number_text(*n)),
        _ => address.to_owned(),
    }
}

/// The trust policy a role's `assume_role_policy` value gives IAM.
fn policy_rnode(module: &Module<'_>, v: &Val, loc: Loc) -> RNode {
    match &v.v {
        V::Json(inner) => to_rnode(module, inner, loc),
        V::Str { text, holes } => json_string(module, text, *holes, v.at.unwrap_or(loc)),
        V::Unknown(why) => RNode::unknown(why.clone(), module.at(v.at.unwrap_or(loc))),
        _ => RNode::unknown(
            format!("`{}` (not a policy document)", short(module.text(loc))),
            module.at(loc),
        ),
    }
}

/// A policy written as a string of JSON (a heredoc, `file()`d text, a quoted string): each value located by its
/// line of the text, found in the expression the user wrote.
fn json_string(module: &Module<'_>, text: &str, holes: bool, loc: Loc) -> RNode {
    let source = module.text(loc);
    let at = |line: usize| {
        let wanted = text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .trim();
        match (!wanted.is_empty()).then(|| source.find(wanted)).flatten() {
            Some(off) => module.at(Loc {
                file: loc.file,
                start: loc.start + off,
                end: loc.start + off + wanted.len(),
            }),
            None => module.at(loc),
        }
    };
    match keyless_iam::json::parse(text) {
        Ok(spanned) => from_spanned(&spanned, holes, &at),
        Err(e) => RNode::unknown(
            if holes {
                format!(
                    "`{}` (a policy document with parts known only after apply)",
                    short(source)
                )
            } else {
                format!(
                    "a policy document string that is not JSON ({} at line {}, column {})",
                    e.message, e.location.line, e.location.column
                )
            },
            module.at(loc),
        ),
    }
}

fn from_spanned(s: &keyless_iam::json::Spanned, holes: bool, at: &dyn Fn(usize) -> At) -> RNode {
    use keyless_iam::json::Value as J;
    let value = match &s.value {
        J::Null => RValue::Null,
        J::Bool(b) => RValue::Bool(*b),
        J::Number(n) => RValue::Number(n.clone()),
        J::String(t) => RValue::String(Text {
            text: t.clone(),
            holes: holes && t.contains("${"),
        }),
        J::Array(items) => RValue::Seq(items.iter().map(|i| from_spanned(i, holes, at)).collect()),
        J::Object(members) => RValue::Map(
            members
                .iter()
                .map(|m| REntry {
                    key: m.key.clone(),
                    key_holes: holes && m.key.contains("${"),
                    key_at: at(m.key_location.line),
                    value: from_spanned(&m.value, holes, at),
                })
                .collect(),
        ),
    };
    RNode::new(value, at(s.location.line))
}

/// A value as a policy's node, located where its parts were written.
fn to_rnode(module: &Module<'_>, v: &Val, parent: Loc) -> RNode {
    let loc = v.at.unwrap_or(parent);
    let at = module.at(loc);
    let value = match &v.v {
        V::Null => RValue::Null,
        V::Bool(b) => RValue::Bool(*b),
        V::Num(n) => RValue::Number(eval::number_text(*n)),
        V::Str { text, holes } => RValue::String(Text {
            text: text.clone(),
            holes: *holes,
        }),
        V::Json(inner) => RValue::String(Text {
            text: eval::json_text(inner),
            holes: eval::contains_unknown(inner),
        }),
        V::List(items) => RValue::Seq(items.iter().map(|i| to_rnode(module, i, loc)).collect()),
        V::Map(entries) => RValue::Map(
            entries
                .iter()
                .filter(|(k, _)| k != PARTIAL)
                .map(|(k, x)| {
                    let value = to_rnode(module, x, loc);
                    REntry {
                        key: k.clone(),
                        key_holes: k.contains("${"),
                        key_at: value.at.clone(),
                        value,
                    }
                })
                .collect(),
        ),
        V::Unknown(why) => RValue::Unknown(super::value::Unknown {
            depends_on: why.clone(),
        }),
    };
    RNode::new(value, at)
}

/// `true` for `terraform show -json` output (of a plan or of the state).
pub fn is_plan(root: &Node) -> bool {
    root.get("format_version").is_some()
        && (root.get("planned_values").is_some()
            || root.get("values").is_some()
            || root.get("resource_changes").is_some())
}

/// The roles and providers of `terraform show -json` output. A plan's values are what Terraform will send: an
/// `assume_role_policy` absent from `planned_values` is known only after apply.
pub fn read_plan<'a>(
    doc: &'a Document,
    path: &'a str,
    production_names: &'a [String],
) -> TrustFile<'a> {
    let root = doc.root();
    let mut file = TrustFile::default();
    let top = if root.get("planned_values").is_some() {
        "planned_values"
    } else {
        "values"
    };
    let Some(module) = root.get(top).and_then(|v| v.get("root_module")) else {
        return file;
    };
    let route = Route::root().key(top).key("root_module");
    plan_module(module, &route, path, production_names, &mut file);
    for policy in &mut file.policies {
        policy.providers.clone_from(&file.providers);
    }
    file
}

fn plan_module<'a>(
    module: &Node,
    route: &Route,
    path: &'a str,
    production_names: &'a [String],
    file: &mut TrustFile<'a>,
) {
    for (i, r) in module
        .get("resources")
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let r_route = route.key("resources").index(i);
        let kind = r.get("type").and_then(Node::as_str).unwrap_or_default();
        let address = r
            .get("address")
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_owned();
        let values = r.get("values");
        let v_route = r_route.key("values");
        match kind {
            "aws_iam_role" if r.get("mode").and_then(Node::as_str) != Some("data") => {
                let doc = match values.and_then(|v| v.get("assume_role_policy")) {
                    Some(n) => match n.as_str() {
                        Some(text) => plan_json(text, &v_route.key("assume_role_policy")),
                        None => RNode::unknown(
                            format!("`{address}.assume_role_policy` (not a string)"),
                            At::node(v_route.key("assume_role_policy")),
                        ),
                    },
                    None => RNode::unknown(
                        format!("`{address}.assume_role_policy` (known after apply)"),
                        At::node(r_route.clone()),
                    ),
                };
                let name = values
                    .and_then(|v| v.get("name"))
                    .and_then(Node::as_str)
                    .map_or_else(|| address.clone(), str::to_owned);
                file.policies.push(build(
                    doc,
                    At::key(v_route.key("assume_role_policy")),
                    Format::Terraform,
                    path,
                    Some(name),
                    production_names,
                ));
            }
            "aws_iam_openid_connect_provider" => {
                let field = |n: &str| {
                    let node = values?.get(n)?;
                    let route = v_route.key(n);
                    let rnode = plan_value(node, &route);
                    Some((rnode, At::key(route)))
                };
                let ids = field("client_id_list").or_else(|| {
                    Some((
                        RNode::unknown(
                            format!("`{address}.client_id_list` (known after apply)"),
                            At::node(r_route.clone()),
                        ),
                        At::node(r_route.clone()),
                    ))
                });
                file.providers.push(provider_resource(
                    &address,
                    At::node(r_route.clone()),
                    field("url"),
                    ids,
                ));
            }
            _ => {}
        }
    }
    for (i, child) in module
        .get("child_modules")
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        plan_module(
            child,
            &route.key("child_modules").index(i),
            path,
            production_names,
            file,
        );
    }
}

fn plan_value(node: &Node, route: &Route) -> RNode {
    use crate::source::Value;
    let at = At::node(route.clone());
    match &node.value {
        Value::Null => RNode::new(RValue::Null, at),
        Value::Bool(b) => RNode::new(RValue::Bool(*b), at),
        Value::Int(i) => RNode::new(RValue::Number(i.to_string()), at),
        Value::Float(f) => RNode::new(RValue::Number(f.to_string()), at),
        Value::String(s) => RNode::string(s.to_string(), false, at),
        Value::Seq(items) => RNode::new(
            RValue::Seq(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| plan_value(x, &route.index(i)))
                    .collect(),
            ),
            at,
        ),
        Value::Map(entries) => RNode::new(
            RValue::Map(
                entries
                    .iter()
                    .map(|e| REntry {
                        key: e.key.to_string(),
                        key_holes: false,
                        key_at: At::key(route.key(e.key.as_str())),
                        value: plan_value(&e.value, &route.key(e.key.as_str())),
                    })
                    .collect(),
            ),
            at,
        ),
    }
}

/// A plan's policy string: one line of JSON, so every value points at the string.
fn plan_json(text: &str, route: &Route) -> RNode {
    match keyless_iam::json::parse(text) {
        Ok(spanned) => from_spanned(&spanned, false, &|_| At::node(route.clone())),
        Err(e) => RNode::unknown(
            format!(
                "a policy document string that is not JSON ({} at line {}, column {})",
                e.message, e.location.line, e.location.column
            ),
            At::node(route.clone()),
        ),
    }
}

/// Renders every `data "aws_iam_policy_document"` of a module as the provider's `json` (the differential test
/// compares it with Terraform's): `(address, json)`; a document with parts known only at apply is left out.
pub fn render_documents(sources: &[Source<'_>], variables: &Variables) -> Vec<(String, String)> {
    let module = Module::load(sources, variables);
    let ev = Eval::new(&module);
    let mut out = Vec::new();
    for (_, block) in module.blocks() {
        let [kind, name] = block.labels.as_slice() else {
            continue;
        };
        if block.ident != "data" || kind != "aws_iam_policy_document" {
            continue;
        }
        let address = format!("data.{kind}.{name}");
        for (key, scope) in module.instances(&ev, block, &address) {
            let json = document::render(&ev, &block.body, &scope, block.loc);
            if eval::contains_unknown(&json) {
                continue;
            }
            out.push((
                instance_address(&address, key.as_ref()),
                document::marshal_indent(&json),
            ));
        }
    }
    out
}
