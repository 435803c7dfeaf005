//! Prometheus metrics for `loyalty serve`: the core's figures
//! ([`loyalty_core::observe`]) and the runtime's own, rendered at
//! `GET /metrics` in Prometheus' text format.
//!
//! [`install`] puts a [`metrics_exporter_prometheus`] recorder in place once
//! per process (every later call returns the same handle); without it the
//! `metrics` macros cost nothing and `/metrics` answers 404.
//!
//! The runtime adds to the core's metrics:
//!
//! | Name | Type | What |
//! |---|---|---|
//! | `loyalty_deferred_pending` | gauge | groups of deferred work (messages after a reply, …) not finished yet |
//! | `loyalty_deferred_dropped_total` | counter | groups refused because the server was shutting down |

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// The buckets of the duration histograms, in seconds: 0.5 ms to 10 s.
const DURATION_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How often the recorder folds recorded histogram samples into buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once) and returns its
/// handle; `None` when another recorder was installed first (its figures
/// are not ours to render). Must be called within a Tokio runtime: it
/// starts the task that keeps histograms bounded.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), DURATION_BUCKETS)
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            let upkeep = handle.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(UPKEEP_EVERY);
                loop {
                    every.tick().await;
                    upkeep.run_upkeep();
                }
            });
            Some(handle)
        })
        .clone()
}

/// The text `/metrics` answers with.
pub fn render(handle: &PrometheusHandle) -> String {
    handle.run_upkeep();
    handle.render()
}
