//! A whole AWS CLI command line (`aws [global options] <service> <command> [options]`) → the IAM actions it needs,
//! on the resources its arguments name.
//!
//! The command → operation → action chain is the generated table's ([`super::cli_command`]: botocore's command
//! names, waiters and the hand-mapped customisations) and `aws s3`'s high-level commands are [`super::s3`]'s. What
//! this module adds is the resources: for an action the dataset scopes to exactly one required resource type (or, with
//! none required, to one type the options fill), the type's ARN format (`arn:${Partition}:cloudfront::${Account}:distribution/${DistributionId}`) is filled from the
//! command's options, each `${Placeholder}` from the option botocore derives from the parameter of that name
//! (`--distribution-id`; `--bucket` for `${BucketName}`; a short hand-made list, [`PLACEHOLDER_OPTIONS`], for the
//! others such as S3's `${ObjectName}` ← `--key`), or the whole ARN when the
//! option holds one; `${Account}` and `${Region}` from the caller (the role's account; `--region` wins over the
//! caller's region). A resource that cannot be filled that way is `*` and marked [`Need::narrow_by_hand`]: never
//! guessed.
//!
//! Words still holding a `$` are variables the caller could not resolve: a command, service, path or resource value
//! that needs one is [`Error::Unresolved`], not a guess.

use std::fmt;

use super::{Needs, action, cli_command, option_arity, s3};

/// Where the command runs: the account and region of the role it runs with.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub account: &'a str,
    /// The region the CLI signs for unless `--region` says otherwise.
    pub region: &'a str,
}

/// One IAM action the command needs, on one resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Need {
    /// E.g. `cloudfront:CreateInvalidation`.
    pub action: String,
    /// The ARN, or `*` (exact for an action without resource-level permissions, else narrow by hand).
    pub resource: String,
    /// `*` on an action that could be scoped to resources: the command's arguments do not name them.
    pub narrow_by_hand: bool,
    /// The operation or the CLI's own steps that need it, e.g. `CreateInvalidation`.
    pub reason: String,
}

/// A command line and what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The service as the CLI spells it (`s3api`, `s3`, `cloudfront`); empty for a command that calls no service.
    pub service: String,
    /// The command (`create-invalidation`, `wait bucket-exists`, `sync`).
    pub command: String,
    /// Empty when the command makes no AWS call (`aws --version`, `aws configure set`).
    pub needs: Vec<Need>,
}

/// Why a command line's needs cannot be derived: the caller lists it as unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A word the command needs holds a variable the caller could not resolve.
    Unresolved(String),
    /// An option before the service that the pinned CLI does not have.
    UnknownOption(String),
    /// Not a service of the pinned AWS CLI.
    UnknownService(String),
    /// Not a command of the service in the pinned AWS CLI.
    UnknownCommand { service: String, command: String },
    /// The table has no IAM action for the command's operation.
    UnknownAction { service: String, command: String },
    /// `aws s3 …` that keyless cannot read.
    S3(s3::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unresolved(word) => write!(
                f,
                "`{word}` comes from a variable the pipeline does not set (repository or deployment variables?)"
            ),
            Error::UnknownOption(option) => write!(
                f,
                "`{option}` is not a global option of the pinned AWS CLI, so keyless cannot find the service after it"
            ),
            Error::UnknownService(service) => {
                write!(f, "`{service}` is not a service of the pinned AWS CLI")
            }
            Error::UnknownCommand { service, command } => write!(
                f,
                "`{command}` is not a command of `aws {service}` in the pinned AWS CLI"
            ),
            Error::UnknownAction { service, command } => write!(
                f,
                "the IAM action table has no action for `aws {service} {command}`"
            ),
            Error::S3(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<s3::Error> for Error {
    fn from(e: s3::Error) -> Self {
        Error::S3(e)
    }
}

fn unresolved(word: &str) -> bool {
    word.contains('$')
}

/// The value of `--name V` / `--name=V` among `words`.
fn option<'a>(words: &[&'a str], name: &str) -> Option<&'a str> {
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        if *word == name {
            return iter.next().copied();
        }
        if let Some(value) = word.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(value);
        }
    }
    None
}

/// What `aws <words…>` needs (`words` are the arguments after `aws`, shell-split, variables resolved where they can
/// be).
pub fn command(words: &[&str], context: Context<'_>) -> Result<Call, Error> {
    // Global options before the service.
    let mut i = 0;
    while i < words.len() && words[i].starts_with("--") {
        let (name, inline) = match words[i].split_once('=') {
            Some((name, _)) => (name, true),
            None => (words[i], false),
        };
        let arity = option_arity(name).ok_or_else(|| Error::UnknownOption(name.to_string()))?;
        i += 1;
        if !inline {
            i += match arity {
                "0" => 0,
                _ => 1,
            };
        }
    }
    let none = |service: &str, command: &str| Call {
        service: service.to_string(),
        command: command.to_string(),
        needs: Vec::new(),
    };
    let Some(&service) = words.get(i) else {
        // `aws --version`: no call.
        return Ok(none("", ""));
    };
    if unresolved(service) {
        return Err(Error::Unresolved(service.to_string()));
    }
    let rest = &words[i + 1..];
    let region = option(words, "--region").unwrap_or(context.region);
    if unresolved(region) {
        return Err(Error::Unresolved(region.to_string()));
    }
    let first = rest.first().copied().unwrap_or_default();
    if unresolved(first) {
        return Err(Error::Unresolved(first.to_string()));
    }
    match service {
        // Local commands: they read and write ~/.aws, they call no service (`configure sso` does: not read here).
        "configure" if first != "sso" && first != "sso-session" => return Ok(none(service, first)),
        "help" => return Ok(none(service, first)),
        "s3" => {
            if let Some(path) = s3::paths(rest)?.into_iter().find(|p| unresolved(p)) {
                return Err(Error::Unresolved(path.to_string()));
            }
            let needs = s3::command(rest)?
                .into_iter()
                .map(|n| Need {
                    action: n.action.to_string(),
                    resource: n.resource,
                    narrow_by_hand: false,
                    reason: n.reason.to_string(),
                })
                .collect();
            return Ok(Call {
                service: service.to_string(),
                command: first.to_string(),
                needs,
            });
        }
        _ => {}
    }
    if super::service(service).is_none_or(|s| s.cli_name != service) {
        return Err(Error::UnknownService(service.to_string()));
    }
    let words_after: Vec<&str> = rest.to_vec();
    let found =
        cli_command(service, &words_after.join(" ")).ok_or_else(|| Error::UnknownCommand {
            service: service.to_string(),
            command: words_after
                .iter()
                .take(if first == "wait" { 2 } else { 1 })
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
        })?;
    let Needs::Actions(actions) = &found.needs else {
        return Err(Error::UnknownAction {
            service: service.to_string(),
            command: found.command,
        });
    };
    let reason = found.operation.map_or_else(
        || format!("aws {service} {}", found.command),
        str::to_string,
    );
    // Several actions for one call (CopyObject reads one object and writes another) do not share one resource:
    // only a single action is scoped from the options.
    let scoped = actions.len() == 1;
    let mut needs = Vec::new();
    for name in actions {
        let known = action(name);
        let has_resources = known.is_some_and(|a| a.has_resource_level_permissions());
        let resource = if scoped && has_resources {
            resource_of(name, rest, context.account, region)?
        } else {
            None
        };
        needs.push(Need {
            action: known.map_or_else(|| name.clone(), |a| a.to_string()),
            narrow_by_hand: has_resources && resource.is_none(),
            resource: resource.unwrap_or_else(|| "*".to_string()),
            reason: reason.clone(),
        });
    }
    needs.sort();
    needs.dedup();
    Ok(Call {
        service: service.to_string(),
        command: found.command,
        needs,
    })
}

/// `DistributionId` → `distribution-id` (botocore's `xform_name` for the simple CamelCase names ARN placeholders use).
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// ARN placeholders whose value an option of another name holds, by hand: (IAM prefix, placeholder, option). S3's
/// `${ObjectName}` is the `Key` parameter; SSM's `${ParameterNameWithoutLeadingSlash}` is `Name` without its `/`.
const PLACEHOLDER_OPTIONS: &[(&str, &str, &str)] = &[
    ("s3", "ObjectName", "--key"),
    ("ssm", "ParameterNameWithoutLeadingSlash", "--name"),
];

/// The options a `${Placeholder}` of an ARN format can come from, most specific first.
fn options_for(service: &str, placeholder: &str) -> Vec<String> {
    let mut out = vec![format!("--{}", kebab(placeholder))];
    for (prefix, name, option) in PLACEHOLDER_OPTIONS {
        if *prefix == service && *name == placeholder {
            out.push((*option).to_string());
        }
    }
    if let Some(base) = placeholder.strip_suffix("Name")
        && !base.is_empty()
    {
        out.push(format!("--{}", kebab(base)));
    }
    out
}

/// The ARN of the resource `name` acts on, filled from the command's options: its one required resource type, or,
/// when the dataset marks none required (S3 lists `object` and `accesspointobject` as alternatives), the one type
/// whose placeholders the options fill. `None` when that does not single out one ARN.
fn resource_of(
    name: &str,
    words: &[&str],
    account: &str,
    region: &str,
) -> Result<Option<String>, Error> {
    let Some(action) = action(name) else {
        return Ok(None);
    };
    let types = action.resource_types();
    let required: Vec<_> = types.iter().filter(|r| r.required).collect();
    let candidates: Vec<_> = match required.as_slice() {
        [only] => vec![*only],
        [] => types.iter().collect(),
        _ => return Ok(None),
    };
    let mut filled = Vec::new();
    for candidate in candidates {
        let Some(resource_type) = super::resource_type(action.service, candidate.name) else {
            continue;
        };
        if let Some(arn) = fill(resource_type.arn, action.service, words, account, region)? {
            filled.push(arn);
        }
    }
    Ok(match filled.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    })
}

/// An ARN format with its placeholders filled from the options; `None` when an option is missing.
fn fill(
    format: &str,
    service: &str,
    words: &[&str],
    account: &str,
    region: &str,
) -> Result<Option<String>, Error> {
    let placeholders: Vec<&str> = format
        .split("${")
        .skip(1)
        .filter_map(|p| p.split_once('}').map(|(name, _)| name))
        .filter(|p| !matches!(*p, "Partition" | "Region" | "Account"))
        .collect();
    let mut arn = format
        .replace("${Partition}", "aws")
        .replace("${Region}", region)
        .replace("${Account}", account);
    for placeholder in &placeholders {
        let value = options_for(service, placeholder)
            .iter()
            .find_map(|o| option(words, o));
        let Some(value) = value else {
            return Ok(None);
        };
        if unresolved(value) {
            return Err(Error::Unresolved(value.to_string()));
        }
        // An option holding the whole ARN (`--function-name arn:aws:lambda:…:function:app`) when it has the type's
        // shape.
        if value.starts_with("arn:") {
            let mut pattern = format.to_string();
            for p in ["Partition", "Region", "Account"]
                .iter()
                .chain(&placeholders)
            {
                pattern = pattern.replace(&format!("${{{p}}}"), "*");
            }
            return Ok(
                (placeholders.len() == 1 && crate::resource_matches(&pattern, value))
                    .then(|| value.to_string()),
            );
        }
        let value = if placeholder.ends_with("WithoutLeadingSlash") {
            value.strip_prefix('/').unwrap_or(value)
        } else {
            value
        };
        arn = arn.replace(&format!("${{{placeholder}}}"), value);
    }
    Ok(Some(arn))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const CONTEXT: Context<'static> = Context {
        account: "111111111111",
        region: "eu-west-1",
    };

    fn needs(line: &str) -> Vec<(String, String, bool)> {
        let words: Vec<&str> = line.split_whitespace().collect();
        command(&words, CONTEXT)
            .unwrap()
            .needs
            .into_iter()
            .map(|n| (n.action, n.resource, n.narrow_by_hand))
            .collect()
    }

    fn one(action: &str, resource: &str) -> Vec<(String, String, bool)> {
        vec![(action.to_string(), resource.to_string(), false)]
    }

    #[test]
    fn service_commands_are_scoped_from_their_options() {
        assert_eq!(
            needs("cloudfront create-invalidation --distribution-id E2PROD --paths /*"),
            one(
                "cloudfront:CreateInvalidation",
                "arn:aws:cloudfront::111111111111:distribution/E2PROD"
            )
        );
        // The action is not the operation's name: HeadObject is s3:GetObject, ListObjectsV2 s3:ListBucket.
        assert_eq!(
            needs("s3api head-object --bucket acme --key site/index.html"),
            one("s3:GetObject", "arn:aws:s3:::acme/site/index.html")
        );
        assert_eq!(
            needs("--region us-east-1 s3api list-objects-v2 --bucket=acme --prefix site/"),
            one("s3:ListBucket", "arn:aws:s3:::acme")
        );
        // `--region` anywhere wins over the role's region.
        assert_eq!(
            needs(
                "lambda update-function-code --function-name app --zip-file fileb://app.zip --region us-east-2"
            ),
            one(
                "lambda:UpdateFunctionCode",
                "arn:aws:lambda:us-east-2:111111111111:function:app"
            )
        );
        assert_eq!(
            needs("ecs update-service --cluster prod --service web --force-new-deployment"),
            one(
                "ecs:UpdateService",
                "arn:aws:ecs:eu-west-1:111111111111:service/prod/web"
            )
        );
        assert_eq!(
            needs("ssm get-parameter --name /acme/api-url --with-decryption"),
            one(
                "ssm:GetParameter",
                "arn:aws:ssm:eu-west-1:111111111111:parameter/acme/api-url"
            )
        );
        // An option holding the ARN.
        assert_eq!(
            needs(
                "lambda invoke --function-name arn:aws:lambda:eu-west-1:111111111111:function:job out.json"
            ),
            one(
                "lambda:InvokeFunction",
                "arn:aws:lambda:eu-west-1:111111111111:function:job"
            )
        );
    }

    #[test]
    fn unscoped_actions_are_exact_or_narrow_by_hand() {
        // No resource-level permissions: `*` is exact.
        assert_eq!(
            needs("ecr get-login-password --region eu-west-1"),
            one("ecr:GetAuthorizationToken", "*")
        );
        assert_eq!(
            needs("sts get-caller-identity"),
            one("sts:GetCallerIdentity", "*")
        );
        // The options do not name the resource (`--cli-input-json`): `*`, narrow by hand.
        assert_eq!(
            needs("cloudfront create-invalidation --cli-input-json file://inv.json"),
            vec![(
                "cloudfront:CreateInvalidation".to_string(),
                "*".to_string(),
                true
            )]
        );
        // Two actions of one call are not scoped from one set of options.
        let copy = needs("s3api copy-object --bucket dst --key k --copy-source src/k");
        assert!(
            copy.iter().all(|(_, r, narrow)| r == "*" && *narrow),
            "{copy:?}"
        );
        assert_eq!(copy.len(), 2);
    }

    #[test]
    fn waiters_customisations_s3_and_local_commands() {
        assert_eq!(
            needs("cloudfront wait invalidation-completed --distribution-id E2 --id I1"),
            one(
                "cloudfront:GetInvalidation",
                "arn:aws:cloudfront::111111111111:distribution/E2"
            )
        );
        assert_eq!(
            needs("s3 sync dist s3://site/www/ --delete"),
            vec![
                (
                    "s3:DeleteObject".to_string(),
                    "arn:aws:s3:::site/www/*".to_string(),
                    false
                ),
                (
                    "s3:ListBucket".to_string(),
                    "arn:aws:s3:::site".to_string(),
                    false
                ),
                (
                    "s3:PutObject".to_string(),
                    "arn:aws:s3:::site/www/*".to_string(),
                    false
                ),
            ]
        );
        assert!(needs("--version").is_empty());
        assert!(needs("configure set region eu-west-1").is_empty());
    }

    #[test]
    fn what_cannot_be_known_is_an_error() {
        let err = |line: &str| {
            let words: Vec<&str> = line.split_whitespace().collect();
            command(&words, CONTEXT).unwrap_err()
        };
        assert_eq!(
            err("s3 sync dist s3://$BUCKET/"),
            Error::Unresolved("s3://$BUCKET/".into())
        );
        // Even a local-looking path: the variable may hold an s3:// URL.
        assert_eq!(err("s3 cp $SRC s3://b/k"), Error::Unresolved("$SRC".into()));
        assert_eq!(
            err("cloudfront create-invalidation --distribution-id $DIST --paths /*"),
            Error::Unresolved("$DIST".into())
        );
        assert_eq!(
            err("s3api get-object --bucket b --key k --region $REGION out"),
            Error::Unresolved("$REGION".into())
        );
        assert_eq!(err("nosuch thing"), Error::UnknownService("nosuch".into()));
        assert_eq!(
            err("s3api no-such-command --bucket b"),
            Error::UnknownCommand {
                service: "s3api".into(),
                command: "no-such-command".into()
            }
        );
        assert_eq!(
            err("--no-such-global s3api list-buckets"),
            Error::UnknownOption("--no-such-global".into())
        );
        assert!(matches!(err("s3 cp only-one"), Error::S3(_)));
    }
}
