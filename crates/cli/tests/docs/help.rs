#![allow(clippy::unwrap_used)]
//! `keyless --help` and every subcommand's help, nested ones included, as insta snapshots. The list of commands
//! comes from the binary's own command tree, so a new command fails this test until its snapshot is accepted:
//!
//! ```sh
//! INSTA_UPDATE=always cargo test -p keyless --test docs help::   # or: cargo insta test -p keyless --accept
//! ```
//!
//! (`KEYLESS_UPDATE_DOCS=1 cargo test -p keyless --test docs` then refreshes the same text in docs/commands/.)

use crate::support::cli_tree;

use std::collections::BTreeSet;

use cli_tree::{command_paths, display, help};

/// insta's file name prefix for this module's snapshots (`docs__help__`): the module path, `::` as `__`.
fn snapshot_prefix() -> String {
    format!("{}__", module_path!().replace("::", "__"))
}

/// `keyless` for the root, `keyless-policy-eval` for `keyless policy eval`.
fn snapshot_name(path: &[String]) -> String {
    display(path).replace(' ', "-")
}

#[test]
fn every_help_text_matches_its_snapshot() {
    let paths = command_paths();
    let mut names = BTreeSet::new();
    for path in &paths {
        let name = snapshot_name(path);
        insta::with_settings!({ description => format!("{} --help", display(path)), omit_expression => true }, {
            insta::assert_snapshot!(name.clone(), help(path));
        });
        names.insert(format!("{}{name}.snap", snapshot_prefix()));
    }

    // A removed or renamed command must take its snapshot with it.
    // insta keeps snapshots in `snapshots/` beside the file that asserts them.
    let dir = crate::support::repo_root()
        .join(std::path::Path::new(file!()).parent().unwrap())
        .join("snapshots");
    let stale: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|file| file.starts_with(&snapshot_prefix()) && file.ends_with(".snap"))
        .filter(|file| !names.contains(file))
        .collect();
    assert!(
        stale.is_empty(),
        "snapshots of commands that no longer exist (delete them): {stale:?}"
    );
}

#[test]
fn the_tree_reaches_nested_subcommands() {
    // Guards the help parser itself: if clap's format changed and the walk stopped at the root, every other
    // assertion here would pass vacuously.
    let paths: Vec<String> = command_paths().iter().map(|p| display(p)).collect();
    for expected in [
        "keyless",
        "keyless demo",
        "keyless policy eval",
        "keyless token mint",
        "keyless token decode",
        "keyless deploy s3",
        "keyless completions",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "`{expected}` missing from {paths:#?}"
        );
    }
    assert!(
        !paths.iter().any(|p| p.ends_with(" help")),
        "clap's help subcommand is not a command: {paths:#?}"
    );
}
