//! The CloudFront side of a deploy: for each `--invalidate` distribution, the origin path that maps the bucket
//! (so keys become the URL paths visitors use), then one minimised invalidation per distribution, all at once,
//! and optionally waiting until each is `Completed`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudfront::error::{ProvideErrorMetadata, SdkError};

use crate::exec::sdk_message;
use crate::invalidation;
use crate::local::normalize_prefix;
use crate::report::{Failure, InvalidationReport};

/// A distribution to invalidate, with the key prefix its origin for the bucket maps to `/`.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub id: String,
    pub origin_prefix: String,
}

/// How to invalidate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub max_paths: usize,
    pub wait: bool,
    pub wait_timeout: Duration,
    pub wait_interval: Duration,
}

/// Reads each distribution's configuration (all at once) to find its origin for `bucket`. A distribution that
/// cannot be read, or has no such origin, is invalidated with keys as URL paths, with a warning.
pub(crate) async fn targets(
    cloudfront: &aws_sdk_cloudfront::Client,
    ids: &[String],
    bucket: &str,
    warnings: &mut Vec<String>,
) -> Vec<Target> {
    let found =
        futures::future::join_all(ids.iter().map(|id| origin_prefix(cloudfront, id, bucket))).await;
    ids.iter()
        .zip(found)
        .map(|(id, found)| {
            let origin_prefix = match found {
                Ok(Some(prefix)) => prefix,
                Ok(None) => {
                    warnings.push(format!(
                        "no origin of CloudFront distribution {id} points at bucket {bucket}; invalidating keys as URL \
                         paths"
                    ));
                    String::new()
                }
                Err(message) => {
                    warnings.push(format!(
                        "could not read CloudFront distribution {id} ({message}); invalidating keys as URL paths"
                    ));
                    String::new()
                }
            };
            Target {
                id: id.clone(),
                origin_prefix,
            }
        })
        .collect()
}

/// What a dry run would invalidate in each distribution.
pub(crate) fn planned<'a>(
    targets: &[Target],
    changed: impl Iterator<Item = &'a str> + Clone,
    max_paths: usize,
) -> Vec<InvalidationReport> {
    targets
        .iter()
        .map(|target| {
            let paths = invalidation::paths(changed.clone(), &target.origin_prefix, max_paths);
            InvalidationReport {
                distribution_id: target.id.clone(),
                id: None,
                status: if paths.is_empty() {
                    "skipped"
                } else {
                    "planned"
                }
                .to_owned(),
                paths,
            }
        })
        .collect()
}

/// Invalidates the changed keys in every distribution, all at once; reports in the order of `targets`.
pub(crate) async fn invalidate_all<'a>(
    cloudfront: &aws_sdk_cloudfront::Client,
    targets: &[Target],
    changed: impl Iterator<Item = &'a str> + Clone,
    settings: Settings,
) -> (Vec<InvalidationReport>, Vec<Failure>) {
    let runs = targets.iter().map(|target| {
        let paths = invalidation::paths(changed.clone(), &target.origin_prefix, settings.max_paths);
        invalidate(cloudfront, &target.id, paths, settings)
    });
    let mut reports = Vec::with_capacity(targets.len());
    let mut failures = Vec::new();
    for (report, failure) in futures::future::join_all(runs).await {
        reports.push(report);
        failures.extend(failure);
    }
    (reports, failures)
}

async fn invalidate(
    cloudfront: &aws_sdk_cloudfront::Client,
    id: &str,
    paths: Vec<String>,
    settings: Settings,
) -> (InvalidationReport, Option<Failure>) {
    let mut report = InvalidationReport {
        distribution_id: id.to_owned(),
        id: None,
        paths,
        status: "skipped".to_owned(),
    };
    if report.paths.is_empty() {
        return (report, None);
    }
    let fail = |message: String, mut report: InvalidationReport| {
        report.status = "failed".to_owned();
        let failure = Failure {
            key: id.to_owned(),
            operation: "invalidate",
            message,
        };
        (report, Some(failure))
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let batch = aws_sdk_cloudfront::types::Paths::builder()
        .quantity(i32::try_from(report.paths.len()).unwrap_or(i32::MAX))
        .set_items(Some(report.paths.clone()))
        .build()
        .and_then(|paths| {
            aws_sdk_cloudfront::types::InvalidationBatch::builder()
                .paths(paths)
                // Unique per distribution and run: two distributions invalidated in the same nanosecond must not
                // share a reference (CloudFront would take the second as a repeat of the first).
                .caller_reference(format!("keyless-{nanos}-{id}"))
                .build()
        });
    let batch = match batch {
        Ok(batch) => batch,
        Err(e) => return fail(e.to_string(), report),
    };
    let created = cloudfront
        .create_invalidation()
        .distribution_id(id)
        .invalidation_batch(batch)
        .send()
        .await;
    let invalidation = match created {
        Ok(out) => out.invalidation,
        Err(e) => return fail(cloudfront_message(&e, id), report),
    };
    let Some(invalidation) = invalidation else {
        return fail("CloudFront returned no invalidation".to_owned(), report);
    };
    report.id = Some(invalidation.id.clone());
    report.status = invalidation.status.clone();
    if !settings.wait {
        return (report, None);
    }
    let started = Instant::now();
    loop {
        // CloudFront documents `Completed`; some emulators answer `COMPLETED`.
        if report.status.eq_ignore_ascii_case("completed") {
            report.status = "Completed".to_owned();
            return (report, None);
        }
        if started.elapsed() >= settings.wait_timeout {
            let message = format!(
                "invalidation {} still {} after {}s; CloudFront goes on with it (check with `aws cloudfront \
                 get-invalidation --distribution-id {id} --id {}`)",
                invalidation.id,
                report.status,
                settings.wait_timeout.as_secs(),
                invalidation.id
            );
            let (mut report, failure) = fail(message, report);
            report.status = "InProgress".to_owned();
            return (report, failure);
        }
        tokio::time::sleep(settings.wait_interval).await;
        match cloudfront
            .get_invalidation()
            .distribution_id(id)
            .id(&invalidation.id)
            .send()
            .await
        {
            Ok(out) => {
                if let Some(inv) = out.invalidation {
                    report.status = inv.status;
                }
            }
            Err(e) => return fail(cloudfront_message(&e, id), report),
        }
    }
}

/// The key prefix that the distribution's origin for `bucket` maps to `/`, if an origin points at the bucket.
async fn origin_prefix(
    cloudfront: &aws_sdk_cloudfront::Client,
    id: &str,
    bucket: &str,
) -> Result<Option<String>, String> {
    let out = cloudfront
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .map_err(|e| cloudfront_message(&e, id))?;
    let origins = out
        .distribution_config()
        .and_then(|c| c.origins())
        .map(|o| o.items())
        .unwrap_or_default();
    let dotted = format!("{bucket}.");
    Ok(origins
        .iter()
        .find(|o| o.domain_name() == bucket || o.domain_name().starts_with(&dotted))
        .map(|o| normalize_prefix(o.origin_path().unwrap_or(""))))
}

fn cloudfront_message<E, R>(error: &SdkError<E, R>, id: &str) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = sdk_message(error);
    match error.code() {
        Some("NoSuchDistribution") => {
            format!("{message}. Check --invalidate: distribution {id} does not exist")
        }
        Some("AccessDenied") => format!(
            "{message}. The credentials need cloudfront:CreateInvalidation and cloudfront:GetInvalidation (and \
             cloudfront:GetDistributionConfig for origin paths) on distribution {id}"
        ),
        _ => message,
    }
}
