//! Just enough shell lexing for the script rules: words with their quoting, operators (`|`, `&&`, `;`, `>`,
//! `>>`), simple commands, and variable references with whether they sit inside double quotes.
//!
//! NOTE: hand-written because the rules need byte offsets of operators (for `>>` → `>` fixes) and quoting
//! context of each `$VAR`; the shell-words crates return unquoted words without either. It is a lexer for
//! POSIX-ish scripts, not a shell: a command substitution (`$(...)`, backquotes) stays inside its word (its
//! inner commands are lexed again by whoever needs them, see [`substitutions`]); heredocs are plain text.

/// The OIDC token variable.
pub const TOKEN_VAR: &str = "BITBUCKET_STEP_OIDC_TOKEN";

/// A lexed token. A word is always one contiguous run of the text (quotes and escapes kept), so it borrows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok<'t> {
    /// A word: its raw text (quotes kept) and its byte offset.
    Word(&'t str, usize),
    /// An operator and its byte offset.
    Op(&'static str, usize),
}

/// Lexes a script line (or block) into words and operators.
pub fn lex<'t>(text: &'t str) -> Vec<Tok<'t>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // The word being read is `text[word_start..word_end]`; empty when the two are equal.
    let mut word_start = 0;
    let mut word_end = 0;
    let flush = |out: &mut Vec<Tok<'t>>, start: &mut usize, end: usize| {
        if end > *start {
            out.push(Tok::Word(&text[*start..end], *start));
        }
        *start = end;
    };
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' | b'"' | b'`' => {
                if word_end == word_start {
                    word_start = i;
                }
                i = find_close(text, i);
                word_end = i;
                continue;
            }
            b'$' if bytes.get(i + 1) == Some(&b'(') => {
                if word_end == word_start {
                    word_start = i;
                }
                i = substitution_end(text, i + 1);
                word_end = i;
                continue;
            }
            b'\\' if i + 1 < bytes.len() => {
                if word_end == word_start {
                    word_start = i;
                }
                i += 1 + next_char_len(text, i + 1);
                word_end = i;
                continue;
            }
            b'#' if word_end == word_start => {
                // Comment to end of line.
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                flush(&mut out, &mut word_start, word_end);
            }
            b'\n' | b';' => {
                flush(&mut out, &mut word_start, word_end);
                out.push(Tok::Op(if c == b';' { ";" } else { "\n" }, i));
            }
            b'|' | b'&' => {
                flush(&mut out, &mut word_start, word_end);
                let double = bytes.get(i + 1) == Some(&c);
                let op = match (c, double) {
                    (b'|', true) => "||",
                    (b'|', false) => "|",
                    (_, true) => "&&",
                    _ => "&",
                };
                out.push(Tok::Op(op, i));
                i += if double { 2 } else { 1 };
                continue;
            }
            // `<aws-account-number>`: a documentation placeholder copied into a script (corpus 215's
            // `arn:aws:iam::<aws-account-number>:role/…`, 217's `<SERVICE_ACCOUNT_EMAIL>`), not two redirections. A
            // shell would read `<name` and `>…` as redirections and fail; whoever runs the step replaces it first.
            b'<' if placeholder_len(&bytes[i..]) > 0 => {
                if word_end == word_start {
                    word_start = i;
                }
                i += placeholder_len(&bytes[i..]);
                word_end = i;
                continue;
            }
            b'>' | b'<' => {
                // `2>` / `&>`: the fd digit belongs to the redirection.
                let fd_prefix = word_end == word_start + 1 && bytes[word_start].is_ascii_digit();
                if fd_prefix {
                    word_start = word_end;
                } else {
                    flush(&mut out, &mut word_start, word_end);
                }
                let start = if fd_prefix { i - 1 } else { i };
                if c == b'>' && bytes.get(i + 1) == Some(&b'>') {
                    out.push(Tok::Op(">>", start));
                    i += 2;
                } else {
                    out.push(Tok::Op(if c == b'>' { ">" } else { "<" }, start));
                    i += 1;
                }
                // `>&2`, `2>&1`: the `&` starts the target word (a file descriptor), it does not end the command.
                // (`<<` and `<<<` lex as repeated `<`.)
                if bytes.get(i) == Some(&b'&') {
                    word_start = i;
                    i += 1;
                    word_end = i;
                }
                continue;
            }
            _ => {
                if word_end == word_start {
                    word_start = i;
                }
                i += next_char_len(text, i);
                word_end = i;
                continue;
            }
        }
        i += 1;
    }
    flush(&mut out, &mut word_start, word_end);
    out
}

/// The length of a `<placeholder>` at the start of `rest`, or 0: a name of letters, digits, `_`, `-` and `.` that
/// starts with a letter, closed by a `>` that is not the start of `>>` and is followed by the end of the word (white
/// space, an operator, a quote) or by text that continues the word (`<account>:role/x`, `<bucket>/path`). A heredoc
/// (`<<EOF`), a here-string (`<<<`), an input redirection (`< file`, `<file`) and a process substitution (`<(…)`) have
/// no closing `>` after a name, so they stay redirections.
fn placeholder_len(rest: &[u8]) -> usize {
    if rest.first() != Some(&b'<') || !rest.get(1).is_some_and(u8::is_ascii_alphabetic) {
        return 0;
    }
    let name = rest[1..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        .count();
    match (rest.get(1 + name), rest.get(2 + name)) {
        (Some(b'>'), next) if next != Some(&b'>') && next != Some(&b'&') => name + 2,
        _ => 0,
    }
}

fn next_char_len(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(1, char::len_utf8)
}

/// Index just past the quote that closes the one at `open` (or the end of the text). Inside double quotes a
/// `$(...)` is skipped whole (`"$(cmd "$X")"` is one quoted string).
fn find_close(text: &str, open: usize) -> usize {
    let bytes = text.as_bytes();
    let q = bytes[open];
    let mut i = open + 1;
    while i < bytes.len() {
        if q != b'\'' && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if q == b'"' && bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'(') {
            i = substitution_end(text, i + 1);
            continue;
        }
        if bytes[i] == q {
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// Index just past the `)` that closes the `(` at `open` (quotes and nested parentheses skipped), or the end.
fn substitution_end(text: &str, open: usize) -> usize {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'\'' | b'"' | b'`' => {
                i = find_close(text, i);
                continue;
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// The command substitutions in `text` (`$(...)` and backquotes, outside single quotes), each as its inner text
/// and that text's byte offset in `text`. Nested substitutions are inside their parent's text.
pub fn substitutions(text: &str) -> Vec<(&str, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_double = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'\'' if !in_double => {
                i = find_close(text, i);
                continue;
            }
            b'"' => in_double = !in_double,
            b'$' if bytes.get(i + 1) == Some(&b'(') && bytes.get(i + 2) != Some(&b'(') => {
                let end = substitution_end(text, i + 1);
                let inner_end = if bytes.get(end - 1) == Some(&b')') {
                    end - 1
                } else {
                    end
                };
                out.push((&text[i + 2..inner_end.max(i + 2)], i + 2));
                i = end;
                continue;
            }
            b'`' => {
                let end = find_close(text, i);
                let inner_end = if end > i + 1 && bytes[end - 1] == b'`' {
                    end - 1
                } else {
                    end
                };
                out.push((&text[i + 1..inner_end], i + 1));
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// A simple command: its words, redirections and the operator that ends it.
#[derive(Debug, Clone, Default)]
pub struct Command<'t> {
    pub words: Vec<(&'t str, usize)>,
    /// `(operator, operator offset, target word)`.
    pub redirects: Vec<(&'static str, usize, &'t str)>,
    /// The operator after this command (`|`, `&&`, `;`, `\n`, or empty at the end).
    pub then: &'static str,
    /// Where the program is in `words` (after `VAR=value` assignments and `sudo`/`env`/...): set once when the
    /// command is complete, since every rule asks.
    program_at: usize,
    /// `words` unquoted, in the same order (also set once: most rules compare unquoted words).
    unquoted: Vec<std::borrow::Cow<'t, str>>,
}

impl<'t> Command<'t> {
    /// The program name with any leading `VAR=value` assignments and `sudo`/`env`/`exec` skipped.
    pub fn program(&self) -> Option<&'t str> {
        self.args_from_program().first().map(|(w, _)| *w)
    }

    /// The words from the program on.
    pub fn args_from_program(&self) -> &[(&'t str, usize)] {
        &self.words[self.program_at.min(self.words.len())..]
    }

    /// Completes the command: finds where its program is.
    fn finished(mut self) -> Self {
        let mut i = 0;
        while let Some((w, _)) = self.words.get(i) {
            let assignment = w.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if assignment || matches!(*w, "sudo" | "env" | "exec" | "command" | "time" | "nohup") {
                i += 1;
            } else {
                break;
            }
        }
        self.program_at = i;
        self.unquoted = self.words.iter().map(|(w, _)| unquote(w)).collect();
        self
    }

    /// Every word, unquoted (see [`unquote`]), in the order of `words`.
    pub fn unquoted_words(&self) -> &[std::borrow::Cow<'t, str>] {
        &self.unquoted
    }

    /// The words from the program on, unquoted (see [`unquote`]).
    pub fn unquoted_args(&self) -> &[std::borrow::Cow<'t, str>] {
        &self.unquoted[self.program_at.min(self.unquoted.len())..]
    }

    pub fn has_word(&self, word: &str) -> bool {
        self.unquoted.iter().any(|w| w == word)
    }

    /// Any word (or redirect target) mentions `$var`/`${var}`.
    pub fn references(&self, var: &str) -> bool {
        self.words.iter().any(|(w, _)| references(w, var))
    }
}

/// Splits lexed tokens into simple commands.
pub fn commands(text: &str) -> Vec<Command<'_>> {
    let mut out = Vec::new();
    let mut cur = Command::default();
    let mut toks = lex(text).into_iter().peekable();
    while let Some(tok) = toks.next() {
        match tok {
            Tok::Word(w, at) => cur.words.push((w, at)),
            Tok::Op(op @ (">" | ">>" | "<"), at) => {
                let target = match toks.peek() {
                    Some(&Tok::Word(w, _)) => {
                        toks.next();
                        w
                    }
                    _ => "",
                };
                cur.redirects.push((op, at, target));
            }
            Tok::Op(op, _) => {
                cur.then = op;
                out.push(std::mem::take(&mut cur).finished());
            }
        }
    }
    if !cur.words.is_empty() || !cur.redirects.is_empty() {
        out.push(cur.finished());
    }
    out
}

/// Removes one level of quotes and backslashes from a word. Most words have none: those are borrowed, not copied
/// (rules unquote every word of every command).
pub fn unquote(word: &str) -> std::borrow::Cow<'_, str> {
    if !word.bytes().any(|b| matches!(b, b'\'' | b'"' | b'\\')) {
        return std::borrow::Cow::Borrowed(word);
    }
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None | Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            _ => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `text` mentions `$var` or `${var...}` (outside single quotes).
pub fn references(text: &str, var: &str) -> bool {
    // Most lines never mention the variable: skip lexing them (a hot path, rules ask for every command).
    text.contains(var) && var_refs(text).iter().any(|r| r.name == var)
}

/// One `$NAME` / `${NAME...}` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef {
    pub name: String,
    pub offset: usize,
    /// The raw reference text (`$X` or `${X:-y}`).
    pub raw: String,
    pub in_double_quotes: bool,
}

/// Every variable reference in `text` that the shell would expand, with its quoting context.
///
/// A command substitution starts a new quoting context: in `"$(cmd "$X")"` the `$X` is quoted, as the shell reads
/// it. Arithmetic `$((...))` is not a substitution.
pub fn var_refs(text: &str) -> Vec<VarRef> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_double = false;
    // The quoting context outside each open `$(`, innermost last.
    let mut outer: Vec<bool> = Vec::new();
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'\'' if !in_double => {
                i = find_close(text, i);
                continue;
            }
            b'"' => in_double = !in_double,
            b'$' if bytes.get(i + 1) == Some(&b'(') && bytes.get(i + 2) != Some(&b'(') => {
                outer.push(in_double);
                in_double = false;
                i += 2;
                continue;
            }
            b')' if !in_double && !outer.is_empty() => {
                in_double = outer.pop().unwrap_or(false);
            }
            b'$' => {
                let start = i;
                let (name, end) = if bytes.get(i + 1) == Some(&b'{') {
                    let close = text[i..].find('}').map_or(bytes.len(), |j| i + j + 1);
                    let inner = &text[(i + 2).min(close)..close.saturating_sub(1).max(i + 2)];
                    let name: String = inner
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    (name, close)
                } else {
                    let name: String = text[i + 1..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let end = i + 1 + name.len();
                    (name, end)
                };
                if !name.is_empty() {
                    out.push(VarRef {
                        raw: text[start..end].to_owned(),
                        name,
                        offset: start,
                        in_double_quotes: in_double,
                    });
                }
                i = end.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// A path where a file written by the step lands inside the clone directory (relative, `./`, `$(pwd)`,
/// `$PWD`, `$BITBUCKET_CLONE_DIR`), where artifacts and caches can pick it up.
pub fn is_in_clone_dir(target: &str) -> bool {
    let t = unquote(target);
    if t.is_empty() || t.starts_with("/dev/") || t.starts_with('&') {
        return false;
    }
    let clone_prefixes = [
        "$BITBUCKET_CLONE_DIR",
        "${BITBUCKET_CLONE_DIR}",
        "$(pwd)",
        "$PWD",
        "${PWD}",
        "./",
    ];
    if clone_prefixes.iter().any(|p| t.starts_with(p)) {
        return true;
    }
    !(t.starts_with('/') || t.starts_with('~') || t.starts_with('$'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Corpus 215 (`arn:aws:iam::<aws-account-number>:role/…`) and 217 (`export SA=<SERVICE_ACCOUNT_EMAIL>`): a
    /// documentation placeholder is part of its word, not an input and an output redirection.
    #[test]
    fn placeholder_in_angle_brackets_is_a_word_not_redirections() {
        let cmds = commands(
            "aws sts assume-role --role-arn arn:aws:iam::<aws-account-number>:role/x > creds.json",
        );
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].redirects, [(">", 72, "creds.json")]);
        assert!(cmds[0].has_word("arn:aws:iam::<aws-account-number>:role/x"));
        let cmds = commands("export SA=<SERVICE_ACCOUNT_EMAIL>");
        assert!(cmds[0].redirects.is_empty());
        assert!(cmds[0].has_word("SA=<SERVICE_ACCOUNT_EMAIL>"));
        let cmds = commands("export WIP=projects/<PROJECT_NUMBER>/pools/<WIP_NAME>");
        assert!(cmds[0].redirects.is_empty());
        assert_eq!(cmds[0].words.len(), 2);
        // Real redirections stay redirections.
        assert_eq!(commands("sort < in.txt > out.txt")[0].redirects.len(), 2);
        assert_eq!(commands("sort <in.txt >out.txt")[0].redirects.len(), 2);
        assert!(!commands("cat <<EOF")[0].redirects.is_empty());
        assert!(!commands("tr a b <<< x")[0].redirects.is_empty());
        assert!(!commands("cmd <a>>log")[0].redirects.is_empty());
        assert!(!commands("cmd <a>&2")[0].redirects.is_empty());
    }

    #[test]
    fn lexes_redirects_and_pipes() {
        let cmds = commands("echo $BITBUCKET_STEP_OIDC_TOKEN >> /tmp/t && curl -s x | sh");
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0].redirects[0].0, ">>");
        assert_eq!(cmds[0].redirects[0].2, "/tmp/t");
        assert_eq!(cmds[1].then, "|");
        assert_eq!(cmds[2].program(), Some("sh"));
    }

    #[test]
    fn var_refs_know_quotes() {
        let refs = var_refs("git push \"$BITBUCKET_BRANCH\" $BITBUCKET_TAG '$NOT' ${X:-y}");
        let names: Vec<_> = refs
            .iter()
            .map(|r| (r.name.as_str(), r.in_double_quotes))
            .collect();
        assert_eq!(
            names,
            vec![
                ("BITBUCKET_BRANCH", true),
                ("BITBUCKET_TAG", false),
                ("X", false)
            ]
        );
    }

    #[test]
    fn clone_dir_paths() {
        assert!(is_in_clone_dir("web-identity-token"));
        assert!(is_in_clone_dir("$(pwd)/token"));
        assert!(is_in_clone_dir("\"$BITBUCKET_CLONE_DIR/t\""));
        assert!(!is_in_clone_dir("/tmp/token"));
        assert!(!is_in_clone_dir("$HOME/.aws/token"));
        assert!(!is_in_clone_dir("/dev/null"));
    }

    #[test]
    fn program_skips_assignments_and_sudo() {
        let cmds = commands("FOO=1 sudo bash -c 'x'");
        assert_eq!(cmds[0].program(), Some("bash"));
    }

    /// Words keep their quotes and escapes and borrow the text at their offsets; operators split words; comments,
    /// fd digits of redirections and white space are not words.
    #[test]
    fn lexes_words_as_written() {
        type Case<'c> = (&'c str, &'c [(&'c str, usize)], &'c [(&'c str, usize)]);
        let cases: &[Case<'_>] = &[
            (
                "echo \"a b\"'c'\\ d x",
                &[("echo", 0), ("\"a b\"'c'\\ d", 5), ("x", 17)],
                &[],
            ),
            (
                "a|b&&c;d",
                &[("a", 0), ("b", 2), ("c", 5), ("d", 7)],
                &[("|", 1), ("&&", 3), (";", 6)],
            ),
            (
                "cmd 2>&1 >>f # note",
                &[("cmd", 0), ("&1", 6), ("f", 11)],
                &[(">", 4), (">>", 9)],
            ),
            (
                "é'ü' \"unterminated",
                &[("é'ü'", 0), ("\"unterminated", 7)],
                &[],
            ),
            ("x#y 'a#b' \\", &[("x#y", 0), ("'a#b'", 4), ("\\", 10)], &[]),
            ("  \t\n", &[], &[("\n", 3)]),
        ];
        for (text, words, ops) in cases {
            let (mut got_words, mut got_ops) = (Vec::new(), Vec::new());
            for tok in lex(text) {
                match tok {
                    Tok::Word(w, at) => got_words.push((w, at)),
                    Tok::Op(o, at) => got_ops.push((o, at)),
                }
            }
            assert_eq!(&got_words, words, "{text:?}");
            assert_eq!(&got_ops, ops, "{text:?}");
            for (w, at) in got_words {
                assert_eq!(&text[at..at + w.len()], w, "{text:?}");
            }
        }
    }

    /// `>&2` and `2>&1` redirect to a file descriptor: the `&` does not end the command (it used to, so a token
    /// echoed to stderr looked like a write to a file with no name).
    #[test]
    fn fd_duplication_is_a_redirect_target() {
        let cmds = commands("echo $T >&2 && x 2>&1 | tee f");
        let programs: Vec<_> = cmds.iter().map(|c| c.program()).collect();
        assert_eq!(programs, [Some("echo"), Some("x"), Some("tee")]);
        assert_eq!(cmds[0].redirects, [(">", 8, "&2")]);
        assert_eq!(cmds[0].then, "&&");
        assert_eq!(cmds[1].redirects, [(">", 17, "&1")]);
        assert_eq!(cmds[1].then, "|");
    }

    /// A command substitution stays in its word (its `|` and spaces do not split the outer command), and starts a
    /// new quoting context for variable references.
    #[test]
    fn substitutions_stay_in_their_word() {
        let cmds = commands("export K=$(cat creds.json | jq -r '.A') && echo `date`");
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].words[1].0, "K=$(cat creds.json | jq -r '.A')");
        assert_eq!(cmds[1].words[1].0, "`date`");
        let subs = substitutions("X=\"$(a \"$(b)\")\" `c`");
        assert_eq!(
            subs.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            ["a \"$(b)\"", "c"]
        );
        let refs = var_refs("T=\"$(printf '%s' \"$BITBUCKET_BRANCH\")\" $(echo $BITBUCKET_TAG)");
        let quoted: Vec<_> = refs
            .iter()
            .map(|r| (r.name.as_str(), r.in_double_quotes))
            .collect();
        assert_eq!(
            quoted,
            [("BITBUCKET_BRANCH", true), ("BITBUCKET_TAG", false)]
        );
    }

    #[test]
    fn fd_redirect() {
        let cmds = commands("cmd 2> err.log");
        assert_eq!(cmds[0].redirects[0].0, ">");
        assert_eq!(cmds[0].words.len(), 1);
    }
}
