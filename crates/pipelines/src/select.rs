//! Which pipeline runs for a branch, tag, pull request or custom run.

use crate::PipelineFile;
use crate::glob::{Glob, Specificity};
use crate::model::{Pipeline, Selector};

/// What started the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A push to a branch.
    Branch(String),
    /// A push of a tag.
    Tag(String),
    /// A pull request from `source` into `destination`.
    PullRequest { source: String, destination: String },
    /// A manual, scheduled or child run of `pipelines.custom.<name>`.
    Custom(String),
}

/// Why the pipeline was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// The key names the branch or tag exactly.
    Exact,
    /// The most specific matching glob.
    Glob,
    /// No `branches` key matched a branch push, so `default` runs.
    Default,
    /// A custom pipeline chosen by name.
    Name,
}

/// The pipeline that runs for a [`Target`].
#[derive(Debug, Clone)]
pub struct SelectedPipeline<'a> {
    pub pipeline: &'a Pipeline,
    pub matched: MatchKind,
}

/// The best match among `candidates`: highest specificity, then first in the file.
fn best<'a>(
    candidates: impl Iterator<Item = (&'a Pipeline, Specificity)>,
) -> Option<(&'a Pipeline, Specificity)> {
    let mut best: Option<(&'a Pipeline, Specificity)> = None;
    for (p, s) in candidates {
        if best.as_ref().is_none_or(|(_, bs)| s > *bs) {
            best = Some((p, s));
        }
    }
    best
}

fn kind(s: Specificity) -> MatchKind {
    if s.exact {
        MatchKind::Exact
    } else {
        MatchKind::Glob
    }
}

/// Selects the pipeline Bitbucket runs for `target` (see `docs/pipelines-model.md`):
/// - a branch: the exact `branches` key, else the most specific matching glob, else `default`;
/// - a tag: the same over `tags`, with no fallback to `default`;
/// - a pull request: `pull-requests` entries whose source glob matches the source branch and,
///   in the `destinations` form, whose destination glob matches the destination; the most
///   specific source wins, then the most specific destination; no fallback;
/// - custom: `pipelines.custom.<name>` by exact name.
///
/// Ties between equally specific globs go to the one written first.
pub fn select_pipeline<'a>(
    file: &'a PipelineFile,
    target: &Target,
) -> Option<SelectedPipeline<'a>> {
    let pipelines = &file.config().pipelines;
    match target {
        Target::Branch(name) => {
            let found = best(pipelines.iter().filter_map(|p| match &p.selector {
                Selector::Branches(pat) => Glob::new(pat).specificity(name).map(|s| (p, s)),
                _ => None,
            }));
            match found {
                Some((p, s)) => Some(SelectedPipeline {
                    pipeline: p,
                    matched: kind(s),
                }),
                None => pipelines
                    .iter()
                    .find(|p| p.selector == Selector::Default)
                    .map(|p| SelectedPipeline {
                        pipeline: p,
                        matched: MatchKind::Default,
                    }),
            }
        }
        Target::Tag(name) => best(pipelines.iter().filter_map(|p| match &p.selector {
            Selector::Tags(pat) => Glob::new(pat).specificity(name).map(|s| (p, s)),
            _ => None,
        }))
        .map(|(p, s)| SelectedPipeline {
            pipeline: p,
            matched: kind(s),
        }),
        Target::PullRequest {
            source,
            destination,
        } => {
            let mut best_pick: Option<(&Pipeline, (Specificity, Option<Specificity>))> = None;
            for p in pipelines {
                let Selector::PullRequests {
                    source: sp,
                    destination: dp,
                } = &p.selector
                else {
                    continue;
                };
                let Some(ss) = Glob::new(sp).specificity(source) else {
                    continue;
                };
                let ds = match dp {
                    Some(d) => match Glob::new(d).specificity(destination) {
                        Some(ds) => Some(ds),
                        None => continue,
                    },
                    None => None,
                };
                let score = (ss, ds);
                if best_pick.as_ref().is_none_or(|(_, b)| score > *b) {
                    best_pick = Some((p, score));
                }
            }
            best_pick.map(|(p, (ss, ds))| SelectedPipeline {
                pipeline: p,
                matched: if ss.exact && ds.is_none_or(|d| d.exact) {
                    MatchKind::Exact
                } else {
                    MatchKind::Glob
                },
            })
        }
        Target::Custom(name) => pipelines
            .iter()
            .find(|p| matches!(&p.selector, Selector::Custom(n) if n == name))
            .map(|p| SelectedPipeline {
                pipeline: p,
                matched: MatchKind::Name,
            }),
    }
}
