//! `Jwk`, `Jwks` and `Algorithm`: public keys as an issuer publishes them (`keys.json`), parsed once per key and
//! algorithm and cached, so verifying the ten-thousandth token costs one signature check and no key parsing.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The signature algorithms AWS STS accepts for web identity tokens (aws.md §2 step 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (what Bitbucket uses).
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// ECDSA P-521 with SHA-512.
    ES512,
}

impl Algorithm {
    /// All six, in a stable order.
    pub const ALL: [Algorithm; 6] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::ES256,
        Self::ES384,
        Self::ES512,
    ];

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
        }
    }

    /// `RSA` or `EC`: the JWK `kty` a key for this algorithm has.
    pub fn key_type(self) -> &'static str {
        match self {
            Self::RS256 | Self::RS384 | Self::RS512 => "RSA",
            Self::ES256 | Self::ES384 | Self::ES512 => "EC",
        }
    }

    /// The JWK `crv` for ECDSA algorithms.
    pub fn curve(self) -> Option<&'static str> {
        match self {
            Self::ES256 => Some("P-256"),
            Self::ES384 => Some("P-384"),
            Self::ES512 => Some("P-521"),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `alg` this crate does not verify with; see [`Algorithm::from_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(alg: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|known| known.as_str() == alg)
            .ok_or_else(|| UnknownAlgorithm(alg.to_owned()))
    }
}

/// Why a JWK cannot verify a token with a given algorithm (the issuer's JWKS is at fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    /// `kty` does not fit the token's algorithm (an RSA key for ES256, ...).
    #[error(
        "the key is `kty: {kty}` but the token is signed with {alg}, which needs a {needed} key"
    )]
    WrongKeyType {
        /// The key's `kty`.
        kty: String,
        /// The token's algorithm.
        alg: Algorithm,
        /// The `kty` the algorithm needs.
        needed: &'static str,
    },
    /// The key's own `alg` names another algorithm.
    #[error("the key is for `{key_alg}` but the token is signed with {alg}")]
    AlgorithmMismatch {
        /// The key's `alg`.
        key_alg: String,
        /// The token's algorithm.
        alg: Algorithm,
    },
    /// `use` is set to something other than `sig`.
    #[error("the key's `use` is `{key_use}`, not `sig`")]
    NotForSignatures {
        /// The key's `use`.
        key_use: String,
    },
    /// The key's curve does not fit the algorithm.
    #[error("the key is on curve `{crv}` but {alg} needs {needed}")]
    WrongCurve {
        /// The key's `crv` (empty when missing).
        crv: String,
        /// The token's algorithm.
        alg: Algorithm,
        /// The curve the algorithm needs.
        needed: &'static str,
    },
    /// A required member (`n`, `e`, `x`, `y`) is missing or not base64url.
    #[error("the key's `{member}` is {problem}")]
    BadMember {
        /// The member.
        member: &'static str,
        /// `missing`, `not base64url`, `the wrong length`.
        problem: &'static str,
    },
    /// An RSA modulus outside what AWS and this crate accept.
    #[error("the RSA key is {bits} bits; keys from 2048 to 8192 bits are accepted")]
    RsaKeySize {
        /// The modulus size.
        bits: usize,
    },
    /// The crypto library rejected the key material.
    #[error("the key material is invalid ({0})")]
    Rejected(String),
}

/// Parsed verification keys, one slot per [`Algorithm`]. Shared between clones of a `Jwk` (the members it was
/// parsed from are immutable, so a clone can never make the cache stale).
#[derive(Default)]
struct KeyCache {
    slots: [OnceLock<Result<ParsedPublicKey, KeyProblem>>; 6],
}

/// One public key of a JWKS (RFC 7517). Members are read-only after construction, so the key parsed from them can
/// be cached inside the value.
#[derive(Clone, Serialize, Deserialize)]
pub struct Jwk {
    kty: String,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    key_use: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
    #[serde(skip)]
    cache: Arc<KeyCache>,
}

impl Jwk {
    /// An RSA signing key: `{"kty":"RSA","use":"sig","kid":…,"alg":…,"n":…,"e":…}` from big-endian `n` and `e`.
    pub fn rsa(kid: impl Into<String>, alg: Algorithm, n: &[u8], e: &[u8]) -> Self {
        Self {
            kty: "RSA".to_owned(),
            key_use: Some("sig".to_owned()),
            kid: Some(kid.into()),
            alg: Some(alg.as_str().to_owned()),
            n: Some(URL_SAFE_NO_PAD.encode(strip_leading_zeros(n))),
            e: Some(URL_SAFE_NO_PAD.encode(strip_leading_zeros(e))),
            crv: None,
            x: None,
            y: None,
            extra: Map::new(),
            cache: Arc::default(),
        }
    }

    /// An EC signing key for `alg` (ES256/384/512) from its affine coordinates.
    pub fn ec(kid: impl Into<String>, alg: Algorithm, x: &[u8], y: &[u8]) -> Self {
        Self {
            kty: "EC".to_owned(),
            key_use: Some("sig".to_owned()),
            kid: Some(kid.into()),
            alg: Some(alg.as_str().to_owned()),
            n: None,
            e: None,
            crv: alg.curve().map(str::to_owned),
            x: Some(URL_SAFE_NO_PAD.encode(x)),
            y: Some(URL_SAFE_NO_PAD.encode(y)),
            extra: Map::new(),
            cache: Arc::default(),
        }
    }

    /// `kty`: `RSA`, `EC`, ...
    pub fn kty(&self) -> &str {
        &self.kty
    }

    /// `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// `alg`, when the key names one.
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    /// `use`, when present.
    pub fn key_use(&self) -> Option<&str> {
        self.key_use.as_deref()
    }

    /// `crv`, for EC keys.
    pub fn crv(&self) -> Option<&str> {
        self.crv.as_deref()
    }

    /// Members this type does not model (`x5c`, `x5t`, ...), verbatim.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// Whether this key could verify `alg` by type and curve (ignores `alg`/`use` and the key material).
    pub fn fits(&self, alg: Algorithm) -> bool {
        self.kty == alg.key_type() && (alg.curve().is_none() || self.crv.as_deref() == alg.curve())
    }

    /// The key parsed for `alg`, from the cache after the first call.
    pub(crate) fn verifier(&self, alg: Algorithm) -> Result<&ParsedPublicKey, &KeyProblem> {
        self.cache.slots[alg.index()]
            .get_or_init(|| self.parse_for(alg))
            .as_ref()
    }

    fn parse_for(&self, alg: Algorithm) -> Result<ParsedPublicKey, KeyProblem> {
        if self.kty != alg.key_type() {
            return Err(KeyProblem::WrongKeyType {
                kty: self.kty.clone(),
                alg,
                needed: alg.key_type(),
            });
        }
        if let Some(key_alg) = &self.alg
            && key_alg != alg.as_str()
        {
            return Err(KeyProblem::AlgorithmMismatch {
                key_alg: key_alg.clone(),
                alg,
            });
        }
        if let Some(key_use) = &self.key_use
            && key_use != "sig"
        {
            return Err(KeyProblem::NotForSignatures {
                key_use: key_use.clone(),
            });
        }
        match alg {
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
                let n = member("n", self.n.as_deref())?;
                let e = member("e", self.e.as_deref())?;
                let n = strip_leading_zeros(&n);
                let e = strip_leading_zeros(&e);
                let bits = n
                    .first()
                    .map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize);
                if !(2048..=8192).contains(&bits) {
                    return Err(KeyProblem::RsaKeySize { bits });
                }
                if e.is_empty() {
                    return Err(KeyProblem::BadMember {
                        member: "e",
                        problem: "zero",
                    });
                }
                let params = match alg {
                    Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                    _ => &sig::RSA_PKCS1_2048_8192_SHA512,
                };
                RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(params)
                    .map_err(|rejected| KeyProblem::Rejected(rejected.to_string()))
            }
            Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
                let (needed, size, verification): (_, _, &'static sig::EcdsaVerificationAlgorithm) =
                    match alg {
                        Algorithm::ES256 => ("P-256", 32, &sig::ECDSA_P256_SHA256_FIXED),
                        Algorithm::ES384 => ("P-384", 48, &sig::ECDSA_P384_SHA384_FIXED),
                        _ => ("P-521", 66, &sig::ECDSA_P521_SHA512_FIXED),
                    };
                if self.crv.as_deref() != Some(needed) {
                    return Err(KeyProblem::WrongCurve {
                        crv: self.crv.clone().unwrap_or_default(),
                        alg,
                        needed,
                    });
                }
                let x = member("x", self.x.as_deref())?;
                let y = member("y", self.y.as_deref())?;
                if x.len() != size {
                    return Err(KeyProblem::BadMember {
                        member: "x",
                        problem: "the wrong length for its curve",
                    });
                }
                if y.len() != size {
                    return Err(KeyProblem::BadMember {
                        member: "y",
                        problem: "the wrong length for its curve",
                    });
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                ParsedPublicKey::new(verification, point)
                    .map_err(|rejected| KeyProblem::Rejected(rejected.to_string()))
            }
        }
    }
}

fn member(name: &'static str, value: Option<&str>) -> Result<Vec<u8>, KeyProblem> {
    let value = value.ok_or(KeyProblem::BadMember {
        member: name,
        problem: "missing",
    })?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| KeyProblem::BadMember {
            member: name,
            problem: "not base64url",
        })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

impl PartialEq for Jwk {
    fn eq(&self, other: &Self) -> bool {
        // The cache is derived from the members, so it takes no part in equality.
        (
            &self.kty,
            &self.key_use,
            &self.kid,
            &self.alg,
            &self.n,
            &self.e,
            &self.crv,
            &self.x,
            &self.y,
            &self.extra,
        ) == (
            &other.kty,
            &other.key_use,
            &other.kid,
            &other.alg,
            &other.n,
            &other.e,
            &other.crv,
            &other.x,
            &other.y,
            &other.extra,
        )
    }
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("crv", &self.crv)
            .finish_non_exhaustive()
    }
}

/// A JSON Web Key Set: `{"keys": [...]}` as served at `<issuer>/keys.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys, in issuer order.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// Keys whose `kid` is `kid`.
    pub fn by_kid<'a>(&'a self, kid: &'a str) -> impl Iterator<Item = &'a Jwk> + 'a {
        self.keys.iter().filter(move |key| key.kid() == Some(kid))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn algorithm_names_round_trip_and_reject_the_rest() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>().unwrap(), alg);
        }
        for other in ["none", "HS256", "PS256", "EdDSA", "rs256", ""] {
            assert!(other.parse::<Algorithm>().is_err(), "{other}");
        }
    }

    #[test]
    fn jwk_serialises_like_a_jwks_member_and_keeps_unknown_members() {
        let key = Jwk::rsa("k1", Algorithm::RS256, &[0, 0xc0, 1], &[1, 0, 1]);
        assert_eq!(
            serde_json::to_value(&key).unwrap(),
            json!({"kty": "RSA", "use": "sig", "kid": "k1", "alg": "RS256", "n": "wAE", "e": "AQAB"})
        );
        let parsed: Jwk = serde_json::from_value(
            json!({"kty": "RSA", "kid": "a", "n": "wAE", "e": "AQAB", "x5t": "t"}),
        )
        .unwrap();
        assert_eq!(parsed.extra().get("x5t"), Some(&json!("t")));
        assert_eq!(parsed.key_use(), None);
    }

    #[test]
    fn key_problems_are_specific() {
        let small = Jwk::rsa("k", Algorithm::RS256, &[0xc0; 128], &[1, 0, 1]);
        assert_eq!(
            small.verifier(Algorithm::RS256).unwrap_err(),
            &KeyProblem::RsaKeySize { bits: 1024 }
        );
        assert!(matches!(
            small.verifier(Algorithm::RS512).unwrap_err(),
            KeyProblem::AlgorithmMismatch { .. }
        ));
        assert!(matches!(
            small.verifier(Algorithm::ES256).unwrap_err(),
            KeyProblem::WrongKeyType { .. }
        ));
        let ec: Jwk =
            serde_json::from_value(json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}))
                .unwrap();
        assert!(matches!(
            ec.verifier(Algorithm::ES256).unwrap_err(),
            KeyProblem::WrongCurve {
                needed: "P-256",
                ..
            }
        ));
        assert!(matches!(
            ec.verifier(Algorithm::ES384).unwrap_err(),
            KeyProblem::BadMember {
                member: "x",
                problem: "the wrong length for its curve"
            }
        ));
        let enc: Jwk =
            serde_json::from_value(json!({"kty": "RSA", "use": "enc", "n": "AA", "e": "AQAB"}))
                .unwrap();
        assert!(matches!(
            enc.verifier(Algorithm::RS256).unwrap_err(),
            KeyProblem::NotForSignatures { .. }
        ));
        let no_n: Jwk = serde_json::from_value(json!({"kty": "RSA", "e": "AQAB"})).unwrap();
        assert_eq!(
            no_n.verifier(Algorithm::RS256).unwrap_err(),
            &KeyProblem::BadMember {
                member: "n",
                problem: "missing"
            }
        );
        let bad_n: Jwk =
            serde_json::from_value(json!({"kty": "RSA", "n": "!!", "e": "AQAB"})).unwrap();
        assert_eq!(
            bad_n.verifier(Algorithm::RS256).unwrap_err(),
            &KeyProblem::BadMember {
                member: "n",
                problem: "not base64url"
            }
        );
        let off_curve = Jwk::ec("e", Algorithm::ES256, &[1; 32], &[2; 32]);
        assert!(matches!(
            off_curve.verifier(Algorithm::ES256).unwrap_err(),
            KeyProblem::Rejected(_)
        ));
    }
}
