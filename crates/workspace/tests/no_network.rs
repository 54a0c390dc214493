#![allow(clippy::unwrap_used)]
//! The model and the loader build without the network parts (issue 18: the audit reads keyless.yml through this
//! crate only because they do). `live` (apply, check --live, resolve, thumbprint) is the one feature that brings an
//! HTTP client, TLS or the AWS SDK, and it is off for every crate but the CLI.

use std::process::Command;

/// Crates that talk to the network; none may be in the tree without `live`.
const NETWORK: &[&str] = &[
    "reqwest",
    "hyper",
    "rustls",
    "tokio-rustls",
    "aws-config",
    "aws-sdk-",
    "aws-smithy-",
    "ureq",
    "tokio ",
];

fn normal_tree(args: &[&str]) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn network_crates(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter(|line| NETWORK.iter().any(|n| format!("{line} ").starts_with(n)))
        .collect()
}

#[test]
fn the_model_and_loader_build_without_network_crates() {
    let tree = normal_tree(&["-p", "keyless-workspace", "--no-default-features"]);
    assert!(tree.contains("keyless-pipelines"), "{tree}");
    assert_eq!(network_crates(&tree), Vec::<&str>::new(), "{tree}");
    // The test can fail: with `live` the same query finds them.
    let live = normal_tree(&["-p", "keyless-workspace", "--features", "live"]);
    assert!(
        network_crates(&live)
            .iter()
            .any(|l| l.starts_with("reqwest")),
        "{live}"
    );
}
