//! Terraform: trust policies and OIDC providers as a module writes them, and as `terraform show -json` prints them.
//!
//! A module is the `.tf` and `.tf.json` files of one directory, read together (variables, locals and data sources
//! live in other files than the role). Native syntax is parsed by `hcl-edit` ([`ast`]); expressions are evaluated
//! the way `terraform plan` sees them before anything exists ([`eval`], [`functions`]): variables take their
//! defaults (or the values of `--tf-var-file`), locals, `for` expressions, `for_each`/`count` and `dynamic` blocks
//! are expanded, and what exists only after apply (an account ID, another module's outputs, a variable without a
//! default) is unknown and reported by `unresolved-reference` instead of passing silently.
//! `data "aws_iam_policy_document"` is rendered the way the AWS provider 5.100 renders it ([`document`]); a
//! differential test compares the rendering with the machine's Terraform (`crates/cli/tests/emulate/terraform_render.rs`).
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
//! - `module` calls: a local `source` (`./modules/x`, `../..`) whose files are among the inputs is read as Terraform
//!   instantiates it, with the caller's inputs (a directory some other directory calls is read through its calls,
//!   not as a root); a published module keyless has a model of ([`models`]) is read through the model, with the
//!   caller's inputs, and findings in the model's text are reported at the `module` block. Any other call that looks
//!   like it makes roles or providers is `unresolved-reference`. A module's outputs are what its `output` blocks
//!   compute, so a role that takes its policy from a module's output is judged on it.
//! - Variables of a root module: `terraform.tfvars`, `terraform.tfvars.json`, `*.auto.tfvars(.json)` of its
//!   directory (in Terraform's order), then `--tf-var-file`, then the defaults.

mod ast;
mod document;
mod eval;
mod functions;
pub mod models;

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
            let ev = Eval::new(&Constants);
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

/// The resolver of a variables file: it holds constants, so every reference is unknown.
struct Constants;

impl Resolver for Constants {
    fn variable(&self, name: &str, at: Loc) -> Val {
        Val::unknown(format!("`var.{name}`"), Some(at))
    }
    fn local(&self, _: &str) -> Option<&E> {
        None
    }
    fn resource(
        &self,
        _: &Eval<'_>,
        _: bool,
        kind: &str,
        name: &str,
        _: Option<&Val>,
        at: Loc,
    ) -> Val {
        Val::unknown(format!("`{kind}.{name}`"), Some(at))
    }
    fn module_call(&self, _: &Eval<'_>, name: &str, _: Option<&Val>, at: Loc) -> Val {
        Val::unknown(format!("`module.{name}`"), Some(at))
    }
    fn text(&self, _: Loc) -> &str {
        ""
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

/// Every file a read can see: the Terraform inputs of all directories (a local module call reads another
/// directory's files) and the models' files. `Loc::file` indexes this list, so a value keeps its place whichever
/// module it travels to (a caller's input used in a called module is reported where the caller wrote it).
struct Files<'a> {
    entries: Vec<File<'a>>,
}

struct File<'a> {
    /// Index of the file among the audited inputs (0 for a model's file, whose places are reported at the call).
    input: usize,
    path: &'a str,
    /// The directory, normalised (`a/./b/../c` is `a/c`); a model's files are under [`models::ROOT`].
    dir: String,
    text: &'a str,
    body: Body,
    /// keyless's model of a published module: places in it are reported at the `module` block that calls it.
    model: bool,
}

impl<'a> Files<'a> {
    fn load(sources: &[Source<'a>]) -> Self {
        let mut entries = Vec::new();
        for s in sources {
            let i = entries.len();
            let body = match s.json {
                Some(doc) => ast::parse_json(i, doc),
                // A file with a syntax error was refused when it was read; nothing to add here.
                None => ast::parse_hcl(i, s.text).unwrap_or_default(),
            };
            entries.push(File {
                input: s.input,
                path: s.path,
                dir: dir_of(s.path),
                text: s.text,
                body,
                model: false,
            });
        }
        for m in models::MODELS {
            for (sub, text) in m.files {
                let i = entries.len();
                entries.push(File {
                    input: 0,
                    path: m.registry,
                    dir: m.dir(sub),
                    text,
                    body: ast::parse_hcl(i, text).unwrap_or_default(),
                    model: true,
                });
            }
        }
        Files { entries }
    }

    fn in_dir(&self, dir: &str) -> Vec<usize> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, f)| f.dir == dir)
            .map(|(i, _)| i)
            .collect()
    }
}

/// The normalised directory of a path.
fn dir_of(path: &str) -> String {
    let path = path.replace('\\', "/");
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    join_dir("", dir)
}

/// `base` joined with a relative path, `.` and `..` resolved as Terraform resolves a local `source`.
fn join_dir(base: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = if base.is_empty() {
        Vec::new()
    } else {
        base.split('/').collect()
    };
    let rel = rel.replace('\\', "/");
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." && !last.is_empty() => {
                    parts.pop();
                }
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    // `rel` is owned; rebuild as owned text.
    parts.join("/")
}

/// A `source` that names a directory of the same checkout.
fn is_local(source: &str) -> bool {
    source.starts_with("./") || source.starts_with("../") || source == "." || source == ".."
}

/// Module calls nested deeper than this are not followed (Terraform has no limit; real trees are shallow).
const MAX_MODULE_DEPTH: usize = 8;

/// The arguments of a `module` block that are not inputs.
const META_ARGUMENTS: [&str; 6] = [
    "source",
    "version",
    "count",
    "for_each",
    "providers",
    "depends_on",
];

/// One module instance being read: a root module (a directory of the inputs) or a module a caller instantiates
/// with its inputs (a local directory, or a model of a published module).
struct Module<'f, 'a> {
    files: &'f Files<'a>,
    /// The files of this module (indexes into `files`).
    own: Vec<usize>,
    dir: String,
    /// A root module's variable values from `--tf-var-file` (win over `auto`).
    variables: Variables,
    /// A root module's values from its auto-loaded `.tfvars` files, in loading order (a later one wins), located
    /// where the file writes them.
    auto: Vec<(String, Val)>,
    /// A called module's inputs, evaluated where the caller wrote them.
    inputs: Option<Vec<(String, Val)>>,
    /// Where places in a model's file are reported: the user's `module` block that (eventually) calls it.
    anchor: Option<Loc>,
    /// `module.NAME.` (nested: `module.a.module.b["k"].`) for a called module, empty for a root.
    prefix: String,
    depth: usize,
    /// The directories of the callers (a module that calls itself is not followed).
    callers: Vec<String>,
    /// Addresses being evaluated (a reference cycle is unknown, not a stack overflow).
    active: RefCell<Vec<String>>,
    /// `aws_iam_policy_document`s some expression read (with their module's prefix), shared by every module of
    /// the read.
    used: &'f RefCell<HashSet<String>>,
    /// The outputs of the modules this one calls, by instance address.
    outputs: RefCell<Vec<(String, Val)>>,
}

impl<'f, 'a> Module<'f, 'a> {
    fn root(
        files: &'f Files<'a>,
        dir: &str,
        variables: Variables,
        used: &'f RefCell<HashSet<String>>,
    ) -> Self {
        Module {
            files,
            own: files
                .in_dir(dir)
                .into_iter()
                .filter(|&i| !is_tfvars(files.entries[i].path))
                .collect(),
            dir: dir.to_owned(),
            variables,
            auto: Vec::new(),
            inputs: None,
            anchor: None,
            prefix: String::new(),
            depth: 0,
            callers: Vec::new(),
            active: RefCell::default(),
            used,
            outputs: RefCell::default(),
        }
    }

    fn blocks(&self) -> impl Iterator<Item = (usize, &'f Block)> + '_ {
        let files = self.files;
        self.own
            .iter()
            .flat_map(move |&i| files.entries[i].body.blocks.iter().map(move |x| (i, x)))
    }

    fn find(&self, ident: &str, labels: &[&str]) -> Option<&'f Block> {
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
                && self.files.entries[fi]
                    .text
                    .get(b.loc.start..b.loc.end)
                    .is_some_and(|t| t.contains(address))
        })
    }

    /// Where a place is reported: itself, or for a place in a model, the `module` block that calls the model.
    fn report_loc(&self, loc: Loc) -> Loc {
        match self.files.entries.get(loc.file) {
            Some(f) if f.model => self.anchor.unwrap_or(loc),
            _ => loc,
        }
    }

    fn at(&self, loc: Loc) -> At {
        let loc = self.report_loc(loc);
        At::span(
            self.files.entries.get(loc.file).map_or(0, |f| f.input),
            loc.start,
            loc.end,
        )
    }

    /// The path of the file a place is reported in.
    fn path(&self, file: usize) -> &'a str {
        let file = match self.files.entries.get(file) {
            Some(f) if f.model => self.anchor.map_or(file, |a| a.file),
            _ => file,
        };
        self.files.entries.get(file).map_or("", |f| f.path)
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
            self.used
                .borrow_mut()
                .insert(format!("{}{address}", self.prefix));
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

    /// The module a `module` block instantiates, with the caller's inputs for one instance, or why it cannot be
    /// read (the reason `unresolved-reference` gives).
    fn child(
        &self,
        ev: &Eval<'_>,
        block: &Block,
        name: &str,
        key: Option<&Val>,
        scope: &Scope,
    ) -> Result<Module<'f, 'a>, String> {
        let source = block
            .body
            .attr("source")
            .map(|a| ev.value(&a.expr, &Scope::default()))
            .and_then(|v| v.as_str().map(str::to_owned))
            .ok_or("its `source` is not a literal string")?;
        let version = block
            .body
            .attr("version")
            .map(|a| ev.value(&a.expr, &Scope::default()))
            .and_then(|v| v.as_str().map(str::to_owned));
        if self.depth >= MAX_MODULE_DEPTH {
            return Err(format!(
                "source \"{source}\": modules nested more than {MAX_MODULE_DEPTH} deep are not followed"
            ));
        }
        let dir = if is_local(&source) {
            let dir = join_dir(&self.dir, &source);
            if dir == self.dir || self.callers.contains(&dir) {
                return Err(format!("source \"{source}\": the module calls itself"));
            }
            dir
        } else {
            let model = models::find(&source, version.as_deref())
                .map_err(|why| format!("source \"{source}\": {why}"))?;
            model.dir("")
        };
        let own: Vec<usize> = self
            .files
            .in_dir(&dir)
            .into_iter()
            .filter(|&i| !is_tfvars(self.files.entries[i].path))
            .collect();
        if own.is_empty() {
            return Err(format!(
                "source \"{source}\": its files were not among the audited inputs (audit the directory that holds both)"
            ));
        }
        let inputs = block
            .body
            .attrs
            .iter()
            .filter(|a| !META_ARGUMENTS.contains(&a.name.as_str()))
            .map(|a| (a.name.clone(), ev.value(&a.expr, scope)))
            .collect();
        let mut callers = self.callers.clone();
        callers.push(self.dir.clone());
        // Places in a model are reported at the user's `module` block, or for one instance of a `for_each`, at the
        // caller's value it was made from (a model's own for_each over the user's map).
        let user = |l: &Loc| self.files.entries.get(l.file).is_some_and(|f| !f.model);
        let anchor = key
            .and_then(|k| k.at)
            .filter(user)
            .unwrap_or_else(|| self.report_loc(block.loc));
        Ok(Module {
            files: self.files,
            own,
            dir,
            variables: Variables::default(),
            auto: Vec::new(),
            inputs: Some(inputs),
            anchor: Some(anchor),
            prefix: format!(
                "{}{}.",
                self.prefix,
                instance_address(&format!("module.{name}"), key)
            ),
            depth: self.depth + 1,
            callers,
            active: RefCell::default(),
            used: self.used,
            outputs: RefCell::default(),
        })
    }

    /// The outputs of one instance of a module call, as an object; unknown (saying why) when the module cannot be
    /// read.
    /// A reference to a block with `count` or `for_each` (a resource or a module call): the instance `key` names
    /// (`x[0]`, `x["a"]`), or every instance (a list for `count`, an object for `for_each`) when not indexed.
    /// `instance(key, scope)` is one instance's value; its key is `None` when the instances are known only after
    /// apply (`each`/`count` unknown in the scope), and it may then give nothing.
    fn counted(
        &self,
        ev: &Eval<'_>,
        block: &Block,
        address: &str,
        key: Option<&Val>,
        at: Loc,
        instance: &dyn Fn(Option<&Val>, &Scope) -> Option<Val>,
    ) -> Val {
        let instances = self.instances(ev, block, address);
        let after_apply = || {
            Val::unknown(
                format!("`{address}` (its instances are known after apply)"),
                Some(at),
            )
        };
        let value = |k: Option<&Val>, scope: &Scope| instance(k, scope).unwrap_or_else(after_apply);
        let Some(key) = key else {
            return match instances.as_slice() {
                [(None, scope)] => {
                    // Not known how many: every instance has these attributes.
                    let why = instance(None, scope)
                        .and_then(|one| one.first_unknown().map(|u| format!("; {u}")))
                        .unwrap_or_default();
                    Val::unknown(
                        format!("`{address}` (its instances are known after apply){why}"),
                        Some(at),
                    )
                }
                _ if block.body.attr("count").is_some() => Val::new(
                    V::List(
                        instances
                            .iter()
                            .map(|(k, s)| value(k.as_ref(), s))
                            .collect(),
                    ),
                    Some(at),
                ),
                _ => object(
                    instances
                        .iter()
                        .map(|(k, s)| {
                            let name = k.as_ref().and_then(Val::as_str).unwrap_or_default();
                            (name.to_owned(), value(k.as_ref(), s))
                        })
                        .collect(),
                    Some(at),
                ),
            };
        };
        match instances
            .iter()
            .find(|(k, _)| k.as_ref().is_none_or(|k| eval::same(k, key)))
        {
            Some((k, scope)) => value(k.as_ref(), scope),
            None if key.is_unknown() || eval::contains_unknown(key) => Val::unknown(
                format!("`{}` (an instance chosen at apply)", short(self.text(at))),
                Some(at),
            ),
            None => Val::unknown(
                format!("`{}` (no such instance)", short(self.text(at))),
                Some(at),
            ),
        }
    }

    fn call_outputs(
        &self,
        ev: &Eval<'_>,
        block: &Block,
        name: &str,
        key: Option<&Val>,
        scope: &Scope,
        at: Loc,
    ) -> Val {
        let address = instance_address(&format!("module.{name}"), key);
        if let Some((_, v)) = self.outputs.borrow().iter().find(|(a, _)| *a == address) {
            return v.clone();
        }
        if self.active.borrow().contains(&address) {
            return Val::unknown(format!("`{address}` (refers to itself)"), Some(at));
        }
        self.active.borrow_mut().push(address.clone());
        let out = match self.child(ev, block, name, key, scope) {
            Ok(child) => {
                let cev = Eval::new(&child);
                let anchor = child.anchor.unwrap_or(block.loc);
                let outputs = child
                    .blocks()
                    .filter(|(_, b)| b.ident == "output")
                    .filter_map(|(_, b)| {
                        let [label] = b.labels.as_slice() else {
                            return None;
                        };
                        let value = b
                            .body
                            .attr("value")
                            .map_or_else(Val::null, |a| cev.value(&a.expr, &Scope::default()));
                        Some((label.clone(), relocate(value, self.files, anchor)))
                    })
                    .collect();
                object(outputs, Some(at))
            }
            Err(why) => Val::unknown(format!("`{address}` ({why})"), Some(at)),
        };
        self.active.borrow_mut().pop();
        self.outputs.borrow_mut().push((address, out.clone()));
        out
    }
}

/// A value leaving a model (an output): places in the model's files become the call's place.
fn relocate(mut v: Val, files: &Files<'_>, anchor: Loc) -> Val {
    if let Some(at) = v.at
        && files.entries.get(at.file).is_some_and(|f| f.model)
    {
        v.at = Some(anchor);
    }
    v.v = match v.v {
        V::List(items) => V::List(
            items
                .into_iter()
                .map(|i| relocate(i, files, anchor))
                .collect(),
        ),
        V::Map(entries) => V::Map(
            entries
                .into_iter()
                .map(|(k, x)| (k, relocate(x, files, anchor)))
                .collect(),
        ),
        V::Json(inner) => V::Json(Box::new(relocate(*inner, files, anchor))),
        other => other,
    };
    v
}

impl Resolver for Module<'_, '_> {
    fn variable(&self, name: &str, at: Loc) -> Val {
        if let Some(inputs) = &self.inputs {
            if let Some((_, v)) = inputs.iter().find(|(n, _)| n == name) {
                return v.clone();
            }
        } else if let Some(j) = self.variables.get(name) {
            return from_json(j, at);
        } else if let Some((_, v)) = self.auto.iter().rev().find(|(n, _)| n == name) {
            return v.clone();
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
                // A root module's variable whose default is null is usually given at plan time (unknown here);
                // a called module's is null when the caller leaves it out, as Terraform has it.
                if matches!(v.v, V::Null) && self.inputs.is_none() {
                    Val::unknown(format!("`var.{name}` (its default is null)"), Some(at))
                } else {
                    v
                }
            }
            None if self.inputs.is_some() => Val::unknown(
                format!(
                    "`var.{name}` (not given by the call of `{}`, and no default)",
                    self.prefix.trim_end_matches('.')
                ),
                Some(at),
            ),
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
        let out = if is_counted(block) {
            self.counted(ev, block, &address, key, at, &|_, scope| {
                Some(self.instance(ev, data, block, scope, &address))
            })
        } else {
            self.instance(ev, data, block, &Scope::default(), &address)
        };
        self.active.borrow_mut().pop();
        out
    }

    fn module_call(&self, ev: &Eval<'_>, name: &str, key: Option<&Val>, at: Loc) -> Val {
        let Some(block) = self.find("module", &[name]) else {
            return Val::unknown(format!("`module.{name}` (not in the files read)"), Some(at));
        };
        if !is_counted(block) {
            return self.call_outputs(ev, block, name, None, &Scope::default(), at);
        }
        // An instance of a call whose instances are known only after apply has no outputs to read.
        self.counted(
            ev,
            block,
            &format!("module.{name}"),
            key,
            at,
            &|k, scope| k.map(|k| self.call_outputs(ev, block, name, Some(k), scope, at)),
        )
    }

    fn text(&self, at: Loc) -> &str {
        self.files
            .entries
            .get(at.file)
            .and_then(|f| f.text.get(at.start..at.end))
            .unwrap_or("")
    }
}

/// `true` for a variables file Terraform loads by itself in a root module (`terraform.tfvars`,
/// `terraform.tfvars.json`, `*.auto.tfvars`, `*.auto.tfvars.json`) or any other `.tfvars` named on the command line.
pub fn is_tfvars(path: &str) -> bool {
    path.ends_with(".tfvars") || path.ends_with(".tfvars.json")
}

/// The variables files Terraform loads by itself from a root module's directory, in the order it loads them:
/// `terraform.tfvars`, `terraform.tfvars.json`, then `*.auto.tfvars` / `*.auto.tfvars.json` in lexical order of
/// their names; later files win, and `-var-file` (keyless's `--tf-var-file`) wins over all of them
/// (<https://developer.hashicorp.com/terraform/language/values/variables#variable-definition-precedence>).
fn auto_loaded_rank(path: &str) -> Option<(u8, String)> {
    let name = path.replace('\\', "/");
    let name = name.rsplit('/').next().unwrap_or_default().to_owned();
    match name.as_str() {
        "terraform.tfvars" => Some((0, name)),
        "terraform.tfvars.json" => Some((1, name)),
        n if n.ends_with(".auto.tfvars") || n.ends_with(".auto.tfvars.json") => Some((2, name)),
        _ => None,
    }
}

/// Reads the trust policies and OIDC providers of one module (its files, any order).
pub fn read_module<'a>(
    sources: &[Source<'a>],
    variables: &Variables,
    production_names: &'a [String],
) -> TrustFile<'a> {
    let files = Files::load(sources);
    let dir = sources.first().map(|s| dir_of(s.path)).unwrap_or_default();
    let used = RefCell::default();
    let module = Module::root(&files, &dir, variables.clone(), &used);
    let ev = Eval::new(&module);
    let mut file = TrustFile::default();
    read_into(&module, &ev, production_names, &mut file);
    for policy in &mut file.policies {
        policy.providers.clone_from(&file.providers);
    }
    file
}

/// Reads every root module among the Terraform files of an audit (each directory is a module; a directory that
/// another one calls as a local module is read through that call, with the caller's inputs, not on its own):
/// `(index of the module's first input, what it holds)`. A root's variables take the values of its auto-loaded
/// `.tfvars` files, then of `variables` (`--tf-var-file`), then their defaults.
pub fn read_modules<'a>(
    sources: &[Source<'a>],
    variables: &Variables,
    production_names: &'a [String],
) -> Vec<(usize, TrustFile<'a>)> {
    if sources.is_empty() {
        return Vec::new();
    }
    let files = Files::load(sources);
    let mut dirs: Vec<String> = Vec::new();
    for f in files.entries.iter().filter(|f| !f.model) {
        if !dirs.contains(&f.dir) {
            dirs.push(f.dir.clone());
        }
    }
    // Directories some other directory calls as a local module.
    let mut called: HashSet<String> = HashSet::new();
    for f in files.entries.iter().filter(|f| !f.model) {
        for b in f.body.blocks.iter().filter(|b| b.ident == "module") {
            // `source` is a literal string in Terraform (no references).
            let source = b.body.attr("source").and_then(|a| {
                Eval::new(&Constants)
                    .value(&a.expr, &Scope::default())
                    .as_str()
                    .map(str::to_owned)
            });
            if let Some(source) = source.filter(|s| is_local(s)) {
                let target = join_dir(&f.dir, &source);
                if target != f.dir {
                    called.insert(target);
                }
            }
        }
    }
    let mut out = Vec::new();
    for dir in dirs.iter().filter(|d| !called.contains(*d)) {
        // Per root: the documents its modules read.
        let used = RefCell::default();
        let in_dir = files.in_dir(dir);
        // Only `.tfvars` files: nothing to read.
        let Some(&first) = in_dir.iter().find(|&&i| !is_tfvars(files.entries[i].path)) else {
            continue;
        };
        let mut auto: Vec<(u8, String, usize)> = in_dir
            .iter()
            .filter_map(|&i| {
                auto_loaded_rank(files.entries[i].path).map(|(rank, name)| (rank, name, i))
            })
            .collect();
        auto.sort();
        let mut values: Vec<(String, Val)> = Vec::new();
        let mut problems = Vec::new();
        for (_, _, i) in auto {
            match tfvars_values(&files, i) {
                Ok(v) => values.extend(v),
                Err(why) => problems.push((i, why)),
            }
        }
        let mut module = Module::root(&files, dir, variables.clone(), &used);
        module.auto = values;
        let ev = Eval::new(&module);
        let mut file = TrustFile::default();
        read_into(&module, &ev, production_names, &mut file);
        for (i, why) in problems {
            let f = &files.entries[i];
            let at = At::span(f.input, 0, f.text.len());
            file.policies.push(build(
                RNode::unknown(format!("the values of {} ({why})", f.path), at.clone()),
                at,
                Format::Terraform,
                f.path,
                Some(f.path.to_owned()),
                production_names,
            ));
        }
        for policy in &mut file.policies {
            policy.providers.clone_from(&file.providers);
        }
        out.push((files.entries[first].input, file));
    }
    out
}

/// The values of an auto-loaded variables file of `files`, each located where the file writes it (a
/// `.tfvars.json` value at the file).
fn tfvars_values(files: &Files<'_>, i: usize) -> Result<Vec<(String, Val)>, String> {
    let f = &files.entries[i];
    if f.path.ends_with(".json") {
        let at = Loc {
            file: i,
            start: 0,
            end: f.text.len(),
        };
        let parsed = Variables::parse(f.path, f.text)?;
        return Ok(parsed
            .values
            .iter()
            .map(|(n, j)| (n.clone(), from_json(j, at)))
            .collect());
    }
    // The same text was parsed into `f.body` (a syntax error was refused when the input was read).
    Variables::parse(f.path, f.text)?;
    let ev = Eval::new(&Constants);
    Ok(f.body
        .attrs
        .iter()
        .map(|a| (a.name.clone(), ev.value(&a.expr, &Scope::default())))
        .collect())
}

/// Reads the roles, providers and documents of one module instance into `file`, then those of the modules it
/// calls (local directories and modelled modules, with its inputs).
fn read_into<'a>(
    module: &Module<'_, 'a>,
    ev: &Eval<'_>,
    production_names: &'a [String],
    file: &mut TrustFile<'a>,
) {
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
                for (key, scope) in module.instances(ev, block, &address) {
                    let v = module.instance(ev, data, block, &scope, &address);
                    let field = |n: &str| {
                        let attr = block.body.attr(n)?;
                        let value = if n == "url" {
                            // As written (`provider_resource` strips the scheme where IAM does).
                            ev.value(&attr.expr, &scope)
                        } else {
                            v.get(n).cloned()?
                        };
                        Some((to_rnode(module, &value, attr.expr.loc), module.at(attr.loc)))
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
                        &format!(
                            "{}{}",
                            module.prefix,
                            instance_address(&address, key.as_ref())
                        ),
                        module.at(block.loc),
                        url,
                        ids,
                    ));
                }
            }
            _ => {}
        }
    }
    // Role address → indices in `file.policies` (every instance), for attachments that name the role.
    let mut role_indices: Vec<(String, usize)> = Vec::new();
    for (fi, block, address) in roles {
        let Some(attr) = block.body.attr("assume_role_policy") else {
            continue;
        };
        for (key, scope) in module.instances(ev, block, &address) {
            let v = ev.value(&attr.expr, &scope);
            let doc = policy_rnode(module, &v, attr.expr.loc);
            let name = ["name", "name_prefix"]
                .iter()
                .filter_map(|n| block.body.attr(n))
                .map(|a| ev.value(&a.expr, &scope))
                .find_map(|n| n.as_str().map(str::to_owned))
                .unwrap_or_else(|| {
                    format!(
                        "{}{}",
                        module.prefix,
                        instance_address(&address, key.as_ref())
                    )
                });
            let mut policy = build(
                doc,
                module.at(attr.loc),
                Format::Terraform,
                module.path(fi),
                Some(name),
                production_names,
            );
            policy.permissions = role_permissions(module, ev, block, &scope);
            role_indices.push((address.clone(), file.policies.len()));
            file.policies.push(policy);
        }
    }
    attach_permissions(module, ev, &role_indices, file);
    // A policy document no role of the module uses, that allows web identity federation: a module that hands the
    // document to its caller's role (an output). Judged on its own.
    for (fi, block) in module.blocks() {
        let [kind, name] = block.labels.as_slice() else {
            continue;
        };
        if block.ident != "data" || kind != "aws_iam_policy_document" {
            continue;
        }
        let address = format!("data.{kind}.{name}");
        let used = module
            .used
            .borrow()
            .contains(&format!("{}{address}", module.prefix));
        if used || module.referenced_outside_outputs(&address, block) {
            continue;
        }
        for (key, scope) in module.instances(ev, block, &address) {
            let json = document::render(ev, &block.body, &scope, block.loc);
            if !eval::json_text(&json).contains("AssumeRoleWithWebIdentity") {
                continue;
            }
            file.policies.push(build(
                policy_rnode(module, &json, block.loc),
                module.at(block.loc),
                Format::Terraform,
                module.path(fi),
                Some(format!(
                    "{}{}",
                    module.prefix,
                    instance_address(&address, key.as_ref())
                )),
                production_names,
            ));
        }
    }
    // The modules this one calls: a local directory among the inputs, or a module keyless has a model of, is read
    // with this module's inputs; any other call that looks like it makes roles or providers is reported, never a
    // silent pass.
    for (fi, block) in module.blocks() {
        let [name] = block.labels.as_slice() else {
            continue;
        };
        if block.ident != "module" {
            continue;
        }
        let source = block
            .body
            .attr("source")
            .and_then(|a| {
                ev.value(&a.expr, &Scope::default())
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let address = format!("module.{name}");
        let mut reported = false;
        for (key, scope) in module.instances(ev, block, &address) {
            match module.child(ev, block, name, key.as_ref(), &scope) {
                Ok(child) => {
                    let cev = Eval::new(&child);
                    read_into(&child, &cev, production_names, file);
                }
                Err(why) => {
                    // Once per block: every instance has the same source.
                    if reported || !about_trust(&source, &block.body) {
                        continue;
                    }
                    reported = true;
                    let shown = format!("{}{address}", module.prefix);
                    file.policies.push(build(
                        RNode::unknown(
                            format!("the trust policies of `{shown}` ({why})"),
                            module.at(block.loc),
                        ),
                        module.at(block.loc),
                        Format::Terraform,
                        module.path(fi),
                        Some(shown),
                        production_names,
                    ));
                }
            }
        }
    }
}

/// The permissions written on an `aws_iam_role`: `managed_policy_arns` and `inline_policy` blocks.
fn role_permissions(
    module: &Module<'_, '_>,
    ev: &Eval<'_>,
    block: &Block,
    scope: &Scope,
) -> Vec<super::permissions::Attached> {
    use super::permissions::Attached;
    let mut out = Vec::new();
    if let Some(attr) = block.body.attr("managed_policy_arns") {
        let v = ev.value(&attr.expr, scope);
        let node = to_rnode(module, &v, attr.expr.loc);
        for item in node.items() {
            out.push(Attached::Managed(super::cvalue(item)));
        }
    }
    for inline in block.body.blocks("inline_policy") {
        let Some(policy) = inline.body.attr("policy") else {
            continue;
        };
        let name = inline
            .body
            .attr("name")
            .map(|a| ev.value(&a.expr, scope))
            .and_then(|n| n.as_str().map(str::to_owned))
            .unwrap_or_else(|| "inline_policy".to_owned());
        let v = ev.value(&policy.expr, scope);
        out.push(Attached::Inline {
            name,
            doc: policy_rnode(module, &v, policy.expr.loc),
        });
    }
    out
}

/// `aws_iam_role_policy_attachment` and `aws_iam_role_policy` resources whose `role` names a role of the module
/// (`aws_iam_role.<name>.name` or `.id`): their policy is added to that role's permissions. An attached
/// `aws_iam_policy.<name>.arn` of the same module is judged by its document.
fn attach_permissions(
    module: &Module<'_, '_>,
    ev: &Eval<'_>,
    role_indices: &[(String, usize)],
    file: &mut TrustFile<'_>,
) {
    use super::permissions::Attached;
    let reference = |text: &str, kind: &str, attrs: &[&str]| -> Option<String> {
        // Native syntax writes the reference bare; JSON syntax as a `"${...}"` template.
        let text = text.trim().trim_matches('"');
        let text = text
            .strip_prefix("${")
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text)
            .trim();
        let rest = text.strip_prefix(kind)?.strip_prefix('.')?;
        let (name, attr) = rest.split_once('.')?;
        (attrs.contains(&attr)
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .then(|| format!("{kind}.{name}"))
    };
    for (_, block) in module.blocks() {
        let [kind, name] = block.labels.as_slice() else {
            continue;
        };
        if block.ident != "resource"
            || !matches!(
                kind.as_str(),
                "aws_iam_role_policy_attachment" | "aws_iam_role_policy"
            )
        {
            continue;
        }
        let Some(role_attr) = block.body.attr("role") else {
            continue;
        };
        let Some(role_address) = reference(
            module.text(role_attr.expr.loc),
            "aws_iam_role",
            &["name", "id"],
        ) else {
            continue;
        };
        let scope = Scope::default();
        let attached = if kind == "aws_iam_role_policy" {
            let Some(policy) = block.body.attr("policy") else {
                continue;
            };
            let v = ev.value(&policy.expr, &scope);
            Attached::Inline {
                name: format!("{kind}.{name}"),
                doc: policy_rnode(module, &v, policy.expr.loc),
            }
        } else {
            let Some(arn) = block.body.attr("policy_arn") else {
                continue;
            };
            let own_policy = reference(module.text(arn.expr.loc), "aws_iam_policy", &["arn", "id"])
                .and_then(|address| {
                    let (_, policy_name) = address.split_once('.')?;
                    let policy_block = module.find("resource", &["aws_iam_policy", policy_name])?;
                    let attr = policy_block.body.attr("policy")?;
                    let v = ev.value(&attr.expr, &scope);
                    Some(Attached::Inline {
                        name: address.clone(),
                        doc: policy_rnode(module, &v, attr.expr.loc),
                    })
                });
            match own_policy {
                Some(inline) => inline,
                None => {
                    let v = ev.value(&arn.expr, &scope);
                    Attached::Managed(super::cvalue(&to_rnode(module, &v, arn.expr.loc)))
                }
            }
        };
        for (address, index) in role_indices {
            if *address == role_address
                && let Some(policy) = file.policies.get_mut(*index)
            {
                policy.permissions.push(attached.clone());
            }
        }
    }
}

/// The block has `count` or `for_each`.
fn is_counted(block: &Block) -> bool {
    block.body.attr("for_each").is_some() || block.body.attr("count").is_some()
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
fn policy_rnode(module: &Module<'_, '_>, v: &Val, loc: Loc) -> RNode {
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
fn json_string(module: &Module<'_, '_>, text: &str, holes: bool, loc: Loc) -> RNode {
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
fn to_rnode(module: &Module<'_, '_>, v: &Val, parent: Loc) -> RNode {
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
        V::Unknown(why) | V::More(why) => RValue::Unknown(super::value::Unknown {
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
    let files = Files::load(sources);
    let dir = sources.first().map(|s| dir_of(s.path)).unwrap_or_default();
    let used = RefCell::default();
    let module = Module::root(&files, &dir, variables.clone(), &used);
    module_documents(&module, true)
}

/// Every `data "aws_iam_policy_document"` instance of one module rendered as the provider's `json`, by address
/// (with the module's prefix); `known_only` leaves out a document with parts known only at apply.
fn module_documents(module: &Module<'_, '_>, known_only: bool) -> Vec<(String, String)> {
    let ev = Eval::new(module);
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
            if known_only && eval::contains_unknown(&json) {
                continue;
            }
            out.push((
                format!(
                    "{}{}",
                    module.prefix,
                    instance_address(&address, key.as_ref())
                ),
                document::marshal_indent(&json),
            ));
        }
    }
    out
}

/// Renders the `aws_iam_policy_document`s of every module the root module of `sources` calls (a local directory
/// among `sources` or a modelled module), with the caller's inputs, as the provider's `json`:
/// `(module.NAME.data.aws_iam_policy_document.X[KEY], json)`; an unknown part is written `${expression}`. The
/// models' differential test compares them with what Terraform renders running the real module.
pub fn render_called_documents(
    sources: &[Source<'_>],
    variables: &Variables,
) -> Vec<(String, String)> {
    let files = Files::load(sources);
    let dir = sources.first().map(|s| dir_of(s.path)).unwrap_or_default();
    let used = RefCell::default();
    let root = Module::root(&files, &dir, variables.clone(), &used);
    let ev = Eval::new(&root);
    let mut out = Vec::new();
    for (_, block) in root.blocks() {
        let [name] = block.labels.as_slice() else {
            continue;
        };
        if block.ident != "module" {
            continue;
        }
        for (key, scope) in root.instances(&ev, block, &format!("module.{name}")) {
            let Ok(child) = root.child(&ev, block, name, key.as_ref(), &scope) else {
                continue;
            };
            out.extend(module_documents(&child, false));
        }
    }
    out
}
