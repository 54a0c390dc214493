//! What a `sub` condition value admits, decided against the shape of every Bitbucket subject (bitbucket.md §1.4):
//! `{repositoryUuid}:{stepUuid}`, or `{repositoryUuid}:{environmentUuid}:{stepUuid}` on a deployment step, each
//! UUID lowercase and in braces. Patterns are matched with `keyless-iam`'s own IAM wildcard matcher, the one
//! `policy eval` and the emulator use, so the audit and the decision can never disagree about a pattern.
//!
//! Two questions: can the pattern match any Bitbucket subject at all ([`can_match`], by walking the pattern
//! and the subject grammar together), and which subjects does it admit ([`Reach`], by asking the matcher about
//! subjects an attacker could bring: another repository, a step that is not a deployment, another environment).

use keyless_iam::condition::glob::Glob;

/// A braced lowercase UUID, `{8-4-4-4-12}`.
pub fn is_braced_uuid(s: &str) -> bool {
    s.len() == 38
        && s.starts_with('{')
        && s.ends_with('}')
        && s[1..37].char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
            }
        })
}

/// The braced UUIDs written in a pattern, in order.
pub fn uuids(pattern: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = pattern[from..].find('{') {
        let start = from + i;
        if let Some(candidate) = pattern.get(start..start + 38)
            && is_braced_uuid(candidate)
        {
            out.push(candidate);
            from = start + 38;
        } else {
            from = start + 1;
        }
    }
    out
}

/// What characters the subject grammar accepts at a state: (block 0..3, offset within `{uuid}` 0..38).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Gram {
    block: u8,
    offset: u8,
}

/// The classes of characters the grammar ever accepts; a wildcard stands for one of them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Open,
    Close,
    Dash,
    Colon,
    Hex,
}

impl Gram {
    const START: Gram = Gram {
        block: 0,
        offset: 0,
    };

    /// The class accepted next, or `None` at the end of a block (then `:` or the end).
    fn expects(self) -> Option<Class> {
        match self.offset {
            0 => Some(Class::Open),
            9 | 14 | 19 | 24 => Some(Class::Dash),
            37 => Some(Class::Close),
            38 => None,
            _ => Some(Class::Hex),
        }
    }

    fn step(self, class: Class) -> Option<Gram> {
        match self.expects() {
            Some(expected) if expected == class => Some(Gram {
                offset: self.offset + 1,
                ..self
            }),
            // After a whole `{uuid}`: `:` starts the next block (at most three blocks).
            None if class == Class::Colon && self.block < 2 => Some(Gram {
                block: self.block + 1,
                offset: 0,
            }),
            _ => None,
        }
    }

    /// A subject may end after its second or third block.
    fn accepting(self) -> bool {
        self.offset == 38 && self.block >= 1
    }
}

fn class_of(c: char) -> Option<Class> {
    match c {
        '{' => Some(Class::Open),
        '}' => Some(Class::Close),
        '-' => Some(Class::Dash),
        ':' => Some(Class::Colon),
        c if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() => Some(Class::Hex),
        _ => None,
    }
}

const CLASSES: [Class; 5] = [
    Class::Open,
    Class::Close,
    Class::Dash,
    Class::Colon,
    Class::Hex,
];

/// Whether the pattern can match any Bitbucket subject: with `like`, `*` and `?` are wildcards (StringLike);
/// without, the pattern is compared literally (StringEquals). `ignore_case` for the `IgnoreCase` operators.
pub fn can_match(pattern: &str, like: bool, ignore_case: bool) -> bool {
    let chars: Vec<char> = pattern.chars().collect();
    // Breadth-first over (pattern position, grammar state).
    let mut seen = std::collections::HashSet::new();
    let mut queue = vec![(0usize, Gram::START)];
    while let Some((i, g)) = queue.pop() {
        if !seen.insert((i, g)) {
            continue;
        }
        if i == chars.len() {
            if g.accepting() {
                return true;
            }
            continue;
        }
        let c = chars[i];
        match c {
            '*' if like => {
                // The star matches nothing more, or one more character and stays.
                queue.push((i + 1, g));
                for class in CLASSES {
                    if let Some(next) = g.step(class) {
                        queue.push((i, next));
                    }
                }
            }
            '?' if like => {
                for class in CLASSES {
                    if let Some(next) = g.step(class) {
                        queue.push((i + 1, next));
                    }
                }
            }
            c => {
                let c = if ignore_case {
                    c.to_ascii_lowercase()
                } else {
                    c
                };
                if let Some(next) = class_of(c).and_then(|class| g.step(class)) {
                    queue.push((i + 1, next));
                }
            }
        }
    }
    false
}

/// Fresh UUIDs, none of which appears in a policy: what another repository's or step's subject carries. Every
/// hex digit starts one of them, so a pattern pinned to a UUID prefix cannot match them by chance.
fn fresh(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let d = std::char::from_digit(u32::try_from(i % 16).unwrap_or(0), 16).unwrap_or('0');
            let r = std::char::from_digit(u32::try_from((i * 7 + 3) % 16).unwrap_or(0), 16).unwrap_or('0');
            format!("{{{d}{r}{d}{r}{d}{r}{d}{r}-{r}{d}{r}{d}-4{d}{r}{d}-8{r}{d}{r}-{d}{r}{d}{r}{d}{r}{d}{r}{d}{r}{d}{r}}}")
        })
        .collect()
}

/// Which subjects a positive `sub` value admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// A step of a repository the pattern does not name (any repository of the workspace).
    pub other_repositories: bool,
    /// A step of the named repository that is not a deployment (any branch, pull request, custom pipeline).
    pub non_deployment_steps: bool,
    /// A deployment of the named repository to an environment the pattern does not name.
    pub other_environments: bool,
}

impl Reach {
    /// What one pattern admits on its own (`like`: StringLike; otherwise compared literally).
    pub fn of(pattern: &str, like: bool) -> Reach {
        let glob = if like {
            Glob::new(pattern)
        } else {
            let mut g = Glob::default();
            g.push_literal(pattern);
            g
        };
        let named: Vec<String> = uuids(pattern).into_iter().map(str::to_owned).collect();
        reach(&named, &|s: &str| glob.matches(s))
    }
}

/// What a matcher admits among the subjects an attacker could bring. `named` are the UUIDs the policy writes;
/// the first is the repository.
pub fn reach(named: &[String], admits: &dyn Fn(&str) -> bool) -> Reach {
    let fresh = fresh(16);
    let any = |subjects: &mut dyn Iterator<Item = String>| {
        for s in subjects {
            if admits(&s) {
                return true;
            }
        }
        false
    };
    // Another repository's steps; its environments are fresh too (environment UUIDs belong to one repository).
    let other_repositories = any(&mut fresh.iter().enumerate().flat_map(|(i, r)| {
        let step = &fresh[(i + 5) % fresh.len()];
        [
            format!("{r}:{step}"),
            format!("{r}:{}:{step}", fresh[(i + 3) % 16]),
            format!("{r}:{}:{step}", fresh[(i + 11) % 16]),
        ]
    }));
    let (non_deployment_steps, other_environments) = match named.first() {
        Some(repo) => (
            any(&mut fresh.iter().map(|step| format!("{repo}:{step}"))),
            any(&mut fresh
                .iter()
                .enumerate()
                .filter(|(_, env)| !named.contains(env))
                .map(|(i, env)| format!("{repo}:{env}:{}", fresh[(i + 1) % 16]))),
        ),
        None => (other_repositories, other_repositories),
    };
    Reach {
        other_repositories,
        non_deployment_steps,
        other_environments,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const R: &str = "{7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80}";
    const E: &str = "{5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d}";

    #[test]
    fn grammar() {
        for (pattern, like, expected) in [
            ("*", true, true),
            ("*:*", true, true),
            (&format!("{R}:*") as &str, true, true),
            (&format!("{R}*"), true, true),
            (&format!("{R}:{E}:*"), true, true),
            (&format!("{R}*:{E}*"), true, true),
            // A branch name where the environment UUID goes: never a Bitbucket subject.
            (&format!("{R}:main:*"), true, false),
            // An exact subject without the step UUID.
            (&format!("{R}:{E}"), false, true),
            (R, false, false),
            // StringEquals compares `*` literally.
            (&format!("{R}:*"), false, false),
            // Unbraced or uppercase UUIDs.
            ("7d3f2a10-9b4c-4e8d-a1f2-3b4c5d6e7f80:*", true, false),
            ("{7D3F2A10-9B4C-4E8D-A1F2-3B4C5D6E7F80}:*", true, false),
            ("{7D3F2A10-9B4C-4E8D-A1F2-3B4C5D6E7F80}:*", false, false),
        ] {
            assert_eq!(
                can_match(pattern, like, false),
                expected,
                "{pattern} like={like}"
            );
        }
        // IgnoreCase: the pattern's case does not matter, the subject's is still lowercase.
        assert!(can_match(
            "{7D3F2A10-9B4C-4E8D-A1F2-3B4C5D6E7F80}:*",
            true,
            true
        ));
        assert_eq!(uuids(&format!("x{R}:{E}:*")), [R, E]);
    }

    #[test]
    fn reach_of_real_patterns() {
        let reach = |p: &str| Reach::of(p, true);
        // Three public modules write `{repo}*`, `{repo}*:{env}:*` and `{repo}*:{env}*`: all pinned.
        for p in [format!("{R}*"), format!("{R}:*")] {
            let r = reach(&p);
            assert!(
                !r.other_repositories && r.non_deployment_steps && r.other_environments,
                "{p}: {r:?}"
            );
        }
        for p in [
            format!("{R}*:{E}:*"),
            format!("{R}*:{E}*"),
            format!("{R}:{E}:*"),
        ] {
            let r = reach(&p);
            assert!(
                !r.other_repositories && !r.non_deployment_steps && !r.other_environments,
                "{p}: {r:?}"
            );
        }
        for p in ["*", "*:*", "*:*:*", "{*}:*"] {
            assert!(reach(p).other_repositories, "{p}");
        }
        // An environment pinned without the repository: environment UUIDs belong to one repository.
        assert!(!reach(&format!("*:{E}:*")).other_repositories);
        let r = reach(&format!("{R}:prod-*:*"));
        assert!(!r.other_repositories);
    }
}
