//! Deterministic YAML and JSON output of a (possibly edited) tree, for `keyless render`.
//!
//! Hand-written because the output must be byte-stable (`render(parse(render(x))) == render(x)`),
//! keep key order, quote every string that YAML 1.1 or 1.2 would read as something else, and never
//! emit anchors. Comments and layout are not kept: this is for generated configuration, never for
//! showing or fixing a user's file (that goes through spans).

use crate::node::{Node, Value};

/// Keys longer than this (as written) use the explicit `? key` form; YAML's limit is 1024.
const MAX_IMPLICIT_KEY: usize = 1000;

/// The text of a float that reads back as the same float (never as an integer).
pub(crate) fn float_text(f: f64) -> String {
    if f.is_nan() {
        ".nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf" } else { "-.inf" }.to_string()
    } else {
        // `{:?}` always keeps a `.` or an exponent, so `1.0` does not come back as the int 1. YAML 1.1 (how pipelines
        // are read) also wants a `.` in the mantissa and a sign on the exponent: `1e300` is written `1.0e+300`.
        let text = format!("{f:?}");
        match text.split_once('e') {
            None => text,
            Some((mantissa, exponent)) => {
                let dot = if mantissa.contains('.') { "" } else { ".0" };
                let sign = if exponent.starts_with('-') { "" } else { "+" };
                format!("{mantissa}{dot}e{sign}{exponent}")
            }
        }
    }
}

/// Renders a tree as block-style YAML, two spaces per level, ending with a newline.
pub fn to_yaml(node: &Node) -> String {
    let mut out = String::new();
    match &node.value {
        Value::Map(entries) if !entries.is_empty() => emit_map(node, 0, &mut out),
        Value::Seq(items) if !items.is_empty() => emit_seq(node, 0, &mut out),
        _ => {
            out.push_str(&scalar(node, 0));
            out.push('\n');
        }
    }
    out
}

fn pad(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push(' ');
    }
}

fn emit_map(node: &Node, indent: usize, out: &mut String) {
    let Some(entries) = node.as_map() else {
        return;
    };
    for (i, e) in entries.iter().enumerate() {
        // The first entry of a map inside a sequence item shares the `- ` line.
        if i > 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        let key = quote_key(&e.key);
        if key.chars().count() > MAX_IMPLICIT_KEY {
            // YAML limits implicit keys to 1024 characters; longer ones need `? key` / `: value`.
            out.push_str("? ");
            out.push_str(&key);
            out.push('\n');
            pad(out, indent);
        } else {
            out.push_str(&key);
        }
        out.push(':');
        emit_value(&e.value, indent, out);
    }
}

/// Emits the value after `key:` (a space and a scalar, or a nested block).
fn emit_value(v: &Node, indent: usize, out: &mut String) {
    match &v.value {
        Value::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            emit_map(v, indent + 2, out);
        }
        Value::Seq(items) if !items.is_empty() => {
            out.push('\n');
            emit_seq(v, indent + 2, out);
        }
        _ => {
            out.push(' ');
            out.push_str(&scalar(v, indent + 2));
            out.push('\n');
        }
    }
}

fn emit_seq(node: &Node, indent: usize, out: &mut String) {
    let Some(items) = node.as_seq() else {
        return;
    };
    for item in items {
        if !out.ends_with("- ") {
            pad(out, indent);
        }
        out.push_str("- ");
        match &item.value {
            Value::Map(entries) if !entries.is_empty() => emit_map(item, indent + 2, out),
            Value::Seq(inner) if !inner.is_empty() => emit_seq(item, indent + 2, out),
            _ => {
                out.push_str(&scalar(item, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn scalar(node: &Node, indent: usize) -> String {
    match &node.value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => float_text(*f),
        Value::String(s) => quote_value(s, indent),
        Value::Seq(_) => "[]".to_string(),
        Value::Map(_) => "{}".to_string(),
    }
}

fn quote_key(k: &str) -> String {
    if is_plain_safe(k) {
        k.to_string()
    } else {
        double_quoted(k)
    }
}

fn quote_value(s: &str, indent: usize) -> String {
    if is_plain_safe(s) {
        return s.to_string();
    }
    if let Some(block) = literal_block(s, indent) {
        return block;
    }
    double_quoted(s)
}

/// Words that some YAML reader (1.1 or 1.2) resolves to a non-string.
fn is_reserved_word(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "" | "~"
            | "null"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "y"
            | "n"
            | "on"
            | "off"
            | ".inf"
            | "+.inf"
            | "-.inf"
            | ".nan"
            | "<<"
            | "="
    )
}

/// Whether `s` can be written as a plain (unquoted) scalar in block context and read back as the
/// same string by YAML 1.1 and 1.2 readers. Conservative: when in doubt, quote.
fn is_plain_safe(s: &str) -> bool {
    if is_reserved_word(s) || crate::parse::parse_int(s).is_some() || crate::parse::is_core_float(s)
    {
        return false;
    }
    if looks_numeric_in_yaml_1_1(s) {
        return false;
    }
    let Some(first) = s.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) || first.is_whitespace() {
        return false;
    }
    if s.ends_with(|c: char| c.is_whitespace() || c == ':') {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.contains(":\t") || s.contains("\t#") {
        return false;
    }
    s.chars().all(|c| !c.is_control() && !needs_escape(c))
}

/// YAML 1.1 also reads sexagesimals (`1:30`), `0b`/`0` octals, `_` digit separators and
/// timestamps; Bitbucket's reader may be 1.1 (UNCONFIRMED), so such strings are quoted.
fn looks_numeric_in_yaml_1_1(s: &str) -> bool {
    let body: String = s
        .strip_prefix(['-', '+'])
        .unwrap_or(s)
        .chars()
        .filter(|c| *c != '_')
        .collect();
    let b = body.as_bytes();
    if body.chars().any(|c| c.is_ascii_digit())
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || ".:eE+-".contains(c))
    {
        return true;
    }
    for prefix in ["0x", "0X", "0b", "0B", "0o", "0O"] {
        if let Some(rest) = body.strip_prefix(prefix)
            && !rest.is_empty()
            && rest.chars().all(|c| c.is_ascii_hexdigit())
        {
            return true;
        }
    }
    b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}'
    ) || c.is_control()
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A literal block (`|`, `|-`, `|+`) for multi-line strings that it can carry exactly; `None`
/// when the string needs the double-quoted form.
fn literal_block(s: &str, indent: usize) -> Option<String> {
    if !s.contains('\n')
        || s.chars()
            .any(|c| c != '\n' && (c.is_control() && c != '\t' || needs_escape(c)))
    {
        return None;
    }
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    if body.is_empty() {
        return None;
    }
    let lines: Vec<&str> = body.split('\n').collect();
    // The first non-empty line fixes the indentation; it may not start with white space, and
    // lines of only white space would be read as empty lines.
    let first = lines.iter().find(|l| !l.is_empty())?;
    if first.starts_with([' ', '\t']) {
        return None;
    }
    if lines.iter().any(|l| !l.is_empty() && l.trim().is_empty()) {
        return None;
    }
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|{chomp}");
    for line in body
        .split('\n')
        .chain(std::iter::repeat_n("", trailing.saturating_sub(1)))
    {
        out.push('\n');
        if !line.is_empty() {
            for _ in 0..indent {
                out.push(' ');
            }
            out.push_str(line);
        }
    }
    Some(out)
}
