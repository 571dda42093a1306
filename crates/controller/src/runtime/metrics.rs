//! The controller's Prometheus metrics, served on `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `ok` or `error`.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabel {
    /// The kind of error (`Error::metric_label`).
    pub error: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The run's final `status.reason`.
    pub reason: String,
}

pub struct Metrics {
    registry: Registry,
    pub reconciles: Family<ResultLabel, Counter>,
    pub errors: Family<ErrorLabel, Counter>,
    pub reconcile_seconds: Histogram,
    pub finished: Family<ReasonLabel, Counter>,
    pub pipelines_finished: Family<ReasonLabel, Counter>,
    pub run_seconds: Histogram,
    pub pod_creation_seconds: Histogram,
    pub shards_held: Gauge,
    pub shards_agree: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("minitask");
        let reconciles = Family::<ResultLabel, Counter>::default();
        registry.register("reconciles", "Reconciles of TaskRuns, by result", reconciles.clone());
        let errors = Family::<ErrorLabel, Counter>::default();
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, by kind of error (panic is a bug)",
            errors.clone(),
        );
        // 1 ms to about 16 s.
        let reconcile_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register(
            "reconcile_duration_seconds",
            "How long one reconcile took",
            reconcile_seconds.clone(),
        );
        let finished = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "taskruns_finished",
            "TaskRuns that ended, by final reason (counted by the replica that wrote the end)",
            finished.clone(),
        );
        let pipelines_finished = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "pipelineruns_finished",
            "PipelineRuns that ended, by final reason (counted by the replica that wrote the end)",
            pipelines_finished.clone(),
        );
        // 1 s to about 9 h.
        let run_seconds = Histogram::new(exponential_buckets(1.0, 2.0, 16));
        registry.register(
            "taskrun_duration_seconds",
            "From a TaskRun's creation to its end",
            run_seconds.clone(),
        );
        // 10 ms to about 5 min.
        let pod_creation_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 15));
        registry.register(
            "taskrun_pod_creation_seconds",
            "From a TaskRun's creation to the creation of its pod",
            pod_creation_seconds.clone(),
        );
        let shards_held = Gauge::default();
        registry.register(
            "shards_held",
            "Shards this replica holds the lease of",
            shards_held.clone(),
        );
        let shards_agree = Gauge::default();
        registry.register(
            "shards_agree",
            "1 while every live replica has this replica's --shards, 0 while they disagree (no shard is worked then)",
            shards_agree.clone(),
        );
        Metrics {
            registry,
            reconciles,
            errors,
            reconcile_seconds,
            finished,
            pipelines_finished,
            run_seconds,
            pod_creation_seconds,
            shards_held,
            shards_agree,
        }
    }
}

impl Metrics {
    /// The OpenMetrics text that Prometheus scrapes.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }

    pub fn failed(&self, kind: &str) {
        self.errors.get_or_create(&ErrorLabel { error: kind.into() }).inc();
    }

    pub fn reconciled(&self, ok: bool, seconds: f64) {
        let result = if ok { "ok" } else { "error" };
        self.reconciles
            .get_or_create(&ResultLabel { result: result.into() })
            .inc();
        self.reconcile_seconds.observe(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_exposed() {
        let metrics = Metrics::default();
        metrics.reconciled(true, 0.01);
        metrics
            .finished
            .get_or_create(&ReasonLabel {
                reason: "Succeeded".into(),
            })
            .inc();
        metrics.shards_held.set(2);
        metrics.failed("panic");
        let text = metrics.encode();
        for want in [
            "minitask_reconciles_total{result=\"ok\"} 1",
            "minitask_reconcile_duration_seconds_count 1",
            "minitask_taskruns_finished_total{reason=\"Succeeded\"} 1",
            "minitask_taskrun_duration_seconds_count 0",
            "minitask_taskrun_pod_creation_seconds_count 0",
            "minitask_shards_held 2",
            "minitask_reconcile_errors_total{error=\"panic\"} 1",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
    }
}
