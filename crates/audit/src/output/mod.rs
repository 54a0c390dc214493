//! Output formats, each a pure function of the findings: rustc-style plain text, JSON v1, SARIF 2.1.0 and
//! Bitbucket Code Insights (report + annotations).

pub mod code_insights;
pub mod json;
pub mod plain;
pub mod sarif;
