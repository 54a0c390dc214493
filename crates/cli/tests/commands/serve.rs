//! `keyless serve` as a process: the provider answers exactly what `keyless render --payload --format json`
//! prints, for keyless's fixtures and for every request Atlassian documents (the conformance suite); SIGHUP
//! reloads keyless.yml (a broken file is logged and the old policy kept), SIGTERM stops it cleanly, logs never
//! carry the bearer secret or a token from the request, and start-up refuses a missing policy or missing
//! authentication.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::http;

const SECRET: &str = "cli-test-secret-5f1c9a7e3b2d4e6f";

fn serve_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../serve/tests/fixtures")
        .join(name)
}

/// Kills the server when the test ends, however it ends.
struct Server {
    child: Option<Child>,
    address: String,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Server {
    fn config(&self) -> PathBuf {
        self.dir.path().join("keyless.yml")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    fn post(&self, body: &[u8], secret: &str) -> (u16, Value) {
        let response = http::post(&format!("http://{}/dynamic-pipelines", self.address))
            .header("content-type", "application/json")
            .header("authorization", &format!("Bearer {secret}"))
            .body(body)
            .send();
        (response.status, response.json())
    }

    fn get(&self, path: &str) -> String {
        http::get(&format!("http://{}{path}", self.address))
            .send()
            .body
    }

    fn generation(&self) -> u64 {
        let health: Value = serde_json::from_str(&self.get("/healthz")).unwrap();
        health["config_generation"].as_u64().unwrap()
    }

    /// Polls until `check` holds (bounded).
    fn wait_for(&self, what: &str, check: impl Fn(&Server) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !check(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn write_secret(dir: &Path) -> PathBuf {
    let path = dir.join("dev-secret");
    std::fs::write(&path, format!("{SECRET}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

fn spawn() -> Server {
    spawn_with(&serve_fixture("keyless.yml"))
}

/// A server for a copy of `config`.
fn spawn_with(config: &Path) -> Server {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(config, dir.path().join("keyless.yml")).unwrap();
    let secret = write_secret(dir.path());
    let ready = dir.path().join("ready");
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let child = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .arg("serve")
        .arg("-c")
        .arg(dir.path().join("keyless.yml"))
        .args(["--listen", "127.0.0.1:0", "--dev-bearer-secret-file"])
        .arg(&secret)
        .arg("--ready-file")
        .arg(&ready)
        .env_remove("KEYLESS_CONFIG")
        .env_remove("KEYLESS_FORGE_APP_ID")
        .env_remove("KEYLESS_DEV_BEARER_SECRET")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut server = Server {
        child: Some(child),
        address: String::new(),
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&ready)
            && text.ends_with('\n')
        {
            server.address = text.trim().to_string();
            break;
        }
        if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
            panic!("keyless serve exited with {status}; log:\n{}", server.log());
        }
        assert!(
            Instant::now() < deadline,
            "keyless serve did not start; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        server.address.starts_with("127.0.0.1:"),
        "{}",
        server.address
    );
    server
}

fn render(config: &Path, payload: &Path) -> (i32, Value) {
    let out = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
        .arg("render")
        .arg("-c")
        .arg(config)
        .arg("--payload")
        .arg(payload)
        .args(["--format", "json"])
        .env_remove("KEYLESS_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

#[test]
fn serve_answers_what_render_prints_for_the_same_request() {
    let server = spawn();
    for (name, expect_rendered) in [
        ("run-main-production.json", true),
        ("run-feature-production.json", false),
        ("definitions-pull-request.json", true),
    ] {
        let payload = serve_fixture(name);
        let (code, expected) = render(&server.config(), &payload);
        assert_eq!(code, if expect_rendered { 0 } else { 1 }, "{name}");
        let (status, answer) = server.post(&std::fs::read(&payload).unwrap(), SECRET);
        assert_eq!(status, 200, "{name}: {answer}");
        assert_eq!(answer, expected, "{name}");
        assert_eq!(
            answer.get("pipelines_configuration").is_some(),
            expect_rendered,
            "{name}"
        );
    }
    let (status, answer) = server.post(b"{}", "not-the-secret-at-all-000");
    assert_eq!(status, 401, "{answer}");
    let metrics = server.get("/metrics");
    assert!(
        metrics.contains("keyless_serve_requests_total{outcome=\"rendered\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keyless_serve_requests_total{outcome=\"rejected\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keyless_serve_requests_total{outcome=\"unauthorized\"} 1"),
        "{metrics}"
    );
    let log = server.log();
    assert!(
        log.contains("development bearer secret is enabled"),
        "{log}"
    );
    assert!(log.contains("rejected"), "{log}");
    assert!(
        !log.contains(SECRET),
        "the secret leaked into the log:\n{log}"
    );
    assert!(!log.to_ascii_lowercase().contains("bearer cli-"), "{log}");
}

#[test]
fn sighup_reloads_and_a_broken_file_keeps_the_old_policy() {
    let server = spawn();
    let feature = std::fs::read(serve_fixture("run-feature-production.json")).unwrap();
    let (_, answer) = server.post(&feature, SECRET);
    assert_eq!(answer["error"]["key"], "keyless-branches", "{answer}");
    assert_eq!(server.generation(), 1);

    // Production now allows any branch.
    let original = std::fs::read_to_string(server.config()).unwrap();
    let widened = original.replace(
        "branches: [main, master, \"hotfix/*\", \"release/*\"]\n    trigger",
        "branches: [\"**\"]\n    trigger",
    );
    assert_ne!(widened, original);
    std::fs::write(server.config(), &widened).unwrap();
    server.signal("HUP");
    server.wait_for("generation 2", |s| s.generation() == 2);
    let (_, answer) = server.post(&feature, SECRET);
    assert!(answer.get("pipelines_configuration").is_some(), "{answer}");

    // A broken file: reported, counted, and generation 2 keeps answering.
    std::fs::write(server.config(), "environments:\n  production: [unclosed\n").unwrap();
    server.signal("HUP");
    server.wait_for("the failed reload", |s| {
        s.get("/metrics")
            .contains("keyless_serve_config_reloads_total{result=\"error\"} 1")
    });
    assert_eq!(server.generation(), 2);
    let (_, answer) = server.post(&feature, SECRET);
    assert!(answer.get("pipelines_configuration").is_some(), "{answer}");
    assert!(
        server
            .log()
            .contains("did not load; keeping the configuration in use")
    );
}

#[test]
fn sigterm_stops_cleanly_and_removes_the_ready_file() {
    let mut server = spawn();
    server.signal("TERM");
    let mut child = server.child.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("keyless serve ignored SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert!(!server.dir.path().join("ready").exists());
}

#[test]
fn startup_refuses_a_bad_policy_or_no_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keyless.yml");
    std::fs::copy(serve_fixture("keyless.yml"), &config).unwrap();
    let run = |args: &[&str], config: &Path| {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
            .arg("serve")
            .arg("-c")
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("KEYLESS_CONFIG")
            .env_remove("KEYLESS_FORGE_APP_ID")
            .env_remove("KEYLESS_DEV_BEARER_SECRET")
            .env_remove("KEYLESS_DEV_BEARER_SECRET_FILE")
            .env_remove("KEYLESS_FORGE_INSTALLATION_ID")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (child.wait().unwrap().code(), stderr)
    };
    let (code, stderr) = run(&[], &config);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--forge-app-id"), "{stderr}");

    let short = dir.path().join("short");
    std::fs::write(&short, "tiny").unwrap();
    let (code, stderr) = run(
        &["--dev-bearer-secret-file", short.to_str().unwrap()],
        &config,
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("at least 16"), "{stderr}");

    // Pinning an installation needs the Forge app it is an installation of.
    let (code, stderr) = run(
        &[
            "--forge-installation-id",
            "ari:cloud:ecosystem::installation/x",
        ],
        &config,
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--forge-app-id"), "{stderr}");

    let broken = dir.path().join("broken.yml");
    std::fs::write(&broken, "environments: [").unwrap();
    let (code, stderr) = run(&["--forge-app-id", "ari:cloud:ecosystem::app/x"], &broken);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot load the policy"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------------------------
// Atlassian's documented requests (crates/enforce/tests/fixtures/atlassian, SOURCES.md names each page), through
// both entry points.

fn atlassian_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../enforce/tests/fixtures/atlassian")
}

fn atlassian(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(atlassian_dir().join(name)).unwrap()).unwrap()
}

/// What the answer to a conformance request must be.
enum Expect {
    /// `{"pipelines_configuration": <the request's configuration>}`: nothing for the policy to change.
    Echo,
    /// `{"pipelines_configuration": ...}`, checked by the function.
    Rendered(Box<dyn Fn(&Value)>),
    /// `{"error": {"key": <key>, ...}}`.
    Error(&'static str),
}

struct Conformance {
    server: Server,
    requests: tempfile::TempDir,
    checked: usize,
}

impl Conformance {
    /// Posts `request` to keyless serve and renders it with `keyless render --payload`: both answers must be the
    /// same, HTTP 200, in one of the two documented response shapes, and as `expect` says.
    fn check(&mut self, name: &str, request: &Value, expect: Expect) {
        let path = self.requests.path().join(format!("{}.json", self.checked));
        std::fs::write(&path, serde_json::to_vec_pretty(request).unwrap()).unwrap();
        self.checked += 1;
        let (code, rendered) = render(&self.server.config(), &path);
        let (status, served) = self.server.post(&std::fs::read(&path).unwrap(), SECRET);
        assert_eq!(status, 200, "{name}: HTTP {status} {served}");
        assert_eq!(served, rendered, "{name}: serve and render disagree");
        let keys = |v: &Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        // The documented response shapes, keys taken from Atlassian's two response examples.
        let documented_error = atlassian("dp-response-error.json");
        let documented_config = atlassian("dp-response-modified.json");
        if served.get("error").is_some() {
            assert_eq!(code, 1, "{name}");
            assert_eq!(keys(&served), keys(&documented_error), "{name}");
            assert_eq!(
                keys(&served["error"]),
                keys(&documented_error["error"]),
                "{name}"
            );
        } else {
            assert_eq!(code, 0, "{name}");
            assert_eq!(keys(&served), keys(&documented_config), "{name}");
        }
        match expect {
            Expect::Echo => assert_eq!(
                served["pipelines_configuration"], request["pipelines_configuration"],
                "{name}: a configuration with nothing to enforce must come back unchanged"
            ),
            Expect::Rendered(check) => {
                assert!(
                    served.get("pipelines_configuration").is_some(),
                    "{name}: {served}"
                );
                check(&served["pipelines_configuration"]);
            }
            Expect::Error(key) => assert_eq!(served["error"]["key"], key, "{name}: {served}"),
        }
    }
}

/// The definitions request of the manifest reference with `configuration` instead of its own.
fn definitions_with(configuration: Value) -> Value {
    let mut request = atlassian("dp-definitions-request.json");
    request["pipelines_configuration"] = configuration;
    request
}

fn a_step() -> Value {
    serde_json::json!({"step": {"name": "Foo", "script": ["echo Bar"]}})
}

/// The steps of a rendered pipeline that deploy.
fn deployment_steps(items: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for item in items.as_array().unwrap() {
        for step in [&item["step"]].into_iter().chain(
            item["stage"]["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| &s["step"]),
        ) {
            if step.is_object()
                && (step.get("deployment").is_some() || item["stage"].get("deployment").is_some())
            {
                out.push(step);
            }
        }
    }
    out
}

fn assert_oidc_setup(step: &Value, region: &str) {
    assert_eq!(step["oidc"], true, "{step}");
    let first = step["script"][0].as_str().unwrap();
    assert!(
        first.starts_with(&format!("export AWS_REGION={region} ")),
        "{step}"
    );
}

#[test]
fn atlassians_documented_requests_get_documented_answers_from_both_entry_points() {
    let mut suite = Conformance {
        server: spawn_with(&atlassian_dir().join("keyless.yml")),
        requests: tempfile::tempdir().unwrap(),
        checked: 0,
    };

    // The two documented requests, verbatim: nothing to enforce, so echoed.
    suite.check(
        "definitions request",
        &atlassian("dp-definitions-request.json"),
        Expect::Echo,
    );
    suite.check(
        "run request",
        &atlassian("dp-run-request.json"),
        Expect::Echo,
    );
    // The tutorial's logged request, verbatim: its workspace is a placeholder, not this workspace.
    let tutorial = atlassian("tutorial-logged-request.json");
    suite.check(
        "tutorial request",
        &tutorial,
        Expect::Error("keyless-workspace"),
    );
    // The same with its workspace placeholder filled in (the other placeholders stay): echoed.
    let mut filled = tutorial.clone();
    filled["workspace"] = serde_json::json!("{308ce669-576d-4fa7-b4d4-15e8171f0c8c}");
    suite.check("tutorial request, workspace filled", &filled, Expect::Echo);

    // Every documented target, under every trigger, with a configuration that deploys: production from
    // `branches.master`, `test` (any branch) from the custom pipeline the selector example names.
    let configuration = serde_json::json!({"pipelines": {
        "default": [a_step()],
        "branches": {"master": [{"step": {"name": "Deploy", "deployment": "production", "script": ["./deploy.sh"]}}]},
        "custom": {"build-and-test": [{"step": {"name": "Test deploy", "deployment": "test", "script": ["./deploy.sh"]}}]}
    }});
    let targets = [
        ("commit", atlassian("dp-target-commit.json")),
        ("ref master", atlassian("dp-target-ref.json")),
        (
            "pull request feature→master",
            atlassian("dp-target-pullrequest.json"),
        ),
        (
            "commit, custom selector",
            atlassian("dp-target-commit-custom-selector.json"),
        ),
    ];
    for (target_name, target) in &targets {
        for trigger in ["definitions", "push", "manual", "schedule", "parent_step"] {
            let mut request = definitions_with(configuration.clone());
            request["trigger"] = trigger.into();
            request["target"] = target.clone();
            if trigger != "definitions" {
                // The run fields of the documented run request.
                let run = atlassian("dp-run-request.json");
                for field in ["pipeline", "created_on"] {
                    request[field] = run[field].clone();
                }
                if trigger == "manual" || trigger == "schedule" {
                    request["build_number"] = run["build_number"].clone();
                }
            }
            if trigger == "parent_step" {
                request["trigger_context"] = serde_json::json!({
                    "parent_pipeline_uuid": "{0ac5e5c0-a233-4cb5-88b9-bcffc5fa4925}",
                    "parent_pipeline_run_uuid": "{9f2b6c1e-3d4a-4b5c-8d6e-7f8091a2b3c4}",
                    "parent_step_uuid": "{1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d}"
                });
            }
            let name = format!("{trigger} on {target_name}");
            let expect = match (trigger, *target_name) {
                // A definitions request never fails as a whole. Without a branch nothing is left out; the pull
                // request's source `feature` may not deploy to production, so `branches.master` is left out.
                ("definitions", "pull request feature→master") => {
                    Expect::Rendered(Box::new(|c: &Value| {
                        assert!(c["pipelines"].get("branches").is_none(), "{c}");
                        assert!(c["pipelines"]["custom"]["build-and-test"].is_array(), "{c}");
                    }))
                }
                ("definitions", _) => Expect::Rendered(Box::new(|c: &Value| {
                    assert!(c["pipelines"]["branches"]["master"].is_array(), "{c}");
                    assert!(c["pipelines"]["custom"]["build-and-test"].is_array(), "{c}");
                })),
                // A commit without a selector selects nothing and has no branch: production is refused by the
                // branchless rule. A pull request from `feature` selects nothing either: refused by the branch rule.
                (_, "commit") | (_, "pull request feature→master") => {
                    Expect::Error("keyless-branches")
                }
                // `master` selects `branches.master`, which may deploy to production: rendered with OIDC.
                (_, "ref master") => Expect::Rendered(Box::new(|c: &Value| {
                    let steps = deployment_steps(&c["pipelines"]["branches"]["master"]);
                    assert_oidc_setup(steps[0], "us-west-2");
                })),
                // The custom selector names `build-and-test`, which deploys to `test` (any branch): rendered.
                _ => Expect::Rendered(Box::new(|c: &Value| {
                    let steps = deployment_steps(&c["pipelines"]["custom"]["build-and-test"]);
                    assert_oidc_setup(steps[0], "us-west-2");
                })),
            };
            suite.check(&name, &request, expect);
        }
    }

    // Pipeline-In|Pipeline-Out: a documented provider response is the next provider's input.
    let mut chained = atlassian("dp-run-request.json");
    chained["pipelines_configuration"] =
        atlassian("dp-response-modified.json")["pipelines_configuration"].clone();
    chained["target"]["selector"] = serde_json::json!({"type": "branches", "pattern": "master"});
    suite.check("a documented response as input", &chained, Expect::Echo);

    // Every documented configuration fragment, in the documented definitions request.
    let step = || serde_json::json!([a_step()]);
    for image in [
        "dp-image-simple.json",
        "dp-image-basic-auth.json",
        "dp-image-ecr-credentials.json",
        "dp-image-ecr-oidc.json",
    ] {
        let configuration =
            serde_json::json!({"image": atlassian(image), "pipelines": {"default": step()}});
        suite.check(image, &definitions_with(configuration), Expect::Echo);
    }
    for (name, key) in [
        ("dp-options.json", "options"),
        ("dp-clone.json", "clone"),
        ("dp-labels.json", "labels"),
    ] {
        let mut configuration = serde_json::json!({"pipelines": {"default": step()}});
        configuration[key] = atlassian(name);
        suite.check(name, &definitions_with(configuration), Expect::Echo);
    }
    let mut definitions = atlassian("dp-definitions-caches.json");
    definitions["services"] = atlassian("dp-definitions-services.json")["services"].clone();
    let configuration =
        serde_json::json!({"definitions": definitions.clone(), "pipelines": {"default": step()}});
    suite.check(
        "dp-definitions-*.json",
        &definitions_with(configuration),
        Expect::Echo,
    );
    let configuration =
        serde_json::json!({"pipelines": {"default": atlassian("dp-pipeline.json")}});
    suite.check(
        "dp-pipeline.json",
        &definitions_with(configuration),
        Expect::Echo,
    );
    let configuration = serde_json::json!({"pipelines": {"custom": {"print": atlassian("dp-custom-pipeline.json")}}});
    suite.check(
        "dp-custom-pipeline.json",
        &definitions_with(configuration),
        Expect::Echo,
    );
    for name in [
        "dp-step-size-pipe-after-script.json",
        "dp-step-conditional.json",
        "dp-parallel.json",
    ] {
        let configuration = serde_json::json!({"pipelines": {"default": [atlassian(name)]}});
        suite.check(name, &definitions_with(configuration), Expect::Echo);
    }
    // The manual deployment step (to `test`, with the documented caches and services): OIDC is added, the rest
    // is kept.
    let configuration = serde_json::json!({"definitions": definitions, "pipelines": {"custom": {
        "deploy-test": [{"step": atlassian("dp-step-manual-deployment.json")}]}}});
    suite.check(
        "dp-step-manual-deployment.json",
        &definitions_with(configuration),
        Expect::Rendered(Box::new(|c: &Value| {
            let step = &c["pipelines"]["custom"]["deploy-test"][0]["step"];
            assert_oidc_setup(step, "us-west-2");
            let documented = atlassian("dp-step-manual-deployment.json");
            assert_eq!(
                step["script"].as_array().unwrap().last(),
                documented["script"].as_array().unwrap().last()
            );
            for key in ["trigger", "deployment", "caches", "services", "name"] {
                assert_eq!(step[key], documented[key], "{key}");
            }
        })),
    );
    // The conditional deployment stage (to `staging`, which `master` may deploy to): listed on a commit, run on
    // `master`, refused for a run without a branch.
    let stage = serde_json::json!({"pipelines": {"branches": {"master": [{"stage": atlassian("dp-stage.json")}]}}});
    suite.check(
        "dp-stage.json, definitions",
        &definitions_with(stage.clone()),
        Expect::Rendered(Box::new(|c: &Value| {
            for step in deployment_steps(&c["pipelines"]["branches"]["master"]) {
                assert_oidc_setup(step, "us-west-2");
            }
        })),
    );
    let mut run = atlassian("dp-run-request.json");
    run["target"]["selector"] = serde_json::json!({"type": "branches", "pattern": "master"});
    run["pipelines_configuration"] = stage.clone();
    suite.check(
        "dp-stage.json, push to master",
        &run,
        Expect::Rendered(Box::new(|c: &Value| {
            assert_eq!(
                deployment_steps(&c["pipelines"]["branches"]["master"]).len(),
                2
            );
        })),
    );
    run["target"] = atlassian("dp-target-commit.json");
    run["trigger"] = "manual".into();
    suite.check(
        "dp-stage.json, run on a commit",
        &run,
        Expect::Error("keyless-branches"),
    );

    // The same request inside the `{"payload", "context", "installationId", "appSystemToken"}` envelope a
    // third-party library describes (UNCONFIRMED for this module): the same answer, and the token never logged.
    let token = "app-system-token-4c1f0b9e2d7a";
    let envelope = serde_json::json!({
        "payload": atlassian("dp-definitions-request.json"),
        "context": {"cloudId": "d0d52620-3203-4cfa-8db5-f2587155f0dd", "moduleKey": "keyless-policy"},
        "installationId": "ari:cloud:ecosystem::installation/0a3a7799-53ae-4a5b-9e7e-03338980abb5",
        "appSystemToken": token
    });
    let mut echoed = envelope.clone();
    echoed["pipelines_configuration"] = envelope["payload"]["pipelines_configuration"].clone();
    suite.check("definitions request in an envelope", &echoed, Expect::Echo);
    assert!(
        !suite.server.log().contains(token),
        "the app system token reached the log"
    );
    assert!(suite.checked >= 40, "{}", suite.checked);
}

/// `KEYLESS_FORGE_INSTALLATION_ID` takes a comma-separated list, like repeated `--forge-installation-id`.
#[test]
fn installation_ids_come_from_the_flag_or_a_comma_separated_variable() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let log = dir.path().join("serve.log");
    // Starts keyless serve with `args` and the variable set to `env`, waits until it listens, stops it, and
    // returns its log.
    let started_log = |args: &[&str], env: &str| -> String {
        let _ = std::fs::remove_file(&ready);
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("keyless"))
            .arg("serve")
            .arg("-c")
            .arg(serve_fixture("keyless.yml"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--forge-app-id",
                "ari:cloud:ecosystem::app/x",
            ])
            .args(args)
            .arg("--ready-file")
            .arg(&ready)
            .env_remove("KEYLESS_CONFIG")
            .env_remove("KEYLESS_FORGE_APP_ID")
            .env_remove("KEYLESS_DEV_BEARER_SECRET")
            .env_remove("KEYLESS_DEV_BEARER_SECRET_FILE")
            .env("KEYLESS_FORGE_INSTALLATION_ID", env)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ready.exists() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "{}",
                std::fs::read_to_string(&log).unwrap()
            );
            assert!(Instant::now() < deadline, "keyless serve did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        std::fs::read_to_string(&log).unwrap()
    };
    let text = started_log(
        &[
            "--forge-installation-id",
            "ari:cloud:ecosystem::installation/aaa",
        ],
        "ignored-when-the-flag-is-given",
    );
    assert!(
        text.contains("installations=ari:cloud:ecosystem::installation/aaa")
            && !text.contains("ignored-when"),
        "{text}"
    );
    let text = started_log(&[], "aaa, bbb");
    assert!(text.contains("installations=aaa, bbb"), "{text}");
}
