//! What is shipped and how a fresh machine gets it: the release artifacts (scripts/dist), the Dockerfiles, the
//! Bitbucket pipe and the fresh-machine check. One test binary per area (crates/cli/tests/support/mod.rs says why).

#[path = "../support/mod.rs"]
mod support;

mod dockerfile;
mod fresh_machine_check;
mod pipe;
mod release;
