//! `provider-client-id`: an IAM OIDC provider for a Bitbucket issuer whose URL or client IDs make STS reject every
//! Bitbucket token before any trust policy is read ("No OpenIDConnect provider found", "Incorrect token audience").
//! Checked against the policies of the same file and, across files, against keyless.yml's workspace.

use super::prelude::*;
use crate::policy::{CValue, ProviderResource};
use keyless_oidc::AUDIENCE_PREFIX;

pub struct ProviderClientId;

pub(crate) static META: RuleMeta = RuleMeta {
    id: "provider-client-id",
    summary: "the OIDC provider's URL or client IDs make STS reject every Bitbucket token",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "STS first finds the provider whose URL is exactly the token's issuer, then requires one of the token's \
          audiences to be among the provider's client IDs; only then does it read the role's trust policy \
          (aws.md §2). A Bitbucket token's audience is `ari:cloud:bitbucket::workspace/<workspace-uuid>`, the UUID \
          without braces (bitbucket.md §1.2). `sts.amazonaws.com`, the default client ID of GitHub-oriented provider \
          modules (terraform-aws-modules/iam's `iam-oidc-provider`), a UUID with braces, or an empty list reject every \
          token with `InvalidIdentityToken: Incorrect token audience`; a URL without `https://`, with a trailing \
          slash, or without `/2.0/workspaces/<workspace>/` never equals the issuer (`No OpenIDConnect provider found`).",
    fix: "Set the provider's URL to `https://api.bitbucket.org/2.0/workspaces/<workspace>/pipelines-config/identity/oidc` \
          and its client IDs to `ari:cloud:bitbucket::workspace/<workspace-uuid>` (Repository settings → OpenID \
          Connect shows both; `keyless plan` generates them).",
    autofix: false,
};

/// The workspace UUID (unbraced, lowercase) of a valid workspace audience.
pub(crate) fn audience_uuid(value: &str) -> Option<&str> {
    let uuid = value.strip_prefix(AUDIENCE_PREFIX)?;
    crate::policy::subject::is_braced_uuid(&format!("{{{uuid}}}")).then_some(uuid)
}

/// A provider for a Bitbucket issuer: its URL says so, or (URL unknown) a client ID or a trusting policy does.
fn is_bitbucket_provider(p: &ProviderResource, policies: &[TrustPolicy<'_>]) -> bool {
    if let Some(url) = &p.url
        && url.text.contains("api.bitbucket.org")
    {
        return true;
    }
    let known_ids = p.client_ids.as_ref().map(Vec::as_slice).unwrap_or_default();
    known_ids
        .iter()
        .any(|v| v.text.starts_with(AUDIENCE_PREFIX))
        || p.url.as_ref().is_none_or(|u| !u.known)
            && policies
                .iter()
                .any(|policy| policy.statements.iter().any(|s| s.trusts_bitbucket()))
}

impl ProviderClientId {
    fn finding_at(&self, at: &At, message: String, label: &str, help: &str) -> FindingBuilder {
        self.finding()
            .message(message)
            .at_loc(at)
            .label(label.to_owned())
            .help(help.to_owned())
    }

    fn check_url(&self, p: &ProviderResource, url: &CValue, out: &mut Sink) {
        if !url.known {
            return;
        }
        let text = url.text.as_str();
        let problem = if !text.starts_with("https://") {
            Some("has no `https://`: IAM requires it, and the issuer is an https URL")
        } else if text.ends_with('/') {
            Some("ends with `/`, but the issuer does not: STS compares them exactly")
        } else if text.contains("api.bitbucket.org") && keyless_oidc::parse_issuer(text).is_none() {
            Some(
                "is not a Bitbucket issuer URL (`https://api.bitbucket.org/2.0/workspaces/<workspace>/pipelines-config/identity/oidc`)",
            )
        } else {
            None
        };
        if let Some(problem) = problem {
            out.push(self.finding_at(
                &url.at,
                format!("provider `{}`: URL `{text}` {problem}: STS answers `No OpenIDConnect provider found` to every token", p.name),
                "never equals the token's issuer",
                "use https://api.bitbucket.org/2.0/workspaces/<workspace>/pipelines-config/identity/oidc",
            ));
        }
    }

    /// Client IDs that reject every token, and audiences the file's policies require but the provider lacks.
    fn check_ids(&self, p: &ProviderResource, policies: &[TrustPolicy<'_>], out: &mut Sink) {
        let Ok(ids) = &p.client_ids else { return };
        if ids.iter().any(|v| !v.known) {
            return; // unresolved-reference says so
        }
        let at = p.client_ids_at.as_ref().unwrap_or(&p.at);
        for v in ids {
            if v.text.starts_with(AUDIENCE_PREFIX) && (v.text.contains('{') || v.text.contains('}'))
            {
                out.push(self.finding_at(
                    &v.at,
                    format!("client ID `{}` has braces around the workspace UUID; Bitbucket's audience has none", v.text),
                    "never equals a token's audience",
                    "write ari:cloud:bitbucket::workspace/<uuid> without braces",
                ));
            }
        }
        let valid: Vec<&str> = ids
            .iter()
            .map(|v| v.text.as_str())
            .filter(|t| audience_uuid(t).is_some())
            .collect();
        if valid.is_empty() {
            let listed = ids
                .iter()
                .map(|v| format!("`{}`", v.text))
                .collect::<Vec<_>>()
                .join(", ");
            let message = if ids.is_empty() {
                format!(
                    "provider `{}` has no client IDs: STS rejects every Bitbucket token (Incorrect token audience)",
                    p.name
                )
            } else {
                format!(
                    "provider `{}` lists {listed} but no workspace audience `ari:cloud:bitbucket::workspace/<uuid>`: STS rejects every Bitbucket token (Incorrect token audience)",
                    p.name
                )
            };
            out.push(self.finding_at(
                at,
                message,
                "rejects every Bitbucket token",
                "add ari:cloud:bitbucket::workspace/<workspace-uuid>",
            ));
            return;
        }
        // Audiences the roles trusting this provider require.
        let host = p.host_path();
        for policy in policies {
            for s in policy.statements.iter().filter(|s| s.is_oidc_allow()) {
                let trusts = s.providers().any(|pr| {
                    pr.provider
                        .as_deref()
                        .zip(host)
                        .is_some_and(|(a, b)| a == b)
                });
                if !trusts {
                    continue;
                }
                for c in s
                    .conditions_on("aud")
                    .filter(|c| !c.is_negated() && c.base_operator().starts_with("StringEquals"))
                {
                    let required: Vec<&CValue> = c
                        .values
                        .iter()
                        .filter(|v| v.known && audience_uuid(&v.text).is_some())
                        .collect();
                    if !required.is_empty()
                        && !required.iter().any(|v| valid.contains(&v.text.as_str()))
                    {
                        out.push(
                            self.finding_at(
                                at,
                                format!(
                                    "provider `{}` lists {}, but role `{}` requires aud {}: STS rejects its tokens before the trust policy (Incorrect token audience)",
                                    p.name,
                                    valid.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", "),
                                    policy.role.clone().unwrap_or_default(),
                                    required.iter().map(|v| format!("`{}`", v.text)).collect::<Vec<_>>().join(", "),
                                ),
                                "audience the role requires is missing",
                                "list the workspace audience the role requires",
                            )
                            .related_at(None, &required[0].at, "the role's audience condition"),
                        );
                    }
                }
            }
        }
    }
}

impl Rule for ProviderClientId {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_trust_file(&self, file: &TrustFile<'_>, out: &mut Sink) {
        for p in &file.providers {
            if !is_bitbucket_provider(p, &file.policies) {
                continue;
            }
            if let Some(url) = &p.url {
                self.check_url(p, url, out);
            }
            self.check_ids(p, &file.policies, out);
        }
    }

    /// Across files: a keyless.yml's workspace audience must be among the client IDs of its issuer's providers.
    fn check_workspace(&self, ws: &Workspace<'_>, out: &mut Sink) {
        for keyless in &ws.keyless {
            let kinput = &keyless.input;
            let Some(workspace) = keyless.model.workspace.as_ref() else {
                continue;
            };
            let (Some(slug), Some(uuid)) = (
                workspace.slug.as_ref().map(|s| s.value.as_str()),
                workspace.uuid.as_ref().map(|u| u.value.as_str()),
            ) else {
                continue;
            };
            let Ok(uuid) = uuid.parse::<keyless_oidc::BracedUuid>() else {
                continue;
            };
            let Ok(workspace_ref) = keyless_oidc::WorkspaceRef::new(slug, uuid) else {
                continue;
            };
            let audience = workspace_ref.audience();
            let issuer = workspace_ref.issuer_url();
            for (pinput, p) in &ws.providers {
                let Some(url) = &p.url else { continue };
                let Ok(ids) = &p.client_ids else { continue };
                if !url.known || url.text != issuer || ids.iter().any(|v| !v.known) {
                    continue;
                }
                // No workspace audience at all is reported without keyless.yml.
                let valid: Vec<&str> = ids
                    .iter()
                    .map(|v| v.text.as_str())
                    .filter(|t| audience_uuid(t).is_some())
                    .collect();
                if valid.is_empty() || valid.contains(&audience.as_str()) {
                    continue;
                }
                out.push(
                    self.finding_at(
                        p.client_ids_at.as_ref().unwrap_or(&p.at),
                        format!(
                            "provider `{}` for workspace `{slug}` lists {}, but keyless.yml's workspace audience is `{audience}`: STS rejects the workspace's tokens (Incorrect token audience)",
                            p.name,
                            valid.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
                        ),
                        "not this workspace's audience",
                        "list the workspace audience keyless.yml gives",
                    )
                    .in_input(*pinput)
                    .related_key(Some(*kinput), Route::root().key("workspace").key("uuid"), "the workspace UUID"),
                );
            }
        }
    }
}
