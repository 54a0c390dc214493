//! The pipeline verdict of `keyless check`: would `keyless render` let a scenario's step run?
//!
//! [`RenderJudge`] answers by running the render engine itself on a synthetic pipeline for the scenario (a push
//! of the scenario's branch running one step with the scenario's `deployment`, no `runs-on`, so the policy gives
//! it the environment's runners), never by re-implementing the branch rule. So `check` and `render`/`serve`
//! cannot disagree.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use keyless_pipelines::{PipelineFile, Target};
use keyless_workspace::Config;
use keyless_workspace::matrix::{CallerKind, Identity, PipelineJudge, PipelineVerdict};

use crate::{EnforceConfig, Rejection, render, rules};

/// The name of the synthetic step (shown nowhere but in [`RenderJudge::explain`]).
const STEP_NAME: &str = "keyless check scenario";

/// Judges scenarios with the render engine. Verdicts depend only on the deployment and the branch (the policy is
/// workspace-wide and never looks at source IPs), so they are computed once per pair.
#[derive(Debug)]
pub struct RenderJudge {
    config: EnforceConfig,
    cache: Mutex<HashMap<(Option<String>, String), PipelineVerdict>>,
}

impl RenderJudge {
    /// A judge for the workspace `config` (the same configuration the matrix is built from).
    pub fn new(config: impl Into<Arc<Config>>) -> RenderJudge {
        RenderJudge::from_enforce(EnforceConfig::from_workspace(config))
    }

    pub fn from_enforce(config: EnforceConfig) -> RenderJudge {
        RenderJudge {
            config,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The synthetic pipeline for a step with `deployment`: one step in `pipelines.default` (which any branch
    /// selects when nothing more specific exists, and nothing more specific does).
    pub fn scenario_pipeline(
        deployment: Option<&str>,
    ) -> Result<PipelineFile, keyless_pipelines::ParseError> {
        let mut step = serde_json::json!({"name": STEP_NAME, "script": ["./deploy"]});
        if let Some(deployment) = deployment {
            step["deployment"] = deployment.into();
        }
        PipelineFile::from_json(serde_json::json!({"pipelines": {"default": [{"step": step}]}}))
    }

    /// What render does with the scenario's step: the rendered file, or the rejection.
    pub fn explain(
        &self,
        deployment: Option<&str>,
        branch: &str,
    ) -> Result<crate::Rendered, Rejection> {
        let file = RenderJudge::scenario_pipeline(deployment).map_err(|e| {
            Rejection::new(
                rules::STRUCTURE,
                &keyless_pipelines::Route::root(),
                format!("internal: the scenario pipeline does not parse: {e}"),
            )
        })?;
        render(
            &self.config,
            file,
            &Target::Branch(branch.to_owned()).into(),
        )
    }

    fn verdict(&self, deployment: Option<&str>, branch: &str) -> PipelineVerdict {
        match self.explain(deployment, branch) {
            Ok(_) => PipelineVerdict::Allow,
            // Rules about who may deploy from where: they hold for every step of that deployment and branch.
            Err(r) if r.rule == rules::BRANCHES || r.rule == rules::ENVIRONMENTS => {
                PipelineVerdict::Deny
            }
            // Anything else refused the synthetic step's own content (a forbidden script, ...), which a real
            // step chooses freely: it proves nothing about the scenario, so the layer is not counted.
            Err(_) => PipelineVerdict::NotApplicable,
        }
    }
}

impl PipelineJudge for RenderJudge {
    fn judge(&self, identity: &Identity) -> PipelineVerdict {
        // Another workspace's pipelines never reach this workspace's Dynamic Pipelines provider.
        if identity.kind == CallerKind::OtherWorkspace {
            return PipelineVerdict::NotApplicable;
        }
        let key = (identity.deployment.clone(), identity.branch.clone());
        if let Some(verdict) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return *verdict;
        }
        let verdict = self.verdict(identity.deployment.as_deref(), &identity.branch);
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, verdict);
        verdict
    }
}
