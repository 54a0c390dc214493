//! The IAM permissions `keyless deploy s3` needs for one set of flags: exactly the calls `keyless_deploy::exec`
//! makes, scoped to the bucket, the prefix and the distributions. `keyless deploy s3 --print-policy` prints it
//! (`keyless_deploy::policy` re-exports this module) and `keyless permissions infer` derives the same statements
//! from a pipeline step. Here, in the pure model crate, so that inference needs no AWS SDK.
//!
//! | call | action | when |
//! |---|---|---|
//! | ListObjectsV2 | `s3:ListBucket` (on the bucket; `s3:prefix` when `--prefix`) | always |
//! | HeadObject, GetObject (the state file), CopyObject's source | `s3:GetObject` | always |
//! | PutObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload, CopyObject | `s3:PutObject` | always |
//! | AbortMultipartUpload | `s3:AbortMultipartUpload` | always (a failed multipart upload is aborted) |
//! | DeleteObjects | `s3:DeleteObject` | `--delete` |
//! | GetDistributionConfig, CreateInvalidation, GetInvalidation | `cloudfront:GetDistributionConfig`, `cloudfront:CreateInvalidation`, `cloudfront:GetInvalidation` | `--invalidate` |
//!
//! S3's action for each operation is from the Amazon S3 User Guide's "Required permissions for Amazon S3 API
//! operations"; CloudFront's from the Service Authorization Reference (CloudFront's distribution resource type).

use serde_json::{Value, json};

/// What the permissions depend on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyRequest {
    pub bucket: String,
    /// The key prefix (`--prefix`), empty for the whole bucket.
    pub prefix: String,
    /// `--delete`.
    pub delete: bool,
    /// `--invalidate` distribution IDs.
    pub distributions: Vec<String>,
    /// The account that owns the distributions; `None` writes `*` in the ARN's account field.
    pub account: Option<String>,
    /// The AWS partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
}

impl PolicyRequest {
    pub fn new(bucket: impl Into<String>) -> Self {
        PolicyRequest {
            bucket: bucket.into(),
            partition: "aws".to_owned(),
            ..PolicyRequest::default()
        }
    }
}

/// The statements, each with a `Sid` naming what it is for.
pub fn statements(request: &PolicyRequest) -> Vec<Value> {
    let partition = &request.partition;
    let bucket = &request.bucket;
    let objects = format!("arn:{partition}:s3:::{bucket}/{}*", request.prefix);
    let mut list = json!({
        "Sid": "KeylessDeployS3List",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": format!("arn:{partition}:s3:::{bucket}"),
    });
    if !request.prefix.is_empty() {
        list["Condition"] = json!({"StringLike": {"s3:prefix": [format!("{}*", request.prefix)]}});
    }
    let mut object_actions = vec!["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"];
    if request.delete {
        object_actions.push("s3:DeleteObject");
    }
    let mut out = vec![
        list,
        json!({
            "Sid": "KeylessDeployS3Objects",
            "Effect": "Allow",
            "Action": object_actions,
            "Resource": objects,
        }),
    ];
    if !request.distributions.is_empty() {
        let account = request.account.as_deref().unwrap_or("*");
        let resources: Vec<String> = request
            .distributions
            .iter()
            .map(|id| format!("arn:{partition}:cloudfront::{account}:distribution/{id}"))
            .collect();
        out.push(json!({
            "Sid": "KeylessDeployCloudFrontInvalidate",
            "Effect": "Allow",
            "Action": [
                "cloudfront:GetDistributionConfig",
                "cloudfront:CreateInvalidation",
                "cloudfront:GetInvalidation"
            ],
            "Resource": if resources.len() == 1 { json!(resources[0]) } else { json!(resources) },
        }));
    }
    out
}

/// The identity policy document.
pub fn document(request: &PolicyRequest) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements(request)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_to_bucket_prefix_and_distribution() {
        let mut request = PolicyRequest::new("acme-site");
        request.prefix = "app/".to_owned();
        request.delete = true;
        request.distributions = vec!["E2QWRUHAPOMQZL".to_owned()];
        request.account = Some("222222222222".to_owned());
        let doc = document(&request);
        let text = doc.to_string();
        assert!(text.contains("\"arn:aws:s3:::acme-site\""));
        assert!(text.contains("\"arn:aws:s3:::acme-site/app/*\""));
        assert!(text.contains("\"s3:prefix\":[\"app/*\"]"));
        assert!(text.contains("s3:DeleteObject"));
        assert!(text.contains("arn:aws:cloudfront::222222222222:distribution/E2QWRUHAPOMQZL"));
        let plain = document(&PolicyRequest::new("acme-site")).to_string();
        assert!(!plain.contains("s3:DeleteObject"));
        assert!(!plain.contains("cloudfront"));
        assert!(!plain.contains("Condition"));
    }
}
