//! Shell data flow through one step's `script` and `after-script`: which variables and files hold the OIDC token,
//! a path inside the clone directory, or temporary AWS credentials from STS, followed through assignments,
//! `export`, `read <<<`, redirections, pipes and `$( )`. The token rules (`token-echo`, `token-in-clone-dir`,
//! `token-file-*`) and `long-lived-aws-keys` decide on what this finds, not on one line's shape.
//!
//! NOTE: an over-approximation of one straight-line shell: branches are all taken, loops once, functions and
//! sourced files are not followed. The after-script is read as if it continued the script (files it reads were
//! written there; variables are kept, as a step that wants them exports them to a file).

use std::collections::{HashMap, HashSet};

use crate::pipeline::{ScriptItem, Step};
use crate::shell::{self, Command, TOKEN_VAR};
use crate::source::{Node, Route};

/// What a value (or a stream) holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Taint {
    /// The OIDC token.
    pub token: bool,
    /// Temporary AWS credentials from STS (or a credentials file written from them).
    pub creds: bool,
}

impl Taint {
    fn any(self) -> bool {
        self.token || self.creds
    }
}

impl std::ops::BitOr for Taint {
    type Output = Taint;
    fn bitor(mut self, o: Self) -> Taint {
        self |= o;
        self
    }
}

impl std::ops::BitOrAssign for Taint {
    fn bitor_assign(&mut self, o: Self) {
        self.token |= o.token;
        self.creds |= o.creds;
    }
}

/// The token written to a file by a redirection or `tee`.
#[derive(Debug, Clone)]
pub struct TokenWrite<'a> {
    pub route: Route,
    pub node: &'a Node,
    pub text: &'a str,
    /// `>` or `>>` (`tee -a` counts as `>>`).
    pub op: &'static str,
    /// Byte offset of the operator inside `text` (`None` for `tee`).
    pub op_offset: Option<usize>,
    /// The file, as written.
    pub target: &'a str,
    /// Byte offset of `target` inside `text`.
    pub target_offset: usize,
    /// The file with the step's known variables substituted (`"$AWS_WEB_IDENTITY_TOKEN_FILE"` →
    /// `$(pwd)/web-identity-token`), unquoted.
    pub resolved: String,
    /// The resolved file is inside the clone directory.
    pub in_clone_dir: bool,
}

/// What reaches the build log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Printed {
    Token,
    Credentials,
}

/// A command whose output (or trace) puts the token or credentials in the build log.
#[derive(Debug, Clone)]
pub struct Print<'a> {
    pub route: &'a Route,
    /// The line's text (the scalar at `route`).
    pub text: &'a str,
    pub what: Printed,
    /// What the command does, completing "<step> …" (`prints the OIDC token to the build log`).
    pub how: String,
    /// Text of the line to point at.
    pub focus: String,
    /// Byte offset of `focus` inside the line's text (`None`: its first occurrence).
    pub focus_offset: Option<usize>,
    /// True for dumps of the whole environment (what they print depends on what is set).
    pub dump: bool,
    /// Where `set -x` turned tracing on, for a traced use.
    pub traced_since: Option<&'a Route>,
}

/// The data flow of one step.
#[derive(Debug, Default)]
pub struct Flow<'a> {
    pub writes: Vec<TokenWrite<'a>>,
    pub prints: Vec<Print<'a>>,
    /// For each command line (in [`Step::commands`] order): the AWS key variables it uses or sets hold temporary
    /// credentials from STS (so `long-lived-aws-keys` does not apply to it).
    pub temporary_keys: Vec<bool>,
}

/// The AWS key variables.
pub const KEY_VARS: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Commands that pass their input through to their output (changed or not): what goes in reaches the log.
const PASS_THROUGH: &[&str] = &[
    "base64", "tr", "cut", "jq", "sed", "awk", "xxd", "od", "hexdump", "cat", "tee", "head",
    "tail", "rev", "sort", "fold", "column", "yq", "python", "python3", "strings", "uniq", "xargs",
];

/// Programs that print their file arguments.
const FILE_PRINTERS: &[&str] = &[
    "cat", "head", "tail", "less", "more", "base64", "xxd", "od", "hexdump", "jq", "strings", "nl",
    "tac",
];

#[derive(Debug, Clone)]
struct Var {
    /// The value with known variables substituted, unquoted.
    value: String,
    taint: Taint,
}

#[derive(Debug, Default)]
struct State<'a> {
    vars: HashMap<String, Var>,
    /// Files (resolved paths) that hold the token, and those that hold STS credentials.
    token_files: HashSet<String>,
    cred_files: HashSet<String>,
    xtrace: Option<&'a Route>,
}

/// Analyses a step (see the module docs).
pub fn analyse<'a>(step: &Step<'a>) -> Flow<'a> {
    let mut flow = Flow::default();
    if !has_sources(step) {
        // Nothing in the step can hold the token or STS credentials: no writes, no prints, no temporary keys.
        flow.temporary_keys = vec![false; step.commands().count()];
        return flow;
    }
    let mut st = State::default();
    for item in step.script.iter().chain(step.after_script.iter()) {
        let ScriptItem::Command {
            route,
            text,
            node,
            cmds,
        } = item
        else {
            continue;
        };
        let line = Line { route, text, node };
        let mut i = 0;
        while i < cmds.len() {
            // One pipeline: cmds[i..=end].
            let mut end = i;
            while cmds[end].then == "|" && end + 1 < cmds.len() {
                end += 1;
            }
            st.pipeline(step, &line, &cmds[i..=end], &mut flow);
            i = end + 1;
        }
        let keys = key_vars_used(text);
        let temporary = !keys.is_empty()
            && keys
                .iter()
                .all(|v| st.vars.get(*v).is_some_and(|var| var.taint.creds))
            || st.text_taint(text).creds;
        flow.temporary_keys.push(temporary);
    }
    flow
}

/// Whether anything in the step can be a source of what this module tracks: the token (the step has OIDC, where a
/// dump of the environment prints it, or a line names the token's variable), or STS credentials (a line that could
/// call STS or read a credentials file names `sts` or `credentials`). Most steps have none, and their analysis
/// would find nothing: every taint starts at one of these (a taint reaches a variable or file only from a tainted
/// value). NOTE: a credentials file path spelled in pieces (`D=.aws; cat ~/$D/cred$X`) escapes this as it escapes
/// the rest of the analysis's literal matching.
fn has_sources(step: &Step<'_>) -> bool {
    step.oidc
        || step
            .commands()
            .any(|(_, t)| t.contains(TOKEN_VAR) || t.contains("sts") || t.contains("credentials"))
}

struct Line<'a, 'r> {
    route: &'r &'a Route,
    text: &'r &'a str,
    node: &'r &'a Node,
}

/// The key variables a line mentions (set or used).
fn key_vars_used(text: &str) -> Vec<&'static str> {
    KEY_VARS
        .iter()
        .copied()
        .filter(|v| text.contains(v))
        .collect()
}

fn is_assignment(w: &str) -> bool {
    w.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The index of the program word in `cmd.words`, past assignments, `sudo`/`env X=1`-style wrappers and shell
/// keywords (`then echo …`). A lone `env` is the program (it prints the environment).
fn program_index(cmd: &Command<'_>) -> Option<usize> {
    // The words were unquoted once, when the command was lexed.
    let words = cmd.unquoted_words();
    let mut i = 0;
    while let Some(w) = words.get(i) {
        let w = w.as_ref();
        let wrapper = matches!(w, "sudo" | "exec" | "command" | "nohup" | "time")
            || (w == "env"
                && words[i + 1..]
                    .iter()
                    .any(|x| !is_assignment(x) && !x.starts_with('-')));
        let keyword = matches!(
            w,
            "then" | "do" | "else" | "elif" | "if" | "while" | "until" | "!" | "{" | "("
        );
        if is_assignment(w) || wrapper || keyword {
            i += 1;
        } else {
            break;
        }
    }
    (i < words.len()).then_some(i)
}

/// The program and its arguments, unquoted (empty for a bare assignment), borrowed from the command.
fn argv<'c>(cmd: &'c Command<'_>) -> Vec<&'c str> {
    match program_index(cmd) {
        Some(at) => cmd.unquoted_words()[at..]
            .iter()
            .map(AsRef::as_ref)
            .collect(),
        None => Vec::new(),
    }
}

/// `aws sts assume-role…` / `get-session-token` / `aws configure export-credentials`: prints credentials.
fn is_sts_call(args: &[&str]) -> bool {
    let Some(aws) = args.iter().position(|a| *a == "aws") else {
        return false;
    };
    let rest = &args[aws + 1..];
    let has = |w: &str| rest.contains(&w);
    (has("sts")
        && [
            "assume-role",
            "assume-role-with-web-identity",
            "assume-role-with-saml",
            "get-session-token",
            "get-federation-token",
        ]
        .iter()
        .any(|c| has(c)))
        || (has("configure") && has("export-credentials"))
}

/// A redirect target that is a file (not a file descriptor, not the terminal).
fn is_file_target(t: &str) -> bool {
    let t = shell::unquote(t);
    !(t.is_empty()
        || t.starts_with('&')
        || matches!(
            t.as_ref(),
            "/dev/stdout" | "/dev/stderr" | "/dev/tty" | "/dev/fd/1" | "/dev/fd/2"
        ))
}

fn to_file(cmd: &Command<'_>) -> bool {
    cmd.redirects.iter().any(|(op, _, t)| {
        (*op == ">" || *op == ">>") && is_file_target(t) && !t.starts_with("/dev/null")
    }) || cmd.redirects.iter().any(|(_, _, t)| *t == "/dev/null")
}

impl<'a> State<'a> {
    /// `word` with known variables substituted, unquoted.
    fn resolve(&self, word: &str) -> String {
        let mut out = word.to_owned();
        let mut refs = shell::var_refs(word);
        refs.sort_by_key(|r| std::cmp::Reverse(r.offset));
        for r in refs {
            if let Some(v) = self.vars.get(&r.name) {
                let end = r.offset + r.raw.len();
                if out.is_char_boundary(r.offset) && out.is_char_boundary(end) {
                    out.replace_range(r.offset..end, &v.value);
                }
            }
        }
        shell::unquote(&out).into_owned()
    }

    /// What a word (or any text) holds: the token or a tainted variable it expands, or what its command
    /// substitutions print.
    fn text_taint(&self, text: &str) -> Taint {
        let mut t = Taint::default();
        if !text.contains('$') && !text.contains('`') {
            return t;
        }
        for r in shell::var_refs(text) {
            if r.name == TOKEN_VAR {
                t.token = true;
            } else if let Some(v) = self.vars.get(&r.name) {
                t |= v.taint;
            }
        }
        for (inner, _) in shell::substitutions(text) {
            // Nested substitutions (`$(printf … $(aws sts …))`) are inside the inner text.
            if inner.contains("$(") || inner.contains('`') {
                t |= self.text_taint(inner);
            }
            for cmd in shell::commands(inner) {
                let args = argv(&cmd);
                let prog = args.first().copied().unwrap_or("");
                if is_sts_call(&args) {
                    t.creds = true;
                }
                if FILE_PRINTERS.contains(&prog) {
                    t |= self.files_taint(&cmd);
                }
                for (_, _, target) in &cmd.redirects {
                    t |= self.file_taint(target);
                }
            }
        }
        t
    }

    fn file_taint(&self, word: &str) -> Taint {
        let path = self.resolve(word);
        Taint {
            token: self.token_files.contains(&path),
            creds: self.cred_files.contains(&path) || path.ends_with(".aws/credentials"),
        }
    }

    /// What the file arguments of a printing command hold.
    fn files_taint(&self, cmd: &Command<'_>) -> Taint {
        let mut t = Taint::default();
        if let Some(at) = program_index(cmd) {
            for (w, _) in cmd.words.iter().skip(at + 1) {
                if !w.starts_with('-') {
                    t |= self.file_taint(w);
                }
            }
        }
        t
    }

    fn assign(&mut self, name: &str, raw_value: &str, extra: Taint) {
        let mut taint = self.text_taint(raw_value);
        taint |= extra;
        let value = self.resolve(raw_value);
        self.vars.insert(name.to_owned(), Var { value, taint });
    }

    /// Handles one pipeline of a line.
    fn pipeline(
        &mut self,
        step: &Step<'a>,
        line: &Line<'a, '_>,
        cmds: &[Command<'a>],
        flow: &mut Flow<'a>,
    ) {
        let first = &cmds[0];
        let args = argv(first);
        let prog = args.first().copied().unwrap_or("");
        // Assignments: `X=v cmd`/`X=v`, `export X=v`, `declare`/`local`/`readonly X=v`.
        let assigning_builtin = matches!(
            prog,
            "export" | "declare" | "typeset" | "local" | "readonly"
        );
        let mut assignments: Vec<(&str, &str)> = Vec::new();
        for (w, _) in &first.words {
            if let Some((k, v)) = w.split_once('=')
                && !k.is_empty()
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                assignments.push((k, v));
            }
        }
        if prog.is_empty() || assigning_builtin {
            for (k, v) in &assignments {
                self.assign(k, v, Taint::default());
            }
        }
        // `export $(… STS …)` / `eval $(… STS …)`: the key variables are set from the credentials.
        if matches!(prog, "export" | "eval") {
            let t = self.text_taint(line.text);
            if t.creds {
                for v in KEY_VARS {
                    if line.text.contains(v) || prog == "eval" {
                        self.vars.insert(
                            v.to_owned(),
                            Var {
                                value: String::new(),
                                taint: Taint {
                                    token: false,
                                    creds: true,
                                },
                            },
                        );
                    }
                }
            }
        }
        // `read -r A B C <<< "$STS"`, `read A < creds.txt`.
        if prog == "read" {
            let mut t = Taint::default();
            for (op, _, target) in &first.redirects {
                if *op == "<" {
                    t |= self.text_taint(target);
                    t |= self.file_taint(target);
                }
            }
            // `… | read A B`: what flows in.
            for name in args.iter().skip(1).filter(|a| !a.starts_with('-')) {
                self.vars.insert(
                    (*name).to_owned(),
                    Var {
                        value: String::new(),
                        taint: t,
                    },
                );
            }
        }
        // `set -x` / `set +x`.
        if prog == "set" {
            if args
                .iter()
                .skip(1)
                .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('x'))
                || args.windows(2).any(|w| w[0] == "-o" && w[1] == "xtrace")
            {
                self.xtrace = Some(line.route);
            } else if args
                .iter()
                .skip(1)
                .any(|a| a.starts_with('+') && a.contains('x'))
                || args.windows(2).any(|w| w[0] == "+o" && w[1] == "xtrace")
            {
                self.xtrace = None;
            }
        }

        // What the first command sends down the pipe.
        let mut data = Taint::default();
        let mut how = String::new();
        let mut focus = prog.to_owned();
        // The program's word: the pipeline's own, not an earlier line's of the same block.
        let prog_at = program_index(first)
            .and_then(|i| first.words.get(i))
            .map(|(_, at)| *at);
        let mut focus_offset = prog_at;
        let mut dump = false;
        // The pipeline's text: a reference to point at is looked for here, not in the whole (block) line.
        let span = pipeline_span(line.text, cmds);
        if matches!(prog, "echo" | "printf" | "print") {
            for (w, _) in &first.words {
                data |= self.text_taint(w);
            }
            how = "prints".into();
            if let Some((raw, at)) = first_tainted_ref(self, &line.text[span.clone()]) {
                focus = raw;
                focus_offset = Some(span.start + at);
            }
        } else if prog == "printenv" && args.len() > 1 {
            for a in &args[1..] {
                if *a == TOKEN_VAR {
                    data.token = true;
                } else if let Some(v) = self.vars.get(*a) {
                    data |= v.taint;
                }
            }
            how = "prints".into();
        } else if is_sts_call(&args) {
            data.creds = true;
            how = "runs".into();
            focus = "sts".into();
            focus_offset = line.text[span.clone()]
                .find("sts")
                .map(|at| span.start + at);
        } else if FILE_PRINTERS.contains(&prog) {
            data = self.files_taint(first);
            how = format!("`{prog}`s a file that holds");
        } else if is_dump(prog, &args) {
            data = Taint {
                token: step.oidc,
                creds: self
                    .vars
                    .iter()
                    .any(|(k, v)| KEY_VARS.contains(&k.as_str()) && v.taint.creds),
            };
            dump = true;
            how = format!(
                "`{}` dumps every environment variable, including",
                args.join(" ")
            );
        }
        // Down the pipe: through filters, or into a consumer that keeps it.
        let mut printed = data.any();
        let mut via: Vec<String> = Vec::new();
        for (k, cmd) in cmds.iter().enumerate() {
            let a = argv(cmd);
            let p = a.first().copied().unwrap_or("");
            if k > 0 {
                let quiet = p == "grep" && a.iter().any(|w| *w == "-q" || *w == "--quiet");
                // `env | grep X` shows only what matches: not reported as a dump.
                let passes = (PASS_THROUGH.contains(&p) || (p == "grep" && !dump)) && !quiet;
                if !passes {
                    printed = false;
                }
                if printed && p != "cat" && p != "tee" {
                    via.push(p.to_owned());
                }
                if p == "tee" && data.token {
                    let append = a.iter().any(|w| *w == "-a" || *w == "--append");
                    let at = program_index(cmd).unwrap_or(0);
                    for (w, w_at) in cmd
                        .words
                        .iter()
                        .skip(at + 1)
                        .filter(|(w, _)| !w.starts_with('-'))
                    {
                        self.write(
                            line,
                            (*w, *w_at),
                            if append { ">>" } else { ">" },
                            None,
                            flow,
                        );
                    }
                }
            }
            if to_file(cmd) && (k + 1 == cmds.len() || k == 0) {
                printed = false;
            }
        }
        // Files written: the token (what a command that prints it sends to a file; an `aws sts … --web-identity-token
        // "$T" > out.json` writes the credentials, not the token), STS output.
        for (k, cmd) in cmds.iter().enumerate() {
            for (op, at, target) in &cmd.redirects {
                if (*op == ">" || *op == ">>")
                    && is_file_target(target)
                    && !target.starts_with("/dev/")
                {
                    if k == 0 && data.token {
                        // The target word follows its operator.
                        let target_at = line.text[*at..].find(*target).map_or(*at, |i| *at + i);
                        self.write(line, (*target, target_at), op, Some(*at), flow);
                    }
                    if data.creds && (k == 0 || k + 1 == cmds.len()) {
                        let path = self.resolve(target);
                        self.cred_files.insert(path);
                    }
                }
            }
        }
        if printed {
            let what = if data.token {
                Printed::Token
            } else {
                Printed::Credentials
            };
            let noun = match what {
                Printed::Token => "the OIDC token",
                Printed::Credentials => "the temporary AWS credentials from STS",
            };
            let via = if via.is_empty() {
                String::new()
            } else {
                format!(" (through {})", via.join(" | "))
            };
            let how = if dump {
                format!("{how} {noun}")
            } else if is_sts_call(&args) {
                format!("prints {noun} (the output of `aws sts`) to the build log{via}")
            } else if how == "prints" {
                format!("prints {noun} to the build log{via}")
            } else {
                format!("{how} {noun}{via}")
            };
            flow.prints.push(Print {
                route: line.route,
                text: line.text,
                what,
                how,
                focus,
                focus_offset,
                dump,
                traced_since: None,
            });
        }
        if let Some(since) = self.xtrace
            && prog != "set"
        {
            let mut t = Taint::default();
            for cmd in cmds {
                for (w, _) in &cmd.words {
                    t |= self.text_taint(w);
                }
            }
            if t.any() {
                let traced_focus = match first_tainted_ref(self, &line.text[span.clone()]) {
                    Some((raw, at)) => (raw, Some(span.start + at)),
                    None => (prog.to_owned(), prog_at),
                };
                let what = if t.token {
                    Printed::Token
                } else {
                    Printed::Credentials
                };
                flow.prints.push(Print {
                    route: line.route,
                    text: line.text,
                    what,
                    how: match what {
                        Printed::Token => "uses the OIDC token while `set -x` traces commands to the log".into(),
                        Printed::Credentials => {
                            "uses temporary AWS credentials while `set -x` traces commands to the log".into()
                        }
                    },
                    focus: traced_focus.0,
                    focus_offset: traced_focus.1,
                    dump: false,
                    traced_since: Some(since),
                });
            }
        }
    }

    fn write(
        &mut self,
        line: &Line<'a, '_>,
        (target, target_offset): (&'a str, usize),
        op: &'static str,
        op_offset: Option<usize>,
        flow: &mut Flow<'a>,
    ) {
        let resolved = self.resolve(target);
        let in_clone_dir = shell::is_in_clone_dir(&resolved);
        self.token_files.insert(resolved.clone());
        flow.writes.push(TokenWrite {
            route: (*line.route).clone(),
            node: line.node,
            text: line.text,
            op,
            op_offset,
            target,
            target_offset,
            resolved,
            in_clone_dir,
        });
    }
}

/// `env`, `printenv`, `export`/`export -p`, `set`, `declare -p`/`-x` with no names: the whole environment.
fn is_dump(prog: &str, args: &[&str]) -> bool {
    let names = args.iter().skip(1).filter(|a| !a.starts_with('-')).count();
    match prog {
        "env" | "printenv" => args.len() == 1,
        "export" => names == 0 && args.iter().skip(1).all(|a| *a == "-p"),
        "set" => args.len() == 1,
        "declare" | "typeset" => {
            names == 0
                && args
                    .iter()
                    .skip(1)
                    .any(|a| a.contains('p') || a.contains('x'))
        }
        _ => false,
    }
}

/// The first reference in `text` to the token or a tainted variable, as written (`$TOKEN`, `${X}`), and its offset.
fn first_tainted_ref(st: &State<'_>, text: &str) -> Option<(String, usize)> {
    shell::var_refs(text)
        .into_iter()
        .find(|r| r.name == TOKEN_VAR || st.vars.get(&r.name).is_some_and(|v| v.taint.any()))
        .map(|r| (r.raw, r.offset))
}

/// The byte range of `text` a pipeline's commands cover (words and redirection targets), so what a rule points at
/// is looked for on the pipeline's own line of a multi-line block.
fn pipeline_span(text: &str, cmds: &[Command<'_>]) -> std::ops::Range<usize> {
    let mut start = text.len();
    let mut end = 0;
    for cmd in cmds {
        for (w, at) in &cmd.words {
            start = start.min(*at);
            end = end.max(at + w.len());
        }
        for (_, at, target) in &cmd.redirects {
            start = start.min(*at);
            end = end.max(
                text[*at..]
                    .find(*target)
                    .map_or(*at + 1, |i| at + i + target.len()),
            );
        }
    }
    if start >= end {
        return 0..text.len();
    }
    start..end.min(text.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn state() -> State<'static> {
        State::default()
    }

    #[test]
    fn clone_dir_paths_follow_variables() {
        let mut st = state();
        st.assign(
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "\"$(pwd)/web-identity-token\"",
            Taint::default(),
        );
        assert_eq!(
            st.resolve("\"$AWS_WEB_IDENTITY_TOKEN_FILE\""),
            "$(pwd)/web-identity-token"
        );
        assert!(shell::is_in_clone_dir(
            &st.resolve("\"$AWS_WEB_IDENTITY_TOKEN_FILE\"")
        ));
        st.assign("F", "$HOME/.aws/token", Taint::default());
        assert!(!shell::is_in_clone_dir(&st.resolve("${F}")));
    }

    #[test]
    fn sts_output_taints_variables() {
        let mut st = state();
        st.assign(
            "CREDS",
            "$(aws sts assume-role-with-web-identity --role-arn x --web-identity-token \"$BITBUCKET_STEP_OIDC_TOKEN\")",
            Taint::default(),
        );
        assert!(st.vars["CREDS"].taint.creds);
        st.assign(
            "AWS_ACCESS_KEY_ID",
            "$(echo \"$CREDS\" | jq -r .Credentials.AccessKeyId)",
            Taint::default(),
        );
        assert!(st.vars["AWS_ACCESS_KEY_ID"].taint.creds);
        st.assign("AWS_SECRET_ACCESS_KEY", "$PROD_SECRET", Taint::default());
        assert!(!st.vars["AWS_SECRET_ACCESS_KEY"].taint.creds);
        st.assign("T", "\"$BITBUCKET_STEP_OIDC_TOKEN\"", Taint::default());
        assert!(st.vars["T"].taint.token);
    }

    #[test]
    fn dumps() {
        assert!(is_dump("env", &["env"]));
        assert!(!is_dump("env", &["env", "X=1"]));
        assert!(is_dump("export", &["export"]));
        assert!(is_dump("export", &["export", "-p"]));
        assert!(!is_dump("export", &["export", "A=1"]));
        assert!(is_dump("set", &["set"]));
        assert!(!is_dump("set", &["set", "-e"]));
        assert!(is_dump("declare", &["declare", "-p"]));
    }
}
