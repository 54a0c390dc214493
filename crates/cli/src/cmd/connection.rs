//! The connection-level flags `keyless emulate` and `keyless serve` share: the limits of `keyless-listen`.

use std::time::Duration;

use clap::Args;

/// `--header-timeout`, `--idle-timeout`, `--max-connections`.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// How long a client may take to send a complete request head, counted from connecting (or from the first
    /// byte of a later request on a kept-alive connection); slower connections are closed (e.g. 10s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = super::serve::parse_duration)]
    pub header_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request before it is closed.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = super::serve::parse_duration)]
    pub idle_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog. Default: the smaller of 1024 and the
    /// process's descriptor limit minus 64.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
}

impl ConnectionArgs {
    /// The limits, or an error naming the bad flag and the fix.
    pub fn limits(&self) -> anyhow::Result<keyless_listen::Limits> {
        let max_connections = match self.max_connections {
            Some(n) => keyless_listen::check_max_connections(n).map_err(anyhow::Error::msg)?,
            None => keyless_listen::default_max_connections(),
        };
        Ok(keyless_listen::Limits {
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            max_connections,
        })
    }
}
