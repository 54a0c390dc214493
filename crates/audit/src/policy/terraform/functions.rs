//! Terraform's built-in functions that trust policies and their modules use (string, collection, encoding and
//! type-conversion functions), with Terraform's semantics. An unknown argument makes the result unknown, except
//! where the known parts decide it (`coalesce` with a known first value, `length` of a list of unknowns, string
//! functions on a string with holes keep the known text). Functions that read files or the clock are not
//! evaluated: their result is unknown, and says so.

use super::ast::Loc;
use super::eval::{V, Val, contains_unknown, is_more, number_text, object, same};

/// Why a call has no known result.
pub enum Error {
    /// An argument is unknown (what it depends on).
    Unknown(String),
    /// A function keyless does not evaluate (files, time, crypto, provider functions).
    NotEvaluated,
    /// Terraform would refuse the call.
    Invalid(String),
}

type R = Result<Val, Error>;

fn invalid<T>(why: impl Into<String>) -> Result<T, Error> {
    Err(Error::Invalid(why.into()))
}

/// Fails with `Unknown` when a value is (wholly) unknown.
fn known(v: &Val) -> Result<&Val, Error> {
    match &v.v {
        V::Unknown(why) | V::More(why) => Err(Error::Unknown(why.clone())),
        _ => Ok(v),
    }
}

fn text(v: &Val) -> Result<(String, bool), Error> {
    known(v)?;
    v.to_text()
        .ok_or_else(|| Error::Invalid("a string is required".into()))
}

/// A string argument that must be fully known.
fn plain(v: &Val) -> Result<String, Error> {
    match text(v)? {
        (t, false) => Ok(t),
        (t, true) => Err(Error::Unknown(format!("`{t}`"))),
    }
}

fn num(v: &Val) -> Result<f64, Error> {
    let (t, holes) = text(v)?;
    if holes {
        return Err(Error::Unknown(t));
    }
    t.trim()
        .parse()
        .map_err(|_| Error::Invalid(format!("`{t}` is not a number")))
}

/// A list's elements, all of them: fails with `Unknown` when some are unknown in number ([`V::More`]), since
/// positions, lengths and membership then are.
fn list(v: &Val) -> Result<Vec<Val>, Error> {
    let items = partial_list(v)?;
    match items.iter().find(|i| is_more(i)) {
        Some(more) => Err(Error::Unknown(
            more.first_unknown().unwrap_or_default().to_owned(),
        )),
        None => Ok(items),
    }
}

/// The elements of one operand of a union (`concat`, `setunion`, `flatten`): a wholly unknown list becomes
/// zero or more unknown elements ([`V::More`]), so the known operands are still judged.
fn union_operand(v: &Val) -> Result<Vec<Val>, Error> {
    match &v.v {
        V::Unknown(why) | V::More(why) => Ok(vec![Val::more(why.clone(), v.at)]),
        _ => partial_list(v),
    }
}

/// A list's elements, the unknown ones ([`V::More`]) among them.
fn partial_list(v: &Val) -> Result<Vec<Val>, Error> {
    match &known(v)?.v {
        V::List(items) => Ok(items.clone()),
        V::Map(entries) => Ok(entries.iter().map(|(_, x)| x.clone()).collect()),
        V::Null => invalid("a null value where a list is required"),
        _ => invalid("a list is required"),
    }
}

fn map(v: &Val) -> Result<Vec<(String, Val)>, Error> {
    match &known(v)?.v {
        V::Map(entries) => Ok(entries.clone()),
        V::Null => Ok(Vec::new()),
        _ => invalid("a map is required"),
    }
}

fn s(t: String, holes: bool, at: Loc) -> Val {
    Val::new(V::Str { text: t, holes }, Some(at))
}

fn arg(args: &[Val], i: usize) -> Result<&Val, Error> {
    args.get(i)
        .ok_or_else(|| Error::Invalid("not enough arguments".into()))
}

/// Terraform's `replace`: a substring, or a regular expression when the search is `/…/`.
fn replace(t: &str, search: &str, with: &str) -> Result<String, Error> {
    if search.len() >= 2 && search.starts_with('/') && search.ends_with('/') {
        let re = regex::Regex::new(&search[1..search.len() - 1])
            .map_err(|e| Error::Invalid(format!("bad regular expression: {e}")))?;
        // Terraform uses `$1` for groups, like the regex crate.
        Ok(re.replace_all(t, with).into_owned())
    } else {
        Ok(t.replace(search, with))
    }
}

/// `format` verbs: `%s`, `%d`, `%q`, `%v`, `%t`, `%%` (flags and widths other than these are rare in policies).
fn format(spec: &str, args: &[Val], at: Loc) -> R {
    let mut out = String::new();
    let mut holes = false;
    let mut next = 0;
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(verb) = chars.next() else {
            return invalid("a `%` at the end of the format");
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let value = args
            .get(next)
            .ok_or_else(|| Error::Invalid("not enough arguments for the format".into()))?;
        next += 1;
        let piece = match &value.v {
            V::Unknown(why) => {
                holes = true;
                format!("${{{why}}}")
            }
            _ => {
                let (t, h) = text(value)?;
                holes |= h;
                match verb {
                    'q' => format!("{t:?}"),
                    'd' => number_text(num(value)?),
                    _ => t,
                }
            }
        };
        out.push_str(&piece);
    }
    Ok(s(out, holes, at))
}

/// `flatten`: an unknown element may be a list of any length or one value: zero or more unknown elements.
fn flatten_into(v: &Val, out: &mut Vec<Val>) -> Result<(), Error> {
    match &v.v {
        V::Unknown(why) | V::More(why) => out.push(Val::more(why.clone(), v.at)),
        V::List(items) => {
            for i in items {
                flatten_into(i, out)?;
            }
        }
        _ => out.push(v.clone()),
    }
    Ok(())
}

fn to_json(v: &serde_json::Value, at: Loc) -> Val {
    use serde_json::Value as J;
    let x = match v {
        J::Null => V::Null,
        J::Bool(b) => V::Bool(*b),
        J::Number(n) => V::Num(n.as_f64().unwrap_or(f64::NAN)),
        J::String(t) => V::Str {
            text: t.clone(),
            holes: false,
        },
        J::Array(items) => V::List(items.iter().map(|i| to_json(i, at)).collect()),
        J::Object(m) => {
            return object(
                m.iter().map(|(k, x)| (k.clone(), to_json(x, at))).collect(),
                Some(at),
            );
        }
    };
    Val::new(x, Some(at))
}

/// Calls a built-in function.
pub fn call(name: &str, args: Vec<Val>, at: Loc) -> R {
    let a = |i: usize| arg(&args, i);
    match name {
        // Strings.
        "lower" | "upper" | "trimspace" | "title" | "chomp" => {
            let (t, h) = text(a(0)?)?;
            let t = match name {
                "lower" => t.to_lowercase(),
                "upper" => t.to_uppercase(),
                "trimspace" => t.trim().to_owned(),
                "chomp" => t.trim_end_matches(['\n', '\r']).to_owned(),
                _ => t
                    .split(' ')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                            .unwrap_or_default()
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            Ok(s(t, h, at))
        }
        "replace" => {
            let (t, h) = text(a(0)?)?;
            let search = plain(a(1)?)?;
            let with = plain(a(2)?)?;
            Ok(s(replace(&t, &search, &with)?, h, at))
        }
        "trimprefix" | "trimsuffix" => {
            let (t, h) = text(a(0)?)?;
            let affix = plain(a(1)?)?;
            let out = if name == "trimprefix" {
                t.strip_prefix(affix.as_str()).unwrap_or(&t)
            } else {
                t.strip_suffix(affix.as_str()).unwrap_or(&t)
            };
            Ok(s(out.to_owned(), h, at))
        }
        "trim" => {
            let (t, h) = text(a(0)?)?;
            let cut = plain(a(1)?)?;
            Ok(s(t.trim_matches(|c| cut.contains(c)).to_owned(), h, at))
        }
        "startswith" | "endswith" | "strcontains" => {
            let t = plain(a(0)?)?;
            let p = plain(a(1)?)?;
            let b = match name {
                "startswith" => t.starts_with(&p),
                "endswith" => t.ends_with(&p),
                _ => t.contains(&p),
            };
            Ok(Val::new(V::Bool(b), Some(at)))
        }
        "format" => {
            let spec = plain(a(0)?)?;
            format(&spec, &args[1..], at)
        }
        "formatlist" => {
            let spec = plain(a(0)?)?;
            let lists: Vec<Option<Vec<Val>>> = args[1..]
                .iter()
                .map(|v| match &v.v {
                    V::List(items) => Ok(Some(items.clone())),
                    V::Unknown(why) => Err(Error::Unknown(why.clone())),
                    _ => Ok(None),
                })
                .collect::<Result<_, _>>()?;
            let n = lists.iter().flatten().map(Vec::len).max().unwrap_or(1);
            let mut out = Vec::new();
            for i in 0..n {
                let row: Vec<Val> = args[1..]
                    .iter()
                    .zip(&lists)
                    .map(|(v, l)| match l {
                        Some(items) => items.get(i).cloned().unwrap_or_else(Val::null),
                        None => v.clone(),
                    })
                    .collect();
                out.push(format(&spec, &row, at)?);
            }
            Ok(Val::new(V::List(out), Some(at)))
        }
        "join" => {
            let sep = plain(a(0)?)?;
            let mut parts = Vec::new();
            let mut holes = false;
            for l in &args[1..] {
                for item in list(l)? {
                    let (t, h) = match &item.v {
                        V::Unknown(why) => (format!("${{{why}}}"), true),
                        _ => text(&item)?,
                    };
                    holes |= h;
                    parts.push(t);
                }
            }
            Ok(s(parts.join(&sep), holes, at))
        }
        "split" => {
            let sep = plain(a(0)?)?;
            let t = plain(a(1)?)?;
            Ok(Val::new(
                V::List(
                    t.split(sep.as_str())
                        .map(|p| s(p.to_owned(), false, at))
                        .collect(),
                ),
                Some(at),
            ))
        }
        "substr" => {
            let t = plain(a(0)?)?;
            let offset = num(a(1)?)? as i64;
            let length = num(a(2)?)? as i64;
            let chars: Vec<char> = t.chars().collect();
            let start = if offset < 0 {
                (chars.len() as i64 + offset).max(0) as usize
            } else {
                (offset as usize).min(chars.len())
            };
            let end = if length < 0 {
                chars.len()
            } else {
                (start + length as usize).min(chars.len())
            };
            Ok(s(chars[start..end].iter().collect(), false, at))
        }
        "regex" | "regexall" => {
            let pattern = plain(a(0)?)?;
            let t = plain(a(1)?)?;
            let re = regex::Regex::new(&pattern)
                .map_err(|e| Error::Invalid(format!("bad regular expression: {e}")))?;
            let one = |caps: regex::Captures<'_>| -> Val {
                let names: Vec<&str> = re.capture_names().flatten().collect();
                if !names.is_empty() {
                    object(
                        names
                            .iter()
                            .map(|n| {
                                (
                                    (*n).to_owned(),
                                    caps.name(n).map_or_else(Val::null, |m| {
                                        s(m.as_str().to_owned(), false, at)
                                    }),
                                )
                            })
                            .collect(),
                        Some(at),
                    )
                } else if caps.len() > 1 {
                    Val::new(
                        V::List(
                            caps.iter()
                                .skip(1)
                                .map(|m| {
                                    m.map_or_else(Val::null, |m| {
                                        s(m.as_str().to_owned(), false, at)
                                    })
                                })
                                .collect(),
                        ),
                        Some(at),
                    )
                } else {
                    s(caps.get(0).map_or("", |m| m.as_str()).to_owned(), false, at)
                }
            };
            if name == "regex" {
                match re.captures(&t) {
                    Some(c) => Ok(one(c)),
                    None => invalid("the pattern did not match"),
                }
            } else {
                Ok(Val::new(
                    V::List(re.captures_iter(&t).map(one).collect()),
                    Some(at),
                ))
            }
        }
        // Collections.
        "length" => match &known(a(0)?)?.v {
            V::List(_) => Ok(Val::new(V::Num(list(a(0)?)?.len() as f64), Some(at))),
            V::Map(entries) => Ok(Val::new(V::Num(entries.len() as f64), Some(at))),
            V::Str { text, holes: false } => {
                Ok(Val::new(V::Num(text.chars().count() as f64), Some(at)))
            }
            V::Str { text, .. } => Err(Error::Unknown(format!("`{text}`"))),
            _ => invalid("length of a value that is not a collection or string"),
        },
        "element" => {
            let items = list(a(0)?)?;
            if items.is_empty() {
                return invalid("element of an empty list");
            }
            let i = num(a(1)?)? as usize;
            Ok(items[i % items.len()].clone())
        }
        "index" => {
            let items = list(a(0)?)?;
            let needle = known(a(1)?)?;
            items
                .iter()
                .position(|x| same(x, needle))
                .map(|i| Val::new(V::Num(i as f64), Some(at)))
                .ok_or_else(|| Error::Invalid("the value is not in the list".into()))
        }
        "concat" => {
            let mut out = Vec::new();
            for l in &args {
                out.extend(union_operand(l)?);
            }
            Ok(Val::new(V::List(out), Some(at)))
        }
        "compact" => {
            let items = partial_list(a(0)?)?;
            let mut out = Vec::new();
            for i in items {
                match &i.v {
                    V::Null => {}
                    V::Str { text, holes: false } if text.is_empty() => {}
                    // Removed if it turns out empty: zero or one element.
                    V::Unknown(why) => out.push(Val::more(why.clone(), i.at)),
                    _ => out.push(i),
                }
            }
            Ok(Val::new(V::List(out), Some(at)))
        }
        "distinct" | "toset" => {
            let items = if name == "distinct" {
                partial_list(a(0)?)?
            } else {
                list(a(0)?)?
            };
            if name == "toset" && items.iter().any(contains_unknown) {
                // A set's order depends on its values.
                return Err(Error::Unknown(
                    items
                        .iter()
                        .find_map(|i| i.first_unknown().map(str::to_owned))
                        .unwrap_or_default(),
                ));
            }
            let mut out: Vec<Val> = Vec::new();
            for i in items {
                if !out.iter().any(|o| same(o, &i)) {
                    out.push(i);
                }
            }
            if name == "toset" {
                out.sort_by(|x, y| {
                    let tx = x.to_text().map(|t| t.0).unwrap_or_default();
                    let ty = y.to_text().map(|t| t.0).unwrap_or_default();
                    tx.cmp(&ty)
                });
            }
            Ok(Val::new(V::List(out), Some(at)))
        }
        // The union of sets: what a known operand holds is in it whatever the unknown ones hold (an unknown
        // element may equal a known one, so it is zero or one more element).
        "setunion" => {
            let mut out: Vec<Val> = Vec::new();
            for l in &args {
                for i in union_operand(l)? {
                    let i = match &i.v {
                        V::Unknown(why) => Val::more(why.clone(), i.at),
                        _ => i,
                    };
                    if !out.iter().any(|o| same(o, &i)) {
                        out.push(i);
                    }
                }
            }
            Ok(Val::new(V::List(out), Some(at)))
        }
        "flatten" => {
            let mut out = Vec::new();
            flatten_into(a(0)?, &mut out)?;
            Ok(Val::new(V::List(out), Some(at)))
        }
        "coalesce" => {
            for v in &args {
                match &v.v {
                    V::Unknown(why) => return Err(Error::Unknown(why.clone())),
                    V::Null => {}
                    V::Str { text, holes: false } if text.is_empty() => {}
                    _ => return Ok(v.clone()),
                }
            }
            invalid("no non-null, non-empty argument")
        }
        "coalescelist" => {
            for v in &args {
                match &v.v {
                    V::Unknown(why) => return Err(Error::Unknown(why.clone())),
                    V::List(items) if items.is_empty() => {}
                    V::List(items) if items.iter().all(is_more) => {
                        return Err(Error::Unknown(
                            v.first_unknown().unwrap_or_default().to_owned(),
                        ));
                    }
                    V::List(_) => return Ok(v.clone()),
                    _ => return invalid("coalescelist takes lists"),
                }
            }
            invalid("no non-empty list")
        }
        "lookup" => {
            let m = known(a(0)?)?;
            let key = plain(a(1)?)?;
            match m.get(&key) {
                Some(v) => Ok(v.clone()),
                None => match args.get(2) {
                    Some(d) => Ok(d.clone()),
                    None => invalid(format!("no key `{key}`")),
                },
            }
        }
        "merge" => {
            let mut out: Vec<(String, Val)> = Vec::new();
            for m in &args {
                for (k, v) in map(m)? {
                    match out.iter_mut().find(|(o, _)| *o == k) {
                        Some(slot) => slot.1 = v,
                        None => out.push((k, v)),
                    }
                }
            }
            Ok(object(out, Some(at)))
        }
        "keys" | "values" => {
            let entries = map(a(0)?)?;
            Ok(Val::new(
                V::List(
                    entries
                        .into_iter()
                        .map(|(k, v)| if name == "keys" { s(k, false, at) } else { v })
                        .collect(),
                ),
                Some(at),
            ))
        }
        "contains" => {
            let items = list(a(0)?)?;
            let needle = known(a(1)?)?;
            if items.iter().any(contains_unknown) {
                return Err(Error::Unknown("a list with unknown elements".into()));
            }
            Ok(Val::new(
                V::Bool(items.iter().any(|i| same(i, needle))),
                Some(at),
            ))
        }
        "zipmap" => {
            let ks = list(a(0)?)?;
            let vs = list(a(1)?)?;
            let mut out = Vec::new();
            for (k, v) in ks.iter().zip(vs) {
                out.push((plain(k)?, v));
            }
            Ok(object(out, Some(at)))
        }
        "range" => {
            let nums = args.iter().map(num).collect::<Result<Vec<_>, _>>()?;
            let (start, end, step) = match nums.as_slice() {
                [e] => (0.0, *e, 1.0),
                [s0, e] => (*s0, *e, if e >= s0 { 1.0 } else { -1.0 }),
                [s0, e, st] => (*s0, *e, *st),
                _ => return invalid("range takes 1 to 3 numbers"),
            };
            if step == 0.0 {
                return invalid("range step 0");
            }
            let mut out = Vec::new();
            let mut x = start;
            while (step > 0.0 && x < end) || (step < 0.0 && x > end) {
                out.push(Val::new(V::Num(x), Some(at)));
                x += step;
                if out.len() > 10_000 {
                    return invalid("range too long");
                }
            }
            Ok(Val::new(V::List(out), Some(at)))
        }
        "slice" => {
            let items = list(a(0)?)?;
            let (from, to) = (num(a(1)?)? as usize, num(a(2)?)? as usize);
            if from > to || to > items.len() {
                return invalid("slice out of range");
            }
            Ok(Val::new(V::List(items[from..to].to_vec()), Some(at)))
        }
        "reverse" => {
            let mut items = list(a(0)?)?;
            items.reverse();
            Ok(Val::new(V::List(items), Some(at)))
        }
        "sort" => {
            let items = list(a(0)?)?;
            let mut texts = items.iter().map(plain).collect::<Result<Vec<_>, _>>()?;
            texts.sort();
            Ok(Val::new(
                V::List(texts.into_iter().map(|t| s(t, false, at)).collect()),
                Some(at),
            ))
        }
        "one" => {
            let items = list(a(0)?)?;
            match items.as_slice() {
                [] => Ok(Val::null()),
                [x] => Ok(x.clone()),
                _ => invalid("one() of a list with more than one element"),
            }
        }
        "keys_at" => invalid("unknown function"),
        // Types.
        "tostring" => match &known(a(0)?)?.v {
            V::Null => Ok(Val::null()),
            _ => {
                let (t, h) = text(a(0)?)?;
                Ok(s(t, h, at))
            }
        },
        "tonumber" => Ok(Val::new(V::Num(num(a(0)?)?), Some(at))),
        "tobool" => match &known(a(0)?)?.v {
            V::Bool(b) => Ok(Val::new(V::Bool(*b), Some(at))),
            V::Str { text, holes: false } if text == "true" || text == "false" => {
                Ok(Val::new(V::Bool(text == "true"), Some(at)))
            }
            _ => invalid("tobool needs a bool"),
        },
        "tolist" | "tomap" | "tuple" => Ok(known(a(0)?)?.clone()),
        // Encoding.
        "jsonencode" => Ok(Val::new(V::Json(Box::new(a(0)?.clone())), Some(at))),
        "jsondecode" => match &a(0)?.v {
            V::Json(inner) => Ok((**inner).clone()),
            _ => {
                let t = plain(a(0)?)?;
                let parsed: serde_json::Value = serde_json::from_str(&t)
                    .map_err(|e| Error::Invalid(format!("jsondecode: {e}")))?;
                Ok(to_json(&parsed, at))
            }
        },
        "can" | "try" => invalid("handled by the evaluator"),
        _ => Err(Error::NotEvaluated),
    }
}

/// `for_each` instances of a value: a map's entries or a set of strings (each.key = each.value).
pub fn for_each_instances(v: &Val) -> Option<Vec<(String, Val)>> {
    match &v.v {
        V::Map(entries) => Some(entries.clone()),
        V::List(items) => items
            .iter()
            .map(|i| i.as_str().map(|t| (t.to_owned(), i.clone())))
            .collect(),
        V::Null => Some(Vec::new()),
        _ => None,
    }
}
