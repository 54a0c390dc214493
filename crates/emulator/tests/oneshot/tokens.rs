//! The adversarial token suite: every way a web identity token can be wrong, each asserting AWS's error code
//! and message (aws.md §1.4, §2; the choices for UNCONFIRMED texts are in docs/emulator.md).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyless_emulator::{Config, Emulator};
use serde_json::{Value, json};

use crate::common::*;

const DENIED: &str = "Not authorized to perform sts:AssumeRoleWithWebIdentity";
const NO_KEY: &str = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";
const BAD_ALG: &str = "Unsupported token signing algorithm. Tokens must be signed using either RSA keys (RS256, RS384, or RS512) or ECDSA keys (ES256, ES384, or ES512).";

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

struct Suite {
    h: Harness,
    token: String,
    header: Value,
    claims: serde_json::Map<String, Value>,
}

impl Suite {
    async fn new() -> Self {
        let h = Harness::new();
        h.setup_role("deploy", &trust_policy(&[&format!("{REPO}:*")]))
            .await;
        let token = h.mint(REPO);
        let parts: Vec<&str> = token.split('.').collect();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let claims = keyless_oidc::decode_unverified(&token).unwrap().claims;
        Self {
            h,
            token,
            header,
            claims,
        }
    }

    /// The valid claims, edited, signed with the workspace's real key.
    fn resigned(&self, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
        let mut claims = self.claims.clone();
        edit(&mut claims);
        self.h
            .emulator
            .sign_raw(WORKSPACE, None, &Value::Object(claims))
            .unwrap()
            .into_inner()
    }

    fn with_header(&self, header: Value) -> String {
        self.h
            .emulator
            .sign_raw(
                WORKSPACE,
                Some(&header),
                &Value::Object(self.claims.clone()),
            )
            .unwrap()
            .into_inner()
    }

    async fn expect(&self, token: &str, status: u16, code: &str, message: &str) {
        self.h
            .assume("deploy", token)
            .await
            .assert_error(status, code, message);
    }

    async fn invalid(&self, token: &str, message: &str) {
        self.expect(token, 400, "InvalidIdentityToken", message)
            .await;
    }
}

fn b64(value: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(value)
}

#[tokio::test]
async fn the_valid_token_is_accepted() {
    let s = Suite::new().await;
    s.h.assume("deploy", &s.token).await.assert_ok();
}

#[tokio::test]
async fn algorithm_attacks() {
    let s = Suite::new().await;
    let parts: Vec<&str> = s.token.split('.').collect();
    // 1. alg: none, empty signature.
    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    s.invalid(&none, BAD_ALG).await;
    // 2. HS256 "signed" with the public key as the HMAC secret (the classic key-confusion attack).
    let jwks =
        s.h.raw(
            axum::http::Request::get(
                "/2.0/workspaces/acme/pipelines-config/identity/oidc/keys.json",
            )
            .body(axum::body::Body::empty())
            .unwrap(),
        )
        .await
        .body;
    let kid = s.header["kid"].as_str().unwrap();
    let hs_header = b64(json!({"alg": "HS256", "kid": kid, "typ": "JWT"})
        .to_string()
        .as_bytes());
    let input = format!("{hs_header}.{}", parts[1]);
    let mac = hex::decode(aws_sigv4::sign::v4::calculate_signature(
        jwks.as_bytes(),
        input.as_bytes(),
    ))
    .unwrap();
    s.invalid(&format!("{input}.{}", b64(&mac)), BAD_ALG).await;
    // 3. An algorithm nobody supports.
    s.invalid(&s.with_header(json!({"alg": "PS999", "kid": kid})), BAD_ALG)
        .await;
    // 4. The header claims RS384 but the key is published for RS256 only: no key can verify it.
    s.invalid(&s.with_header(json!({"alg": "RS384", "kid": kid})), NO_KEY)
        .await;
}

#[tokio::test]
async fn key_attacks() {
    let s = Suite::new().await;
    let kid = s.header["kid"].as_str().unwrap().to_owned();
    // 5. Unknown kid.
    s.invalid(
        &s.with_header(json!({"alg": "RS256", "kid": "not-a-key"})),
        NO_KEY,
    )
    .await;
    // 6. Our kid, someone else's key.
    let other = Emulator::new(&Config::local()).unwrap();
    let forged = other
        .sign_raw(
            WORKSPACE,
            Some(&json!({"alg": "RS256", "kid": kid})),
            &Value::Object(s.claims.clone()),
        )
        .unwrap();
    s.invalid(forged.expose(), "Invalid token signature").await;
    // 7. A token minted by another emulator instance for the same workspace.
    let request =
        keyless_oidc::MintRequest::new(WORKSPACE, WS_UUID.parse().unwrap(), REPO.parse().unwrap());
    let foreign = other.mint(&request).unwrap().token;
    s.invalid(foreign.expose(), NO_KEY).await;
    // 8. No kid at all: the workspace has one key, so it is still chosen and verifies.
    s.h.assume(
        "deploy",
        &s.with_header(json!({"alg": "RS256", "typ": "JWT"})),
    )
    .await
    .assert_ok();
    // 9. A valid signature over different claims (payload swapped).
    let parts: Vec<&str> = s.token.split('.').collect();
    let mut claims = s.claims.clone();
    claims.insert(
        "sub".into(),
        json!(format!("{REPO}:{{00000000-0000-4000-8000-000000000000}}")),
    );
    let swapped = format!(
        "{}.{}.{}",
        parts[0],
        b64(Value::Object(claims).to_string().as_bytes()),
        parts[2]
    );
    s.invalid(&swapped, "Invalid token signature").await;
}

#[tokio::test]
async fn malformed_tokens() {
    let s = Suite::new().await;
    let parts: Vec<&str> = s.token.split('.').collect();
    // 10. Truncated: cut in the middle of the base64 (malformed), and a signature a few bytes short.
    let r = s.h.assume("deploy", &s.token[..s.token.len() - 9]).await;
    assert_eq!(r.code(), "InvalidIdentityToken");
    assert!(r.message().starts_with("The web identity token is not a valid JWT: this is not a JWT: its signature is not base64url"), "{}", r.message());
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature.truncate(signature.len() - 10);
    s.invalid(
        &format!("{}.{}.{}", parts[0], parts[1], b64(&signature)),
        "Invalid token signature",
    )
    .await;
    // 11. Truncated to two parts.
    s.invalid(&format!("{}.{}", parts[0], parts[1]), "The web identity token is not a valid JWT: this is not a JWT: expected 3 dot-separated parts, found 2").await;
    // 12. Bad base64 in the payload.
    let r =
        s.h.assume(
            "deploy",
            &format!("{}.{}!!.{}", parts[0], parts[1], parts[2]),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "InvalidIdentityToken")
    );
    assert!(r.message().starts_with("The web identity token is not a valid JWT: this is not a JWT: its payload is not base64url"), "{}", r.message());
    // 13. A payload that is not JSON.
    let r =
        s.h.assume(
            "deploy",
            &format!("{}.{}.{}", parts[0], b64(b"not json"), parts[2]),
        )
        .await;
    assert!(
        r.message().starts_with(
            "The web identity token is not a valid JWT: this is not a JWT: its payload is not JSON"
        ),
        "{}",
        r.message()
    );
    // 14. A payload that is JSON but not an object.
    let r =
        s.h.assume(
            "deploy",
            &format!("{}.{}.{}", parts[0], b64(b"[1,2]"), parts[2]),
        )
        .await;
    assert_eq!(r.code(), "InvalidIdentityToken");
    assert!(
        r.message().starts_with(
            "The web identity token is not a valid JWT: this is not a JWT: its payload is JSON"
        ),
        "{}",
        r.message()
    );
    assert!(r.message().ends_with("not an object"), "{}", r.message());
    // 15. Not a JWT at all.
    s.invalid("this-is-no-token", "The web identity token is not a valid JWT: this is not a JWT: expected 3 dot-separated parts, found 1").await;
    // 16. Over 20,000 characters: a parameter constraint, and the token is never echoed.
    let huge = format!("{}.{}.{}", parts[0], "A".repeat(20_001), parts[2]);
    s.expect(&huge, 400, "ValidationError", "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000").await;
}

/// What token-file recipes put around a token (seeds 000, 001, 004: `echo $T > file`; 003: `echo "$T" >> file`):
/// trailing SP/HT/CR/LF is dropped as AWS does; leading or inner whitespace, and a file appended twice, are not.
#[tokio::test]
async fn token_whitespace() {
    let s = Suite::new().await;
    for suffix in ["\n", "\r\n", " ", "\t", " \t\r\n\n"] {
        let r = s.h.assume("deploy", &format!("{}{suffix}", s.token)).await;
        assert_eq!(r.status.as_u16(), 200, "suffix {suffix:?}: {}", r.message());
    }
    for (token, message) in [
        (
            format!("\n{}", s.token),
            "The web identity token is not a valid JWT: the token starts with whitespace (byte 0x0a); a JWT is three base64url parts and nothing else",
        ),
        (
            format!(" {}", s.token),
            "The web identity token is not a valid JWT: the token starts with whitespace (byte 0x20); a JWT is three base64url parts and nothing else",
        ),
        (
            format!("{}\n{}\n", s.token, s.token),
            &format!(
                "The web identity token is not a valid JWT: the token holds whitespace (byte 0x0a) at offset {}: a JWT is one line; was the token file written more than once?",
                s.token.len()
            ),
        ),
        (
            format!("{} {}", &s.token[..20], &s.token[20..]),
            "The web identity token is not a valid JWT: the token holds whitespace (byte 0x20) at offset 20: a JWT is one line; was the token file written more than once?",
        ),
    ] {
        s.invalid(&token, message).await;
    }
}

/// RFC 7515 §4.1.11: a `crit` header names extensions the recipient must understand; the emulator understands
/// none, so any `crit` (and a malformed one) is refused.
#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let s = Suite::new().await;
    let kid = s.header["kid"].clone();
    for (crit, names) in [
        (json!(["exp"]), "`exp`"),
        (json!(["b64", "x-custom"]), "`b64`, `x-custom`"),
        (json!([]), "an empty list"),
        (json!("b64"), "a malformed value (a string)"),
    ] {
        let token = s.with_header(json!({"alg": "RS256", "kid": kid, "typ": "JWT", "crit": crit}));
        s.invalid(
            &token,
            &format!("The web identity token's header lists critical extensions (crit) that are not supported: {names}"),
        )
        .await;
    }
}

/// A token issued more than 24 hours ago is "too old" even when `exp` is still ahead (AWS: "Token too old: N").
#[tokio::test]
async fn old_tokens_are_refused() {
    let s = Suite::new().await;
    let t = now();
    let day = keyless_emulator::sts::MAX_TOKEN_AGE_SECONDS;
    let fresh_enough = s.resigned(|c| {
        c.insert("iat".into(), json!(t - day + 60));
        c.insert("exp".into(), json!(t + 3600));
    });
    s.h.assume("deploy", &fresh_enough).await.assert_ok();
    let old = s.resigned(|c| {
        c.insert("iat".into(), json!(t - 441_398));
        c.insert("exp".into(), json!(t + 3600));
    });
    let r = s.h.assume("deploy", &old).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "ExpiredTokenException")
    );
    let age: i64 = r
        .message()
        .strip_prefix("Token too old: ")
        .unwrap()
        .parse()
        .unwrap();
    assert!((441_398..441_398 + 60).contains(&age), "{}", r.message());
}

#[tokio::test]
async fn time_claims() {
    let s = Suite::new().await;
    let t = now();
    // 17. Expired (AWS's text, including its missing space).
    let expired = s.resigned(|c| {
        c.insert("iat".into(), json!(t - 7200));
        c.insert("exp".into(), json!(t - 3600));
    });
    let r = s.h.assume("deploy", &expired).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "ExpiredTokenException")
    );
    let expected_prefix = "Token expired: current date/time ";
    assert!(r.message().starts_with(expected_prefix), "{}", r.message());
    assert!(
        r.message().ends_with(&format!(
            "must be before the expiration date/time{}",
            t - 3600
        )),
        "{}",
        r.message()
    );
    // 18. Expired by minting with a past issue time and a short lifetime.
    let minted = s.h.mint_with(|m| {
        m.issued_at = Some(t - 100);
        m.lifetime_seconds = Some(50);
    });
    let r = s.h.assume("deploy", &minted).await;
    assert_eq!(r.code(), "ExpiredTokenException");
    // 19. nbf in the future.
    let nbf = s.resigned(|c| {
        c.insert("nbf".into(), json!(t + 3600));
    });
    let r = s.h.assume("deploy", &nbf).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "InvalidIdentityToken")
    );
    assert!(
        r.message()
            .starts_with("Token not yet valid: current date/time "),
        "{}",
        r.message()
    );
    assert!(r.message().ends_with(&format!(
        "must be after the not-before date/time {}",
        t + 3600
    )));
    // 20. iat in the future.
    let iat = s.resigned(|c| {
        c.insert("iat".into(), json!(t + 3600));
        c.insert("exp".into(), json!(t + 7200));
    });
    let r = s.h.assume("deploy", &iat).await;
    assert!(
        r.message()
            .starts_with("Token issued in the future: current date/time "),
        "{}",
        r.message()
    );
    // 21. nbf within the 60 s clock-skew allowance is fine.
    let skew = s.resigned(|c| {
        c.insert("nbf".into(), json!(t + 30));
    });
    s.h.assume("deploy", &skew).await.assert_ok();
    // 22. A float exp.
    let float = s.resigned(|c| {
        c.insert("exp".into(), json!(t as f64 + 3600.5));
    });
    s.invalid(
        &float,
        "Timestamps in the token must be formatted as either an integer or a long integer.",
    )
    .await;
    // 23. No exp.
    let no_exp = s.resigned(|c| {
        c.remove("exp");
    });
    s.invalid(&no_exp, "Missing a required claim: exp").await;
}

#[tokio::test]
async fn identity_claims() {
    let s = Suite::new().await;
    // 24. Missing aud.
    s.invalid(
        &s.resigned(|c| {
            c.remove("aud");
        }),
        "Missing a required claim: aud",
    )
    .await;
    // 25. Missing sub.
    s.invalid(
        &s.resigned(|c| {
            c.remove("sub");
        }),
        "Missing a required claim: sub",
    )
    .await;
    // 26. Empty sub.
    s.invalid(
        &s.resigned(|c| {
            c.insert("sub".into(), json!(""));
        }),
        "Missing a required claim: sub",
    )
    .await;
    // 27. aud array with a match (a custom audience appended, as Bitbucket does).
    let with_custom =
        s.h.mint_with(|m| m.audiences = Some(vec!["https://custom.example".into()]));
    let r = s.h.assume("deploy", &with_custom).await;
    r.assert_ok();
    assert_eq!(
        r.tag("Audience").as_deref(),
        Some(AUDIENCE),
        "the audience that matched a client id is reported"
    );
    // 28. aud array without a match.
    s.invalid(
        &s.resigned(|c| {
            c.insert("aud".into(), json!(["a", "b"]));
        }),
        "Incorrect token audience",
    )
    .await;
    // 29. aud string without a match.
    s.invalid(
        &s.resigned(|c| {
            c.insert("aud".into(), json!("sts.amazonaws.com"));
        }),
        "Incorrect token audience",
    )
    .await;
    // 30. aud of the wrong type.
    s.invalid(
        &s.resigned(|c| {
            c.insert("aud".into(), json!(42));
        }),
        "Incorrect token audience",
    )
    .await;
    // 31. Missing iss.
    s.invalid(
        &s.resigned(|c| {
            c.remove("iss");
        }),
        "Missing a required claim: iss",
    )
    .await;
    // 32. Wrong issuer (signed with the right key, but no provider for it).
    s.invalid(
        &s.resigned(|c| {
            c.insert("iss".into(), json!("https://evil.example/oidc"));
        }),
        "No OpenIDConnect provider found in your account for https://evil.example/oidc",
    )
    .await;
    // 33. Trailing slash on the issuer: matched exactly, so it is another provider.
    let slash = format!("{ISSUER}/");
    s.invalid(
        &s.resigned(|c| {
            c.insert("iss".into(), json!(slash));
        }),
        &format!("No OpenIDConnect provider found in your account for {ISSUER}/"),
    )
    .await;
    // 34. Issuer with a different scheme.
    let http = ISSUER.replace("https://", "http://");
    s.invalid(
        &s.resigned(|c| {
            c.insert("iss".into(), json!(http));
        }),
        &format!("No OpenIDConnect provider found in your account for {http}"),
    )
    .await;
    // 35. A sub shorter than AWS's 6-character minimum for SubjectFromWebIdentityToken.
    s.invalid(
        &s.resigned(|c| {
            c.insert("sub".into(), json!("abc"));
        }),
        "The sub claim must be 6 to 255 characters long",
    )
    .await;
}

#[tokio::test]
async fn trust_and_provider_mismatches() {
    let s = Suite::new().await;
    // 36. A repository the trust policy does not name.
    s.expect(&s.h.mint(OTHER_REPO), 403, "AccessDenied", DENIED)
        .await;
    // 37. Another workspace's token (its provider is not registered).
    let other_ws = s.h.mint_with(|m| m.workspace = "other".into());
    s.invalid(
        &other_ws,
        "No OpenIDConnect provider found in your account for https://api.bitbucket.org/2.0/workspaces/other/pipelines-config/identity/oidc",
    )
    .await;
    // 38. Another workspace's token whose provider *is* registered, but the trust policy names acme's provider.
    s.h.iam(&[
        ("Action", "CreateOpenIDConnectProvider"),
        (
            "Url",
            "https://api.bitbucket.org/2.0/workspaces/other/pipelines-config/identity/oidc",
        ),
        ("ClientIDList.member.1", AUDIENCE),
    ])
    .await
    .assert_ok();
    s.expect(&other_ws, 403, "AccessDenied", DENIED).await;
    // 39. A role in an account without the provider (the provider must be in the role's account).
    let trust_other = trust_policy(&["*"]).replace(ACCOUNT, OTHER_ACCOUNT);
    s.h.call(
        &[
            ("Action", "CreateRole"),
            ("RoleName", "deploy"),
            ("AssumeRolePolicyDocument", &trust_other),
        ],
        Some(&s.h.other_admin),
    )
    .await
    .assert_ok();
    let r =
        s.h.call(
            &[
                ("Action", "AssumeRoleWithWebIdentity"),
                (
                    "RoleArn",
                    &format!("arn:aws:iam::{OTHER_ACCOUNT}:role/deploy"),
                ),
                ("RoleSessionName", "s1"),
                ("WebIdentityToken", &s.token),
            ],
            None,
        )
        .await;
    r.assert_error(
        400,
        "InvalidIdentityToken",
        &format!("No OpenIDConnect provider found in your account for {ISSUER}"),
    );
    // 40. A role that does not exist, and a role ARN with the wrong path.
    let r = s.h.assume("missing", &s.token).await;
    r.assert_error(403, "AccessDenied", DENIED);
    let r = s.h.assume("wrong/deploy", &s.token).await;
    r.assert_error(403, "AccessDenied", DENIED);
    // 41. DurationSeconds above the role's maximum.
    let r =
        s.h.call(
            &[
                ("Action", "AssumeRoleWithWebIdentity"),
                ("RoleArn", "arn:aws:iam::123456789012:role/deploy"),
                ("RoleSessionName", "s1"),
                ("WebIdentityToken", &s.token),
                ("DurationSeconds", "7200"),
            ],
            None,
        )
        .await;
    r.assert_error(
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );
    // 42. The provider lost the audience.
    s.h.iam(&[
        ("Action", "RemoveClientIDFromOpenIDConnectProvider"),
        (
            "OpenIDConnectProviderArn",
            &format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{PROVIDER_URL}"),
        ),
        ("ClientID", AUDIENCE),
    ])
    .await
    .assert_ok();
    s.invalid(&s.token, "Incorrect token audience").await;
}

#[tokio::test]
async fn explicit_deny_and_foreign_issuers() {
    let s = Suite::new().await;
    // 43. An explicit Deny for the repository wins over the Allow.
    let deny = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{PROVIDER_URL}")}, "Action": "sts:AssumeRoleWithWebIdentity"},
            {"Effect": "Deny", "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{PROVIDER_URL}")}, "Action": "sts:AssumeRoleWithWebIdentity",
             "Condition": {"StringLike": {format!("{PROVIDER_URL}:sub"): format!("{REPO}:*")}}}
        ]
    })
    .to_string();
    s.h.iam(&[
        ("Action", "UpdateAssumeRolePolicy"),
        ("RoleName", "deploy"),
        ("PolicyDocument", &deny),
    ])
    .await
    .assert_ok();
    s.expect(&s.token, 403, "AccessDenied", DENIED).await;
    // 44. An issuer the emulator holds no keys for, with --remote-issuers off.
    s.h.iam(&[
        ("Action", "CreateOpenIDConnectProvider"),
        ("Url", "https://token.actions.githubusercontent.com"),
        ("ClientIDList.member.1", AUDIENCE),
    ])
    .await
    .assert_ok();
    let github = s.resigned(|c| {
        c.insert(
            "iss".into(),
            json!("https://token.actions.githubusercontent.com"),
        );
    });
    s.invalid(&github, NO_KEY).await;
}
