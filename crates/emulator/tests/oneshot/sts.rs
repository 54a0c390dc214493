//! STS: AssumeRoleWithWebIdentity success shape, GetCallerIdentity, AssumeRole chaining, parameter validation,
//! durations, source IP conditions, session tags, expired sessions.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use keyless_emulator::{Clock, Config};

use crate::common::*;

fn session_creds(r: &Resp) -> Creds {
    Creds {
        access_key_id: r.tag("AccessKeyId").unwrap(),
        secret: r.tag("SecretAccessKey").unwrap(),
        token: Some(r.tag("SessionToken").unwrap()),
    }
}

#[tokio::test]
async fn web_identity_success_has_aws_shape() {
    let h = Harness::new();
    h.iam(&[
        ("Action", "CreateRole"),
        ("RoleName", "deploy"),
        ("Path", "/pipelines/"),
        ("MaxSessionDuration", "7200"),
        (
            "AssumeRolePolicyDocument",
            &trust_policy(&[&format!("{REPO}:*")]),
        ),
    ])
    .await
    .assert_ok();
    h.iam(&[
        ("Action", "CreateOpenIDConnectProvider"),
        ("Url", ISSUER),
        ("ClientIDList.member.1", AUDIENCE),
    ])
    .await
    .assert_ok();
    let token = h.mint(REPO);
    let before = SystemTime::now();
    let r = h
        .call(
            &[
                ("Action", "AssumeRoleWithWebIdentity"),
                ("Version", "2011-06-15"),
                ("RoleArn", "arn:aws:iam::123456789012:role/pipelines/deploy"),
                ("RoleSessionName", "build-42"),
                ("WebIdentityToken", &token),
                ("DurationSeconds", "7000"),
            ],
            None,
        )
        .await;
    r.assert_ok();
    let subject = keyless_oidc::decode_unverified(&token)
        .unwrap()
        .subject()
        .unwrap()
        .to_owned();
    assert_eq!(r.tag("SubjectFromWebIdentityToken"), Some(subject));
    assert_eq!(r.tag("Audience").as_deref(), Some(AUDIENCE));
    assert_eq!(r.tag("Provider").as_deref(), Some(ISSUER));
    // The role path is dropped from the assumed-role ARN.
    assert_eq!(
        r.tag("Arn").as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/deploy/build-42")
    );
    let role = h
        .iam(&[("Action", "GetRole"), ("RoleName", "deploy")])
        .await;
    assert_eq!(
        r.tag("AssumedRoleId"),
        Some(format!("{}:build-42", role.tag("RoleId").unwrap()))
    );
    let key = r.tag("AccessKeyId").unwrap();
    assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
    assert_eq!(r.tag("SecretAccessKey").unwrap().len(), 40);
    // Expiration = now + DurationSeconds (not clamped to the token's 1 h exp).
    let expiration = time::OffsetDateTime::parse(
        &r.tag("Expiration").unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let expected = time::OffsetDateTime::from(before) + Duration::from_secs(7000);
    assert!(
        (expiration - expected).whole_seconds().abs() <= 2,
        "{expiration} vs {expected}"
    );
    assert!(!r.body.contains("PackedPolicySize"));

    // The session works for GetCallerIdentity (SigV4 with the session token).
    let creds = session_creds(&r);
    let who = h
        .call(
            &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
            Some(&creds),
        )
        .await;
    who.assert_ok();
    assert_eq!(
        who.tag("Arn").as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/deploy/build-42")
    );
    assert_eq!(who.tag("UserId"), r.tag("AssumedRoleId"));
    assert_eq!(who.tag("Account").as_deref(), Some(ACCOUNT));
    // ... but not without its token, nor with another session's token.
    let no_token = Creds {
        token: None,
        ..creds.clone()
    };
    h.call(&[("Action", "GetCallerIdentity")], Some(&no_token))
        .await
        .assert_error(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        );
    // IAM with a session: identity policies are not evaluated, so it is denied.
    let iam = h.call(&[("Action", "ListRoles")], Some(&creds)).await;
    assert_eq!(
        (iam.status.as_u16(), iam.code().as_str()),
        (403, "AccessDenied")
    );
}

#[tokio::test]
async fn get_caller_identity_for_admin_keys_is_the_account_root() {
    let h = Harness::new();
    let who = h
        .call(&[("Action", "GetCallerIdentity")], Some(&h.admin))
        .await;
    who.assert_ok();
    assert_eq!(
        who.tag("Arn").as_deref(),
        Some("arn:aws:iam::123456789012:root")
    );
    assert_eq!(who.tag("UserId").as_deref(), Some(ACCOUNT));
    h.call(&[("Action", "GetCallerIdentity")], None)
        .await
        .assert_error(
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        );
    // Signed for the wrong service.
    let body = form(&[("Action", "GetCallerIdentity")]);
    let headers = vec![
        ("host".to_owned(), "h".to_owned()),
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
    ];
    let signed = sign(
        "POST",
        "http://h/",
        &headers,
        body.as_bytes(),
        "iam",
        &h.admin,
        SystemTime::now(),
    );
    let mut builder = axum::http::Request::post("/");
    for (k, v) in headers.iter().chain(signed.iter()) {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let r = h
        .raw(builder.body(axum::body::Body::from(body)).unwrap())
        .await;
    r.assert_error(
        403,
        "SignatureDoesNotMatch",
        "Credential should be scoped to correct service: 'sts'. ",
    );
}

#[tokio::test]
async fn web_identity_parameter_validation() {
    let h = Harness::new();
    let r = h
        .call(&[("Action", "AssumeRoleWithWebIdentity")], None)
        .await;
    r.assert_error(
        400,
        "ValidationError",
        "3 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null; \
         Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null; \
         Value null at 'webIdentityToken' failed to satisfy constraint: Member must not be null",
    );
    let token = h.mint(REPO);
    let base = |session: &'static str, duration: &'static str| {
        vec![
            ("Action", "AssumeRoleWithWebIdentity"),
            ("RoleArn", "arn:aws:iam::123456789012:role/deploy"),
            ("RoleSessionName", session),
            ("DurationSeconds", duration),
        ]
    };
    let mut p = base("a:b", "3600");
    p.push(("WebIdentityToken", &token));
    h.call(&p, None).await.assert_error(
        400,
        "ValidationError",
        r"1 validation error detected: Value 'a:b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*",
    );
    let mut p = base("x", "50000");
    p.push(("WebIdentityToken", &token));
    h.call(&p, None).await.assert_error(
        400,
        "ValidationError",
        "2 validation errors detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2; \
         Value '50000' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200",
    );
    let mut p = base("ok", "899");
    p.push(("WebIdentityToken", &token));
    h.call(&p, None).await.assert_error(
        400,
        "ValidationError",
        "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
    );
    let long_session = "s".repeat(65);
    let r = h
        .call(
            &[
                ("Action", "AssumeRoleWithWebIdentity"),
                ("RoleArn", "short"),
                ("RoleSessionName", &long_session),
                ("WebIdentityToken", "abc"),
            ],
            None,
        )
        .await;
    r.assert_error(
        400,
        "ValidationError",
        &format!(
            "3 validation errors detected: Value 'short' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20; \
             Value '{long_session}' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64; \
             Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"
        ),
    );
    let r = h
        .call(
            &[
                ("Action", "AssumeRoleWithWebIdentity"),
                ("RoleArn", "arn:aws:s3:::bucket/role/x"),
                ("RoleSessionName", "ok"),
                ("WebIdentityToken", &token),
            ],
            None,
        )
        .await;
    r.assert_error(400, "ValidationError", "Request ARN is invalid");
}

#[tokio::test]
async fn durations_against_the_role_maximum() {
    let h = Harness::new();
    h.setup_role("deploy", &trust_policy(&["*"])).await;
    let token = h.mint(REPO);
    let call = |d: &'static str| {
        let token = token.clone();
        let h = &h;
        async move {
            h.call(
                &[
                    ("Action", "AssumeRoleWithWebIdentity"),
                    ("RoleArn", "arn:aws:iam::123456789012:role/deploy"),
                    ("RoleSessionName", "s1"),
                    ("WebIdentityToken", &token),
                    ("DurationSeconds", d),
                ],
                None,
            )
            .await
        }
    };
    call("3600").await.assert_ok();
    call("3601").await.assert_error(
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );
}

#[tokio::test]
async fn source_ip_conditions_use_the_peer_or_x_forwarded_for() {
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{PROVIDER_URL}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
        }]
    })
    .to_string();
    // Peer address 203.0.113.7 (the harness default) is inside.
    let h = Harness::new();
    h.setup_role("deploy", &trust).await;
    let token = h.mint(REPO);
    h.assume("deploy", &token).await.assert_ok();
    // X-Forwarded-For is ignored unless --trust-forwarded-for.
    let params = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("RoleArn", "arn:aws:iam::123456789012:role/deploy"),
        ("RoleSessionName", "s1"),
        ("WebIdentityToken", token.as_str()),
    ];
    h.call_at(
        &params,
        None,
        SystemTime::now(),
        &[("x-forwarded-for", "198.51.100.1")],
    )
    .await
    .assert_ok();

    let mut h = Harness::with_config(Config {
        trust_forwarded_for: true,
        ..Config::local()
    });
    h.setup_role("deploy", &trust).await;
    let token = h.mint(REPO);
    let params = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("RoleArn", "arn:aws:iam::123456789012:role/deploy"),
        ("RoleSessionName", "s1"),
        ("WebIdentityToken", token.as_str()),
    ];
    h.call_at(
        &params,
        None,
        SystemTime::now(),
        &[("x-forwarded-for", "203.0.113.99, 10.0.0.1")],
    )
    .await
    .assert_ok();
    h.call_at(
        &params,
        None,
        SystemTime::now(),
        &[("x-forwarded-for", "198.51.100.1")],
    )
    .await
    .assert_error(
        403,
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
    h.peer = "198.51.100.2:1".parse().unwrap();
    h.assume("deploy", &token).await.assert_error(
        403,
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
}

#[tokio::test]
async fn session_tags_need_sts_tag_session() {
    let h = Harness::new();
    h.setup_role("deploy", &trust_policy(&["*"])).await;
    let mut claims = keyless_oidc::decode_unverified(&h.mint(REPO))
        .unwrap()
        .claims;
    claims.insert(
        "https://aws.amazon.com/tags".into(),
        serde_json::json!({"principal_tags": {"team": ["a"]}, "transitive_tag_keys": []}),
    );
    let tagged = h
        .emulator
        .sign_raw(WORKSPACE, None, &serde_json::Value::Object(claims.clone()))
        .unwrap();
    h.assume("deploy", tagged.expose()).await.assert_error(
        403,
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
    let with_tag_session = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{PROVIDER_URL}")},
            "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
        }]
    })
    .to_string();
    h.iam(&[
        ("Action", "UpdateAssumeRolePolicy"),
        ("RoleName", "deploy"),
        ("PolicyDocument", &with_tag_session),
    ])
    .await
    .assert_ok();
    h.assume("deploy", tagged.expose()).await.assert_ok();
}

#[tokio::test]
async fn assume_role_chains_from_a_web_identity_session() {
    let h = Harness::new();
    h.setup_role("deploy", &trust_policy(&["*"])).await;
    let chained_trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/deploy")}, "Action": "sts:AssumeRole"}]
    })
    .to_string();
    h.iam(&[
        ("Action", "CreateRole"),
        ("RoleName", "target"),
        ("AssumeRolePolicyDocument", &chained_trust),
    ])
    .await
    .assert_ok();
    h.iam(&[
        ("Action", "CreateRole"),
        ("RoleName", "closed"),
        ("AssumeRolePolicyDocument", &trust_policy(&["*"])),
    ])
    .await
    .assert_ok();
    let first = h.assume("deploy", &h.mint(REPO)).await;
    first.assert_ok();
    let creds = session_creds(&first);
    let r = h
        .call(
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", "arn:aws:iam::123456789012:role/target"),
                ("RoleSessionName", "hop"),
            ],
            Some(&creds),
        )
        .await;
    r.assert_ok();
    assert_eq!(
        r.tag("Arn").as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/target/hop")
    );
    let second = session_creds(&r);
    let who = h
        .call(&[("Action", "GetCallerIdentity")], Some(&second))
        .await;
    assert_eq!(
        who.tag("Arn").as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/target/hop")
    );
    // Role chaining is limited to one hour.
    let r = h
        .call(
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", "arn:aws:iam::123456789012:role/target"),
                ("RoleSessionName", "hop"),
                ("DurationSeconds", "3601"),
            ],
            Some(&creds),
        )
        .await;
    r.assert_error(400, "ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.");
    // A role whose trust policy does not name the caller.
    let r = h
        .call(
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", "arn:aws:iam::123456789012:role/closed"),
                ("RoleSessionName", "hop"),
            ],
            Some(&creds),
        )
        .await;
    r.assert_error(
        403,
        "AccessDenied",
        "User: arn:aws:sts::123456789012:assumed-role/deploy/ci-session is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/closed",
    );
    let r = h
        .call(
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", "arn:aws:iam::123456789012:role/missing"),
                ("RoleSessionName", "hop"),
            ],
            Some(&creds),
        )
        .await;
    assert_eq!(r.code(), "AccessDenied");
    // Unsigned AssumeRole.
    let r = h
        .call(
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", "arn:aws:iam::123456789012:role/target"),
                ("RoleSessionName", "hop"),
            ],
            None,
        )
        .await;
    r.assert_error(
        403,
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
    );
    // The account root (admin keys) may assume a role trusting the account.
    let account_trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]
    })
    .to_string();
    h.iam(&[
        ("Action", "CreateRole"),
        ("RoleName", "admin"),
        ("AssumeRolePolicyDocument", &account_trust),
        ("MaxSessionDuration", "7200"),
    ])
    .await
    .assert_ok();
    let r = h
        .call(
            &[("Action", "AssumeRole"), ("RoleArn", "arn:aws:iam::123456789012:role/admin"), ("RoleSessionName", "ops"), ("DurationSeconds", "7200"), ("Policy", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)],
            Some(&h.admin),
        )
        .await;
    r.assert_ok();
    assert!(r.tag("PackedPolicySize").is_some());
    let r = h
        .call(
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", "arn:aws:iam::123456789012:role/admin"),
                ("RoleSessionName", "ops"),
                ("Policy", "{bad"),
            ],
            Some(&h.admin),
        )
        .await;
    assert_eq!(r.code(), "MalformedPolicyDocument");
}

#[tokio::test]
async fn expired_sessions_are_rejected() {
    let offset = Arc::new(AtomicI64::new(0));
    let clock_offset = offset.clone();
    let clock = Clock::from_fn(move || {
        let o = clock_offset.load(Ordering::SeqCst);
        SystemTime::now() + Duration::from_secs(u64::try_from(o).unwrap())
    });
    let h = Harness::with_config(Config {
        clock,
        ..Config::local()
    });
    h.setup_role("deploy", &trust_policy(&["*"])).await;
    let r = h
        .call(
            &[
                ("Action", "AssumeRoleWithWebIdentity"),
                ("RoleArn", "arn:aws:iam::123456789012:role/deploy"),
                ("RoleSessionName", "s1"),
                ("WebIdentityToken", &h.mint(REPO)),
                ("DurationSeconds", "900"),
            ],
            None,
        )
        .await;
    let creds = session_creds(r.assert_ok());
    offset.store(901, Ordering::SeqCst);
    let later = SystemTime::now() + Duration::from_secs(901);
    h.call_at(&[("Action", "GetCallerIdentity")], Some(&creds), later, &[])
        .await
        .assert_error(
            403,
            "ExpiredToken",
            "The security token included in the request is expired",
        );
}

/// GetSessionToken, GetAccessKeyInfo and DecodeAuthorizationMessage with the STS model's shapes.
#[tokio::test]
async fn session_tokens_access_key_info_and_authorization_messages() {
    let h = Harness::new();
    let v = ("Version", "2011-06-15");
    // Root keys: at most one hour, whatever is asked ("defaults to one hour").
    let r = h
        .call(
            &[
                ("Action", "GetSessionToken"),
                v,
                ("DurationSeconds", "7200"),
            ],
            Some(&h.admin),
        )
        .await;
    r.assert_ok();
    let expiration = time::OffsetDateTime::parse(
        &r.tag("Expiration").unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = expiration - time::OffsetDateTime::now_utc();
    assert!(
        left <= time::Duration::seconds(3600) && left > time::Duration::seconds(3500),
        "{left}"
    );
    let session = session_creds(&r);
    assert!(session.access_key_id.starts_with("ASIA"));
    // The session is the root's.
    let who = h
        .call(&[("Action", "GetCallerIdentity"), v], Some(&session))
        .await;
    assert_eq!(who.tag("Arn"), Some(format!("arn:aws:iam::{ACCOUNT}:root")));
    assert_eq!(who.tag("UserId").as_deref(), Some(ACCOUNT));
    // Session credentials cannot get another session token.
    h.call(&[("Action", "GetSessionToken"), v], Some(&session))
        .await
        .assert_error(
            403,
            "AccessDenied",
            "Cannot call GetSessionToken with session credentials",
        );
    h.call(&[("Action", "GetSessionToken"), v, ("DurationSeconds", "600")], Some(&h.admin))
        .await
        .assert_error(400, "ValidationError", "1 validation error detected: Value '600' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900");
    h.call(&[("Action", "GetSessionToken"), v], None)
        .await
        .assert_error(
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        );

    // GetAccessKeyInfo: admin keys, temporary keys (from any account), and keys the emulator never issued.
    for (key, account) in [
        (h.admin.access_key_id.as_str(), ACCOUNT),
        (h.other_admin.access_key_id.as_str(), OTHER_ACCOUNT),
        (session.access_key_id.as_str(), ACCOUNT),
    ] {
        let r = h
            .call(
                &[("Action", "GetAccessKeyInfo"), v, ("AccessKeyId", key)],
                Some(&h.admin),
            )
            .await;
        r.assert_ok();
        assert_eq!(r.tag("Account").as_deref(), Some(account), "{key}");
    }
    h.call(
        &[
            ("Action", "GetAccessKeyInfo"),
            v,
            ("AccessKeyId", "AKIAIOSFODNN7EXAMPLE"),
        ],
        Some(&h.admin),
    )
    .await
    .assert_error(
        400,
        "ValidationError",
        "The access key ID was not issued by this emulator, so its account cannot be told.",
    );

    h.call(&[("Action", "DecodeAuthorizationMessage"), v, ("EncodedMessage", "abc")], Some(&h.admin))
        .await
        .assert_error(400, "InvalidAuthorizationMessageException", "The encoded authorization message is invalid: the emulator issues no encoded authorization messages.");
}

/// The VPC path (issue 20): with `--trust-forwarded-for`, a loopback peer's `X-Keyless-Source-Vpce` /
/// `X-Keyless-Vpc-Source-Ip` make the call one through an STS VPC endpoint, with the VPC keys and no
/// `aws:SourceIp`, as AWS documents (IAM User Guide, `reference_sts_vpc_condition_keys_federated`); `--source-ip`
/// (`Config::default_network`) plays clients that cannot add headers.
#[tokio::test]
async fn vpc_headers_play_a_call_through_an_sts_vpc_endpoint() {
    let statement = |condition: serde_json::Value| {
        serde_json::json!({
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{PROVIDER_URL}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition
        })
    };
    // keyless plan's shape: one statement per path.
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [
        statement(serde_json::json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})),
        statement(serde_json::json!({
            "StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d4e5f60718"},
            "IpAddress": {"aws:VpcSourceIp": "10.20.0.0/24"}
        })),
    ]})
    .to_string();
    // Article 004's policy: a private range in aws:SourceIp.
    let article = serde_json::json!({"Version": "2012-10-17", "Statement": [
        statement(serde_json::json!({"IpAddress": {"aws:SourceIp": "10.20.0.0/24"}}))
    ]})
    .to_string();
    let mut h = Harness::with_config(Config {
        trust_forwarded_for: true,
        ..Config::local()
    });
    h.peer = "127.0.0.1:50000".parse().unwrap();
    h.setup_role("deploy", &trust).await;
    h.setup_role("article", &article).await;
    let token = h.mint(REPO);
    let params = |role: &'static str| {
        [
            ("Action", "AssumeRoleWithWebIdentity"),
            (
                "RoleArn",
                if role == "deploy" {
                    "arn:aws:iam::123456789012:role/deploy"
                } else {
                    "arn:aws:iam::123456789012:role/article"
                },
            ),
            ("RoleSessionName", "s1"),
        ]
    };
    let call = |role: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let h = &h;
        let token = token.clone();
        async move {
            let mut p = params(role).to_vec();
            p.push(("WebIdentityToken", token.as_str()));
            h.call_at(&p, None, SystemTime::now(), headers).await
        }
    };
    const INSIDE: &[(&str, &str)] = &[
        ("x-keyless-source-vpce", "vpce-0a1b2c3d4e5f60718"),
        ("x-keyless-source-vpc", "vpc-0e9801d129c0ffee1"),
        ("x-keyless-vpc-source-ip", "10.20.0.7"),
    ];
    const OTHER_SUBNET: &[(&str, &str)] = &[
        ("x-keyless-source-vpce", "vpce-0a1b2c3d4e5f60718"),
        ("x-keyless-vpc-source-ip", "10.99.0.7"),
    ];
    const OTHER_ENDPOINT: &[(&str, &str)] = &[
        ("x-keyless-source-vpce", "vpce-0ffffffffffffffff"),
        ("x-keyless-vpc-source-ip", "10.20.0.7"),
    ];
    // Through the endpoint, from the runners' subnet: the VPC statement holds.
    call("deploy", INSIDE).await.assert_ok();
    call("deploy", OTHER_SUBNET).await.assert_error(
        403,
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
    call("deploy", OTHER_ENDPOINT).await.assert_error(
        403,
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
    // Over the internet: the public egress holds, another address does not.
    call("deploy", &[("x-forwarded-for", "203.0.113.9")])
        .await
        .assert_ok();
    call("deploy", &[("x-forwarded-for", "198.51.100.9")])
        .await
        .assert_error(
            403,
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        );
    // Article 004: a runner at 10.20.0.7 never matches, through the endpoint (no aws:SourceIp) nor over the
    // internet (AWS sees the NAT gateway's public address).
    for headers in [INSIDE, &[("x-forwarded-for", "203.0.113.9")][..]] {
        call("article", headers).await.assert_error(
            403,
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        );
    }
    // A malformed VPC header is refused, naming the header.
    call("deploy", &[("x-keyless-source-vpce", "vpc-0a1b2c3d4e5f60718")])
        .await
        .assert_error(
            400,
            "ValidationError",
            "The x-keyless-source-vpce header `vpc-0a1b2c3d4e5f60718` is not a VPC endpoint ID such as vpce-0a1b2c3d4e5f60718.",
        );
    // From a peer that is not loopback the VPC headers are ignored: the peer's address is aws:SourceIp.
    h.peer = "198.51.100.2:1".parse().unwrap();
    let mut p = params("deploy").to_vec();
    p.push(("WebIdentityToken", token.as_str()));
    h.call_at(&p, None, SystemTime::now(), INSIDE)
        .await
        .assert_error(
            403,
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        );

    // The default network (`--source-ip`) for clients that cannot add headers, changeable in-process.
    let h = Harness::with_config(Config {
        default_network: Some(keyless_iam::network::Network::Internet {
            source_ip: "198.51.100.7".parse().unwrap(),
        }),
        ..Config::local()
    });
    h.setup_role("deploy", &trust).await;
    let token = h.mint(REPO);
    h.assume("deploy", &token).await.assert_error(
        403,
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
    h.emulator
        .set_default_network(Some(keyless_iam::network::Network::Vpc(
            keyless_iam::network::VpcPath::default()
                .endpoint("vpce-0a1b2c3d4e5f60718")
                .private_ip("10.20.0.8".parse().unwrap()),
        )));
    h.assume("deploy", &token).await.assert_ok();
}
