//! `/metrics`: provider requests by outcome, their latency, and the configuration's generation and reloads, in
//! the Prometheus/OpenMetrics text format (prometheus-client).

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How a provider request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `{"pipelines_configuration": ...}`.
    Rendered,
    /// `{"error": ...}` from the policy (HTTP 200).
    Rejected,
    /// 400: the body is not a readable Dynamic Pipelines request.
    Invalid,
    /// 401.
    Unauthorized,
    /// 403: a Forge installation that `--forge-installation-id` does not list.
    Forbidden,
    /// 413.
    TooLarge,
    /// 415.
    UnsupportedMediaType,
    /// 408.
    Timeout,
    /// 404/405.
    NotFound,
    /// 503: the token's keys could not be fetched.
    Unavailable,
    /// The renderer failed internally; the pipeline was refused (fail-closed).
    Internal,
}

impl Outcome {
    pub const ALL: [Outcome; 11] = [
        Outcome::Rendered,
        Outcome::Rejected,
        Outcome::Invalid,
        Outcome::Unauthorized,
        Outcome::Forbidden,
        Outcome::TooLarge,
        Outcome::UnsupportedMediaType,
        Outcome::Timeout,
        Outcome::NotFound,
        Outcome::Unavailable,
        Outcome::Internal,
    ];

    /// The `outcome` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Rendered => "rendered",
            Outcome::Rejected => "rejected",
            Outcome::Invalid => "invalid",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Forbidden => "forbidden",
            Outcome::TooLarge => "too_large",
            Outcome::UnsupportedMediaType => "unsupported_media_type",
            Outcome::Timeout => "timeout",
            Outcome::NotFound => "not_found",
            Outcome::Unavailable => "unavailable",
            Outcome::Internal => "internal",
        }
    }
}

type Labels = Vec<(&'static str, &'static str)>;
type OwnedLabels = Vec<(&'static str, String)>;

/// The service's metrics. Cheap to update from many tasks at once.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// One counter per outcome, in [`Outcome::ALL`] order (looked up without allocating).
    requests: Vec<Counter>,
    latency: Histogram,
    generation: Gauge,
    reloads_ok: Counter,
    reloads_error: Counter,
    definitions_omitted: Family<OwnedLabels, Counter>,
    unknown_keys: Family<Labels, Counter>,
    report: Family<OwnedLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<Labels, Counter>::default();
        registry.register(
            "keyless_serve_requests",
            "Dynamic Pipelines provider requests by outcome",
            requests.clone(),
        );
        // 100 µs to ~1.6 s.
        let latency = Histogram::new(exponential_buckets(0.0001, 2.0, 15));
        registry.register(
            "keyless_serve_request_duration_seconds",
            "Time to answer a Dynamic Pipelines provider request (authentication, reading, rendering)",
            latency.clone(),
        );
        let generation = Gauge::default();
        registry.register(
            "keyless_serve_config_generation",
            "Generation of the keyless.yml in use: 1 at start, +1 per successful reload",
            generation.clone(),
        );
        let reloads = Family::<Labels, Counter>::default();
        registry.register(
            "keyless_serve_config_reloads",
            "keyless.yml reloads (SIGHUP) by result; a failed reload keeps the previous configuration",
            reloads.clone(),
        );
        let definitions_omitted = Family::<OwnedLabels, Counter>::default();
        registry.register(
            "keyless_serve_definitions_omitted",
            "Pipelines left out of definitions answers (the Run-pipeline dialog) because they may not run, by the rule that refused them",
            definitions_omitted.clone(),
        );
        let unknown_keys = Family::<Labels, Counter>::default();
        registry.register(
            "keyless_serve_unknown_keys",
            "Keys Bitbucket's schema does not know that were passed through with a report (policy.unknown_keys: warn), by where they were",
            unknown_keys.clone(),
        );
        let report = Family::<OwnedLabels, Counter>::default();
        registry.register(
            "keyless_serve_report",
            "policy.mode: report: what the policy would have done (would = reject | change | omit), by rule",
            report.clone(),
        );
        // Every series exists from the start, so dashboards and rate() see zeros instead of gaps.
        let requests = Outcome::ALL
            .iter()
            .map(|outcome| {
                requests
                    .get_or_create(&vec![("outcome", outcome.as_str())])
                    .clone()
            })
            .collect();
        let reloads_ok = reloads.get_or_create(&vec![("result", "ok")]).clone();
        let reloads_error = reloads.get_or_create(&vec![("result", "error")]).clone();
        Metrics {
            registry: Mutex::new(registry),
            requests,
            latency,
            generation,
            reloads_ok,
            reloads_error,
            definitions_omitted,
            unknown_keys,
            report,
        }
    }

    /// Counts a pipeline left out of a definitions answer.
    pub fn definitions_omitted(&self, rule: &str) {
        self.definitions_omitted
            .get_or_create(&vec![("rule", rule.to_string())])
            .inc();
    }

    /// Counts an unknown key passed through, by location (`top-level`, `step`, ...).
    pub fn unknown_key(&self, location: &'static str) {
        self.unknown_keys
            .get_or_create(&vec![("location", location)])
            .inc();
    }

    /// Counts what report mode would have done: `would` is `reject`, `change` or `omit`.
    pub fn report(&self, would: &'static str, rule: &str) {
        self.report
            .get_or_create(&vec![
                ("would", would.to_string()),
                ("rule", rule.to_string()),
            ])
            .inc();
    }

    /// Counts one provider request.
    pub fn request(&self, outcome: Outcome, elapsed: Duration) {
        self.counter(outcome).inc();
        self.latency.observe(elapsed.as_secs_f64());
    }

    /// How many requests ended with `outcome` so far.
    pub fn requests(&self, outcome: Outcome) -> u64 {
        self.counter(outcome).get()
    }

    fn counter(&self, outcome: Outcome) -> &Counter {
        // Outcome::ALL lists every variant in declaration order.
        &self.requests[outcome as usize]
    }

    /// Records the configuration generation now in use.
    pub fn set_generation(&self, generation: u64) {
        self.generation
            .set(i64::try_from(generation).unwrap_or(i64::MAX));
    }

    /// Counts a reload.
    pub fn reload(&self, ok: bool) {
        if ok {
            self.reloads_ok.inc();
        } else {
            self.reloads_error.inc();
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            // Writing to a String cannot fail.
            let _ = encode(&mut out, &registry);
        }
        out
    }
}

/// The `Content-Type` of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_own_counter() {
        for (i, outcome) in Outcome::ALL.iter().enumerate() {
            assert_eq!(
                *outcome as usize, i,
                "Outcome::ALL must list variants in order"
            );
        }
        let metrics = Metrics::new();
        metrics.request(Outcome::TooLarge, Duration::from_millis(1));
        assert_eq!(metrics.requests(Outcome::TooLarge), 1);
        assert_eq!(metrics.requests(Outcome::Rendered), 0);
        let text = metrics.render();
        assert!(text.contains("keyless_serve_requests_total{outcome=\"too_large\"} 1"));
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
