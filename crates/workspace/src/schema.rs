//! The JSON Schema of `keyless.yml`, generated from [`crate::raw::RawConfig`] (committed as
//! `schema/keyless.schema.json`; a test fails when it drifts).

/// The schema as pretty JSON with a trailing newline, exactly as committed.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(crate::raw::RawConfig);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
