//! Signing keys: `SigningKey` (RSA, RS256, the key an issuer mints with), `EcSigningKey` (ES256/384/512, for
//! tests of non-Bitbucket issuers) and `KeyRing` (the current key plus recently rotated ones, and their JWKS).

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    Algorithm, Claims, Jwk, Jwks, PrivateKeyPem, SecretToken, VerifiedToken, VerifyError,
    VerifyOptions,
};

const PEM_TAG: &str = "PRIVATE KEY";

/// Why a key could not be generated, imported or used (ours, or a corrupt state file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The crypto library failed to generate a key.
    #[error("could not generate a signing key (the system random source failed?)")]
    Generate,
    /// The PEM text is not PEM, or not a `PRIVATE KEY` block.
    #[error("the private key is not a PKCS#8 PEM `PRIVATE KEY` block: {0}")]
    Pem(String),
    /// The PEM holds something that is not an acceptable RSA key (2048 to 8192 bits).
    #[error("the private key is not an RSA key of 2048 to 8192 bits: {0}")]
    NotRsa(String),
    /// Exporting the key failed.
    #[error("could not export the signing key")]
    Export,
    /// A persisted `kid` does not match the key it is stored with: the state file was edited or mixed up.
    #[error(
        "the stored key ID `{stored}` does not match its key (whose ID is `{actual}`): the state is corrupt"
    )]
    KidMismatch {
        /// The kid in the file.
        stored: String,
        /// The kid the key derives.
        actual: String,
    },
    /// Signing failed.
    #[error("could not sign the token")]
    Sign,
}

/// An RSA private key that signs RS256 tokens, with its `kid` (the RFC 7638 JWK thumbprint, so the same key always
/// has the same ID). `Debug` shows only the `kid`.
pub struct SigningKey {
    kid: String,
    key_pair: RsaKeyPair,
    jwk: Jwk,
}

impl SigningKey {
    /// A fresh 2048-bit RSA key.
    pub fn generate() -> Result<Self, KeyError> {
        Self::from_key_pair(RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?)
    }

    /// Imports a PKCS#8 PEM key (as written by [`SigningKey::to_pkcs8_pem`] or `openssl genpkey -algorithm RSA`).
    pub fn from_pkcs8_pem(pem: &PrivateKeyPem) -> Result<Self, KeyError> {
        let block = pem::parse(pem.expose()).map_err(|error| KeyError::Pem(error.to_string()))?;
        if block.tag() != PEM_TAG {
            return Err(KeyError::Pem(format!("found a `{}` block", block.tag())));
        }
        Self::from_key_pair(
            RsaKeyPair::from_pkcs8(block.contents())
                .map_err(|error| KeyError::NotRsa(error.to_string()))?,
        )
    }

    /// The key as PKCS#8 PEM, for persisting emulator state (write it 0600).
    pub fn to_pkcs8_pem(&self) -> Result<PrivateKeyPem, KeyError> {
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&self.key_pair)
            .map_err(|_| KeyError::Export)?;
        Ok(PrivateKeyPem::new(pem::encode(&pem::Pem::new(
            PEM_TAG,
            der.as_ref().to_vec(),
        ))))
    }

    fn from_key_pair(key_pair: RsaKeyPair) -> Result<Self, KeyError> {
        let public = key_pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero();
        let e = public.exponent().big_endian_without_leading_zero();
        let kid = rsa_thumbprint(n, e);
        let jwk = Jwk::rsa(kid.clone(), Algorithm::RS256, n, e);
        Ok(Self { kid, key_pair, jwk })
    }

    /// The key ID, in the `kid` header of every token this key signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half as a JWK.
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs `claims` as `{"alg":"RS256","kid":…,"typ":"JWT"}`.
    pub fn sign(&self, claims: &Claims) -> Result<SecretToken, KeyError> {
        let payload = serde_json::to_value(claims).map_err(|_| KeyError::Sign)?;
        self.sign_json(
            &json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"}),
            &payload,
        )
    }

    /// Signs an arbitrary header and payload with RS256, whatever the header says. For tests that need tokens a
    /// real issuer would never produce (float `exp`, no `sub`, a lying `alg`).
    pub fn sign_json(&self, header: &Value, payload: &Value) -> Result<SecretToken, KeyError> {
        let signing_input = signing_input(header, payload);
        let mut signature = vec![0u8; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(
                &sig::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok(SecretToken::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// An ECDSA private key (P-256, P-384 or P-521) signing ES256/384/512. `Debug` shows only the `kid`.
pub struct EcSigningKey {
    kid: String,
    alg: Algorithm,
    key_pair: EcdsaKeyPair,
    jwk: Jwk,
}

impl EcSigningKey {
    /// A fresh key for `alg` (ES256, ES384 or ES512; [`KeyError::Generate`] for any other).
    pub fn generate(kid: impl Into<String>, alg: Algorithm) -> Result<Self, KeyError> {
        let (signing, size) = match alg {
            Algorithm::ES256 => (&sig::ECDSA_P256_SHA256_FIXED_SIGNING, 32),
            Algorithm::ES384 => (&sig::ECDSA_P384_SHA384_FIXED_SIGNING, 48),
            Algorithm::ES512 => (&sig::ECDSA_P521_SHA512_FIXED_SIGNING, 66),
            _ => return Err(KeyError::Generate),
        };
        let key_pair = EcdsaKeyPair::generate(signing).map_err(|_| KeyError::Generate)?;
        // The public key is the uncompressed point 0x04 || x || y.
        let point = key_pair.public_key().as_ref().to_vec();
        if point.len() != 1 + 2 * size {
            return Err(KeyError::Generate);
        }
        let kid = kid.into();
        let jwk = Jwk::ec(kid.clone(), alg, &point[1..=size], &point[1 + size..]);
        Ok(Self {
            kid,
            alg,
            key_pair,
            jwk,
        })
    }

    /// The public half as a JWK.
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs `payload` with header `{"alg": <alg>, "kid": …, "typ": "JWT"}`.
    pub fn sign_json(&self, payload: &Value) -> Result<SecretToken, KeyError> {
        self.sign_with_header(
            &json!({"alg": self.alg.as_str(), "kid": self.kid, "typ": "JWT"}),
            payload,
        )
    }

    /// Signs an arbitrary header and payload with this key's algorithm, whatever the header says (for tests).
    pub fn sign_with_header(
        &self,
        header: &Value,
        payload: &Value,
    ) -> Result<SecretToken, KeyError> {
        let signing_input = signing_input(header, payload);
        let signature = self
            .key_pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| KeyError::Sign)?;
        Ok(SecretToken::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )))
    }
}

impl fmt::Debug for EcSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcSigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn signing_input(header: &Value, payload: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    )
}

/// RFC 7638 thumbprint of an RSA key: base64url(SHA-256(`{"e":…,"kty":"RSA","n":…}`)).
fn rsa_thumbprint(n: &[u8], e: &[u8]) -> String {
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(e),
        URL_SAFE_NO_PAD.encode(n)
    );
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonical.as_bytes(),
    ))
}

/// The keys of one issuer: the current signing key and up to [`KeyRing::MAX_PREVIOUS`] rotated-out keys, which
/// stay in the JWKS so tokens they signed keep verifying until they expire.
#[derive(Debug)]
pub struct KeyRing {
    current: SigningKey,
    previous: Vec<SigningKey>,
    jwks: Jwks,
}

/// A persisted key: its `kid` and PKCS#8 PEM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedKey {
    /// The key ID (checked against the key on import).
    pub kid: String,
    /// The private key.
    pub private_key_pem: PrivateKeyPem,
}

/// A persisted [`KeyRing`]: JSON-serialisable, holds private keys, so store it 0600.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRingExport {
    /// The signing key.
    pub current: ExportedKey,
    /// Rotated-out keys, newest first.
    #[serde(default)]
    pub previous: Vec<ExportedKey>,
}

impl KeyRing {
    /// How many rotated-out keys stay published.
    pub const MAX_PREVIOUS: usize = 2;

    /// A ring with one fresh key.
    pub fn generate() -> Result<Self, KeyError> {
        Ok(Self::from_keys(SigningKey::generate()?, Vec::new()))
    }

    /// A ring from existing keys (`previous` newest first; only the first [`KeyRing::MAX_PREVIOUS`] are kept).
    pub fn from_keys(current: SigningKey, mut previous: Vec<SigningKey>) -> Self {
        previous.truncate(Self::MAX_PREVIOUS);
        let jwks = build_jwks(&current, &previous);
        Self {
            current,
            previous,
            jwks,
        }
    }

    /// The key new tokens are signed with.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// Rotated-out keys still in the JWKS, newest first.
    pub fn previous(&self) -> &[SigningKey] {
        &self.previous
    }

    /// Replaces the signing key with a fresh one; the old key stays in the JWKS, the oldest beyond
    /// [`KeyRing::MAX_PREVIOUS`] is dropped.
    pub fn rotate(&mut self) -> Result<(), KeyError> {
        self.rotate_to(SigningKey::generate()?);
        Ok(())
    }

    /// Like [`KeyRing::rotate`] with a given key.
    pub fn rotate_to(&mut self, key: SigningKey) {
        let old = std::mem::replace(&mut self.current, key);
        self.previous.insert(0, old);
        self.previous.truncate(Self::MAX_PREVIOUS);
        self.jwks = build_jwks(&self.current, &self.previous);
    }

    /// The public keys, current first. The returned value shares this ring's parsed-key cache.
    pub fn jwks(&self) -> Jwks {
        self.jwks.clone()
    }

    /// The public keys without cloning.
    pub fn jwks_ref(&self) -> &Jwks {
        &self.jwks
    }

    /// Signs `claims` with the current key.
    pub fn mint(&self, claims: &Claims) -> Result<SecretToken, KeyError> {
        self.current.sign(claims)
    }

    /// [`crate::verify`] against this ring's keys.
    pub fn verify(
        &self,
        token: &str,
        now_epoch_seconds: i64,
        options: &VerifyOptions,
    ) -> Result<VerifiedToken, VerifyError> {
        crate::verify(token, &self.jwks, now_epoch_seconds, options)
    }

    /// The private keys, for persisting.
    pub fn export(&self) -> Result<KeyRingExport, KeyError> {
        let export = |key: &SigningKey| {
            Ok::<_, KeyError>(ExportedKey {
                kid: key.kid.clone(),
                private_key_pem: key.to_pkcs8_pem()?,
            })
        };
        Ok(KeyRingExport {
            current: export(&self.current)?,
            previous: self.previous.iter().map(export).collect::<Result<_, _>>()?,
        })
    }

    /// Restores a ring written by [`KeyRing::export`], checking every `kid`.
    pub fn import(export: &KeyRingExport) -> Result<Self, KeyError> {
        let import = |key: &ExportedKey| {
            let signing = SigningKey::from_pkcs8_pem(&key.private_key_pem)?;
            if signing.kid != key.kid {
                return Err(KeyError::KidMismatch {
                    stored: key.kid.clone(),
                    actual: signing.kid,
                });
            }
            Ok(signing)
        };
        Ok(Self::from_keys(
            import(&export.current)?,
            export
                .previous
                .iter()
                .map(import)
                .collect::<Result<_, _>>()?,
        ))
    }
}

fn build_jwks(current: &SigningKey, previous: &[SigningKey]) -> Jwks {
    Jwks {
        keys: std::iter::once(current)
            .chain(previous)
            .map(|key| key.jwk.clone())
            .collect(),
    }
}
