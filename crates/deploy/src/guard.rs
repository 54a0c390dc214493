//! The guards that stop a deploy before any change: an empty source, a missing required path, and deletions
//! beyond `--max-delete` or beyond `--max-delete-percent` of the prefix. Pure: facts in, one decision per guard
//! out; `--force` turns every refusal into `forced`.

use serde::Serialize;

use crate::rules::is_hidden;

/// The share guard applies only from this many objects under the prefix up: below it, a few deletions are a
/// large share of a small site without being suspicious (deleting 3 of 5 pages is an ordinary edit).
pub const PERCENT_MIN_OBJECTS: usize = 20;
/// Default `--max-delete`.
pub const DEFAULT_MAX_DELETE: usize = 256;
/// Default `--max-delete-percent`.
pub const DEFAULT_MAX_DELETE_PERCENT: u8 = 50;

/// The guard settings, as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardOptions {
    /// `--delete`: the deletion guards apply only with it.
    pub delete: bool,
    /// `--max-delete N`.
    pub max_delete: usize,
    /// `--max-delete-percent P` (0 to 100).
    pub max_delete_percent: u8,
    /// `--require PATH`, source-relative, normalised (see [`normalize_required`]).
    pub require: Vec<String>,
    /// `--force`: refusals become `forced`.
    pub force: bool,
}

impl Default for GuardOptions {
    fn default() -> Self {
        Self {
            delete: false,
            max_delete: DEFAULT_MAX_DELETE,
            max_delete_percent: DEFAULT_MAX_DELETE_PERCENT,
            require: Vec::new(),
            force: false,
        }
    }
}

/// What the guards look at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Files in the source that take part (not hidden-skipped, not excluded), including unreadable ones.
    pub source_files: usize,
    /// Hidden files left out, for the empty-source message.
    pub hidden_skipped: usize,
    /// Objects under the prefix that take part (the state file, hidden and excluded keys are not counted).
    pub remote_objects: usize,
    /// Deletions the plan holds.
    pub deletes: usize,
    /// `--require` paths the source lacks.
    pub missing: Vec<String>,
}

/// A guard's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Checked, and fine.
    Pass,
    /// Would stop the run (exit 2, nothing changed).
    Refuse,
    /// Would have refused; `--force` overrides it.
    Forced,
    /// Does not apply to this run (no `--delete`, no `--require`, too few objects for the share).
    Off,
}

/// One guard's decision, with the numbers behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// `empty-source`, `require`, `max-delete` or `max-delete-percent`.
    pub guard: &'static str,
    pub decision: Decision,
    /// What was checked, with the numbers; for a refusal, the cause and the flag that changes it.
    pub message: String,
}

/// Normalises a `--require PATH`: `/` separators, no leading `./` or `/`, no trailing `/`. Refuses paths that
/// cannot be in the source (empty, `..`).
pub fn normalize_required(path: &str) -> Result<String, String> {
    let trimmed = path.trim().replace('\\', "/");
    let parts: Vec<&str> = trimmed
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return Err(format!(
            "--require `{path}`: give a path inside --source, e.g. index.html or assets/app.js"
        ));
    }
    Ok(parts.join("/"))
}

/// Whether the source (its files' relative paths) holds `required`: the file itself, or any file under it when
/// it names a directory.
pub fn present<'a>(required: &str, mut files: impl Iterator<Item = &'a str>) -> bool {
    files.any(|rel| {
        rel == required
            || rel
                .strip_prefix(required)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// The decisions, in a fixed order: empty-source, require, max-delete, max-delete-percent.
pub fn evaluate(options: &GuardOptions, facts: &Facts) -> Vec<Verdict> {
    let refuse = |guard, message: String| Verdict {
        guard,
        decision: if options.force {
            Decision::Forced
        } else {
            Decision::Refuse
        },
        message: if options.force {
            format!("{message} (overridden by --force)")
        } else {
            message
        },
    };
    let verdict = |guard, decision, message: String| Verdict {
        guard,
        decision,
        message,
    };
    let no_delete = || "no --delete: nothing is deleted".to_owned();
    let mut out = Vec::with_capacity(4);

    out.push(if !options.delete {
        verdict("empty-source", Decision::Off, no_delete())
    } else if facts.source_files == 0 {
        let hidden = match facts.hidden_skipped {
            0 => String::new(),
            n => format!(" ({n} hidden files skipped)"),
        };
        refuse(
            "empty-source",
            format!(
                "--source holds no file to deploy{hidden}, so --delete would delete all {} objects under the \
                 prefix: did the build fail or write elsewhere? Pass --force to empty the prefix on purpose",
                facts.remote_objects
            ),
        )
    } else {
        verdict(
            "empty-source",
            Decision::Pass,
            format!("{} files to deploy", facts.source_files),
        )
    });

    out.push(if options.require.is_empty() {
        verdict("require", Decision::Off, "no --require".to_owned())
    } else if facts.missing.is_empty() {
        verdict(
            "require",
            Decision::Pass,
            format!("present: {}", options.require.join(", ")),
        )
    } else {
        refuse(
            "require",
            format!(
                "--source lacks {} (--require): a half-built or wrong --source? Build it completely, or pass \
                 --force",
                facts
                    .missing
                    .iter()
                    .map(|m| if is_hidden(m) {
                        format!("`{m}` (hidden: uploaded only with --include-hidden)")
                    } else {
                        format!("`{m}`")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    });

    out.push(if !options.delete {
        verdict("max-delete", Decision::Off, no_delete())
    } else if facts.deletes > options.max_delete {
        refuse(
            "max-delete",
            format!(
                "refusing to delete {} objects, more than --max-delete {}: is --source the complete build output? \
                 Rerun with --max-delete {} (or --force) if these deletions are intended; --dry-run lists them",
                facts.deletes, options.max_delete, facts.deletes
            ),
        )
    } else {
        verdict(
            "max-delete",
            Decision::Pass,
            format!(
                "{} deletions, at most --max-delete {}",
                facts.deletes, options.max_delete
            ),
        )
    });

    let total = facts.remote_objects;
    let limit = u128::from(options.max_delete_percent);
    out.push(if !options.delete {
        verdict("max-delete-percent", Decision::Off, no_delete())
    } else if total < PERCENT_MIN_OBJECTS {
        verdict(
            "max-delete-percent",
            Decision::Off,
            format!(
                "the prefix holds {total} objects, fewer than {PERCENT_MIN_OBJECTS}: the share is not checked"
            ),
        )
    } else if facts.deletes as u128 * 100 > limit * total as u128 {
        // The smallest whole percentage that would let this run through.
        let needed = (facts.deletes * 100).div_ceil(total);
        refuse(
            "max-delete-percent",
            format!(
                "refusing to delete {} of the {total} objects under the prefix ({}%), more than \
                 --max-delete-percent {}: is --source the complete build output? Rerun with --max-delete-percent \
                 {needed} (or --force) if these deletions are intended; --dry-run lists them",
                facts.deletes,
                percent(facts.deletes, total),
                options.max_delete_percent
            ),
        )
    } else {
        verdict(
            "max-delete-percent",
            Decision::Pass,
            format!(
                "{} of {total} objects ({}%), at most --max-delete-percent {}",
                facts.deletes,
                percent(facts.deletes, total),
                options.max_delete_percent
            ),
        )
    });
    out
}

/// `part` of `whole` as a percentage with one decimal where it matters (`60`, `50.5`).
fn percent(part: usize, whole: usize) -> String {
    let tenths = (part as u128 * 1000 + whole as u128 / 2) / whole.max(1) as u128;
    if tenths.is_multiple_of(10) {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

/// Whether any guard refuses.
pub fn refused(verdicts: &[Verdict]) -> bool {
    verdicts.iter().any(|v| v.decision == Decision::Refuse)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn delete() -> GuardOptions {
        GuardOptions {
            delete: true,
            ..GuardOptions::default()
        }
    }

    fn facts(source_files: usize, remote_objects: usize, deletes: usize) -> Facts {
        Facts {
            source_files,
            remote_objects,
            deletes,
            ..Facts::default()
        }
    }

    fn decisions(v: &[Verdict]) -> Vec<(&str, Decision)> {
        v.iter().map(|v| (v.guard, v.decision)).collect()
    }

    use Decision::{Forced, Off, Pass, Refuse};

    #[test]
    fn table() {
        // (name, options, facts, expected decisions in order empty-source, require, max-delete, percent)
        let cases: Vec<(&str, GuardOptions, Facts, [Decision; 4])> = vec![
            (
                "no --delete: only require can apply",
                GuardOptions::default(),
                facts(0, 100, 0),
                [Off, Off, Off, Off],
            ),
            (
                "ordinary run",
                delete(),
                facts(100, 100, 3),
                [Pass, Off, Pass, Pass],
            ),
            (
                "empty source",
                delete(),
                facts(0, 5, 5),
                [Refuse, Off, Pass, Off],
            ),
            (
                "empty source and empty bucket",
                delete(),
                facts(0, 0, 0),
                [Refuse, Off, Pass, Off],
            ),
            (
                "half of 20 is allowed",
                delete(),
                facts(10, 20, 10),
                [Pass, Off, Pass, Pass],
            ),
            (
                "11 of 20 is not",
                delete(),
                facts(9, 20, 11),
                [Pass, Off, Pass, Refuse],
            ),
            (
                "19 objects: the share is not checked",
                delete(),
                facts(1, 19, 18),
                [Pass, Off, Pass, Off],
            ),
            (
                "max-delete alone",
                GuardOptions {
                    max_delete: 2,
                    ..delete()
                },
                facts(100, 100, 3),
                [Pass, Off, Refuse, Pass],
            ),
            (
                "percent 100 never refuses",
                GuardOptions {
                    max_delete_percent: 100,
                    ..delete()
                },
                facts(1, 300, 250),
                [Pass, Off, Pass, Pass],
            ),
            (
                "percent 0 refuses any deletion",
                GuardOptions {
                    max_delete_percent: 0,
                    ..delete()
                },
                facts(30, 30, 1),
                [Pass, Off, Pass, Refuse],
            ),
            (
                "force turns every refusal into forced",
                GuardOptions {
                    force: true,
                    max_delete: 0,
                    require: vec!["index.html".into()],
                    ..delete()
                },
                Facts {
                    missing: vec!["index.html".into()],
                    ..facts(0, 40, 40)
                },
                [Forced, Forced, Forced, Forced],
            ),
            (
                "require applies without --delete too",
                GuardOptions {
                    require: vec!["index.html".into()],
                    ..GuardOptions::default()
                },
                Facts {
                    missing: vec!["index.html".into()],
                    ..facts(3, 0, 0)
                },
                [Off, Refuse, Off, Off],
            ),
        ];
        for (name, options, facts, want) in cases {
            let got = evaluate(&options, &facts);
            let want: Vec<_> = [
                "empty-source",
                "require",
                "max-delete",
                "max-delete-percent",
            ]
            .into_iter()
            .zip(want)
            .collect();
            assert_eq!(decisions(&got), want, "{name}");
            assert_eq!(
                refused(&got),
                want.iter().any(|(_, d)| *d == Refuse),
                "{name}"
            );
        }
    }

    #[test]
    fn messages_name_the_numbers_and_the_flag() {
        let v = evaluate(&delete(), &facts(9, 20, 11));
        let m = &v[3].message;
        for part in [
            "11 of the 20 objects",
            "(55%)",
            "--max-delete-percent 50",
            "--max-delete-percent 55",
            "--force",
        ] {
            assert!(m.contains(part), "{part}: {m}");
        }
        let v = evaluate(
            &delete(),
            &Facts {
                hidden_skipped: 3,
                ..facts(0, 7, 7)
            },
        );
        let m = &v[0].message;
        for part in [
            "no file to deploy",
            "3 hidden files",
            "all 7 objects",
            "--force",
        ] {
            assert!(m.contains(part), "{part}: {m}");
        }
        let v = evaluate(
            &GuardOptions {
                max_delete: 2,
                ..delete()
            },
            &facts(10, 10, 3),
        );
        assert!(
            v[2].message
                .contains("refusing to delete 3 objects, more than --max-delete 2")
        );
        assert!(v[2].message.contains("--max-delete 3"));
        let v = evaluate(
            &GuardOptions {
                require: vec!["index.html".into(), "assets".into()],
                ..GuardOptions::default()
            },
            &Facts {
                missing: vec!["assets".into()],
                ..facts(1, 0, 0)
            },
        );
        assert!(
            v[1].message.contains("lacks `assets` (--require)"),
            "{}",
            v[1].message
        );
        let v = evaluate(
            &GuardOptions {
                require: vec![".htaccess".into()],
                ..GuardOptions::default()
            },
            &Facts {
                missing: vec![".htaccess".into()],
                ..facts(1, 0, 0)
            },
        );
        assert!(
            v[1].message.contains("only with --include-hidden"),
            "{}",
            v[1].message
        );
        assert_eq!(percent(1, 3), "33.3");
        assert_eq!(percent(1, 2), "50");
    }

    #[test]
    fn required_paths() {
        assert_eq!(normalize_required("./index.html").unwrap(), "index.html");
        assert_eq!(normalize_required("/assets/").unwrap(), "assets");
        assert_eq!(normalize_required("a//b").unwrap(), "a/b");
        for bad in ["", "/", ".", "../x", "a/../b"] {
            assert!(normalize_required(bad).is_err(), "{bad:?}");
        }
        let files = ["index.html", "assets/app.js", "assets-old/x"];
        assert!(present("index.html", files.into_iter()));
        assert!(present("assets", files.into_iter()));
        assert!(!present("asset", files.into_iter()));
        assert!(!present("app.js", files.into_iter()));
        assert!(!present("index.htm", files.into_iter()));
    }
}
