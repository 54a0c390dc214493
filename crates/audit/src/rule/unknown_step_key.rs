//! `unknown-step-key`: keys a step (or stage) does not have. Atlassian's schema leaves steps open, so typos such
//! as `deployement:` or `odic:` pass validation and are silently ignored.

use super::prelude::*;

pub struct UnknownStepKey;

static META: RuleMeta = RuleMeta {
    id: "unknown-step-key",
    summary: "the step has a key Bitbucket does not know",
    severity: Severity::Medium,
    confidence: Confidence::High,
    persona: Persona::Regular,
    kind: RuleKind::Pipeline,
    why: "Atlassian's schema does not close the step object, so a misspelt key passes validation and Bitbucket \
          ignores it: `odic: true` issues no token, `deployement: production` deploys without the environment's \
          permissions and lock.",
    fix: "Fix the spelling (the finding suggests the closest known key) or remove the key.",
    autofix: false,
};

/// Step keys (bitbucket.md §3.4, S-ATL `step_base`).
pub const STEP_KEYS: &[&str] = &[
    "name",
    "script",
    "after-script",
    "image",
    "caches",
    "services",
    "artifacts",
    "clone",
    "deployment",
    "environment",
    "concurrency-group",
    "oidc",
    "trigger",
    "runs-on",
    "size",
    "max-time",
    "runtime",
    "fail-fast",
    "condition",
    "output-variables",
];

/// Stage keys (bitbucket.md §3.3).
pub const STAGE_KEYS: &[&str] = &[
    "name",
    "deployment",
    "environment",
    "condition",
    "trigger",
    "steps",
    "concurrency-group",
];

/// Levenshtein distance, for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

fn suggest(key: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .copied()
        .map(|k| (distance(key, k), k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

impl UnknownStepKey {
    fn check_keys(
        &self,
        node: &Node,
        route: &Route,
        known: &[&'static str],
        what: &str,
        out: &mut Sink,
    ) {
        for (k, _) in node.as_map().unwrap_or_default() {
            let Some(key) = k.as_str() else { continue };
            if known.contains(&key) {
                continue;
            }
            let mut f = self
                .finding()
                .message(format!("unknown {what} key `{key}`; Bitbucket ignores it"))
                .at_key(route.key(key))
                .label("not a known key");
            if let Some(s) = suggest(key, known) {
                f = f.help(format!("did you mean `{s}`?"));
            } else {
                f = f.help(format!("known keys: {}", known.join(", ")));
            }
            out.push(f);
        }
    }
}

impl Rule for UnknownStepKey {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_pipeline(&self, p: &Pipeline<'_>, out: &mut Sink) {
        let mut stages: Vec<&Route> = Vec::new();
        for step in &p.steps {
            if let Some((route, node)) = &step.stage
                && !stages.contains(&route)
            {
                stages.push(route);
                self.check_keys(node, route, STAGE_KEYS, "stage", out);
            }
        }
    }

    fn check_step(&self, step: &Step<'_>, _p: &Pipeline<'_>, out: &mut Sink) {
        self.check_keys(step.node, &step.route, STEP_KEYS, "step", out);
    }
}
