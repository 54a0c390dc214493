//! The seed-recipe conformance suite: the practitioner articles' step scripts (`../shared/seeds` 000, 001, 003,
//! 004), verbatim up to getting credentials, run in bash against a spawned `keyless emulate` with three real
//! clients: the AWS CLI v1 and boto3 (project venv) and the AWS SDK for JavaScript v3 (project node_modules).
//! Terraform runs the same recipes in `terraform_e2e.rs`.
//!
//! What is *not* verbatim, and why (each listed again where it happens):
//! - The deploy command (`npm install` + `npx cdk synth`, `cdk deploy …`, the `aws-s3-deploy` pipe's upload) is
//!   replaced by each client's `get-caller-identity`: no CDK app, bucket or Docker engine exists here.
//! - `AWS_ENDPOINT_URL` points the clients at the emulator (on AWS, DNS does that).
//! - Seed 003's `~/.aws` directory exists before the script (an image with the AWS CLI has it; `echo >>` into a
//!   missing directory fails on any machine); its `AWS_ROLE_ARN` comes "from the deployment variables", as the
//!   article says. Its pipe step runs keyless's own `integrations/pipe/pipe.sh` (Atlassian's pipe images need
//!   Docker) with the article's variables, `accountid`/`RoleName` filled in.
//! - Seed 004's lines are JavaScript strings a Dynamic Pipeline emits: template literals (backticks) are
//!   interpolated as JavaScript would (`envPrefix`, `roleArn`); single-quoted ones reach the shell literally, so
//!   `${region}` is a shell variable, given here as a repository variable `region`.
//!
//! Every line is checked to occur verbatim in its seed file, so the suite cannot drift from the articles.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use crate::support::{self, clients};

use std::path::PathBuf;
use std::process::Command;

use clients::{AUDIENCE, SpawnedEmulator, issuer, trust_policy};
use serde_json::{Value, json};

const ACCOUNT: &str = "012345678901";
const SLUG: &str = "seedws";
const REPO: &str = "{11111111-1111-4111-8111-111111111111}";
const OTHER_REPO: &str = "{99999999-9999-4999-8999-999999999999}";

/// One client: how a step calls `get-caller-identity` with it (the deploy command's replacement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    AwsCli,
    Boto3,
    JsSdk,
}

impl Client {
    const ALL: [Client; 3] = [Client::AwsCli, Client::Boto3, Client::JsSdk];

    /// The shell line that replaces the article's deploy command. Each prints the caller identity as JSON, or
    /// fails printing `Code: Message`-bearing text on stderr.
    fn whoami(self) -> &'static str {
        match self {
            Client::AwsCli => "aws sts get-caller-identity --output json",
            Client::Boto3 => {
                "python -c 'import boto3, json; print(json.dumps(boto3.client(\"sts\").get_caller_identity()))'"
            }
            Client::JsSdk => {
                "node -e 'const {STSClient, GetCallerIdentityCommand} = require(\"@aws-sdk/client-sts\"); \
                 new STSClient({}).send(new GetCallerIdentityCommand({})).then(r => console.log(JSON.stringify(r)), \
                 e => { console.error(`An error occurred (${e.Code ?? e.name}): ${e.message}`); process.exit(1); })'"
            }
        }
    }
}

/// Everything a step needs: the emulator, the tools, a clone directory and a HOME.
struct Step {
    emu: SpawnedEmulator,
    venv_bin: PathBuf,
    node_modules: PathBuf,
}

/// What a step script printed.
struct Outcome {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn arn(&self) -> String {
        assert!(
            self.ok,
            "the step failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        let json_line = self
            .stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .or_else(|| self.stdout.find('{').map(|i| &self.stdout[i..]))
            .unwrap_or_else(|| panic!("no JSON in {}", self.stdout));
        let value: Value = serde_json::from_str(json_line).unwrap_or_else(|_| {
            let start = self.stdout.find('{').unwrap();
            serde_json::from_str(&self.stdout[start..]).unwrap()
        });
        value["Arn"].as_str().unwrap().to_owned()
    }

    fn assert_error(&self, code: &str, message: &str) {
        assert!(!self.ok, "the step succeeded:\n{}", self.stdout);
        assert!(
            self.stderr.contains(&format!("({code})")) && self.stderr.contains(message),
            "expected ({code}) {message}, got:\n{}",
            self.stderr
        );
    }
}

fn seed_text(prefix: &str) -> String {
    let dir = support::repo_root().join("../shared/seeds");
    let entry = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the seeds live in ../shared)", dir.display()))
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no seed {prefix}_* in {}", dir.display()));
    std::fs::read_to_string(entry).unwrap()
}

/// Asserts every line occurs verbatim in the seed.
fn assert_verbatim(seed: &str, lines: &[&str]) {
    let text = seed_text(seed);
    for line in lines {
        assert!(
            text.contains(line),
            "seed {seed} no longer contains `{line}`"
        );
    }
}

impl Step {
    fn new() -> Option<Self> {
        let venv_bin = support::venv_tool("aws")?.parent().unwrap().to_owned();
        support::venv_tool("python")?;
        let node_modules = clients::js_sdk()?;
        clients::node()?;
        let emu = SpawnedEmulator::start(&[ACCOUNT], &[]);
        let step = Self {
            emu,
            venv_bin,
            node_modules,
        };
        step.setup_iam();
        Some(step)
    }

    /// The provider and the articles' roles, each trusting `REPO` in the workspace.
    fn setup_iam(&self) {
        let iam = self.emu.iam(ACCOUNT);
        let trust = trust_policy(ACCOUNT, SLUG, &[&format!("{REPO}:*")]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            iam.create_open_id_connect_provider()
                .url(issuer(SLUG))
                .client_id_list(AUDIENCE)
                .send()
                .await
                .unwrap();
            for role in [
                "IAMRoleForBitBucket",
                "exampleBitbucketDeployRole",
                "RoleName",
                "dynamic-prod",
            ] {
                iam.create_role()
                    .role_name(role)
                    .assume_role_policy_document(trust.to_string())
                    .send()
                    .await
                    .unwrap();
            }
        });
    }

    fn token(&self, repo: &str) -> String {
        self.emu.mint(SLUG, repo, json!({"branch": "main"}))
    }

    /// Runs `lines` as one Bitbucket step script (bash, stop at the first failing line) in a fresh clone
    /// directory and HOME, with `BITBUCKET_STEP_OIDC_TOKEN` and the extra variables.
    fn run(&self, token: &str, vars: &[(&str, &str)], lines: &[String]) -> Outcome {
        let dir = tempfile::tempdir().unwrap();
        let clone = dir.path().join("build");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&clone).unwrap();
        std::fs::create_dir_all(home.join(".aws")).unwrap();
        let script = format!("set -e\n{}\n", lines.join("\n"));
        let path = format!(
            "{}:{}:{}",
            self.venv_bin.display(),
            self.node_modules.join(".bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg(&script)
            .current_dir(&clone)
            .env_clear()
            .env("PATH", path)
            .env("HOME", &home)
            .env("NODE_PATH", &self.node_modules)
            .env("BITBUCKET_CLONE_DIR", &clone)
            .env("BITBUCKET_STEP_OIDC_TOKEN", token)
            .env("AWS_ENDPOINT_URL", &self.emu.endpoint)
            // botocore reads AWS_DEFAULT_REGION, not AWS_REGION (which seeds 000/001 set): with no region it uses
            // the global STS endpoint against AWS, which signs for us-east-1; with an endpoint override it cannot
            // fall back and stops with "You must specify a region". A recipe that sets it (004) overrides this.
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_PAGER", "")
            // botocore retries InvalidIdentityToken; keep refusals quick without changing what is sent.
            .env("AWS_MAX_ATTEMPTS", "1");
        for (k, v) in vars {
            command.env(k, v);
        }
        let out = command.output().unwrap();
        Outcome {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn role_arn(role: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{role}")
}

fn assumed(role: &str) -> String {
    format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/")
}

/// Seed 000 ("Deploying (CDK) to AWS using Bitbucket Pipelines and OIDC"), the CDK Synth step.
const SEED_000: [&str; 4] = [
    "- export AWS_REGION=eu-west-1",
    "- export AWS_ROLE_ARN=arn:aws:iam::012345678901:role/IAMRoleForBitBucket",
    "- export AWS_WEB_IDENTITY_TOKEN_FILE=$(pwd)/web-identity-token",
    "- echo $BITBUCKET_STEP_OIDC_TOKEN > $(pwd)/web-identity-token",
];
/// Replaced by `get-caller-identity`.
const SEED_000_REPLACED: [&str; 2] = ["- npm install", "- npx cdk synth"];

fn seed_000(client: Client) -> Vec<String> {
    SEED_000
        .iter()
        .map(|l| l.trim_start_matches("- ").to_owned())
        .chain([client.whoami().to_owned()])
        .collect()
}

/// Seed 001 ("Configure OpenID Connect for Bitbucket in AWS CDK"): one step, printed on one line in the article.
const SEED_001: [&str; 4] = [
    "- export AWS_REGION=eu-west-1",
    "- export AWS_ROLE_ARN=arn:aws:iam::012345678901:role/exampleBitbucketDeployRole",
    "- export AWS_WEB_IDENTITY_TOKEN_FILE=$(pwd)/web-identity-token",
    "- echo $BITBUCKET_STEP_OIDC_TOKEN > $(pwd)/web-identity-token",
];
const SEED_001_REPLACED: &str = "- cdk deploy --app \"ts-node openid-connect-bitbucket/main.ts\" \"*bitbucket-oidc\" --require-approval never";

/// Seed 003 (Sykes: "If you are using a base image you need to set up the CLI manually").
const SEED_003: [&str; 5] = [
    "export AWS_WEB_IDENTITY_TOKEN_FILE=~/.aws/web-identity-token",
    "echo \"${BITBUCKET_STEP_OIDC_TOKEN}\" >> ${AWS_WEB_IDENTITY_TOKEN_FILE}",
    "chmod 400 ${AWS_WEB_IDENTITY_TOKEN_FILE}",
    "aws configure set web_identity_token_file ${AWS_WEB_IDENTITY_TOKEN_FILE}",
    "aws configure set role_arn ${AWS_ROLE_ARN}",
];
/// The article's own check, run as written for the AWS CLI.
const SEED_003_CHECK: &str = "aws sts get-caller-identity";

fn seed_003(client: Client) -> Vec<String> {
    let check = match client {
        Client::AwsCli => SEED_003_CHECK,
        other => other.whoami(),
    };
    SEED_003
        .iter()
        .map(|l| (*l).to_owned())
        .chain([check.to_owned()])
        .collect()
}

/// Seed 003's variables: the role "from the deployment variables", and AWS_REGION: the recipe sets no region, and
/// the JS SDK needs one (aws.md §5; the AWS CLI and boto3 use the global endpoint, see `Step::run`).
fn seed_003_vars(role: &str) -> Vec<(&'static str, &str)> {
    vec![("AWS_ROLE_ARN", role), ("AWS_REGION", "us-east-1")]
}

/// Seed 004 (Dynamic Pipelines): the `oidcSetupSteps` array as the article writes it, JavaScript source.
const SEED_004: [&str; 6] = [
    "`echo \"Setting up ${envPrefix} OIDC credentials\"`",
    "'export AWS_REGION=${region}'",
    "'export AWS_DEFAULT_REGION=${region}'",
    "`export AWS_ROLE_ARN=${roleArn}`",
    "'export AWS_WEB_IDENTITY_TOKEN_FILE=$(pwd)/web-identity-token'",
    "'echo $BITBUCKET_STEP_OIDC_TOKEN > $AWS_WEB_IDENTITY_TOKEN_FILE'",
];

/// What the Dynamic Pipeline emits: template literals interpolated, quoted strings literal.
fn seed_004(client: Client, env_prefix: &str, role_arn: &str) -> Vec<String> {
    SEED_004
        .iter()
        .map(|js| {
            let inner = &js[1..js.len() - 1];
            if js.starts_with('`') {
                inner
                    .replace("${envPrefix}", env_prefix)
                    .replace("${roleArn}", role_arn)
            } else {
                inner.to_owned()
            }
        })
        .chain([client.whoami().to_owned()])
        .collect()
}

#[test]
fn the_recipes_are_quoted_verbatim() {
    assert_verbatim("000", &SEED_000);
    assert_verbatim("000", &SEED_000_REPLACED);
    assert_verbatim("001", &SEED_001.map(|l| &l[2..]));
    assert_verbatim("001", &[&SEED_001_REPLACED[2..]]);
    assert_verbatim("003", &SEED_003);
    assert_verbatim("003", &[SEED_003_CHECK]);
    assert_verbatim(
        "003",
        &[
            "pipe: atlassian/aws-s3-deploy:1.1.0",
            "AWS_DEFAULT_REGION: 'eu-west-1'",
            "AWS_OIDC_ROLE_ARN: 'arn:aws:iam::accountid:role/RoleName'",
        ],
    );
    assert_verbatim("004", &SEED_004);
    // The rendering of seed 004 is what bash would run.
    assert_eq!(
        seed_004(Client::AwsCli, "PROD", "arn:x")[..6],
        [
            "echo \"Setting up PROD OIDC credentials\"",
            "export AWS_REGION=${region}",
            "export AWS_DEFAULT_REGION=${region}",
            "export AWS_ROLE_ARN=arn:x",
            "export AWS_WEB_IDENTITY_TOKEN_FILE=$(pwd)/web-identity-token",
            "echo $BITBUCKET_STEP_OIDC_TOKEN > $AWS_WEB_IDENTITY_TOKEN_FILE",
        ]
    );
}

#[test]
fn every_recipe_gets_credentials_with_every_client() {
    let Some(step) = Step::new() else { return };
    let token = step.token(REPO);
    for client in Client::ALL {
        let out = step.run(&token, &[], &seed_000(client));
        assert!(
            out.arn().starts_with(&assumed("IAMRoleForBitBucket")),
            "seed 000 with {client:?}: {}",
            out.arn()
        );
        let lines: Vec<String> = SEED_001
            .iter()
            .map(|l| l[2..].to_owned())
            .chain([client.whoami().to_owned()])
            .collect();
        let out = step.run(&token, &[], &lines);
        assert!(
            out.arn()
                .starts_with(&assumed("exampleBitbucketDeployRole")),
            "seed 001 with {client:?}"
        );

        // Seed 003: the role from a deployment variable; see `seed_003_vars` for the region.
        let role = role_arn("RoleName");
        let out = step.run(&token, &seed_003_vars(&role), &seed_003(client));
        assert!(
            out.arn().starts_with(&assumed("RoleName")),
            "seed 003 with {client:?}"
        );

        let prod = role_arn("dynamic-prod");
        let out = step.run(
            &token,
            &[("region", "eu-west-1")],
            &seed_004(client, "PROD", &prod),
        );
        assert!(
            out.stdout.contains("Setting up PROD OIDC credentials"),
            "{}",
            out.stdout
        );
        assert!(
            out.arn().starts_with(&assumed("dynamic-prod")),
            "seed 004 with {client:?}"
        );
    }
}

/// Seed 003's pipe step: `atlassian/aws-s3-deploy` with `AWS_OIDC_ROLE_ARN` + `AWS_DEFAULT_REGION`, run through
/// keyless's pipe (`integrations/pipe/pipe.sh`, COMMAND=assume) with the upload replaced by the AWS CLI's
/// `get-caller-identity` under the credentials the pipe obtained.
#[test]
fn the_pipe_variables_of_seed_003_get_credentials() {
    let Some(step) = Step::new() else { return };
    let token = step.token(REPO);
    let keyless = assert_cmd::cargo::cargo_bin("keyless");
    let bin_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&keyless, bin_dir.path().join("keyless")).unwrap();
    let pipe = support::repo_root().join("integrations/pipe/pipe.sh");
    let role = role_arn("RoleName");
    let script = format!(
        "export PATH={}:$PATH\nbash {}",
        bin_dir.path().display(),
        pipe.display()
    );
    let out = step.run(
        &token,
        &[
            ("COMMAND", "assume"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_OIDC_ROLE_ARN", &role),
            ("SCRIPT", "aws sts get-caller-identity --output json"),
        ],
        &[script],
    );
    assert!(
        out.arn().starts_with(&assumed("RoleName")),
        "{}",
        out.stderr
    );
}

/// The refusals each client must see through the recipe, with AWS's code and message.
#[test]
fn every_client_sees_aws_refusals_through_the_recipe() {
    let Some(step) = Step::new() else { return };
    let good = step.token(REPO);
    let other_repo = step.token(OTHER_REPO);
    // A token of the same workspace slug whose workspace UUID (so audience) is another workspace's.
    let wrong_audience = step.emu.mint(
        SLUG,
        REPO,
        json!({"workspace_uuid": "{55555555-5555-4555-8555-555555555555}", "branch": "main"}),
    );
    let tampered = {
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let mut claims = keyless_oidc::decode_unverified(&good).unwrap().claims;
        claims.insert("sub".into(), json!(format!("{OTHER_REPO}:{{x}}")));
        parts[1] = keyless_oidc::encode_compact(&json!({}), &Value::Object(claims), b"")
            .split('.')
            .nth(1)
            .unwrap()
            .to_owned();
        parts.join(".")
    };
    for client in Client::ALL {
        step.run(&other_repo, &[], &seed_000(client)).assert_error(
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        );
        step.run(&wrong_audience, &[], &seed_000(client))
            .assert_error("InvalidIdentityToken", "Incorrect token audience");
        step.run(&tampered, &[], &seed_000(client))
            .assert_error("InvalidIdentityToken", "Invalid token signature");
        // Seed 003's `>>` run twice (a re-run step on a persistent runner): two lines, refused.
        let role = role_arn("RoleName");
        let mut twice = seed_003(client);
        twice.insert(1, SEED_003[1].to_owned());
        step.run(&good, &seed_003_vars(&role), &twice).assert_error(
            "InvalidIdentityToken",
            "was the token file written more than once?",
        );
    }
}

/// The token file the recipe writes holds the token plus one newline, and the emulator took it: this is the case
/// the issue measured failing (`signature is not base64url: invalid byte 0x0a`).
#[test]
fn the_recipe_token_file_ends_with_a_newline() {
    let Some(step) = Step::new() else { return };
    let token = step.token(REPO);
    let mut lines: Vec<String> = SEED_000[..4]
        .iter()
        .map(|l| l.trim_start_matches("- ").to_owned())
        .collect();
    lines.push("od -c web-identity-token | tail -2".into());
    let out = step.run(&token, &[], &lines);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("\\n"), "{}", out.stdout);
}
