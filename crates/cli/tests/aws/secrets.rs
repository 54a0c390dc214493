//! Secrets reach stdout only from `env` and `credential-process`: every command runs with the step token and
//! with real session secrets around (plus a canary token file), and every other output is searched for them.
#![allow(clippy::unwrap_used)]

use crate::support::assume as support;

use support::*;

const CANARY: &str = "canary-token-9f2b7c1e-keyless-must-never-print-this";

#[test]
fn no_secret_leaves_through_stderr_logs_or_errors() {
    let fixture = Fixture::start();
    let home = tempfile::tempdir().unwrap();
    let token = fixture.token(false, None);

    // The session secrets keyless hands out: the only legitimate place for them is env / credential-process stdout.
    let env_out = fixture
        .keyless(&token, home.path())
        .args(["env", "--format", "json"])
        .output()
        .unwrap();
    assert!(env_out.status.success());
    let vars: serde_json::Value = serde_json::from_slice(&env_out.stdout).unwrap();
    let cp_out = fixture
        .keyless(&token, home.path())
        .arg("credential-process")
        .output()
        .unwrap();
    let cp: serde_json::Value = serde_json::from_slice(&cp_out.stdout).unwrap();
    let mut secrets = vec![
        token.clone(),
        token.split('.').nth(2).unwrap().to_owned(), // the signature alone
        CANARY.to_owned(),
        vars["AWS_SECRET_ACCESS_KEY"].as_str().unwrap().to_owned(),
        vars["AWS_SESSION_TOKEN"].as_str().unwrap().to_owned(),
        cp["SecretAccessKey"].as_str().unwrap().to_owned(),
        cp["SessionToken"].as_str().unwrap().to_owned(),
    ];
    secrets.retain(|s| s.len() >= 16);
    assert!(!String::from_utf8_lossy(&env_out.stderr).contains(&token));
    assert!(!String::from_utf8_lossy(&cp_out.stderr).contains(&token));

    let canary_file = home.path().join("canary-token");
    std::fs::write(&canary_file, CANARY).unwrap();
    let config = home.path().join("config");
    let prod = role(ACCOUNT_A, "prod");
    let closed = role(ACCOUNT_B, "closed");
    let canary_path = canary_file.to_str().unwrap();
    // (arguments, whether stdout may carry secrets)
    let runs: Vec<(Vec<&str>, bool)> = vec![
        (vec!["env"], true),
        (vec!["env", "--format", "fish"], true),
        (vec!["env", "--role-arn", &prod], false),
        (vec!["env", "--chain", &closed], false),
        (vec!["env", "--token-file", canary_path], false),
        (vec!["env", "--duration", "3h"], false),
        (
            vec![
                "env",
                "--endpoint-url",
                "http://127.0.0.1:9",
                "--timeout",
                "1s",
            ],
            false,
        ),
        (vec!["credential-process"], true),
        (vec!["credential-process", "--role-arn", &prod], false),
        (
            vec!["credential-process", "--token-file", canary_path],
            false,
        ),
        (vec!["assume", "--", "true"], false),
        (vec!["assume", "--role-arn", &prod, "--", "true"], false),
        (
            vec!["assume", "--token-file", canary_path, "--", "true"],
            false,
        ),
        (vec!["configure", "--profile", "canary"], false),
        (vec!["configure", "--profile", "canary"], false),
        (
            vec!["configure", "--profile", "bad", "--token-file", canary_path],
            false,
        ),
        (vec!["doctor"], false),
        (vec!["doctor", "--format", "json"], false),
        (vec!["doctor", "--role-arn", &prod], false),
        (vec!["doctor", "--token-file", canary_path], false),
        (vec!["doctor", "--offline", "--format", "json"], false),
    ];
    for (args, stdout_may_hold_secrets) in runs {
        let output = fixture
            .keyless(&token, home.path())
            .env("AWS_CONFIG_FILE", &config)
            .env("RUST_LOG", "trace")
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        for secret in &secrets {
            assert!(
                !stderr.contains(secret.as_str()),
                "{args:?} leaked a secret on stderr:\n{stderr}"
            );
            if !stdout_may_hold_secrets {
                assert!(
                    !stdout.contains(secret.as_str()),
                    "{args:?} leaked a secret on stdout:\n{stdout}"
                );
            }
        }
        // An assume prints nothing of its own.
        if args[0] == "assume" {
            assert!(stdout.is_empty(), "{args:?}: {stdout}");
        }
    }
}
