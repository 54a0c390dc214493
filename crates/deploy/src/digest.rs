//! Content digests: MD5 (the single-part ETag), SHA-256 (stored in object metadata), and multipart ETags.
//!
//! S3's ETag for a single-part upload without SSE-KMS is the hex MD5 of the body. For a multipart upload it is
//! `hex(md5(md5(part1) ‖ md5(part2) ‖ …))-N`, which depends on the part size the uploader chose; the hasher
//! computes it for every part size asked for, in the same single pass over the bytes.

use md5::{Digest as _, Md5};
use sha2::Sha256;

/// What a stored body hashes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentDigest {
    /// Size of the stored body (after gzip, when gzip applies).
    pub size: u64,
    /// `None` when only the SHA-256 was asked for ([`Hasher::sha256_only`]).
    pub md5: Option<[u8; 16]>,
    pub sha256: [u8; 32],
    /// `(part size, multipart ETag)` for each part size asked for; empty bodies have none.
    pub multipart_etags: Vec<(u64, String)>,
}

impl ContentDigest {
    pub fn md5_hex(&self) -> Option<String> {
        self.md5.map(hex::encode)
    }

    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// The multipart ETag for `part_size`, if it was computed.
    pub fn multipart_etag(&self, part_size: u64) -> Option<&str> {
        self.multipart_etags
            .iter()
            .find(|(size, _)| *size == part_size)
            .map(|(_, etag)| etag.as_str())
    }
}

/// Streaming hasher over a body.
pub struct Hasher {
    size: u64,
    /// Left out when the object's SHA-256 is known: MD5 costs about three times as much CPU as SHA-256 with the
    /// SHA extensions most x86-64 and ARMv8 CPUs have.
    md5: Option<Md5>,
    sha256: Sha256,
    parts: Vec<PartHasher>,
}

struct PartHasher {
    part_size: u64,
    filled: u64,
    current: Md5,
    part_md5s: Vec<u8>,
    count: u64,
}

impl Hasher {
    /// A hasher that also computes the multipart ETag for each of `part_sizes` (zero sizes are ignored).
    pub fn new(part_sizes: &[u64]) -> Self {
        let mut sizes: Vec<u64> = part_sizes.iter().copied().filter(|s| *s > 0).collect();
        sizes.sort_unstable();
        sizes.dedup();
        Self {
            size: 0,
            md5: Some(Md5::new()),
            sha256: Sha256::new(),
            parts: sizes
                .into_iter()
                .map(|part_size| PartHasher {
                    part_size,
                    filled: 0,
                    current: Md5::new(),
                    part_md5s: Vec::new(),
                    count: 0,
                })
                .collect(),
        }
    }

    /// A hasher for the SHA-256 (and size) alone: enough to compare with an object whose `keyless-sha256`
    /// metadata is known.
    pub fn sha256_only() -> Self {
        Self {
            size: 0,
            md5: None,
            sha256: Sha256::new(),
            parts: Vec::new(),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        if let Some(md5) = &mut self.md5 {
            md5.update(data);
        }
        self.sha256.update(data);
        for part in &mut self.parts {
            let mut rest = data;
            while !rest.is_empty() {
                let room = usize::try_from(part.part_size - part.filled).unwrap_or(usize::MAX);
                let take = room.min(rest.len());
                part.current.update(&rest[..take]);
                part.filled += take as u64;
                rest = &rest[take..];
                if part.filled == part.part_size {
                    part.close();
                }
            }
        }
    }

    pub fn finish(self) -> ContentDigest {
        let size = self.size;
        let multipart_etags = self
            .parts
            .into_iter()
            .filter_map(|mut part| {
                if part.filled > 0 {
                    part.close();
                }
                (part.count > 0).then(|| {
                    let whole = Md5::digest(&part.part_md5s);
                    (
                        part.part_size,
                        format!("{}-{}", hex::encode(whole), part.count),
                    )
                })
            })
            .collect();
        ContentDigest {
            size,
            md5: self.md5.map(|md5| md5.finalize().into()),
            sha256: self.sha256.finalize().into(),
            multipart_etags,
        }
    }
}

impl PartHasher {
    fn close(&mut self) {
        let digest = std::mem::replace(&mut self.current, Md5::new()).finalize();
        self.part_md5s.extend_from_slice(&digest);
        self.filled = 0;
        self.count += 1;
    }
}

/// Digest of an in-memory body.
pub fn digest_bytes(data: &[u8], part_sizes: &[u64]) -> ContentDigest {
    let mut hasher = Hasher::new(part_sizes);
    hasher.update(data);
    hasher.finish()
}

/// What an ETag says about the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EtagKind {
    /// A single-part ETag: the MD5 of the body (unless SSE-KMS or SSE-C encrypted it).
    Md5(String),
    /// A multipart ETag with its number of parts.
    Multipart { parts: u64 },
    /// Anything else.
    Other,
}

/// Classifies an ETag as S3 returns it (with or without the surrounding quotes).
pub fn etag_kind(etag: &str) -> EtagKind {
    let etag = etag.trim_matches('"').to_ascii_lowercase();
    let is_md5 = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
    match etag.split_once('-') {
        None if is_md5(&etag) => EtagKind::Md5(etag),
        Some((hash, parts)) if is_md5(hash) => match parts.parse::<u64>() {
            Ok(parts) if parts > 0 => EtagKind::Multipart { parts },
            _ => EtagKind::Other,
        },
        _ => EtagKind::Other,
    }
}

/// Part sizes worth trying for a multipart object of `size` bytes with `parts` parts uploaded by another tool:
/// the common defaults (AWS CLI and SDKs 8 MiB, boto3 8 MiB, s3cmd 15 MiB, 5 MiB minimum, 16 MiB, 64 MiB,
/// 100 MiB) that yield exactly `parts` parts, plus `ours`.
pub fn candidate_part_sizes(size: u64, parts: u64, ours: u64) -> Vec<u64> {
    const MIB: u64 = 1024 * 1024;
    let mut out: Vec<u64> = [
        ours,
        8 * MIB,
        5 * MIB,
        15 * MIB,
        16 * MIB,
        64 * MIB,
        100 * MIB,
    ]
    .into_iter()
    .filter(|ps| *ps > 0 && size.div_ceil(*ps).max(1) == parts)
    .collect();
    // The AWS CLI grows its chunk size when 8 MiB would exceed 10,000 parts; the size it picks is the one that
    // spreads the object over exactly `parts` parts, rounded up to a MiB.
    if parts > 0 && size > 0 {
        let even = size.div_ceil(parts).div_ceil(MIB) * MIB;
        if size.div_ceil(even) == parts {
            out.push(even);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn md5_and_sha256_of_known_inputs() {
        let d = digest_bytes(b"", &[]);
        assert_eq!(d.md5_hex().unwrap(), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            d.sha256_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(d.multipart_etags.is_empty());
        let d = digest_bytes(b"hello world", &[]);
        assert_eq!(d.md5_hex().unwrap(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!(d.size, 11);
        // SHA-256 alone: the same SHA-256 and size, no MD5, no multipart ETags.
        let mut h = Hasher::sha256_only();
        h.update(b"hello ");
        h.update(b"world");
        let only = h.finish();
        assert_eq!((only.size, only.sha256, only.md5), (11, d.sha256, None));
        assert!(only.multipart_etags.is_empty());
    }

    #[test]
    fn multipart_etag_matches_definition() {
        // Reference: md5 of the concatenated binary part MD5s, then `-N`.
        let data: Vec<u8> = (0..25u32).flat_map(|i| [i as u8; 4]).collect(); // 100 bytes
        let parts: Vec<&[u8]> = data.chunks(30).collect();
        let mut concat = Vec::new();
        for p in &parts {
            concat.extend_from_slice(&Md5::digest(p));
        }
        let want = format!("{}-4", hex::encode(Md5::digest(&concat)));
        let d = digest_bytes(&data, &[30, 100, 7]);
        assert_eq!(d.multipart_etag(30), Some(want.as_str()));
        // One part still has the multipart form.
        let one = format!("{}-1", hex::encode(Md5::digest(Md5::digest(&data))));
        assert_eq!(d.multipart_etag(100), Some(one.as_str()));
        assert!(d.multipart_etag(7).unwrap().ends_with("-15"));
        assert_eq!(d.multipart_etag(8), None);
    }

    #[test]
    fn streaming_in_odd_chunks_equals_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let whole = digest_bytes(&data, &[1024, 4096]);
        let mut h = Hasher::new(&[4096, 1024, 1024, 0]);
        for chunk in data.chunks(333) {
            h.update(chunk);
        }
        assert_eq!(h.finish(), whole);
    }

    #[test]
    fn etag_kinds() {
        let table = [
            (
                "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"",
                EtagKind::Md5("5eb63bbbe01eeed093cb22bb8f5acdc3".into()),
            ),
            (
                "5EB63BBBE01EEED093CB22BB8F5ACDC3",
                EtagKind::Md5("5eb63bbbe01eeed093cb22bb8f5acdc3".into()),
            ),
            (
                "\"d41d8cd98f00b204e9800998ecf8427e-12\"",
                EtagKind::Multipart { parts: 12 },
            ),
            ("d41d8cd98f00b204e9800998ecf8427e-0", EtagKind::Other),
            ("d41d8cd98f00b204e9800998ecf8427e-x", EtagKind::Other),
            ("abc", EtagKind::Other),
            ("", EtagKind::Other),
        ];
        for (etag, want) in table {
            assert_eq!(etag_kind(etag), want, "{etag}");
        }
    }

    #[test]
    fn candidate_part_sizes_match_part_count() {
        const MIB: u64 = 1024 * 1024;
        // 20 MiB in 3 parts: 8 MiB (AWS CLI) fits, 5 MiB (4 parts) does not.
        let c = candidate_part_sizes(20 * MIB, 3, 8 * MIB);
        assert!(c.contains(&(8 * MIB)) && !c.contains(&(5 * MIB)), "{c:?}");
        // Our own small test part size is always tried when it fits.
        assert!(candidate_part_sizes(3000, 3, 1024).contains(&1024));
        assert!(
            candidate_part_sizes(3000, 2, 1024)
                .iter()
                .all(|ps| 3000u64.div_ceil(*ps) == 2)
        );
    }
}
