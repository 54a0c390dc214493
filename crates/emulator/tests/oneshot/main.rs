//! In-process tests of every action and error path, driven through the router with `oneshot` (no socket).
#![allow(clippy::unwrap_used)]

mod common;
mod iam;
mod protocol;
mod session_tags;
mod sts;
mod tokens;
