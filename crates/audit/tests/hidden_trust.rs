//! Broad trust hidden behind references: a CloudFormation template whose subject pattern is a parameter
//! default reached through `!Ref` and whose principal is `!GetAtt` of the provider; a SAM template (the shape
//! `sam pipeline bootstrap` writes for Bitbucket) whose trust policy is a JSON string under `Fn::Sub`, restricting
//! `sub` only with `ForAllValues:`. Each is caught, at the line of the source file where the value is written.
#![allow(clippy::unwrap_used)]

use keyless_audit::{AuditConfig, Auditor, Finding, Input, Options};

fn audit(path: &str, text: &str) -> Vec<Finding> {
    let input = Input::parse(path, text).unwrap();
    Auditor::new(AuditConfig::default(), Options::default())
        .audit(&[input])
        .findings
}

const CLOUDFORMATION: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Workspace: {Type: String, Default: acme}
  WorkspaceUuid: {Type: String, Default: 5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}
  SubjectPattern:
    Type: String
    Default: "*"
Resources:
  Provider:
    Type: AWS::IAM::OIDCProvider
    Properties:
      Url: !Sub https://api.bitbucket.org/2.0/workspaces/${Workspace}/pipelines-config/identity/oidc
      ClientIdList: [!Sub "ari:cloud:bitbucket::workspace/${WorkspaceUuid}"]
  DeployRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: bitbucket-deploy
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Federated: !GetAtt Provider.Arn
            Action: sts:AssumeRoleWithWebIdentity
            Condition:
              StringEquals:
                api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc:aud: !Sub "ari:cloud:bitbucket::workspace/${WorkspaceUuid}"
              StringLike:
                api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc:sub: !Ref SubjectPattern
"#;

#[test]
fn cloudformation_parameter_default_hides_every_repository() {
    let findings = audit("template.yaml", CLOUDFORMATION);
    let broad: Vec<&Finding> = findings.iter().filter(|f| f.rule == "broad-sub").collect();
    assert_eq!(broad.len(), 1, "{findings:#?}");
    assert!(
        broad[0].message.contains("every repository"),
        "{}",
        broad[0].message
    );
    // At the `!Ref SubjectPattern` the policy is written with.
    assert_eq!(broad[0].location.line, 29);
    // The provider resolves, and its client ID is the audience the role requires: nothing else to say.
    assert!(
        findings
            .iter()
            .all(|f| f.rule == "broad-sub" || f.severity < keyless_audit::Severity::Low),
        "{findings:#?}"
    );
}

const SAM: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  BitbucketWorkspace: {Type: String, Default: acme}
  BitbucketWorkspaceUuid: {Type: String, Default: 5c2b7f1e-8a4d-4c3b-9e21-0f6a7d3b9c11}
  BitbucketRepoUuid: {Type: String, Default: "{a3e1c9d2-4b7f-4e8a-9c61-2d5f8b0e7a13}"}
Resources:
  PipelineExecutionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Fn::Sub:
          - |
            {
              "Version": "2012-10-17",
              "Statement": [
                {
                  "Effect": "Allow",
                  "Principal": {"Federated": "arn:${AWS::Partition}:iam::${AWS::AccountId}:oidc-provider/api.bitbucket.org/2.0/workspaces/${Workspace}/pipelines-config/identity/oidc"},
                  "Action": "sts:AssumeRoleWithWebIdentity",
                  "Condition": {
                    "ForAllValues:StringEquals": {"api.bitbucket.org/2.0/workspaces/${Workspace}/pipelines-config/identity/oidc:aud": "ari:cloud:bitbucket::workspace/${WorkspaceUuid}"},
                    "ForAllValues:StringLike": {"api.bitbucket.org/2.0/workspaces/${Workspace}/pipelines-config/identity/oidc:sub": "${RepoUuid}:*"}
                  }
                }
              ]
            }
          - Workspace: !Ref BitbucketWorkspace
            WorkspaceUuid: !Ref BitbucketWorkspaceUuid
            RepoUuid: !Ref BitbucketRepoUuid
"#;

#[test]
fn sam_fn_sub_json_with_for_all_values_on_sub() {
    let findings = audit("template.yaml", SAM);
    let set: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == "set-operator-on-single-valued-key")
        .collect();
    // `ForAllValues:` on `aud` is right for an array audience; as the only `sub` restriction it is high.
    assert_eq!(set.len(), 1, "{findings:#?}");
    assert_eq!(set[0].severity, keyless_audit::Severity::High);
    // The line of the JSON string inside the template where the `sub` condition is written.
    assert_eq!(set[0].location.line, 23);
    assert!(
        !findings.iter().any(|f| f.rule == "unresolved-reference"),
        "every value resolves from defaults: {findings:#?}"
    );
}
