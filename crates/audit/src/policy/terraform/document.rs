//! `data "aws_iam_policy_document"` rendered as the AWS provider 5.100 renders it
//! (`internal/service/iam/policy_document_data_source.go` and `policy_model.go`):
//!
//! - `Version` defaults to `2012-10-17`; `Id` from `policy_id`; no `Statement` key when there are no statements.
//! - Statement keys in the order `Sid`, `Effect` (default `Allow`), `Action`, `NotAction`, `Resource`,
//!   `NotResource`, `Principal`, `NotPrincipal`, `Condition`; empty ones left out.
//! - `actions`, `resources` and principal `identifiers` are sets: one element is written as a string, several are
//!   sorted in reverse byte order. Condition `values` is a list (order kept), one value written as a string.
//! - Principals of the same type and conditions of the same test and variable are merged; the maps are written
//!   with sorted keys (Go's encoder). `{"type": "*", "identifiers": ["*"]}` alone is `"Principal": "*"`.
//! - `&{` in resources, identifiers and condition values becomes `${` (the provider's escape for IAM variables).
//! - `json` is `json.MarshalIndent(doc, "", "  ")`, with Go's HTML-safe string escaping.
//! - `dynamic` blocks expand in place, in source order.
//!
//! - `condition` blocks (a set in the provider's schema) are merged in the set's order: by the decimal text of each
//!   block's hash code ([`set_hash`]), identical blocks once.
//!
//! Divergence (documented, not reproduced): when several `principals` blocks share a type, Terraform merges them
//! in its set-hash order; keyless merges them in source order. The merged values are the same; only their order in
//! the array can differ. Conditions whose values are known only at apply keep source order.

use super::ast::{Block, Body, Loc};
use super::eval::{Eval, Scope, V, Val, go_quote, iterate_partial, number_text, object};

/// The statements' blocks, `dynamic` ones expanded: `(body, scope)` per block, or an unknown for a `dynamic` whose
/// `for_each` is not known.
pub fn expand<'b>(
    ev: &Eval<'_>,
    body: &'b Body,
    ident: &str,
    scope: &Scope,
) -> Vec<Result<(&'b Body, Scope, Loc), Val>> {
    let mut out = Vec::new();
    for block in &body.blocks {
        if block.ident == ident {
            out.push(Ok((&block.body, scope.clone(), block.loc)));
        } else if block.ident == "dynamic"
            && block.labels.first().map(String::as_str) == Some(ident)
        {
            expand_dynamic(ev, block, ident, scope, &mut out);
        }
    }
    out
}

fn expand_dynamic<'b>(
    ev: &Eval<'_>,
    block: &'b Block,
    ident: &str,
    scope: &Scope,
    out: &mut Vec<Result<(&'b Body, Scope, Loc), Val>>,
) {
    let Some(content) = block.body.blocks("content").next() else {
        return;
    };
    let iterator = block
        .body
        .attr("iterator")
        .and_then(|a| match &a.expr.expr {
            super::ast::Expr::Var(v) => Some(v.clone()),
            _ => None,
        })
        .unwrap_or_else(|| ident.to_owned());
    let Some(for_each) = block.body.attr("for_each") else {
        return;
    };
    let coll = ev.value(&for_each.expr, scope);
    // A partly known list (`concat(local.known, var.extra)`): the known elements' blocks, and one unknown for the
    // rest.
    match iterate_partial(&coll) {
        Some(items) => {
            for (k, v) in items {
                if let V::More(why) = &v.v {
                    out.push(Err(Val::unknown(
                        format!("the `{ident}` blocks of `dynamic \"{ident}\"` for {why}"),
                        Some(block.loc),
                    )));
                    continue;
                }
                let it = object(vec![("key".into(), k), ("value".into(), v)], None);
                out.push(Ok((&content.body, scope.with(&iterator, it), block.loc)));
            }
        }
        None => out.push(Err(Val::unknown(
            format!(
                "the `{ident}` blocks of `dynamic \"{ident}\"` (for_each = {})",
                coll.first_unknown()
                    .map(str::to_owned)
                    .unwrap_or_else(|| ev.resolver.text(for_each.expr.loc).to_owned())
            ),
            Some(block.loc),
        ))),
    }
}

fn string_of(v: &Val) -> Val {
    match &v.v {
        V::Num(n) => Val::str(number_text(*n), v.at),
        V::Bool(b) => Val::str(b.to_string(), v.at),
        _ => v.clone(),
    }
}

/// A set or list attribute's elements; an unknown collection is returned as the error.
fn strings(ev: &Eval<'_>, body: &Body, name: &str, scope: &Scope) -> Result<Option<Vec<Val>>, Val> {
    let Some(attr) = body.attr(name) else {
        return Ok(None);
    };
    let v = ev.value(&attr.expr, scope);
    match &v.v {
        V::List(items) => Ok(Some(items.iter().map(string_of).collect())),
        V::Null => Ok(None),
        _ if v.is_unknown() => Err(v),
        // A single string where a list is required: Terraform refuses; keep it as one element.
        _ => Ok(Some(vec![string_of(&v)])),
    }
}

fn unescape(v: Val) -> Val {
    match v.v {
        V::Str { text, holes } => Val::new(
            V::Str {
                text: text.replace("&{", "${"),
                holes,
            },
            v.at,
        ),
        other => Val::new(other, v.at),
    }
}

/// A set: distinct, one element as itself, several sorted in reverse.
fn set(mut items: Vec<Val>, at: Option<Loc>) -> Val {
    let key = |v: &Val| v.to_text().map(|t| t.0).unwrap_or_default();
    items.sort_by_key(|v| std::cmp::Reverse(key(v)));
    items.dedup_by(|a, b| !a.is_unknown() && key(a) == key(b));
    if items.len() == 1 {
        return items.remove(0);
    }
    Val::new(V::List(items), at)
}

/// Renders one `aws_iam_policy_document` block as the provider's `json` value.
pub fn render(ev: &Eval<'_>, body: &Body, scope: &Scope, at: Loc) -> Val {
    let mut doc: Vec<(String, Val)> = Vec::new();
    let version = body
        .attr("version")
        .map(|a| ev.value(&a.expr, scope))
        .unwrap_or_else(|| Val::str("2012-10-17", Some(at)));
    doc.push(("Version".into(), version));
    if let Some(id) = body.attr("policy_id") {
        let v = ev.value(&id.expr, scope);
        if v.as_str() != Some("") {
            doc.push(("Id".into(), v));
        }
    }
    let mut statements = Vec::new();
    for block in expand(ev, body, "statement", scope) {
        match block {
            Ok((b, s, loc)) => statements.push(statement(ev, b, &s, loc)),
            Err(unknown) => statements.push(unknown),
        }
    }
    // source_policy_documents come first, override_policy_documents last (same Sid replaces).
    let merged = merge_documents(ev, body, scope, statements);
    match merged {
        Ok(list) if !list.is_empty() => {
            doc.push(("Statement".into(), Val::new(V::List(list), Some(at))))
        }
        Ok(_) => {}
        Err(unknown) => doc.push(("Statement".into(), unknown)),
    }
    Val::new(V::Json(Box::new(Val::new(V::Map(doc), Some(at)))), Some(at))
}

fn sid_of(v: &Val) -> Option<String> {
    v.get("Sid")
        .and_then(|s| s.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn merge_into(out: &mut Vec<Val>, new: Vec<Val>) {
    for s in new {
        match sid_of(&s) {
            Some(sid) => match out
                .iter_mut()
                .find(|o| sid_of(o).as_deref() == Some(sid.as_str()))
            {
                Some(slot) => *slot = s,
                None => out.push(s),
            },
            None => out.push(s),
        }
    }
}

fn document_statements(v: &Val) -> Result<Vec<Val>, Val> {
    let doc = match &v.v {
        V::Json(inner) => (**inner).clone(),
        V::Unknown(_) => return Err(v.clone()),
        V::Str { text, holes: false } => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(j) => super::functions::call(
                "jsondecode",
                vec![Val::str(text.clone(), v.at)],
                v.at.unwrap_or(Loc {
                    file: 0,
                    start: 0,
                    end: 0,
                }),
            )
            .unwrap_or_else(|_| Val::unknown(format!("{j}"), v.at)),
            Err(_) => return Err(Val::unknown("a policy document that is not JSON", v.at)),
        },
        _ => return Err(Val::unknown("a policy document that is not known", v.at)),
    };
    let statements = match doc.get("Statement").map(|s| &s.v) {
        Some(V::List(items)) => items.clone(),
        Some(V::Map(_)) => vec![doc.get("Statement").cloned().unwrap_or_else(Val::null)],
        _ => Vec::new(),
    };
    Ok(statements.into_iter().map(canonical).collect())
}

/// A statement read from another document as the provider re-writes it: its keys in the provider's order, and
/// action, resource and principal lists as sets (one element alone, several in reverse order).
fn canonical(statement: Val) -> Val {
    const ORDER: [&str; 9] = [
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
    ];
    let V::Map(entries) = &statement.v else {
        return statement;
    };
    let as_set = |v: &Val| match &v.v {
        V::List(items) => set(items.clone(), v.at),
        _ => v.clone(),
    };
    let mut out = Vec::new();
    for key in ORDER {
        let Some((_, v)) = entries.iter().find(|(k, _)| k == key) else {
            continue;
        };
        let v = match key {
            "Action" | "NotAction" | "Resource" | "NotResource" => as_set(v),
            "Principal" | "NotPrincipal" => match &v.v {
                V::Map(types) => Val::new(
                    V::Map(
                        types
                            .iter()
                            .map(|(t, ids)| (t.clone(), as_set(ids)))
                            .collect(),
                    ),
                    v.at,
                ),
                _ => v.clone(),
            },
            _ => v.clone(),
        };
        out.push((key.to_owned(), v));
    }
    Val::new(V::Map(out), statement.at)
}

fn merge_documents(
    ev: &Eval<'_>,
    body: &Body,
    scope: &Scope,
    own: Vec<Val>,
) -> Result<Vec<Val>, Val> {
    let docs = |name: &str| -> Result<Vec<Val>, Val> {
        let Some(attr) = body.attr(name) else {
            return Ok(Vec::new());
        };
        let v = ev.value(&attr.expr, scope);
        match &v.v {
            V::List(items) => Ok(items.clone()),
            V::Null => Ok(Vec::new()),
            _ => Err(v),
        }
    };
    let mut out = Vec::new();
    for d in docs("source_policy_documents")? {
        merge_into(&mut out, document_statements(&d)?);
    }
    merge_into(&mut out, own);
    for d in docs("override_policy_documents")? {
        merge_into(&mut out, document_statements(&d)?);
    }
    Ok(out)
}

fn statement(ev: &Eval<'_>, body: &Body, scope: &Scope, at: Loc) -> Val {
    let mut out: Vec<(String, Val)> = Vec::new();
    if let Some(sid) = body.attr("sid") {
        let v = ev.value(&sid.expr, scope);
        if v.as_str() != Some("") && !matches!(v.v, V::Null) {
            out.push(("Sid".into(), v));
        }
    }
    let effect = body
        .attr("effect")
        .map(|a| ev.value(&a.expr, scope))
        .filter(|v| !matches!(v.v, V::Null))
        .unwrap_or_else(|| Val::str("Allow", Some(at)));
    out.push(("Effect".into(), effect));
    for (attr, key, vars) in [
        ("actions", "Action", false),
        ("not_actions", "NotAction", false),
        ("resources", "Resource", true),
        ("not_resources", "NotResource", true),
    ] {
        match strings(ev, body, attr, scope) {
            Ok(Some(items)) if !items.is_empty() => {
                let items = if vars {
                    items.into_iter().map(unescape).collect()
                } else {
                    items
                };
                let loc = body.attr(attr).map(|a| a.expr.loc);
                out.push((key.into(), set(items, loc)));
            }
            Ok(_) => {}
            Err(unknown) => out.push((key.into(), unknown)),
        }
    }
    for (ident, key) in [
        ("principals", "Principal"),
        ("not_principals", "NotPrincipal"),
    ] {
        if let Some(p) = principals(ev, body, ident, scope) {
            out.push((key.into(), p));
        }
    }
    if let Some(c) = conditions(ev, body, scope) {
        out.push(("Condition".into(), c));
    }
    Val::new(V::Map(out), Some(at))
}

fn principals(ev: &Eval<'_>, body: &Body, ident: &str, scope: &Scope) -> Option<Val> {
    let blocks = expand(ev, body, ident, scope);
    if blocks.is_empty() {
        return None;
    }
    let mut by_type: Vec<(String, Vec<Val>, Option<Loc>)> = Vec::new();
    let mut first_loc = None;
    for block in blocks {
        let (b, s, loc) = match block {
            Ok(x) => x,
            Err(unknown) => return Some(unknown),
        };
        first_loc.get_or_insert(loc);
        let kind = b.attr("type").map(|a| ev.value(&a.expr, &s));
        let kind = match kind.as_ref().and_then(|k| k.as_str().map(str::to_owned)) {
            Some(k) => k,
            None => {
                return Some(Val::unknown(
                    format!(
                        "a principal type ({})",
                        kind.as_ref()
                            .and_then(|k| k.first_unknown())
                            .unwrap_or("not given")
                    ),
                    Some(loc),
                ));
            }
        };
        let ids = match strings(ev, b, "identifiers", &s) {
            Ok(Some(ids)) => ids.into_iter().map(unescape).collect::<Vec<_>>(),
            Ok(None) => Vec::new(),
            Err(unknown) => {
                let slot = match by_type.iter_mut().find(|(t, _, _)| *t == kind) {
                    Some(slot) => slot,
                    None => {
                        by_type.push((kind.clone(), Vec::new(), Some(loc)));
                        by_type.last_mut()?
                    }
                };
                slot.1.push(unknown);
                continue;
            }
        };
        let loc_ids = b.attr("identifiers").map(|a| a.expr.loc);
        let ids = match set(ids, loc_ids) {
            Val {
                v: V::List(items), ..
            } => items,
            one => vec![one],
        };
        match by_type.iter_mut().find(|(t, _, _)| *t == kind) {
            Some(slot) => slot.1.extend(ids),
            None => by_type.push((kind, ids, loc_ids)),
        }
    }
    if let [(kind, ids, _)] = by_type.as_slice()
        && kind == "*"
        && ids.len() == 1
        && ids[0].as_str() == Some("*")
    {
        return Some(Val::str("*", ids[0].at));
    }
    by_type.sort_by(|a, b| a.0.cmp(&b.0));
    Some(Val::new(
        V::Map(
            by_type
                .into_iter()
                .map(|(k, mut ids, loc)| {
                    let v = if ids.len() == 1 {
                        ids.remove(0)
                    } else {
                        Val::new(V::List(ids), loc)
                    };
                    (k, v)
                })
                .collect(),
        ),
        first_loc,
    ))
}

/// One condition key of a test: the variable, where it is written, its values.
type Variable = (String, Option<Loc>, Vec<Val>);

fn conditions(ev: &Eval<'_>, body: &Body, scope: &Scope) -> Option<Val> {
    let blocks = expand(ev, body, "condition", scope);
    if blocks.is_empty() {
        return None;
    }
    // test → variable → values (each with where the `test`/`variable` were written).
    let mut tests: Vec<(String, Option<Loc>, Vec<Variable>)> = Vec::new();
    let mut blocks_read = Vec::new();
    let mut first_loc = None;
    for block in blocks {
        let (b, s, loc) = match block {
            Ok(x) => x,
            Err(unknown) => return Some(unknown),
        };
        first_loc.get_or_insert(loc);
        let test = b.attr("test").map(|a| ev.value(&a.expr, &s));
        let variable = b.attr("variable").map(|a| ev.value(&a.expr, &s));
        let (Some(test), Some(variable)) = (test, variable) else {
            continue;
        };
        let name = |v: &Val| v.to_text().filter(|_| !v.is_unknown());
        let (Some((test_text, test_holes)), Some((var_text, variable_holes))) =
            (name(&test), name(&variable))
        else {
            return Some(Val::unknown(
                format!(
                    "a condition's {} ({})",
                    if name(&test).is_none() {
                        "test"
                    } else {
                        "variable"
                    },
                    test.first_unknown()
                        .or(variable.first_unknown())
                        .unwrap_or("unknown")
                ),
                Some(loc),
            ));
        };
        if test_holes {
            return Some(Val::unknown(
                format!("a condition operator (`{test_text}`)"),
                test.at,
            ));
        }
        let (values, raw) = match strings(ev, b, "values", &s) {
            Ok(Some(v)) => {
                let raw: Option<Vec<String>> = v
                    .iter()
                    .map(|x| x.to_text().filter(|(_, holes)| !holes).map(|(t, _)| t))
                    .collect();
                (v.into_iter().map(unescape).collect::<Vec<_>>(), raw)
            }
            Ok(None) => (Vec::new(), Some(Vec::new())),
            Err(unknown) => (vec![unknown], None),
        };
        let hash = raw
            .filter(|_| !variable_holes)
            .map(|raw| set_hash(&test_text, &var_text, &raw));
        blocks_read.push((hash, test_text, test.at, var_text, variable.at, values));
    }
    // `condition` is a set in the provider's schema: the blocks reach it in the order of their hash codes (as
    // decimal strings), identical blocks once. Known only when every block is; otherwise source order.
    if blocks_read.iter().all(|b| b.0.is_some()) {
        blocks_read.sort_by(|a, b| a.0.cmp(&b.0));
        blocks_read.dedup_by(|a, b| a.0 == b.0);
    }
    for (_, test_text, test_at, var_text, variable_at, values) in blocks_read {
        let slot = match tests.iter_mut().find(|(t, _, _)| *t == test_text) {
            Some(slot) => slot,
            None => {
                tests.push((test_text.clone(), test_at, Vec::new()));
                tests.last_mut()?
            }
        };
        match slot.2.iter_mut().find(|(v, _, _)| *v == var_text) {
            Some(var) => var.2.extend(values),
            None => slot.2.push((var_text, variable_at, values)),
        }
    }
    tests.sort_by(|a, b| a.0.cmp(&b.0));
    Some(Val::new(
        V::Map(
            tests
                .into_iter()
                .map(|(t, test_at, mut vars)| {
                    vars.sort_by(|a, b| a.0.cmp(&b.0));
                    let inner = vars
                        .into_iter()
                        .map(|(k, loc, mut values)| {
                            let v = match values.len() {
                                1 if !values[0].is_unknown() => values.remove(0),
                                1 => values.remove(0),
                                _ => Val::new(V::List(values), loc),
                            };
                            (k, v)
                        })
                        .collect();
                    // The operator's place is its `test`.
                    (t, Val::new(V::Map(inner), test_at))
                })
                .collect(),
        ),
        first_loc,
    ))
}

/// The key of a `condition` block in the provider's set (terraform-plugin-sdk v2 `HashResource`: the block
/// serialized as `test:T;values:(V1;V2;);variable:X;`, its CRC-32 (IEEE), written in decimal; `Set.List` orders
/// the elements by that text).
fn set_hash(test: &str, variable: &str, values: &[String]) -> String {
    let mut text = format!("test:{test};values:(");
    for v in values {
        text.push_str(v);
        text.push(';');
    }
    text.push_str(&format!(");variable:{variable};"));
    crc32fast::hash(text.as_bytes()).to_string()
}

/// `json.MarshalIndent(v, "", "  ")`: the text Terraform shows as the data source's `json`.
pub fn marshal_indent(v: &Val) -> String {
    let mut out = String::new();
    indent(v, 0, &mut out);
    out
}

fn indent(v: &Val, level: usize, out: &mut String) {
    let pad = |n: usize, out: &mut String| {
        out.push('\n');
        for _ in 0..n {
            out.push_str("  ");
        }
    };
    match &v.v {
        V::List(items) if items.is_empty() => out.push_str("[]"),
        V::Map(entries) if entries.is_empty() => out.push_str("{}"),
        V::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(level + 1, out);
                indent(item, level + 1, out);
            }
            pad(level, out);
            out.push(']');
        }
        V::Map(entries) => {
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(level + 1, out);
                out.push_str(&go_quote(k));
                out.push_str(": ");
                indent(item, level + 1, out);
            }
            pad(level, out);
            out.push('}');
        }
        V::Json(inner) => indent(inner, level, out),
        _ => out.push_str(&super::eval::json_text(v)),
    }
}
