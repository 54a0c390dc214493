//! Typo suggestions: the edit distance both YAML front ends (pipelines here, keyless.yml in keyless-workspace)
//! use to say "did you mean …" for a key or name they do not know.

/// The Levenshtein distance between `a` and `b`, in characters (insertions, deletions, substitutions).
///
/// ```
/// assert_eq!(keyless_pipelines::suggest::levenshtein("scirpt", "script"), 2);
/// ```
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::levenshtein;

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
}
