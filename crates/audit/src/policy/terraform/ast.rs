//! The Terraform configuration the evaluator reads: blocks, attributes and expressions with their byte spans in the
//! file, built from either syntax — native HCL (`.tf`, parsed by `hcl-edit`, which keeps every span) or the JSON
//! syntax (`.tf.json`, read through the located JSON tree, its strings parsed as HCL templates). One small tree for
//! both, so the evaluator does not care which one the user wrote.

use std::ops::Range;

use hcl_edit::Span as _;
use hcl_edit::expr::{BinaryOperator, Expression, ObjectKey, TraversalOperator, UnaryOperator};
use hcl_edit::structure::{BlockLabel, Structure};
use hcl_edit::template::{Directive, Element, Template};

use crate::source::{Document, Node, Value};

/// A byte range in one file of the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    /// Index of the file in the module.
    pub file: usize,
    pub start: usize,
    pub end: usize,
}

/// An expression and where it is written.
#[derive(Debug, Clone)]
pub struct E {
    pub expr: Expr,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub enum Expr {
    Null,
    Bool(bool),
    Number(f64),
    /// A literal string (no interpolation).
    Str(String),
    Template(Vec<Part>),
    Array(Vec<E>),
    /// Keys are expressions (a bare identifier key is a literal string).
    Object(Vec<(E, E)>),
    Var(String),
    Traversal(Box<E>, Vec<Op>),
    /// Function name (with `provider::ns::` namespaces joined by `::`), arguments, and whether the last argument
    /// is expanded (`f(xs...)`).
    Call(String, Vec<E>, bool),
    Cond(Box<E>, Box<E>, Box<E>),
    Not(Box<E>),
    Neg(Box<E>),
    Binary(BinOp, Box<E>, Box<E>),
    For(Box<ForExpr>),
}

#[derive(Debug, Clone)]
pub struct ForExpr {
    pub key_var: Option<String>,
    pub value_var: String,
    pub collection: E,
    /// `Some` for an object `for` (`{for k, v in x : k => v}`).
    pub key: Option<E>,
    pub value: E,
    pub cond: Option<E>,
    /// `...` after the value: group values of equal keys into lists.
    pub grouping: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    NotEq,
    Less,
    LessEq,
    Greater,
    GreaterEq,
    Plus,
    Minus,
    Mul,
    Div,
    Mod,
    And,
    Or,
}

#[derive(Debug, Clone)]
pub enum Op {
    Attr(String),
    Index(E),
    /// `[*]` or `.*`: the rest applies to every element.
    Splat,
}

#[derive(Debug, Clone)]
pub enum Part {
    Lit(String),
    Interp(E),
    If(E, Vec<Part>, Vec<Part>),
    For {
        key_var: Option<String>,
        value_var: String,
        collection: E,
        body: Vec<Part>,
    },
}

/// One attribute.
#[derive(Debug, Clone)]
pub struct Attr {
    pub name: String,
    pub expr: E,
    /// The whole `name = value`.
    pub loc: Loc,
}

/// One block.
#[derive(Debug, Clone)]
pub struct Block {
    pub ident: String,
    pub labels: Vec<String>,
    pub body: Body,
    pub loc: Loc,
}

#[derive(Debug, Clone, Default)]
pub struct Body {
    pub attrs: Vec<Attr>,
    pub blocks: Vec<Block>,
}

impl Body {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    pub fn blocks<'a>(&'a self, ident: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |b| b.ident == ident)
    }
}

/// Why a file is not Terraform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

fn loc(file: usize, span: Option<Range<usize>>, fallback: Loc) -> Loc {
    match span {
        Some(r) => Loc {
            file,
            start: r.start,
            end: r.end,
        },
        None => fallback,
    }
}

/// Parses native syntax (`.tf`).
pub fn parse_hcl(file: usize, text: &str) -> Result<Body, SyntaxError> {
    let body = hcl_edit::parser::parse_body(text).map_err(|e| {
        let location = e.location();
        SyntaxError {
            line: location.line(),
            column: location.column(),
            message: e.message().to_owned(),
        }
    })?;
    let whole = Loc {
        file,
        start: 0,
        end: text.len(),
    };
    Ok(HclConv { file }.body(&body, whole))
}

struct HclConv {
    file: usize,
}

impl HclConv {
    fn body(&self, body: &hcl_edit::structure::Body, parent: Loc) -> Body {
        let mut out = Body::default();
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let at = loc(self.file, a.span(), parent);
                    out.attrs.push(Attr {
                        name: a.key.as_str().to_owned(),
                        expr: self.expr(&a.value, at),
                        loc: at,
                    });
                }
                Structure::Block(b) => {
                    let at = loc(self.file, b.span(), parent);
                    out.blocks.push(Block {
                        ident: b.ident.as_str().to_owned(),
                        labels: b
                            .labels
                            .iter()
                            .map(|l| match l {
                                BlockLabel::Ident(i) => i.as_str().to_owned(),
                                BlockLabel::String(s) => s.as_str().to_owned(),
                            })
                            .collect(),
                        body: self.body(&b.body, at),
                        loc: at,
                    });
                }
            }
        }
        out
    }

    fn expr(&self, e: &Expression, parent: Loc) -> E {
        let at = loc(self.file, e.span(), parent);
        let expr = match e {
            Expression::Null(_) => Expr::Null,
            Expression::Bool(b) => Expr::Bool(*b.value()),
            Expression::Number(n) => Expr::Number(n.value().as_f64().unwrap_or(f64::NAN)),
            Expression::String(s) => Expr::Str(s.value().clone()),
            Expression::Array(items) => {
                Expr::Array(items.iter().map(|i| self.expr(i, at)).collect())
            }
            Expression::Object(obj) => Expr::Object(
                obj.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            ObjectKey::Ident(i) => E {
                                expr: Expr::Str(i.as_str().to_owned()),
                                loc: loc(self.file, i.span(), at),
                            },
                            ObjectKey::Expression(x) => self.expr(x, at),
                        };
                        (key, self.expr(v.expr(), at))
                    })
                    .collect(),
            ),
            Expression::StringTemplate(t) => self.template_expr(t, at),
            Expression::HeredocTemplate(h) => self.template_expr(&h.template, at),
            Expression::Parenthesis(p) => return self.expr(p.inner(), at),
            Expression::Variable(v) => Expr::Var(v.as_str().to_owned()),
            Expression::Conditional(c) => Expr::Cond(
                Box::new(self.expr(&c.cond_expr, at)),
                Box::new(self.expr(&c.true_expr, at)),
                Box::new(self.expr(&c.false_expr, at)),
            ),
            Expression::FuncCall(f) => {
                let mut name: Vec<&str> = f.name.namespace.iter().map(|n| n.as_str()).collect();
                name.push(f.name.name.as_str());
                Expr::Call(
                    name.join("::"),
                    f.args.iter().map(|a| self.expr(a, at)).collect(),
                    f.args.expand_final(),
                )
            }
            Expression::Traversal(t) => Expr::Traversal(
                Box::new(self.expr(&t.expr, at)),
                t.operators
                    .iter()
                    .map(|op| match op.value() {
                        TraversalOperator::GetAttr(i) => Op::Attr(i.as_str().to_owned()),
                        TraversalOperator::Index(x) => Op::Index(self.expr(x, at)),
                        TraversalOperator::LegacyIndex(n) => Op::Index(E {
                            expr: Expr::Number(*n.value() as f64),
                            loc: at,
                        }),
                        TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                            Op::Splat
                        }
                    })
                    .collect(),
            ),
            Expression::UnaryOp(u) => {
                let inner = Box::new(self.expr(&u.expr, at));
                match u.operator.value() {
                    UnaryOperator::Not => Expr::Not(inner),
                    UnaryOperator::Neg => Expr::Neg(inner),
                }
            }
            Expression::BinaryOp(b) => {
                let op = match b.operator.value() {
                    BinaryOperator::Eq => BinOp::Eq,
                    BinaryOperator::NotEq => BinOp::NotEq,
                    BinaryOperator::Less => BinOp::Less,
                    BinaryOperator::LessEq => BinOp::LessEq,
                    BinaryOperator::Greater => BinOp::Greater,
                    BinaryOperator::GreaterEq => BinOp::GreaterEq,
                    BinaryOperator::Plus => BinOp::Plus,
                    BinaryOperator::Minus => BinOp::Minus,
                    BinaryOperator::Mul => BinOp::Mul,
                    BinaryOperator::Div => BinOp::Div,
                    BinaryOperator::Mod => BinOp::Mod,
                    BinaryOperator::And => BinOp::And,
                    BinaryOperator::Or => BinOp::Or,
                };
                Expr::Binary(
                    op,
                    Box::new(self.expr(&b.lhs_expr, at)),
                    Box::new(self.expr(&b.rhs_expr, at)),
                )
            }
            Expression::ForExpr(f) => Expr::For(Box::new(ForExpr {
                key_var: f.intro.key_var.as_ref().map(|k| k.as_str().to_owned()),
                value_var: f.intro.value_var.as_str().to_owned(),
                collection: self.expr(&f.intro.collection_expr, at),
                key: f.key_expr.as_ref().map(|k| self.expr(k, at)),
                value: self.expr(&f.value_expr, at),
                cond: f.cond.as_ref().map(|c| self.expr(&c.expr, at)),
                grouping: f.grouping,
            })),
        };
        E { expr, loc: at }
    }

    fn template_expr(&self, t: &Template, at: Loc) -> Expr {
        let parts = self.parts(t, at);
        match parts.as_slice() {
            [] => Expr::Str(String::new()),
            [Part::Lit(s)] => Expr::Str(s.clone()),
            _ => Expr::Template(parts),
        }
    }

    fn parts(&self, t: &Template, at: Loc) -> Vec<Part> {
        let mut out = Vec::new();
        for element in t.iter() {
            match element {
                Element::Literal(s) => out.push(Part::Lit(s.value().clone())),
                Element::Interpolation(i) => out.push(Part::Interp(self.expr(&i.expr, at))),
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(d) => out.push(Part::If(
                        self.expr(&d.if_expr.cond_expr, at),
                        self.parts(&d.if_expr.template, at),
                        d.else_expr
                            .as_ref()
                            .map(|e| self.parts(&e.template, at))
                            .unwrap_or_default(),
                    )),
                    Directive::For(d) => out.push(Part::For {
                        key_var: d.for_expr.key_var.as_ref().map(|k| k.as_str().to_owned()),
                        value_var: d.for_expr.value_var.as_str().to_owned(),
                        collection: self.expr(&d.for_expr.collection_expr, at),
                        body: self.parts(&d.for_expr.template, at),
                    }),
                },
            }
        }
        out
    }
}

/// Top-level blocks whose JSON form nests one object level per label.
const LABELS: [(&str, usize); 8] = [
    ("resource", 2),
    ("data", 2),
    ("module", 1),
    ("variable", 1),
    ("output", 1),
    ("provider", 1),
    ("locals", 0),
    ("terraform", 0),
];

/// Nested block types (the JSON syntax needs the schema to tell a block from an attribute): those of
/// `aws_iam_policy_document`, `dynamic`, and `aws_iam_role`'s `inline_policy`.
const NESTED_BLOCKS: [&str; 6] = [
    "statement",
    "principals",
    "not_principals",
    "condition",
    "inline_policy",
    "content",
];

/// Parses the JSON syntax (`.tf.json`): the located JSON tree, strings read as templates.
pub fn parse_json(file: usize, doc: &Document) -> Body {
    let conv = JsonConv { file };
    let mut out = Body::default();
    let root = doc.root();
    for entry in root.as_map().unwrap_or_default() {
        let ident = entry.key.as_str();
        let Some((_, depth)) = LABELS.iter().find(|(k, _)| *k == ident) else {
            continue;
        };
        conv.labelled(ident, &entry.value, *depth, Vec::new(), &mut out);
    }
    out
}

struct JsonConv {
    file: usize,
}

impl JsonConv {
    fn loc(&self, node: &Node) -> Loc {
        let span = crate::source::span(node);
        Loc {
            file: self.file,
            start: span.start,
            end: span.end,
        }
    }

    /// A block (or several, as an array) under `depth` more levels of labels.
    fn labelled(
        &self,
        ident: &str,
        node: &Node,
        depth: usize,
        labels: Vec<String>,
        out: &mut Body,
    ) {
        if depth == 0 {
            for body in node
                .as_seq()
                .map_or_else(|| vec![node], |s| s.iter().collect())
            {
                out.blocks.push(Block {
                    ident: ident.to_owned(),
                    labels: labels.clone(),
                    body: self.body(ident, body),
                    loc: self.loc(body),
                });
            }
            return;
        }
        for entry in node.as_map().unwrap_or_default() {
            let mut labels = labels.clone();
            labels.push(entry.key.to_string());
            self.labelled(ident, &entry.value, depth - 1, labels, out);
        }
    }

    fn body(&self, ident: &str, node: &Node) -> Body {
        let mut out = Body::default();
        for entry in node.as_map().unwrap_or_default() {
            let key = entry.key.as_str();
            if key == "dynamic" {
                // `"dynamic": {"statement": {"for_each": ..., "content": {...}}}`
                for d in entry.value.as_map().unwrap_or_default() {
                    for body in d
                        .value
                        .as_seq()
                        .map_or_else(|| vec![&d.value], |s| s.iter().collect())
                    {
                        out.blocks.push(Block {
                            ident: "dynamic".to_owned(),
                            labels: vec![d.key.to_string()],
                            body: self.body("dynamic", body),
                            loc: self.loc(body),
                        });
                    }
                }
            } else if NESTED_BLOCKS.contains(&key) && ident != "locals" && ident != "module" {
                for body in entry
                    .value
                    .as_seq()
                    .map_or_else(|| vec![&entry.value], |s| s.iter().collect())
                {
                    out.blocks.push(Block {
                        ident: key.to_owned(),
                        labels: Vec::new(),
                        body: self.body(key, body),
                        loc: self.loc(body),
                    });
                }
            } else {
                let at = self.loc(&entry.value);
                // A variable's default and type are literal values, not expressions.
                let literal = ident == "variable";
                out.attrs.push(Attr {
                    name: key.to_owned(),
                    expr: self.expr(&entry.value, literal),
                    loc: at,
                });
            }
        }
        out
    }

    fn expr(&self, node: &Node, literal: bool) -> E {
        let at = self.loc(node);
        let expr = match &node.value {
            Value::Null => Expr::Null,
            Value::Bool(b) => Expr::Bool(*b),
            Value::Int(i) => Expr::Number(*i as f64),
            Value::Float(f) => Expr::Number(*f),
            Value::String(s) if literal || !s.contains("${") && !s.contains("%{") => {
                Expr::Str(s.to_string())
            }
            Value::String(s) => match hcl_edit::parser::parse_template(s) {
                Ok(t) => {
                    // Spans inside the string are offsets into its decoded text: shift them to the file, one past
                    // the opening quote (exact when the string has no escapes).
                    let shifted = HclConv { file: self.file };
                    let parts = shifted.parts(&t, at);
                    E {
                        expr: Expr::Template(shift(parts, at.start + 1, at)),
                        loc: at,
                    }
                    .expr
                }
                Err(_) => Expr::Str(s.to_string()),
            },
            Value::Seq(items) => Expr::Array(items.iter().map(|i| self.expr(i, literal)).collect()),
            Value::Map(entries) => Expr::Object(
                entries
                    .iter()
                    .map(|e| {
                        let key_at = e.key_origin.span.map_or(at, |s| Loc {
                            file: self.file,
                            start: s.start.offset,
                            end: s.end.offset,
                        });
                        (
                            E {
                                expr: Expr::Str(e.key.to_string()),
                                loc: key_at,
                            },
                            self.expr(&e.value, literal),
                        )
                    })
                    .collect(),
            ),
        };
        E { expr, loc: at }
    }
}

/// Moves the spans of a template parsed from a JSON string into the file (clamped to the string).
fn shift(parts: Vec<Part>, base: usize, within: Loc) -> Vec<Part> {
    fn e(mut x: E, base: usize, within: Loc) -> E {
        x.loc = Loc {
            file: within.file,
            start: (base + x.loc.start).min(within.end),
            end: (base + x.loc.end).min(within.end),
        };
        x.expr = match x.expr {
            Expr::Template(p) => Expr::Template(shift(p, base, within)),
            Expr::Array(items) => {
                Expr::Array(items.into_iter().map(|i| e(i, base, within)).collect())
            }
            Expr::Object(kv) => Expr::Object(
                kv.into_iter()
                    .map(|(k, v)| (e(k, base, within), e(v, base, within)))
                    .collect(),
            ),
            Expr::Traversal(root, ops) => Expr::Traversal(
                Box::new(e(*root, base, within)),
                ops.into_iter()
                    .map(|op| match op {
                        Op::Index(i) => Op::Index(e(i, base, within)),
                        other => other,
                    })
                    .collect(),
            ),
            Expr::Call(n, args, expand) => Expr::Call(
                n,
                args.into_iter().map(|a| e(a, base, within)).collect(),
                expand,
            ),
            Expr::Cond(a, b, c) => Expr::Cond(
                Box::new(e(*a, base, within)),
                Box::new(e(*b, base, within)),
                Box::new(e(*c, base, within)),
            ),
            Expr::Not(a) => Expr::Not(Box::new(e(*a, base, within))),
            Expr::Neg(a) => Expr::Neg(Box::new(e(*a, base, within))),
            Expr::Binary(op, a, b) => Expr::Binary(
                op,
                Box::new(e(*a, base, within)),
                Box::new(e(*b, base, within)),
            ),
            other => other,
        };
        x
    }
    parts
        .into_iter()
        .map(|p| match p {
            Part::Interp(x) => Part::Interp(e(x, base, within)),
            Part::If(c, a, b) => Part::If(
                e(c, base, within),
                shift(a, base, within),
                shift(b, base, within),
            ),
            Part::For {
                key_var,
                value_var,
                collection,
                body,
            } => Part::For {
                key_var,
                value_var,
                collection: e(collection, base, within),
                body: shift(body, base, within),
            },
            lit => lit,
        })
        .collect()
}
