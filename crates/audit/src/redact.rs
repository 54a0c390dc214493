//! Redaction of secret values in source text that audit output quotes.
//!
//! The plain format shows the source line of each finding, and the line that `long-lived-aws-keys` flags is
//! often the one holding a committed secret key. Repeating that value in a build log, a Code Insights report or
//! a terminal recording spreads the leak, so every quoted line goes through [`secrets`] first. Redaction keeps
//! the byte length (each hidden ASCII character becomes `*`), so finding spans stay valid.
//!
//! What is hidden (gitleaks-style, keeping the first four characters so a user can still tell which value it
//! was):
//! - the value of an assignment to a variable whose name says secret, password, token or session
//!   (`AWS_SECRET_ACCESS_KEY=...`, `password: ...`), unless it is a variable reference (`$X`, `${X}`), a path,
//!   or the variable names a file, path, directory, URL or name (`AWS_WEB_IDENTITY_TOKEN_FILE=...`);
//! - 40-character base64 strings mixing upper case, lower case and digits (the shape of an AWS secret key;
//!   git commit hashes are lower-case hex and stay visible);
//! - signed JWTs (`eyJ….eyJ….signature`);
//! - access key ids (`AKIA…`/`ASIA…`) keep their first and last four characters: AWS documents key ids as
//!   identifiers rather than secrets, and the last four are what the IAM console shows to find the key.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)([a-z0-9_.-]*(?:secret|passw(?:or)?d|token|session|private[_-]?key)[a-z0-9_.-]*)["']?\s*[:=]\s*["']?([^\s"'$/.~][^\s"']{7,})"#,
    )
    .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

static SECRET_KEY_SHAPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^A-Za-z0-9/+=])([A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+=])")
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}")
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

static ACCESS_KEY_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

/// `text` with every secret-looking value masked; borrowed when nothing needed hiding.
pub fn secrets(text: &str) -> Cow<'_, str> {
    let mut hide: Vec<(usize, usize)> = Vec::new();
    for caps in ASSIGNMENT.captures_iter(text) {
        let (Some(name), Some(value)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        // `AWS_WEB_IDENTITY_TOKEN_FILE=...`: where a secret lives is what the token-handling rules are about.
        let name = name.as_str().to_ascii_lowercase();
        if ["file", "path", "dir", "url", "name"]
            .iter()
            .any(|s| name.ends_with(s))
        {
            continue;
        }
        hide.push((value.start() + 4, value.end()));
    }
    for caps in SECRET_KEY_SHAPE.captures_iter(text) {
        if let Some(m) = caps.get(1) {
            let s = m.as_str();
            let mixed = s.bytes().any(|b| b.is_ascii_uppercase())
                && s.bytes().any(|b| b.is_ascii_lowercase())
                && s.bytes().any(|b| b.is_ascii_digit());
            if mixed {
                hide.push((m.start() + 4, m.end()));
            }
        }
    }
    for m in JWT.find_iter(text) {
        hide.push((m.start() + 4, m.end()));
    }
    for m in ACCESS_KEY_ID.find_iter(text) {
        hide.push((m.start() + 4, m.end() - 4));
    }
    if hide.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut bytes = text.as_bytes().to_vec();
    for (start, end) in hide {
        for b in bytes.get_mut(start..end).unwrap_or_default() {
            // Only ASCII is replaced, so the text stays valid UTF-8 and every byte offset stays put.
            if b.is_ascii() && !b.is_ascii_whitespace() {
                *b = b'*';
            }
        }
    }
    Cow::Owned(String::from_utf8(bytes).unwrap_or_else(|_| "*".repeat(text.len())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::secrets;

    #[test]
    fn hides_secret_assignments_but_keeps_length() {
        let line = "  - export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
        let out = secrets(line);
        assert_eq!(out.len(), line.len());
        assert!(
            !out.contains("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            "{out}"
        );
        assert!(out.contains("AWS_SECRET_ACCESS_KEY=wJal****"), "{out}");
    }

    #[test]
    fn hides_yaml_values_tokens_and_bare_keys() {
        let text = "password: 'hunter2hunter2'\nAUTH: eyJhbGciOi.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln\n\
                    key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end\n";
        let out = secrets(text);
        assert!(!out.contains("hunter2hunter2"), "{out}");
        assert!(!out.contains("c2lnbmF0dXJlc2ln"), "{out}");
        assert!(!out.contains("K7MDENG"), "{out}");
        assert_eq!(out.lines().count(), text.lines().count());
    }

    #[test]
    fn keeps_references_hashes_and_plain_text() {
        for text in [
            "export AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY",
            "echo \"${BITBUCKET_STEP_OIDC_TOKEN}\" > /tmp/token",
            "git checkout 3f786850e387550fdab836ed7e6dc881de23001b",
            "aws s3 sync dist s3://bucket --delete",
            "TOKEN_FILE: /tmp",
            "export AWS_WEB_IDENTITY_TOKEN_FILE=web-identity-token",
            "token_path: ./build/token-file",
        ] {
            assert_eq!(secrets(text), text);
        }
    }

    #[test]
    fn access_key_ids_keep_their_ends() {
        let out = secrets("AWS_ACCESS_KEY_ID AKIAIOSFODNN7EXAMPLE here");
        assert!(out.contains("AKIA************MPLE"), "{out}");
    }

    #[test]
    fn multibyte_text_survives() {
        let text = "token: ünïcødé-secret-value-😀 and more";
        let out = secrets(text);
        assert_eq!(out.len(), text.len());
        assert!(out.contains('😀'));
    }
}
