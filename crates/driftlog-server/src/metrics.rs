//! Prometheus metrics (`/metrics`, OpenMetrics text). Counters and durations are this
//! process's own; the findings and last-success gauges are read from the store at each scrape,
//! so every worker sharing a store reports the same, current numbers.

use driftlog_store::service::{RunRecord, StackStatus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    kind: String,
    job: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    stack: String,
    environment: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StackLabels {
    stack: String,
    environment: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    target: String,
    result: String,
}

/// The service's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    runs: Family<RunLabels, Counter>,
    durations: Family<KindLabels, Histogram>,
    events: Counter,
    alerts: Family<AlertLabels, Counter>,
    findings: Family<FindingLabels, Gauge>,
    last_success: Family<StackLabels, Gauge<f64, AtomicU64>>,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 14))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("driftlog");
        let runs = Family::<RunLabels, Counter>::default();
        registry.register("runs", "Job runs by kind, job and outcome", runs.clone());
        let durations = Family::<KindLabels, Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        registry.register(
            "run_duration_seconds",
            "How long job runs take, by kind (stack, audit, compare)",
            durations.clone(),
        );
        let events = Counter::default();
        registry.register(
            "ingested_events",
            "Audit events stored by this process's ingest runs",
            events.clone(),
        );
        let alerts = Family::<AlertLabels, Counter>::default();
        registry.register(
            "alerts",
            "Alert delivery attempts by target and result (delivered, retry, dead)",
            alerts.clone(),
        );
        let findings = Family::<FindingLabels, Gauge>::default();
        registry.register(
            "open_findings",
            "Open findings by stack, environment and kind",
            findings.clone(),
        );
        let last_success = Family::<StackLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "last_success_timestamp_seconds",
            "When each stack's last run without an error finished",
            last_success.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            runs,
            durations,
            events,
            alerts,
            findings,
            last_success,
        }
    }

    /// Count a finished run.
    pub fn run_finished(&self, run: &RunRecord, elapsed: Duration) {
        let kind = run.job.split(':').next().unwrap_or("").to_owned();
        self.runs
            .get_or_create(&RunLabels {
                kind: kind.clone(),
                job: run.job.clone(),
                outcome: run.outcome.clone(),
            })
            .inc();
        self.durations
            .get_or_create(&KindLabels { kind })
            .observe(elapsed.as_secs_f64());
        if let Some(n) = run.summary.get("inserted").and_then(|v| v.as_u64()) {
            self.events.inc_by(n);
        }
    }

    pub fn alert(&self, target: &str, result: &str) {
        self.alerts
            .get_or_create(&AlertLabels {
                target: target.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    /// The text exposition, with the gauges set from `stacks`.
    pub fn encode(&self, stacks: &[StackStatus]) -> String {
        self.findings.clear();
        for s in stacks {
            for (kind, n) in [
                ("changed", s.changed),
                ("deleted", s.deleted),
                ("unmanaged", s.unmanaged),
            ] {
                self.findings
                    .get_or_create(&FindingLabels {
                        stack: s.stack.clone(),
                        environment: s.environment.clone(),
                        kind: kind.into(),
                    })
                    .set(n);
            }
            if let Some(t) = s.last_success_us {
                self.last_success
                    .get_or_create(&StackLabels {
                        stack: s.stack.clone(),
                        environment: s.environment.clone(),
                    })
                    .set(t as f64 / 1e6);
            }
        }
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}
