//! Emulated AWS accounts: admin credentials, IAM roles and OIDC providers, STS sessions; atomic persistence.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ids;

/// A secret string (secret access key, session token, the session MAC key): keyless-oidc's, whose
/// `Debug`/`Display` never show the value and whose serde form is the bare string (the state file is 0600).
pub use keyless_oidc::Secret;

/// One tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// An IAM OIDC identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// The URL without `https://` (`api.bitbucket.org/2.0/workspaces/x/pipelines-config/identity/oidc`).
    pub url: String,
    /// Allowed audiences.
    pub client_ids: Vec<String>,
    /// Upper- or lower-case hex SHA-1 thumbprints, as given.
    pub thumbprints: Vec<String>,
    /// ISO-8601 creation time.
    pub create_date: String,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Name (case preserved; uniqueness is case-insensitive).
    pub name: String,
    /// Path, `/` by default.
    pub path: String,
    /// `AROA…`.
    pub role_id: String,
    /// ISO-8601 creation time.
    pub create_date: String,
    /// The trust policy exactly as given.
    pub trust_policy: String,
    /// Description.
    pub description: Option<String>,
    /// Maximum session duration in seconds.
    pub max_session_duration: i64,
    /// Permissions boundary ARN.
    pub permissions_boundary: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Inline policies by name.
    pub inline_policies: BTreeMap<String, String>,
    /// Attached managed policy ARNs, in attachment order.
    pub attached_policies: Vec<String>,
}

/// One emulated AWS account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    /// Long-term admin access key id (`AKIA…`).
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: Secret,
    /// Providers by URL without scheme (exact, case-sensitive).
    pub providers: BTreeMap<String, Provider>,
    /// Roles by lower-cased name.
    pub roles: BTreeMap<String, Role>,
}

impl Account {
    /// A new account with fresh admin credentials.
    pub fn generate() -> Self {
        Self {
            access_key_id: ids::long_term_key_id(),
            secret_access_key: Secret::new(ids::secret_access_key()),
            providers: BTreeMap::new(),
            roles: BTreeMap::new(),
        }
    }

    /// Case-insensitive role lookup.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(&name.to_ascii_lowercase())
    }

    /// Case-insensitive mutable role lookup.
    pub fn role_mut(&mut self, name: &str) -> Option<&mut Role> {
        self.roles.get_mut(&name.to_ascii_lowercase())
    }
}

/// Everything that persists.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Format version of the state file.
    pub version: u32,
    /// The key that authenticates session tokens (see `sessions`).
    #[serde(default = "crate::sessions::new_key")]
    pub session_key: Secret,
    /// Accounts by 12-digit id.
    pub accounts: BTreeMap<String, Account>,
    /// The issuer's signing keys per workspace slug (private keys: the file is 0600).
    #[serde(default)]
    pub issuer_keys: BTreeMap<String, keyless_oidc::KeyRingExport>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            version: STATE_VERSION,
            session_key: crate::sessions::new_key(),
            accounts: BTreeMap::new(),
            issuer_keys: BTreeMap::new(),
        }
    }
}

/// Current state-file format.
pub const STATE_VERSION: u32 = 1;

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading failed.
    #[error("cannot read state file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a keyless emulator state file.
    #[error(
        "state file {path} is not a keyless emulator state file ({source}); move it away or pass another --state"
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: serde_json::Error,
    },
    /// A newer format.
    #[error(
        "state file {path} has format version {found}; this keyless understands version {STATE_VERSION}"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Version found.
        found: u32,
    },
    /// Writing failed.
    #[error("cannot write state file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

impl State {
    /// Loads a state file; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<Self, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let state: Self = serde_json::from_str(&text).map_err(|source| StateError::Parse {
            path: path.to_owned(),
            source,
        })?;
        if state.version != STATE_VERSION {
            return Err(StateError::Version {
                path: path.to_owned(),
                found: state.version,
            });
        }
        Ok(state)
    }

    /// Writes the state atomically: a temporary file in the same directory, fsync, rename over the target,
    /// fsync the directory. A kill at any moment leaves either the old or the new file, never a torn one.
    /// The file holds admin secrets, so it is created 0600.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let write_err = |source| StateError::Write {
            path: path.to_owned(),
            source,
        };
        let bytes =
            serde_json::to_vec_pretty(self).map_err(|e| write_err(std::io::Error::other(e)))?;
        write_atomically(path, &bytes).map_err(write_err)
    }
}

/// Atomic write with mode 0600 (state and ready files both hold secrets).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        ids::request_id()
    ));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        if let Ok(dir) = std::fs::File::open(&dir) {
            // Persist the rename itself; not every filesystem supports fsync on directories.
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug() {
        let account = Account::generate();
        let shown = format!("{account:?}");
        assert!(!shown.contains(account.secret_access_key.expose()));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn save_is_atomic_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut state = State::load(&path).unwrap();
        assert!(state.accounts.is_empty());
        state.version = STATE_VERSION;
        state
            .accounts
            .insert("123456789012".into(), Account::generate());
        state.save(&path).unwrap();
        state.save(&path).unwrap();
        let loaded = State::load(&path).unwrap();
        assert_eq!(loaded.accounts.len(), 1);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files remain");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn corrupt_or_future_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{not json").unwrap();
        assert!(
            State::load(&path)
                .unwrap_err()
                .to_string()
                .contains("not a keyless emulator state file")
        );
        std::fs::write(&path, r#"{"version": 9, "accounts": {}}"#).unwrap();
        assert!(matches!(
            State::load(&path).unwrap_err(),
            StateError::Version { found: 9, .. }
        ));
    }
}
