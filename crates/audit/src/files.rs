//! The audited files on disk: which keyless.yml's `audit:` section applies ([`load_config`]), each file's text or
//! why it cannot be audited ([`read_text`]), and one pass that reads and audits them ([`audit_paths`]). A file that
//! cannot be used is a finding, never an error, so the other files are still audited and reported.

use std::path::{Path, PathBuf};

use crate::{AuditConfig, Auditor, ConfigError, Input, Report, Repository};

/// The keyless.yml named explicitly (`keyless audit --config`) does not exist.
#[derive(Debug, thiserror::Error)]
#[error("{}: no such file", .path.display())]
pub struct MissingConfig {
    pub path: PathBuf,
}

/// The audit settings and where they came from.
#[derive(Debug, Clone, Default)]
pub struct LoadedConfig {
    /// The keyless.yml's `audit:` section, or the defaults.
    pub config: AuditConfig,
    /// The keyless.yml that could not be used, with why: the audit runs with the defaults and reports this file
    /// as `invalid-input` with the rest ([`with_unusable`], [`audit_paths`]).
    pub unusable: Option<UnusableConfig>,
}

/// A keyless.yml that could not be read or whose `audit:` section is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableConfig {
    pub path: PathBuf,
    /// Why, ending with "(the audit ran with the default settings)".
    pub reason: String,
}

/// The audit settings: `explicit` (it must exist), else the first `keyless.yml` / `keyless.yaml` next to a file of
/// `paths` or inside a directory of `paths`, else the defaults. A keyless.yml that cannot be read or whose
/// `audit:` section is unusable leaves the defaults in place and is returned as [`LoadedConfig::unusable`].
pub fn load_config(
    explicit: Option<&Path>,
    paths: &[PathBuf],
) -> Result<LoadedConfig, MissingConfig> {
    let path = match explicit {
        Some(p) if !p.exists() => {
            return Err(MissingConfig {
                path: p.to_path_buf(),
            });
        }
        Some(p) => Some(p.to_path_buf()),
        None => paths.iter().find_map(|p| beside(p)),
    };
    let Some(path) = path else {
        return Ok(LoadedConfig::default());
    };
    let loaded = read_text(&path).and_then(|text| {
        AuditConfig::from_keyless_yml(&text, &display_path(&path)).map_err(|e| match e {
            ConfigError::Invalid { message, .. } => message,
        })
    });
    Ok(match loaded {
        Ok(config) => LoadedConfig {
            config: config.unwrap_or_default(),
            unusable: None,
        },
        Err(message) => LoadedConfig {
            config: AuditConfig::default(),
            unusable: Some(UnusableConfig {
                path,
                reason: format!("{message} (the audit ran with the default settings)"),
            }),
        },
    })
}

/// The keyless.yml (or keyless.yaml) in `path` when it is a directory, else beside it.
fn beside(path: &Path) -> Option<PathBuf> {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    };
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    ["keyless.yml", "keyless.yaml"]
        .iter()
        .map(|n| dir.join(n))
        .find(|c| c.is_file())
}

/// `files` with the unusable keyless.yml added when it is not among them (however it is named), so it is reported.
pub fn with_unusable(mut files: Vec<PathBuf>, unusable: Option<&UnusableConfig>) -> Vec<PathBuf> {
    if let Some(unusable) = unusable
        && !files.iter().any(|f| same_file(f, &unusable.path))
    {
        files.push(unusable.path.clone());
    }
    files
}

/// Reads `files` and audits them in one pass ([`Auditor::audit_files`]); the inputs come back in `files`' order.
/// A file that cannot be read is audited as such (`invalid-pipeline` / `invalid-input`); so is `unusable`, the
/// keyless.yml whose `audit:` section could not be used (one that is not even YAML is reported with the parser's
/// position instead).
pub fn audit_paths(
    auditor: &Auditor,
    files: &[PathBuf],
    unusable: Option<&UnusableConfig>,
    repository: Option<&Repository>,
) -> (Vec<Input>, Report) {
    let texts: Vec<(String, Result<String, String>)> = files
        .iter()
        .map(|f| {
            let shown = display_path(f);
            let text = match (read_text(f), unusable) {
                (Ok(text), Some(config))
                    if same_file(f, &config.path) && Input::parse(&shown, &text).is_ok() =>
                {
                    Err(config.reason.clone())
                }
                (text, _) => text,
            };
            (shown, text)
        })
        .collect();
    auditor.audit_files(&texts, repository)
}

/// A file's text, or why it cannot be audited.
pub fn read_text(path: &Path) -> Result<String, String> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| {
            format!(
                "not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
                e.utf8_error().valid_up_to()
            )
        }),
        Err(e) => Err(format!("cannot read: {e}")),
    }
}

/// The same file named two ways (`./keyless.yml`, `dir/../dir/keyless.yml`).
pub fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

/// A path as findings show it: as given, without a leading `./`.
pub fn display_path(path: &Path) -> String {
    let s = path.display().to_string();
    s.strip_prefix("./").map(str::to_owned).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::Options;

    const PIPELINE: &str =
        "pipelines:\n  default:\n    - step:\n        script:\n          - echo hi\n";
    const WITH_AUDIT: &str =
        "audit:\n  rules:\n    curl-pipe-shell:\n      disable: true\n      reason: a test\n";

    fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn disabled(loaded: &LoadedConfig) -> bool {
        loaded
            .config
            .rule("curl-pipe-shell")
            .is_some_and(|r| r.disable)
    }

    #[test]
    fn finds_the_keyless_yml_beside_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = write(dir.path(), "bitbucket-pipelines.yml", PIPELINE.as_bytes());
        write(dir.path(), "keyless.yml", WITH_AUDIT.as_bytes());
        let loaded = load_config(None, &[pipeline]).unwrap();
        assert!(disabled(&loaded), "{loaded:?}");
        assert_eq!(loaded.unusable, None);
    }

    #[test]
    fn finds_the_keyless_yaml_inside_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "keyless.yaml", WITH_AUDIT.as_bytes());
        let loaded = load_config(None, &[dir.path().to_path_buf()]).unwrap();
        assert!(disabled(&loaded), "{loaded:?}");
    }

    #[test]
    fn no_keyless_yml_means_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = write(dir.path(), "bitbucket-pipelines.yml", PIPELINE.as_bytes());
        let loaded = load_config(None, &[pipeline]).unwrap();
        assert!(!disabled(&loaded));
        assert_eq!(loaded.unusable, None);
    }

    #[test]
    fn an_explicit_config_wins_and_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = write(dir.path(), "bitbucket-pipelines.yml", PIPELINE.as_bytes());
        write(dir.path(), "keyless.yml", b"audit: {}\n");
        let other = write(dir.path(), "other.yml", WITH_AUDIT.as_bytes());
        let loaded = load_config(Some(&other), std::slice::from_ref(&pipeline)).unwrap();
        assert!(disabled(&loaded), "{loaded:?}");
        let missing = dir.path().join("missing.yml");
        let error = load_config(Some(&missing), &[pipeline]).unwrap_err();
        assert_eq!(error.path, missing);
        assert_eq!(
            error.to_string(),
            format!("{}: no such file", missing.display())
        );
    }

    #[test]
    fn an_unusable_audit_section_leaves_the_defaults_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = write(dir.path(), "bitbucket-pipelines.yml", PIPELINE.as_bytes());
        let config = write(
            dir.path(),
            "keyless.yml",
            b"audit:\n  rules:\n    no-such-rule:\n      disable: true\n      reason: a test\n",
        );
        let loaded = load_config(None, std::slice::from_ref(&pipeline)).unwrap();
        let unusable = loaded.unusable.clone().unwrap();
        assert_eq!(unusable.path, config);
        assert!(
            unusable.reason.contains("no-such-rule"),
            "{}",
            unusable.reason
        );
        assert!(
            unusable
                .reason
                .ends_with(" (the audit ran with the default settings)"),
            "{}",
            unusable.reason
        );
        assert!(!disabled(&loaded));
        // Reported with the other files, once, however it is named.
        let files = with_unusable(vec![pipeline.clone()], Some(&unusable));
        assert_eq!(files, vec![pipeline.clone(), config.clone()]);
        let dotted = dir.path().join(".").join("keyless.yml");
        assert_eq!(
            with_unusable(vec![pipeline, dotted], Some(&unusable)).len(),
            2
        );
        let auditor = Auditor::new(loaded.config.clone(), Options::default());
        let (_, report) = audit_paths(&auditor, &files, loaded.unusable.as_ref(), None);
        let finding = report
            .findings
            .iter()
            .find(|f| f.rule == "invalid-input")
            .unwrap();
        assert!(finding.message.contains("no-such-rule"), "{finding:?}");
    }

    #[test]
    fn unreadable_and_non_utf8_files_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let latin1 = write(
            dir.path(),
            "bitbucket-pipelines.yml",
            b"pipelines: # caf\xe9\n",
        );
        assert_eq!(
            read_text(&latin1).unwrap_err(),
            "not UTF-8 text (invalid byte at offset 16); save it as UTF-8"
        );
        let missing = dir.path().join("nothing.yml");
        let reason = read_text(&missing).unwrap_err();
        assert!(reason.starts_with("cannot read: "), "{reason}");
        let auditor = Auditor::new(AuditConfig::default(), Options::default());
        let (inputs, report) = audit_paths(&auditor, &[latin1], None, None);
        assert_eq!(inputs.len(), 1);
        assert_eq!(report.unreadable.len(), 1);
        assert!(
            report.unreadable[0]
                .error
                .to_string()
                .contains("not UTF-8 text"),
            "{:?}",
            report.unreadable
        );
    }

    #[test]
    fn display_path_drops_a_leading_dot_slash() {
        assert_eq!(display_path(Path::new("./a/keyless.yml")), "a/keyless.yml");
        assert_eq!(display_path(Path::new("a/./b.yml")), "a/./b.yml");
    }
}
