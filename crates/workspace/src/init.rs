//! `keyless init`: a commented starter `keyless.yml`.

/// The starter file. It parses and validates as is, with placeholder UUIDs to replace (or `keyless resolve`).
pub const STARTER: &str = include_str!("starter.yml");
