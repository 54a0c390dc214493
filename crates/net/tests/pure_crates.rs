//! The models and engines build without a network or TLS crate (issue 23's contract): `cargo tree -e normal` of
//! each holds none of the HTTP clients, TLS stacks or AWS SDK crates below. Those live in this crate (the edge)
//! and in the servers; a pure crate that grows a dependency on one of them fails here.
#![allow(clippy::unwrap_used)]

use std::process::Command;

/// The crates checked: every one of issue 23's list passes, and keyless-secret, the leaf under two of them.
const PURE: &[&str] = &[
    "keyless-secret",
    "keyless-workspace",
    "keyless-oidc",
    "keyless-iam",
    "keyless-pipelines",
    "keyless-enforce",
    "keyless-audit",
];

/// Package names (exact) and prefixes (ending in `-`) that a pure crate's tree must not hold.
const FORBIDDEN: &[&str] = &[
    "reqwest",
    "ureq",
    "hyper",
    "rustls",
    "tokio-rustls",
    "webpki-roots",
    "quinn",
    "aws-config",
    "aws-sdk-",
    "aws-smithy-http-client",
];

/// The package names of `cargo tree -e normal` for `args`, one per line, deduplicated.
fn normal_tree(args: &[&str]) -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "tree",
            "--offline",
            "--locked",
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
        "cargo tree {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

fn forbidden(names: &[String]) -> Vec<&String> {
    names
        .iter()
        .filter(|name| {
            FORBIDDEN.iter().any(|f| match f.strip_suffix('-') {
                Some(_) => name.starts_with(f),
                None => name.as_str() == *f,
            })
        })
        .collect()
}

#[test]
fn pure_crates_have_no_network_or_tls_crate_in_their_tree() {
    for package in PURE {
        let names = normal_tree(&["-p", package]);
        assert!(
            names.iter().any(|n| n == package),
            "cargo tree -p {package} did not list the package itself: {names:?}"
        );
        assert_eq!(
            forbidden(&names),
            Vec::<&String>::new(),
            "{package} must build without network or TLS crates (they belong in keyless-net)"
        );
    }
}

#[test]
fn the_check_finds_them_where_they_are() {
    // The same query on this crate, the edge, finds the HTTP client, the TLS stack and the SDK: the test above
    // cannot pass because of a query that lists nothing.
    let names = normal_tree(&["-p", "keyless-net"]);
    let found = forbidden(&names);
    for expected in ["reqwest", "rustls", "aws-config", "aws-sdk-iam", "hyper"] {
        assert!(
            found.iter().any(|n| n.as_str() == expected),
            "{expected} not found in keyless-net's tree: {found:?}"
        );
    }
}

#[test]
fn the_binary_has_one_http_stack_and_one_crypto_provider() {
    // The `keyless` binary's normal tree: reqwest (through keyless-net) is its only HTTP client besides the AWS
    // SDK's; ureq went with the mint client, and aws-lc-rs is the only crypto provider (no ring).
    let names = normal_tree(&["-p", "keyless"]);
    assert!(names.iter().any(|n| n == "keyless"), "{names:?}");
    for gone in ["ureq", "ring", "quinn"] {
        assert!(
            !names.iter().any(|n| n == gone),
            "{gone} is in the keyless binary's tree again"
        );
    }
    for kept in ["reqwest", "aws-lc-rs"] {
        assert!(
            names.iter().any(|n| n == kept),
            "{kept} not found: {names:?}"
        );
    }
}
