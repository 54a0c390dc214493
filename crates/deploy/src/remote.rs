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

use aws_sdk_s3::operation::head_object::HeadObjectOutput;

use crate::rules::{Headers, normalize_http_date};

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
    /// Builds the metadata from a HEAD response. S3 lower-cases user metadata names; keyless's own are taken
    /// out of the user metadata, the rest kept (a header-only change can then add, change or remove them).
    pub fn from_head(out: &HeadObjectOutput) -> Self {
        let mut sha256 = None;
        let mut part_size = None;
        let mut metadata = BTreeMap::new();
        for (k, v) in out.metadata().into_iter().flatten() {
            match k.to_ascii_lowercase().as_str() {
                META_SHA256 => sha256 = Some(v.to_ascii_lowercase()),
                META_PART_SIZE => part_size = v.parse().ok(),
                other => {
                    metadata.insert(other.to_owned(), v.clone());
                }
            }
        }
        let nonempty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
        Self {
            headers: Headers {
                content_type: out
                    .content_type()
                    .unwrap_or("binary/octet-stream")
                    .to_owned(),
                cache_control: nonempty(out.cache_control()),
                content_encoding: nonempty(out.content_encoding()),
                content_disposition: nonempty(out.content_disposition()),
                content_language: nonempty(out.content_language()),
                // Kept as S3 returned it when it is not a date (old objects may hold anything): it then differs
                // from every rule's value, and the next update rewrites it.
                expires: nonempty(out.expires_string())
                    .map(|raw| normalize_http_date(&raw).unwrap_or(raw)),
                website_redirect_location: nonempty(out.website_redirect_location()),
                metadata,
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

/// Current state file version. Version 2 records every header keyless manages (Content-Disposition,
/// Content-Language, Expires, the website redirect and user metadata); a version-1 file is ignored once, since it
/// never recorded those.
pub const STATE_VERSION: u32 = 2;

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
        let out = HeadObjectOutput::builder()
            .content_type("text/html")
            .cache_control("")
            .content_language("de")
            .expires_string("Tue, 01 Jan 2030 00:00:00 GMT")
            .website_redirect_location("/new/")
            .metadata("Keyless-Sha256", "ABCD")
            .metadata("keyless-part-size", "8388608")
            .metadata("Team", "web")
            .build();
        let meta = RemoteMeta::from_head(&out);
        assert_eq!(meta.sha256.as_deref(), Some("abcd"));
        assert_eq!(meta.part_size, Some(8_388_608));
        let h = &meta.headers;
        assert_eq!(h.cache_control, None);
        assert_eq!(h.content_language.as_deref(), Some("de"));
        assert_eq!(h.expires.as_deref(), Some("Tue, 01 Jan 2030 00:00:00 GMT"));
        assert_eq!(h.website_redirect_location.as_deref(), Some("/new/"));
        assert_eq!(h.metadata.len(), 1);
        assert_eq!(h.metadata["team"], "web");
        let odd = HeadObjectOutput::builder().expires_string("5d").build();
        assert_eq!(
            RemoteMeta::from_head(&odd).headers.expires.as_deref(),
            Some("5d")
        );
        assert_eq!(
            RemoteMeta::from_head(&odd).headers.content_type,
            "binary/octet-stream"
        );
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
