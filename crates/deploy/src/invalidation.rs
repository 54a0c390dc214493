//! CloudFront invalidation paths from changed keys, minimised.
//!
//! Each changed key becomes its URL path; `dir/index.html` also invalidates `dir/` (the URL visitors use). While
//! there are more paths than the budget, the deepest directory that covers two or more paths collapses into
//! `dir/*`; when nothing is left to collapse the whole distribution is invalidated with `/*`. CloudFront bills
//! per path (a wildcard counts as one), allows at most 3,000 paths per invalidation and at most 15 wildcard paths
//! in progress, so the budget is capped at 3,000 and more than 15 wildcards also becomes `/*`.

use std::collections::BTreeSet;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// CloudFront's limit on paths in one invalidation batch.
pub const MAX_PATHS_PER_INVALIDATION: usize = 3000;
/// CloudFront's limit on wildcard paths in progress at once.
pub const MAX_WILDCARD_PATHS: usize = 15;
/// Default path budget: s3deploy's 8, well inside CloudFront's 1,000 free paths a month.
pub const DEFAULT_MAX_PATHS: usize = 8;

/// Characters CloudFront wants URL-encoded in invalidation paths (RFC 1738 unsafe characters), plus `*` so a
/// literal asterisk in a key is never read as a wildcard.
const ENCODE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'~')
    .add(b'*')
    .add(b'?');

/// Computes the invalidation paths for `keys` changed in the bucket.
///
/// `origin_prefix` is the key prefix that the distribution's origin path maps to `/` (empty when the origin
/// path is empty); keys outside it are not served by the distribution and need no invalidation.
///
/// ```
/// use keyless_deploy::invalidation::paths;
/// let p = paths(["site/docs/index.html", "site/app.css"], "site/", 8);
/// assert_eq!(p, ["/app.css", "/docs/", "/docs/index.html"]);
/// ```
pub fn paths<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    origin_prefix: &str,
    max_paths: usize,
) -> Vec<String> {
    let max_paths = max_paths.clamp(1, MAX_PATHS_PER_INVALIDATION);
    let mut set = BTreeSet::new();
    for key in keys {
        let Some(rel) = key.strip_prefix(origin_prefix) else {
            continue;
        };
        let encoded = utf8_percent_encode(rel, ENCODE).to_string();
        if encoded == "index.html" || encoded.ends_with("/index.html") {
            set.insert(format!(
                "/{}",
                &encoded[..encoded.len() - "index.html".len()]
            ));
        }
        set.insert(format!("/{encoded}"));
    }
    minimise(set, max_paths)
}

fn minimise(mut set: BTreeSet<String>, max_paths: usize) -> Vec<String> {
    while set.len() > max_paths {
        let Some(dir) = best_directory(&set) else {
            return vec!["/*".to_owned()];
        };
        set.retain(|p| !p.starts_with(&dir));
        set.insert(format!("{dir}*"));
    }
    if set.iter().filter(|p| p.ends_with('*')).count() > MAX_WILDCARD_PATHS {
        return vec!["/*".to_owned()];
    }
    set.into_iter().collect()
}

/// The deepest directory (not the root) covering at least two paths; ties go to the one covering more, then
/// to the first in order.
fn best_directory(set: &BTreeSet<String>) -> Option<String> {
    let mut candidates: BTreeSet<&str> = BTreeSet::new();
    for path in set {
        for (i, _) in path.match_indices('/').filter(|(i, _)| *i > 0) {
            candidates.insert(&path[..=i]);
        }
    }
    candidates
        .into_iter()
        .map(|dir| (dir, set.iter().filter(|p| p.starts_with(dir)).count()))
        .filter(|(_, covered)| *covered >= 2)
        .max_by(|(a, ca), (b, cb)| {
            a.matches('/')
                .count()
                .cmp(&b.matches('/').count())
                .then(ca.cmp(cb))
                .then(b.cmp(a))
        })
        .map(|(dir, _)| dir.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let many: Vec<String> = (0..20)
            .map(|i| format!("blog/post-{i}/index.html"))
            .collect();
        let many_refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let scattered: Vec<String> = (0..20).map(|i| format!("d{i}/a.html")).collect();
        let scattered_refs: Vec<&str> = scattered.iter().map(String::as_str).collect();
        let wild: Vec<String> = (0..20)
            .flat_map(|i| [format!("d{i}/a.html"), format!("d{i}/b.html")])
            .collect();
        let wild_refs: Vec<&str> = wild.iter().map(String::as_str).collect();
        type Case<'a> = (&'a str, Vec<&'a str>, &'a str, usize, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            ("nothing", vec![], "", 8, vec![]),
            ("one file", vec!["app.css"], "", 8, vec!["/app.css"]),
            (
                "root index",
                vec!["index.html"],
                "",
                8,
                vec!["/", "/index.html"],
            ),
            (
                "dir index",
                vec!["docs/index.html"],
                "",
                8,
                vec!["/docs/", "/docs/index.html"],
            ),
            (
                "origin prefix stripped, outside keys ignored",
                vec!["site/a.js", "other/b.js"],
                "site/",
                8,
                vec!["/a.js"],
            ),
            (
                "unsafe characters encoded, literal * too",
                vec!["a b/x*y.html", "ü.html"],
                "",
                8,
                vec!["/%C3%BC.html", "/a%20b/x%2Ay.html"],
            ),
            (
                "collapse the deepest directory first",
                vec!["a/b/1.html", "a/b/2.html", "a/c.html", "d.html"],
                "",
                3,
                vec!["/a/b/*", "/a/c.html", "/d.html"],
            ),
            (
                "then shallower directories",
                vec!["a/b/1.html", "a/b/2.html", "a/c.html", "d.html"],
                "",
                2,
                vec!["/a/*", "/d.html"],
            ),
            (
                "many posts collapse to their parent",
                many_refs,
                "",
                8,
                vec!["/blog/*"],
            ),
            (
                "nothing to collapse becomes /*",
                scattered_refs,
                "",
                8,
                vec!["/*"],
            ),
            (
                "more than 15 wildcards becomes /*",
                wild_refs,
                "",
                20,
                vec!["/*"],
            ),
            (
                "budget of 1 with two root files",
                vec!["a", "b"],
                "",
                1,
                vec!["/*"],
            ),
        ];
        for (name, keys, prefix, max, want) in cases {
            assert_eq!(paths(keys, prefix, max), want, "{name}");
        }
    }

    #[test]
    fn within_budget_nothing_collapses() {
        let keys = ["a/1", "a/2", "a/3"];
        assert_eq!(paths(keys, "", 3), ["/a/1", "/a/2", "/a/3"]);
        assert_eq!(paths(keys, "", 2), ["/a/*"]);
    }

    #[test]
    fn budget_is_capped_at_cloudfront_limit() {
        let keys: Vec<String> = (0..3001).map(|i| format!("f{i}")).collect();
        assert_eq!(
            paths(keys.iter().map(String::as_str), "", usize::MAX),
            ["/*"]
        );
    }
}
