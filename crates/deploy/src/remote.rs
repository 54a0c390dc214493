//! What the bucket holds: listed objects, their headers and metadata, and keyless's deploy state file.
//!
//! A listing gives key, size, ETag and LastModified but not headers or user metadata, and a HEAD per object
//! makes a no-op resync of thousands of files slow. So after each deploy keyless writes a state file,
//! `<prefix>.keyless-deploy.json`, recording for every object it deployed the headers and SHA-256 it stored
//! together with the ETag, size and LastModified the listing showed. On the next run an entry is trusted only
//! if all three still match the listing; any object written since by anyone (even a metadata-only copy, which
//! changes LastModified) falls back to a HEAD. The state file is a cache: deleting it costs one HEAD per object.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::rules::Headers;

/// The state file's name, under the prefix.
pub const STATE_FILE: &str = ".keyless-deploy.json";
/// User metadata key (`x-amz-meta-keyless-sha256`) holding the hex SHA-256 of the stored body.
pub const META_SHA256: &str = "keyless-sha256";
/// User metadata key (`x-amz-meta-keyless-part-size`) holding the part size of a multipart upload.
pub const META_PART_SIZE: &str = "keyless-part-size";

/// An object as the listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    /// As the listing formats it (RFC 3339); only ever compared for equality.
    pub last_modified: String,
}

/// Headers and keyless metadata of a stored object, from a HEAD or a trusted state entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteMeta {
    #[serde(flatten)]
    pub headers: Headers,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_size: Option<u64>,
}

impl RemoteMeta {
    /// Builds the metadata from HEAD response fields. S3 lower-cases user metadata keys.
    pub fn from_head<'a>(
        content_type: Option<&str>,
        cache_control: Option<&str>,
        content_encoding: Option<&str>,
        metadata: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Self {
        let mut sha256 = None;
        let mut part_size = None;
        for (k, v) in metadata {
            match k.to_ascii_lowercase().as_str() {
                META_SHA256 => sha256 = Some(v.to_ascii_lowercase()),
                META_PART_SIZE => part_size = v.parse().ok(),
                _ => {}
            }
        }
        let nonempty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
        Self {
            headers: Headers {
                content_type: content_type.unwrap_or("binary/octet-stream").to_owned(),
                cache_control: nonempty(cache_control),
                content_encoding: nonempty(content_encoding),
            },
            sha256,
            part_size,
        }
    }
}

/// An object in the bucket, with its metadata when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteObject {
    pub listed: Listed,
    pub meta: Option<RemoteMeta>,
}

/// One state entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateEntry {
    pub etag: String,
    pub size: u64,
    pub last_modified: String,
    #[serde(flatten)]
    pub meta: RemoteMeta,
}

/// The state file's content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub objects: BTreeMap<String, StateEntry>,
}

/// Current state file version.
pub const STATE_VERSION: u32 = 1;

impl State {
    /// Parses a state file; anything unreadable or of another version is treated as empty (it is only a cache).
    pub fn parse(bytes: &[u8]) -> Self {
        match serde_json::from_slice::<State>(bytes) {
            Ok(state) if state.version == STATE_VERSION => state,
            _ => Self::default(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The recorded metadata for `listed`, if the object is unchanged since it was recorded.
    pub fn trusted_meta(&self, listed: &Listed) -> Option<&RemoteMeta> {
        self.objects
            .get(&listed.key)
            .filter(|e| {
                e.etag == listed.etag
                    && e.size == listed.size
                    && e.last_modified == listed.last_modified
            })
            .map(|e| &e.meta)
    }
}

/// Whether a listed key takes part in the sync: inside the prefix, not the state file, not excluded.
pub fn relative_key<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let rel = key.strip_prefix(prefix)?;
    (!rel.is_empty() && rel != STATE_FILE && !key.ends_with('/')).then_some(rel)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn listed(key: &str) -> Listed {
        Listed {
            key: key.into(),
            size: 3,
            etag: "abc".into(),
            last_modified: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn state_entries_are_trusted_only_when_listing_matches() {
        let mut state = State {
            version: STATE_VERSION,
            ..State::default()
        };
        let l = listed("a.html");
        state.objects.insert(
            l.key.clone(),
            StateEntry {
                etag: l.etag.clone(),
                size: l.size,
                last_modified: l.last_modified.clone(),
                meta: RemoteMeta::default(),
            },
        );
        assert!(state.trusted_meta(&l).is_some());
        for changed in [
            Listed {
                etag: "x".into(),
                ..l.clone()
            },
            Listed {
                size: 4,
                ..l.clone()
            },
            Listed {
                last_modified: "2026-01-01T00:00:01Z".into(),
                ..l.clone()
            },
            listed("b.html"),
        ] {
            assert!(state.trusted_meta(&changed).is_none(), "{changed:?}");
        }
        let round = State::parse(&state.to_json());
        assert_eq!(round, state);
        assert_eq!(State::parse(b"not json"), State::default());
        assert_eq!(
            State::parse(br#"{"version":99,"objects":{}}"#),
            State::default()
        );
    }

    #[test]
    fn head_metadata_is_read_case_insensitively() {
        let md: Vec<(String, String)> = vec![
            ("Keyless-Sha256".into(), "ABCD".into()),
            ("keyless-part-size".into(), "8388608".into()),
            ("other".into(), "x".into()),
        ];
        let meta = RemoteMeta::from_head(
            Some("text/html"),
            Some(""),
            None,
            md.iter().map(|(k, v)| (k, v)),
        );
        assert_eq!(meta.sha256.as_deref(), Some("abcd"));
        assert_eq!(meta.part_size, Some(8_388_608));
        assert_eq!(meta.headers.cache_control, None);
    }

    #[test]
    fn relative_keys() {
        assert_eq!(relative_key("p/a.html", "p/"), Some("a.html"));
        assert_eq!(relative_key("q/a.html", "p/"), None);
        assert_eq!(relative_key("p/.keyless-deploy.json", "p/"), None);
        assert_eq!(relative_key("p/dir/", "p/"), None);
        assert_eq!(relative_key("p/", "p/"), None);
        assert_eq!(relative_key("a", ""), Some("a"));
    }
}
