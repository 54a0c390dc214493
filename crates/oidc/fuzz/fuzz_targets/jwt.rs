//! Fuzzes the JWT parser and verifier: `decode_unverified` and `verify` must never panic, must agree with each
//! other, and a token the verifier accepts must carry exactly the claims the decoder shows.
//!
//! Input: first byte picks the mode.
//! - 0 (and anything unknown): the rest is a token string, verified against a JWKS with an RSA and an EC key.
//! - 1: the rest is `header \0 payload`, signed with the EC key, so the fuzzer reaches the claim and time
//!   checks behind a valid signature.
#![no_main]

use std::sync::LazyLock;

use keyless_oidc::{
    Algorithm, EcSigningKey, Jwks, KeyRing, VerifyError, VerifyOptions, decode_unverified, verify,
};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_700_000_000;

struct Keys {
    ec: EcSigningKey,
    jwks: Jwks,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let ring = KeyRing::generate().expect("RSA key");
    let ec = EcSigningKey::generate("ec", Algorithm::ES256).expect("EC key");
    let jwks = Jwks {
        keys: vec![ring.current().public_jwk().clone(), ec.public_jwk().clone()],
    };
    Keys { ec, jwks }
});

fn check(token: &str) {
    let decoded = decode_unverified(token);
    let verified = verify(token, &KEYS.jwks, NOW, &VerifyOptions::default());
    match (&decoded, &verified) {
        (Err(decode_error), Err(VerifyError::Malformed(verify_error))) => {
            assert_eq!(decode_error, verify_error)
        }
        (Err(error), other) => panic!("decode failed ({error}) but verify said {other:?}"),
        (Ok(_), Err(VerifyError::Malformed(error))) => {
            panic!("decode succeeded but verify said malformed: {error}")
        }
        (Ok(decoded), Ok(verified)) => {
            assert_eq!(&decoded.claims, &verified.claims);
            assert_eq!(decoded.issuer(), Some(verified.issuer.as_str()));
            assert_eq!(decoded.subject(), Some(verified.subject.as_str()));
            assert!(verified.expires_at > NOW);
        }
        (Ok(_), Err(error)) => {
            // Every error renders without panicking.
            let _ = error.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        1 => {
            let Some(split) = rest.iter().position(|&b| b == 0) else {
                return;
            };
            let (Ok(header), Ok(payload)) = (
                serde_json::from_slice(&rest[..split]),
                serde_json::from_slice(&rest[split + 1..]),
            ) else {
                return;
            };
            // The fuzzer's header, with `alg` and `kid` defaulted to the EC key's so most inputs get past key
            // selection; a fuzzer-chosen `alg`/`kid` still exercises the mismatch paths.
            let mut header = header;
            if let serde_json::Value::Object(fields) = &mut header {
                fields.entry("alg").or_insert_with(|| "ES256".into());
                fields.entry("kid").or_insert_with(|| "ec".into());
            }
            let Ok(token) = KEYS.ec.sign_with_header(&header, &payload) else {
                return;
            };
            check(token.expose());
        }
        _ => check(&String::from_utf8_lossy(rest)),
    }
});
