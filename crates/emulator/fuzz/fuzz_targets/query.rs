//! Fuzz target: the AWS Query-protocol parser (query string + form body, list and structure members) and the
//! ValidationError builder fed with whatever it produces. Must never panic.
#![no_main]

use keyless_emulator::query;
use keyless_emulator::validate::{
    Echo, Violations, is_arn_chars, is_name_chars, is_path, is_policy_chars,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Layout: [selector byte] query-string \0 content-type \0 body
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |b| *b == 0);
    let query_part = parts.next().unwrap_or_default();
    let content_type = parts
        .next()
        .map(|c| String::from_utf8_lossy(c).into_owned());
    let body = parts.next().unwrap_or_default();
    let query_string = String::from_utf8_lossy(query_part);
    let query = (selector & 1 == 1).then_some(query_string.as_ref());
    let Ok(params) = query::parse(query, content_type.as_deref(), body) else {
        return;
    };
    let mut violations = Violations::default();
    for name in ["ClientIDList", "ThumbprintList", "PolicyArns", "Tags", "L"] {
        if let Ok(Some(items)) = params.list(name) {
            violations.list_length(name, items.len(), 0, 100);
            for item in &items {
                violations.length(name, Some(item), 1, 255, Echo::Value);
            }
        }
        if let Ok(Some(structs)) = params.structs(name) {
            for fields in &structs {
                let _ = fields.get("Key");
            }
        }
    }
    for name in params.names().collect::<Vec<_>>() {
        let value = params.get(name);
        violations.pattern(name, value, "[x]", is_name_chars);
        violations.pattern(name, value, "[x]", is_arn_chars);
        violations.pattern(name, value, "[x]", is_policy_chars);
        violations.pattern(name, value, "[x]", is_path);
        violations.integer(name, value, 900, 43200);
        violations.length(name, value, 2, 64, Echo::Hidden);
    }
    let _ = violations.finish();
});
