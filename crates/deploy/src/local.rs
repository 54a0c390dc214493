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

/// The result of walking the source.
#[derive(Debug, Default)]
pub struct Scan {
    pub files: Vec<LocalFile>,
    pub problems: Vec<FileProblem>,
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

/// Walks `root`. Symlinks are followed when they stay inside the source; any that leave it fail the whole scan
/// (a link to `/etc` or `~/.aws` must never be published). Excluded files are skipped; special files (FIFOs,
/// sockets, devices) and unreadable entries become per-file problems.
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
    let mut scan = Scan::default();
    let walker = walkdir::WalkDir::new(&canonical_root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            if !entry.path_is_symlink() {
                return true;
            }
            match entry.path().canonicalize() {
                Ok(target) if target.starts_with(&canonical_root) => true,
                Ok(target) => {
                    outside.push(format!(
                        "{} -> {}",
                        rel_display(&canonical_root, entry.path()),
                        target.display()
                    ));
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
    for entry in entries {
        if entry.depth() == 0 || entry.file_type().is_dir() {
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
    Ok(scan)
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
        let rules = Rules::new(&[], &["*.css".to_owned()], &["*.map".to_owned()]).unwrap();
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

    #[test]
    fn reserved_key_and_missing_root() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".keyless-deploy.json", b"{}");
        assert!(matches!(
            scan(dir.path(), "", &Rules::default(), ".keyless-deploy.json"),
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
