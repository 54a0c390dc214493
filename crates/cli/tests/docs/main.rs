//! The command-line surface as a user reads it: every `--help` (insta snapshots), the docs/ pages that hold
//! them, and shell completions. One test binary per area (crates/cli/tests/support/mod.rs says why).

#[path = "../support/mod.rs"]
mod support;

mod completions;
mod docs;
mod help;
