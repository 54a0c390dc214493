//! Least privilege from what really ran (issue 22, items 3 and 4): `keyless assume --record FILE -- CMD` with the real
//! AWS CLI and boto3 against moto_server, `keyless permissions from-record FILE`, and the policy it writes
//! checked by keyless-iam (allows exactly the recorded calls, denies one not made) and, differentially, by
//! `@cloud-copilot/iam-simulate`; then `keyless permissions check` proves keyless.yml policies against the recording.
//!
//! Tools: moto_server, aws and python (boto3) from KEYLESS_VENV, node and iam-simulate from KEYLESS_NODE_MODULES;
//! a missing tool skips, unless KEYLESS_REQUIRE_TOOLS=1.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use crate::support::{self, clients};

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use keyless_iam::{Context, Decision, Principal, Request};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const ROLE: &str = "arn:aws:iam::123456789012:role/deploy";
const REGION: &str = "eu-west-1";
const BUCKET: &str = "recorded-site";

/// An unsigned token shaped like Bitbucket's (moto's STS does not verify it; keyless only decodes it).
fn token() -> String {
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!(
        "{}.{}.c2lnbmF0dXJl",
        enc(json!({"alg": "RS256", "typ": "JWT", "kid": "k"})),
        enc(json!({
            "iss": "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
            "aud": "ari:cloud:bitbucket::workspace/44444444-4444-4444-8444-444444444444",
            "sub": "{11111111-1111-4111-8111-111111111111}:{22222222-2222-4222-8222-222222222222}",
            "iat": now, "exp": now + 3600,
        }))
    )
}

/// The step the recording runs: the AWS CLI (service commands and `aws s3 cp`) and boto3, then the session's key
/// and token written to `creds` so the test can prove the recording holds neither.
const STEP: &str = r#"set -e
aws s3api create-bucket --bucket "$BUCKET" --create-bucket-configuration LocationConstraint="$AWS_REGION" >/dev/null
echo '<h1>hello</h1>' > index.html
aws s3 cp index.html "s3://$BUCKET/site/index.html" >/dev/null
aws s3api list-objects-v2 --bucket "$BUCKET" >/dev/null
python - <<'PY'
import boto3
s3 = boto3.client("s3")
s3.head_object(Bucket=__import__("os").environ["BUCKET"], Key="site/index.html")
boto3.client("sts").get_caller_identity()
PY
printf '%s\n%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SESSION_TOKEN" > "$CREDS"
"#;

struct Recorded {
    dir: tempfile::TempDir,
    record: PathBuf,
    key: String,
    session_token: String,
}

fn record_step(venv: &Path, endpoint: &str) -> Recorded {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls.jsonl");
    let creds = dir.path().join("creds.txt");
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .args(["assume", "--role-arn", ROLE, "--region", REGION])
        .args(["--session-name", "recording-test", "--record"])
        .arg(&record)
        .args(["--", "sh", "-c", STEP])
        .current_dir(dir.path())
        .env_remove("AWS_PROFILE")
        .env("HOME", dir.path())
        .env("PATH", path)
        .env("BITBUCKET_STEP_OIDC_TOKEN", token())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .env("BUCKET", BUCKET)
        .env("CREDS", &creds)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "keyless assume --record: {stderr}");
    assert!(stderr.contains("keyless: recorded"), "{stderr}");
    let creds = std::fs::read_to_string(&creds).unwrap();
    let mut lines = creds.lines();
    let key = lines.next().unwrap().to_string();
    let session_token = lines.next().unwrap().to_string();
    assert!(key.len() >= 16 && session_token.len() >= 16, "{creds}");
    Recorded {
        dir,
        record,
        key,
        session_token,
    }
}

fn request(action: &str, region: &str) -> Request {
    Request {
        principal: Principal::aws(ROLE),
        action: action.into(),
        context: Context::new().with("aws:RequestedRegion", region),
    }
}

/// The resource each action acts on in the step, as AWS would authorise it.
fn resource(action: &str) -> String {
    match action {
        "s3:CreateBucket" | "s3:ListBucket" | "s3:DeleteBucket" => format!("arn:aws:s3:::{BUCKET}"),
        "s3:PutObject" | "s3:GetObject" | "s3:DeleteObject" => {
            format!("arn:aws:s3:::{BUCKET}/site/index.html")
        }
        "iam:CreateRole" => format!("arn:aws:iam::{ACCOUNT}:role/new"),
        "sts:AssumeRole" => format!("arn:aws:iam::{ACCOUNT}:role/other"),
        // sts:GetCallerIdentity has no resource-level permissions.
        _ => "*".into(),
    }
}

#[test]
fn recorded_cli_and_boto3_calls_become_a_policy_that_allows_exactly_them() {
    let (Some(_), Some(_)) = (support::venv_tool("aws"), support::venv_tool("python")) else {
        return;
    };
    let Some(moto) = support::Moto::start(&[]) else {
        return;
    };
    let endpoint = moto.endpoint.clone();
    let venv = support::venv();
    let recorded = record_step(&venv, &endpoint);

    // The recording: the contract's fields only, never the session's key or token.
    let text = std::fs::read_to_string(&recorded.record).unwrap();
    assert!(
        !text.contains(&recorded.key) && !text.contains(&recorded.session_token),
        "the recording leaks the session's credentials:\n{text}"
    );
    let mut apis = BTreeSet::new();
    for line in text.lines() {
        let value: Value = serde_json::from_str(line).unwrap();
        let keys: BTreeSet<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["v", "service", "api", "region", "fqdn", "count"]),
            "{line}"
        );
        assert_eq!(value["v"], 1);
        assert_eq!(value["region"], REGION, "{line}");
        assert!(
            value["fqdn"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{line}"
        );
        apis.insert(format!(
            "{} {}",
            value["service"].as_str().unwrap(),
            value["api"].as_str().unwrap()
        ));
    }
    let apis: Vec<&str> = apis.iter().map(String::as_str).collect();
    assert_eq!(
        apis,
        [
            "S3 CreateBucket",
            "S3 HeadObject",
            "S3 ListObjectsV2",
            "S3 PutObject",
            "STS GetCallerIdentity",
        ]
    );

    // Several recordings merge: counts add up.
    let again = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .args(["permissions", "from-record", "--format", "json"])
        .arg(&recorded.record)
        .arg(&recorded.record)
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let merged: Value = serde_json::from_slice(&again.stdout).unwrap();
    let put = merged["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["api"] == "PutObject")
        .unwrap();
    assert_eq!(put["count"], 2, "{merged}");

    // The policy.
    let output = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .args(["permissions", "from-record"])
        .arg(&recorded.record)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let policy: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(stderr.contains("narrow by hand"), "{stderr}");
    assert!(stderr.contains("s3:PutObject (S3 PutObject)"), "{stderr}");
    let document = keyless_iam::parse(&policy.to_string()).unwrap();

    // keyless-iam: every recorded call allowed (its actions, in its region, on its resource) ...
    let needed = [
        "s3:CreateBucket",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "sts:GetCallerIdentity",
    ];
    let mut cases = Vec::new();
    for action in needed {
        cases.push((action, REGION, Decision::Allow));
    }
    // ... and nothing else: calls the step did not make, and the same calls in another region.
    for action in [
        "s3:DeleteObject",
        "s3:DeleteBucket",
        "iam:CreateRole",
        "sts:AssumeRole",
    ] {
        cases.push((action, REGION, Decision::ImplicitDeny));
    }
    cases.push(("s3:PutObject", "us-east-1", Decision::ImplicitDeny));
    for (action, region, expected) in &cases {
        assert_eq!(
            document.decide_on(&request(action, region), &resource(action)),
            *expected,
            "{action} in {region} on {}\n{policy:#}",
            resource(action)
        );
    }

    // The same policy and requests through iam-simulate: the same answers.
    let (Some(node), Some(_)) = (
        clients::node(),
        support::require(
            support::node_modules().join("@cloud-copilot/iam-simulate"),
            "@cloud-copilot/iam-simulate",
        ),
    ) else {
        return;
    };
    let node_modules = std::fs::canonicalize(support::node_modules()).unwrap();
    let input: String = cases
        .iter()
        .map(|(action, region, _)| {
            json!({
                "identity": true,
                "policy": policy,
                "principal": ROLE,
                "action": action,
                "resource": resource(action),
                "account": ACCOUNT,
                "context": {"aws:RequestedRegion": region},
            })
            .to_string()
                + "\n"
        })
        .collect();
    // The iam crate's differential oracle, in its identity-policy mode.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../iam/tests/differential/oracle.mjs");
    let mut child = Command::new(node)
        .arg(script)
        .arg(&node_modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "iam-simulate oracle: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), cases.len());
    for ((action, region, expected), answer) in cases.iter().zip(&answers) {
        let want = match expected {
            Decision::Allow => "Allowed",
            Decision::ExplicitDeny => "ExplicitlyDenied",
            Decision::ImplicitDeny => "ImplicitlyDenied",
        };
        assert_eq!(
            answer["result"], want,
            "iam-simulate on {action} in {region}: {answer}"
        );
        assert!(
            answer["ignored"].as_array().is_none_or(Vec::is_empty),
            "iam-simulate ignored context keys for {action}: {answer}"
        );
    }
    check_roles_against(&recorded);
    drop(recorded.dir);
}

/// keyless.yml with the production role holding `policy` inline.
fn workspace(policy: &Value) -> String {
    format!(
        r#"version: 1
workspace:
  slug: acme
  uuid: "{{44444444-4444-4444-8444-444444444444}}"
environments:
  production:
    account: "{ACCOUNT}"
    region: {REGION}
    branches: [main]
    role:
      name: deploy
      inline_policies:
        site: {policy}
repositories:
  site:
    uuid: "{{11111111-1111-4111-8111-111111111111}}"
    deployments:
      production: "{{22222222-2222-4222-8222-222222222222}}"
"#
    )
}

/// `keyless permissions check`: the recorded calls against a hand-narrowed policy (all allowed), then against one
/// missing `s3:PutObject` (denied, exit 1), and what a broad statement allows beyond them.
fn check_roles_against(recorded: &Recorded) {
    let site = format!("arn:aws:s3:::{BUCKET}");
    let objects = format!("arn:aws:s3:::{BUCKET}/*");
    let narrowed = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:CreateBucket", "s3:ListBucket"], "Resource": site},
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": objects},
        {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]});
    let without_put = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:CreateBucket", "s3:ListBucket"], "Resource": site},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": objects},
        {"Effect": "Allow", "Action": ["sts:GetCallerIdentity", "cloudfront:*"], "Resource": "*"}]});
    let run = |policy: &Value| {
        let file = recorded.dir.path().join("keyless.yml");
        std::fs::write(&file, workspace(policy)).unwrap();
        let output = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
            .args(["permissions", "check", "--format", "json", "-c"])
            .arg(&file)
            .arg("--record")
            .arg(format!("production={}", recorded.record.display()))
            .env_remove("KEYLESS_CONFIG")
            .output()
            .unwrap();
        let value: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
        (output.status.code(), value)
    };
    let (code, value) = run(&narrowed);
    assert_eq!(code, Some(0), "{value:#}");
    assert_eq!(value["ok"], true);
    let role = &value["roles"][0];
    assert!(role["calls"].as_array().unwrap().len() >= 5, "{role:#}");
    assert_eq!(role["beyond"], json!([]), "{role:#}");

    let (code, value) = run(&without_put);
    assert_eq!(code, Some(1), "{value:#}");
    let calls = value["roles"][0]["calls"].as_array().unwrap();
    let put = calls
        .iter()
        .find(|c| c["action"] == "s3:PutObject")
        .unwrap();
    assert_eq!(put["verdict"], "denied", "{put}");
    assert!(
        calls
            .iter()
            .filter(|c| c["action"] != "s3:PutObject")
            .all(|c| c["verdict"] == "allowed"),
        "{calls:#?}"
    );
    let beyond = value["roles"][0]["beyond"].as_array().unwrap();
    assert_eq!(beyond.len(), 1, "{beyond:#?}");
    assert_eq!(beyond[0]["pattern"], "cloudfront:*");
}

#[test]
fn from_record_refuses_bad_input_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"v\":1,\"service\":\"S3\",\"api\":\"PutObject\",\"region\":null,\"fqdn\":null,\"count\":1}\nnot json\n",
    )
    .unwrap();
    let output = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .args(["permissions", "from-record"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.jsonl:2:"), "{stderr}");

    // A call with no known IAM action is listed and exits 1; the policy holds the rest.
    let unknown = dir.path().join("unknown.jsonl");
    std::fs::write(
        &unknown,
        "{\"v\":1,\"service\":\"S3\",\"api\":\"PutObject\",\"region\":null,\"fqdn\":null,\"count\":1}\n\
         {\"v\":1,\"service\":\"S3\",\"api\":\"NoSuchApi\",\"region\":null,\"fqdn\":null,\"count\":1}\n",
    )
    .unwrap();
    let output = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .args(["permissions", "from-record", "--format", "json"])
        .arg(&unknown)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["unknown"][0]["api"], "NoSuchApi");
    assert_eq!(
        result["policy"]["Statement"][0]["Action"],
        json!(["s3:PutObject"])
    );
}

/// The differential for `keyless permissions infer`'s AWS CLI table (issue 22, items 2 and 4): one pipeline's AWS
/// CLI lines run by the real AWS CLI against moto_server under `keyless assume --record`, and inferred from the
/// pipeline's text. The inferred policy (written into keyless.yml) allows every recorded call
/// (`keyless permissions check PIPELINE --record`), and grants exactly the actions the real CLI's calls need.
#[test]
fn inferred_aws_cli_policy_allows_exactly_what_the_real_cli_calls() {
    let Some(_) = support::venv_tool("aws") else {
        return;
    };
    let Some(moto) = support::Moto::start(&[]) else {
        return;
    };
    let endpoint = moto.endpoint.clone();
    let venv = support::venv();
    let dir = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let aws = |args: &[&str]| -> String {
        let output = Command::new("aws")
            .args(args)
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("HOME", dir.path())
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", dir.path().join("none"))
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", REGION)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "aws {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    // The account's state before the step (not recorded): a config bucket, the site bucket with a stale object
    // (so `sync --delete` deletes), a parameter and a distribution.
    std::fs::write(dir.path().join("site.json"), "{}").unwrap();
    for bucket in ["infer-config", "infer-site"] {
        aws(&[
            "s3api",
            "create-bucket",
            "--bucket",
            bucket,
            "--create-bucket-configuration",
            &format!("LocationConstraint={REGION}"),
        ]);
    }
    for (bucket, key) in [
        ("infer-config", "site.json"),
        ("infer-site", "app/stale.html"),
    ] {
        aws(&[
            "s3api",
            "put-object",
            "--bucket",
            bucket,
            "--key",
            key,
            "--body",
            "site.json",
        ]);
    }
    aws(&[
        "ssm",
        "put-parameter",
        "--name",
        "/infer/api-url",
        "--value",
        "api.example",
        "--type",
        "String",
    ]);
    let distribution = aws(&[
        "cloudfront",
        "create-distribution",
        "--origin-domain-name",
        "infer-site.s3.amazonaws.com",
        "--query",
        "Distribution.Id",
        "--output",
        "text",
    ]);

    // The step's script: the pipeline holds these lines, and the recording runs them.
    let script = [
        "export BUCKET=infer-site".to_owned(),
        format!("export DISTRIBUTION_ID={distribution}"),
        "aws sts get-caller-identity".to_owned(),
        "aws s3 cp s3://infer-config/site.json build/site.json".to_owned(),
        "aws s3 sync build s3://$BUCKET/app/ --delete".to_owned(),
        "aws s3api head-object --bucket $BUCKET --key app/index.html".to_owned(),
        "aws cloudfront create-invalidation --distribution-id $DISTRIBUTION_ID --paths '/app/*'"
            .to_owned(),
        "aws ssm get-parameter --name /infer/api-url --query Parameter.Value --output text"
            .to_owned(),
        "aws ecr get-login-password > /dev/null".to_owned(),
    ];
    let pipeline = format!(
        "pipelines:\n  branches:\n    main:\n      - step:\n          deployment: production\n          oidc: true\n          script:\n{}",
        script
            .iter()
            .map(|l| format!("            - {}\n", serde_json::to_string(l).unwrap()))
            .collect::<String>()
    );
    std::fs::write(dir.path().join("bitbucket-pipelines.yml"), &pipeline).unwrap();
    std::fs::create_dir(dir.path().join("build")).unwrap();
    std::fs::write(dir.path().join("build/index.html"), "<h1>hi</h1>").unwrap();
    let record = dir.path().join("calls.jsonl");
    let output = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .args(["assume", "--role-arn", ROLE, "--region", REGION])
        .args(["--session-name", "infer-differential", "--record"])
        .arg(&record)
        .args(["--", "sh", "-c"])
        .arg(format!("set -e\n{}\n", script.join("\n")))
        .current_dir(dir.path())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_REGION")
        .env("HOME", dir.path())
        .env("PATH", &path)
        .env("BITBUCKET_STEP_OIDC_TOKEN", token())
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "keyless assume --record: {stderr}");

    // Inferred from the pipeline's text and written into keyless.yml: nothing unknown, nothing to narrow by hand.
    std::fs::write(
        dir.path().join("keyless.yml"),
        workspace(&json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]})),
    )
    .unwrap();
    let keyless = |args: &[&str]| {
        let output = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("KEYLESS_CONFIG")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let (code, inferred, stderr) = keyless(&[
        "permissions",
        "infer",
        "-c",
        "keyless.yml",
        "bitbucket-pipelines.yml",
        "--write",
    ]);
    assert_eq!(code, Some(0), "{stderr}\n{inferred}");
    let inferred: Value = serde_json::from_str(&inferred).unwrap();
    assert_eq!(inferred["unknown"], json!([]), "{inferred:#}");
    assert_eq!(inferred["narrow_by_hand"], json!([]), "{inferred:#}");

    // Every recorded call is allowed by the inferred policy, and so is every inferred call.
    let (code, checked, stderr) = keyless(&[
        "permissions",
        "check",
        "-c",
        "keyless.yml",
        "bitbucket-pipelines.yml",
        "--record",
        &format!("production={}", record.display()),
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{stderr}\n{checked}");
    let checked: Value = serde_json::from_str(&checked).unwrap();
    let calls = checked["roles"][0]["calls"].as_array().unwrap();
    assert!(
        calls.iter().any(|c| c["from"]
            .as_str()
            .unwrap()
            .contains("calls.jsonl: CloudFront CreateInvalidation")),
        "{checked:#}"
    );
    assert!(
        calls.iter().all(|c| c["verdict"] == "allowed"),
        "{checked:#}"
    );

    // Exactly: the actions the inferred policy grants are the actions the real CLI's calls need.
    let (code, from_record, stderr) = keyless(&[
        "permissions",
        "from-record",
        "--format",
        "json",
        &record.display().to_string(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let from_record: Value = serde_json::from_str(&from_record).unwrap();
    let recorded: BTreeSet<String> = from_record["calls"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["actions"].as_array().unwrap())
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let granted: BTreeSet<String> = inferred["roles"][0]["statements"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| match &n["statement"]["Action"] {
            Value::String(one) => vec![one.clone()],
            Value::Array(list) => list
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect(),
            _ => vec![],
        })
        .collect();
    assert_eq!(granted, recorded, "inferred vs recorded\n{from_record:#}");
    assert_eq!(
        recorded.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "cloudfront:CreateInvalidation",
            "ecr:GetAuthorizationToken",
            "s3:DeleteObject",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutObject",
            "ssm:GetParameter",
            "sts:GetCallerIdentity",
        ]
    );
}
