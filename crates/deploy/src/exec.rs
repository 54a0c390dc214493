//! The executor: scans the source, lists and inspects the bucket, plans, then uploads, copies, deletes and
//! invalidates through the official AWS SDK for Rust, with every request bounded by one `--concurrency`
//! semaphore. Per-file failures are collected and the run goes on; anything fatal happens before the first change.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, MetadataDirective, ObjectIdentifier,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::{StreamExt as _, TryStreamExt as _, stream};
use md5::{Digest as _, Md5};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::sync::Semaphore;

use crate::cloudfront;
use crate::digest::{ContentDigest, Hasher, digest_bytes};
use crate::guard::{self, GuardOptions};
use crate::local::{self, Body, LocalFile, normalize_prefix};
use crate::plan::{self, LocalObject, Plan, PlanOptions, Update, Upload};
use crate::remote::{
    Listed, META_PART_SIZE, META_SHA256, RemoteMeta, RemoteObject, STATE_FILE, STATE_VERSION,
    State, StateEntry, relative_key,
};
use crate::report::{Failure, InvalidationReport, Report, Summary};
use crate::rules::Headers;
use crate::rules::Rules;

/// S3's limit for CopyObject; larger objects whose headers change are uploaded again instead.
const MAX_COPY_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// DeleteObjects takes at most this many keys per request.
const DELETE_BATCH: usize = 1000;
/// S3's limit on parts per multipart upload.
const MAX_PARTS: u64 = 10_000;

/// Sets every header keyless manages on a PutObject, CreateMultipartUpload or CopyObject request builder (three
/// types with the same setters).
macro_rules! with_headers {
    ($builder:expr, $headers:expr) => {{
        let h: &Headers = $headers;
        let mut builder = $builder
            .content_type(&h.content_type)
            .set_cache_control(h.cache_control.clone())
            .set_content_encoding(h.content_encoding.clone())
            .set_content_disposition(h.content_disposition.clone())
            .set_content_language(h.content_language.clone())
            .set_expires(h.expires_timestamp())
            .set_website_redirect_location(h.website_redirect_location.clone());
        for (name, value) in &h.metadata {
            builder = builder.metadata(name, value);
        }
        builder
    }};
}

/// Fatal errors: nothing was changed in the bucket when one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Scan(#[from] local::ScanError),
    #[error("no AWS region: pass --region or set AWS_REGION (the bucket's region)")]
    NoRegion,
    #[error("listing s3://{bucket}/{prefix} failed: {message}{hint}")]
    List {
        bucket: String,
        prefix: String,
        message: String,
        hint: String,
    },
    /// A guard refused the run (see [`crate::guard`]); the report holds the plan, the guards' decisions and
    /// the warnings. Its message lists every refusal.
    #[error("{}", refusal_message(.0))]
    Refused(Box<Report>),
    #[error("internal error: {0}")]
    Internal(String),
    /// A proxy variable (`HTTPS_PROXY`...) that is not a proxy URL.
    #[error(transparent)]
    Proxy(#[from] keyless_net::http::HttpError),
}

fn refusal_message(report: &Report) -> String {
    let mut out = format!(
        "refusing to deploy to s3://{}/{}; nothing was changed:",
        report.bucket, report.prefix
    );
    for refusal in report.refusals() {
        out.push_str("\n  - ");
        out.push_str(refusal);
    }
    out
}

/// Where and as whom to connect.
#[derive(Clone, Debug, Default)]
pub struct Connection {
    pub region: Option<String>,
    /// A local endpoint (moto, LocalStack, MinIO): S3 is then addressed path-style.
    pub endpoint_url: Option<String>,
    /// Explicit credentials (from the web-identity flow); `None` uses the SDK's default chain.
    pub credentials: Option<aws_credential_types::Credentials>,
}

/// S3 and CloudFront clients sharing one configuration.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
}

impl Clients {
    pub async fn connect(connection: &Connection) -> Result<Self, DeployError> {
        let shared = keyless_net::aws::load(&keyless_net::aws::SdkOptions {
            region: connection.region.clone(),
            endpoint_url: connection.endpoint_url.clone(),
            credentials: connection
                .credentials
                .clone()
                .map(aws_credential_types::provider::SharedCredentialsProvider::new),
            ..keyless_net::aws::SdkOptions::default()
        })
        .await?;
        if shared.region().is_none() {
            return Err(DeployError::NoRegion);
        }
        // Content-MD5 is sent explicitly (S3 verifies it), so the SDK's extra CRC32 pass is left off.
        let s3 = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(connection.endpoint_url.is_some())
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        Ok(Self {
            s3: aws_sdk_s3::Client::from_conf(s3),
            cloudfront: aws_sdk_cloudfront::Client::new(&shared),
        })
    }
}

/// What to deploy and how: the parsed `deploy s3` flags, as plain values (the rules keep their spec, see
/// [`Rules::spec`]), so that other tools (a policy printer) can read them without the CLI.
#[derive(Clone, Debug)]
pub struct DeployOptions {
    pub bucket: String,
    pub source: PathBuf,
    pub prefix: String,
    /// `--delete`.
    pub delete: bool,
    pub max_delete: usize,
    /// 0 to 100; applies when the prefix holds at least [`crate::guard::PERCENT_MIN_OBJECTS`] objects.
    pub max_delete_percent: u8,
    /// `--require PATH`, normalised with [`crate::guard::normalize_required`].
    pub require: Vec<String>,
    /// Overrides every guard.
    pub force: bool,
    pub dry_run: bool,
    pub concurrency: usize,
    /// Hidden paths, excludes, gzip and header rules.
    pub rules: Rules,
    pub multipart_threshold: u64,
    pub part_size: u64,
    /// CloudFront distributions to invalidate, in command-line order, without repeats.
    pub invalidate: Vec<String>,
    pub max_invalidation_paths: usize,
    pub wait: bool,
    pub wait_timeout: Duration,
    pub wait_interval: Duration,
    /// Read and write the deploy state file (`<prefix>.keyless-deploy.json`); without it every object present on
    /// both sides is HEADed (`--no-state`).
    pub state: bool,
}

impl DeployOptions {
    /// The guard settings.
    pub fn guards(&self) -> GuardOptions {
        GuardOptions {
            delete: self.delete,
            max_delete: self.max_delete,
            max_delete_percent: self.max_delete_percent,
            require: self.require.clone(),
            force: self.force,
        }
    }
}

/// Progress callbacks (the library never prints; the CLI draws a bar on a TTY).
pub trait Progress: Send + Sync {
    /// Before the first change: how many operations and bytes follow.
    fn start(&self, _operations: u64, _bytes: u64) {}
    /// Bytes sent.
    fn advance(&self, _bytes: u64) {}
    /// One upload, update or delete finished (successfully or not).
    fn operation_done(&self) {}
    /// All changes are done.
    fn finish(&self) {}
}

/// No progress output.
pub struct Silent;
impl Progress for Silent {}

/// Runs a deploy (or, with `dry_run`, plans one).
pub async fn deploy(
    clients: &Clients,
    opts: &DeployOptions,
    progress: &dyn Progress,
) -> Result<Report, DeployError> {
    let prefix = normalize_prefix(&opts.prefix);
    let state_key = format!("{prefix}{STATE_FILE}");
    let concurrency = opts.concurrency.max(1);
    let mut surveyed = survey(clients, opts, &prefix, &state_key, concurrency).await?;
    if guard::refused(&surveyed.guards) && !opts.dry_run {
        let mut report = planned_report(opts, prefix, surveyed, Vec::new());
        report.dry_run = false;
        return Err(DeployError::Refused(Box::new(report)));
    }

    let targets = cloudfront::targets(
        &clients.cloudfront,
        &opts.invalidate,
        &opts.bucket,
        &mut surveyed.warnings,
    )
    .await;
    if opts.dry_run {
        let invalidations = cloudfront::planned(
            &targets,
            surveyed.plan.changed_keys(),
            opts.max_invalidation_paths,
        );
        return Ok(planned_report(opts, prefix, surveyed, invalidations));
    }
    let run = Run {
        clients,
        opts,
        prefix,
        state_key,
        concurrency,
    };
    Ok(run.apply(surveyed, &targets, progress).await)
}

/// The report of a plan that is not carried out: a dry run, or a run the guards refused.
fn planned_report(
    opts: &DeployOptions,
    prefix: String,
    surveyed: Surveyed,
    invalidations: Vec<InvalidationReport>,
) -> Report {
    let Surveyed {
        plan,
        errors,
        warnings,
        guards,
        skipped_hidden,
        ..
    } = surveyed;
    let summary = Summary {
        uploaded: plan.uploads.len(),
        updated: plan.updates.len(),
        deleted: plan.deletes.len(),
        unchanged: plan.unchanged.len(),
        failed: 0,
        bytes_uploaded: plan.uploads.iter().map(|u| u.bytes).sum(),
        skipped_hidden,
    };
    let mut report = Report {
        bucket: opts.bucket.clone(),
        prefix,
        dry_run: true,
        summary,
        uploads: plan.uploads,
        updates: plan.updates,
        deletes: plan.deletes,
        errors,
        warnings,
        invalidation: invalidations.first().cloned(),
        invalidations,
        guards,
    };
    report.summary.failed = report.errors.len();
    report
}

/// A run past its checks: where it writes.
struct Run<'a> {
    clients: &'a Clients,
    opts: &'a DeployOptions,
    prefix: String,
    state_key: String,
    concurrency: usize,
}

impl Run<'_> {
    /// Carries the plan out: the changes, the state file, the invalidations; the report of what was done.
    async fn apply(
        self,
        surveyed: Surveyed,
        targets: &[cloudfront::Target],
        progress: &dyn Progress,
    ) -> Report {
        let Run {
            clients,
            opts,
            prefix,
            state_key,
            concurrency,
        } = self;
        let Surveyed {
            plan,
            locals,
            remote,
            state,
            headed_any,
            skipped_hidden,
            mut errors,
            mut warnings,
            guards,
        } = surveyed;
        let mut executed = execute(
            clients,
            opts,
            &plan,
            &locals,
            &remote,
            concurrency,
            progress,
        )
        .await;
        errors.append(&mut executed.errors);
        let written = Written {
            plan: &plan,
            remote: &remote,
            stored: &executed.stored,
            deleted: !executed.deleted.is_empty(),
            headed_any,
        };
        refresh_state(
            clients,
            opts,
            &prefix,
            &state_key,
            &state,
            written,
            &mut warnings,
        )
        .await;

        let (invalidations, failed) = invalidate(clients, opts, targets, &executed).await;
        errors.extend(failed);

        let summary = Summary {
            uploaded: executed.uploaded.len(),
            updated: executed.updated.len(),
            deleted: executed.deleted.len(),
            unchanged: plan.unchanged.len(),
            failed: errors.len(),
            bytes_uploaded: executed.uploaded.iter().map(|u| u.bytes).sum(),
            skipped_hidden,
        };
        Report {
            bucket: opts.bucket.clone(),
            prefix,
            dry_run: false,
            summary,
            uploads: executed.uploaded,
            updates: executed.updated,
            deletes: executed.deleted,
            errors,
            warnings,
            invalidation: invalidations.first().cloned(),
            invalidations,
            guards,
        }
    }
}

/// Invalidates what the run changed, in each distribution serving the bucket.
async fn invalidate(
    clients: &Clients,
    opts: &DeployOptions,
    targets: &[cloudfront::Target],
    executed: &Executed,
) -> (Vec<InvalidationReport>, Vec<Failure>) {
    let changed = executed
        .uploaded
        .iter()
        .map(|u| u.key.as_str())
        .chain(executed.updated.iter().map(|u| u.key.as_str()))
        .chain(executed.deleted.iter().map(|d| d.key.as_str()));
    let settings = cloudfront::Settings {
        max_paths: opts.max_invalidation_paths,
        wait: opts.wait,
        wait_timeout: opts.wait_timeout,
        wait_interval: opts.wait_interval,
    };
    cloudfront::invalidate_all(&clients.cloudfront, targets, changed, settings).await
}

/// Everything known before the first change: the plan, both sides it compares, the state file as read, the
/// failures and warnings so far, and the guards' verdicts.
struct Surveyed {
    plan: Plan,
    locals: Vec<LocalObject>,
    remote: Vec<RemoteObject>,
    state: State,
    /// Some object's headers came from a HEAD (the state file did not have them): the state is refreshed.
    headed_any: bool,
    skipped_hidden: usize,
    errors: Vec<Failure>,
    warnings: Vec<String>,
    guards: Vec<guard::Verdict>,
}

/// Reads both sides (the source, the state file, the listing, the headers the comparison needs), hashes what
/// must be compared, plans, and judges the plan by the guards. Keys with a local or remote problem are neither
/// uploaded nor deleted.
async fn survey(
    clients: &Clients,
    opts: &DeployOptions,
    prefix: &str,
    state_key: &str,
    concurrency: usize,
) -> Result<Surveyed, DeployError> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let hashers = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let (scan, state, prehashed, listing) =
        gather(clients, opts, prefix, state_key, hashers).await?;
    warnings.extend(scan.sensitive.iter().map(local::Sensitive::warning));
    let skipped_hidden = scan.hidden_skipped;
    let mut facts = guard::Facts {
        source_files: scan.files.len() + scan.problems.len(),
        hidden_skipped: skipped_hidden,
        missing: opts
            .require
            .iter()
            .filter(|required| !guard::present(required, scan.files.iter().map(|f| f.rel.as_str())))
            .cloned()
            .collect(),
        ..guard::Facts::default()
    };
    // Keys with a local problem are neither uploaded nor deleted: their local state is unknown.
    let mut protected: HashSet<String> = HashSet::new();
    for problem in scan.problems {
        protected.insert(format!("{prefix}{}", problem.path));
        errors.push(Failure {
            key: problem.path,
            operation: "read",
            message: problem.message,
        });
    }

    let listing: Vec<Listed> = listing?
        .into_iter()
        .filter(|l| relative_key(&l.key, prefix).is_some_and(|rel| opts.rules.takes_part(rel)))
        .collect();
    facts.remote_objects = listing.len();
    let state = state.unwrap_or_else(|warning| {
        warnings.push(warning);
        State::default()
    });
    let mut failed = Failed { protected, errors };
    let local_keys: HashSet<&str> = scan.files.iter().map(|f| f.key.as_str()).collect();
    let (mut remote, headed_any) = remote_objects(
        clients,
        opts,
        listing,
        &state,
        &local_keys,
        concurrency,
        &mut failed,
    )
    .await;
    let locals = examine_all(scan.files, &remote, prehashed, opts, hashers, &mut failed).await?;
    let Failed { protected, errors } = failed;
    remote.retain(|r| !protected.contains(&r.listed.key));

    let plan = plan::plan(
        &locals,
        &remote,
        PlanOptions {
            delete: opts.delete,
            multipart_threshold: opts.multipart_threshold,
            part_size: opts.part_size,
        },
    );
    facts.deletes = plan.deletes.len();
    let guards = guard::evaluate(&opts.guards(), &facts);
    Ok(Surveyed {
        plan,
        locals,
        remote,
        state,
        headed_any,
        skipped_hidden,
        errors,
        warnings,
        guards,
    })
}

/// Keys that must not change (their state on one side is unknown), and why, as the report lists them.
struct Failed {
    protected: HashSet<String>,
    errors: Vec<Failure>,
}

/// The local walk, the state file (or why it could not be read), the files hashed early, and the listing.
///
/// The local walk, the state file and the listing are independent, so they run at once; the listing (one request
/// per 1,000 keys, one after the other) is usually the longest. As soon as the walk and the state file are in,
/// the files the state says are stored with a known SHA-256 are hashed while the listing is still coming in (see
/// `prehash`). A fatal scan error (a symlink out of the source) still wins over a listing error and stops the
/// run before any change.
async fn gather(
    clients: &Clients,
    opts: &DeployOptions,
    prefix: &str,
    state_key: &str,
    hashers: usize,
) -> Result<
    (
        local::Scan,
        Result<State, String>,
        HashMap<String, ContentDigest>,
        Result<Vec<Listed>, DeployError>,
    ),
    DeployError,
> {
    let listing_failed = AtomicBool::new(false);
    let listing = async {
        let listing = list(&clients.s3, &opts.bucket, prefix).await;
        if listing.is_err() {
            listing_failed.store(true, Ordering::Relaxed);
        }
        listing
    };
    let local_side = async {
        let scan = {
            let (source, rules, prefix, state_key) = (
                opts.source.clone(),
                opts.rules.clone(),
                prefix.to_owned(),
                state_key.to_owned(),
            );
            blocking(move || local::scan(&source, &prefix, &rules, &state_key))
        };
        let state = async {
            if opts.state {
                fetch_state(&clients.s3, &opts.bucket, state_key).await
            } else {
                Ok(State::default())
            }
        };
        let (scan, state) = tokio::join!(scan, state);
        let scan = scan??;
        let prehashed = match &state {
            Ok(state) => prehash(&scan.files, state, hashers, &listing_failed).await?,
            Err(_) => HashMap::new(),
        };
        Ok::<_, DeployError>((scan, state, prehashed))
    };
    let (local_side, listing) = tokio::join!(local_side, listing);
    let (scan, state, prehashed) = local_side?;
    Ok((scan, state, prehashed, listing))
}

/// Headers of objects that exist on both sides: from the state file when it is current, else a HEAD (an object
/// whose HEAD fails is protected). Returns the objects and whether any HEAD was sent.
async fn remote_objects(
    clients: &Clients,
    opts: &DeployOptions,
    listing: Vec<Listed>,
    state: &State,
    local_keys: &HashSet<&str>,
    concurrency: usize,
    failed: &mut Failed,
) -> (Vec<RemoteObject>, bool) {
    let mut remote = Vec::with_capacity(listing.len());
    let mut to_head = Vec::new();
    for listed in listing {
        match state.trusted_meta(&listed) {
            Some(meta) => {
                let meta = Some(meta.clone());
                remote.push(RemoteObject { listed, meta });
            }
            None if local_keys.contains(listed.key.as_str()) => to_head.push(listed),
            None => remote.push(RemoteObject { listed, meta: None }),
        }
    }
    let headed: Vec<(Listed, Result<RemoteMeta, String>)> = stream::iter(to_head)
        .map(|listed| async move {
            let meta = head(&clients.s3, &opts.bucket, &listed.key).await;
            (listed, meta)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let headed_any = !headed.is_empty();
    for (listed, meta) in headed {
        match meta {
            Ok(meta) => remote.push(RemoteObject {
                listed,
                meta: Some(meta),
            }),
            Err(message) => {
                failed.protected.insert(listed.key.clone());
                failed.errors.push(Failure {
                    key: listed.key,
                    operation: "head",
                    message,
                });
            }
        }
    }
    remote.retain(|r| !failed.protected.contains(&r.listed.key));
    (remote, headed_any)
}

/// Hash what will be stored, on blocking threads, with the multipart ETags other uploaders' objects need; but
/// only where a comparison needs it. A file with no object yet, or whose size already differs from its object's,
/// is uploaded anyway, and the upload hashes exactly the bytes it sends: hashing it here too would read it twice
/// (the whole site, on a first upload). Gzip bodies are always built here, because only the compressed size can
/// be compared. Where the object's SHA-256 is known, the SHA-256 alone decides: no MD5, no multipart ETags.
/// A file that cannot be read is protected.
async fn examine_all(
    files: Vec<LocalFile>,
    remote: &[RemoteObject],
    mut prehashed: HashMap<String, ContentDigest>,
    opts: &DeployOptions,
    hashers: usize,
    failed: &mut Failed,
) -> Result<Vec<LocalObject>, DeployError> {
    let hints = plan::part_size_hints(remote, opts.part_size);
    let remote_by_key: HashMap<&str, (u64, bool)> = remote
        .iter()
        .map(|r| {
            let sha256 = r.meta.as_ref().and_then(|m| m.sha256.as_ref()).is_some();
            (r.listed.key.as_str(), (r.listed.size, sha256))
        })
        .collect();
    type Examined = (LocalFile, std::io::Result<(u64, Option<ContentDigest>)>);
    let mut examined: Vec<Result<Examined, DeployError>> = Vec::new();
    let mut to_examine = Vec::new();
    for file in files {
        if failed.protected.contains(&file.key) {
            continue;
        }
        let remote = remote_by_key.get(file.key.as_str()).copied();
        match (prehashed.remove(&file.key), remote) {
            // Hashed during the listing, and the object's SHA-256 is known: nothing more to read.
            (Some(digest), Some((_, true))) => {
                examined.push(Ok((file, Ok((digest.size, Some(digest))))));
            }
            (_, remote) => to_examine.push((file, remote)),
        }
    }
    examined.extend(
        stream::iter(to_examine)
            .map(|(file, remote)| {
                let sizes = hints.get(&file.key).cloned().unwrap_or_default();
                blocking(move || {
                    let result = examine(&file, remote, &sizes);
                    (file, result)
                })
            })
            .buffer_unordered(hashers)
            .collect::<Vec<_>>()
            .await,
    );
    let mut locals = Vec::with_capacity(examined.len());
    for item in examined {
        match item? {
            (file, Ok((size, digest))) => locals.push(LocalObject { file, size, digest }),
            (file, Err(error)) => {
                failed.protected.insert(file.key.clone());
                failed.errors.push(Failure {
                    key: file.rel,
                    operation: "read",
                    message: error.to_string(),
                });
            }
        }
    }
    Ok(locals)
}

/// What a run changed, for the state file.
struct Written<'a> {
    plan: &'a Plan,
    remote: &'a [RemoteObject],
    /// The headers of each object written.
    stored: &'a [(String, RemoteMeta)],
    deleted: bool,
    headed_any: bool,
}

/// Refresh the state file when anything changed or it was stale; a failure is a warning (the next run HEADs).
async fn refresh_state(
    clients: &Clients,
    opts: &DeployOptions,
    prefix: &str,
    state_key: &str,
    state: &State,
    written: Written<'_>,
    warnings: &mut Vec<String>,
) {
    let mut final_meta: HashMap<&str, RemoteMeta> = HashMap::new();
    let unchanged: HashSet<&str> = written.plan.unchanged.iter().map(String::as_str).collect();
    for r in written.remote {
        if unchanged.contains(r.listed.key.as_str())
            && let Some(meta) = &r.meta
        {
            final_meta.insert(&r.listed.key, meta.clone());
        }
    }
    for (key, meta) in written.stored {
        final_meta.insert(key, meta.clone());
    }
    let wrote = !written.stored.is_empty();
    if !(opts.state
        && (wrote
            || written.headed_any
            || written.deleted
            || state.objects.len() != final_meta.len()))
    {
        return;
    }
    let listing = if wrote {
        list(&clients.s3, &opts.bucket, prefix)
            .await
            .map_err(|e| e.to_string())
    } else {
        Ok(written.remote.iter().map(|r| r.listed.clone()).collect())
    };
    match listing {
        Ok(listing) => {
            let mut objects = BTreeMap::new();
            for listed in listing {
                if let Some(meta) = final_meta.get(listed.key.as_str()) {
                    objects.insert(
                        listed.key.clone(),
                        StateEntry {
                            etag: listed.etag,
                            size: listed.size,
                            last_modified: listed.last_modified,
                            meta: meta.clone(),
                        },
                    );
                }
            }
            let new_state = State {
                version: STATE_VERSION,
                objects,
            };
            if new_state != *state
                && let Err(message) =
                    put_state(&clients.s3, &opts.bucket, state_key, &new_state).await
            {
                warnings.push(format!(
                    "could not write the deploy state s3://{}/{state_key} ({message}); the next run will HEAD \
                     each object instead",
                    opts.bucket
                ));
            }
        }
        Err(message) => warnings.push(format!("could not refresh the deploy state: {message}")),
    }
}

#[derive(Default)]
struct Executed {
    uploaded: Vec<Upload>,
    updated: Vec<Update>,
    deleted: Vec<plan::Delete>,
    errors: Vec<Failure>,
    /// Metadata of every object written, by key.
    stored: Vec<(String, RemoteMeta)>,
}

enum Op<'a> {
    Upload(&'a Upload),
    Update(&'a Update),
}

async fn execute(
    clients: &Clients,
    opts: &DeployOptions,
    plan: &Plan,
    locals: &[LocalObject],
    remote: &[RemoteObject],
    concurrency: usize,
    progress: &dyn Progress,
) -> Executed {
    let by_key: HashMap<&str, &LocalObject> =
        locals.iter().map(|l| (l.file.key.as_str(), l)).collect();
    let remote_size: HashMap<&str, u64> = remote
        .iter()
        .map(|r| (r.listed.key.as_str(), r.listed.size))
        .collect();
    let ctx = Ctx {
        s3: &clients.s3,
        bucket: &opts.bucket,
        semaphore: Semaphore::new(concurrency),
        concurrency,
        multipart_threshold: opts.multipart_threshold,
        part_size: opts.part_size,
        progress,
    };
    let operations = plan.uploads.len() + plan.updates.len() + plan.deletes.len();
    let bytes: u64 = plan.uploads.iter().map(|u| u.bytes).sum();
    progress.start(operations as u64, bytes);

    let ops = plan
        .uploads
        .iter()
        .map(Op::Upload)
        .chain(plan.updates.iter().map(Op::Update));
    let results: Vec<_> = stream::iter(ops)
        .map(|op| {
            let ctx = &ctx;
            let by_key = &by_key;
            let remote_size = &remote_size;
            async move {
                let result = match op {
                    Op::Upload(u) => match by_key.get(u.key.as_str()) {
                        Some(local) => ctx.upload(&local.file).await,
                        None => Err("internal: planned upload without a local file".to_owned()),
                    },
                    Op::Update(u) => match by_key.get(u.key.as_str()) {
                        // CopyObject stops at 5 GiB; above that the object is uploaded again.
                        Some(local)
                            if remote_size.get(u.key.as_str()).copied().unwrap_or(0)
                                > MAX_COPY_SIZE =>
                        {
                            ctx.upload(&local.file).await
                        }
                        Some(local) => ctx.update(local).await,
                        None => Err("internal: planned update without a local file".to_owned()),
                    },
                };
                ctx.progress.operation_done();
                (op, result)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;

    let mut out = Executed::default();
    for (op, result) in results {
        match (op, result) {
            (Op::Upload(u), Ok(meta)) => {
                out.stored.push((u.key.clone(), meta));
                out.uploaded.push(u.clone());
            }
            (Op::Update(u), Ok(meta)) => {
                out.stored.push((u.key.clone(), meta));
                out.updated.push(u.clone());
            }
            (Op::Upload(u), Err(message)) => out.errors.push(Failure {
                key: u.key.clone(),
                operation: "upload",
                message,
            }),
            (Op::Update(u), Err(message)) => out.errors.push(Failure {
                key: u.key.clone(),
                operation: "update",
                message,
            }),
        }
    }
    // Deletions last, so pages never link to objects that are already gone.
    for batch in plan.deletes.chunks(DELETE_BATCH) {
        let (deleted, failed) = delete_batch(&clients.s3, &opts.bucket, batch).await;
        for _ in 0..batch.len() {
            progress.operation_done();
        }
        out.deleted.extend(deleted);
        out.errors.extend(failed);
    }
    progress.finish();
    out.uploaded.sort_by(|a, b| a.key.cmp(&b.key));
    out.updated.sort_by(|a, b| a.key.cmp(&b.key));
    out.errors.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

struct Ctx<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    /// One permit per request in flight, across files and parts.
    semaphore: Semaphore,
    concurrency: usize,
    multipart_threshold: u64,
    part_size: u64,
    progress: &'a dyn Progress,
}

impl Ctx<'_> {
    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, String> {
        self.semaphore.acquire().await.map_err(|e| e.to_string())
    }

    /// Uploads one file; returns the metadata stored with it.
    async fn upload(&self, file: &LocalFile) -> Result<RemoteMeta, String> {
        let opened = file.clone();
        let body = Arc::new(
            blocking(move || Body::open(&opened))
                .await
                .map_err(|e| e.to_string())?
                .map_err(io_msg)?,
        );
        let size = body.size();
        if size <= self.multipart_threshold {
            let _permit = self.permit().await?;
            let reader = body.clone();
            let data = blocking(move || reader.read_range(0, size))
                .await
                .map_err(|e| e.to_string())?
                .map_err(io_msg)?;
            // Hash exactly the bytes sent, so the stored SHA-256 always describes the stored body.
            let digest = digest_bytes(&data, &[]);
            let h = &file.headers;
            with_headers!(self.s3.put_object(), h)
                .bucket(self.bucket)
                .key(&file.key)
                .body(ByteStream::from(data))
                .set_content_md5(digest.md5.map(|md5| BASE64.encode(md5)))
                .metadata(META_SHA256, digest.sha256_hex())
                .send()
                .await
                .map_err(|e| sdk_message(&e))?;
            self.progress.advance(size);
            return Ok(RemoteMeta {
                headers: h.clone(),
                sha256: Some(digest.sha256_hex()),
                part_size: None,
            });
        }
        self.upload_multipart(file, body, size).await
    }

    async fn upload_multipart(
        &self,
        file: &LocalFile,
        body: Arc<Body>,
        size: u64,
    ) -> Result<RemoteMeta, String> {
        let reader = body.clone();
        // Each part carries its own Content-MD5; the whole body needs only its SHA-256 (for the metadata).
        let digest = blocking(move || reader.hash(Hasher::sha256_only()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(io_msg)?;
        let h = &file.headers;
        // S3 allows at most 10,000 parts: grow the part size (to a whole MiB) for very large bodies.
        let part_size = if size.div_ceil(self.part_size) > MAX_PARTS {
            size.div_ceil(MAX_PARTS).div_ceil(1024 * 1024) * 1024 * 1024
        } else {
            self.part_size
        };
        let created = {
            let _permit = self.permit().await?;
            with_headers!(self.s3.create_multipart_upload(), h)
                .bucket(self.bucket)
                .key(&file.key)
                .metadata(META_SHA256, digest.sha256_hex())
                .metadata(META_PART_SIZE, part_size.to_string())
                .send()
                .await
                .map_err(|e| sdk_message(&e))?
        };
        let upload_id = created
            .upload_id()
            .ok_or("S3 returned no UploadId for CreateMultipartUpload")?
            .to_owned();
        let parts = size.div_ceil(part_size);
        let result: Result<(), String> = async {
            let mut completed: Vec<CompletedPart> = stream::iter(1..=parts)
                .map(|number| {
                    let body = body.clone();
                    let upload_id = upload_id.as_str();
                    async move {
                        let offset = (number - 1) * part_size;
                        let len = part_size.min(size - offset);
                        let _permit = self.permit().await?;
                        let data = blocking(move || body.read_range(offset, len))
                            .await
                            .map_err(|e| e.to_string())?
                            .map_err(io_msg)?;
                        let md5 = Md5::digest(&data);
                        let part_number = i32::try_from(number).map_err(|e| e.to_string())?;
                        let out = self
                            .s3
                            .upload_part()
                            .bucket(self.bucket)
                            .key(&file.key)
                            .upload_id(upload_id)
                            .part_number(part_number)
                            .content_md5(BASE64.encode(md5))
                            .body(ByteStream::from(data))
                            .send()
                            .await
                            .map_err(|e| sdk_message(&e))?;
                        self.progress.advance(len);
                        Ok::<_, String>(
                            CompletedPart::builder()
                                .part_number(part_number)
                                .set_e_tag(out.e_tag().map(str::to_owned))
                                .build(),
                        )
                    }
                })
                .buffer_unordered(self.concurrency)
                .try_collect()
                .await?;
            completed.sort_by_key(|p| p.part_number());
            let _permit = self.permit().await?;
            self.s3
                .complete_multipart_upload()
                .bucket(self.bucket)
                .key(&file.key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(completed))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| sdk_message(&e))?;
            Ok(())
        }
        .await;
        if let Err(message) = result {
            // Best effort: an upload left behind costs storage until a lifecycle rule aborts it.
            let _ = self
                .s3
                .abort_multipart_upload()
                .bucket(self.bucket)
                .key(&file.key)
                .upload_id(&upload_id)
                .send()
                .await;
            return Err(message);
        }
        Ok(RemoteMeta {
            headers: h.clone(),
            sha256: Some(digest.sha256_hex()),
            part_size: Some(part_size),
        })
    }

    /// Rewrites headers in place: a copy onto itself with the REPLACE metadata directive.
    async fn update(&self, local: &LocalObject) -> Result<RemoteMeta, String> {
        let h = &local.file.headers;
        // The planner only plans an update after comparing digests.
        let sha256 = local
            .digest
            .as_ref()
            .ok_or("internal: planned update without a digest")?
            .sha256_hex();
        let _permit = self.permit().await?;
        // REPLACE sends the whole set again: S3 keeps nothing of the old headers, not even the website
        // redirect (which it never copies).
        with_headers!(self.s3.copy_object(), h)
            .bucket(self.bucket)
            .key(&local.file.key)
            .copy_source(copy_source(self.bucket, &local.file.key))
            .metadata_directive(MetadataDirective::Replace)
            .metadata(META_SHA256, &sha256)
            .send()
            .await
            .map_err(|e| sdk_message(&e))?;
        Ok(RemoteMeta {
            headers: h.clone(),
            sha256: Some(sha256),
            part_size: None,
        })
    }
}

/// The stored size of `file` and, when a comparison with its object (`remote`: size, and whether its SHA-256 is
/// known) needs it, its digest: the SHA-256 alone when the object's is known, else MD5, SHA-256 and the multipart
/// ETags for `part_sizes`.
fn examine(
    file: &LocalFile,
    remote: Option<(u64, bool)>,
    part_sizes: &[u64],
) -> std::io::Result<(u64, Option<ContentDigest>)> {
    if !file.gzip {
        let size = std::fs::metadata(&file.path)?.len();
        if remote.is_none_or(|(remote, _)| remote != size) {
            return Ok((size, None));
        }
    }
    let body = Body::open(file)?;
    let hasher = match remote {
        Some((_, true)) => Hasher::sha256_only(),
        _ => Hasher::new(part_sizes),
    };
    let digest = body.hash(hasher)?;
    Ok((digest.size, Some(digest)))
}

/// SHA-256 digests of the files whose state entry records a SHA-256 for a body of the same size, computed while
/// the listing is still in flight. Only a guess about what is needed: the result is used for a key only if the
/// listing then confirms the entry (or a HEAD shows a SHA-256), and the comparison is by SHA-256 either way.
/// Files that cannot be read are left to `examine`, which reports them. Stops early when the listing failed.
async fn prehash(
    files: &[LocalFile],
    state: &State,
    hashers: usize,
    listing_failed: &AtomicBool,
) -> Result<HashMap<String, ContentDigest>, DeployError> {
    let candidates: Vec<(LocalFile, u64)> = files
        .iter()
        .filter_map(|file| {
            let entry = state.objects.get(&file.key)?;
            entry.meta.sha256.as_ref()?;
            Some((file.clone(), entry.size))
        })
        .collect();
    let hashed: Vec<Result<Option<(String, ContentDigest)>, DeployError>> =
        stream::iter(candidates)
            .take_while(|_| futures::future::ready(!listing_failed.load(Ordering::Relaxed)))
            .map(|(file, stored_size)| {
                blocking(move || {
                    if !file.gzip {
                        let size = std::fs::metadata(&file.path).ok()?.len();
                        if size != stored_size {
                            return None;
                        }
                    }
                    let digest = Body::open(&file)
                        .and_then(|body| body.hash(Hasher::sha256_only()))
                        .ok()?;
                    Some((file.key, digest))
                })
            })
            .buffer_unordered(hashers)
            .collect()
            .await;
    hashed.into_iter().filter_map(Result::transpose).collect()
}

async fn delete_batch(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    batch: &[plan::Delete],
) -> (Vec<plan::Delete>, Vec<Failure>) {
    let fail_all = |message: String| {
        batch
            .iter()
            .map(|d| Failure {
                key: d.key.clone(),
                operation: "delete",
                message: message.clone(),
            })
            .collect()
    };
    let objects: Result<Vec<ObjectIdentifier>, _> = batch
        .iter()
        .map(|d| ObjectIdentifier::builder().key(&d.key).build())
        .collect();
    let delete = objects.and_then(|objects| {
        aws_sdk_s3::types::Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
    });
    let delete = match delete {
        Ok(delete) => delete,
        Err(e) => return (Vec::new(), fail_all(e.to_string())),
    };
    match s3
        .delete_objects()
        .bucket(bucket)
        .delete(delete)
        .send()
        .await
    {
        Err(e) => (Vec::new(), fail_all(sdk_message(&e))),
        Ok(out) => {
            let failed: HashMap<&str, String> = out
                .errors()
                .iter()
                .filter_map(|e| {
                    Some((
                        e.key()?,
                        format!(
                            "{}: {}",
                            e.code().unwrap_or("Error"),
                            e.message().unwrap_or("")
                        ),
                    ))
                })
                .collect();
            let mut deleted = Vec::new();
            let mut errors = Vec::new();
            for d in batch {
                match failed.get(d.key.as_str()) {
                    Some(message) => errors.push(Failure {
                        key: d.key.clone(),
                        operation: "delete",
                        message: message.clone(),
                    }),
                    None => deleted.push(d.clone()),
                }
            }
            (deleted, errors)
        }
    }
}

async fn list(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<Listed>, DeployError> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            let hint = match e.code() {
                Some("NoSuchBucket") => format!(
                    ". Check --bucket and --region: bucket `{bucket}` does not exist there"
                ),
                Some("AccessDenied") => format!(
                    ". The credentials need s3:ListBucket on arn:aws:s3:::{bucket} (and s3:GetObject, s3:PutObject, \
                     s3:DeleteObject on arn:aws:s3:::{bucket}/*)"
                ),
                _ => String::new(),
            };
            DeployError::List {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
                message: sdk_message(&e),
                hint,
            }
        })?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            out.push(Listed {
                key: key.to_owned(),
                size: object
                    .size()
                    .and_then(|s| u64::try_from(s).ok())
                    .unwrap_or(0),
                etag: object.e_tag().unwrap_or("").trim_matches('"').to_owned(),
                last_modified: object
                    .last_modified()
                    .map(|t| format!("{}.{:09}", t.secs(), t.subsec_nanos()))
                    .unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

async fn head(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<RemoteMeta, String> {
    let out = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| sdk_message(&e))?;
    Ok(RemoteMeta::from_head(&out))
}

/// The state file, or an empty state when there is none; `Err` carries a warning for unreadable states.
async fn fetch_state(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<State, String> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .into_bytes();
            Ok(State::parse(&bytes))
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(State::default()),
        Err(e) => Err(format!(
            "could not read the deploy state s3://{bucket}/{key} ({}); comparing by HEAD instead",
            sdk_message(&e)
        )),
    }
}

async fn put_state(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    state: &State,
) -> Result<(), String> {
    let body = state.to_json();
    let md5 = Md5::digest(&body);
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .cache_control("no-store")
        .content_md5(BASE64.encode(md5))
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| sdk_message(&e))?;
    Ok(())
}

/// `CopySource` is `bucket/key` with the key URL-encoded (slashes kept).
fn copy_source(bucket: &str, key: &str) -> String {
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    format!("{bucket}/{}", utf8_percent_encode(key, KEEP))
}

pub(crate) fn sdk_message<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(error).to_string(),
    }
}

fn io_msg(error: std::io::Error) -> String {
    error.to_string()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DeployError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DeployError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_encodes_key_but_not_slashes() {
        assert_eq!(
            copy_source("b", "a dir/ü+x.html"),
            "b/a%20dir/%C3%BC%2Bx.html"
        );
        assert_eq!(copy_source("b", "a/b-c_d.e~f"), "b/a/b-c_d.e~f");
    }
}
