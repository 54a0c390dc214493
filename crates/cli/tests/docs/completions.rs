#![allow(clippy::unwrap_used, clippy::print_stdout)]
//! `keyless completions SHELL`: every shell's script names every command of the live command tree; bash's
//! script is valid bash and really completes subcommands (zsh's and fish's are syntax-checked when those shells
//! are installed).

use crate::support::cli_tree;

use std::io::Write;
use std::process::{Command as Process, Stdio};

use cli_tree::{command_paths, keyless};

const SHELLS: [&str; 5] = ["bash", "zsh", "fish", "powershell", "elvish"];

fn script(shell: &str) -> String {
    let output = keyless().args(["completions", shell]).output().unwrap();
    assert!(
        output.status.success(),
        "keyless completions {shell}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_script_names_every_command() {
    let paths = command_paths();
    for shell in SHELLS {
        let script = script(shell);
        assert!(script.len() > 1000, "{shell}: suspiciously short script");
        for path in paths.iter().filter(|p| !p.is_empty()) {
            let name = path.last().unwrap();
            assert!(
                script.contains(name.as_str()),
                "{shell}'s completion script never mentions `{}`",
                cli_tree::display(path)
            );
        }
    }
}

#[test]
fn an_unknown_shell_is_bad_input() {
    let output = keyless().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("possible values: bash"), "{stderr}");
}

fn run_shell(program: &str, args: &[&str], stdin: &str) -> Option<std::process::Output> {
    let mut child = match Process::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => panic!("cannot run {program}: {error}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    Some(child.wait_with_output().unwrap())
}

#[test]
fn bash_script_is_valid_bash() {
    let output = run_shell("bash", &["-n"], &script("bash")).expect("bash is required");
    assert!(
        output.status.success(),
        "bash -n rejects the completion script: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What bash offers after `words` (the last word is the one being completed).
fn bash_complete(script: &str, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "{script}\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\n\
         _keyless keyless '{current}' '{previous}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = quoted.join(" "),
        cword = words.len() - 1,
        line = words.join(" "),
        current = words[words.len() - 1],
        previous = words[words.len() - 2],
    );
    let output = run_shell("bash", &[], &program).unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| line.trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn bash_completes_commands_and_nested_commands() {
    let script = script("bash");
    assert_eq!(bash_complete(&script, &["keyless", "pol"]), ["policy"]);
    let token = bash_complete(&script, &["keyless", "token", ""]);
    for expected in ["mint", "decode"] {
        assert!(token.iter().any(|w| w == expected), "{token:?}");
    }
    let shells = bash_complete(&script, &["keyless", "completions", ""]);
    for shell in SHELLS {
        assert!(shells.iter().any(|w| w == shell), "{shells:?}");
    }
}

#[test]
fn zsh_and_fish_scripts_parse_when_those_shells_exist() {
    for (shell, args) in [("zsh", &["-n"][..]), ("fish", &["--no-execute"][..])] {
        match run_shell(shell, args, &script(shell)) {
            None => {
                println!("skip: {shell} is not installed; its script is only checked for content")
            }
            Some(output) => assert!(
                output.status.success(),
                "{shell} rejects its completion script: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }
}
