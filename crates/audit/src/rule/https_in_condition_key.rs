//! `https-in-condition-key`: condition keys that start with `https://`, which never exist. Reported from `keyless-iam`'s validation
//! registry (code `key-with-scheme`), through the one adapter.

use super::prelude::*;

pub struct HttpsInConditionKey;

static META: RuleMeta = RuleMeta {
    id: "https-in-condition-key",
    summary: "a condition key starts with `https://` and never exists",
    severity: Severity::High,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::TrustPolicy,
    why: "AWS names OIDC condition keys after the provider URL without its scheme \
          (`api.bitbucket.org/2.0/workspaces/<slug>/pipelines-config/identity/oidc:sub`). A key with `https://` is \
          never present: a positive operator on it always fails (AccessDenied), a negated one always passes.",
    fix: "Drop the `https://` prefix from the key.",
    autofix: false,
};

impl Rule for HttpsInConditionKey {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_policy(&self, policy: &TrustPolicy<'_>, out: &mut Sink) {
        validation::report(policy, &META, out);
    }
}
