//! AssumeRole on a `--chain` hop: session tags need `sts:TagSession`, a source identity needs
//! `sts:SetSourceIdentity`, both persist through role chaining as AWS documents (transitive tags, the source
//! identity), an external ID is matched by `sts:ExternalId`, and the packed size of session tags is limited.
//! Messages are AWS's (docs/emulator.md, "Session tags, source identity, external ID").

use crate::common::*;

fn creds_of(r: &Resp) -> Creds {
    Creds {
        access_key_id: r.tag("AccessKeyId").unwrap(),
        secret: r.tag("SecretAccessKey").unwrap(),
        token: Some(r.tag("SessionToken").unwrap()),
    }
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// A trust policy letting role `from` assume with `actions`, with an optional condition.
fn chain_trust(from: &str, actions: &[&str], condition: Option<serde_json::Value>) -> String {
    let mut statement = serde_json::json!({
        "Effect": "Allow",
        "Principal": {"AWS": role_arn(from)},
        "Action": actions,
    });
    if let Some(condition) = condition {
        statement["Condition"] = condition;
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

async fn create_role(h: &Harness, name: &str, trust: &str) {
    h.iam(&[
        ("Action", "CreateRole"),
        ("RoleName", name),
        ("AssumeRolePolicyDocument", trust),
    ])
    .await
    .assert_ok();
}

async fn set_trust(h: &Harness, name: &str, trust: &str) {
    h.iam(&[
        ("Action", "UpdateAssumeRolePolicy"),
        ("RoleName", name),
        ("PolicyDocument", trust),
    ])
    .await
    .assert_ok();
}

/// The web-identity session of role `deploy` (the start of every chain here).
async fn deploy_session(h: &Harness) -> Creds {
    h.setup_role("deploy", &trust_policy(&["*"])).await;
    let r = h.assume("deploy", &h.mint(REPO)).await;
    r.assert_ok();
    creds_of(&r)
}

async fn assume(h: &Harness, creds: &Creds, role: &str, extra: &[(&str, &str)]) -> Resp {
    let arn = role_arn(role);
    let mut params = vec![
        ("Action", "AssumeRole"),
        ("RoleArn", arn.as_str()),
        ("RoleSessionName", "hop"),
    ];
    params.extend_from_slice(extra);
    h.call(&params, Some(creds)).await
}

fn denied(role: &str, caller_role: &str, action: &str) -> String {
    format!(
        "User: arn:aws:sts::{ACCOUNT}:assumed-role/{caller_role}/{} is not authorized to perform: {action} on resource: {}",
        if caller_role == "deploy" {
            "ci-session"
        } else {
            "hop"
        },
        role_arn(role)
    )
}

#[tokio::test]
async fn session_tags_on_a_chain_hop_need_sts_tag_session() {
    let h = Harness::new();
    let deploy = deploy_session(&h).await;
    create_role(
        &h,
        "target",
        &chain_trust("deploy", &["sts:AssumeRole"], None),
    )
    .await;
    let tagged = [
        ("Tags.member.1.Key", "Team"),
        ("Tags.member.1.Value", "payments"),
    ];
    assume(&h, &deploy, "target", &tagged).await.assert_error(
        403,
        "AccessDenied",
        &denied("target", "deploy", "sts:TagSession"),
    );
    // Without tags, sts:AssumeRole alone is enough.
    assume(&h, &deploy, "target", &[]).await.assert_ok();
    set_trust(
        &h,
        "target",
        &chain_trust(
            "deploy",
            &["sts:AssumeRole", "sts:TagSession"],
            Some(serde_json::json!({"StringEquals": {"aws:RequestTag/Team": "payments"}})),
        ),
    )
    .await;
    let r = assume(&h, &deploy, "target", &tagged).await;
    r.assert_ok();
    assert!(
        r.tag("PackedPolicySize").is_some(),
        "tags report their packed size: {}",
        r.body
    );
    // The condition on aws:RequestTag decides.
    let other = [
        ("Tags.member.1.Key", "Team"),
        ("Tags.member.1.Value", "growth"),
    ];
    assume(&h, &deploy, "target", &other).await.assert_error(
        403,
        "AccessDenied",
        &denied("target", "deploy", "sts:AssumeRole"),
    );
}

#[tokio::test]
async fn tag_parameters_are_checked_as_sts_checks_them() {
    let h = Harness::new();
    let deploy = deploy_session(&h).await;
    create_role(
        &h,
        "target",
        &chain_trust("deploy", &["sts:AssumeRole", "sts:TagSession"], None),
    )
    .await;
    assume(
        &h,
        &deploy,
        "target",
        &[
            ("Tags.member.1.Key", "Team"),
            ("Tags.member.1.Value", "a"),
            ("Tags.member.2.Key", "team"),
            ("Tags.member.2.Value", "b"),
        ],
    )
    .await
    .assert_error(
        400,
        "InvalidParameterValue",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    );
    assume(
        &h,
        &deploy,
        "target",
        &[
            ("Tags.member.1.Key", "aws:team"),
            ("Tags.member.1.Value", "a"),
        ],
    )
    .await
    .assert_error(
        400,
        "InvalidParameterValue",
        "The tag key aws:team uses the reserved prefix aws: and can't be set.",
    );
    assume(
        &h,
        &deploy,
        "target",
        &[
            ("Tags.member.1.Key", "Team"),
            ("Tags.member.1.Value", "a"),
            ("TransitiveTagKeys.member.1", "Other"),
        ],
    )
    .await
    .assert_error(
        400,
        "InvalidParameterValue",
        "The specified transitive tag key must be included in the requested tags.",
    );
    // A value outside IAM's tag character set is a model violation.
    let r = assume(
        &h,
        &deploy,
        "target",
        &[("Tags.member.1.Key", "Team"), ("Tags.member.1.Value", "#1")],
    )
    .await;
    assert_eq!(r.code(), "ValidationError", "{}", r.body);
    assert!(r.message().contains("tags.1.member.value"), "{}", r.body);
}

#[tokio::test]
async fn transitive_tags_pass_to_later_hops_and_cannot_be_overridden() {
    let h = Harness::new();
    let deploy = deploy_session(&h).await;
    create_role(
        &h,
        "first",
        &chain_trust("deploy", &["sts:AssumeRole", "sts:TagSession"], None),
    )
    .await;
    create_role(
        &h,
        "second",
        &chain_trust("first", &["sts:AssumeRole"], None),
    )
    .await;
    let r = assume(
        &h,
        &deploy,
        "first",
        &[
            ("Tags.member.1.Key", "Repository"),
            ("Tags.member.1.Value", "acme/site"),
            ("Tags.member.2.Key", "Commit"),
            ("Tags.member.2.Value", "0123abc"),
            ("TransitiveTagKeys.member.1", "Repository"),
        ],
    )
    .await;
    r.assert_ok();
    let first = creds_of(&r);
    // The next hop inherits the transitive tag, so it needs sts:TagSession even without tags of its own.
    assume(&h, &first, "second", &[]).await.assert_error(
        403,
        "AccessDenied",
        &denied("second", "first", "sts:TagSession"),
    );
    // Only the transitive tag passes on: a condition on the other one (Commit) fails, on Repository it holds.
    set_trust(
        &h,
        "second",
        &chain_trust(
            "first",
            &["sts:AssumeRole", "sts:TagSession"],
            Some(serde_json::json!({"StringEquals": {"aws:RequestTag/Commit": "0123abc"}})),
        ),
    )
    .await;
    assume(&h, &first, "second", &[]).await.assert_error(
        403,
        "AccessDenied",
        &denied("second", "first", "sts:AssumeRole"),
    );
    set_trust(
        &h,
        "second",
        &chain_trust(
            "first",
            &["sts:AssumeRole", "sts:TagSession"],
            Some(serde_json::json!({
                "StringEquals": {
                    "aws:RequestTag/Repository": "acme/site",
                    "aws:PrincipalTag/Commit": "0123abc",
                },
                "ForAllValues:StringEquals": {"sts:TransitiveTagKeys": ["Repository"]},
            })),
        ),
    )
    .await;
    let r = assume(&h, &first, "second", &[]).await;
    r.assert_ok();
    // A later hop cannot set a transitive key again, in any case.
    assume(
        &h,
        &first,
        "second",
        &[
            ("Tags.member.1.Key", "repository"),
            ("Tags.member.1.Value", "evil/fork"),
        ],
    )
    .await
    .assert_error(
        400,
        "InvalidParameterValue",
        "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
    );
}

#[tokio::test]
async fn source_identity_needs_set_source_identity_and_persists() {
    let h = Harness::new();
    let deploy = deploy_session(&h).await;
    create_role(
        &h,
        "first",
        &chain_trust("deploy", &["sts:AssumeRole"], None),
    )
    .await;
    create_role(
        &h,
        "second",
        &chain_trust("first", &["sts:AssumeRole"], None),
    )
    .await;
    let with_identity = [("SourceIdentity", "alice")];
    assume(&h, &deploy, "first", &with_identity)
        .await
        .assert_error(
            403,
            "AccessDenied",
            &denied("first", "deploy", "sts:SetSourceIdentity"),
        );
    set_trust(
        &h,
        "first",
        &chain_trust(
            "deploy",
            &["sts:AssumeRole", "sts:SetSourceIdentity"],
            Some(serde_json::json!({"StringEquals": {"sts:SourceIdentity": "alice"}})),
        ),
    )
    .await;
    assume(&h, &deploy, "first", &[("SourceIdentity", "bob")])
        .await
        .assert_error(
            403,
            "AccessDenied",
            &denied("first", "deploy", "sts:AssumeRole"),
        );
    let r = assume(&h, &deploy, "first", &with_identity).await;
    r.assert_ok();
    assert_eq!(r.tag("SourceIdentity").as_deref(), Some("alice"));
    let first = creds_of(&r);
    // The source identity is sticky: the next hop needs sts:SetSourceIdentity although it passes none.
    assume(&h, &first, "second", &[]).await.assert_error(
        403,
        "AccessDenied",
        &denied("second", "first", "sts:SetSourceIdentity"),
    );
    set_trust(
        &h,
        "second",
        &chain_trust(
            "first",
            &["sts:AssumeRole", "sts:SetSourceIdentity"],
            Some(serde_json::json!({"StringEquals": {"aws:SourceIdentity": "alice"}})),
        ),
    )
    .await;
    let r = assume(&h, &first, "second", &[]).await;
    r.assert_ok();
    assert_eq!(r.tag("SourceIdentity").as_deref(), Some("alice"));
    // The same value again is accepted; another is refused.
    assume(&h, &first, "second", &with_identity)
        .await
        .assert_ok();
    assume(&h, &first, "second", &[("SourceIdentity", "mallory")])
        .await
        .assert_error(
            400,
            "ValidationError",
            "The source identity is already set for this assume role session",
        );
    // AWS reserves `aws:`; the model's pattern already refuses the colon.
    let r = assume(&h, &deploy, "first", &[("SourceIdentity", "aws:me")]).await;
    assert_eq!(r.code(), "ValidationError", "{}", r.body);
    assert!(r.message().contains("sourceIdentity"), "{}", r.body);
}

#[tokio::test]
async fn external_id_is_matched_by_sts_external_id() {
    let h = Harness::new();
    let deploy = deploy_session(&h).await;
    create_role(
        &h,
        "partner",
        &chain_trust(
            "deploy",
            &["sts:AssumeRole"],
            Some(serde_json::json!({"StringEquals": {"sts:ExternalId": "partner-7f3a"}})),
        ),
    )
    .await;
    let refused = denied("partner", "deploy", "sts:AssumeRole");
    assume(&h, &deploy, "partner", &[])
        .await
        .assert_error(403, "AccessDenied", &refused);
    assume(&h, &deploy, "partner", &[("ExternalId", "partner-0000")])
        .await
        .assert_error(403, "AccessDenied", &refused);
    assume(&h, &deploy, "partner", &[("ExternalId", "partner-7f3a")])
        .await
        .assert_ok();
    let r = assume(&h, &deploy, "partner", &[("ExternalId", "x")]).await;
    assert_eq!(r.code(), "ValidationError", "{}", r.body);
    assert!(r.message().contains("externalId"), "{}", r.body);
}

#[tokio::test]
async fn packed_size_of_session_tags_is_limited() {
    let h = Harness::new();
    let deploy = deploy_session(&h).await;
    create_role(
        &h,
        "target",
        &chain_trust("deploy", &["sts:AssumeRole", "sts:TagSession"], None),
    )
    .await;
    // aws-actions/configure-aws-credentials#1898: nine tags T1..T9 with 250-character values,
    // "Packed size of session tags consumes 498% of allotted space." from AWS.
    let value = "a".repeat(250);
    let keys: Vec<(String, String)> = (1..=9)
        .map(|i| {
            (
                format!("Tags.member.{i}.Key"),
                format!("Tags.member.{i}.Value"),
            )
        })
        .collect();
    let names: Vec<String> = (1..=9).map(|i| format!("T{i}")).collect();
    let mut params: Vec<(&str, &str)> = Vec::new();
    for ((key_param, value_param), name) in keys.iter().zip(&names) {
        params.push((key_param, name));
        params.push((value_param, &value));
    }
    assume(&h, &deploy, "target", &params).await.assert_error(
        400,
        "PackedPolicyTooLarge",
        "Packed size of session tags consumes 498% of allotted space.",
    );
    // One such tag fits, and its size is reported.
    let r = assume(&h, &deploy, "target", &params[..2]).await;
    r.assert_ok();
    let size: u64 = r.tag("PackedPolicySize").unwrap().parse().unwrap();
    assert!((1..=100).contains(&size), "{size}");
}
