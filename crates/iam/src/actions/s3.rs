//! `aws s3`'s high-level commands (`cp`, `mv`, `rm`, `sync`, `ls`, `mb`, `rb`, `presign`, `website`): what each
//! needs from IAM, by hand, from its arguments. They are customisations of the AWS CLI that call several S3
//! operations depending on where the paths point, so no service model lists them; each rule below names the
//! operations the CLI makes (awscli/customizations/s3) and the actions S3 authorises them as (Amazon S3 User
//! Guide, "Required permissions for Amazon S3 API operations"). Which words are option values comes from the
//! generated table (the CLI's own argument tables), so a value is never mistaken for a path.

use std::collections::BTreeSet;
use std::fmt;

use super::option_arity;

/// One permission a command needs: an action on a resource ARN, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Need {
    /// E.g. `s3:PutObject`.
    pub action: &'static str,
    /// E.g. `arn:aws:s3:::my-bucket/site/*`, or `*` for an action without resource-level permissions.
    pub resource: String,
    /// The operations that need it, e.g. `PutObject, CreateMultipartUpload (upload)`.
    pub reason: &'static str,
}

/// Why a command's needs could not be derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Not one of `aws s3`'s commands.
    UnknownCommand(String),
    /// An option the CLI's argument tables do not list: keyless cannot tell whether it takes a value.
    UnknownOption(String),
    /// The command takes `expected` paths and got `found`.
    Paths {
        command: &'static str,
        expected: &'static str,
        found: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownCommand(name) => write!(
                f,
                "`aws s3 {name}` is not a command of the AWS CLI's `s3` (cp, mv, rm, sync, ls, mb, rb, presign, website)"
            ),
            Error::UnknownOption(name) => write!(
                f,
                "`{name}` is not an option of `aws s3` in the pinned AWS CLI, so keyless cannot tell its value from a path"
            ),
            Error::Paths {
                command,
                expected,
                found,
            } => write!(f, "`aws s3 {command}` takes {expected}, found {found}"),
        }
    }
}

impl std::error::Error for Error {}

/// An `s3://bucket/key` path, or a local one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path<'a> {
    Local,
    S3 { bucket: &'a str, key: &'a str },
}

fn path(word: &str) -> Path<'_> {
    match word.strip_prefix("s3://") {
        Some(rest) => {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            Path::S3 { bucket, key }
        }
        None => Path::Local,
    }
}

fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// The objects an operation touches: the key itself for one object, `key*` under a prefix (a directory operation, or
/// a destination ending in `/` that the CLI appends the file name to).
fn object_arn(bucket: &str, key: &str, many: bool) -> String {
    if many || key.is_empty() || key.ends_with('/') {
        format!("arn:aws:s3:::{bucket}/{key}*")
    } else {
        format!("arn:aws:s3:::{bucket}/{key}")
    }
}

struct Parsed<'a> {
    paths: Vec<&'a str>,
    options: BTreeSet<&'a str>,
}

fn parse_words<'a>(words: &[&'a str]) -> Result<Parsed<'a>, Error> {
    let mut paths = Vec::new();
    let mut options = BTreeSet::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        i += 1;
        let Some(name) = word.strip_prefix("--").map(|_| word) else {
            paths.push(word);
            continue;
        };
        let (name, inline) = match name.split_once('=') {
            Some((name, _)) => (name, true),
            None => (name, false),
        };
        let arity = option_arity(name).ok_or_else(|| Error::UnknownOption(name.to_string()))?;
        options.insert(name);
        if inline {
            continue;
        }
        match arity {
            "0" => {}
            "+" => {
                while i < words.len() && !words[i].starts_with("--") {
                    i += 1;
                }
            }
            choices if choices.starts_with('?') => {
                if i < words.len() && choices[1..].split('|').any(|c| c == words[i]) {
                    i += 1;
                }
            }
            n => i += n.parse::<usize>().unwrap_or(1),
        }
    }
    Ok(Parsed { paths, options })
}

/// The paths (positional words) of `aws s3 <words…>`, option values skipped as the CLI's argument tables say.
pub fn paths<'a>(words: &[&'a str]) -> Result<Vec<&'a str>, Error> {
    match words.split_first() {
        Some((_, rest)) => Ok(parse_words(rest)?.paths),
        None => Err(Error::UnknownCommand(String::new())),
    }
}

/// What `aws s3 <words…>` needs, e.g. `command(&["sync", "dist/", "s3://site/", "--delete"])`. Paths are used as
/// written: resolve `$VARIABLES` first (an unresolved one ends up in the ARN as is).
pub fn command(words: &[&str]) -> Result<Vec<Need>, Error> {
    let Some((&name, rest)) = words.split_first() else {
        return Err(Error::UnknownCommand(String::new()));
    };
    let parsed = parse_words(rest)?;
    let has = |option: &str| parsed.options.contains(option);
    let recursive = has("--recursive");
    let acl = has("--acl") || has("--grants");
    let mut needs = Vec::new();
    let mut need = |action: &'static str, resource: String, reason: &'static str| {
        needs.push(Need {
            action,
            resource,
            reason,
        });
    };
    match name {
        "ls" => match parsed.paths.as_slice() {
            // ListBuckets: s3:ListAllMyBuckets, which has no resource-level permissions.
            [] => need("s3:ListAllMyBuckets", "*".into(), "ListBuckets (ls)"),
            [p] => match path(p) {
                Path::S3 { bucket: "", .. } => {
                    need("s3:ListAllMyBuckets", "*".into(), "ListBuckets (ls)");
                }
                // ListObjectsV2 (and ListObjects for --page-size): s3:ListBucket on the bucket.
                Path::S3 { bucket, .. } => {
                    need("s3:ListBucket", bucket_arn(bucket), "ListObjectsV2 (ls)");
                }
                Path::Local => {
                    return Err(Error::Paths {
                        command: "ls",
                        expected: "an s3:// path or none",
                        found: 1,
                    });
                }
            },
            _ => {
                return Err(Error::Paths {
                    command: "ls",
                    expected: "at most one path",
                    found: parsed.paths.len(),
                });
            }
        },
        "cp" | "mv" | "sync" => {
            let found = paths_of(&parsed, name, "two paths (source, destination)", 2)?;
            let (from, to) = (found[0], found[1]);
            let many = recursive || name == "sync";
            if let Path::S3 { bucket, key } = from {
                // Listing the source (a directory copy, sync's comparison): ListObjectsV2 → s3:ListBucket.
                if many {
                    need(
                        "s3:ListBucket",
                        bucket_arn(bucket),
                        "ListObjectsV2 (list the source)",
                    );
                }
                // GetObject / HeadObject / the source of CopyObject and UploadPartCopy: s3:GetObject.
                need(
                    "s3:GetObject",
                    object_arn(bucket, key, many),
                    "GetObject, HeadObject, CopyObject's source (read the source)",
                );
                // mv deletes each source object after copying it: DeleteObject.
                if name == "mv" {
                    need(
                        "s3:DeleteObject",
                        object_arn(bucket, key, many),
                        "DeleteObject (mv removes the source)",
                    );
                }
            }
            if let Path::S3 { bucket, key } = to {
                // sync lists the destination to compare.
                if name == "sync" {
                    need(
                        "s3:ListBucket",
                        bucket_arn(bucket),
                        "ListObjectsV2 (list the destination)",
                    );
                }
                // PutObject, CreateMultipartUpload/UploadPart/CompleteMultipartUpload, CopyObject: s3:PutObject.
                need(
                    "s3:PutObject",
                    object_arn(bucket, key, many),
                    "PutObject, multipart upload, CopyObject (write the destination)",
                );
                // --acl/--grants send x-amz-acl/x-amz-grant-* with the write: s3:PutObjectAcl as well.
                if acl {
                    need(
                        "s3:PutObjectAcl",
                        object_arn(bucket, key, many),
                        "--acl/--grants on the write",
                    );
                }
                // sync --delete removes destination objects the source lacks: DeleteObject.
                if name == "sync" && has("--delete") {
                    need(
                        "s3:DeleteObject",
                        object_arn(bucket, key, true),
                        "DeleteObject (sync --delete)",
                    );
                }
            }
        }
        "rm" => {
            let target = paths_of(&parsed, name, "one s3:// path", 1)?[0];
            let Path::S3 { bucket, key } = target else {
                return Err(Error::Paths {
                    command: "rm",
                    expected: "one s3:// path",
                    found: 0,
                });
            };
            // rm --recursive lists the prefix first.
            if recursive {
                need(
                    "s3:ListBucket",
                    bucket_arn(bucket),
                    "ListObjectsV2 (rm --recursive)",
                );
            }
            need(
                "s3:DeleteObject",
                object_arn(bucket, key, recursive),
                "DeleteObject (rm)",
            );
        }
        "mb" | "rb" | "website" => {
            let target = paths_of(&parsed, name, "one s3:// bucket", 1)?[0];
            let Path::S3 { bucket, .. } = target else {
                return Err(Error::Paths {
                    command: command_name(name),
                    expected: "one s3:// bucket",
                    found: 0,
                });
            };
            match name {
                "mb" => {
                    // CreateBucket; --tags adds PutBucketTagging.
                    need("s3:CreateBucket", bucket_arn(bucket), "CreateBucket (mb)");
                    if has("--tags") {
                        need(
                            "s3:PutBucketTagging",
                            bucket_arn(bucket),
                            "PutBucketTagging (mb --tags)",
                        );
                    }
                }
                "rb" => {
                    // rb --force empties the bucket first (rm --recursive), then DeleteBucket.
                    if has("--force") {
                        need(
                            "s3:ListBucket",
                            bucket_arn(bucket),
                            "ListObjectsV2 (rb --force)",
                        );
                        need(
                            "s3:DeleteObject",
                            object_arn(bucket, "", true),
                            "DeleteObject (rb --force)",
                        );
                    }
                    need("s3:DeleteBucket", bucket_arn(bucket), "DeleteBucket (rb)");
                }
                // website: PutBucketWebsite.
                _ => need(
                    "s3:PutBucketWebsite",
                    bucket_arn(bucket),
                    "PutBucketWebsite (website)",
                ),
            }
        }
        "presign" => {
            let target = paths_of(&parsed, name, "one s3:// object", 1)?[0];
            let Path::S3 { bucket, key } = target else {
                return Err(Error::Paths {
                    command: "presign",
                    expected: "one s3:// object",
                    found: 0,
                });
            };
            // A presigned URL carries the signer's permissions: whoever uses it needs the signer to have GetObject.
            need(
                "s3:GetObject",
                object_arn(bucket, key, false),
                "GetObject (through the presigned URL)",
            );
        }
        other => return Err(Error::UnknownCommand(other.to_string())),
    }
    needs.sort();
    needs.dedup();
    Ok(needs)
}

/// The command's paths when there are exactly `count`.
fn paths_of<'a>(
    parsed: &Parsed<'a>,
    name: &str,
    expected: &'static str,
    count: usize,
) -> Result<Vec<Path<'a>>, Error> {
    if parsed.paths.len() == count {
        Ok(parsed.paths.iter().map(|p| path(p)).collect())
    } else {
        Err(Error::Paths {
            command: command_name(name),
            expected,
            found: parsed.paths.len(),
        })
    }
}

fn command_name(name: &str) -> &'static str {
    [
        "cp", "mv", "rm", "sync", "ls", "mb", "rb", "presign", "website",
    ]
    .into_iter()
    .find(|n| *n == name)
    .unwrap_or("s3")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn needs(words: &str) -> Vec<(String, String)> {
        let words: Vec<&str> = words.split_whitespace().collect();
        command(&words)
            .unwrap()
            .into_iter()
            .map(|n| (n.action.to_string(), n.resource))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = list
            .iter()
            .map(|(a, r)| ((*a).to_string(), (*r).to_string()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn sync_upload_with_delete_and_options() {
        assert_eq!(
            needs(
                "sync dist/ s3://site/www --delete --cache-control max-age=60 --exclude *.map --region eu-west-1"
            ),
            pairs(&[
                ("s3:DeleteObject", "arn:aws:s3:::site/www*"),
                ("s3:ListBucket", "arn:aws:s3:::site"),
                ("s3:PutObject", "arn:aws:s3:::site/www*"),
            ])
        );
    }

    #[test]
    fn cp_single_file_both_directions_and_acl() {
        assert_eq!(
            needs("cp build.zip s3://artifacts/app/build.zip --acl bucket-owner-full-control"),
            pairs(&[
                ("s3:PutObject", "arn:aws:s3:::artifacts/app/build.zip"),
                ("s3:PutObjectAcl", "arn:aws:s3:::artifacts/app/build.zip"),
            ])
        );
        assert_eq!(
            needs("cp s3://artifacts/app/build.zip ."),
            pairs(&[("s3:GetObject", "arn:aws:s3:::artifacts/app/build.zip")])
        );
        // A destination ending in `/` gets the file name appended: any key under it.
        assert_eq!(
            needs("cp a.txt s3://b/dir/"),
            pairs(&[("s3:PutObject", "arn:aws:s3:::b/dir/*")])
        );
    }

    #[test]
    fn recursive_copy_between_buckets_and_mv() {
        assert_eq!(
            needs("cp s3://a/x s3://b/y --recursive"),
            pairs(&[
                ("s3:GetObject", "arn:aws:s3:::a/x*"),
                ("s3:ListBucket", "arn:aws:s3:::a"),
                ("s3:PutObject", "arn:aws:s3:::b/y*"),
            ])
        );
        assert_eq!(
            needs("mv s3://a/k.txt s3://b/k.txt"),
            pairs(&[
                ("s3:DeleteObject", "arn:aws:s3:::a/k.txt"),
                ("s3:GetObject", "arn:aws:s3:::a/k.txt"),
                ("s3:PutObject", "arn:aws:s3:::b/k.txt"),
            ])
        );
    }

    #[test]
    fn ls_rm_mb_rb_presign_website() {
        assert_eq!(needs("ls"), pairs(&[("s3:ListAllMyBuckets", "*")]));
        assert_eq!(
            needs("ls s3://b/p/ --recursive --human-readable"),
            pairs(&[("s3:ListBucket", "arn:aws:s3:::b")])
        );
        assert_eq!(
            needs("rm s3://b/old --recursive"),
            pairs(&[
                ("s3:DeleteObject", "arn:aws:s3:::b/old*"),
                ("s3:ListBucket", "arn:aws:s3:::b"),
            ])
        );
        assert_eq!(
            needs("mb s3://new --tags k v"),
            pairs(&[
                ("s3:CreateBucket", "arn:aws:s3:::new"),
                ("s3:PutBucketTagging", "arn:aws:s3:::new"),
            ])
        );
        assert_eq!(
            needs("rb s3://old --force"),
            pairs(&[
                ("s3:DeleteBucket", "arn:aws:s3:::old"),
                ("s3:DeleteObject", "arn:aws:s3:::old/*"),
                ("s3:ListBucket", "arn:aws:s3:::old"),
            ])
        );
        assert_eq!(
            needs("presign s3://b/k --expires-in 60"),
            pairs(&[("s3:GetObject", "arn:aws:s3:::b/k")])
        );
        assert_eq!(
            needs("website s3://b --index-document index.html"),
            pairs(&[("s3:PutBucketWebsite", "arn:aws:s3:::b")])
        );
    }

    #[test]
    fn option_values_are_not_paths() {
        // --sse takes a value only when it is one of its choices; --grants takes values up to the next option.
        assert_eq!(
            needs("cp f s3://b/k --sse --grants read=uri=x full=id=y --quiet"),
            pairs(&[
                ("s3:PutObject", "arn:aws:s3:::b/k"),
                ("s3:PutObjectAcl", "arn:aws:s3:::b/k"),
            ])
        );
        assert_eq!(
            needs("cp f s3://b/k --sse aws:kms --storage-class=STANDARD_IA"),
            pairs(&[("s3:PutObject", "arn:aws:s3:::b/k")])
        );
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            command(&["cp", "a", "s3://b/k", "--frobnicate"]),
            Err(Error::UnknownOption("--frobnicate".into()))
        );
        assert_eq!(
            command(&["copy", "a", "b"]),
            Err(Error::UnknownCommand("copy".into()))
        );
        assert!(matches!(
            command(&["cp", "a"]),
            Err(Error::Paths { found: 1, .. })
        ));
    }
}
