//! `verify`: checks a token's signature against a JWKS and its time and identity claims, with one distinct
//! `VerifyError` per way a token can fail, each carrying the facts an error message (or an AWS error code) needs.
//!
//! Choices where AWS's behaviour is UNCONFIRMED (aws.md §2, §9), all in [`VerifyOptions`]:
//! - `exp`: valid while `now < exp + exp_leeway` with a default leeway of 0, matching AWS's message
//!   "current date/time N must be before the expiration date/time M".
//! - `nbf` and `iat` in the future: rejected beyond a default 60 s of clock skew (issuers' clocks drift; AWS's
//!   allowance is unknown). `iat` is optional; when present it must be an integer.
//! - Float timestamps are rejected (AWS requires integer NumericDates); so are strings and other JSON types.
//! - `kid`: when the header has none, the JWKS must hold exactly one key that fits the algorithm.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::decode::{UnverifiedToken, json_type};
use crate::jwk::{Algorithm, Jwk, KeyProblem};
use crate::{Audience, DecodeError, Header, Jwks};

/// Tunables for [`verify`]; `VerifyOptions::default()` is what the emulator uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Seconds after `exp` a token is still accepted. Default 0.
    pub exp_leeway_seconds: i64,
    /// Seconds `nbf` may lie in the future (clock skew). Default 60.
    pub nbf_leeway_seconds: i64,
    /// Seconds `iat` may lie in the future (clock skew). Default 60.
    pub iat_leeway_seconds: i64,
    /// When set, tokens whose `iat` is older than this are rejected ([`VerifyError::TooOld`]). Default none.
    pub max_age_seconds: Option<i64>,
    /// Whether a token without `iat` is rejected. Default false.
    pub require_iat: bool,
    /// The algorithms accepted. Default: all of [`Algorithm::ALL`].
    pub algorithms: Vec<Algorithm>,
    /// Whether a token without `sub` is rejected ([`VerifyError::MissingSubject`]). Default true (AWS requires
    /// it); false for tokens whose issuer never sets one, such as Forge invocation tokens.
    pub require_subject: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            exp_leeway_seconds: 0,
            nbf_leeway_seconds: 60,
            iat_leeway_seconds: 60,
            max_age_seconds: None,
            require_iat: false,
            algorithms: Algorithm::ALL.to_vec(),
            require_subject: true,
        }
    }
}

/// A timestamp claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeClaim {
    /// `exp`.
    Exp,
    /// `iat`.
    Iat,
    /// `nbf`.
    Nbf,
}

impl TimeClaim {
    /// The claim name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Exp => "exp",
            Self::Iat => "iat",
            Self::Nbf => "nbf",
        }
    }
}

impl std::fmt::Display for TimeClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a token was rejected. Every variant is the token's (or its issuer's) fault; none is ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The string is not a well-formed JWT.
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    /// `alg: none`: an unsigned token.
    #[error(
        "the token is unsigned (`alg: none`); only RS256/384/512 and ES256/384/512 are accepted"
    )]
    AlgorithmNone,
    /// An HMAC algorithm, which a public JWKS can never verify (and which invites the "public key as HMAC secret"
    /// attack).
    #[error(
        "the token uses the symmetric algorithm {alg}; only RS256/384/512 and ES256/384/512 are accepted"
    )]
    SymmetricAlgorithm {
        /// `HS256`, `HS384`, `HS512`, ...
        alg: String,
    },
    /// Any other unsupported `alg` (PS256, EdDSA, garbage).
    #[error(
        "the token's algorithm `{alg}` is not supported; only RS256/384/512 and ES256/384/512 are accepted"
    )]
    UnsupportedAlgorithm {
        /// The header's `alg`, truncated to 40 characters.
        alg: String,
    },
    /// A supported algorithm that [`VerifyOptions::algorithms`] excludes.
    #[error("the token's algorithm {alg} is not allowed here")]
    AlgorithmNotAllowed {
        /// The algorithm.
        alg: Algorithm,
    },
    /// No `kid`, and the JWKS does not hold exactly one key for the algorithm.
    #[error(
        "the token has no `kid` and the issuer's JWKS holds {candidates} keys for {alg}, so none can be chosen"
    )]
    MissingKeyId {
        /// The token's algorithm.
        alg: Algorithm,
        /// How many keys fit the algorithm.
        candidates: usize,
    },
    /// The `kid` is not in the JWKS.
    #[error("the token's key ID `{kid}` is not in the issuer's JWKS (known: {known})")]
    UnknownKeyId {
        /// The header's `kid`.
        kid: String,
        /// The JWKS's key IDs, comma-separated.
        known: String,
    },
    /// The key exists but cannot verify this token.
    #[error("the issuer's key `{kid}` cannot verify this token: {problem}")]
    UnusableKey {
        /// The key's `kid` (empty when the key has none).
        kid: String,
        /// What is wrong.
        problem: KeyProblem,
    },
    /// The signature does not match (wrong key, tampered header or payload, truncated signature).
    #[error("the token's signature does not verify with the issuer's key `{kid}` ({alg})")]
    BadSignature {
        /// The key tried.
        kid: String,
        /// The algorithm.
        alg: Algorithm,
    },
    /// No `iss`.
    #[error("the token has no `iss` claim")]
    MissingIssuer,
    /// No `aud`.
    #[error("the token has no `aud` claim")]
    MissingAudience,
    /// `aud` is an empty array.
    #[error("the token's `aud` is an empty array")]
    EmptyAudience,
    /// No `sub`, or an empty one.
    #[error("the token has no `sub` claim")]
    MissingSubject,
    /// No `exp`.
    #[error("the token has no `exp` claim")]
    MissingExpiry,
    /// No `iat` while [`VerifyOptions::require_iat`] is set.
    #[error("the token has no `iat` claim")]
    MissingIssuedAt,
    /// A claim has the wrong JSON type (`iss` a number, `aud` an object, `exp` a string, ...).
    #[error("the token's `{claim}` is {found}, expected {expected}")]
    ClaimType {
        /// The claim.
        claim: &'static str,
        /// What was expected.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// A timestamp claim is a non-integer number (`"exp": 1700000000.5`).
    #[error("the token's `{claim}` is {value}, not an integer number of seconds")]
    FloatTimestamp {
        /// The claim.
        claim: TimeClaim,
        /// The number as written.
        value: String,
    },
    /// `now >= exp + leeway`.
    #[error(
        "the token expired: current date/time {now} must be before the expiration date/time {exp}"
    )]
    Expired {
        /// The verifier's clock, epoch seconds.
        now: i64,
        /// The token's `exp`.
        exp: i64,
    },
    /// `nbf` is in the future beyond the leeway.
    #[error("the token is not valid yet: `nbf` {nbf} is after the current date/time {now}")]
    NotYetValid {
        /// The verifier's clock.
        now: i64,
        /// The token's `nbf`.
        nbf: i64,
    },
    /// `iat` is in the future beyond the leeway.
    #[error("the token was issued in the future: `iat` {iat} is after the current date/time {now}")]
    IssuedInFuture {
        /// The verifier's clock.
        now: i64,
        /// The token's `iat`.
        iat: i64,
    },
    /// The header has `crit` (RFC 7515 §4.1.11): extensions the recipient must understand, and this verifier
    /// understands none, so the token must be rejected. A `crit` that is not a non-empty array of strings is
    /// malformed and rejected too.
    #[error(
        "the token's header marks {names} as critical (`crit`, RFC 7515 §4.1.11), an extension this verifier does \
         not understand, so the token cannot be accepted"
    )]
    CriticalHeader {
        /// The listed names, quoted and truncated, or a description of the malformed value.
        names: String,
    },
    /// `iat` is older than [`VerifyOptions::max_age_seconds`].
    #[error("the token is too old: issued {age} seconds ago, the limit is {max_age}")]
    TooOld {
        /// `now - iat`.
        age: i64,
        /// The limit.
        max_age: i64,
    },
}

/// A token whose signature, algorithm, required claims and times have been checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifiedToken {
    /// The JOSE header.
    pub header: Header,
    /// The algorithm the signature was checked with.
    pub algorithm: Algorithm,
    /// The `kid` of the key that verified it (empty when the key has none).
    pub kid: String,
    /// `iss`.
    pub issuer: String,
    /// `aud`, in the token's form.
    pub audience: Audience,
    /// `sub` (empty when absent and [`VerifyOptions::require_subject`] is false).
    pub subject: String,
    /// `exp`.
    pub expires_at: i64,
    /// `iat`, when present.
    pub issued_at: Option<i64>,
    /// `nbf`, when present.
    pub not_before: Option<i64>,
    /// Every claim, verbatim.
    pub claims: Map<String, Value>,
}

/// Verifies `token` against `jwks` at `now_epoch_seconds`: algorithm, key, signature, then `iss`/`aud`/`sub`, then
/// `exp`/`nbf`/`iat`. Issuer and audience *values* are the caller's to check (AWS matches them against an IAM
/// provider).
///
/// Keys are parsed once per JWK and algorithm and cached inside `jwks`, so keep the `Jwks` value around.
pub fn verify(
    token: &str,
    jwks: &Jwks,
    now_epoch_seconds: i64,
    options: &VerifyOptions,
) -> Result<VerifiedToken, VerifyError> {
    UnverifiedToken::parse(token)?.verify(jwks, now_epoch_seconds, options)
}

impl UnverifiedToken<'_> {
    /// The second half of [`verify`], for callers that looked at the unverified claims first.
    pub fn verify(
        &self,
        jwks: &Jwks,
        now_epoch_seconds: i64,
        options: &VerifyOptions,
    ) -> Result<VerifiedToken, VerifyError> {
        let header = &self.decoded.header;
        if let Some(crit) = header.extra.get("crit") {
            return Err(VerifyError::CriticalHeader {
                names: describe_crit(crit),
            });
        }
        let alg = algorithm(&header.alg)?;
        if !options.algorithms.contains(&alg) {
            return Err(VerifyError::AlgorithmNotAllowed { alg });
        }
        let key = select_key(jwks, header.kid.as_deref(), alg)?;
        let kid = key.kid().unwrap_or_default();
        let verifier = key
            .verifier(alg)
            .map_err(|problem| VerifyError::UnusableKey {
                kid: kid.to_owned(),
                problem: problem.clone(),
            })?;
        verifier
            .verify_sig(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| VerifyError::BadSignature {
                kid: kid.to_owned(),
                alg,
            })?;

        let claims = &self.decoded.claims;
        let issuer = match claims.get("iss") {
            None => return Err(VerifyError::MissingIssuer),
            Some(Value::String(iss)) => iss.clone(),
            Some(other) => return Err(claim_type("iss", "a string", other)),
        };
        let audience = match claims.get("aud") {
            None => return Err(VerifyError::MissingAudience),
            Some(Value::String(aud)) => Audience::One(aud.clone()),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(VerifyError::EmptyAudience);
            }
            Some(value @ Value::Array(items)) => Audience::Many(
                items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| claim_type("aud", "a string or an array of strings", value))?,
            ),
            Some(other) => return Err(claim_type("aud", "a string or an array of strings", other)),
        };
        let subject = match claims.get("sub") {
            None if !options.require_subject => String::new(),
            None => return Err(VerifyError::MissingSubject),
            Some(Value::String(sub)) if sub.is_empty() => return Err(VerifyError::MissingSubject),
            Some(Value::String(sub)) => sub.clone(),
            Some(other) => return Err(claim_type("sub", "a string", other)),
        };
        let expires_at = timestamp(claims, TimeClaim::Exp)?.ok_or(VerifyError::MissingExpiry)?;
        let issued_at = timestamp(claims, TimeClaim::Iat)?;
        let not_before = timestamp(claims, TimeClaim::Nbf)?;

        let now = now_epoch_seconds;
        if now >= expires_at.saturating_add(options.exp_leeway_seconds) {
            return Err(VerifyError::Expired {
                now,
                exp: expires_at,
            });
        }
        if let Some(nbf) = not_before
            && nbf > now.saturating_add(options.nbf_leeway_seconds)
        {
            return Err(VerifyError::NotYetValid { now, nbf });
        }
        match issued_at {
            None if options.require_iat => return Err(VerifyError::MissingIssuedAt),
            None => {}
            Some(iat) => {
                if iat > now.saturating_add(options.iat_leeway_seconds) {
                    return Err(VerifyError::IssuedInFuture { now, iat });
                }
                if let Some(max_age) = options.max_age_seconds {
                    let age = now.saturating_sub(iat);
                    if age > max_age {
                        return Err(VerifyError::TooOld { age, max_age });
                    }
                }
            }
        }
        Ok(VerifiedToken {
            header: header.clone(),
            algorithm: alg,
            kid: kid.to_owned(),
            issuer,
            audience,
            subject,
            expires_at,
            issued_at,
            not_before,
            claims: claims.clone(),
        })
    }
}

/// `crit`'s names for a message: each quoted, at most 5 of 40 characters each.
fn describe_crit(crit: &Value) -> String {
    match crit {
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
            let mut names: Vec<String> = items
                .iter()
                .take(5)
                .filter_map(Value::as_str)
                .map(|n| format!("`{}`", n.chars().take(40).collect::<String>()))
                .collect();
            if items.len() > 5 {
                names.push(format!("and {} more", items.len() - 5));
            }
            names.join(", ")
        }
        Value::Array(items) if items.is_empty() => "an empty list".to_owned(),
        other => format!("a malformed value ({})", json_type(other)),
    }
}

fn algorithm(alg: &str) -> Result<Algorithm, VerifyError> {
    if let Ok(known) = alg.parse::<Algorithm>() {
        return Ok(known);
    }
    if alg.eq_ignore_ascii_case("none") {
        return Err(VerifyError::AlgorithmNone);
    }
    if alg.len() >= 2 && alg[..2].eq_ignore_ascii_case("HS") {
        return Err(VerifyError::SymmetricAlgorithm {
            alg: alg.chars().take(40).collect(),
        });
    }
    Err(VerifyError::UnsupportedAlgorithm {
        alg: alg.chars().take(40).collect(),
    })
}

fn select_key<'a>(
    jwks: &'a Jwks,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<&'a Jwk, VerifyError> {
    match kid {
        Some(kid) => {
            let mut same_kid = jwks.keys.iter().filter(|key| key.kid() == Some(kid));
            let first = same_kid.next();
            // Two keys may share a kid across key types (an RSA and an EC key); take the one that fits.
            let fitting = first
                .filter(|key| key.fits(alg))
                .or_else(|| same_kid.find(|key| key.fits(alg)));
            match fitting.or(first) {
                Some(key) => Ok(key),
                None => Err(VerifyError::UnknownKeyId {
                    kid: kid.chars().take(200).collect(),
                    known: jwks
                        .keys
                        .iter()
                        .filter_map(Jwk::kid)
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            }
        }
        None => {
            let mut fitting = jwks.keys.iter().filter(|key| key.fits(alg));
            match (fitting.next(), fitting.next()) {
                (Some(only), None) => Ok(only),
                (None, _) => Err(VerifyError::MissingKeyId { alg, candidates: 0 }),
                (Some(_), Some(_)) => Err(VerifyError::MissingKeyId {
                    alg,
                    candidates: 2 + fitting.count(),
                }),
            }
        }
    }
}

fn claim_type(claim: &'static str, expected: &'static str, found: &Value) -> VerifyError {
    VerifyError::ClaimType {
        claim,
        expected,
        found: json_type(found),
    }
}

fn timestamp(claims: &Map<String, Value>, claim: TimeClaim) -> Result<Option<i64>, VerifyError> {
    match claims.get(claim.name()) {
        None => Ok(None),
        Some(Value::Number(number)) => match number.as_i64() {
            Some(seconds) => Ok(Some(seconds)),
            None if number.is_f64() => Err(VerifyError::FloatTimestamp {
                claim,
                value: number.to_string(),
            }),
            // A u64 beyond i64::MAX: an integer, but no real date; treat it as far future.
            None => Ok(Some(i64::MAX)),
        },
        Some(other) => Err(claim_type(
            claim.name(),
            "an integer number of seconds",
            other,
        )),
    }
}
