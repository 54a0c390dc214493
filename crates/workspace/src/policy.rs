//! The `policy:` section of `keyless.yml`: the pipeline policy that `keyless render` / `keyless serve`
//! (crate `keyless-enforce`) apply. This module owns its shape (the as-written [`RawPolicy`], part of the JSON
//! Schema) and its validation (every mistake with line, column and fix); enforce only interprets the validated
//! [`Policy`]. See `docs/enforce.md`.

use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::diagnostic::Diagnostic;
use crate::location::{Location, Spanned};

/// The pipeline policy `keyless render` and `keyless serve` enforce, on top of what `environments:` already
/// says (branches, runners, approval, source IPs). See docs/enforce.md.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// How the OIDC setup is prepended to deployment steps: `shell` (region, role ARN and the token file; no
    /// keyless binary needed in the image) or `keyless` (`keyless configure --env <E>`). Default `shell`.
    #[serde(default)]
    pub setup: Option<Spanned<SetupForm>>,
    /// Which environments are production. Default: `[production]` when such an environment exists.
    #[serde(default)]
    pub production_environments: Option<Vec<Spanned<String>>>,
    /// Runner labels only production deployment steps may use. Default: the non-generic runner labels
    /// (not `self.hosted`, `linux`, ...) of the production environments.
    #[serde(default)]
    pub production_labels: Option<Vec<Spanned<String>>>,
    /// Scripts, pipes and images that are refused, each with the message users see.
    #[serde(default)]
    pub forbidden: Option<RawForbidden>,
    /// Steps put at the start of every pipeline (e.g. a security scan), never twice.
    #[serde(default)]
    pub prepend: Vec<RawPrependStep>,
    /// Give cloud-runner steps of environments with `source_ips` Atlassian's IP ranges
    /// (`runtime.cloud.atlassian-ip-ranges: true`). Default `true`.
    #[serde(default)]
    pub atlassian_ip_ranges: Option<Spanned<bool>>,
    /// The step size set with Atlassian IP ranges when a step's size does not support them: `4x` or `8x`.
    /// Default `4x`.
    #[serde(default)]
    #[schemars(regex(pattern = r"^(4x|8x)$"))]
    pub atlassian_ip_size: Option<Spanned<String>>,
    /// `enforce` (default) applies the policy; `report` answers every request with its configuration unchanged
    /// and records every change and refusal the policy would have made (`--explain`, logs, metrics), so a
    /// workspace can run the provider before enforcing it.
    #[serde(default)]
    pub mode: Option<Spanned<PolicyMode>>,
    /// What to do with a key Bitbucket's schema does not know: `warn` (default: pass it through and report it),
    /// `refuse`, or `pass` (silently). Under `warn`, an unknown key inside a deployment step or stage, or inside
    /// a step's `runtime` or `runs-on`, is refused anyway: it could change where the step runs.
    #[serde(default)]
    pub unknown_keys: Option<Spanned<UnknownKeys>>,
    /// What to do with static AWS key variables (`AWS_ACCESS_KEY_ID`, ...) in a deployment step's AWS pipe that
    /// keyless gives the environment's role: `refuse` (default) or `remove`.
    #[serde(default)]
    pub pipe_static_keys: Option<Spanned<PipeStaticKeys>>,
    /// Environments that runs without a branch (a commit target, a tag, a custom run on a commit or tag) may
    /// deploy to, besides those whose `branches` include `**`. Default: none.
    #[serde(default)]
    pub branchless_environments: Option<Vec<Spanned<String>>>,
}

/// Refused constructs.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawForbidden {
    /// Script lines matching a regular expression (Rust `regex` syntax).
    #[serde(default)]
    pub scripts: Vec<RawForbiddenScript>,
    /// Pipes, by glob on `owner/name`, optionally only some versions (globs).
    #[serde(default)]
    pub pipes: Vec<RawForbiddenPipe>,
    /// Images, by glob on the full name (`*:latest`).
    #[serde(default)]
    pub images: Vec<RawForbiddenImage>,
}

/// A refused script line.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawForbiddenScript {
    /// A regular expression; a script line it matches anywhere is refused.
    pub regex: Spanned<String>,
    /// Why, shown to the user.
    pub message: Spanned<String>,
}

/// A refused pipe.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawForbiddenPipe {
    /// A glob on `owner/name` (`atlassian/aws-*`).
    pub pipe: Spanned<String>,
    /// Globs on the version (`0.*`); absent means every version. A pipe without a version counts as any.
    #[serde(default)]
    pub versions: Option<Vec<Spanned<String>>>,
    /// Why, shown to the user.
    pub message: Spanned<String>,
}

/// A refused image.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawForbiddenImage {
    /// A glob on the full image name (`*:latest`, `docker.io/library/*`).
    pub image: Spanned<String>,
    /// Why, shown to the user.
    pub message: Spanned<String>,
}

/// A step prepended to every pipeline.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPrependStep {
    /// The step name; also how an existing copy is recognised (never added twice).
    pub name: Spanned<String>,
    /// The step image.
    #[serde(default)]
    pub image: Option<Spanned<String>>,
    /// The script lines.
    #[schemars(length(min = 1))]
    pub script: Vec<Spanned<String>>,
}

/// The form of the OIDC setup prepended to deployment steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SetupForm {
    /// Plain shell: region, role ARN and the token file (no keyless binary needed in the image).
    #[default]
    Shell,
    /// `keyless configure --env E`.
    Keyless,
}

/// `policy.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyMode {
    /// Apply the policy.
    #[default]
    Enforce,
    /// Answer with the configuration unchanged; record what the policy would have done.
    Report,
}

/// `policy.unknown_keys`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UnknownKeys {
    /// Refuse every configuration with a key Bitbucket's schema does not know.
    Refuse,
    /// Pass unknown keys through and report them, except where they could change where a step runs.
    #[default]
    Warn,
    /// Pass unknown keys through without a report.
    Pass,
}

impl UnknownKeys {
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownKeys::Refuse => "refuse",
            UnknownKeys::Warn => "warn",
            UnknownKeys::Pass => "pass",
        }
    }
}

/// `policy.pipe_static_keys`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PipeStaticKeys {
    /// Refuse the step.
    #[default]
    Refuse,
    /// Remove the variables from the pipe.
    Remove,
}

/// The validated `policy:` section. [`Policy::default`] is what applies without one: shell setup, nothing
/// forbidden or prepended, Atlassian IP ranges on with size `4x`.
#[derive(Debug, Clone)]
pub struct Policy {
    pub setup: SetupForm,
    /// As written; `None` means the default (`[production]` when defined). Every name is a defined environment.
    pub production_environments: Option<Vec<String>>,
    /// As written; `None` means the default (derived by the enforce engine).
    pub production_labels: Option<Vec<String>>,
    pub forbidden: Forbidden,
    pub prepend: Vec<PrependStep>,
    pub atlassian_ip_ranges: bool,
    /// `4x` or `8x`.
    pub atlassian_ip_size: String,
    pub mode: PolicyMode,
    pub unknown_keys: UnknownKeys,
    pub pipe_static_keys: PipeStaticKeys,
    /// Every name is a defined environment.
    pub branchless_environments: Vec<String>,
    /// Where the section starts (`0:0` for the default policy).
    pub location: Location,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            setup: SetupForm::Shell,
            production_environments: None,
            production_labels: None,
            forbidden: Forbidden::default(),
            prepend: Vec::new(),
            atlassian_ip_ranges: true,
            atlassian_ip_size: "4x".to_owned(),
            mode: PolicyMode::Enforce,
            unknown_keys: UnknownKeys::Warn,
            pipe_static_keys: PipeStaticKeys::Refuse,
            branchless_environments: Vec::new(),
            location: Location::UNKNOWN,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Forbidden {
    pub scripts: Vec<ForbiddenScript>,
    pub pipes: Vec<ForbiddenPipe>,
    pub images: Vec<ForbiddenImage>,
}

/// A script line matching `regex` is refused.
#[derive(Debug, Clone)]
pub struct ForbiddenScript {
    /// The expression as written.
    pub regex: String,
    /// Compiled once at load time.
    pub compiled: Regex,
    pub message: String,
    pub location: Location,
}

/// A pipe (glob on `owner/name`), optionally only some versions (globs), is refused.
#[derive(Debug, Clone)]
pub struct ForbiddenPipe {
    pub pipe: String,
    pub versions: Option<Vec<String>>,
    pub message: String,
    pub location: Location,
}

/// An image (glob on the full name) is refused.
#[derive(Debug, Clone)]
pub struct ForbiddenImage {
    pub image: String,
    pub message: String,
    pub location: Location,
}

/// A step prepended to every pipeline.
#[derive(Debug, Clone)]
pub struct PrependStep {
    pub name: String,
    pub image: Option<String>,
    pub script: Vec<String>,
    pub location: Location,
}

/// Regular expressions in `forbidden.scripts` are compiled with this size limit, so a policy cannot make every
/// render slow.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Validate the section. `environments` are the defined environment names (for `production_environments`);
/// `section` is where `policy:` starts. Mistakes go to `diagnostics`.
pub(crate) fn validate(
    raw: &RawPolicy,
    environments: &[&str],
    section: Location,
    diagnostics: &mut Vec<Diagnostic>,
) -> Policy {
    let mut error = |location: Location, message: String, help: String| {
        diagnostics.push(Diagnostic::new(location, message).help(help));
    };
    let mut policy = Policy {
        location: section,
        ..Policy::default()
    };
    if let Some(setup) = &raw.setup {
        policy.setup = setup.value;
    }
    let mut defined = |field: &str, names: &[Spanned<String>]| -> Vec<String> {
        for name in names {
            if !environments.contains(&name.value.as_str()) {
                let mut help = format!(
                    "name environments defined under `environments:` ({})",
                    environments.join(", ")
                );
                if let Some(closest) =
                    crate::load::closest(&name.value, environments.iter().copied())
                {
                    help = format!("did you mean `{closest}`? Otherwise {help}");
                }
                error(
                    name.location,
                    format!(
                        "policy.{field} names `{}`, which is not defined",
                        name.value
                    ),
                    help,
                );
            }
        }
        names.iter().map(|n| n.value.clone()).collect()
    };
    if let Some(names) = &raw.production_environments {
        policy.production_environments = Some(defined("production_environments", names));
    }
    if let Some(names) = &raw.branchless_environments {
        policy.branchless_environments = defined("branchless_environments", names);
    }
    if let Some(labels) = &raw.production_labels {
        for label in labels {
            if label.value.trim().is_empty() || label.value.contains(char::is_whitespace) {
                error(
                    label.location,
                    format!("runner label `{}` is not valid", label.value),
                    "labels are single words such as `prod` or `self.hosted`".to_owned(),
                );
            }
        }
        policy.production_labels = Some(labels.iter().map(|l| l.value.clone()).collect());
    }
    if let Some(forbidden) = &raw.forbidden {
        for (index, script) in forbidden.scripts.iter().enumerate() {
            match regex::RegexBuilder::new(&script.regex.value)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
            {
                Ok(compiled) => policy.forbidden.scripts.push(ForbiddenScript {
                    regex: script.regex.value.clone(),
                    compiled,
                    message: script.message.value.clone(),
                    location: script.regex.location,
                }),
                Err(e) => error(
                    script.regex.location,
                    format!(
                        "policy.forbidden.scripts[{index}].regex is not a valid regular expression: {}",
                        e.to_string().lines().last().unwrap_or_default().trim()
                    ),
                    "write Rust regex syntax; escape `|`, `.`, `(` as `\\|`, `\\.`, `\\(` (inside double-quoted YAML, write `\\\\|`)".to_owned(),
                ),
            }
        }
        for pipe in &forbidden.pipes {
            if pipe.pipe.value.trim().is_empty() {
                error(
                    pipe.pipe.location,
                    "an empty pipe pattern".to_owned(),
                    "write a glob on `owner/name`, e.g. `atlassian/aws-*`".to_owned(),
                );
            }
            policy.forbidden.pipes.push(ForbiddenPipe {
                pipe: pipe.pipe.value.clone(),
                versions: pipe
                    .versions
                    .as_ref()
                    .map(|vs| vs.iter().map(|v| v.value.clone()).collect()),
                message: pipe.message.value.clone(),
                location: pipe.pipe.location,
            });
        }
        for image in &forbidden.images {
            if image.image.value.trim().is_empty() {
                error(
                    image.image.location,
                    "an empty image pattern".to_owned(),
                    "write a glob on the image name, e.g. `*:latest`".to_owned(),
                );
            }
            policy.forbidden.images.push(ForbiddenImage {
                image: image.image.value.clone(),
                message: image.message.value.clone(),
                location: image.image.location,
            });
        }
    }
    let mut names: Vec<(&str, Location)> = Vec::new();
    for step in &raw.prepend {
        let name = step.name.value.trim();
        if name.is_empty() {
            error(
                step.name.location,
                "a prepended step without a name".to_owned(),
                "name it: the name is how keyless recognises a copy that is already there"
                    .to_owned(),
            );
        } else if let Some((_, first)) = names.iter().find(|(n, _)| *n == name) {
            error(
                step.name.location,
                format!(
                    "two prepended steps are named `{name}` (the first at line {})",
                    first.line
                ),
                "give each prepended step its own name".to_owned(),
            );
        } else {
            names.push((name, step.name.location));
        }
        if step.script.is_empty() {
            error(
                step.name.location,
                format!("prepended step `{name}` has an empty script"),
                "give it at least one script line".to_owned(),
            );
        }
        policy.prepend.push(PrependStep {
            name: step.name.value.clone(),
            image: step.image.as_ref().map(|i| i.value.clone()),
            script: step.script.iter().map(|s| s.value.clone()).collect(),
            location: step.name.location,
        });
    }
    if let Some(mode) = &raw.mode {
        policy.mode = mode.value;
    }
    if let Some(unknown) = &raw.unknown_keys {
        policy.unknown_keys = unknown.value;
    }
    if let Some(keys) = &raw.pipe_static_keys {
        policy.pipe_static_keys = keys.value;
    }
    if let Some(on) = &raw.atlassian_ip_ranges {
        policy.atlassian_ip_ranges = on.value;
    }
    if let Some(size) = &raw.atlassian_ip_size {
        if size.value == "4x" || size.value == "8x" {
            policy.atlassian_ip_size = size.value.clone();
        } else {
            error(
                size.location,
                format!(
                    "policy.atlassian_ip_size is `{}`; Atlassian IP ranges need 4x or 8x steps",
                    size.value
                ),
                "write `atlassian_ip_size: 4x` or `8x`".to_owned(),
            );
        }
    }
    policy
}
