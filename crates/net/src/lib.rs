//! The edge: keyless's network calls outside its own servers, so that the models and engines below it
//! (keyless-workspace, -oidc, -iam, -pipelines, -enforce, -audit) build without an HTTP client, a TLS stack or
//! the AWS SDK (`tests/pure_crates.rs` checks their `cargo tree`).
//!
//! - [`http`]: the one reqwest client builder (timeouts, retries with jittered backoff, proxies) every client
//!   below is built with.
//! - [`jwks`]: an issuer's keys through OIDC discovery, or a JWKS URL, over HTTPS with a TTL cache.
//! - [`aws`] (feature `sdk`): the one AWS SDK configuration (region, endpoint override, credentials, timeouts,
//!   retries) every SDK client of keyless is built from.
//! - [`bitbucket`]: the Bitbucket REST API (`keyless resolve`'s UUID lookups) and its [`bitbucket::Credential`].
//! - [`code_insights`]: publishing `keyless audit`'s report through the Pipelines auth proxy.
//! - [`mint`]: the emulator mint client (`keyless token mint`).
//! - [`thumbprint`]: an OIDC issuer's TLS certificate chain and the thumbprint IAM wants.
//! - [`live`] (feature `aws`): IAM as it is, read and written through the AWS SDK for Rust (`apply`,
//!   `check --live`, `demo`).
//! - [`apply`] (feature `aws`): the apply workflow as values (connect, read and diff, execute, report), shared by
//!   `keyless apply` and `keyless demo`.
//!
//! The servers (`keyless serve`, `keyless emulate`) take [`jwks`] without `aws`, so they do not compile the SDK.

#[cfg(feature = "aws")]
pub mod apply;
#[cfg(feature = "sdk")]
pub mod aws;
pub mod bitbucket;
pub mod code_insights;
pub mod http;
pub mod jwks;
#[cfg(feature = "aws")]
pub mod live;
pub mod mint;
pub mod thumbprint;

/// An error and its sources, `: `-separated, each said once. reqwest's Display hides the cause ("error sending
/// request") and the AWS SDK's `DisplayErrorContext` appends a `Debug` dump; the chain names the cause (refused,
/// certificate, empty credential chain...) in words.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
