//! `keyless permissions infer`: the actions and resources each role of `keyless.yml` needs, derived from the steps
//! that run with it, each statement traceable to the line that needs it; and what keyless cannot derive, listed as
//! "unknown, record it" instead of guessed.
//!
//! A step maps to a role by, in order: `keyless assume --env X` / `--role-arn ARN` / `keyless deploy s3 --env X`
//! in the step (each command may name its own); then the step's `deployment:` (that environment's role); then, for
//! a step without a deployment, the repository's only extra role. Roles are shared by repositories, so a role's
//! needs are the union over them.
//!
//! What is derived (docs/permissions.md):
//! - `keyless deploy s3` exactly, from its flags ([`deploy_s3`], the table `deploy s3 --print-policy` prints);
//! - `cdk deploy`/`diff`/`destroy` (`sts:AssumeRole` on the four CDK bootstrap roles of the environment's account,
//!   region and qualifier) and `cdk synth`/`ls` (the lookup role only);
//! - Atlassian's `aws-s3-deploy` and `aws-cloudfront-invalidate` pipes, from their variables;
//! - AWS CLI commands (`aws <service> <command>` through the generated table of botocore's commands and the dataset's
//!   actions, `aws s3`'s high-level commands explicitly; resources from the arguments, else `"Resource": "*"` listed
//!   in [`Inference::narrow_by_hand`]);
//! - everything else that calls AWS (Terraform, SAM, Serverless, Pulumi, scripts, other pipes, values from variables
//!   the pipeline does not set, CLI commands the table lacks) is unknown.
//!
//! Pure: the caller reads the files (pipelines, `cdk.json`) and hands in their text.

use std::collections::HashMap;

use indexmap::IndexMap;
use keyless_pipelines::{PipelineFile, ScriptEntry, StepRef};
use serde::Serialize;
use serde_json::{Value, json};

use crate::model::{Config, Role};

pub mod deploy_s3;
pub mod output;

/// The default CDK bootstrap qualifier (`cdk bootstrap` without `--qualifier`).
pub const CDK_DEFAULT_QUALIFIER: &str = "hnb659fds";

/// One pipeline file to read.
#[derive(Clone, Debug)]
pub struct PipelineSource {
    /// The repository slug (a key of `repositories:`).
    pub repository: String,
    /// As the user named it (shown in `from`).
    pub path: String,
    pub text: String,
    /// `cdk.json`'s `context."@aws-cdk/core:bootstrapQualifier"` beside the pipeline, if set.
    pub cdk_qualifier: Option<String>,
}

/// Where a need comes from: the line of the pipeline that needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub repository: String,
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// The command or pipe as written.
    pub text: String,
    /// What keyless derived it from: `keyless deploy s3`, `cdk deploy`, ...
    pub source: String,
}

/// One IAM statement with the lines that need it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Need {
    /// The statement as IAM takes it (`Sid`, `Effect`, `Action`, `Resource`, `Condition`).
    pub statement: Value,
    pub from: Vec<Origin>,
}

/// A role's needs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoleNeeds {
    pub role: String,
    pub name: String,
    pub account: String,
    /// `environments.<name>` or `repositories.<repo>.extra_roles[i]`.
    pub defined_at: String,
    pub statements: Vec<Need>,
    /// Lines of this role's steps keyless could not derive (also in [`Inference::unknown`]).
    pub unknown: usize,
}

impl RoleNeeds {
    /// The statements as one policy document.
    pub fn document(&self) -> Value {
        let statements: Vec<&Value> = self.statements.iter().map(|n| &n.statement).collect();
        json!({"Version": "2012-10-17", "Statement": statements})
    }
}

/// A line keyless cannot derive: record it (`keyless assume --record`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnknownUse {
    pub repository: String,
    pub file: String,
    pub line: usize,
    pub text: String,
    /// The role it runs with, when known.
    pub role: Option<String>,
    pub reason: String,
    /// Always "unknown, record it".
    pub advice: &'static str,
}

/// An action a line needs on resources its arguments do not name: it is granted on `"Resource": "*"` in a statement
/// whose Sid starts with [`NARROW_BY_HAND_SID`]; scope it by hand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NarrowByHand {
    pub repository: String,
    pub file: String,
    pub line: usize,
    pub text: String,
    pub role: String,
    pub action: String,
    /// The ARN formats the action accepts (from the IAM action table).
    pub resource_arns: Vec<String>,
}

/// The result (`keyless permissions infer --format json`, version 1).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Inference {
    pub version: u32,
    pub roles: Vec<RoleNeeds>,
    pub unknown: Vec<UnknownUse>,
    /// Actions granted on `"Resource": "*"` that could be scoped to resources (listed, never silent).
    pub narrow_by_hand: Vec<NarrowByHand>,
}

/// The Sid prefix of statements granted on `"Resource": "*"` that a person should narrow.
pub const NARROW_BY_HAND_SID: &str = "AwsCliNarrowByHand";

const ADVICE: &str = "unknown, record it";

/// A role of keyless.yml a step can use.
#[derive(Clone, Debug)]
struct RoleRef<'c> {
    role: &'c Role,
    arn: String,
    account: String,
    region: String,
    defined_at: String,
    /// The environment name (for `--env`).
    environment: String,
}

fn roles(config: &Config) -> Vec<RoleRef<'_>> {
    let mut out = Vec::new();
    for env in config.environments.values() {
        out.push(RoleRef {
            role: &env.role,
            arn: env.role_arn(),
            account: env.account.clone(),
            region: env.region.clone(),
            defined_at: format!("environments.{}", env.name),
            environment: env.name.clone(),
        });
    }
    for repo in config.repositories.values() {
        for (index, extra) in repo.extra_roles.iter().enumerate() {
            let Some(env) = config.environments.get(&extra.environment) else {
                continue;
            };
            out.push(RoleRef {
                role: &extra.role,
                arn: extra.role.arn(&env.account),
                account: env.account.clone(),
                region: env.region.clone(),
                defined_at: format!("repositories.{}.extra_roles[{index}]", repo.slug),
                environment: env.name.clone(),
            });
        }
    }
    out
}

/// Why a pipeline could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The user's pipeline is not YAML keyless can read.
    #[error("{path}: not a pipeline keyless can read: {message}")]
    Pipeline { path: String, message: String },
    /// The user named a repository keyless.yml does not have.
    #[error("{path}: repository `{repository}` is not in keyless.yml (its repositories: {known})")]
    UnknownRepository {
        path: String,
        repository: String,
        known: String,
    },
}

/// Infers every role's needs from the pipelines.
pub fn infer(config: &Config, sources: &[PipelineSource]) -> Result<Inference, InferError> {
    let all_roles = roles(config);
    let mut needs: IndexMap<String, Vec<Need>> = IndexMap::new();
    let mut unknown_counts: HashMap<String, usize> = HashMap::new();
    let mut unknown = Vec::new();
    let mut narrow_by_hand = Vec::new();
    for source in sources {
        if !config.repositories.contains_key(&source.repository) {
            return Err(InferError::UnknownRepository {
                path: source.path.clone(),
                repository: source.repository.clone(),
                known: config
                    .repositories
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let file = keyless_pipelines::parse(&source.text).map_err(|e| InferError::Pipeline {
            path: source.path.clone(),
            message: e.to_string(),
        })?;
        let mut reader = StepReader {
            roles: &all_roles,
            source,
            file: &file,
            needs: &mut needs,
            unknown: &mut unknown,
            unknown_counts: &mut unknown_counts,
            narrow_by_hand: &mut narrow_by_hand,
        };
        for step in file.steps() {
            reader.step(&step);
        }
    }
    let mut out = Vec::new();
    for role in &all_roles {
        let statements = needs.shift_remove(&role.arn).unwrap_or_default();
        let count = unknown_counts.get(&role.arn).copied().unwrap_or(0);
        if statements.is_empty() && count == 0 {
            continue;
        }
        out.push(RoleNeeds {
            role: role.arn.clone(),
            name: role.role.name.clone(),
            account: role.account.clone(),
            defined_at: role.defined_at.clone(),
            statements: number_sids(statements),
            unknown: count,
        });
    }
    Ok(Inference {
        version: 1,
        roles: out,
        unknown,
        narrow_by_hand,
    })
}

/// Sids must be unique in a policy: the second `KeylessDeployS3List` (another bucket) becomes `KeylessDeployS3List2`.
fn number_sids(mut statements: Vec<Need>) -> Vec<Need> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for need in &mut statements {
        let Some(sid) = need
            .statement
            .get("Sid")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            continue;
        };
        let n = seen.entry(sid.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            need.statement["Sid"] = json!(format!("{sid}{n}"));
        }
    }
    statements
}

struct StepReader<'a, 'c> {
    roles: &'a [RoleRef<'c>],
    source: &'a PipelineSource,
    file: &'a PipelineFile,
    needs: &'a mut IndexMap<String, Vec<Need>>,
    unknown: &'a mut Vec<UnknownUse>,
    unknown_counts: &'a mut HashMap<String, usize>,
    narrow_by_hand: &'a mut Vec<NarrowByHand>,
}

/// One simple command of a script line: its words, and the variables set before it in the step.
struct Command {
    words: Vec<String>,
}

impl<'a, 'c> StepReader<'a, 'c> {
    fn line_of(&self, route: &keyless_pipelines::Route) -> usize {
        self.file
            .use_site_span(route)
            .or_else(|| self.file.nearest_span(route))
            .map_or(1, |s| s.start.line)
    }

    fn role_by_env(&self, name: &str) -> Option<&'a RoleRef<'c>> {
        self.roles
            .iter()
            .find(|r| r.environment == name && r.defined_at.starts_with("environments."))
    }

    fn role_by_arn(&self, arn: &str) -> Option<&'a RoleRef<'c>> {
        self.roles.iter().find(|r| r.arn == arn)
    }

    /// The step's role from `deployment:` or the repository's only extra role.
    fn step_role(&self, step: &StepRef<'_>) -> Result<&'a RoleRef<'c>, String> {
        match &step.effective.deployment {
            Some(deployment) => {
                let name = &deployment.value;
                self.role_by_env(name).ok_or_else(|| {
                    format!("the step deploys to `{name}`, which keyless.yml does not define")
                })
            }
            None => {
                let extras: Vec<&RoleRef<'c>> = self
                    .roles
                    .iter()
                    .filter(|r| {
                        r.defined_at.starts_with(&format!(
                            "repositories.{}.extra_roles",
                            self.source.repository
                        ))
                    })
                    .collect();
                match extras.as_slice() {
                    [only] => Ok(*only),
                    [] => Err("the step has no `deployment:` and no `keyless assume --env`/`--role-arn`, and the repository has no extra role".to_owned()),
                    _ => Err("the step has no `deployment:` and the repository has several extra roles: name one with `keyless assume --role-arn`".to_owned()),
                }
            }
        }
    }

    fn step(&mut self, step: &StepRef<'_>) {
        // Variables the step sets to literal values, in order (`export BUCKET=acme-site`).
        let mut variables: HashMap<String, String> = HashMap::new();
        let step_role = self.step_role(step);
        for entry in step.step.all_script() {
            let line = self.line_of(entry.route());
            match entry {
                ScriptEntry::Command { text, .. } => {
                    for command in split_commands(text) {
                        match command {
                            Ok(command) => self.command(
                                &command,
                                text,
                                line,
                                step_role.as_ref().ok().copied(),
                                step_role.as_ref().err(),
                                &mut variables,
                            ),
                            Err(why) => self.unknown(line, text, None, why),
                        }
                    }
                }
                ScriptEntry::Pipe(pipe) => {
                    self.pipe(pipe, line, step_role.as_ref().ok().copied(), &variables);
                }
                ScriptEntry::Invalid { .. } => {}
            }
        }
    }

    /// Atlassian's AWS pipes, from their variables: `atlassian/aws-s3-deploy` wraps `aws s3 sync LOCAL_PATH
    /// s3://S3_BUCKET` (`S3_BUCKET` may carry a key prefix; `DELETE_FLAG` adds `--delete`, `ACL` `--acl`);
    /// `atlassian/aws-cloudfront-invalidate` calls `CreateInvalidation` on `DISTRIBUTION_ID` (its `pipe.py`). Any
    /// other pipe whose name says AWS is unknown. `AWS_OIDC_ROLE_ARN` names the role when it is a literal ARN of
    /// keyless.yml.
    fn pipe(
        &mut self,
        pipe: &keyless_pipelines::Pipe,
        line: usize,
        step_role: Option<&'a RoleRef<'c>>,
        variables: &HashMap<String, String>,
    ) {
        let Some((name, _version)) = pipe.reference() else {
            return;
        };
        let name = name.to_owned();
        let text = format!("pipe: {}", pipe.pipe.as_deref().unwrap_or_default());
        let value = |key: &str| -> Option<String> {
            match pipe.variable(key)? {
                keyless_pipelines::PipeValue::String(v) => Some(v.expose().to_owned()),
                _ => None,
            }
        };
        if !matches!(
            name.as_str(),
            "atlassian/aws-s3-deploy" | "atlassian/aws-cloudfront-invalidate"
        ) {
            if name.contains("aws") {
                self.unknown(
                    line,
                    &text,
                    step_role.map(|r| r.arn.clone()),
                    format!("the pipe `{name}` calls AWS; keyless has no model of its calls"),
                );
            }
            return;
        }
        let role = match value(keyless_pipelines::pipes::ROLE_VARIABLE)
            .and_then(|v| expand(&v, variables))
        {
            Some(arn) => match self.role_by_arn(&arn) {
                Some(role) => Some(role),
                None => {
                    self.unknown(
                        line,
                        &text,
                        None,
                        format!("`AWS_OIDC_ROLE_ARN: {arn}` is not a role of keyless.yml"),
                    );
                    return;
                }
            },
            None => step_role,
        };
        let Some(role) = role else {
            self.unknown(
                line,
                &text,
                None,
                format!("the pipe `{name}` runs with no known role"),
            );
            return;
        };
        let mut unresolved = Vec::new();
        let mut get = |key: &str| -> Option<String> {
            let raw = value(key)?;
            match expand(&raw, variables) {
                Some(v) => Some(v),
                None => {
                    unresolved.push(format!("{key}: {raw}"));
                    None
                }
            }
        };
        let statements = if name == "atlassian/aws-s3-deploy" {
            let target = get("S3_BUCKET");
            let delete = get("DELETE_FLAG").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let acl = get("ACL").is_some();
            let extra = get("EXTRA_ARGS");
            if let Some(extra) = extra {
                self.unknown(
                    line,
                    &text,
                    Some(role.arn.clone()),
                    format!("`EXTRA_ARGS: {extra}` passes options to `aws s3 sync` that keyless does not read"),
                );
            }
            target.map(|target| {
                let (bucket, prefix) = match target.split_once('/') {
                    Some((b, p)) if !p.is_empty() => (b.to_owned(), format!("{}/", p.trim_end_matches('/'))),
                    _ => (target.trim_end_matches('/').to_owned(), String::new()),
                };
                let objects = format!("arn:aws:s3:::{bucket}/{prefix}*");
                let mut list = json!({
                    "Sid": "AtlassianS3DeployList",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": format!("arn:aws:s3:::{bucket}"),
                });
                if !prefix.is_empty() {
                    list["Condition"] = json!({"StringLike": {"s3:prefix": [format!("{prefix}*")]}});
                }
                let mut actions = vec!["s3:PutObject", "s3:AbortMultipartUpload"];
                if acl {
                    actions.push("s3:PutObjectAcl");
                }
                if delete {
                    actions.push("s3:DeleteObject");
                }
                vec![
                    list,
                    json!({"Sid": "AtlassianS3DeployObjects", "Effect": "Allow", "Action": actions, "Resource": objects}),
                ]
            })
        } else {
            get("DISTRIBUTION_ID").map(|id| {
                vec![json!({
                    "Sid": "AtlassianCloudFrontInvalidate",
                    "Effect": "Allow",
                    "Action": "cloudfront:CreateInvalidation",
                    "Resource": format!("arn:aws:cloudfront::{}:distribution/{id}", role.account),
                })]
            })
        };
        if !unresolved.is_empty() {
            self.unknown(
                line,
                &text,
                Some(role.arn.clone()),
                format!(
                    "the pipe takes {} from variables the pipeline does not set (repository or deployment variables?)",
                    unresolved.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
                ),
            );
            return;
        }
        let Some(statements) = statements else {
            self.unknown(
                line,
                &text,
                Some(role.arn.clone()),
                format!("the pipe `{name}` lacks its target variable"),
            );
            return;
        };
        let origin = self.origin(line, &text, &name);
        self.need(role, statements, origin);
    }

    /// The step's role for `what` (`\`aws\``, `\`cdk deploy\``, ...), or `None` after listing the line as unknown
    /// ("`what` runs with no known role: why").
    fn step_role_or_unknown(
        &mut self,
        step_role: Option<&'a RoleRef<'c>>,
        no_role: Option<&String>,
        line: usize,
        text: &str,
        what: &str,
    ) -> Option<&'a RoleRef<'c>> {
        if step_role.is_none() {
            let reason = no_role.cloned().unwrap_or_default();
            self.unknown(
                line,
                text,
                None,
                format!("{what} runs with no known role: {reason}"),
            );
        }
        step_role
    }

    fn unknown(&mut self, line: usize, text: &str, role: Option<String>, reason: String) {
        if let Some(role) = &role {
            *self.unknown_counts.entry(role.clone()).or_insert(0) += 1;
        }
        self.unknown.push(UnknownUse {
            repository: self.source.repository.clone(),
            file: self.source.path.clone(),
            line,
            text: text.trim().to_owned(),
            role,
            reason,
            advice: ADVICE,
        });
    }

    fn need(&mut self, role: &RoleRef<'c>, statements: Vec<Value>, origin: Origin) {
        let list = self.needs.entry(role.arn.clone()).or_default();
        for statement in statements {
            match list.iter_mut().find(|n| n.statement == statement) {
                Some(existing) => {
                    if !existing.from.contains(&origin) {
                        existing.from.push(origin.clone());
                    }
                }
                None => list.push(Need {
                    statement,
                    from: vec![origin.clone()],
                }),
            }
        }
    }

    fn origin(&self, line: usize, text: &str, source: &str) -> Origin {
        Origin {
            repository: self.source.repository.clone(),
            file: self.source.path.clone(),
            line,
            text: text.trim().to_owned(),
            source: source.to_owned(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn command(
        &mut self,
        command: &Command,
        text: &str,
        line: usize,
        step_role: Option<&'a RoleRef<'c>>,
        no_role: Option<&String>,
        variables: &mut HashMap<String, String>,
    ) {
        let mut words: &[String] = &command.words;
        // Leading assignments: `NAME=value cmd` sets them for the command; alone they set shell variables.
        while let Some((name, value)) = words.first().and_then(|w| assignment(w)) {
            if words.len() == 1 {
                variables.insert(name, value);
                return;
            }
            words = &words[1..];
        }
        let Some(program) = words.first() else { return };
        let program = program.rsplit('/').next().unwrap_or(program);
        match program {
            "export" => {
                for word in &words[1..] {
                    if let Some((name, value)) = assignment(word) {
                        variables.insert(name, value);
                    }
                }
            }
            "keyless" => self.keyless(&words[1..], text, line, step_role, no_role, variables),
            "npx" | "pnpx" => {
                let rest: Vec<String> = words[1..]
                    .iter()
                    .skip_while(|w| w.starts_with('-'))
                    .cloned()
                    .collect();
                self.command(&Command { words: rest }, text, line, step_role, no_role, variables);
            }
            "yarn" | "pnpm" if words.get(1).is_some_and(|w| w == "cdk" || w == "exec" || w == "dlx") => {
                let skip = if words[1] == "cdk" { 1 } else { 2 };
                self.command(
                    &Command {
                        words: words[skip..].to_vec(),
                    },
                    text,
                    line,
                    step_role,
                    no_role,
                    variables,
                );
            }
            "cdk" => self.cdk(&words[1..], text, line, step_role, no_role),
            "aws" => self.aws(&words[1..], text, line, step_role, no_role, variables),
            "terraform" | "terragrunt" | "tofu" | "sam" | "serverless" | "sls" | "pulumi" | "copilot"
            | "eb" | "cdktf" | "chalice" | "zappa" => self.unknown(
                line,
                text,
                step_role.map(|r| r.arn.clone()),
                format!("`{program}` calls AWS APIs that its command line does not name"),
            ),
            "bash" | "sh" | "zsh" | "python" | "python3" | "node" | "ruby" | "make" | "source" | "."
                if words.len() > 1 =>
            {
                self.unknown(
                    line,
                    text,
                    step_role.map(|r| r.arn.clone()),
                    format!("`{program} {}` runs a script or build whose AWS calls are not in the pipeline", words[1]),
                )
            }
            other if other.starts_with("./") || words[0].starts_with("./") || other.ends_with(".sh") => {
                self.unknown(
                    line,
                    text,
                    step_role.map(|r| r.arn.clone()),
                    format!("`{}` runs a script whose AWS calls are not in the pipeline", words[0]),
                )
            }
            _ => {}
        }
    }

    /// An AWS CLI line: the actions from the generated table (`keyless_iam::actions::cli`), on the resources its
    /// arguments name once the step's variables are resolved; `"Resource": "*"` listed as narrow by hand where they
    /// do not; unknown where a variable is not set in the step or the CLI command is not in the table.
    fn aws(
        &mut self,
        args: &[String],
        text: &str,
        line: usize,
        step_role: Option<&'a RoleRef<'c>>,
        no_role: Option<&String>,
        variables: &HashMap<String, String>,
    ) {
        let Some(role) = self.step_role_or_unknown(step_role, no_role, line, text, "`aws`") else {
            return;
        };
        // A word with a variable the step does not set keeps its `$`: the table refuses to use it. Bitbucket sets
        // `BITBUCKET_CLONE_DIR` to the clone's absolute path (docs: a local directory, never an `s3://` URL).
        let mut variables = variables.clone();
        variables
            .entry("BITBUCKET_CLONE_DIR".to_owned())
            .or_insert_with(|| "/opt/atlassian/pipelines/agent/build".to_owned());
        let words: Vec<String> = without_redirections(args)
            .iter()
            .map(|w| expand(w, &variables).unwrap_or_else(|| w.clone()))
            .collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|v| variables.get(*v))
            .cloned()
            .unwrap_or_else(|| role.region.clone());
        let context = keyless_iam::actions::cli::Context {
            account: &role.account,
            region: &region,
        };
        let call = match keyless_iam::actions::cli::command(&words, context) {
            Ok(call) => call,
            Err(e) => {
                self.unknown(line, text, Some(role.arn.clone()), format!("`aws`: {e}"));
                return;
            }
        };
        if call.needs.is_empty() {
            return;
        }
        let sid = format!("AwsCli{}{}", pascal(&call.service), pascal(&call.command));
        // One statement per resource (its actions together); the unscoped ones in one narrow-by-hand statement.
        let mut by_resource: IndexMap<(String, bool), Vec<String>> = IndexMap::new();
        for need in &call.needs {
            let actions = by_resource
                .entry((need.resource.clone(), need.narrow_by_hand))
                .or_default();
            if !actions.contains(&need.action) {
                actions.push(need.action.clone());
            }
            if need.narrow_by_hand {
                self.narrow_by_hand.push(NarrowByHand {
                    repository: self.source.repository.clone(),
                    file: self.source.path.clone(),
                    line,
                    text: text.trim().to_owned(),
                    role: role.arn.clone(),
                    action: need.action.clone(),
                    resource_arns: keyless_iam::actions::action(&need.action)
                        .map(|a| a.resource_arns().iter().map(|r| r.arn.to_owned()).collect())
                        .unwrap_or_default(),
                });
            }
        }
        let statements = by_resource
            .into_iter()
            .map(|((resource, narrow), mut actions)| {
                actions.sort();
                let action = match actions.as_slice() {
                    [one] => json!(one),
                    _ => json!(actions),
                };
                json!({
                    "Sid": if narrow { format!("{NARROW_BY_HAND_SID}{}", &sid["AwsCli".len()..]) } else { sid.clone() },
                    "Effect": "Allow",
                    "Action": action,
                    "Resource": resource,
                })
            })
            .collect();
        let source = format!("aws {} {}", call.service, call.command);
        let origin = self.origin(line, text, &source);
        self.need(role, statements, origin);
    }

    /// `keyless assume|deploy ...`.
    fn keyless(
        &mut self,
        args: &[String],
        text: &str,
        line: usize,
        step_role: Option<&'a RoleRef<'c>>,
        no_role: Option<&String>,
        variables: &mut HashMap<String, String>,
    ) {
        let Some(sub) = args.first() else { return };
        match sub.as_str() {
            "assume" => {
                let (flags, rest) = match args.iter().position(|a| a == "--") {
                    Some(i) => (&args[1..i], &args[i + 1..]),
                    None => (&args[1..], &[][..]),
                };
                let role = match self.named_role(flags, text, line, variables) {
                    Named::Role(role) => Some(role),
                    Named::None => step_role,
                    Named::Failed => return,
                };
                if !rest.is_empty() {
                    self.command(
                        &Command {
                            words: rest.to_vec(),
                        },
                        text,
                        line,
                        role,
                        no_role,
                        variables,
                    );
                }
            }
            "deploy" if args.get(1).is_some_and(|a| a == "s3") => {
                let flags = &args[2..];
                let role = match self.named_role(flags, text, line, variables) {
                    Named::Role(role) => role,
                    Named::None => match self.step_role_or_unknown(
                        step_role,
                        no_role,
                        line,
                        text,
                        "`keyless deploy s3`",
                    ) {
                        Some(role) => role,
                        None => return,
                    },
                    Named::Failed => return,
                };
                let get = |name: &str| flag_values(flags, name);
                let mut unresolved = Vec::new();
                let mut resolve = |value: &str| -> Option<String> {
                    match expand(value, variables) {
                        Some(v) => Some(v),
                        None => {
                            unresolved.push(value.to_owned());
                            None
                        }
                    }
                };
                let bucket = get("--bucket").first().and_then(|b| resolve(b));
                let prefix = get("--prefix")
                    .first()
                    .map_or(Some(String::new()), |p| resolve(p));
                let distributions: Vec<Option<String>> =
                    get("--invalidate").iter().map(|d| resolve(d)).collect();
                if !unresolved.is_empty() {
                    self.unknown(
                        line,
                        text,
                        Some(role.arn.clone()),
                        format!(
                            "`keyless deploy s3` takes {} from variables the pipeline does not set (repository or deployment variables?)",
                            unresolved.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
                        ),
                    );
                    return;
                }
                let Some(bucket) = bucket else {
                    self.unknown(
                        line,
                        text,
                        Some(role.arn.clone()),
                        "`keyless deploy s3` without --bucket".to_owned(),
                    );
                    return;
                };
                let mut request = deploy_s3::PolicyRequest::new(bucket);
                request.prefix = prefix.unwrap_or_default();
                request.delete = flags.iter().any(|f| f == "--delete");
                for id in distributions.into_iter().flatten() {
                    if !request.distributions.contains(&id) {
                        request.distributions.push(id);
                    }
                }
                request.account = Some(role.account.clone());
                let origin = self.origin(line, text, "keyless deploy s3");
                self.need(role, deploy_s3::statements(&request), origin);
            }
            _ => {}
        }
    }

    /// `--env X` / `--role-arn ARN` of a keyless command.
    fn named_role(
        &mut self,
        flags: &[String],
        text: &str,
        line: usize,
        variables: &HashMap<String, String>,
    ) -> Named<'a, 'c> {
        for flag in ["--env", "--role-arn"] {
            let Some(value) = flag_values(flags, flag).into_iter().next() else {
                continue;
            };
            let Some(value) = expand(&value, variables) else {
                self.unknown(
                    line,
                    text,
                    None,
                    format!("`{flag} {value}` comes from a variable the pipeline does not set"),
                );
                return Named::Failed;
            };
            let role = if flag == "--env" {
                self.role_by_env(&value)
            } else {
                self.role_by_arn(&value)
            };
            return match role {
                Some(role) => Named::Role(role),
                None => {
                    self.unknown(
                        line,
                        text,
                        None,
                        format!("`{flag} {value}`: keyless.yml has no such environment or role"),
                    );
                    Named::Failed
                }
            };
        }
        Named::None
    }

    fn cdk(
        &mut self,
        args: &[String],
        text: &str,
        line: usize,
        step_role: Option<&'a RoleRef<'c>>,
        no_role: Option<&String>,
    ) {
        let Some(sub) = args.iter().find(|a| !a.starts_with('-')) else {
            return;
        };
        let kinds: &[&str] = match sub.as_str() {
            "deploy" | "diff" | "destroy" | "import" | "watch" => {
                &["deploy", "file-publishing", "image-publishing", "lookup"]
            }
            "synth" | "synthesize" | "ls" | "list" => &["lookup"],
            _ => return,
        };
        let Some(role) =
            self.step_role_or_unknown(step_role, no_role, line, text, &format!("`cdk {sub}`"))
        else {
            return;
        };
        let qualifier = flag_values(args, "--qualifier")
            .first()
            .cloned()
            .or_else(|| self.source.cdk_qualifier.clone())
            .unwrap_or_else(|| CDK_DEFAULT_QUALIFIER.to_owned());
        let resources: Vec<String> = kinds
            .iter()
            .map(|kind| {
                format!(
                    "arn:aws:iam::{account}:role/cdk-{qualifier}-{kind}-role-{account}-{region}",
                    account = role.account,
                    region = role.region
                )
            })
            .collect();
        let statement = json!({
            "Sid": "KeylessCdkBootstrapRoles",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": resources,
        });
        let origin = self.origin(line, text, &format!("cdk {sub}"));
        self.need(role, vec![statement], origin);
    }
}

enum Named<'a, 'c> {
    Role(&'a RoleRef<'c>),
    None,
    Failed,
}

/// The words without shell redirections (`> file`, `2>/dev/null`, `2>&1`, `< in`), which are not arguments.
fn without_redirections(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        let operator = word.trim_start_matches(|c: char| c.is_ascii_digit() || c == '&');
        let rest = operator.trim_start_matches(['>', '<']);
        if rest.len() == operator.len() {
            out.push(word.clone());
        } else if rest.is_empty() {
            // `> file`: the target is the next word.
            iter.next();
        }
    }
    out
}

/// `create-invalidation` → `CreateInvalidation`, `s3api` → `S3api` (for Sids, which are alphanumeric).
fn pascal(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// `NAME=value` (a shell assignment word), with `value` literal.
fn assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    (!name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit()))
    .then(|| (name.to_owned(), value.to_owned()))
}

/// The values of `--name V` and `--name=V`.
fn flag_values(flags: &[String], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = flags.iter();
    while let Some(flag) = iter.next() {
        if flag == name {
            if let Some(value) = iter.next() {
                out.push(value.clone());
            }
        } else if let Some(value) = flag.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            out.push(value.to_owned());
        }
    }
    out
}

/// `$NAME` / `${NAME}` replaced from the step's own literal assignments; `None` when one is not set there.
fn expand(value: &str, variables: &HashMap<String, String>) -> Option<String> {
    if !value.contains('$') {
        return Some(value.to_owned());
    }
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}')?;
            (&inner[..end], &inner[end + 1..])
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        out.push_str(variables.get(name)?);
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

/// A script entry's simple commands (lines joined at `\`, split at `&&`, `||`, `;`, `|`), each as shell words.
fn split_commands(text: &str) -> Vec<Result<Command, String>> {
    let joined = text.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        for piece in split_operators(line) {
            match shlex::split(&piece) {
                Some(words) if !words.is_empty() => out.push(Ok(Command { words })),
                Some(_) => {}
                None => out.push(Err(format!(
                    "`{piece}` is not shell keyless can read (an unclosed quote?)"
                ))),
            }
        }
    }
    out
}

/// Splits a line at `&&`, `||`, `;` and `|` outside quotes.
fn split_operators(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, ';') => out.push(std::mem::take(&mut current)),
            (None, '&') if chars.peek() == Some(&'&') => {
                chars.next();
                out.push(std::mem::take(&mut current));
            }
            (None, '|') => {
                if chars.peek() == Some(&'|') {
                    chars.next();
                }
                out.push(std::mem::take(&mut current));
            }
            (None, c) => current.push(c),
        }
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The CDK qualifier a `cdk.json` sets (`context."@aws-cdk/core:bootstrapQualifier"`).
pub fn cdk_qualifier(cdk_json: &str) -> Option<String> {
    let value: Value = serde_json::from_str(cdk_json).ok()?;
    value
        .get("context")?
        .get("@aws-cdk/core:bootstrapQualifier")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn expands_step_variables_only() {
        let vars: HashMap<String, String> = [("BUCKET".to_owned(), "acme".to_owned())]
            .into_iter()
            .collect();
        assert_eq!(expand("$BUCKET", &vars).as_deref(), Some("acme"));
        assert_eq!(
            expand("s3://${BUCKET}/x", &vars).as_deref(),
            Some("s3://acme/x")
        );
        assert_eq!(expand("$OTHER", &vars), None);
    }

    #[test]
    fn drops_redirections() {
        let words: Vec<String> = [
            "s3",
            "cp",
            "a",
            "s3://b/k",
            ">",
            "log",
            "2>/dev/null",
            "2>&1",
            "<in",
        ]
        .iter()
        .map(|w| (*w).to_owned())
        .collect();
        assert_eq!(
            without_redirections(&words),
            vec!["s3", "cp", "a", "s3://b/k"]
        );
    }

    #[test]
    fn splits_operators_outside_quotes() {
        assert_eq!(
            split_operators("a && b 'c;d' | e; f"),
            vec!["a", "b 'c;d'", "e", "f"]
        );
    }

    #[test]
    fn reads_the_cdk_qualifier() {
        assert_eq!(
            cdk_qualifier(r#"{"app": "npx ts-node bin/app.ts", "context": {"@aws-cdk/core:bootstrapQualifier": "acme123"}}"#)
                .as_deref(),
            Some("acme123")
        );
        assert_eq!(cdk_qualifier(r#"{"app": "x"}"#), None);
    }
}
