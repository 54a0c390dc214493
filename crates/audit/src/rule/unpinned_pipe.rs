//! `unpinned-pipe`: a pipe without an exact version (no tag, `latest`, or a floating major/minor).

use super::prelude::*;

pub struct UnpinnedPipe;

static META: RuleMeta = RuleMeta {
    id: "unpinned-pipe",
    summary: "the pipe is not pinned to an exact version",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "A pipe is a container that runs with the step's secrets and OIDC token. A floating tag (`:1`, `:1.2`, \
          `:latest`) means a new image runs the next time the pipeline does, without review.",
    fix: "Pin an exact version (`atlassian/aws-s3-deploy:1.7.0`); under the pedantic persona, pin the digest too \
          (`docker://…@sha256:…`).",
    autofix: false,
};

/// `x.y.z` (optionally `v`-prefixed, with a pre-release suffix).
pub fn exact_semver(tag: &str) -> bool {
    let core = tag.trim_start_matches('v');
    let core = core.split(['-', '+']).next().unwrap_or(core);
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

impl Rule for UnpinnedPipe {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        for item in step.pipes() {
            let ScriptItem::Pipe {
                name, name_route, ..
            } = item
            else {
                continue;
            };
            let (image, digest) = match name.split_once("@sha256:") {
                Some((i, d)) => (i, Some(d)),
                None => (*name, None),
            };
            if digest.is_some() {
                continue;
            }
            let image = image.trim_start_matches("docker://");
            let tag = image
                .rsplit_once(':')
                .map(|(_, t)| t)
                .filter(|t| !t.contains('/'));
            let problem = match tag {
                None => Some("has no version, so it always runs the newest image".to_owned()),
                Some("latest") => Some("uses `latest`".to_owned()),
                Some(t) if !exact_semver(t) => Some(format!("uses the floating version `{t}`")),
                _ => None,
            };
            match problem {
                Some(p) => out.push(
                    self.finding()
                        .message(format!("pipe {name} {p}"))
                        .at(name_route.clone())
                        .label("not an exact version")
                        .help("pin an exact version such as `:1.7.0`"),
                ),
                None => out.push(
                    self.finding()
                        .message(format!(
                            "pipe {name} is pinned to a tag, not an immutable digest"
                        ))
                        .at(name_route.clone())
                        .label("tags can be re-pushed")
                        .severity(Severity::Info)
                        .persona(Persona::Pedantic)
                        .help("pin `docker://<image>@sha256:<digest>` for an immutable pipe"),
                ),
            }
        }
    }
}
