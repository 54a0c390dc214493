//! Adversarial verification suite: every way a token can be forged, broken or stale must fail with its own
//! `VerifyError`, and every legitimate shape (RS256 from a key ring, ES256/384/512, aud arrays) must pass.
#![allow(clippy::unwrap_used)]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyless_oidc::{
    Algorithm, Audience, BITBUCKET_API_BASE, DecodeError, EcSigningKey, Jwks, KeyProblem, KeyRing,
    MintRequest, Part, TimeClaim, VerifyError, VerifyOptions, encode_compact, verify,
};
use rand::SeedableRng;
use serde_json::{Value, json};

const NOW: i64 = 1_700_000_000;

/// RSA key generation is the slow part; one ring per test binary.
static RING: LazyLock<KeyRing> = LazyLock::new(|| KeyRing::generate().unwrap());
static OTHER_RING: LazyLock<KeyRing> = LazyLock::new(|| KeyRing::generate().unwrap());

fn claims() -> Value {
    let request = MintRequest::new(
        "acme",
        "{44444444-4444-4444-8444-444444444444}".parse().unwrap(),
        "{11111111-1111-4111-8111-111111111111}".parse().unwrap(),
    );
    let claims = request
        .to_claims(
            BITBUCKET_API_BASE,
            NOW,
            &mut rand::rngs::StdRng::seed_from_u64(3),
        )
        .unwrap();
    serde_json::to_value(claims).unwrap()
}

fn header() -> Value {
    json!({"alg": "RS256", "kid": RING.current().kid(), "typ": "JWT"})
}

/// Signs `payload` (with `header`) with the ring's current key.
fn signed(header: &Value, payload: &Value) -> String {
    RING.current()
        .sign_json(header, payload)
        .unwrap()
        .into_inner()
}

fn with(mut payload: Value, claim: &str, value: Value) -> Value {
    payload[claim] = value;
    payload
}

fn without(mut payload: Value, claim: &str) -> Value {
    payload.as_object_mut().unwrap().remove(claim);
    payload
}

fn check(token: &str) -> Result<keyless_oidc::VerifiedToken, VerifyError> {
    verify(token, RING.jwks_ref(), NOW + 5, &VerifyOptions::default())
}

#[test]
fn a_minted_token_verifies_with_every_claim_exposed() {
    let payload = claims();
    let token = signed(&header(), &payload);
    let verified = check(&token).unwrap();
    assert_eq!(verified.algorithm, Algorithm::RS256);
    assert_eq!(verified.kid, RING.current().kid());
    assert_eq!(
        verified.issuer,
        "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"
    );
    assert_eq!(
        verified.audience,
        Audience::One("ari:cloud:bitbucket::workspace/44444444-4444-4444-8444-444444444444".into())
    );
    assert_eq!(verified.subject, payload["sub"].as_str().unwrap());
    assert_eq!(
        (verified.issued_at, verified.expires_at, verified.not_before),
        (Some(NOW), NOW + 3600, None)
    );
    assert_eq!(Value::Object(verified.claims), payload);
}

#[test]
fn key_ring_mint_produces_rs256_with_kid_and_typ() {
    let claims: keyless_oidc::Claims = serde_json::from_value(claims()).unwrap();
    let token = RING.mint(&claims).unwrap();
    let decoded = keyless_oidc::decode_unverified(token.expose()).unwrap();
    assert_eq!(decoded.header.alg, "RS256");
    assert_eq!(decoded.header.kid.as_deref(), Some(RING.current().kid()));
    assert_eq!(decoded.header.typ.as_deref(), Some("JWT"));
    assert_eq!(
        RING.verify(token.expose(), NOW, &VerifyOptions::default())
            .unwrap()
            .subject,
        claims.sub
    );
    assert_eq!(format!("{token:?}"), "SecretToken(<redacted>)");
}

#[test]
fn alg_none_is_rejected_in_any_case() {
    for alg in ["none", "None", "NONE"] {
        let token = encode_compact(
            &json!({"alg": alg, "kid": RING.current().kid()}),
            &claims(),
            b"",
        );
        assert_eq!(
            check(&token).unwrap_err(),
            VerifyError::AlgorithmNone,
            "{alg}"
        );
    }
}

#[test]
fn hs256_signed_with_the_public_key_is_rejected() {
    // The classic key-confusion forgery: HMAC keyed with the issuer's public key, which anyone can download.
    let header = json!({"alg": "HS256", "kid": RING.current().kid(), "typ": "JWT"});
    let public = serde_json::to_vec(RING.current().public_jwk()).unwrap();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims().to_string())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &public);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    assert_eq!(
        check(&token).unwrap_err(),
        VerifyError::SymmetricAlgorithm {
            alg: "HS256".into()
        }
    );
    for alg in ["HS384", "HS512", "hs256"] {
        let token = encode_compact(&json!({"alg": alg}), &claims(), b"x");
        assert_eq!(
            check(&token).unwrap_err(),
            VerifyError::SymmetricAlgorithm { alg: alg.into() }
        );
    }
}

#[test]
fn other_algorithms_are_unsupported() {
    for alg in ["PS256", "EdDSA", "RS1", ""] {
        let token = encode_compact(
            &json!({"alg": alg, "kid": RING.current().kid()}),
            &claims(),
            b"x",
        );
        assert_eq!(
            check(&token).unwrap_err(),
            VerifyError::UnsupportedAlgorithm { alg: alg.into() },
            "{alg}"
        );
    }
}

#[test]
fn unknown_kid_names_the_known_ones() {
    let token = signed(&json!({"alg": "RS256", "kid": "nope"}), &claims());
    let error = check(&token).unwrap_err();
    assert_eq!(
        error,
        VerifyError::UnknownKeyId {
            kid: "nope".into(),
            known: RING.current().kid().into()
        }
    );
    // A token from another issuer instance (its own kid) is just as unknown.
    let foreign = OTHER_RING
        .mint(&serde_json::from_value(claims()).unwrap())
        .unwrap();
    assert!(matches!(
        check(foreign.expose()).unwrap_err(),
        VerifyError::UnknownKeyId { .. }
    ));
}

#[test]
fn wrong_key_under_the_right_kid_is_a_bad_signature() {
    let token = OTHER_RING
        .current()
        .sign_json(&header(), &claims())
        .unwrap();
    assert_eq!(
        check(token.expose()).unwrap_err(),
        VerifyError::BadSignature {
            kid: RING.current().kid().into(),
            alg: Algorithm::RS256
        }
    );
}

#[test]
fn tampering_breaks_the_signature() {
    let token = signed(&header(), &claims());
    let parts: Vec<&str> = token.split('.').collect();
    // Swap in a payload naming another repository, keep the original signature.
    let forged_payload = with(
        claims(),
        "sub",
        json!("{99999999-9999-4999-8999-999999999999}:{33333333-3333-4333-8333-333333333333}"),
    );
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged_payload.to_string()),
        parts[2]
    );
    assert!(matches!(
        check(&forged).unwrap_err(),
        VerifyError::BadSignature { .. }
    ));
    // Flip one signature byte.
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 1;
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(&signature)
    );
    assert!(matches!(
        check(&flipped).unwrap_err(),
        VerifyError::BadSignature { .. }
    ));
    // A lying header: claims RS384 while the key is published for RS256.
    let relabelled = signed(
        &json!({"alg": "RS384", "kid": RING.current().kid()}),
        &claims(),
    );
    assert!(matches!(
        check(&relabelled).unwrap_err(),
        VerifyError::UnusableKey {
            problem: KeyProblem::AlgorithmMismatch { .. },
            ..
        }
    ));
}

#[test]
fn truncated_tokens_fail_as_malformed_or_unsigned() {
    let token = signed(&header(), &claims());
    // Drop the signature part entirely.
    let two_parts = &token[..token.rfind('.').unwrap()];
    assert_eq!(
        check(two_parts).unwrap_err(),
        VerifyError::Malformed(DecodeError::WrongPartCount { found: 2 })
    );
    // A signature three bytes short (re-encoded, so valid base64).
    let signature = URL_SAFE_NO_PAD
        .decode(&token[token.rfind('.').unwrap() + 1..])
        .unwrap();
    let short = format!(
        "{two_parts}.{}",
        URL_SAFE_NO_PAD.encode(&signature[..signature.len() - 3])
    );
    assert!(matches!(
        check(&short).unwrap_err(),
        VerifyError::BadSignature { .. }
    ));
    // Characters cut off the text: depending on the key, the last character now carries stray bits (a base64
    // error) or the signature is merely short.
    for cut in 1..=4 {
        let error = check(&token[..token.len() - cut]).unwrap_err();
        assert!(
            matches!(
                error,
                VerifyError::Malformed(DecodeError::Base64 {
                    part: Part::Signature,
                    ..
                }) | VerifyError::BadSignature { .. }
            ),
            "{cut}: {error:?}"
        );
    }
    // An empty signature.
    let empty = format!("{two_parts}.");
    assert!(matches!(
        check(&empty).unwrap_err(),
        VerifyError::BadSignature { .. }
    ));
    assert_eq!(
        check("").unwrap_err(),
        VerifyError::Malformed(DecodeError::Empty)
    );
}

#[test]
fn bad_base64_and_non_json_parts_are_malformed() {
    let token = signed(&header(), &claims());
    let parts: Vec<&str> = token.split('.').collect();
    let bad = format!("{}.{}*.{}", parts[0], parts[1], parts[2]);
    assert!(matches!(
        check(&bad).unwrap_err(),
        VerifyError::Malformed(DecodeError::Base64 {
            part: Part::Payload,
            ..
        })
    ));
    let newline = format!("{token}\n");
    assert!(matches!(
        check(&newline).unwrap_err(),
        VerifyError::Malformed(DecodeError::Base64 {
            part: Part::Signature,
            ..
        })
    ));
    // A correctly signed token whose payload is not JSON.
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header().to_string()),
        URL_SAFE_NO_PAD.encode("not json")
    );
    let not_json = format!("{input}.{}", parts[2]);
    assert!(matches!(
        check(&not_json).unwrap_err(),
        VerifyError::Malformed(DecodeError::NotJson {
            part: Part::Payload,
            ..
        })
    ));
    let header_not_json = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode("{alg"),
        parts[1],
        parts[2]
    );
    assert!(matches!(
        check(&header_not_json).unwrap_err(),
        VerifyError::Malformed(DecodeError::NotJson {
            part: Part::Header,
            ..
        })
    ));
}

#[test]
fn expiry_is_exact_with_zero_leeway_by_default() {
    let token = signed(&header(), &claims());
    let options = VerifyOptions::default();
    verify(&token, RING.jwks_ref(), NOW + 3599, &options).unwrap();
    assert_eq!(
        verify(&token, RING.jwks_ref(), NOW + 3600, &options).unwrap_err(),
        VerifyError::Expired {
            now: NOW + 3600,
            exp: NOW + 3600
        }
    );
    let error = verify(&token, RING.jwks_ref(), NOW + 7200, &options).unwrap_err();
    assert_eq!(
        error,
        VerifyError::Expired {
            now: NOW + 7200,
            exp: NOW + 3600
        }
    );
    assert!(error.to_string().contains(&format!(
        "current date/time {} must be before the expiration date/time {}",
        NOW + 7200,
        NOW + 3600
    )));
    let lenient = VerifyOptions {
        exp_leeway_seconds: 30,
        ..VerifyOptions::default()
    };
    verify(&token, RING.jwks_ref(), NOW + 3629, &lenient).unwrap();
    assert!(matches!(
        verify(&token, RING.jwks_ref(), NOW + 3630, &lenient),
        Err(VerifyError::Expired { .. })
    ));
}

#[test]
fn nbf_and_iat_in_the_future_are_rejected_beyond_the_skew() {
    let nbf_later = signed(&header(), &with(claims(), "nbf", json!(NOW + 600)));
    assert_eq!(
        check(&nbf_later).unwrap_err(),
        VerifyError::NotYetValid {
            now: NOW + 5,
            nbf: NOW + 600
        }
    );
    let nbf_skewed = signed(&header(), &with(claims(), "nbf", json!(NOW + 60)));
    assert_eq!(check(&nbf_skewed).unwrap().not_before, Some(NOW + 60));
    let iat_later = signed(&header(), &with(claims(), "iat", json!(NOW + 600)));
    assert_eq!(
        check(&iat_later).unwrap_err(),
        VerifyError::IssuedInFuture {
            now: NOW + 5,
            iat: NOW + 600
        }
    );
    let strict = VerifyOptions {
        iat_leeway_seconds: 0,
        nbf_leeway_seconds: 0,
        ..VerifyOptions::default()
    };
    let iat_soon = signed(&header(), &with(claims(), "iat", json!(NOW + 6)));
    assert!(matches!(
        verify(&iat_soon, RING.jwks_ref(), NOW + 5, &strict),
        Err(VerifyError::IssuedInFuture { .. })
    ));
}

#[test]
fn age_and_iat_requirements_are_options() {
    let token = signed(&header(), &claims());
    let young = VerifyOptions {
        max_age_seconds: Some(600),
        ..VerifyOptions::default()
    };
    verify(&token, RING.jwks_ref(), NOW + 600, &young).unwrap();
    assert_eq!(
        verify(&token, RING.jwks_ref(), NOW + 601, &young).unwrap_err(),
        VerifyError::TooOld {
            age: 601,
            max_age: 600
        }
    );
    let no_iat = signed(&header(), &without(claims(), "iat"));
    assert_eq!(check(&no_iat).unwrap().issued_at, None);
    let require = VerifyOptions {
        require_iat: true,
        ..VerifyOptions::default()
    };
    assert_eq!(
        verify(&no_iat, RING.jwks_ref(), NOW, &require).unwrap_err(),
        VerifyError::MissingIssuedAt
    );
}

#[test]
fn required_claims_each_have_their_own_error() {
    for (claim, expected) in [
        ("aud", VerifyError::MissingAudience),
        ("sub", VerifyError::MissingSubject),
        ("iss", VerifyError::MissingIssuer),
        ("exp", VerifyError::MissingExpiry),
    ] {
        let token = signed(&header(), &without(claims(), claim));
        assert_eq!(check(&token).unwrap_err(), expected, "{claim}");
    }
    let empty_sub = signed(&header(), &with(claims(), "sub", json!("")));
    assert_eq!(check(&empty_sub).unwrap_err(), VerifyError::MissingSubject);
}

#[test]
fn audience_arrays_are_accepted_and_malformed_audiences_rejected() {
    let array = json!([
        "ari:cloud:bitbucket::workspace/44444444-4444-4444-8444-444444444444",
        "https://vault.example"
    ]);
    let token = signed(&header(), &with(claims(), "aud", array));
    let verified = check(&token).unwrap();
    assert!(verified.audience.contains("https://vault.example"));
    assert_eq!(verified.audience.len(), 2);
    let empty = signed(&header(), &with(claims(), "aud", json!([])));
    assert_eq!(check(&empty).unwrap_err(), VerifyError::EmptyAudience);
    for bad in [json!(["a", 1]), json!(7), json!({"a": 1}), json!(null)] {
        let token = signed(&header(), &with(claims(), "aud", bad.clone()));
        assert!(
            matches!(
                check(&token).unwrap_err(),
                VerifyError::ClaimType { claim: "aud", .. }
            ),
            "{bad}"
        );
    }
    let numeric_sub = signed(&header(), &with(claims(), "sub", json!(42)));
    assert_eq!(
        check(&numeric_sub).unwrap_err(),
        VerifyError::ClaimType {
            claim: "sub",
            expected: "a string",
            found: "a number"
        }
    );
    let numeric_iss = signed(&header(), &with(claims(), "iss", json!(1)));
    assert!(matches!(
        check(&numeric_iss).unwrap_err(),
        VerifyError::ClaimType { claim: "iss", .. }
    ));
}

#[test]
fn timestamps_must_be_integers() {
    let float_exp = signed(&header(), &with(claims(), "exp", json!(1_700_003_600.5)));
    assert_eq!(
        check(&float_exp).unwrap_err(),
        VerifyError::FloatTimestamp {
            claim: TimeClaim::Exp,
            value: "1700003600.5".into()
        }
    );
    // Even a whole number written as a float: AWS requires integers.
    let float_iat = signed(&header(), &with(claims(), "iat", json!(1_700_000_000.0)));
    assert!(matches!(
        check(&float_iat).unwrap_err(),
        VerifyError::FloatTimestamp {
            claim: TimeClaim::Iat,
            ..
        }
    ));
    let string_exp = signed(&header(), &with(claims(), "exp", json!("1700003600")));
    assert_eq!(
        check(&string_exp).unwrap_err(),
        VerifyError::ClaimType {
            claim: "exp",
            expected: "an integer number of seconds",
            found: "a string"
        }
    );
    let float_nbf = signed(&header(), &with(claims(), "nbf", json!(1.5)));
    assert!(matches!(
        check(&float_nbf).unwrap_err(),
        VerifyError::FloatTimestamp {
            claim: TimeClaim::Nbf,
            ..
        }
    ));
}

#[test]
fn ecdsa_tokens_verify_against_ec_keys() {
    for alg in [Algorithm::ES256, Algorithm::ES384, Algorithm::ES512] {
        let key = EcSigningKey::generate(format!("ec-{alg}"), alg).unwrap();
        let jwks = Jwks {
            keys: vec![
                RING.current().public_jwk().clone(),
                key.public_jwk().clone(),
            ],
        };
        let token = key.sign_json(&claims()).unwrap();
        let verified = verify(token.expose(), &jwks, NOW, &VerifyOptions::default()).unwrap();
        assert_eq!(verified.algorithm, alg);
        assert_eq!(verified.kid, format!("ec-{alg}"));
        // The same token under an RSA key's kid: the key type cannot verify it.
        let header = json!({"alg": alg.as_str(), "kid": RING.current().kid()});
        let parts: Vec<&str> = token.expose().split('.').collect();
        let relabelled = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            parts[1],
            parts[2]
        );
        assert!(matches!(
            verify(&relabelled, &jwks, NOW, &VerifyOptions::default()).unwrap_err(),
            VerifyError::UnusableKey {
                problem: KeyProblem::WrongKeyType { .. },
                ..
            }
        ));
    }
}

#[test]
fn restricted_algorithms_are_refused() {
    let token = signed(&header(), &claims());
    let only_ec = VerifyOptions {
        algorithms: vec![Algorithm::ES256],
        ..VerifyOptions::default()
    };
    assert_eq!(
        verify(&token, RING.jwks_ref(), NOW, &only_ec).unwrap_err(),
        VerifyError::AlgorithmNotAllowed {
            alg: Algorithm::RS256
        }
    );
}

#[test]
fn missing_kid_picks_the_only_fitting_key_or_fails() {
    let token = signed(&json!({"alg": "RS256"}), &claims());
    check(&token).unwrap();
    let two = Jwks {
        keys: vec![
            RING.current().public_jwk().clone(),
            OTHER_RING.current().public_jwk().clone(),
        ],
    };
    assert_eq!(
        verify(&token, &two, NOW, &VerifyOptions::default()).unwrap_err(),
        VerifyError::MissingKeyId {
            alg: Algorithm::RS256,
            candidates: 2
        }
    );
    assert_eq!(
        verify(&token, &Jwks::default(), NOW, &VerifyOptions::default()).unwrap_err(),
        VerifyError::MissingKeyId {
            alg: Algorithm::RS256,
            candidates: 0
        }
    );
}

#[test]
fn rotation_keeps_old_tokens_valid_until_their_key_is_dropped() {
    let mut ring = KeyRing::import(&OTHER_RING.export().unwrap()).unwrap();
    let claims: keyless_oidc::Claims = serde_json::from_value(claims()).unwrap();
    let old = ring.mint(&claims).unwrap();
    let old_kid = ring.current().kid().to_owned();
    ring.rotate().unwrap();
    assert_ne!(ring.current().kid(), old_kid);
    assert_eq!(ring.jwks().keys.len(), 2);
    ring.verify(old.expose(), NOW, &VerifyOptions::default())
        .unwrap();
    let new = ring.mint(&claims).unwrap();
    assert_eq!(
        ring.verify(new.expose(), NOW, &VerifyOptions::default())
            .unwrap()
            .kid,
        ring.current().kid()
    );
    ring.rotate().unwrap();
    assert_eq!(ring.jwks().keys.len(), 1 + KeyRing::MAX_PREVIOUS);
    ring.verify(old.expose(), NOW, &VerifyOptions::default())
        .unwrap();
    ring.rotate().unwrap();
    assert_eq!(ring.jwks().keys.len(), 1 + KeyRing::MAX_PREVIOUS);
    assert!(matches!(
        ring.verify(old.expose(), NOW, &VerifyOptions::default())
            .unwrap_err(),
        VerifyError::UnknownKeyId { .. }
    ));
}

#[test]
fn export_import_round_trips_and_detects_corruption() {
    let export = RING.export().unwrap();
    let json = serde_json::to_string(&export).unwrap();
    assert!(json.contains("BEGIN PRIVATE KEY"));
    let restored = KeyRing::import(&serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(restored.current().kid(), RING.current().kid());
    assert_eq!(restored.jwks(), RING.jwks());
    let token = signed(&header(), &claims());
    restored
        .verify(&token, NOW, &VerifyOptions::default())
        .unwrap();
    // Debug output never carries key material.
    let debug = format!("{export:?} {restored:?} {:?}", RING.current());
    assert!(
        !debug.contains("PRIVATE KEY") && !debug.contains("MII"),
        "{debug}"
    );
    let mut wrong = export.clone();
    wrong.current.kid = "edited".into();
    assert!(matches!(
        KeyRing::import(&wrong).unwrap_err(),
        keyless_oidc::KeyError::KidMismatch { .. }
    ));
    let mut garbage = export;
    garbage.current.private_key_pem = keyless_oidc::PrivateKeyPem::new("not pem");
    assert!(matches!(
        KeyRing::import(&garbage).unwrap_err(),
        keyless_oidc::KeyError::Pem(_)
    ));
}

#[test]
fn kid_is_the_rfc7638_thumbprint() {
    let jwk = serde_json::to_value(RING.current().public_jwk()).unwrap();
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        jwk["e"].as_str().unwrap(),
        jwk["n"].as_str().unwrap()
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    assert_eq!(
        RING.current().kid(),
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    );
    assert_eq!(jwk["kid"], json!(RING.current().kid()));
    assert_eq!(
        (
            jwk["kty"].as_str(),
            jwk["alg"].as_str(),
            jwk["use"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    assert_eq!(jwk["e"], json!("AQAB"));
    // 2048-bit modulus: 256 bytes, 342 base64url characters.
    assert_eq!(jwk["n"].as_str().unwrap().len(), 342);
}

#[test]
fn jwks_served_as_json_verifies_after_a_round_trip() {
    // What a client does: fetch keys.json, parse it, verify. The parsed-key cache starts empty and fills.
    let jwks: Jwks = serde_json::from_str(&serde_json::to_string(&RING.jwks()).unwrap()).unwrap();
    let token = signed(&header(), &claims());
    for _ in 0..3 {
        verify(&token, &jwks, NOW, &VerifyOptions::default()).unwrap();
    }
}
