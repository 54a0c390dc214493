//! What the emulator logs, and how much: inputs quoted in logs are cut to [`QUOTE_LIMIT`] bytes and never
//! echoed whole; per-request lines are `debug`; at `info` the emulator logs start, stop and one summary line a
//! minute ([`summaries`]), so a long load run at the default level writes a few lines, not gigabytes.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::StatusCode;

use crate::Shared;

/// The most bytes of any client input quoted in a log line.
pub const QUOTE_LIMIT: usize = 128;

/// A client-supplied string as a log shows it: at most [`QUOTE_LIMIT`] bytes (cut on a character boundary),
/// followed by `…(N bytes)` when cut, with control characters escaped.
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        let mut end = text.len().min(QUOTE_LIMIT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        for c in text[..end].chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        if end < text.len() {
            write!(f, "…({} bytes)", text.len())?;
        }
        Ok(())
    }
}

/// How an `Action` is logged: a known action verbatim, anything else as `<unknown, N bytes>` (a client can send
/// anything there, a token included).
pub fn action(action: &str, known: bool) -> String {
    if known {
        action.to_owned()
    } else if action.is_empty() {
        "<none>".to_owned()
    } else {
        format!("<unknown, {} bytes>", action.len())
    }
}

/// Requests answered since the last summary, by status class.
#[derive(Debug, Default)]
pub struct Stats {
    ok: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
}

impl Stats {
    /// Counts one answered request.
    pub fn count(&self, status: StatusCode) {
        let counter = if status.is_server_error() {
            &self.server_errors
        } else if status.is_client_error() {
            &self.client_errors
        } else {
            &self.ok
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn take(&self) -> (u64, u64, u64) {
        (
            self.ok.swap(0, Ordering::Relaxed),
            self.client_errors.swap(0, Ordering::Relaxed),
            self.server_errors.swap(0, Ordering::Relaxed),
        )
    }
}

/// Logs one `info` summary line a minute while there was traffic.
pub(crate) async fn summaries(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.tick().await;
    loop {
        tick.tick().await;
        let (ok, client, server) = shared.stats.take();
        if ok + client + server > 0 {
            tracing::info!(
                requests = ok + client + server,
                ok,
                client_errors = client,
                server_errors = server,
                "last minute"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_cut_and_escaped() {
        assert_eq!(Quoted("abc").to_string(), "abc");
        assert_eq!(Quoted("a\nb").to_string(), "a\\nb");
        let long = "é".repeat(100);
        let shown = Quoted(&long).to_string();
        assert!(shown.ends_with("…(200 bytes)"), "{shown}");
        assert_eq!(shown.trim_end_matches("…(200 bytes)").len(), 128);
        assert_eq!(action("GetRole", true), "GetRole");
        assert_eq!(
            action(&"x".repeat(100_000), false),
            "<unknown, 100000 bytes>"
        );
        assert_eq!(action("", false), "<none>");
    }
}
