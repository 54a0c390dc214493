//! IAM actions: success shapes, validation, NoSuchEntity / EntityAlreadyExists / LimitExceeded / DeleteConflict,
//! MalformedPolicyDocument from crates/iam, SigV4 failures.

use crate::common::*;

const V: (&str, &str) = ("Version", "2010-05-08");

fn decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn oidc_provider_lifecycle() {
    let h = Harness::new();
    let created = h
        .iam(&[
            ("Action", "CreateOpenIDConnectProvider"),
            V,
            ("Url", ISSUER),
            ("ClientIDList.member.1", AUDIENCE),
            ("ClientIDList.member.2", "sts.amazonaws.com"),
            (
                "ThumbprintList.member.1",
                "a031c46782e6e6c662c2c87c76da9aa62ccabd8e",
            ),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "platform"),
        ])
        .await;
    created.assert_ok();
    let arn = format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{PROVIDER_URL}");
    assert_eq!(
        created.tag("OpenIDConnectProviderArn").as_deref(),
        Some(arn.as_str())
    );
    assert!(created.body.contains(
        "<CreateOpenIDConnectProviderResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
    ));

    let dup = h
        .iam(&[
            ("Action", "CreateOpenIDConnectProvider"),
            V,
            ("Url", ISSUER),
        ])
        .await;
    dup.assert_error(
        409,
        "EntityAlreadyExists",
        &format!("Provider with url {ISSUER} already exists."),
    );

    let got = h
        .iam(&[
            ("Action", "GetOpenIDConnectProvider"),
            V,
            ("OpenIDConnectProviderArn", &arn),
        ])
        .await;
    got.assert_ok();
    assert_eq!(
        got.tag("Url").as_deref(),
        Some(PROVIDER_URL),
        "Url without scheme"
    );
    assert!(got.body.contains(&format!(
        "<ClientIDList><member>{AUDIENCE}</member><member>sts.amazonaws.com</member></ClientIDList>"
    )));
    assert!(
        got.body
            .contains("<Tags><member><Key>team</Key><Value>platform</Value></member></Tags>")
    );
    assert!(got.tag("CreateDate").unwrap().ends_with('Z'));

    let listed = h.iam(&[("Action", "ListOpenIDConnectProviders"), V]).await;
    assert!(listed.assert_ok().body.contains(&format!(
        "<OpenIDConnectProviderList><member><Arn>{arn}</Arn></member>"
    )));

    h.iam(&[
        ("Action", "AddClientIDToOpenIDConnectProvider"),
        V,
        ("OpenIDConnectProviderArn", &arn),
        ("ClientID", "extra"),
    ])
    .await
    .assert_ok();
    // Idempotent.
    h.iam(&[
        ("Action", "AddClientIDToOpenIDConnectProvider"),
        V,
        ("OpenIDConnectProviderArn", &arn),
        ("ClientID", "extra"),
    ])
    .await
    .assert_ok();
    h.iam(&[
        ("Action", "RemoveClientIDFromOpenIDConnectProvider"),
        V,
        ("OpenIDConnectProviderArn", &arn),
        ("ClientID", "sts.amazonaws.com"),
    ])
    .await
    .assert_ok();
    h.iam(&[
        ("Action", "UpdateOpenIDConnectProviderThumbprint"),
        V,
        ("OpenIDConnectProviderArn", &arn),
        (
            "ThumbprintList.member.1",
            "0000000000000000000000000000000000000000",
        ),
    ])
    .await
    .assert_ok();
    let got = h
        .iam(&[
            ("Action", "GetOpenIDConnectProvider"),
            V,
            ("OpenIDConnectProviderArn", &arn),
        ])
        .await;
    assert!(
        got.body.contains(&format!(
            "<ClientIDList><member>{AUDIENCE}</member><member>extra</member></ClientIDList>"
        )),
        "{}",
        got.body
    );
    assert!(got.body.contains(
        "<ThumbprintList><member>0000000000000000000000000000000000000000</member></ThumbprintList>"
    ));

    h.iam(&[
        ("Action", "DeleteOpenIDConnectProvider"),
        V,
        ("OpenIDConnectProviderArn", &arn),
    ])
    .await
    .assert_ok();
    let gone = h
        .iam(&[
            ("Action", "GetOpenIDConnectProvider"),
            V,
            ("OpenIDConnectProviderArn", &arn),
        ])
        .await;
    gone.assert_error(
        404,
        "NoSuchEntity",
        &format!("OpenIDConnect Provider not found for arn {arn}"),
    );
    let gone = h
        .iam(&[
            ("Action", "DeleteOpenIDConnectProvider"),
            V,
            ("OpenIDConnectProviderArn", &arn),
        ])
        .await;
    gone.assert_error(
        404,
        "NoSuchEntity",
        &format!("OpenIDConnect Provider not found for arn {arn}"),
    );
}

#[tokio::test]
async fn oidc_provider_validation() {
    let h = Harness::new();
    let r = h.iam(&[("Action", "CreateOpenIDConnectProvider"), V]).await;
    r.assert_error(400, "ValidationError", "1 validation error detected: Value null at 'url' failed to satisfy constraint: Member must not be null");
    for url in [
        "http://example.com",
        "example.com",
        "https://",
        "https://x.com/a?b=c",
        "https://x.com/#f",
    ] {
        let r = h
            .iam(&[("Action", "CreateOpenIDConnectProvider"), V, ("Url", url)])
            .await;
        r.assert_error(
            400,
            "ValidationError",
            "Invalid Open ID Connect Provider URL",
        );
    }
    let long = format!("https://{}.com", "a".repeat(250));
    let r = h
        .iam(&[("Action", "CreateOpenIDConnectProvider"), V, ("Url", &long)])
        .await;
    r.assert_error(
        400,
        "ValidationError",
        &format!("1 validation error detected: Value '{long}' at 'url' failed to satisfy constraint: Member must have length less than or equal to 255"),
    );
    let r = h
        .iam(&[
            ("Action", "CreateOpenIDConnectProvider"),
            V,
            ("Url", "https://x.com"),
            ("ThumbprintList.member.1", "abc"),
        ])
        .await;
    r.assert_error(
        400,
        "ValidationError",
        "1 validation error detected: Value 'abc' at 'thumbprintList.member' failed to satisfy constraint: Member must have length greater than or equal to 40",
    );
    let tp = "a".repeat(40);
    let mut params: Vec<(String, String)> = vec![
        ("Action".into(), "CreateOpenIDConnectProvider".into()),
        ("Url".into(), "https://x.com".into()),
    ];
    for i in 1..=6 {
        params.push((format!("ThumbprintList.member.{i}"), tp.clone()));
    }
    let borrowed: Vec<(&str, &str)> = params
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    h.iam(&borrowed).await.assert_error(
        400,
        "InvalidInput",
        "Thumbprint list must contain fewer than 5 entries.",
    );

    let mut params: Vec<(String, String)> = vec![
        ("Action".into(), "CreateOpenIDConnectProvider".into()),
        ("Url".into(), "https://x.com".into()),
    ];
    for i in 1..=101 {
        params.push((format!("ClientIDList.member.{i}"), format!("c{i}")));
    }
    let borrowed: Vec<(&str, &str)> = params
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    h.iam(&borrowed).await.assert_error(
        409,
        "LimitExceeded",
        "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100",
    );

    let r = h
        .iam(&[
            ("Action", "GetOpenIDConnectProvider"),
            V,
            ("OpenIDConnectProviderArn", "not-an-arn-but-long-enough"),
        ])
        .await;
    r.assert_error(
        400,
        "InvalidInput",
        "ARN not-an-arn-but-long-enough is not valid.",
    );
    let r = h.iam(&[("Action", "GetOpenIDConnectProvider"), V]).await;
    r.assert_error(
        400,
        "ValidationError",
        "1 validation error detected: Value null at 'openIDConnectProviderArn' failed to satisfy constraint: Member must not be null",
    );
    let r = h
        .iam(&[
            ("Action", "UpdateOpenIDConnectProviderThumbprint"),
            V,
            (
                "OpenIDConnectProviderArn",
                "arn:aws:iam::123456789012:oidc-provider/x.com",
            ),
        ])
        .await;
    r.assert_error(
        400,
        "ValidationError",
        "1 validation error detected: Value null at 'thumbprintList' failed to satisfy constraint: Member must not be null",
    );
    let r = h
        .iam(&[
            ("Action", "AddClientIDToOpenIDConnectProvider"),
            V,
            (
                "OpenIDConnectProviderArn",
                "arn:aws:iam::123456789012:oidc-provider/x.com",
            ),
        ])
        .await;
    r.assert_error(400, "ValidationError", "1 validation error detected: Value null at 'clientID' failed to satisfy constraint: Member must not be null");
}

#[tokio::test]
async fn providers_are_per_account() {
    let h = Harness::new();
    h.iam(&[
        ("Action", "CreateOpenIDConnectProvider"),
        V,
        ("Url", ISSUER),
    ])
    .await
    .assert_ok();
    let other = h
        .call(
            &[("Action", "ListOpenIDConnectProviders"), V],
            Some(&h.other_admin),
        )
        .await;
    assert!(
        !other.assert_ok().body.contains("<member>"),
        "{}",
        other.body
    );
    let arn = format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{PROVIDER_URL}");
    let r = h
        .call(
            &[
                ("Action", "GetOpenIDConnectProvider"),
                V,
                ("OpenIDConnectProviderArn", &arn),
            ],
            Some(&h.other_admin),
        )
        .await;
    r.assert_error(
        404,
        "NoSuchEntity",
        &format!("OpenIDConnect Provider not found for arn {arn}"),
    );
}

#[tokio::test]
async fn role_lifecycle() {
    let h = Harness::new();
    let trust = trust_policy(&["{11111111-1111-4111-8111-111111111111}:*"]);
    let created = h
        .iam(&[
            ("Action", "CreateRole"),
            V,
            ("RoleName", "Deploy"),
            ("Path", "/ci/"),
            ("AssumeRolePolicyDocument", &trust),
            ("Description", "deploys"),
            ("MaxSessionDuration", "7200"),
            ("Tags.member.1.Key", "env"),
            ("Tags.member.1.Value", "prod"),
        ])
        .await;
    created.assert_ok();
    assert_eq!(
        created.tag("Arn").as_deref(),
        Some("arn:aws:iam::123456789012:role/ci/Deploy")
    );
    let role_id = created.tag("RoleId").unwrap();
    assert!(
        role_id.starts_with("AROA") && role_id.len() == 21,
        "{role_id}"
    );
    assert_eq!(
        decode(&created.tag("AssumeRolePolicyDocument").unwrap()),
        trust,
        "URL-encoded like IAM"
    );
    assert_eq!(created.tag("MaxSessionDuration").as_deref(), Some("7200"));

    // Names are case-insensitively unique.
    let dup = h
        .iam(&[
            ("Action", "CreateRole"),
            V,
            ("RoleName", "deploy"),
            ("AssumeRolePolicyDocument", &trust),
        ])
        .await;
    dup.assert_error(
        409,
        "EntityAlreadyExists",
        "Role with name deploy already exists.",
    );

    let got = h
        .iam(&[("Action", "GetRole"), V, ("RoleName", "deploy")])
        .await;
    assert_eq!(got.assert_ok().tag("RoleId"), Some(role_id.clone()));
    assert!(
        got.body
            .contains("<Tags><member><Key>env</Key><Value>prod</Value></member></Tags>")
    );

    h.iam(&[
        ("Action", "UpdateRole"),
        V,
        ("RoleName", "Deploy"),
        ("Description", "new"),
        ("MaxSessionDuration", "3600"),
    ])
    .await
    .assert_ok();
    let got = h
        .iam(&[("Action", "GetRole"), V, ("RoleName", "Deploy")])
        .await;
    assert_eq!(got.tag("Description").as_deref(), Some("new"));
    assert_eq!(got.tag("MaxSessionDuration").as_deref(), Some("3600"));

    let trust2 = trust_policy(&["*"]);
    h.iam(&[
        ("Action", "UpdateAssumeRolePolicy"),
        V,
        ("RoleName", "Deploy"),
        ("PolicyDocument", &trust2),
    ])
    .await
    .assert_ok();
    let got = h
        .iam(&[("Action", "GetRole"), V, ("RoleName", "Deploy")])
        .await;
    assert_eq!(
        decode(&got.tag("AssumeRolePolicyDocument").unwrap()),
        trust2
    );

    h.iam(&[
        ("Action", "TagRole"),
        V,
        ("RoleName", "Deploy"),
        ("Tags.member.1.Key", "ENV"),
        ("Tags.member.1.Value", "dev"),
        ("Tags.member.2.Key", "team"),
        ("Tags.member.2.Value", "a"),
    ])
    .await
    .assert_ok();
    let got = h
        .iam(&[("Action", "GetRole"), V, ("RoleName", "Deploy")])
        .await;
    assert!(
        got.body.contains("<Key>ENV</Key><Value>dev</Value>")
            && got.body.contains("<Key>team</Key>"),
        "{}",
        got.body
    );
    assert!(
        !got.body.contains("<Value>prod</Value>"),
        "tag keys are case-insensitive: ENV replaced env"
    );

    // Policies.
    let managed = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    h.iam(&[
        ("Action", "AttachRolePolicy"),
        V,
        ("RoleName", "Deploy"),
        ("PolicyArn", managed),
    ])
    .await
    .assert_ok();
    let attached = h
        .iam(&[
            ("Action", "ListAttachedRolePolicies"),
            V,
            ("RoleName", "Deploy"),
        ])
        .await;
    assert!(attached.assert_ok().body.contains(&format!(
        "<member><PolicyName>ReadOnlyAccess</PolicyName><PolicyArn>{managed}</PolicyArn></member>"
    )));
    let inline = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    h.iam(&[
        ("Action", "PutRolePolicy"),
        V,
        ("RoleName", "Deploy"),
        ("PolicyName", "read"),
        ("PolicyDocument", inline),
    ])
    .await
    .assert_ok();
    let got = h
        .iam(&[
            ("Action", "GetRolePolicy"),
            V,
            ("RoleName", "Deploy"),
            ("PolicyName", "read"),
        ])
        .await;
    assert_eq!(
        decode(&got.assert_ok().tag("PolicyDocument").unwrap()),
        inline
    );
    assert_eq!(got.tag("RoleName").as_deref(), Some("Deploy"));
    let names = h
        .iam(&[("Action", "ListRolePolicies"), V, ("RoleName", "Deploy")])
        .await;
    assert!(names.assert_ok().body.contains(
        "<PolicyNames><member>read</member></PolicyNames><IsTruncated>false</IsTruncated>"
    ));

    let conflict = h
        .iam(&[("Action", "DeleteRole"), V, ("RoleName", "Deploy")])
        .await;
    conflict.assert_error(
        409,
        "DeleteConflict",
        "Cannot delete entity, must detach all policies first.",
    );
    h.iam(&[
        ("Action", "DetachRolePolicy"),
        V,
        ("RoleName", "Deploy"),
        ("PolicyArn", managed),
    ])
    .await
    .assert_ok();
    let again = h
        .iam(&[
            ("Action", "DetachRolePolicy"),
            V,
            ("RoleName", "Deploy"),
            ("PolicyArn", managed),
        ])
        .await;
    again.assert_error(
        404,
        "NoSuchEntity",
        &format!("Policy {managed} was not found."),
    );
    let conflict = h
        .iam(&[("Action", "DeleteRole"), V, ("RoleName", "Deploy")])
        .await;
    conflict.assert_error(
        409,
        "DeleteConflict",
        "Cannot delete entity, must delete policies first.",
    );
    h.iam(&[
        ("Action", "DeleteRolePolicy"),
        V,
        ("RoleName", "Deploy"),
        ("PolicyName", "read"),
    ])
    .await
    .assert_ok();
    let missing = h
        .iam(&[
            ("Action", "DeleteRolePolicy"),
            V,
            ("RoleName", "Deploy"),
            ("PolicyName", "read"),
        ])
        .await;
    missing.assert_error(
        404,
        "NoSuchEntity",
        "The role policy with name read cannot be found.",
    );
    let missing = h
        .iam(&[
            ("Action", "GetRolePolicy"),
            V,
            ("RoleName", "Deploy"),
            ("PolicyName", "read"),
        ])
        .await;
    missing.assert_error(
        404,
        "NoSuchEntity",
        "The role policy with name read cannot be found.",
    );
    h.iam(&[("Action", "DeleteRole"), V, ("RoleName", "Deploy")])
        .await
        .assert_ok();
    for action in [
        "GetRole",
        "DeleteRole",
        "ListRolePolicies",
        "ListAttachedRolePolicies",
    ] {
        let r = h
            .iam(&[("Action", action), V, ("RoleName", "Deploy")])
            .await;
        r.assert_error(
            404,
            "NoSuchEntity",
            "The role with name Deploy cannot be found.",
        );
    }
}

#[tokio::test]
async fn list_roles_paginates_and_filters_by_path() {
    let h = Harness::new();
    let trust = trust_policy(&["*"]);
    for (name, path) in [("a", "/"), ("b", "/ci/"), ("c", "/ci/"), ("d", "/x/")] {
        h.iam(&[
            ("Action", "CreateRole"),
            V,
            ("RoleName", name),
            ("Path", path),
            ("AssumeRolePolicyDocument", &trust),
        ])
        .await
        .assert_ok();
    }
    let page = h
        .iam(&[("Action", "ListRoles"), V, ("MaxItems", "2")])
        .await;
    page.assert_ok();
    assert_eq!(page.tag("IsTruncated").as_deref(), Some("true"));
    assert_eq!(page.body.matches("<member>").count(), 2);
    let marker = page.tag("Marker").unwrap();
    let rest = h
        .iam(&[
            ("Action", "ListRoles"),
            V,
            ("MaxItems", "2"),
            ("Marker", &marker),
        ])
        .await;
    assert_eq!(
        rest.assert_ok().tag("IsTruncated").as_deref(),
        Some("false")
    );
    assert!(
        rest.body.contains("<RoleName>c</RoleName>")
            && rest.body.contains("<RoleName>d</RoleName>")
    );
    let ci = h
        .iam(&[("Action", "ListRoles"), V, ("PathPrefix", "/ci/")])
        .await;
    assert_eq!(ci.assert_ok().body.matches("<member>").count(), 2);
    let bad = h
        .iam(&[("Action", "ListRoles"), V, ("MaxItems", "0")])
        .await;
    bad.assert_error(400, "ValidationError", "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1");
    let bad = h
        .iam(&[("Action", "ListRoles"), V, ("Marker", "zzz")])
        .await;
    bad.assert_error(400, "InvalidInput", "Invalid Marker.");
}

#[tokio::test]
async fn role_validation_reads_like_iam() {
    let h = Harness::new();
    let trust = trust_policy(&["*"]);
    let r = h
        .iam(&[
            ("Action", "CreateRole"),
            V,
            ("RoleName", "bad name!"),
            ("AssumeRolePolicyDocument", &trust),
        ])
        .await;
    r.assert_error(
        400,
        "ValidationError",
        r"1 validation error detected: Value 'bad name!' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+",
    );
    let long = "r".repeat(65);
    let r = h
        .iam(&[
            ("Action", "CreateRole"),
            V,
            ("RoleName", &long),
            ("AssumeRolePolicyDocument", &trust),
        ])
        .await;
    r.assert_error(
        400,
        "ValidationError",
        &format!("1 validation error detected: Value '{long}' at 'roleName' failed to satisfy constraint: Member must have length less than or equal to 64"),
    );
    let r = h.iam(&[("Action", "CreateRole"), V]).await;
    r.assert_error(
        400,
        "ValidationError",
        "2 validation errors detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null; \
         Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null",
    );
    let r = h
        .iam(&[
            ("Action", "CreateRole"),
            V,
            ("RoleName", "r"),
            ("Path", "ci"),
            ("AssumeRolePolicyDocument", &trust),
            ("MaxSessionDuration", "100"),
        ])
        .await;
    r.assert_error(
        400,
        "ValidationError",
        r"2 validation errors detected: Value 'ci' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F); Value '100' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600",
    );
    // Malformed policies, judged by crates/iam.
    let r = h
        .iam(&[
            ("Action", "CreateRole"),
            V,
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", "{not json"),
        ])
        .await;
    assert_eq!(r.code(), "MalformedPolicyDocument", "{}", r.body);
    assert!(
        r.message().starts_with("Syntax errors in policy."),
        "{}",
        r.message()
    );
    let with_resource = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/x.com"},"Action":"sts:AssumeRoleWithWebIdentity","Resource":"*"}]}"#;
    let r = h
        .iam(&[
            ("Action", "CreateRole"),
            V,
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", with_resource),
        ])
        .await;
    assert_eq!(r.status.as_u16(), 400);
    assert_eq!(r.code(), "MalformedPolicyDocument", "{}", r.body);
    // The trust-policy size quota, with IAM's own text.
    let patterns: Vec<String> = (0..80)
        .map(|i| format!("{{11111111-1111-4111-8111-{i:012}}}:*"))
        .collect();
    let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
    let big = trust_policy(&refs);
    let r = h
        .iam(&[
            ("Action", "CreateRole"),
            V,
            ("RoleName", "big"),
            ("AssumeRolePolicyDocument", &big),
        ])
        .await;
    r.assert_error(
        409,
        "LimitExceeded",
        "Cannot exceed quota for ACLSizePerRole: 2048",
    );
    // Policy characters outside IAM's pattern.
    let r = h
        .iam(&[
            ("Action", "CreateRole"),
            V,
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", "{\"a\":\"€\"}"),
        ])
        .await;
    assert_eq!(r.code(), "ValidationError");
    assert!(r.message().contains("at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must satisfy regular expression pattern"));
    // Tags.
    let r = h
        .iam(&[
            ("Action", "CreateRole"),
            V,
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", &trust),
            ("Tags.member.1.Key", "a"),
            ("Tags.member.1.Value", "1"),
            ("Tags.member.2.Key", "A"),
            ("Tags.member.2.Value", "2"),
        ])
        .await;
    r.assert_error(
        400,
        "InvalidInput",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    );
    let r = h.iam(&[("Action", "TagRole"), V, ("RoleName", "r")]).await;
    r.assert_error(400, "ValidationError", "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null");
    // Inline and managed policy errors.
    h.iam(&[
        ("Action", "CreateRole"),
        V,
        ("RoleName", "r"),
        ("AssumeRolePolicyDocument", &trust),
    ])
    .await
    .assert_ok();
    let r = h
        .iam(&[
            ("Action", "PutRolePolicy"),
            V,
            ("RoleName", "r"),
            ("PolicyName", "p"),
            ("PolicyDocument", "[]"),
        ])
        .await;
    assert_eq!(r.code(), "MalformedPolicyDocument", "{}", r.body);
    let r = h
        .iam(&[
            ("Action", "AttachRolePolicy"),
            V,
            ("RoleName", "r"),
            ("PolicyArn", "arn:aws:s3:::bucket/policy/x"),
        ])
        .await;
    r.assert_error(
        400,
        "InvalidInput",
        "ARN arn:aws:s3:::bucket/policy/x is not valid.",
    );
    for i in 0..10 {
        let arn = format!("arn:aws:iam::123456789012:policy/p{i}");
        h.iam(&[
            ("Action", "AttachRolePolicy"),
            V,
            ("RoleName", "r"),
            ("PolicyArn", &arn),
        ])
        .await
        .assert_ok();
    }
    let r = h
        .iam(&[
            ("Action", "AttachRolePolicy"),
            V,
            ("RoleName", "r"),
            ("PolicyArn", "arn:aws:iam::123456789012:policy/p10"),
        ])
        .await;
    r.assert_error(
        409,
        "LimitExceeded",
        "Cannot exceed quota for PoliciesPerRole: 10",
    );
    let huge = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":[{}]}}]}}"#,
        (0..400)
            .map(|i| format!("\"arn:aws:s3:::bucket-{i}/*\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let r = h
        .iam(&[
            ("Action", "PutRolePolicy"),
            V,
            ("RoleName", "r"),
            ("PolicyName", "huge"),
            ("PolicyDocument", &huge),
        ])
        .await;
    r.assert_error(
        409,
        "LimitExceeded",
        "Maximum policy size of 10240 bytes exceeded for role r",
    );
}

#[tokio::test]
async fn iam_requires_valid_admin_signatures() {
    let h = Harness::new();
    let params = [("Action", "ListRoles"), V];
    h.call(&params, None).await.assert_error(
        403,
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
    );
    let unknown = Creds {
        access_key_id: "AKIAUNKNOWNUNKNOWN00".into(),
        secret: "x".into(),
        token: None,
    };
    h.call(&params, Some(&unknown)).await.assert_error(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    );
    let wrong = Creds {
        secret: "wrong".into(),
        ..h.admin.clone()
    };
    h.call(&params, Some(&wrong)).await.assert_error(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    );
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let r = h.call_at(&params, Some(&h.admin), old, &[]).await;
    assert_eq!(r.code(), "SignatureDoesNotMatch");
    assert!(
        r.message().starts_with("Signature expired: "),
        "{}",
        r.message()
    );
    // A long-term key presented with a session token is not a valid session.
    let with_token = Creds {
        token: Some("KLS1garbage".into()),
        ..h.admin.clone()
    };
    h.call(&params, Some(&with_token)).await.assert_error(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    );
}

/// The actions Terraform and the SDKs call that issue 17 found missing, with IAM's shapes (botocore 1.43's model).
#[tokio::test]
async fn tags_descriptions_and_instance_profiles() {
    let h = Harness::new();
    h.setup_role("deploy", &trust_policy(&[&format!("{REPO}:*")]))
        .await;
    let v = ("Version", "2010-05-08");
    h.iam(&[
        ("Action", "TagRole"),
        v,
        ("RoleName", "deploy"),
        ("Tags.member.1.Key", "team"),
        ("Tags.member.1.Value", "platform"),
        ("Tags.member.2.Key", "env"),
        ("Tags.member.2.Value", "prod"),
    ])
    .await
    .assert_ok();
    let tags = h
        .iam(&[("Action", "ListRoleTags"), v, ("RoleName", "deploy")])
        .await;
    tags.assert_ok();
    assert!(tags.body.contains("<ListRoleTagsResult><Tags><member><Key>team</Key><Value>platform</Value></member><member><Key>env</Key><Value>prod</Value></member></Tags><IsTruncated>false</IsTruncated></ListRoleTagsResult>"), "{}", tags.body);
    let page = h
        .iam(&[
            ("Action", "ListRoleTags"),
            v,
            ("RoleName", "deploy"),
            ("MaxItems", "1"),
        ])
        .await;
    assert_eq!(page.tag("IsTruncated").as_deref(), Some("true"));
    assert_eq!(page.tag("Marker").as_deref(), Some("env"));
    h.iam(&[
        ("Action", "UntagRole"),
        v,
        ("RoleName", "deploy"),
        ("TagKeys.member.1", "TEAM"),
    ])
    .await
    .assert_ok();
    let tags = h
        .iam(&[("Action", "ListRoleTags"), v, ("RoleName", "deploy")])
        .await;
    assert!(
        !tags.body.contains("team") && tags.body.contains("<Key>env</Key>"),
        "{}",
        tags.body
    );
    h.iam(&[("Action", "UntagRole"), v, ("RoleName", "deploy")])
        .await
        .assert_error(400, "ValidationError", "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null");
    h.iam(&[("Action", "ListRoleTags"), v, ("RoleName", "nope")])
        .await
        .assert_error(
            404,
            "NoSuchEntity",
            "The role with name nope cannot be found.",
        );

    let updated = h
        .iam(&[
            ("Action", "UpdateRoleDescription"),
            v,
            ("RoleName", "deploy"),
            ("Description", "deploys prod"),
        ])
        .await;
    updated.assert_ok();
    assert_eq!(updated.tag("Description").as_deref(), Some("deploys prod"));
    assert_eq!(updated.tag("RoleName").as_deref(), Some("deploy"));
    let role = h
        .iam(&[("Action", "GetRole"), v, ("RoleName", "deploy")])
        .await;
    assert!(
        role.body.contains("<RoleLastUsed></RoleLastUsed>"),
        "{}",
        role.body
    );
    assert_eq!(role.tag("Description").as_deref(), Some("deploys prod"));

    let profiles = h
        .iam(&[
            ("Action", "ListInstanceProfilesForRole"),
            v,
            ("RoleName", "deploy"),
        ])
        .await;
    profiles.assert_ok();
    assert!(profiles.body.contains("<ListInstanceProfilesForRoleResult><InstanceProfiles></InstanceProfiles><IsTruncated>false</IsTruncated></ListInstanceProfilesForRoleResult>"), "{}", profiles.body);

    let arn = format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{PROVIDER_URL}");
    h.iam(&[
        ("Action", "TagOpenIDConnectProvider"),
        v,
        ("OpenIDConnectProviderArn", &arn),
        ("Tags.member.1.Key", "managed-by"),
        ("Tags.member.1.Value", "keyless"),
    ])
    .await
    .assert_ok();
    let tags = h
        .iam(&[
            ("Action", "ListOpenIDConnectProviderTags"),
            v,
            ("OpenIDConnectProviderArn", &arn),
        ])
        .await;
    assert!(
        tags.body
            .contains("<Tags><member><Key>managed-by</Key><Value>keyless</Value></member></Tags>"),
        "{}",
        tags.body
    );
    h.iam(&[
        ("Action", "UntagOpenIDConnectProvider"),
        v,
        ("OpenIDConnectProviderArn", &arn),
        ("TagKeys.member.1", "managed-by"),
    ])
    .await
    .assert_ok();
    let tags = h
        .iam(&[
            ("Action", "ListOpenIDConnectProviderTags"),
            v,
            ("OpenIDConnectProviderArn", &arn),
        ])
        .await;
    assert!(tags.body.contains("<Tags></Tags>"), "{}", tags.body);
}
