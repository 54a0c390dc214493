#![allow(clippy::unwrap_used)]
//! scripts/fresh-machine-check on a small synthetic repository whose README's first code block holds two cheap
//! commands that record their environment: the real check compiles everything, so CI runs it once (.ci/run) and
//! this test pins its mechanics: commands taken from the README as written, a clone of the committed HEAD only,
//! a clean HOME and CARGO_HOME, no working-tree paths on PATH, exit codes and times reported, failure propagated.

use crate::support::repo_root;

use std::path::Path;
use std::process::{Command, Output};

fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A repository with the real script and a README whose first block is `commands`.
fn repo(commands: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    repo_in(dir.path(), commands);
    dir
}

/// Makes `root` (an existing empty directory) a repository with the real script and a README whose first block
/// is `commands`.
fn repo_in(root: &Path, commands: &str) {
    std::fs::create_dir(root.join("scripts")).unwrap();
    std::fs::copy(
        repo_root().join("scripts/fresh-machine-check"),
        root.join("scripts/fresh-machine-check"),
    )
    .unwrap();
    std::fs::write(
        root.join("README.md"),
        format!("# t\n\n```sh\n{commands}```\n\nMore:\n\n```sh\nnot a command of the check\n```\n"),
    )
    .unwrap();
    git(root, &["init", "-q"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "init"]);
}

fn check(dir: &Path, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(dir.join("scripts/fresh-machine-check"))
        .args(args)
        .env(
            "PATH",
            format!(
                "{}/.venv/bin:{}",
                dir.display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env("KEYLESS_VENV", dir.join(".venv"))
        // A caller's KEEP=1 (post-mortem of an outer check) must not keep these inner checks' directories.
        .env_remove("KEEP")
        .output()
        .unwrap()
}

#[test]
fn runs_the_readme_commands_in_a_clean_clone() {
    let out = tempfile::tempdir().unwrap();
    let record = out.path().join("env.txt");
    let dir = repo(&format!(
        "env > '{0}'; pwd >> '{0}'; git log --format=%s -1 >> '{0}'\ntest -f README.md && ! test -e uncommitted.txt\n",
        record.display()
    ));
    // Not committed, so not in the clone.
    std::fs::write(dir.path().join("uncommitted.txt"), "x").unwrap();

    let output = check(dir.path(), &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("fresh-machine-check: ok"), "{stdout}");
    assert!(stdout.contains("exit 0"), "{stdout}");
    assert!(
        stdout.contains("test -f README.md && ! test -e uncommitted.txt"),
        "{stdout}"
    );
    assert!(!stdout.contains("not a command of the check"), "{stdout}");

    let env = std::fs::read_to_string(&record).unwrap();
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    let home = var("HOME").unwrap();
    assert!(
        home.contains("keyless-fresh.") && home.ends_with("/home"),
        "{home}"
    );
    assert!(var("CARGO_HOME").unwrap().ends_with("/cargo-home"));
    assert!(var("RUSTUP_HOME").is_some());
    assert_eq!(var("CARGO_TARGET_DIR"), None);
    assert_eq!(var("KEYLESS_VENV"), None);
    // A fresh clone builds once: no incremental cache is written.
    assert_eq!(var("CARGO_INCREMENTAL").as_deref(), Some("0"));
    let path = var("PATH").unwrap();
    assert!(!path.contains(&dir.path().display().to_string()), "{path}");
    assert!(
        env.contains("/keyless-fresh.") && env.lines().any(|l| l.ends_with("/keyless")),
        "{env}"
    );
    assert!(
        env.lines().any(|l| l == "init"),
        "the clone is at the committed HEAD: {env}"
    );
    // The temporary directory is gone.
    assert!(!Path::new(home.trim_end_matches("/home")).exists());
}

#[test]
fn a_failing_command_fails_the_check_and_the_next_one_still_runs() {
    let dir = repo("exit 3\ntrue\n");
    let output = check(dir.path(), &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("exit 3"), "{stdout}");
    assert!(stdout.contains("exit 0"), "{stdout}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("FAILED"));
}

#[test]
fn the_readme_must_hold_exactly_two_commands() {
    let dir = repo("true\n");
    let output = check(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("found 1"));
}

#[test]
fn dry_run_prints_and_runs_nothing() {
    let out = tempfile::tempdir().unwrap();
    let marker = out.path().join("ran");
    let dir = repo(&format!("touch '{}'\ntrue\n", marker.display()));
    let output = check(dir.path(), &["--dry-run"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("would run in"), "{stdout}");
    assert!(!marker.exists());
}

#[test]
fn the_real_readme_starts_with_the_two_commands() {
    // The first block of this repository's README is what CI runs; keep it the documented pair.
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let block = readme.split("```").nth(1).unwrap();
    let commands: Vec<&str> = block
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(commands, ["scripts/demo", "scripts/test"]);
}

/// CI clones the project with `../shared` beside it; the fresh clone sees the same neighbour (the corpus and
/// seed tests read it), and the check never copies or removes it.
#[test]
fn the_clone_has_shared_beside_it() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::create_dir(outer.path().join("shared")).unwrap();
    std::fs::write(outer.path().join("shared/marker"), "corpus").unwrap();
    let project = outer.path().join("project");
    std::fs::create_dir(&project).unwrap();
    repo_in(
        &project,
        "test \"$(cat ../shared/marker)\" = corpus\ntrue\n",
    );

    let output = check(&project, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("fresh-machine-check: ok"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(outer.path().join("shared/marker")).unwrap(),
        "corpus"
    );

    let dry = check(&project, &["--dry-run"]);
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(stdout.contains("would link"), "{stdout}");
}
