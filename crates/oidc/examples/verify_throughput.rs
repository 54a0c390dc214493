//! Verification throughput: `cargo run --release -p keyless-oidc --example verify_throughput [SECONDS]`.
//!
//! Prints RS256 and ES256 verifications per second on one thread with the parsed-key cache warm (what the emulator
//! does: it keeps its `Jwks`), against a cold `Jwks` parsed from JSON for every token (what a verifier without the
//! cache would pay), and the ratio. A figure printer, not a test.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use keyless_oidc::{
    Algorithm, BITBUCKET_API_BASE, EcSigningKey, Jwks, KeyRing, MintRequest, VerifyOptions, verify,
};

fn rate(seconds: f64, mut once: impl FnMut()) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut count = 0u64;
    while Instant::now() < deadline {
        for _ in 0..100 {
            once();
        }
        count += 100;
    }
    count as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(2.0);
    let ring = KeyRing::generate().unwrap();
    let ec = EcSigningKey::generate("ec", Algorithm::ES256).unwrap();
    let now = 1_700_000_000;
    let request = MintRequest::new(
        "acme",
        "{44444444-4444-4444-8444-444444444444}".parse().unwrap(),
        "{11111111-1111-4111-8111-111111111111}".parse().unwrap(),
    );
    let claims = request
        .to_claims(BITBUCKET_API_BASE, now, &mut rand::rng())
        .unwrap();
    let rs256 = ring.mint(&claims).unwrap();
    let es256 = ec
        .sign_json(&serde_json::to_value(&claims).unwrap())
        .unwrap();
    let jwks = Jwks {
        keys: vec![ring.current().public_jwk().clone(), ec.public_jwk().clone()],
    };
    let jwks_json = serde_json::to_string(&jwks).unwrap();
    let options = VerifyOptions::default();

    for (name, token) in [("RS256", rs256.expose()), ("ES256", es256.expose())] {
        let warm = rate(seconds, || {
            verify(token, &jwks, now, &options).unwrap();
        });
        let cold = rate(seconds, || {
            let fresh: Jwks = serde_json::from_str(&jwks_json).unwrap();
            verify(token, &fresh, now, &options).unwrap();
        });
        println!(
            "{name}: {warm:>9.0} verifies/s with cached keys, {cold:>9.0}/s re-parsing the JWKS per token ({:.1}x)",
            warm / cold
        );
    }
}
