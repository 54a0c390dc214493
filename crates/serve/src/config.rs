//! The live `keyless.yml`: loaded at start, swapped atomically on reload (SIGHUP). A file that fails to load is
//! reported and the configuration in use stays.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use keyless_enforce::EnforceConfig;

/// Why keyless.yml could not be (re)loaded: the user's file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] keyless_enforce::ConfigError),
}

/// One loaded configuration and its generation (1 at start, +1 per successful reload).
#[derive(Debug)]
pub struct Loaded {
    pub config: EnforceConfig,
    pub generation: u64,
}

/// The configuration requests are rendered with.
#[derive(Debug)]
pub struct LiveConfig {
    path: PathBuf,
    current: ArcSwap<Loaded>,
    generation: AtomicU64,
}

/// Reads and validates the `environments:` and `policy:` of `path`.
pub fn load(path: &Path) -> Result<EnforceConfig, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let config = EnforceConfig::from_yaml(&text, &path.display().to_string())?;
    // A trust-only field AWS could never satisfy (a private range in `source_ips`) is an error for plan, apply and
    // check, but must never stop the workspace's pipelines: logged, then served.
    for warning in config.workspace().trust_warnings() {
        tracing::warn!(%warning, "keyless.yml: a trust condition AWS can never satisfy (keyless plan refuses it)");
    }
    Ok(config)
}

impl LiveConfig {
    /// Loads `path`; fails when it does not load (a server must not start without a policy).
    pub fn open(path: impl Into<PathBuf>) -> Result<LiveConfig, LoadError> {
        let path = path.into();
        let config = load(&path)?;
        Ok(LiveConfig::from_config(path, config))
    }

    /// A live configuration from an already-loaded one (tests, benchmarks).
    pub fn from_config(path: impl Into<PathBuf>, config: EnforceConfig) -> LiveConfig {
        LiveConfig {
            path: path.into(),
            current: ArcSwap::from_pointee(Loaded {
                config,
                generation: 1,
            }),
            generation: AtomicU64::new(1),
        }
    }

    /// The configuration in use.
    pub fn current(&self) -> Arc<Loaded> {
        self.current.load_full()
    }

    /// The file reloads read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file. On success the new configuration is used from the next request on and its generation
    /// is returned; on failure nothing changes.
    pub fn reload(&self) -> Result<u64, LoadError> {
        let config = load(&self.path)?;
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.current.store(Arc::new(Loaded { config, generation }));
        Ok(generation)
    }
}
