//! `oidc-audience-limits`: more than 10 custom audiences, or one longer than 150 characters.

use super::prelude::*;

pub struct OidcAudienceLimits;

static META: RuleMeta = RuleMeta {
    id: "oidc-audience-limits",
    summary: "OIDC audiences exceed Bitbucket's limits",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Bitbucket accepts at most 10 custom audiences, each at most 150 characters. Custom audiences are appended \
          to the workspace audience, so `aud` becomes an array; the IAM provider must still list the workspace audience.",
    fix: "Keep at most 10 audiences of at most 150 characters; AWS needs none (it uses the workspace audience).",
    autofix: false,
};

impl OidcAudienceLimits {
    fn check(&self, oidc: &Node, route: Route, out: &mut Sink) {
        let Some(aud) = oidc.get("audiences") else {
            return;
        };
        let route = route.key("audiences");
        let list = crate::source::strings(aud);
        if list.len() > 10 {
            out.push(
                self.finding()
                    .message(format!(
                        "{} OIDC audiences; Bitbucket allows at most 10",
                        list.len()
                    ))
                    .at_key(route.clone())
                    .label("too many audiences")
                    .help("remove audiences no verifier checks"),
            );
        }
        for (i, n) in list {
            let value = n.as_str().unwrap_or_default();
            if value.chars().count() > 150 {
                out.push(
                    self.finding()
                        .message(format!(
                            "OIDC audience is {} characters long; Bitbucket allows 150",
                            value.chars().count()
                        ))
                        .at(route.at(i))
                        .label("audience too long")
                        .help("use a shorter audience URI"),
                );
            }
        }
    }
}

impl Rule for OidcAudienceLimits {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_pipeline(&self, p: &Pipeline<'_>, out: &mut Sink) {
        if let Some(oidc) = p.options().and_then(|o| o.get("oidc")) {
            self.check(oidc, Route::root().key("options").key("oidc"), out);
        }
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        if let Some(oidc) = step.node.get("oidc") {
            self.check(oidc, step.key("oidc"), out);
        }
    }
}
