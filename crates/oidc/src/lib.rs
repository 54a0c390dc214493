//! Bitbucket Pipelines OIDC tokens: the claims and `sub` grammar, issuer and audience derivation, minting with
//! rotating RSA keys, JWKS and discovery documents, verification (RS256/384/512, ES256/384/512) with a distinct
//! error per failure, decoding without verification, and the decode report (`keyless token decode`). Fetching an
//! issuer's keys over HTTPS is keyless-net's (`jwks::RemoteJwksFetcher`).
//!
//! Everything here is pure: the clock and randomness come in as parameters.
//!
//! ```
//! use keyless_oidc::{KeyRing, MintRequest, VerifyOptions, BITBUCKET_API_BASE};
//!
//! let ring = KeyRing::generate().unwrap();
//! let request = MintRequest::new(
//!     "acme",
//!     "{44444444-4444-4444-8444-444444444444}".parse().unwrap(),
//!     "{11111111-1111-4111-8111-111111111111}".parse().unwrap(),
//! );
//! let now = 1_700_000_000;
//! let claims = request.to_claims(BITBUCKET_API_BASE, now, &mut rand::rng()).unwrap();
//! let token = ring.mint(&claims).unwrap();
//! let verified = keyless_oidc::verify(token.expose(), &ring.jwks(), now + 10, &VerifyOptions::default()).unwrap();
//! assert_eq!(verified.subject, claims.sub);
//! ```

mod claims;
mod decode;
mod discovery;
mod jwk;
mod mint;
pub mod report;
mod signing;
mod subject;
mod uuid;
mod verify;
mod workspace;

pub use claims::{Audience, Claims};
pub use decode::{
    DecodeError, Decoded, Header, Part, UnverifiedToken, WhitespaceError, decode_unverified,
    encode_compact, strip_wire_whitespace,
};
pub use discovery::{BITBUCKET_CLAIMS_SUPPORTED, DiscoveryDocument};
pub use jwk::{Algorithm, Jwk, Jwks, KeyProblem, UnknownAlgorithm};
/// The secret wrappers (keyless-secret's one type): a JWT, a PEM private key and any other secret string. Their
/// `Debug`/`Display` redact.
pub use keyless_secret::{PrivateKeyPem, Secret, SecretToken};
pub use mint::{
    DEFAULT_LIFETIME_SECONDS, MAX_AUDIENCE_CHARS, MAX_CUSTOM_AUDIENCES, MAX_LIFETIME_SECONDS,
    MintError, MintRequest, MintResponse,
};
pub use report::{Report, report};
pub use signing::{EcSigningKey, ExportedKey, KeyError, KeyRing, KeyRingExport, SigningKey};
pub use subject::{Subject, SubjectError};
pub use uuid::{BracedUuid, UuidError};
pub use verify::{TimeClaim, VerifiedToken, VerifyError, VerifyOptions, verify};
pub use workspace::{
    AUDIENCE_PREFIX, BITBUCKET_API_BASE, BITBUCKET_API_HOST, ISSUER_PREFIX, ISSUER_SUFFIX,
    IssuerParts, WorkspaceError, WorkspaceRef, parse_issuer, workspace_audience, workspace_issuer,
};
