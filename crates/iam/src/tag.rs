//! The rules IAM and STS apply to tags (role tags and session tags alike): keys of 1 to 128 and values of 0 to 256
//! characters from `[\p{L}\p{Z}\p{N}_.:/=+\-@]` (STS API reference, `Tag`; IAM API reference, `Tag`), keys unique
//! regardless of case, at most 50 session tags, and the `aws:` prefix reserved for AWS. One place, so that the
//! emulator refuses exactly what `keyless assume --tag` refuses before calling AWS.

use std::sync::LazyLock;

/// The longest tag key, in characters.
pub const MAX_KEY_CHARS: usize = 128;
/// The longest tag value, in characters.
pub const MAX_VALUE_CHARS: usize = 256;
/// The most session tags one request may pass ("You can pass up to 50 session tags", STS API reference).
pub const MAX_SESSION_TAGS: usize = 50;
/// The model's pattern for a tag key (the value's is the same with `*`).
pub const KEY_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+";
/// The model's pattern for a tag value.
pub const VALUE_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*";

// `\p{L}` (letters) is not `char::is_alphabetic` (which adds letter numbers and some marks and symbols), so the
// exact Unicode classes come from the regex crate's tables.
static TAG_TEXT: LazyLock<regex::Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    regex::Regex::new(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$").expect("the tag pattern compiles")
});
static NOT_TAG_CHAR: LazyLock<regex::Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    regex::Regex::new(r"[^\p{L}\p{Z}\p{N}_.:/=+\-@]").expect("the tag pattern compiles")
});

/// Whether every character of `text` is one a tag key or value may hold (an empty text is allowed: a value may be
/// empty; a key's length is checked separately).
pub fn is_tag_text(text: &str) -> bool {
    TAG_TEXT.is_match(text)
}

/// What is wrong with a tag key, in the words of the fix; `None` when IAM accepts it.
pub fn key_problem(key: &str) -> Option<String> {
    let chars = key.chars().count();
    if chars == 0 {
        return Some("a tag key must not be empty".to_owned());
    }
    if chars > MAX_KEY_CHARS {
        return Some(format!(
            "tag key `{key}` has {chars} characters; AWS allows at most {MAX_KEY_CHARS}"
        ));
    }
    if !is_tag_text(key) {
        return Some(format!(
            "tag key `{key}` holds characters AWS refuses: keys and values may use letters, digits, spaces and `_ . : / = + - @`"
        ));
    }
    if key.len() >= 4 && key[..4].eq_ignore_ascii_case("aws:") {
        return Some(format!(
            "tag key `{key}` starts with `aws:`, which AWS reserves for its own tags"
        ));
    }
    None
}

/// What is wrong with a tag value; `None` when IAM accepts it.
pub fn value_problem(key: &str, value: &str) -> Option<String> {
    let chars = value.chars().count();
    if chars > MAX_VALUE_CHARS {
        return Some(format!(
            "the value of tag `{key}` has {chars} characters; AWS allows at most {MAX_VALUE_CHARS}"
        ));
    }
    if !is_tag_text(value) {
        return Some(format!(
            "the value of tag `{key}` holds characters AWS refuses: keys and values may use letters, digits, spaces and `_ . : / = + - @`"
        ));
    }
    None
}

/// `value` made acceptable as a tag value: every character outside the tag set becomes `_`, and the result is cut
/// to [`MAX_VALUE_CHARS`] characters. For values keyless takes from the environment (branch names, repository
/// names), which may hold `#`, `{`, `&` and the like.
pub fn sanitize_value(value: &str) -> String {
    let replaced = NOT_TAG_CHAR.replace_all(value, "_");
    replaced.chars().take(MAX_VALUE_CHARS).collect()
}

/// The index of the first key that repeats an earlier one regardless of case (IAM: "Tag keys are case
/// insensitive").
pub fn duplicate_key<'a>(keys: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for key in keys {
        if seen.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            return Some(key);
        }
        seen.push(key);
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_character_set_is_awss() {
        // U+2160 (Ⅰ) is a letter number (Nl), inside `\p{N}`.
        for ok in [
            "acme/site",
            "feature/x-1",
            "Münchën",
            "日本",
            "a b",
            "k=v+w@x:y",
            "\u{2160}",
            "",
        ] {
            assert!(is_tag_text(ok), "{ok}");
        }
        // Controls are not `\p{Z}` although they are whitespace; `#`, braces, `&`, `*` are outside the set.
        for bad in ["a\tb", "a\nb", "#1", "{uuid}", "a&b", "x*"] {
            assert!(!is_tag_text(bad), "{bad:?}");
        }
    }

    #[test]
    fn keys_and_values() {
        assert!(key_problem("Repository").is_none());
        assert!(key_problem("").unwrap().contains("empty"));
        assert!(key_problem(&"k".repeat(129)).unwrap().contains("129"));
        assert!(key_problem("AWS:x").unwrap().contains("reserves"));
        assert!(key_problem("a{b").unwrap().contains("refuses"));
        assert!(value_problem("k", &"v".repeat(256)).is_none());
        assert!(
            value_problem("k", &"v".repeat(257))
                .unwrap()
                .contains("257")
        );
        assert_eq!(duplicate_key(["Team", "env", "team"]), Some("team"));
        assert_eq!(duplicate_key(["a", "b"]), None);
    }

    #[test]
    fn sanitising_replaces_and_cuts() {
        assert_eq!(sanitize_value("feature/#12 {x}&y"), "feature/_12 _x__y");
        assert_eq!(sanitize_value(&"é".repeat(300)).chars().count(), 256);
        assert!(is_tag_text(&sanitize_value("tab\there\u{0}")));
    }
}
