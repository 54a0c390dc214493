//! The pure sync planner: local files with their digests plus the bucket's objects in, a plan out.
//!
//! Content decides, never timestamps: an object is unchanged when its SHA-256 metadata matches, or (for objects
//! other tools uploaded) when its MD5 ETag or multipart ETag matches the local body. Same content with other
//! headers is a metadata-only update (a copy in place with the REPLACE directive), not an upload.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::digest::{ContentDigest, EtagKind, candidate_part_sizes, etag_kind};
use crate::local::LocalFile;
use crate::remote::RemoteObject;
use crate::rules::Headers;

/// A local file, the size of the body it will be stored as, and that body's digest when the comparison needs it.
#[derive(Clone, Debug)]
pub struct LocalObject {
    pub file: LocalFile,
    /// Size of the stored body (after gzip, when gzip applies).
    pub size: u64,
    /// `None` when no comparison needs it: the key has no object yet, or the object's size already differs. An
    /// upload hashes exactly the bytes it sends, so hashing such a file first would only read it twice.
    pub digest: Option<ContentDigest>,
}

impl LocalObject {
    /// A file whose digest is known.
    pub fn hashed(file: LocalFile, digest: ContentDigest) -> Self {
        Self {
            file,
            size: digest.size,
            digest: Some(digest),
        }
    }
}

/// Why an object is uploaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    New,
    Changed,
}

/// How local and remote content were compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Comparison {
    /// The `keyless-sha256` metadata keyless stores at upload.
    Sha256,
    /// The single-part ETag (MD5).
    Md5,
    /// The multipart ETag, recomputed with the uploader's part size.
    MultipartEtag,
    /// The sizes differ.
    Size,
    /// Nothing comparable (a multipart ETag of unknown part size, an SSE-KMS ETag): uploaded again, after which
    /// the SHA-256 metadata makes later runs exact.
    Unverifiable,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Upload {
    pub key: String,
    pub reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared_by: Option<Comparison>,
    pub bytes: u64,
    pub multipart: bool,
    #[serde(flatten)]
    pub headers: Headers,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Update {
    pub key: String,
    /// Header names that change, lower case (`content-type`, `cache-control`, `x-amz-meta-team`, …); empty when
    /// the stored headers are unknown.
    pub changed: Vec<String>,
    pub bytes: u64,
    #[serde(flatten)]
    pub headers: Headers,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Delete {
    pub key: String,
    pub bytes: u64,
}

/// What a run will do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub uploads: Vec<Upload>,
    pub updates: Vec<Update>,
    pub deletes: Vec<Delete>,
    /// Keys already up to date.
    #[serde(skip)]
    pub unchanged: Vec<String>,
}

impl Plan {
    /// Keys whose content or headers a deploy changes (what a CDN must forget).
    pub fn changed_keys(&self) -> impl Iterator<Item = &str> + Clone {
        self.uploads
            .iter()
            .map(|u| u.key.as_str())
            .chain(self.updates.iter().map(|u| u.key.as_str()))
            .chain(self.deletes.iter().map(|d| d.key.as_str()))
    }
}

/// Planner settings.
#[derive(Clone, Copy, Debug)]
pub struct PlanOptions {
    pub delete: bool,
    /// Bodies larger than this are uploaded in parts.
    pub multipart_threshold: u64,
    /// The part size keyless uploads with.
    pub part_size: u64,
}

/// Part sizes for which the local multipart ETag must be computed, per key, so that multipart objects other
/// tools uploaded can be compared without downloading them.
pub fn part_size_hints(remote: &[RemoteObject], ours: u64) -> HashMap<String, Vec<u64>> {
    remote
        .iter()
        .filter_map(|r| {
            if r.meta.as_ref().is_some_and(|m| m.sha256.is_some()) {
                return None;
            }
            let EtagKind::Multipart { parts } = etag_kind(&r.listed.etag) else {
                return None;
            };
            let sizes = match r.meta.as_ref().and_then(|m| m.part_size) {
                Some(recorded) => vec![recorded],
                None => candidate_part_sizes(r.listed.size, parts, ours),
            };
            Some((r.listed.key.clone(), sizes))
        })
        .collect()
}

/// Compares one local body with one stored object.
pub fn compare(local: &ContentDigest, remote: &RemoteObject, part_size: u64) -> (bool, Comparison) {
    if let Some(sha) = remote.meta.as_ref().and_then(|m| m.sha256.as_deref()) {
        return (
            sha == local.sha256_hex() && remote.listed.size == local.size,
            Comparison::Sha256,
        );
    }
    if remote.listed.size != local.size {
        return (false, Comparison::Size);
    }
    match etag_kind(&remote.listed.etag) {
        EtagKind::Md5(md5) => match local.md5_hex() {
            Some(local) => (md5 == local, Comparison::Md5),
            // Hashed for SHA-256 alone (the executor only does that for objects with SHA-256 metadata): not
            // comparable, so upload, which is never wrong.
            None => (false, Comparison::Unverifiable),
        },
        EtagKind::Multipart { parts } => {
            let etag = remote.listed.etag.trim_matches('"').to_ascii_lowercase();
            let recorded = remote.meta.as_ref().and_then(|m| m.part_size);
            let candidates = match recorded {
                Some(ps) => vec![ps],
                None => candidate_part_sizes(remote.listed.size, parts, part_size),
            };
            let same = candidates
                .iter()
                .any(|ps| local.multipart_etag(*ps) == Some(etag.as_str()));
            if same || recorded.is_some() {
                (same, Comparison::MultipartEtag)
            } else {
                (false, Comparison::Unverifiable)
            }
        }
        EtagKind::Other => (false, Comparison::Unverifiable),
    }
}

/// Plans a sync. `remote` holds only the objects that take part (inside the prefix, not excluded, not the state
/// file). Deterministic: actions are sorted by key.
pub fn plan(local: &[LocalObject], remote: &[RemoteObject], options: PlanOptions) -> Plan {
    let remote_by_key: BTreeMap<&str, &RemoteObject> =
        remote.iter().map(|r| (r.listed.key.as_str(), r)).collect();
    let mut plan = Plan::default();
    let mut locals: Vec<&LocalObject> = local.iter().collect();
    locals.sort_by(|a, b| a.file.key.cmp(&b.file.key));
    for l in &locals {
        let key = &l.file.key;
        let upload = |reason, compared_by| Upload {
            key: key.clone(),
            reason,
            compared_by,
            bytes: l.size,
            multipart: l.size > options.multipart_threshold,
            headers: l.file.headers.clone(),
        };
        let Some(r) = remote_by_key.get(key.as_str()) else {
            plan.uploads.push(upload(Reason::New, None));
            continue;
        };
        let Some(digest) = &l.digest else {
            // Not hashed because the sizes differ (see `LocalObject::digest`); should a caller leave out a digest
            // that was needed, uploading is the answer that is never wrong.
            let how = if l.size == r.listed.size {
                Comparison::Unverifiable
            } else {
                Comparison::Size
            };
            plan.uploads.push(upload(Reason::Changed, Some(how)));
            continue;
        };
        let (same, how) = compare(digest, r, options.part_size);
        if !same {
            plan.uploads.push(upload(Reason::Changed, Some(how)));
            continue;
        }
        let changed = match &r.meta {
            Some(meta) => meta.headers.differences(&l.file.headers),
            // Unknown stored headers: rewrite them rather than guess.
            None => Vec::new(),
        };
        if changed.is_empty() && r.meta.is_some() {
            plan.unchanged.push(key.clone());
        } else {
            plan.updates.push(Update {
                key: key.clone(),
                changed,
                bytes: l.size,
                headers: l.file.headers.clone(),
            });
        }
    }
    if options.delete {
        let local_keys: std::collections::HashSet<&str> =
            local.iter().map(|l| l.file.key.as_str()).collect();
        plan.deletes = remote_by_key
            .values()
            .filter(|r| !local_keys.contains(r.listed.key.as_str()))
            .map(|r| Delete {
                key: r.listed.key.clone(),
                bytes: r.listed.size,
            })
            .collect();
    }
    plan
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::digest::digest_bytes;
    use crate::remote::{Listed, RemoteMeta};

    const PS: u64 = 4;

    fn headers(cc: Option<&str>) -> Headers {
        Headers {
            content_type: "text/html; charset=utf-8".into(),
            cache_control: cc.map(str::to_owned),
            ..Headers::default()
        }
    }

    fn local(key: &str, body: &[u8], cc: Option<&str>) -> LocalObject {
        LocalObject::hashed(
            LocalFile {
                rel: key.into(),
                key: key.into(),
                path: key.into(),
                headers: headers(cc),
                gzip: false,
            },
            digest_bytes(body, &[PS, 3]),
        )
    }

    /// A local file hashed for its SHA-256 alone (as the executor does when the object's SHA-256 is known).
    fn sha_only(key: &str, body: &[u8], cc: Option<&str>) -> LocalObject {
        let mut hasher = crate::digest::Hasher::sha256_only();
        hasher.update(body);
        LocalObject {
            digest: Some(hasher.finish()),
            ..local(key, body, cc)
        }
    }

    /// A local file whose body was not hashed (only its size is known).
    fn unhashed(key: &str, body: &[u8]) -> LocalObject {
        LocalObject {
            digest: None,
            ..local(key, body, None)
        }
    }

    fn remote(
        key: &str,
        body: &[u8],
        etag: Option<String>,
        meta: Option<RemoteMeta>,
    ) -> RemoteObject {
        RemoteObject {
            listed: Listed {
                key: key.into(),
                size: body.len() as u64,
                etag: etag.unwrap_or_else(|| digest_bytes(body, &[]).md5_hex().unwrap()),
                last_modified: "t".into(),
            },
            meta,
        }
    }

    fn meta(cc: Option<&str>, sha_of: Option<&[u8]>, part_size: Option<u64>) -> Option<RemoteMeta> {
        Some(RemoteMeta {
            headers: headers(cc),
            sha256: sha_of.map(|b| digest_bytes(b, &[]).sha256_hex()),
            part_size,
        })
    }

    const OPTS: PlanOptions = PlanOptions {
        delete: true,
        multipart_threshold: 8,
        part_size: PS,
    };

    #[test]
    fn table() {
        let mp_etag = digest_bytes(b"0123456789", &[PS])
            .multipart_etag(PS)
            .unwrap()
            .to_owned();
        let mp3_etag = digest_bytes(b"0123456789", &[3])
            .multipart_etag(3)
            .unwrap()
            .to_owned();
        // (name, local, remote, expected: "upload:new" | "upload:changed:<cmp>" | "update:<fields>" | "unchanged")
        type Case = (
            &'static str,
            Option<LocalObject>,
            Option<RemoteObject>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            ("new", Some(local("a", b"x", None)), None, "upload:new"),
            (
                "same md5, same headers",
                Some(local("a", b"x", None)),
                Some(remote("a", b"x", None, meta(None, None, None))),
                "unchanged",
            ),
            (
                "same sha256 even though the etag is opaque (SSE-KMS)",
                Some(local("a", b"x", None)),
                Some(remote(
                    "a",
                    b"x",
                    Some("kms-etag".into()),
                    meta(None, Some(b"x"), None),
                )),
                "unchanged",
            ),
            (
                "sha256 differs, same size",
                Some(local("a", b"x", None)),
                Some(remote("a", b"y", None, meta(None, Some(b"y"), None))),
                "upload:changed:sha256",
            ),
            (
                "sha256 only, same sha256",
                Some(sha_only("a", b"x", None)),
                Some(remote("a", b"x", None, meta(None, Some(b"x"), None))),
                "unchanged",
            ),
            (
                "sha256 only, sha256 differs",
                Some(sha_only("a", b"x", None)),
                Some(remote("a", b"y", None, meta(None, Some(b"y"), None))),
                "upload:changed:sha256",
            ),
            (
                "sha256 only, header-only change",
                Some(sha_only("a", b"x", Some("no-cache"))),
                Some(remote("a", b"x", None, meta(None, Some(b"x"), None))),
                "update:cache-control",
            ),
            (
                "sha256 only against an object with no sha256 (never planned so): uploaded, not trusted",
                Some(sha_only("a", b"x", None)),
                Some(remote("a", b"x", None, meta(None, None, None))),
                "upload:changed:unverifiable",
            ),
            (
                "md5 differs, same size",
                Some(local("a", b"x", None)),
                Some(remote("a", b"y", None, meta(None, None, None))),
                "upload:changed:md5",
            ),
            (
                "size differs",
                Some(local("a", b"xx", None)),
                Some(remote("a", b"y", None, meta(None, None, None))),
                "upload:changed:size",
            ),
            (
                "header-only change",
                Some(local("a", b"x", Some("no-cache"))),
                Some(remote("a", b"x", None, meta(None, None, None))),
                "update:cache-control",
            ),
            (
                "unknown stored headers are rewritten",
                Some(local("a", b"x", None)),
                Some(remote("a", b"x", None, None)),
                "update:",
            ),
            (
                "multipart with recorded part size",
                Some(local("a", b"0123456789", None)),
                Some(remote(
                    "a",
                    b"0123456789",
                    Some(mp_etag.clone()),
                    meta(None, None, Some(PS)),
                )),
                "unchanged",
            ),
            (
                "multipart by another tool, part size guessed (ours)",
                Some(local("a", b"0123456789", None)),
                Some(remote(
                    "a",
                    b"0123456789",
                    Some(format!("\"{mp_etag}\"")),
                    meta(None, None, None),
                )),
                "unchanged",
            ),
            (
                "multipart with recorded part size, content differs",
                Some(local("a", b"0123456789", None)),
                Some(remote(
                    "a",
                    b"0123456780",
                    Some(mp_etag.clone()),
                    meta(None, None, Some(3)),
                )),
                "upload:changed:multipart-etag",
            ),
            (
                "multipart of unknown part size",
                Some(local("a", b"0123456789", None)),
                Some(remote(
                    "a",
                    b"0123456789",
                    Some(mp3_etag),
                    meta(None, None, None),
                )),
                "upload:changed:unverifiable",
            ),
            (
                "gone locally",
                None,
                Some(remote("a", b"x", None, None)),
                "delete",
            ),
        ];
        for (name, l, r, want) in cases {
            let locals: Vec<_> = l.into_iter().collect();
            let remotes: Vec<_> = r.into_iter().collect();
            let p = plan(&locals, &remotes, OPTS);
            let got = match (p.uploads.first(), p.updates.first(), p.deletes.first()) {
                (Some(u), None, None) => match (u.reason, u.compared_by) {
                    (Reason::New, None) => "upload:new".to_owned(),
                    (Reason::Changed, Some(c)) => format!(
                        "upload:changed:{}",
                        serde_json::to_value(c).unwrap().as_str().unwrap()
                    ),
                    other => format!("{other:?}"),
                },
                (None, Some(u), None) => format!("update:{}", u.changed.join(",")),
                (None, None, Some(_)) => "delete".to_owned(),
                (None, None, None) if p.unchanged.len() == 1 => "unchanged".to_owned(),
                _ => format!("{p:?}"),
            };
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn unhashed_files_upload_by_size_and_never_count_as_unchanged() {
        let remotes = vec![
            remote("grew", b"short", None, meta(None, Some(b"short"), None)),
            remote(
                "same-size",
                b"12345",
                None,
                meta(None, Some(b"12345"), None),
            ),
        ];
        let locals = vec![
            unhashed("grew", b"much longer"),
            unhashed("new", b"n"),
            unhashed("same-size", b"12345"),
        ];
        let p = plan(&locals, &remotes, OPTS);
        let got: Vec<_> = p
            .uploads
            .iter()
            .map(|u| (u.key.as_str(), u.reason, u.compared_by, u.bytes))
            .collect();
        assert_eq!(
            got,
            [
                ("grew", Reason::Changed, Some(Comparison::Size), 11),
                ("new", Reason::New, None, 1),
                // A caller that leaves out a needed digest gets an upload, not a wrong "unchanged".
                (
                    "same-size",
                    Reason::Changed,
                    Some(Comparison::Unverifiable),
                    5
                ),
            ]
        );
        assert!(p.unchanged.is_empty() && p.updates.is_empty());
    }

    #[test]
    fn delete_only_when_asked_and_sorted() {
        let remotes = vec![
            remote("z", b"1", None, None),
            remote("b", b"1", None, None),
            remote("keep", b"k", None, meta(None, None, None)),
        ];
        let locals = vec![local("keep", b"k", None), local("new", b"n", None)];
        let p = plan(&locals, &remotes, OPTS);
        let deleted: Vec<_> = p.deletes.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(deleted, ["b", "z"]);
        assert_eq!(p.unchanged, ["keep"]);
        assert_eq!(p.changed_keys().collect::<Vec<_>>(), ["new", "b", "z"]);
        let p = plan(
            &locals,
            &remotes,
            PlanOptions {
                delete: false,
                ..OPTS
            },
        );
        assert!(p.deletes.is_empty());
    }

    #[test]
    fn multipart_flag_follows_threshold() {
        let p = plan(
            &[
                local("big", b"0123456789", None),
                local("s", b"01234567", None),
            ],
            &[],
            OPTS,
        );
        assert!(p.uploads[0].multipart && !p.uploads[1].multipart);
    }

    #[test]
    fn hints_only_for_multipart_without_sha() {
        let remotes = vec![
            remote(
                "a",
                b"0123456789",
                Some("d41d8cd98f00b204e9800998ecf8427e-3".into()),
                None,
            ),
            remote(
                "b",
                b"0123456789",
                Some("d41d8cd98f00b204e9800998ecf8427e-3".into()),
                meta(None, Some(b"x"), None),
            ),
            remote(
                "c",
                b"0123456789",
                Some("d41d8cd98f00b204e9800998ecf8427e-2".into()),
                meta(None, None, Some(5)),
            ),
            remote("d", b"x", None, None),
        ];
        let hints = part_size_hints(&remotes, PS);
        assert_eq!(hints.len(), 2);
        assert!(hints["a"].contains(&PS));
        assert_eq!(hints["c"], [5]);
    }
}
