//! The Query protocol itself: GET and POST, request ids, unknown actions, body limits, garbage input.

use axum::body::Body;
use axum::http::Request;

use crate::common::*;

#[tokio::test]
async fn get_with_query_string_works_like_post() {
    let h = Harness::new();
    h.setup_role("deploy", &trust_policy(&["*"])).await;
    let token = h.mint(REPO);
    let query = form(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", "arn:aws:iam::123456789012:role/deploy"),
        ("RoleSessionName", "get"),
        ("WebIdentityToken", &token),
    ]);
    let r = h
        .raw(
            Request::get(format!("/?{query}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    r.assert_ok();
    assert!(r.body.contains(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    ));
    assert_eq!(
        r.tag("RequestId"),
        r.request_id,
        "body RequestId equals x-amzn-RequestId"
    );
}

#[tokio::test]
async fn request_ids_are_unique() {
    let h = Harness::new();
    let a = h
        .call(&[("Action", "GetCallerIdentity")], Some(&h.admin))
        .await;
    let b = h
        .call(&[("Action", "GetCallerIdentity")], Some(&h.admin))
        .await;
    assert_ne!(a.request_id, b.request_id);
    assert_eq!(a.request_id.unwrap().len(), 36);
}

#[tokio::test]
async fn missing_and_unknown_actions() {
    let h = Harness::new();
    h.call(&[("Version", "2011-06-15")], None)
        .await
        .assert_error(400, "MissingAction", "Missing Action");
    let r = h
        .call(
            &[("Action", "DescribeInstances"), ("Version", "2016-11-15")],
            None,
        )
        .await;
    r.assert_error(
        400,
        "InvalidAction",
        "Could not find operation DescribeInstances for version 2016-11-15",
    );
    // An unknown action signed for IAM answers in IAM's namespace.
    let r = h
        .call(
            &[("Action", "CreateUser"), ("Version", "2010-05-08")],
            Some(&h.admin),
        )
        .await;
    assert!(
        r.body
            .contains("xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\""),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn oversized_bodies_get_413_in_aws_shape() {
    let h = Harness::new();
    let big = vec![b'a'; keyless_emulator::BODY_LIMIT + 1];
    let request = Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(big))
        .unwrap();
    h.raw(request).await.assert_error(
        413,
        "RequestEntityTooLarge",
        "Request body exceeds the limit of 1048576 bytes.",
    );
    // Streaming bodies without Content-Length are cut off too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b'a'; 64 * 1024])).collect();
    let stream = Body::from_stream(futures_stream(chunks));
    let request = Request::post("/").body(stream).unwrap();
    h.raw(request).await.assert_error(
        413,
        "RequestEntityTooLarge",
        "Request body exceeds the limit of 1048576 bytes.",
    );
    // Exactly at the limit is fine (and then fails on content, not size).
    let at_limit = format!(
        "Action=GetCallerIdentity&Pad={}",
        "a".repeat(keyless_emulator::BODY_LIMIT - 29)
    );
    assert_eq!(at_limit.len(), keyless_emulator::BODY_LIMIT);
    let r = h
        .raw(Request::post("/").body(Body::from(at_limit)).unwrap())
        .await;
    assert_eq!(r.code(), "MissingAuthenticationToken");
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct Iter(std::vec::IntoIter<Result<Vec<u8>, std::io::Error>>);
    impl futures_core::Stream for Iter {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Iter(chunks.into_iter())
}

#[tokio::test]
async fn malformed_requests_are_4xx_never_5xx() {
    let h = Harness::new();
    let r = h
        .raw(
            Request::post("/")
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400);
    assert_eq!(r.code(), "MalformedQueryString");
    let r = h
        .raw(
            Request::post("/?Action=GetCallerIdentity")
                .body(Body::from("Action=AssumeRole"))
                .unwrap(),
        )
        .await;
    r.assert_error(
        400,
        "MalformedQueryString",
        "parameter `Action` is given more than once with different values",
    );
    let r = h.raw(Request::put("/").body(Body::empty()).unwrap()).await;
    r.assert_error(
        405,
        "MethodNotAllowed",
        "The HTTP method PUT is not allowed: the Query protocol uses GET or POST.",
    );
    let r = h
        .raw(Request::get("/nope").body(Body::empty()).unwrap())
        .await;
    assert_eq!((r.status.as_u16(), r.code().as_str()), (404, "NotFound"));
    let r = h
        .raw(
            Request::post("/")
                .header("authorization", "AWS4-HMAC-SHA256 garbage")
                .body(Body::from("Action=ListRoles"))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "IncompleteSignature")
    );
    let r = h
        .raw(
            Request::post("/")
                .body(Body::from(
                    "Action=CreateRole&Tags.member.x.Key=a&RoleName=a&AssumeRolePolicyDocument=x",
                ))
                .unwrap(),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);
    // Random bytes in every position: always a 4xx XML error.
    let mut seed = 0x2545F4914F6CDD1Du64;
    for _ in 0..300 {
        let len = (seed % 200) as usize;
        let mut bytes = Vec::with_capacity(len);
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let alphabet =
                b"Action=&%+.member.1AssumeRoleWithWebIdentityRoleArnCreateRoleGetRole\xff\x00=";
            bytes.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let r = h
            .raw(Request::post("/").body(Body::from(bytes)).unwrap())
            .await;
        assert!(r.status.is_client_error(), "{} {}", r.status, r.body);
        assert!(r.body.contains("<ErrorResponse"), "{}", r.body);
    }
}

#[tokio::test]
async fn issuer_endpoints_serve_discovery_and_keys() {
    let h = Harness::new();
    let token = h.mint(REPO);
    let r = h
        .raw(
            Request::get("/2.0/workspaces/acme/pipelines-config/identity/oidc/.well-known/openid-configuration")
                .header("host", "127.0.0.1:4566")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200);
    let doc: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(doc["issuer"], ISSUER);
    assert_eq!(
        doc["jwks_uri"],
        "http://127.0.0.1:4566/2.0/workspaces/acme/pipelines-config/identity/oidc/keys.json"
    );
    let r = h
        .raw(
            Request::get("/2.0/workspaces/acme/pipelines-config/identity/oidc/keys.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let jwks: keyless_oidc::Jwks = serde_json::from_str(&r.body).unwrap();
    let verified = keyless_oidc::verify(
        &token,
        &jwks,
        keyless_now(),
        &keyless_oidc::VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(verified.issuer, ISSUER);
    // Any number of workspaces, each with its own keys (created by minting).
    h.mint_with(|r| r.workspace = "other".into());
    let other = h
        .raw(
            Request::get("/2.0/workspaces/other/pipelines-config/identity/oidc/keys.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let other: keyless_oidc::Jwks = serde_json::from_str(&other.body).unwrap();
    assert!(
        keyless_oidc::verify(
            &token,
            &other,
            keyless_now(),
            &keyless_oidc::VerifyOptions::default()
        )
        .is_err()
    );
    let bad = h
        .raw(
            Request::get("/2.0/workspaces/a%20b/pipelines-config/identity/oidc/keys.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(bad.status.as_u16(), 404);
}

fn keyless_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[tokio::test]
async fn mint_endpoint_validates_and_returns_a_token() {
    let h = Harness::new();
    let body = serde_json::json!({"workspace": "acme", "workspace_uuid": WS_UUID, "repository_uuid": REPO, "branch": "main", "audiences": ["https://x.example"]});
    let r = h
        .raw(
            Request::post("/_keyless/mint")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    let response: keyless_oidc::MintResponse = serde_json::from_str(&r.body).unwrap();
    let decoded = keyless_oidc::decode_unverified(response.token.expose()).unwrap();
    assert_eq!(decoded.issuer(), Some(ISSUER));
    assert_eq!(decoded.claims["branchName"], "main");
    assert_eq!(
        decoded.claims["aud"],
        serde_json::json!([AUDIENCE, "https://x.example"])
    );
    assert!(decoded.subject().unwrap().starts_with(&format!("{REPO}:")));
    let r = h
        .raw(
            Request::post("/_keyless/mint")
                .body(Body::from("{\"workspace\": 1}"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400);
    assert!(
        r.body.contains("not valid JSON of the expected shape"),
        "{}",
        r.body
    );
    let bad = serde_json::json!({"workspace": "acme", "workspace_uuid": WS_UUID, "repository_uuid": REPO, "lifetime_seconds": 0});
    let r = h
        .raw(
            Request::post("/_keyless/mint")
                .body(Body::from(bad.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400);
    let r = h
        .raw(
            Request::post("/_keyless/mint")
                .body(Body::from(vec![b' '; keyless_emulator::BODY_LIMIT + 1]))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status.as_u16(), 413);
}

#[tokio::test]
async fn state_persists_atomically_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let config = keyless_emulator::Config {
        state_file: Some(path.clone()),
        ..keyless_emulator::Config::local()
    };
    let h = Harness::with_config(config.clone());
    h.setup_role("deploy", &trust_policy(&["*"])).await;
    let token = h.mint(REPO);
    let before = h.assume("deploy", &token).await;
    before.assert_ok();
    drop(h);
    // A restart keeps roles, providers, admin keys and issuer keys: old tokens still verify.
    let h2 = Harness::with_config(config);
    let again = h2.assume("deploy", &token).await;
    again.assert_ok();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"deploy\""));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary files left behind"
    );
}

/// The issue-17 replay: a signed `ListRoles` whose headers are replayed with a `DeleteRole` body (and with every
/// claim a client can make about its payload) must not delete the role; the identical replay is accepted.
#[tokio::test]
async fn signed_headers_cannot_carry_another_body() {
    let h = Harness::new();
    h.setup_role("deploy", &trust_policy(&[&format!("{REPO}:*")]))
        .await;
    let list = form(&[("Action", "ListRoles"), ("Version", "2010-05-08")]);
    let delete = form(&[
        ("Action", "DeleteRole"),
        ("RoleName", "deploy"),
        ("Version", "2010-05-08"),
    ]);
    let base: Vec<(String, String)> = vec![
        ("host".into(), "127.0.0.1:4566".into()),
        (
            "content-type".into(),
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        ),
    ];
    let signed = sign(
        "POST",
        "http://127.0.0.1:4566/",
        &base,
        list.as_bytes(),
        "iam",
        &h.admin,
        std::time::SystemTime::now(),
    );
    let send = |body: String, payload_hash: Option<String>| {
        let mut builder = axum::http::Request::builder().method("POST").uri("/");
        for (k, v) in base.iter().chain(&signed) {
            builder = builder.header(k.as_str(), v.as_str());
        }
        if let Some(hash) = payload_hash {
            builder = builder.header("x-amz-content-sha256", hash);
        }
        h.raw(builder.body(axum::body::Body::from(body)).unwrap())
    };
    let list_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(list.as_bytes()));
    for claim in [
        None,
        Some("UNSIGNED-PAYLOAD".to_owned()),
        Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER".to_owned()),
        Some(list_hash.clone()),
    ] {
        send(delete.clone(), claim.clone()).await.assert_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your AWS \
             Secret Access Key and signing method. Consult the service documentation for details.",
        );
    }
    // UNSIGNED-PAYLOAD is refused even with the body that was signed: STS and IAM always hash the payload.
    send(list.clone(), Some("UNSIGNED-PAYLOAD".into()))
        .await
        .assert_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your AWS \
             Secret Access Key and signing method. Consult the service documentation for details.",
        );
    // The role is still there, and identical replays are accepted (AWS accepts them within 15 minutes).
    for _ in 0..2 {
        let r = send(list.clone(), None).await;
        r.assert_ok();
        assert!(r.body.contains("<RoleName>deploy</RoleName>"), "{}", r.body);
    }
    send(list.clone(), Some(list_hash)).await.assert_ok();
}

/// A control character XML cannot carry is refused before any XML is written, so the response is well-formed.
#[tokio::test]
async fn input_xml_cannot_carry_is_a_validation_error() {
    let h = Harness::new();
    for (params, member) in [
        (
            vec![
                ("Action", "GetRole"),
                ("Version", "2010-05-08"),
                ("RoleName", "a\u{1}b"),
            ],
            "RoleName",
        ),
        (
            vec![("Action", "No\u{8}Such"), ("Version", "2010-05-08")],
            "Action",
        ),
    ] {
        let r = h.call(&params, Some(&h.admin)).await;
        r.assert_error(
            400,
            "ValidationError",
            &format!(
                "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must \
                 contain only characters XML 1.0 can carry (found U+{:04X})",
                if member == "RoleName" { 1 } else { 8 }
            ),
        );
        assert!(
            r.body.chars().all(|c| c >= ' ' || c == '\n' || c == '\t'),
            "{:?}",
            r.body
        );
    }
}

/// Discovery and keys.json never create a workspace; only minting does, up to --max-workspaces.
#[tokio::test]
async fn unknown_workspaces_generate_nothing_and_minting_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let h = Harness::with_config(keyless_emulator::Config {
        state_file: Some(state.clone()),
        max_workspaces: 2,
        ..keyless_emulator::Config::local()
    });
    let before = std::fs::read(&state).unwrap();
    for path in [
        "/2.0/workspaces/fresh/pipelines-config/identity/oidc/keys.json",
        "/2.0/workspaces/fresh/pipelines-config/identity/oidc/.well-known/openid-configuration",
    ] {
        let r = h
            .raw(
                Request::get(path)
                    .header("host", "127.0.0.1:4566")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status.as_u16(), 404, "{path}: {}", r.body);
        assert!(
            r.body.contains("holds no keys for workspace `fresh`"),
            "{}",
            r.body
        );
    }
    assert_eq!(
        std::fs::read(&state).unwrap(),
        before,
        "--state was rewritten without new keys"
    );
    let mint = |slug: &str| {
        let body = serde_json::json!({"workspace": slug, "workspace_uuid": WS_UUID, "repository_uuid": REPO});
        Request::post("/_keyless/mint")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    assert_eq!(h.raw(mint("one")).await.status.as_u16(), 200);
    assert_ne!(
        std::fs::read(&state).unwrap(),
        before,
        "new keys are persisted"
    );
    assert_eq!(h.raw(mint("two")).await.status.as_u16(), 200);
    let r = h.raw(mint("three")).await;
    assert_eq!(r.status.as_u16(), 429, "{}", r.body);
    assert!(r.body.contains("--max-workspaces"), "{}", r.body);
    // Known workspaces still mint, and their keys are served.
    assert_eq!(h.raw(mint("one")).await.status.as_u16(), 200);
    let keys = h
        .raw(
            Request::get("/2.0/workspaces/one/pipelines-config/identity/oidc/keys.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(keys.status.as_u16(), 200);
}
