//! Typo suggestions: the one "did you mean …" of keyless, for a key or name the pipelines front end, keyless.yml
//! (keyless-workspace) or the audit does not know. The edit distance is `strsim`'s Levenshtein (characters, not
//! bytes); what is close enough is the caller's rule.

/// The Levenshtein distance between `a` and `b`, in characters (insertions, deletions, substitutions).
///
/// ```
/// assert_eq!(keyless_pipelines::suggest::levenshtein("scirpt", "script"), 2);
/// ```
pub fn levenshtein(a: &str, b: &str) -> usize {
    strsim::levenshtein(a, b)
}

/// The candidate nearest to `word`, if one differs from it by at least one and at most `limit(candidate)` edits.
/// Of equally near candidates the alphabetically first wins, so the answer does not depend on their order.
///
/// ```
/// use keyless_pipelines::suggest::closest;
/// assert_eq!(closest("scirpt", ["script", "services"], |_| 2), Some("script"));
/// assert_eq!(closest("qa", ["staging", "production"], |_| 2), None);
/// ```
pub fn closest<'k>(
    word: &str,
    candidates: impl IntoIterator<Item = &'k str>,
    limit: impl Fn(&str) -> usize,
) -> Option<&'k str> {
    candidates
        .into_iter()
        .map(|candidate| (levenshtein(word, candidate), candidate))
        .filter(|(distance, candidate)| *distance > 0 && *distance <= limit(candidate))
        .min()
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::{closest, levenshtein};

    #[test]
    fn distances() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("deployment", "deployment"), 0);
        assert_eq!(levenshtein("deploymnet", "deployment"), 2);
        assert_eq!(levenshtein("prodution", "production"), 1);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        // Characters, not bytes.
        assert_eq!(levenshtein("→a", "a"), 1);
    }

    #[test]
    fn closest_is_the_nearest_within_the_limit_ties_alphabetical() {
        assert_eq!(closest("odic", ["oidc", "image"], |_| 2), Some("oidc"));
        assert_eq!(closest("odic", ["oidc"], |_| 1), None);
        // An exact match is not a typo.
        assert_eq!(closest("oidc", ["oidc"], |_| 2), None);
        // Equally near: the alphabetically first, whatever the order given.
        assert_eq!(closest("cat", ["hat", "bat"], |_| 1), Some("bat"));
        assert_eq!(closest("cat", ["bat", "hat"], |_| 1), Some("bat"));
        // The limit may depend on the candidate (keyless.yml allows a third of a long name).
        let third = |candidate: &str| 2.max(candidate.len() / 3);
        assert_eq!(
            closest("environmnts-prod", ["environments-prod"], third),
            Some("environments-prod")
        );
        assert_eq!(closest("stagnig-eu-west", ["staging-eu-west"], |_| 1), None);
    }
}
