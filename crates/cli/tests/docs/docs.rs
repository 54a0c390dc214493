#![allow(clippy::unwrap_used, clippy::print_stdout)]
//! docs/ cannot drift from the binary: every command of the live command tree has a page,
//! `docs/commands/<command>.md` (nested commands such as `policy eval` live on their parent's page, the root
//! help on docs/README.md), the page holds the command's exact `--help` in a generated block, has examples and
//! exit codes, and docs/README.md links it. Regenerate the help blocks with
//!
//! ```sh
//! KEYLESS_UPDATE_DOCS=1 cargo test -p keyless --test docs
//! ```
//!
//! which rewrites stale blocks and appends a block for a nested command that has none; a missing page is never
//! generated: it needs prose (what the command is for, examples, exit codes).

use crate::support::cli_tree;

use std::path::{Path, PathBuf};

use cli_tree::{command_paths, display, help};

use crate::support::repo_root;

const FENCE: &str = "```";

fn marker(path: &[String]) -> String {
    format!(
        "<!-- generated: `{} --help` (KEYLESS_UPDATE_DOCS=1 cargo test -p keyless --test docs) -->",
        display(path)
    )
}

/// docs/README.md for the root, docs/commands/<top>.md for a command and its nested commands.
fn page_for(root: &Path, path: &[String]) -> PathBuf {
    match path.first() {
        None => root.join("docs/README.md"),
        Some(top) => root.join("docs/commands").join(format!("{top}.md")),
    }
}

/// The body of the fenced block right after `marker`, as a byte range of `page`.
fn block_range(page: &str, marker: &str) -> Option<Result<std::ops::Range<usize>, String>> {
    let at = page.find(marker)?;
    let after_marker = at + marker.len();
    let rest = &page[after_marker..];
    let open = format!("\n{FENCE}text\n");
    if !rest.starts_with(&open) {
        return Some(Err(format!(
            "the line after `{marker}` must open a {FENCE}text block"
        )));
    }
    let start = after_marker + open.len();
    let close = format!("\n{FENCE}\n");
    // The body ends with a newline (help text does), so the closing fence starts a line.
    let Some(end) = page[start - 1..].find(&close) else {
        return Some(Err(format!("the block after `{marker}` is never closed")));
    };
    Some(Ok(start..start - 1 + end + 1))
}

#[test]
fn every_command_has_a_page_with_its_exact_help() {
    let root = repo_root();
    let update = std::env::var_os("KEYLESS_UPDATE_DOCS").is_some();
    let mut problems = Vec::new();

    for path in command_paths() {
        let page_path = page_for(&root, &path);
        let shown = page_path.strip_prefix(&root).unwrap().display().to_string();
        let Ok(mut page) = std::fs::read_to_string(&page_path) else {
            problems.push(format!(
                "`{}` has no docs page: write {shown} (what it is for, the generated help block, \
                 examples, exit codes; see docs/commands/demo.md), link it from docs/README.md, then run \
                 KEYLESS_UPDATE_DOCS=1 cargo test -p keyless --test docs",
                display(&path)
            ));
            continue;
        };
        let text = help(&path);
        let marker = marker(&path);
        match block_range(&page, &marker) {
            Some(Ok(range)) if page[range.clone()] == text => continue,
            Some(Ok(range)) if update => page.replace_range(range, &text),
            Some(Ok(_)) => {
                problems.push(format!(
                    "{shown}: the help block of `{}` differs from the binary's (KEYLESS_UPDATE_DOCS=1 to refresh)",
                    display(&path)
                ));
                continue;
            }
            Some(Err(error)) => {
                problems.push(format!("{shown}: {error}"));
                continue;
            }
            None if update => {
                page = format!(
                    "{}\n\n## `{}`\n\n{marker}\n{FENCE}text\n{text}{FENCE}\n",
                    page.trim_end(),
                    display(&path)
                );
            }
            None => {
                problems.push(format!(
                    "{shown} has no help block for `{}` (KEYLESS_UPDATE_DOCS=1 appends one)",
                    display(&path)
                ));
                continue;
            }
        }
        std::fs::write(&page_path, page).unwrap();
        println!("updated {shown} for `{}`", display(&path));
    }
    assert!(
        problems.is_empty(),
        "docs drifted:\n- {}",
        problems.join("\n- ")
    );
}

#[test]
fn every_page_has_examples_and_exit_codes_and_is_linked_from_the_index() {
    let root = repo_root();
    let index = std::fs::read_to_string(root.join("docs/README.md")).unwrap();
    let mut problems = Vec::new();
    let tops: Vec<String> = command_paths()
        .into_iter()
        .filter(|path| path.len() == 1)
        .map(|path| path[0].clone())
        .collect();
    for top in &tops {
        let file = root.join("docs/commands").join(format!("{top}.md"));
        let Ok(page) = std::fs::read_to_string(&file) else {
            continue; // reported by every_command_has_a_page_with_its_exact_help
        };
        if !page.contains("## Examples") {
            problems.push(format!(
                "docs/commands/{top}.md has no `## Examples` section"
            ));
        }
        if !page.contains("## Exit codes") {
            problems.push(format!(
                "docs/commands/{top}.md has no `## Exit codes` section"
            ));
        }
        if !index.contains(&format!("](commands/{top}.md)")) {
            problems.push(format!("docs/README.md does not link commands/{top}.md"));
        }
    }
    // A page whose command is not in this binary is tolerated (a command being added in parallel), but said.
    for entry in std::fs::read_dir(root.join("docs/commands")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(top) = name.strip_suffix(".md")
            && !tops.iter().any(|t| t == top)
        {
            println!("note: docs/commands/{name} documents a command this binary does not have");
        }
    }
    assert!(
        problems.is_empty(),
        "docs incomplete:\n- {}",
        problems.join("\n- ")
    );
}

#[test]
fn block_range_finds_the_body_between_the_fences() {
    let path = vec!["demo".to_owned()];
    let m = marker(&path);
    let page =
        format!("# demo\n\n{m}\n{FENCE}text\nUsage: keyless demo\n\nmore\n{FENCE}\n\nafter\n");
    let range = block_range(&page, &m).unwrap().unwrap();
    assert_eq!(&page[range], "Usage: keyless demo\n\nmore\n");
    let unclosed = format!("{m}\n{FENCE}text\nUsage\n");
    assert!(block_range(&unclosed, &m).unwrap().is_err());
    let wrong_fence = format!("{m}\n{FENCE}sh\nUsage\n{FENCE}\n");
    assert!(block_range(&wrong_fence, &m).unwrap().is_err());
    assert!(block_range("no marker", &m).is_none());
}

/// Splits a shell line into words, honouring single and double quotes (no expansion); enough for examples.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The `keyless ...` invocations in a page's ```sh blocks: continuations joined, comments, redirections and
/// pipes cut off.
fn example_invocations(page: &str) -> Vec<Vec<String>> {
    let mut invocations = Vec::new();
    let mut inside = false;
    let mut joined = String::new();
    for line in page.lines() {
        if line.starts_with(FENCE) {
            inside = line == "```sh";
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(body) = line.strip_suffix('\\') {
            joined.push_str(body);
            continue;
        }
        joined.push_str(line);
        let full = std::mem::take(&mut joined);
        let command = full.split(" #").next().unwrap().trim();
        let command = command.strip_prefix("eval \"$(").unwrap_or(command);
        let words = shell_words(command);
        if words.first().map(String::as_str) != Some("keyless") {
            continue;
        }
        let args: Vec<String> = words[1..]
            .iter()
            .take_while(|w| {
                !matches!(w.as_str(), "|" | ">" | ">>" | "&" | "&&" | ";") && !w.starts_with(")")
            })
            .map(|w| w.trim_end_matches(")").to_owned())
            .collect();
        invocations.push(args);
    }
    invocations
}

#[test]
fn every_example_parses_with_the_real_cli() {
    // `--help` (before any `--`) makes clap stop after checking every flag and value given so far, so an
    // example with a renamed flag or a bad value fails here without running anything.
    let root = repo_root();
    let mut problems = Vec::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("docs/commands")).unwrap() {
        let path = entry.unwrap().path();
        let page = std::fs::read_to_string(&path).unwrap();
        for mut args in example_invocations(&page) {
            let at = args.iter().position(|a| a == "--").unwrap_or(args.len());
            args.insert(at, "--help".to_owned());
            let output = cli_tree::keyless().args(&args).output().unwrap();
            checked += 1;
            if !output.status.success() {
                problems.push(format!(
                    "{}: `keyless {}`: {}",
                    path.file_name().unwrap().to_string_lossy(),
                    args.join(" "),
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
        }
    }
    assert!(
        checked > 30,
        "only {checked} examples found: is the extraction broken?"
    );
    assert!(
        problems.is_empty(),
        "examples the CLI rejects:\n- {}",
        problems.join("\n- ")
    );
}

#[test]
fn example_extraction_handles_quotes_continuations_and_pipes() {
    let page = "```sh\nkeyless env --format fish | source\neval \"$(keyless env --env production)\"\n\
                keyless token mint --workspace acme \\\n  --workspace-uuid '{a b}' > token.jwt   # note\n\
                cargo run -- demo\n```\n```text\nkeyless not-an-example\n```\n";
    assert_eq!(
        example_invocations(page),
        [
            vec!["env", "--format", "fish"],
            vec!["env", "--env", "production"],
            vec![
                "token",
                "mint",
                "--workspace",
                "acme",
                "--workspace-uuid",
                "{a b}"
            ],
        ]
    );
}
