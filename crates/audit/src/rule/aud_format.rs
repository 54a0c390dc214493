//! `aud-format`: a Bitbucket audience with braces, or GitHub's `sts.amazonaws.com` for a Bitbucket issuer.

use super::prelude::*;

pub struct AudFormat;

static META: RuleMeta = RuleMeta {
    id: "aud-format",
    summary: "the audience condition can never match a Bitbucket token",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "Bitbucket's audience is `ari:cloud:bitbucket::workspace/<workspace-uuid>` with the UUID WITHOUT braces. \
          `sts.amazonaws.com` is GitHub Actions' audience, copied from GitHub guides; Bitbucket never issues it. \
          Either mistake gives `InvalidIdentityToken: Incorrect token audience` or AccessDenied.",
    fix: "Copy the Audience from Repository settings → OpenID Connect exactly, e.g. \
          `ari:cloud:bitbucket::workspace/2e9e429c-0000-4000-8000-000000000000`.",
    autofix: false,
};

impl Rule for AudFormat {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        for s in &policy.statements {
            // Any provider under Bitbucket's API host: its audiences are Bitbucket's.
            let bitbucket_host = s.providers().any(|p| {
                p.provider
                    .as_deref()
                    .is_some_and(|p| p.to_ascii_lowercase().starts_with("api.bitbucket.org"))
            });
            if !s.trusts_bitbucket() && !bitbucket_host {
                continue;
            }
            // Keys of another provider (`gitlab.com:aud`) are issuer-mismatch's: never present, whatever the value.
            let bitbucket_key = |c: &&crate::policy::Condition| {
                c.key_prefix()
                    .is_some_and(|p| p.to_ascii_lowercase().starts_with("api.bitbucket.org"))
            };
            for c in s
                .conditions_on("aud")
                .filter(|c| !c.is_negated())
                .filter(bitbucket_key)
            {
                for v in c.values.iter().filter(|v| v.known) {
                    let value = &v.text;
                    let problem = if value == "sts.amazonaws.com" {
                        Some(
                            "is GitHub Actions' audience; Bitbucket tokens carry `ari:cloud:bitbucket::workspace/<uuid>`",
                        )
                    } else if value.starts_with(keyless_oidc::AUDIENCE_PREFIX)
                        && (value.contains('{') || value.contains('}'))
                    {
                        Some("has braces around the workspace UUID; the token's audience has none")
                    } else if let Some(rest) = value.strip_prefix(keyless_oidc::AUDIENCE_PREFIX) {
                        (super::provider_client_id::audience_uuid(value).is_none())
                            .then_some(rest)
                            .map(|_| "names the workspace by something other than its UUID; the audience is `ari:cloud:bitbucket::workspace/<workspace-uuid>`")
                    } else if value.starts_with('{') && value.contains(':') {
                        Some(
                            "is a subject pattern (`{repository}:...`) on the audience key; it belongs on `:sub`",
                        )
                    } else if value.starts_with('{') {
                        Some(
                            "looks like a bare workspace UUID; the audience is `ari:cloud:bitbucket::workspace/<uuid>`",
                        )
                    } else {
                        // A custom audience (`oidc.audiences`) can be any string: not judged.
                        None
                    };
                    if let Some(p) = problem {
                        out.push(
                            self.finding()
                                .message(format!("audience `{value}` {p}"))
                                .at_loc(&v.at)
                                .label("never matches a Bitbucket token")
                                .help(
                                    "copy the audience from Repository settings → OpenID Connect",
                                ),
                        );
                    }
                }
            }
        }
    }
}
