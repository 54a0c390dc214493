//! The source directory: walking it into object keys (refusing symlinks that leave it), and reading or hashing
//! the body each file is stored as (gzip-compressed when a `--gzip` rule matches).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::digest::{ContentDigest, Hasher};
use crate::rules::{Headers, Rules};

/// Fatal problems with the source directory: the user's input. Nothing is uploaded or deleted.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(
        "source `{path}` is not a readable directory: {source}. Pass the build output directory with --source"
    )]
    Root {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "refusing to deploy: {} symlink(s) point outside the source directory `{}`: {}. Copy the files into the \
         source instead, or remove the links",
        .links.len(), .root.display(), list(.links)
    )]
    SymlinksOutside { root: PathBuf, links: Vec<String> },
    #[error("file name `{0}` is not valid UTF-8, so it cannot be an S3 key; rename it")]
    NotUtf8(PathBuf),
    #[error(
        "`{0}` collides with keyless's state file name; rename it (keyless keeps its deploy state in that key)"
    )]
    Reserved(String),
}

fn list(items: &[String]) -> String {
    const SHOW: usize = 10;
    let mut s = items
        .iter()
        .take(SHOW)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOW {
        s.push_str(&format!(" and {} more", items.len() - SHOW));
    }
    s
}

/// A file to deploy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalFile {
    /// Path relative to the source, `/`-separated (what globs match).
    pub rel: String,
    /// The object key: prefix + `rel`.
    pub key: String,
    /// Where to read it.
    pub path: PathBuf,
    /// The headers the rules give it.
    pub headers: Headers,
    /// Whether the stored body is gzip-compressed.
    pub gzip: bool,
}

/// A file that could not be deployed; the run goes on and reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileProblem {
    pub path: String,
    pub message: String,
}

/// What a `.git` or `.env*` entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SensitiveKind {
    /// `.git`: a repository (a directory) or a worktree's link to one (a file).
    Git,
    /// `.env`, `.env.production`, `.envrc`, …: environment files, which usually hold secrets.
    Env,
}

impl SensitiveKind {
    /// The kind of an entry named `name`, if it is one.
    pub fn of(name: &str) -> Option<Self> {
        if name == ".git" {
            Some(Self::Git)
        } else if name.starts_with(".env") {
            Some(Self::Env)
        } else {
            None
        }
    }
}

/// A `.git` or `.env*` entry found in the source, reported whether or not it is published. Only counts are kept,
/// never contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sensitive {
    /// Path relative to the source.
    pub rel: String,
    pub kind: SensitiveKind,
    pub dir: bool,
    /// Files in it (1 for a file).
    pub files: usize,
    /// How many of them this run deploys.
    pub published: usize,
    /// Whether it was left out for being hidden (else it is included by `--include-hidden`).
    pub skipped_hidden: bool,
}

impl Sensitive {
    /// The warning for the report: what it is, how many files, and what happens to them.
    pub fn warning(&self) -> String {
        let slash = if self.dir { "/" } else { "" };
        let what = match (self.kind, self.dir) {
            (SensitiveKind::Git, true) => "a Git repository: its whole history",
            (SensitiveKind::Git, false) => "a link to a Git repository",
            (SensitiveKind::Env, false) => "an environment file: usually secrets",
            (SensitiveKind::Env, true) => "environment files: usually secrets",
        };
        let files = plural(self.files, "file");
        let head = format!(
            "the source contains `{}{slash}` ({what}; {files})",
            self.rel
        );
        if self.published == 0 {
            let why = if self.skipped_hidden {
                "skipped as hidden"
            } else {
                "not uploaded (--exclude)"
            };
            return format!(
                "{head}: {why}. Deploy the build output (e.g. --source dist), not a checkout"
            );
        }
        let exclude = if self.dir {
            format!("{}/**", self.rel)
        } else {
            self.rel.clone()
        };
        format!(
            "{head}: {} of them uploaded (--include-hidden), readable by anyone who can read the bucket. Add \
             --exclude '{exclude}' unless publishing them is intended",
            self.published
        )
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The result of walking the source.
#[derive(Debug, Default)]
pub struct Scan {
    pub files: Vec<LocalFile>,
    pub problems: Vec<FileProblem>,
    /// Files left out for being hidden (without `--include-hidden`), including excluded ones.
    pub hidden_skipped: usize,
    /// `.git` and `.env*` entries anywhere in the source, published or not, in path order.
    pub sensitive: Vec<Sensitive>,
}

/// Normalises a `--prefix`: no leading `/`, a trailing `/` unless empty.
pub fn normalize_prefix(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}

/// Walks `root`. Hidden entries (see [`crate::rules::is_hidden`]) are left out unless the rules include them; they are only
/// counted, without following links, so a link in `.venv/` to `/usr/bin/python3` publishes and refuses nothing.
/// Symlinks are followed when they stay inside the source; any that leave it fail the whole scan (a link to
/// `/etc` or `~/.aws` must never be published). Excluded files are skipped; special files (FIFOs, sockets,
/// devices) and unreadable entries become per-file problems.
pub fn scan(
    root: &Path,
    prefix: &str,
    rules: &Rules,
    reserved_key: &str,
) -> Result<Scan, ScanError> {
    let canonical_root = root.canonicalize().map_err(|source| ScanError::Root {
        path: root.to_path_buf(),
        source,
    })?;
    if !canonical_root.is_dir() {
        return Err(ScanError::Root {
            path: root.to_path_buf(),
            source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let mut outside = Vec::new();
    let mut hidden_roots: Vec<(PathBuf, String, bool)> = Vec::new();
    let mut scan = Scan::default();
    let walker = walkdir::WalkDir::new(&canonical_root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            if entry.depth() == 0 {
                return true;
            }
            let rel =
                rel_display(&canonical_root, entry.path()).replace(std::path::MAIN_SEPARATOR, "/");
            // A directory is hidden when the files in it are (`.well-known/` at the root is not).
            let dir = entry.file_type().is_dir();
            let probe = if dir { format!("{rel}/-") } else { rel.clone() };
            if rules.skips_hidden(&probe) {
                hidden_roots.push((
                    entry.path().to_path_buf(),
                    rel,
                    dir && !entry.path_is_symlink(),
                ));
                return false;
            }
            if !entry.path_is_symlink() {
                return true;
            }
            match entry.path().canonicalize() {
                Ok(target) if target.starts_with(&canonical_root) => true,
                Ok(target) => {
                    outside.push(format!("{rel} -> {}", target.display()));
                    false
                }
                // A dangling link: reported below as a per-file problem by the walker's own error.
                Err(_) => true,
            }
        });
    let mut entries = Vec::new();
    for entry in walker {
        match entry {
            Ok(entry) => entries.push(entry),
            Err(error) => {
                let path = error
                    .path()
                    .map(|p| rel_display(&canonical_root, p))
                    .unwrap_or_default();
                scan.problems.push(FileProblem {
                    path,
                    message: error.to_string(),
                });
            }
        }
    }
    if !outside.is_empty() {
        return Err(ScanError::SymlinksOutside {
            root: root.to_path_buf(),
            links: outside,
        });
    }
    // Every file seen (deployed, excluded or hidden), to count what a `.git` or `.env*` directory holds.
    let mut seen: Vec<String> = Vec::new();
    let mut sensitive: Vec<(String, SensitiveKind, bool)> = Vec::new();
    for entry in entries {
        if entry.depth() == 0 {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(&canonical_root)
            .unwrap_or(entry.path());
        let Some(rel) = relative.to_str() else {
            return Err(ScanError::NotUtf8(entry.path().to_path_buf()));
        };
        let rel = rel.replace(std::path::MAIN_SEPARATOR, "/");
        let dir = entry.file_type().is_dir();
        if let Some(kind) = entry.file_name().to_str().and_then(SensitiveKind::of) {
            sensitive.push((rel.clone(), kind, dir));
        }
        if dir {
            continue;
        }
        seen.push(rel.clone());
        if rules.is_excluded(&rel) {
            continue;
        }
        let key = format!("{prefix}{rel}");
        if key == reserved_key {
            return Err(ScanError::Reserved(rel));
        }
        // `file_type` follows links here (follow_links), so a link to a FIFO is caught too.
        if !entry.file_type().is_file() {
            scan.problems.push(FileProblem {
                path: rel,
                message: "not a regular file (FIFO, socket or device); remove it from the source or --exclude it"
                    .to_owned(),
            });
            continue;
        }
        scan.files.push(LocalFile {
            headers: rules.headers_for(&rel),
            gzip: rules.is_gzip(&rel),
            key,
            rel,
            path: entry.path().to_path_buf(),
        });
    }
    for (path, rel, dir) in hidden_roots {
        let before = seen.len();
        tally_hidden(&path, &rel, dir, &mut seen, &mut sensitive);
        scan.hidden_skipped += seen.len() - before;
    }
    sensitive.sort();
    scan.sensitive = sensitive
        .into_iter()
        .map(|(rel, kind, dir)| {
            let inside = |file: &str| {
                file == rel
                    || (dir
                        && file
                            .strip_prefix(rel.as_str())
                            .is_some_and(|r| r.starts_with('/')))
            };
            Sensitive {
                files: seen.iter().filter(|f| inside(f)).count(),
                published: scan.files.iter().filter(|f| inside(&f.rel)).count(),
                skipped_hidden: rules.skips_hidden(&rel),
                rel,
                kind,
                dir,
            }
        })
        .collect();
    Ok(scan)
}

/// Counts the files of a hidden entry that the walk left out, without following links (a link counts as one
/// file), and finds the `.git` and `.env*` entries in it. Unreadable parts are skipped: nothing here is published.
fn tally_hidden(
    path: &Path,
    rel: &str,
    dir: bool,
    seen: &mut Vec<String>,
    sensitive: &mut Vec<(String, SensitiveKind, bool)>,
) {
    if !dir {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if let Some(kind) = SensitiveKind::of(name) {
            sensitive.push((rel.to_owned(), kind, false));
        }
        seen.push(rel.to_owned());
        return;
    }
    for entry in walkdir::WalkDir::new(path)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        let inner = entry.path().strip_prefix(path).unwrap_or(entry.path());
        let inner = inner
            .to_string_lossy()
            .replace(std::path::MAIN_SEPARATOR, "/");
        let entry_rel = if inner.is_empty() {
            rel.to_owned()
        } else {
            format!("{rel}/{inner}")
        };
        let is_dir = entry.file_type().is_dir();
        if let Some(kind) = entry.file_name().to_str().and_then(SensitiveKind::of) {
            sensitive.push((entry_rel.clone(), kind, is_dir));
        }
        if !is_dir {
            seen.push(entry_rel);
        }
    }
}

fn rel_display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The bytes a gzip rule stores. Deterministic: the header carries no name and a zero mtime, so the same input
/// always gives the same ETag and a fresh clone uploads nothing.
pub fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 3 + 64), Compression::best());
    encoder.write_all(data)?;
    encoder.finish()
}

/// The stored body of a file, either streamed from disk or, for gzip rules, compressed in memory.
pub enum Body {
    File { path: PathBuf, size: u64 },
    Memory(Vec<u8>),
}

impl Body {
    /// Opens the body of `file` as it will be stored.
    pub fn open(file: &LocalFile) -> io::Result<Self> {
        if file.gzip {
            let raw = std::fs::read(&file.path)?;
            Ok(Self::Memory(gzip(&raw)?))
        } else {
            let size = std::fs::metadata(&file.path)?.len();
            Ok(Self::File {
                path: file.path.clone(),
                size,
            })
        }
    }

    pub fn size(&self) -> u64 {
        match self {
            Self::File { size, .. } => *size,
            Self::Memory(data) => data.len() as u64,
        }
    }

    /// Bytes `[offset, offset + len)`; fails if the file shrank meanwhile.
    pub fn read_range(&self, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        match self {
            Self::Memory(data) => {
                let start = usize::try_from(offset).map_err(io::Error::other)?;
                let end = usize::try_from(offset + len).map_err(io::Error::other)?;
                data.get(start..end).map(<[u8]>::to_vec).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "range past the end of the body",
                    )
                })
            }
            Self::File { path, .. } => {
                let mut file = File::open(path)?;
                file.seek(SeekFrom::Start(offset))?;
                let mut buf = vec![0; usize::try_from(len).map_err(io::Error::other)?];
                file.read_exact(&mut buf)?;
                Ok(buf)
            }
        }
    }

    /// Hashes the whole body, computing multipart ETags for `part_sizes` too.
    pub fn digest(&self, part_sizes: &[u64]) -> io::Result<ContentDigest> {
        self.hash(Hasher::new(part_sizes))
    }

    /// Feeds the whole body to `hasher`.
    pub fn hash(&self, mut hasher: Hasher) -> io::Result<ContentDigest> {
        match self {
            Self::Memory(data) => hasher.update(data),
            Self::File { path, .. } => {
                let mut file = File::open(path)?;
                let mut buf = vec![0; 256 * 1024];
                loop {
                    let n = file.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                }
            }
        }
        Ok(hasher.finish())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rules::RuleSpec;

    fn write(root: &Path, rel: &str, data: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    #[test]
    fn prefixes_normalise() {
        for (input, want) in [("", ""), ("/", ""), ("site", "site/"), ("/a/b/", "a/b/")] {
            assert_eq!(normalize_prefix(input), want, "{input}");
        }
    }

    #[test]
    fn scan_keys_headers_excludes_and_inside_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "index.html", b"<h1>hi</h1>");
        write(root, "css/site.css", b"body{}");
        write(root, "a.map", b"{}");
        std::os::unix::fs::symlink(root.join("css/site.css"), root.join("alias.css")).unwrap();
        let rules = Rules::new(RuleSpec {
            gzip: vec!["*.css".to_owned()],
            exclude: vec!["*.map".to_owned()],
            ..RuleSpec::default()
        })
        .unwrap();
        let scan = scan(root, "p/", &rules, "p/.keyless-deploy.json").unwrap();
        let keys: Vec<_> = scan.files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["p/alias.css", "p/css/site.css", "p/index.html"]);
        assert!(scan.files[1].gzip && !scan.files[2].gzip);
        assert!(scan.problems.is_empty());
    }

    #[test]
    fn symlinks_outside_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret", b"x");
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "ok.txt", b"ok");
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("leak")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("dirleak")).unwrap();
        let err = scan(dir.path(), "", &Rules::default(), ".keyless-deploy.json").unwrap_err();
        match &err {
            ScanError::SymlinksOutside { links, .. } => assert_eq!(links.len(), 2, "{links:?}"),
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("leak ->"), "{err}");
    }

    fn including_hidden() -> Rules {
        Rules::new(RuleSpec {
            include_hidden: true,
            ..RuleSpec::default()
        })
        .unwrap()
    }

    #[test]
    fn hidden_entries_are_counted_not_walked_and_well_known_is_published() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "python3", b"#!");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "index.html", b"<h1>hi</h1>");
        write(root, ".env", b"SECRET=do-not-print");
        write(root, "config/.env.production", b"TOKEN=do-not-print");
        for object in ["HEAD", "config", "objects/ab/cdef", "objects/ab/0123"] {
            write(root, &format!(".git/{object}"), b"x");
        }
        write(root, ".well-known/security.txt", b"Contact: x");
        write(root, ".well-known/.hidden", b"x");
        write(root, "docs/.well-known/ignored.txt", b"x");
        write(root, "docs/.DS_Store", b"x");
        // A hidden directory with a link out of the source: never followed, never refused.
        std::fs::create_dir_all(root.join(".venv/bin")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("python3"),
            root.join(".venv/bin/python"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join(".cache")).unwrap();

        let s = scan(root, "", &Rules::default(), ".keyless-deploy.json").unwrap();
        let rels: Vec<_> = s.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, [".well-known/security.txt", "index.html"]);
        // .env, config/.env.production, 4 in .git, .well-known/.hidden, docs/.well-known/ignored.txt,
        // docs/.DS_Store, .venv/bin/python, .cache (a link, one entry).
        assert_eq!(s.hidden_skipped, 11, "{s:?}");
        let found: Vec<_> = s
            .sensitive
            .iter()
            .map(|x| {
                (
                    x.rel.as_str(),
                    x.kind,
                    x.dir,
                    x.files,
                    x.published,
                    x.skipped_hidden,
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (".env", SensitiveKind::Env, false, 1, 0, true),
                (".git", SensitiveKind::Git, true, 4, 0, true),
                (
                    "config/.env.production",
                    SensitiveKind::Env,
                    false,
                    1,
                    0,
                    true
                ),
            ]
        );
        let warning = s.sensitive[1].warning();
        assert!(
            warning.contains("`.git/`")
                && warning.contains("4 files")
                && warning.contains("skipped"),
            "{warning}"
        );
        let all: String = s.sensitive.iter().map(Sensitive::warning).collect();
        assert!(!all.contains("do-not-print"), "{all}");

        // With --include-hidden the link out of the source counts again, as for any other path.
        let err = scan(root, "", &including_hidden(), ".keyless-deploy.json").unwrap_err();
        assert!(matches!(err, ScanError::SymlinksOutside { .. }), "{err}");
        std::fs::remove_file(root.join(".venv/bin/python")).unwrap();
        std::fs::remove_file(root.join(".cache")).unwrap();
        let s = scan(root, "", &including_hidden(), ".keyless-deploy.json").unwrap();
        assert_eq!(s.hidden_skipped, 0);
        assert_eq!(s.files.len(), 11, "{:?}", s.files);
        let git = &s.sensitive[1];
        assert_eq!(
            (git.files, git.published, git.skipped_hidden),
            (4, 4, false)
        );
        assert!(
            git.warning().contains("--exclude '.git/**'"),
            "{}",
            git.warning()
        );
        // Excluded after all: reported, not uploaded.
        let rules = Rules::new(RuleSpec {
            include_hidden: true,
            exclude: vec![".git/**".to_owned()],
            ..RuleSpec::default()
        })
        .unwrap();
        let s = scan(root, "", &rules, ".keyless-deploy.json").unwrap();
        assert_eq!((s.sensitive[1].files, s.sensitive[1].published), (4, 0));
        assert!(
            s.sensitive[1].warning().contains("--exclude"),
            "{}",
            s.sensitive[1].warning()
        );
    }

    #[test]
    fn a_hidden_source_directory_itself_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".output/public/index.html", b"x");
        write(dir.path(), ".output/public/_nuxt/app.js", b"x");
        let s = scan(
            &dir.path().join(".output/public"),
            "",
            &Rules::default(),
            ".keyless-deploy.json",
        )
        .unwrap();
        assert_eq!(s.files.len(), 2);
        assert_eq!(s.hidden_skipped, 0);
    }

    #[test]
    fn reserved_key_and_missing_root() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".keyless-deploy.json", b"{}");
        // Hidden, so skipped by default; with --include-hidden it would overwrite the state file: refused.
        assert!(scan(dir.path(), "", &Rules::default(), ".keyless-deploy.json").is_ok());
        assert!(matches!(
            scan(dir.path(), "", &including_hidden(), ".keyless-deploy.json"),
            Err(ScanError::Reserved(_))
        ));
        assert!(matches!(
            scan(&dir.path().join("nope"), "", &Rules::default(), "x"),
            Err(ScanError::Root { .. })
        ));
    }

    #[test]
    fn gzip_is_deterministic_and_bodies_read_ranges() {
        let data = b"hello hello hello hello".repeat(100);
        assert_eq!(gzip(&data).unwrap(), gzip(&data).unwrap());
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "f.txt", &data);
        let file = LocalFile {
            rel: "f.txt".into(),
            key: "f.txt".into(),
            path: dir.path().join("f.txt"),
            headers: Headers::default(),
            gzip: false,
        };
        let body = Body::open(&file).unwrap();
        assert_eq!(body.size(), data.len() as u64);
        assert_eq!(body.read_range(6, 5).unwrap(), b"hello");
        assert_eq!(
            body.digest(&[]).unwrap(),
            crate::digest::digest_bytes(&data, &[])
        );
        let gz = Body::open(&LocalFile { gzip: true, ..file }).unwrap();
        assert!(gz.size() < data.len() as u64);
        assert!(gz.read_range(0, gz.size() + 1).is_err());
    }
}
