//! Shared helpers for the emulator's in-process tests: an emulator driven through `oneshot` (no socket),
//! a SigV4 signer (the official `aws-sigv4`), and a tiny reader for AWS XML responses.
#![allow(clippy::unwrap_used, dead_code)]

use std::net::SocketAddr;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use keyless_emulator::{Config, Emulator};
use keyless_oidc::{BracedUuid, MintRequest};
use tower::ServiceExt as _;

pub const ACCOUNT: &str = "123456789012";
pub const OTHER_ACCOUNT: &str = "210987654321";
pub const WORKSPACE: &str = "acme";
pub const WS_UUID: &str = "{44444444-4444-4444-8444-444444444444}";
pub const REPO: &str = "{11111111-1111-4111-8111-111111111111}";
pub const OTHER_REPO: &str = "{99999999-9999-4999-8999-999999999999}";
pub const ISSUER: &str =
    "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";
pub const PROVIDER_URL: &str =
    "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";
pub const AUDIENCE: &str = "ari:cloud:bitbucket::workspace/44444444-4444-4444-8444-444444444444";

/// Credentials to sign with.
#[derive(Clone)]
pub struct Creds {
    pub access_key_id: String,
    pub secret: String,
    pub token: Option<String>,
}

/// A response, with the AWS XML fields easy to reach.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: String,
    pub request_id: Option<String>,
    pub content_type: Option<String>,
}

impl Resp {
    /// The text of the first `<name>` element.
    pub fn tag(&self, name: &str) -> Option<String> {
        let open = format!("<{name}>");
        let start = self.body.find(&open)? + open.len();
        let end = self.body[start..].find(&format!("</{name}>"))? + start;
        Some(unescape(&self.body[start..end]))
    }

    pub fn code(&self) -> String {
        self.tag("Code").unwrap_or_default()
    }

    pub fn message(&self) -> String {
        self.tag("Message").unwrap_or_default()
    }

    /// Asserts an AWS error with this status, code and message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, message: &str) {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.body);
        assert_eq!(self.code(), code, "code; body: {}", self.body);
        assert_eq!(self.message(), message, "message; body: {}", self.body);
        assert!(self.body.contains("<ErrorResponse xmlns="), "{}", self.body);
        assert_eq!(
            self.tag("RequestId"),
            self.request_id,
            "RequestId matches x-amzn-RequestId"
        );
        assert_eq!(
            self.tag("Type").as_deref(),
            Some(if status < 500 { "Sender" } else { "Receiver" })
        );
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        assert!(self.request_id.is_some());
        assert_eq!(self.content_type.as_deref(), Some("text/xml"));
        self
    }
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

pub struct Harness {
    pub emulator: Emulator,
    pub admin: Creds,
    pub other_admin: Creds,
    pub peer: SocketAddr,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(Config {
            accounts: vec![ACCOUNT.into(), OTHER_ACCOUNT.into()],
            ..Config::local()
        })
    }

    pub fn with_config(config: Config) -> Self {
        let emulator = Emulator::new(&config).unwrap();
        let accounts = emulator.accounts();
        let creds = |id: &str| {
            accounts.get(id).map(|a| Creds {
                access_key_id: a.access_key_id.clone(),
                secret: a.secret_access_key.expose().to_owned(),
                token: None,
            })
        };
        let admin = creds(ACCOUNT)
            .or_else(|| {
                accounts.values().next().map(|a| Creds {
                    access_key_id: a.access_key_id.clone(),
                    secret: a.secret_access_key.expose().to_owned(),
                    token: None,
                })
            })
            .unwrap();
        let other_admin = creds(OTHER_ACCOUNT).unwrap_or_else(|| admin.clone());
        Self {
            emulator,
            admin,
            other_admin,
            peer: "203.0.113.7:50000".parse().unwrap(),
        }
    }

    /// Sends a raw request through the router.
    pub async fn raw(&self, request: Request<Body>) -> Resp {
        let mut request = request;
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let response = self.emulator.app().oneshot(request).await.unwrap();
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-amzn-requestid")
            .map(|v| v.to_str().unwrap().to_owned());
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
            request_id,
            content_type,
        }
    }

    /// A Query call: form body, signed with `creds` (for the service of the action) when given.
    pub async fn call(&self, params: &[(&str, &str)], creds: Option<&Creds>) -> Resp {
        self.call_at(params, creds, SystemTime::now(), &[]).await
    }

    pub async fn call_at(
        &self,
        params: &[(&str, &str)],
        creds: Option<&Creds>,
        at: SystemTime,
        extra: &[(&str, &str)],
    ) -> Resp {
        let body = form(params);
        let action = params
            .iter()
            .find(|(k, _)| *k == "Action")
            .map(|(_, v)| *v)
            .unwrap_or_default();
        let service = if keyless_emulator::sts::ACTIONS.contains(&action) {
            "sts"
        } else {
            "iam"
        };
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), "127.0.0.1:4566".into()),
            (
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            ),
        ];
        for (k, v) in extra {
            headers.push(((*k).into(), (*v).into()));
        }
        if let Some(creds) = creds {
            headers.extend(sign(
                "POST",
                "http://127.0.0.1:4566/",
                &headers,
                body.as_bytes(),
                service,
                creds,
                at,
            ));
        }
        let mut builder = Request::builder().method("POST").uri("/");
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        self.raw(builder.body(Body::from(body)).unwrap()).await
    }

    pub async fn iam(&self, params: &[(&str, &str)]) -> Resp {
        self.call(params, Some(&self.admin)).await
    }

    /// Creates the acme provider (with the workspace audience) and a role trusting it for `REPO`.
    pub async fn setup_role(&self, name: &str, trust: &str) {
        self.iam(&[
            ("Action", "CreateOpenIDConnectProvider"),
            ("Version", "2010-05-08"),
            ("Url", ISSUER),
            ("ClientIDList.member.1", AUDIENCE),
        ])
        .await;
        self.iam(&[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("AssumeRolePolicyDocument", trust),
        ])
        .await
        .assert_ok();
    }

    pub fn mint(&self, repo: &str) -> String {
        let repo = repo.parse().unwrap();
        self.mint_with(|r| r.repository_uuid = repo)
    }

    pub fn mint_with(&self, edit: impl FnOnce(&mut MintRequest)) -> String {
        let mut request = MintRequest::new(
            WORKSPACE,
            WS_UUID.parse::<BracedUuid>().unwrap(),
            REPO.parse().unwrap(),
        );
        edit(&mut request);
        self.emulator.mint(&request).unwrap().token.into_inner()
    }

    pub async fn assume(&self, role: &str, token: &str) -> Resp {
        let arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
        self.call(
            &[
                ("Action", "AssumeRoleWithWebIdentity"),
                ("Version", "2011-06-15"),
                ("RoleArn", &arn),
                ("RoleSessionName", "ci-session"),
                ("WebIdentityToken", token),
            ],
            None,
        )
        .await
    }
}

/// A trust policy for the acme provider that allows `sub` patterns.
pub fn trust_policy(sub_patterns: &[&str]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{PROVIDER_URL}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {format!("{PROVIDER_URL}:aud"): AUDIENCE},
                "StringLike": {format!("{PROVIDER_URL}:sub"): sub_patterns},
            }
        }]
    })
    .to_string()
}

pub fn form(params: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

/// Signs with the official `aws-sigv4` signer; returns the headers to add.
pub fn sign(
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: &[u8],
    service: &str,
    creds: &Creds,
    at: SystemTime,
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4::SigningParams;
    let identity = aws_credential_types::Credentials::new(
        creds.access_key_id.clone(),
        creds.secret.clone(),
        creds.token.clone(),
        None,
        "test",
    )
    .into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        method,
        uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
