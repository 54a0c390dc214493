//! The result of a deploy (or of a dry run): data first, rendered by the CLI as text or JSON.
//!
//! The JSON shape (`--format json`) is a frozen contract, documented in `docs/deploy.md`.

use serde::Serialize;

use crate::guard::{self, Verdict};
use crate::plan::{Delete, Update, Upload};

/// Counts for the closing summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub uploaded: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub bytes_uploaded: u64,
    /// Hidden files left out of the source (without `--include-hidden`).
    pub skipped_hidden: usize,
}

/// One file or operation that failed; the run went on with the others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The object key, or the source-relative path for local problems, or the distribution id.
    pub key: String,
    /// `read`, `head`, `upload`, `update`, `delete` or `invalidate`.
    pub operation: &'static str,
    pub message: String,
}

/// The CloudFront invalidation, planned or created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvalidationReport {
    pub distribution_id: String,
    /// `None` in a dry run, when nothing changed, or when creating it failed.
    pub id: Option<String>,
    pub paths: Vec<String>,
    /// `planned`, `skipped` (nothing changed), `InProgress`, `Completed` or `failed`.
    pub status: String,
}

/// Everything a run did (or, with `dry_run`, would do).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub bucket: String,
    pub prefix: String,
    pub dry_run: bool,
    pub summary: Summary,
    pub uploads: Vec<Upload>,
    pub updates: Vec<Update>,
    pub deletes: Vec<Delete>,
    pub errors: Vec<Failure>,
    pub warnings: Vec<String>,
    /// The first distribution's invalidation (kept for scripts written before `--invalidate` repeated).
    pub invalidation: Option<InvalidationReport>,
    /// Every distribution's invalidation, in command-line order.
    pub invalidations: Vec<InvalidationReport>,
    /// Each guard's decision (empty-source, require, max-delete, max-delete-percent).
    pub guards: Vec<Verdict>,
}

impl Report {
    /// Whether every operation succeeded.
    pub fn is_success(&self) -> bool {
        self.errors.is_empty()
    }

    /// Whether a guard refuses this run (a dry run reports it; a real run stops before any change).
    pub fn is_refused(&self) -> bool {
        guard::refused(&self.guards)
    }

    /// The messages of the refusing guards.
    pub fn refusals(&self) -> impl Iterator<Item = &str> {
        self.guards
            .iter()
            .filter(|v| v.decision == guard::Decision::Refuse)
            .map(|v| v.message.as_str())
    }
}
