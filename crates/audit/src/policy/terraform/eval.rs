//! Terraform's expression language, evaluated the way `terraform plan` would before anything exists: variables
//! take their defaults (or `--tf-var-file` values), locals and `for` expressions are computed, and what only exists
//! after apply (an account ID, another module's output, a variable without a default) is *unknown*, as in
//! Terraform, and propagates. Unlike Terraform, a string with an unknown part keeps its known text, with the
//! unknown part written `${expression}` (a "hole"), so rules can still read `arn:aws:iam::${…}:oidc-provider/…`.
//!
//! NOTE: written by hand: `hcl-rs`'s evaluator has no unknown values (it fails on any undefined variable) and
//! knows none of Terraform's functions; those two are what reading real modules needs.

use std::cell::RefCell;
use std::collections::HashMap;

use super::ast::{BinOp, E, Expr, ForExpr, Loc, Op, Part};

/// A value, and where the user wrote it (when it comes from one place).
#[derive(Debug, Clone, PartialEq)]
pub struct Val {
    pub v: V,
    pub at: Option<Loc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Bool(bool),
    Num(f64),
    /// `holes` when parts are unknown (written `${…}`).
    Str {
        text: String,
        holes: bool,
    },
    /// Tuples, lists and sets.
    List(Vec<Val>),
    /// Objects and maps, sorted by key (as Terraform orders them).
    Map(Vec<(String, Val)>),
    /// A string holding the JSON encoding of a value (`jsonencode(x)`, a policy document's `json`): kept as the
    /// value so a trust policy keeps the places its parts were written.
    Json(Box<Val>),
    /// Known only at apply; what it depends on.
    Unknown(String),
    /// Inside a list only: zero or more elements known only at apply (what they depend on). A union of a known
    /// list with an unknown one (`concat([a], var.extra)`, `setunion([a], c ? [b] : [])`) keeps its known
    /// elements: the unknown operand can add elements, never remove one, so what is known is certainly there.
    /// Terraform itself makes the whole list unknown; keyless keeps the known part so rules still judge it.
    More(String),
}

impl Val {
    pub fn new(v: V, at: Option<Loc>) -> Self {
        Val { v, at }
    }

    pub fn null() -> Self {
        Val::new(V::Null, None)
    }

    pub fn str(text: impl Into<String>, at: Option<Loc>) -> Self {
        Val::new(
            V::Str {
                text: text.into(),
                holes: false,
            },
            at,
        )
    }

    pub fn unknown(why: impl Into<String>, at: Option<Loc>) -> Self {
        Val::new(V::Unknown(why.into()), at)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self.v, V::Unknown(_))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.v {
            V::Str { text, holes: false } => Some(text),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Val> {
        match &self.v {
            V::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Zero or more elements known only at apply (see [`V::More`]).
    pub fn more(why: impl Into<String>, at: Option<Loc>) -> Self {
        Val::new(V::More(why.into()), at)
    }

    /// The first unknown inside (what it depends on).
    pub fn first_unknown(&self) -> Option<&str> {
        match &self.v {
            V::Unknown(why) | V::More(why) => Some(why),
            V::List(items) => items.iter().find_map(Val::first_unknown),
            V::Map(entries) => entries.iter().find_map(|(_, v)| v.first_unknown()),
            V::Json(inner) => inner.first_unknown(),
            _ => None,
        }
    }

    /// The value as a string, as Terraform converts primitives (`true`, `12`, `1.5`).
    pub fn to_text(&self) -> Option<(String, bool)> {
        match &self.v {
            V::Str { text, holes } => Some((text.clone(), *holes)),
            V::Bool(b) => Some((b.to_string(), false)),
            V::Num(n) => Some((number_text(*n), false)),
            V::Json(inner) => Some((json_text(inner), contains_unknown(inner))),
            _ => None,
        }
    }

    fn truthy(&self) -> Result<Option<bool>, String> {
        match &self.v {
            V::Bool(b) => Ok(Some(*b)),
            V::Str { text, holes: false } if text == "true" => Ok(Some(true)),
            V::Str { text, holes: false } if text == "false" => Ok(Some(false)),
            V::Unknown(_) | V::Str { holes: true, .. } => Ok(None),
            V::Null => Err("a null value cannot be used as a condition".into()),
            _ => Err("a condition must be a bool".into()),
        }
    }

    fn number(&self) -> Result<Option<f64>, String> {
        match &self.v {
            V::Num(n) => Ok(Some(*n)),
            V::Str { text, holes: false } => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("`{text}` is not a number")),
            V::Unknown(_) | V::Str { holes: true, .. } => Ok(None),
            _ => Err("a number is required".into()),
        }
    }
}

/// Terraform's number formatting: integers without a fraction.
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// `jsonencode` of a value (compact, keys sorted, `<`, `>`, `&` escaped as Go's encoder does); unknown parts
/// become `${…}`.
pub fn json_text(v: &Val) -> String {
    let mut out = String::new();
    write_json(v, &mut out);
    out
}

fn write_json(v: &Val, out: &mut String) {
    match &v.v {
        V::Null => out.push_str("null"),
        V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Num(n) => out.push_str(&number_text(*n)),
        V::Str { text, .. } => out.push_str(&go_quote(text)),
        V::Json(inner) => out.push_str(&go_quote(&json_text(inner))),
        V::Unknown(why) | V::More(why) => out.push_str(&go_quote(&format!("${{{why}}}"))),
        V::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        V::Map(entries) => {
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&go_quote(k));
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
    }
}

/// A JSON string as Go's `encoding/json` writes it (HTML-safe: `<`, `>`, `&`, U+2028 and U+2029 escaped).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What a reference outside the expression language resolves to: the module supplies variables, locals,
/// resources, data sources and module outputs.
pub trait Resolver {
    /// `var.NAME`.
    fn variable(&self, name: &str, at: Loc) -> Val;
    /// The expression of `local.NAME`, if declared.
    fn local(&self, name: &str) -> Option<&E>;
    /// `TYPE.NAME` (managed, `data` false) or `data.TYPE.NAME`, with the instance key when indexed
    /// (`[0]`, `["a"]`); `None` for the whole resource (all instances).
    fn resource(
        &self,
        ev: &Eval<'_>,
        data: bool,
        kind: &str,
        name: &str,
        key: Option<&Val>,
        at: Loc,
    ) -> Val;
    /// `module.NAME` (the outputs as a map), with the instance key when indexed.
    fn module_call(&self, ev: &Eval<'_>, name: &str, key: Option<&Val>, at: Loc) -> Val;
    /// The source text of a span (for `${…}` holes).
    fn text(&self, at: Loc) -> &str;
}

/// Variables in scope (`each`, `count`, iterators, `for` variables).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    vars: Vec<(String, Val)>,
}

impl Scope {
    #[must_use]
    pub fn with(&self, name: &str, value: Val) -> Scope {
        let mut vars = self.vars.clone();
        vars.push((name.to_owned(), value));
        Scope { vars }
    }

    fn get(&self, name: &str) -> Option<&Val> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

/// An object value from pairs (sorted by key).
pub fn object(mut entries: Vec<(String, Val)>, at: Option<Loc>) -> Val {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            std::mem::swap(later, earlier);
            true
        } else {
            false
        }
    });
    Val::new(V::Map(entries), at)
}

/// `each` for one instance of a `for_each`.
pub fn each(key: Val, value: Val) -> Val {
    object(vec![("key".into(), key), ("value".into(), value)], None)
}

/// Marks an object as a resource's attributes: the ones its configuration sets are known, any other is computed
/// by the provider (unknown), not an error.
pub const PARTIAL: &str = "\u{0}partial";

/// The evaluator of one module.
pub struct Eval<'r> {
    pub resolver: &'r dyn Resolver,
    locals: RefCell<HashMap<String, Val>>,
    active: RefCell<Vec<String>>,
    depth: std::cell::Cell<usize>,
}

/// Deep enough for any real configuration; a cycle or a pathological file stops here.
const MAX_DEPTH: usize = 200;

type R = Result<Val, String>;

impl<'r> Eval<'r> {
    pub fn new(resolver: &'r dyn Resolver) -> Self {
        Eval {
            resolver,
            locals: RefCell::default(),
            active: RefCell::default(),
            depth: std::cell::Cell::new(0),
        }
    }

    /// Evaluates an expression; an error (a type error, an index out of range) becomes an unknown saying so.
    pub fn value(&self, e: &E, scope: &Scope) -> Val {
        match self.eval(e, scope) {
            Ok(v) => v,
            Err(why) => Val::unknown(
                format!(
                    "`{}` (cannot be evaluated: {why})",
                    short(self.resolver.text(e.loc))
                ),
                Some(e.loc),
            ),
        }
    }

    pub fn eval(&self, e: &E, scope: &Scope) -> R {
        let depth = self.depth.get();
        if depth > MAX_DEPTH {
            return Err("expressions nested too deeply".into());
        }
        self.depth.set(depth + 1);
        let out = self.eval_inner(e, scope);
        self.depth.set(depth);
        out
    }

    fn eval_inner(&self, e: &E, scope: &Scope) -> R {
        let at = Some(e.loc);
        Ok(match &e.expr {
            Expr::Null => Val::new(V::Null, at),
            Expr::Bool(b) => Val::new(V::Bool(*b), at),
            Expr::Number(n) => Val::new(V::Num(*n), at),
            Expr::Str(s) => Val::str(s.clone(), at),
            // `"${x}"` alone is `x` itself, not converted to a string (HCL's template rule).
            Expr::Template(parts) if let [Part::Interp(x)] = parts.as_slice() => {
                self.eval(x, scope)?
            }
            Expr::Template(parts) => {
                let (text, holes) = self.template(parts, scope)?;
                Val::new(V::Str { text, holes }, at)
            }
            Expr::Array(items) => Val::new(
                V::List(
                    items
                        .iter()
                        .map(|i| self.eval(i, scope))
                        .collect::<Result<_, _>>()?,
                ),
                at,
            ),
            Expr::Object(entries) => {
                let mut out = Vec::new();
                for (k, v) in entries {
                    let key = self.eval(k, scope)?;
                    // A key with unknown parts keeps its known text (`"${var.url}:aud"`): the policy still says
                    // which claim it tests.
                    let key = match key.to_text() {
                        Some((k, _)) => k,
                        _ => return Ok(Val::unknown(self.unknown_reason(&key, k), at)),
                    };
                    out.push((key, self.eval(v, scope)?));
                }
                object(out, at)
            }
            Expr::Var(name) => self.variable_root(name, scope, e.loc)?,
            Expr::Traversal(root, ops) => self.traversal(root, ops, scope, e.loc)?,
            Expr::Call(name, args, expand) => self.call(name, args, *expand, scope, e.loc)?,
            Expr::Cond(c, t, f) => {
                let cond = self.eval(c, scope)?;
                match cond.truthy()? {
                    Some(true) => self.eval(t, scope)?,
                    Some(false) => self.eval(f, scope)?,
                    None => {
                        let (a, b) = (self.eval(t, scope)?, self.eval(f, scope)?);
                        if same(&a, &b) {
                            a
                        } else {
                            Val::unknown(
                                format!(
                                    "`{}` (a condition on {})",
                                    short(self.resolver.text(e.loc)),
                                    self.unknown_reason(&cond, c)
                                ),
                                at,
                            )
                        }
                    }
                }
            }
            Expr::Not(x) => {
                let v = self.eval(x, scope)?;
                match v.truthy()? {
                    Some(b) => Val::new(V::Bool(!b), at),
                    None => v,
                }
            }
            Expr::Neg(x) => {
                let v = self.eval(x, scope)?;
                match v.number()? {
                    Some(n) => Val::new(V::Num(-n), at),
                    None => v,
                }
            }
            Expr::Binary(op, a, b) => self.binary(*op, a, b, scope, e.loc)?,
            Expr::For(f) => self.for_expr(f, scope, e.loc)?,
        })
    }

    /// Why a value is unknown, for messages.
    fn unknown_reason(&self, v: &Val, e: &E) -> String {
        v.first_unknown()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("`{}`", short(self.resolver.text(e.loc))))
    }

    fn template(&self, parts: &[Part], scope: &Scope) -> Result<(String, bool), String> {
        let mut text = String::new();
        let mut holes = false;
        for part in parts {
            match part {
                Part::Lit(s) => text.push_str(s),
                Part::Interp(x) => {
                    let v = self.eval(x, scope)?;
                    match v.to_text() {
                        Some((t, h)) => {
                            text.push_str(&t);
                            holes |= h;
                        }
                        None if matches!(v.v, V::Unknown(_)) => {
                            text.push_str(&format!("${{{}}}", short(self.resolver.text(x.loc))));
                            holes = true;
                        }
                        None if matches!(v.v, V::Null) => {
                            return Err("a null value in a string template".into());
                        }
                        None => return Err("a collection in a string template".into()),
                    }
                }
                Part::If(c, a, b) => {
                    let cond = self.eval(c, scope)?;
                    match cond.truthy()? {
                        Some(true) => {
                            let (t, h) = self.template(a, scope)?;
                            text.push_str(&t);
                            holes |= h;
                        }
                        Some(false) => {
                            let (t, h) = self.template(b, scope)?;
                            text.push_str(&t);
                            holes |= h;
                        }
                        None => {
                            text.push_str(&format!("${{{}}}", short(self.resolver.text(c.loc))));
                            holes = true;
                        }
                    }
                }
                Part::For {
                    key_var,
                    value_var,
                    collection,
                    body,
                } => {
                    let coll = self.eval(collection, scope)?;
                    let Some(items) = iterate(&coll) else {
                        text.push_str(&format!(
                            "${{{}}}",
                            short(self.resolver.text(collection.loc))
                        ));
                        holes = true;
                        continue;
                    };
                    for (k, v) in items {
                        let mut inner = scope.with(value_var, v);
                        if let Some(kv) = key_var {
                            inner = inner.with(kv, k);
                        }
                        let (t, h) = self.template(body, &inner)?;
                        text.push_str(&t);
                        holes |= h;
                    }
                }
            }
        }
        Ok((text, holes))
    }

    fn variable_root(&self, name: &str, scope: &Scope, at: Loc) -> R {
        if let Some(v) = scope.get(name) {
            return Ok(v.clone());
        }
        // A bare root that is not in scope (`var` alone, a resource type alone) only means something followed by
        // attributes: `traversal` handles those.
        Ok(Val::unknown(
            format!("`{}`", short(self.resolver.text(at))),
            Some(at),
        ))
    }

    fn traversal(&self, root: &E, ops: &[Op], scope: &Scope, at: Loc) -> R {
        let attr = |i: usize| match ops.get(i) {
            Some(Op::Attr(a)) => Some(a.as_str()),
            _ => None,
        };
        let mut rest = ops;
        let base = match &root.expr {
            Expr::Var(name) if scope.get(name).is_none() => match name.as_str() {
                "var" => match attr(0) {
                    Some(v) => {
                        rest = &ops[1..];
                        self.resolver.variable(v, at)
                    }
                    None => return Err("`var` needs a variable name".into()),
                },
                "local" => match attr(0) {
                    Some(l) => {
                        rest = &ops[1..];
                        self.local(l, at)?
                    }
                    None => return Err("`local` needs a name".into()),
                },
                "path" => {
                    rest = &ops[ops.len().min(1)..];
                    Val::str(".", Some(at))
                }
                "terraform" => {
                    rest = &ops[ops.len().min(1)..];
                    Val::str("default", Some(at))
                }
                "data" => match (attr(0), attr(1)) {
                    (Some(kind), Some(name)) => {
                        let (key, skip) = self.instance_key(ops.get(2), scope)?;
                        rest = &ops[2 + skip..];
                        self.resolver
                            .resource(self, true, kind, name, key.as_ref(), at)
                    }
                    _ => return Err("`data` needs a type and a name".into()),
                },
                "module" => match attr(0) {
                    Some(name) => {
                        let (key, skip) = self.instance_key(ops.get(1), scope)?;
                        rest = &ops[1 + skip..];
                        self.resolver.module_call(self, name, key.as_ref(), at)
                    }
                    None => return Err("`module` needs a name".into()),
                },
                "each" | "count" | "self" => {
                    return Ok(Val::unknown(
                        format!(
                            "`{}` (outside a for_each/count)",
                            short(self.resolver.text(at))
                        ),
                        Some(at),
                    ));
                }
                kind => match attr(0) {
                    Some(name) => {
                        let (key, skip) = self.instance_key(ops.get(1), scope)?;
                        rest = &ops[1 + skip..];
                        self.resolver
                            .resource(self, false, kind, name, key.as_ref(), at)
                    }
                    None => return Err(format!("unknown reference `{kind}`")),
                },
            },
            _ => self.eval(root, scope)?,
        };
        let mut v = self.apply_ops(base, rest, scope, at)?;
        // An unknown is reported where this expression is written, not where what it depends on is.
        if v.at.is_none() || v.is_unknown() {
            v.at = Some(at);
        }
        Ok(v)
    }

    /// An `[index]` right after a resource or module name.
    fn instance_key(&self, op: Option<&Op>, scope: &Scope) -> Result<(Option<Val>, usize), String> {
        match op {
            Some(Op::Index(i)) => Ok((Some(self.eval(i, scope)?), 1)),
            _ => Ok((None, 0)),
        }
    }

    fn apply_ops(&self, mut v: Val, ops: &[Op], scope: &Scope, at: Loc) -> R {
        for (i, op) in ops.iter().enumerate() {
            // Unknown elements stay unknown (a splat over a partly known list maps the known ones).
            if matches!(v.v, V::Unknown(_) | V::More(_)) {
                return Ok(v);
            }
            v = match op {
                Op::Attr(name) => match &v.v {
                    // A resource's attribute that its configuration does not set is computed by the provider.
                    V::Map(_) if v.get(name).is_none() && v.get(PARTIAL).is_some() => {
                        return Ok(Val::unknown(
                            format!("`{}` (known after apply)", short(self.resolver.text(at))),
                            Some(at),
                        ));
                    }
                    V::Map(_) => v
                        .get(name)
                        .cloned()
                        .ok_or_else(|| format!("no attribute `{name}`"))?,
                    V::Null => return Err(format!("attribute `{name}` of a null value")),
                    V::Str { holes: true, .. } => {
                        return Ok(Val::unknown(
                            format!("`{}`", short(self.resolver.text(at))),
                            Some(at),
                        ));
                    }
                    _ => {
                        return Err(format!(
                            "attribute `{name}` of a value that is not an object"
                        ));
                    }
                },
                Op::Index(x) => {
                    let key = self.eval(x, scope)?;
                    index(&v, &key)
                        .map_err(|e| e.to_string())?
                        .unwrap_or_else(|| {
                            Val::unknown(format!("`{}`", short(self.resolver.text(at))), Some(at))
                        })
                }
                Op::Splat => {
                    let items = match &v.v {
                        V::List(items) => items.clone(),
                        V::Null => Vec::new(),
                        _ => vec![v.clone()],
                    };
                    let rest = &ops[i + 1..];
                    let mapped = items
                        .into_iter()
                        .map(|item| self.apply_ops(item, rest, scope, at))
                        .collect::<Result<Vec<_>, _>>()?;
                    return Ok(Val::new(V::List(mapped), Some(at)));
                }
            };
        }
        Ok(v)
    }

    fn local(&self, name: &str, at: Loc) -> R {
        if let Some(v) = self.locals.borrow().get(name) {
            return Ok(v.clone());
        }
        let Some(expr) = self.resolver.local(name) else {
            return Ok(Val::unknown(
                format!("`local.{name}` (not in the files read)"),
                Some(at),
            ));
        };
        if self.active.borrow().iter().any(|n| n == name) {
            return Ok(Val::unknown(
                format!("local.{name} (refers to itself)"),
                Some(at),
            ));
        }
        self.active.borrow_mut().push(name.to_owned());
        let v = self.value(expr, &Scope::default());
        self.active.borrow_mut().pop();
        self.locals.borrow_mut().insert(name.to_owned(), v.clone());
        Ok(v)
    }

    fn binary(&self, op: BinOp, a: &E, b: &E, scope: &Scope, at: Loc) -> R {
        let here = Some(at);
        let l = self.eval(a, scope)?;
        // `&&`/`||` short-circuit on a known side.
        if matches!(op, BinOp::And | BinOp::Or) {
            let lb = l.truthy()?;
            if op == BinOp::And && lb == Some(false) {
                return Ok(Val::new(V::Bool(false), here));
            }
            if op == BinOp::Or && lb == Some(true) {
                return Ok(Val::new(V::Bool(true), here));
            }
            let r = self.eval(b, scope)?;
            let rb = r.truthy()?;
            return Ok(match (lb, rb) {
                (Some(x), Some(y)) => Val::new(
                    V::Bool(if op == BinOp::And { x && y } else { x || y }),
                    here,
                ),
                (_, Some(false)) if op == BinOp::And => Val::new(V::Bool(false), here),
                (_, Some(true)) if op == BinOp::Or => Val::new(V::Bool(true), here),
                _ => Val::unknown(format!("`{}`", short(self.resolver.text(at))), here),
            });
        }
        let r = self.eval(b, scope)?;
        let unknown = || Val::unknown(format!("`{}`", short(self.resolver.text(at))), here);
        match op {
            BinOp::Eq | BinOp::NotEq => {
                if contains_unknown(&l) || contains_unknown(&r) {
                    return Ok(unknown());
                }
                let eq = same(&l, &r);
                Ok(Val::new(
                    V::Bool(if op == BinOp::Eq { eq } else { !eq }),
                    here,
                ))
            }
            _ => {
                let (Some(x), Some(y)) = (l.number()?, r.number()?) else {
                    return Ok(unknown());
                };
                Ok(Val::new(
                    match op {
                        BinOp::Less => V::Bool(x < y),
                        BinOp::LessEq => V::Bool(x <= y),
                        BinOp::Greater => V::Bool(x > y),
                        BinOp::GreaterEq => V::Bool(x >= y),
                        BinOp::Plus => V::Num(x + y),
                        BinOp::Minus => V::Num(x - y),
                        BinOp::Mul => V::Num(x * y),
                        BinOp::Div if y == 0.0 => return Err("division by zero".into()),
                        BinOp::Div => V::Num(x / y),
                        BinOp::Mod if y == 0.0 => return Err("division by zero".into()),
                        BinOp::Mod => V::Num(x % y),
                        _ => unreachable_op(),
                    },
                    here,
                ))
            }
        }
    }

    fn for_expr(&self, f: &ForExpr, scope: &Scope, at: Loc) -> R {
        let coll = self.eval(&f.collection, scope)?;
        // A list with unknown elements (`V::More`) still yields a list: the known elements mapped, the unknown
        // ones kept unknown. An object's keys would be unknown: the whole result is.
        let partial =
            f.key.is_none() && matches!(&coll.v, V::List(items) if items.iter().any(is_more));
        let Some(items) = (if partial {
            iterate_partial(&coll)
        } else {
            iterate(&coll)
        }) else {
            return Ok(Val::unknown(
                self.unknown_reason(&coll, &f.collection),
                Some(at),
            ));
        };
        let mut list = Vec::new();
        let mut groups: Vec<(String, Vec<Val>)> = Vec::new();
        let mut pairs: Vec<(String, Val)> = Vec::new();
        for (k, v) in items {
            if is_more(&v) {
                list.push(v);
                continue;
            }
            let mut inner = scope.with(&f.value_var, v);
            if let Some(kv) = &f.key_var {
                inner = inner.with(kv, k);
            }
            if let Some(c) = &f.cond {
                match self.eval(c, &inner)?.truthy()? {
                    Some(true) => {}
                    Some(false) => continue,
                    None => {
                        return Ok(Val::unknown(
                            format!(
                                "`{}` (a `for` filter on an unknown value)",
                                short(self.resolver.text(at))
                            ),
                            Some(at),
                        ));
                    }
                }
            }
            let value = self.eval(&f.value, &inner)?;
            match &f.key {
                None => list.push(value),
                Some(ke) => {
                    let key = self.eval(ke, &inner)?;
                    let Some((key, false)) = key.to_text() else {
                        return Ok(Val::unknown(self.unknown_reason(&key, ke), Some(at)));
                    };
                    if f.grouping {
                        match groups.iter_mut().find(|(g, _)| *g == key) {
                            Some((_, vs)) => vs.push(value),
                            None => groups.push((key, vec![value])),
                        }
                    } else {
                        if pairs.iter().any(|(p, _)| *p == key) {
                            return Err(format!(
                                "duplicate key `{key}` in a `for` expression (add `...` to group)"
                            ));
                        }
                        pairs.push((key, value));
                    }
                }
            }
        }
        Ok(match &f.key {
            None => Val::new(V::List(list), Some(at)),
            Some(_) if f.grouping => object(
                groups
                    .into_iter()
                    .map(|(k, vs)| (k, Val::new(V::List(vs), Some(at))))
                    .collect(),
                Some(at),
            ),
            Some(_) => object(pairs, Some(at)),
        })
    }

    fn call(&self, name: &str, args: &[E], expand: bool, scope: &Scope, at: Loc) -> R {
        // `try` and `can` see errors instead of propagating them.
        if name == "try" {
            let mut last = String::from("no arguments");
            for a in args {
                match self.eval(a, scope) {
                    Ok(v) => return Ok(v),
                    Err(e) => last = e,
                }
            }
            return Err(last);
        }
        if name == "can" {
            return Ok(match args.first().map(|a| self.eval(a, scope)) {
                Some(Ok(v)) if v.is_unknown() => v,
                Some(Ok(_)) => Val::new(V::Bool(true), Some(at)),
                _ => Val::new(V::Bool(false), Some(at)),
            });
        }
        let mut values = args
            .iter()
            .map(|a| self.eval(a, scope))
            .collect::<Result<Vec<_>, _>>()?;
        if expand && let Some(last) = values.pop() {
            match last.v {
                V::List(items) => values.extend(items),
                V::Unknown(_) => return Ok(last),
                _ => return Err("`...` expands a list".into()),
            }
        }
        let unknown = |why: &str| Ok(Val::unknown(why.to_owned(), Some(at)));
        super::functions::call(name, values, at).or_else(|e| match e {
            super::functions::Error::Unknown(why) => unknown(&why),
            super::functions::Error::NotEvaluated => unknown(&format!(
                "`{}` (the function `{name}` is only evaluated by Terraform)",
                short(self.resolver.text(at))
            )),
            super::functions::Error::Invalid(why) => Err(why),
        })
    }
}

fn unreachable_op() -> V {
    V::Null
}

/// The first 80 characters of an expression's text, on one line.
pub fn short(text: &str) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 80 {
        let cut: String = one.chars().take(77).collect();
        format!("{cut}...")
    } else {
        one
    }
}

/// `(key, value)` pairs of a collection: list indices or map keys; `None` when unknown, also when a list has an
/// unknown number of elements (a `V::More`: indices and keys past it are unknown).
pub fn iterate(v: &Val) -> Option<Vec<(Val, Val)>> {
    match &v.v {
        V::List(items) if items.iter().any(is_more) => None,
        _ => iterate_partial(v),
    }
}

/// `true` for zero or more elements known only at apply ([`V::More`]).
pub fn is_more(v: &Val) -> bool {
    matches!(v.v, V::More(_))
}

/// [`iterate`], with a list's unknown elements ([`V::More`]) among the pairs (their keys are not meaningful):
/// for callers that keep the known elements and report the unknown ones.
pub fn iterate_partial(v: &Val) -> Option<Vec<(Val, Val)>> {
    match &v.v {
        V::List(items) => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| (Val::new(V::Num(i as f64), x.at), x.clone()))
                .collect(),
        ),
        V::Map(entries) => Some(
            entries
                .iter()
                .map(|(k, x)| (Val::str(k.clone(), x.at), x.clone()))
                .collect(),
        ),
        V::Null => Some(Vec::new()),
        _ => None,
    }
}

pub fn contains_unknown(v: &Val) -> bool {
    match &v.v {
        V::Unknown(_) | V::More(_) | V::Str { holes: true, .. } => true,
        V::List(items) => items.iter().any(contains_unknown),
        V::Map(entries) => entries.iter().any(|(_, x)| contains_unknown(x)),
        V::Json(inner) => contains_unknown(inner),
        _ => false,
    }
}

/// Equality ignoring where values were written; a number equals its string form (Terraform converts).
pub fn same(a: &Val, b: &Val) -> bool {
    match (&a.v, &b.v) {
        (V::List(x), V::List(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (V::Map(x), V::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2))
        }
        (V::Json(x), V::Json(y)) => same(x, y),
        (V::Null, V::Null) => true,
        (V::Unknown(_) | V::More(_), _) | (_, V::Unknown(_) | V::More(_)) => false,
        _ => match (a.to_text(), b.to_text()) {
            (Some((x, false)), Some((y, false))) => x == y,
            _ => false,
        },
    }
}

/// `v[key]`: `Ok(None)` when the key is unknown.
pub fn index(v: &Val, key: &Val) -> Result<Option<Val>, String> {
    if key.is_unknown() || matches!(key.v, V::Str { holes: true, .. }) {
        return Ok(None);
    }
    match &v.v {
        V::List(items) => {
            let n = key.number()?.unwrap_or(-1.0);
            if n < 0.0 || n.fract() != 0.0 {
                return Err("an index must be a whole number".into());
            }
            // Past an unknown number of elements, the element at an index is unknown.
            if items.iter().take(n as usize + 1).any(is_more) {
                return Ok(None);
            }
            items.get(n as usize).cloned().map(Some).ok_or_else(|| {
                format!(
                    "index {} out of range (length {})",
                    number_text(n),
                    items.len()
                )
            })
        }
        V::Map(_) => {
            let Some((k, _)) = key.to_text() else {
                return Err("a map key must be a string".into());
            };
            v.get(&k)
                .cloned()
                .map(Some)
                .ok_or_else(|| format!("no key `{k}`"))
        }
        V::Null => Err("index into a null value".into()),
        _ => Err("index into a value that is neither a list nor a map".into()),
    }
}
