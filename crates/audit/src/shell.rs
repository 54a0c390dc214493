//! Just enough shell lexing for the script rules: words with their quoting, operators (`|`, `&&`, `;`, `>`,
//! `>>`), simple commands, and variable references with whether they sit inside double quotes.
//!
//! NOTE: hand-written because the rules need byte offsets of operators (for `>>` → `>` fixes) and quoting
//! context of each `$VAR`; the shell-words crates return unquoted words without either. It is a lexer for
//! POSIX-ish one-liners, not a shell: heredocs and nested `$(...)` are treated as plain text.

/// The OIDC token variable.
pub const TOKEN_VAR: &str = "BITBUCKET_STEP_OIDC_TOKEN";

/// A lexed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A word: its raw text (quotes kept) and its byte offset.
    Word(String, usize),
    /// An operator and its byte offset.
    Op(&'static str, usize),
}

/// Lexes a script line (or block) into words and operators.
pub fn lex(text: &str) -> Vec<Tok> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut word = String::new();
    let mut word_start = 0;
    let flush = |out: &mut Vec<Tok>, word: &mut String, start: usize| {
        if !word.is_empty() {
            out.push(Tok::Word(std::mem::take(word), start));
        }
    };
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' | b'"' => {
                if word.is_empty() {
                    word_start = i;
                }
                let close = find_close(text, i);
                word.push_str(&text[i..close]);
                i = close;
                continue;
            }
            b'\\' if i + 1 < bytes.len() => {
                if word.is_empty() {
                    word_start = i;
                }
                let n = next_char_len(text, i + 1);
                word.push_str(&text[i..i + 1 + n]);
                i += 1 + n;
                continue;
            }
            b'#' if word.is_empty() => {
                // Comment to end of line.
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                flush(&mut out, &mut word, word_start);
            }
            b'\n' | b';' => {
                flush(&mut out, &mut word, word_start);
                out.push(Tok::Op(if c == b';' { ";" } else { "\n" }, i));
            }
            b'|' | b'&' => {
                flush(&mut out, &mut word, word_start);
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
            b'>' | b'<' => {
                // `2>` / `&>`: the fd digit belongs to the redirection.
                let fd_prefix = word.len() == 1 && word.chars().all(|ch| ch.is_ascii_digit());
                if fd_prefix {
                    word.clear();
                } else {
                    flush(&mut out, &mut word, word_start);
                }
                let start = if fd_prefix { i - 1 } else { i };
                if c == b'>' && bytes.get(i + 1) == Some(&b'>') {
                    out.push(Tok::Op(">>", start));
                    i += 2;
                } else {
                    out.push(Tok::Op(if c == b'>' { ">" } else { "<" }, start));
                    i += 1;
                    // `>&2`, `<<<`, `<<` are consumed as part of the operator's target word.
                }
                continue;
            }
            _ => {
                if word.is_empty() {
                    word_start = i;
                }
                let n = next_char_len(text, i);
                word.push_str(&text[i..i + n]);
                i += n;
                continue;
            }
        }
        i += 1;
    }
    flush(&mut out, &mut word, word_start);
    out
}

fn next_char_len(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(1, char::len_utf8)
}

/// Index just past the quote that closes the one at `open` (or the end of the text).
fn find_close(text: &str, open: usize) -> usize {
    let bytes = text.as_bytes();
    let q = bytes[open];
    let mut i = open + 1;
    while i < bytes.len() {
        if q == b'"' && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == q {
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// A simple command: its words, redirections and the operator that ends it.
#[derive(Debug, Clone, Default)]
pub struct Command {
    pub words: Vec<(String, usize)>,
    /// `(operator, operator offset, target word)`.
    pub redirects: Vec<(&'static str, usize, String)>,
    /// The operator after this command (`|`, `&&`, `;`, `\n`, or empty at the end).
    pub then: &'static str,
}

impl Command {
    /// The program name with any leading `VAR=value` assignments and `sudo`/`env`/`exec` skipped.
    pub fn program(&self) -> Option<&str> {
        self.args_from_program().first().map(|(w, _)| w.as_str())
    }

    /// The words from the program on.
    pub fn args_from_program(&self) -> &[(String, usize)] {
        let mut i = 0;
        while let Some((w, _)) = self.words.get(i) {
            let assignment = w.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if assignment
                || matches!(
                    w.as_str(),
                    "sudo" | "env" | "exec" | "command" | "time" | "nohup"
                )
            {
                i += 1;
            } else {
                break;
            }
        }
        &self.words[i.min(self.words.len())..]
    }

    /// The words from the program on, unquoted (see [`unquote`]).
    pub fn unquoted_args(&self) -> Vec<std::borrow::Cow<'_, str>> {
        self.args_from_program()
            .iter()
            .map(|(w, _)| unquote(w))
            .collect()
    }

    pub fn has_word(&self, word: &str) -> bool {
        self.words.iter().any(|(w, _)| unquote(w) == word)
    }

    /// Any word (or redirect target) mentions `$var`/`${var}`.
    pub fn references(&self, var: &str) -> bool {
        self.words.iter().any(|(w, _)| references(w, var))
    }
}

/// Splits lexed tokens into simple commands.
pub fn commands(text: &str) -> Vec<Command> {
    let mut out = Vec::new();
    let mut cur = Command::default();
    let mut toks = lex(text).into_iter().peekable();
    while let Some(tok) = toks.next() {
        match tok {
            Tok::Word(w, at) => cur.words.push((w, at)),
            Tok::Op(op @ (">" | ">>" | "<"), at) => {
                let target = match toks.peek() {
                    Some(Tok::Word(w, _)) => {
                        let w = w.clone();
                        toks.next();
                        w
                    }
                    _ => String::new(),
                };
                cur.redirects.push((op, at, target));
            }
            Tok::Op(op, _) => {
                cur.then = op;
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.words.is_empty() || !cur.redirects.is_empty() {
        out.push(cur);
    }
    out
}

/// Removes one level of quotes and backslashes from a word. Most words have none: those are borrowed, not copied
/// (rules unquote every word of every command).
pub fn unquote(word: &str) -> std::borrow::Cow<'_, str> {
    if !word.contains(['\'', '"', '\\']) {
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
pub fn var_refs(text: &str) -> Vec<VarRef> {
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

    #[test]
    fn fd_redirect() {
        let cmds = commands("cmd 2> err.log");
        assert_eq!(cmds[0].redirects[0].0, ">");
        assert_eq!(cmds[0].words.len(), 1);
    }
}
