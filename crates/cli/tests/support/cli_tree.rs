//! The live command tree of the `keyless` binary, read from clap's own help output, shared by the help,
//! docs and completions tests so that a new subcommand is picked up without editing any list.
#![allow(dead_code, clippy::unwrap_used)]

use assert_cmd::Command;

/// `keyless` with an empty environment and a fixed width, so help text never depends on the caller's terminal
/// or on variables such as `AWS_REGION` (clap prints the values of `env = ...` variables that are set).
pub fn keyless() -> Command {
    let mut command = Command::cargo_bin("keyless").unwrap();
    command.env_clear().env("COLUMNS", "100").env("LINES", "50");
    command
}

/// `keyless <path> --help`, exactly as printed.
pub fn help(path: &[String]) -> String {
    let output = keyless().args(path).arg("--help").output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "`keyless {} --help` failed: {}",
        path.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The names in the `Commands:` section of a help text, without clap's own `help`.
pub fn subcommands(help: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line == "Commands:" {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        // Entries are indented by two spaces; wrapped descriptions are indented further; a blank line or a
        // new heading ends the section.
        if line.is_empty() || !line.starts_with(' ') {
            break;
        }
        if let Some(entry) = line.strip_prefix("  ")
            && !entry.starts_with(' ')
        {
            let name = entry.split_whitespace().next().unwrap();
            if name != "help" {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// Every command path, depth first, starting with the root (the empty path): `[]`, `["init"]`, ...,
/// `["policy"]`, `["policy", "eval"]`, ...
pub fn command_paths() -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    walk(&mut Vec::new(), &mut paths);
    assert!(
        paths.len() > 10,
        "the command tree looks empty: {paths:?} (did clap's help format change?)"
    );
    paths
}

fn walk(path: &mut Vec<String>, paths: &mut Vec<Vec<String>>) {
    paths.push(path.clone());
    for name in subcommands(&help(path)) {
        path.push(name);
        walk(path, paths);
        path.pop();
    }
}

/// `keyless policy eval` for `["policy", "eval"]`.
pub fn display(path: &[String]) -> String {
    std::iter::once("keyless")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}
