#![allow(clippy::unwrap_used)]
//! `keyless init` writes a starter that plans as is, and never overwrites without --force.

use assert_cmd::Command;

#[test]
fn init_writes_a_valid_starter_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyless.yml");
    Command::cargo_bin("keyless")
        .unwrap()
        .args(["init", "-o"])
        .arg(&path)
        .assert()
        .success();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# keyless.yml"));
    Command::cargo_bin("keyless")
        .unwrap()
        .args(["plan", "-c"])
        .arg(&path)
        .assert()
        .success();
    let again = Command::cargo_bin("keyless")
        .unwrap()
        .args(["init", "-o"])
        .arg(&path)
        .assert()
        .code(2);
    assert!(
        String::from_utf8_lossy(&again.get_output().stderr)
            .contains("already exists; pass --force")
    );
    Command::cargo_bin("keyless")
        .unwrap()
        .args(["init", "--force", "-o"])
        .arg(&path)
        .assert()
        .success();
}
