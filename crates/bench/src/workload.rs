//! One workload on a fresh control plane: the controller (or, for the
//! ceiling, the generator itself) turns runs into pods, the simulated
//! kubelet walks the pods to their end, and the timeline and the audit log
//! say how it went.

use std::time::{Duration, Instant};

use crate::kubelet::{self, Pace};
use crate::load::{self, Arrival};
use crate::observe::{self, Shared, lock};
use crate::plane::{Controller, Mode, Plane};
use crate::report::{Percentiles, Row, rate};

#[derive(Clone, Debug)]
pub struct Workload {
    pub name: String,
    pub arrival: Arrival,
    pub steps: usize,
    pub results: bool,
    /// Whether the simulated kubelet walks the pods to their end.
    pub lifecycle: bool,
    /// The controller, or None for the ceiling.
    pub mode: Option<Mode>,
}

pub fn controller_name(mode: Option<Mode>) -> String {
    match mode {
        None => "ceiling".into(),
        Some(Mode::Event { workers }) => format!("event ({workers} workers)"),
        Some(Mode::Poll) => "poll (5s)".into(),
    }
}

/// Runs `workload` and returns its figures.
pub async fn run(workload: &Workload, pace: Pace) -> anyhow::Result<Row> {
    let plane = Plane::start().await?;
    let spec = load::task_spec(workload.steps, workload.results);
    load::create_task(&plane.client, "bench", &spec).await?;
    let timeline = Shared::default();
    let mut tasks = observe::start(&plane.client, &timeline);
    if workload.lifecycle {
        // One run in ten fails its first step.
        tasks.push(kubelet::start(&plane.client, &timeline, pace, kubelet::fail_every(10)));
    }
    let controller = match workload.mode {
        Some(mode) => Some(Controller::start(&plane, mode).await?),
        None => None,
    };
    // Caches full and quiet: only the work of this workload counts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let skip = plane.audit_lines();
    let cpu_before = controller.as_ref().map(Controller::cpu_seconds);
    let runs = workload.arrival.runs();
    match workload.mode {
        Some(_) => load::runs(&plane.client, "bench", workload.arrival, &timeline).await?,
        None => load::pods(&plane.client, &spec, workload.arrival, &timeline).await?,
    }
    let done = |t: &observe::Timeline| match (workload.lifecycle, workload.mode) {
        (false, _) => t.pod_seen.len(),
        (true, Some(_)) => t.run_ended.len(),
        (true, None) => t.pod_ended.len(),
    };
    let allowed = Duration::from_secs(60 + runs as u64 / 10);
    let started = Instant::now();
    while done(&lock(&timeline)) < runs && started.elapsed() < allowed {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Late duplicates land, and the writes held back for the controller's
    // write window, so that the requests per run count them.
    tokio::time::sleep(minitask_controller::WRITE_WINDOW + Duration::from_millis(500)).await;
    let mut row = Row {
        workload: workload.name.clone(),
        controller: controller_name(workload.mode),
        runs,
        ..Row::default()
    };
    if let (Some(controller), Some(before)) = (&controller, cpu_before) {
        row.cpu_ms_per_run = Some((controller.cpu_seconds() - before) * 1000.0 / runs as f64);
        let (peak, now) = controller.memory_kib();
        row.peak_rss_mib = Some(peak as f64 / 1024.0);
        row.rss_mib = Some(now as f64 / 1024.0);
        row.requests_per_run = plane
            .requests(skip)?
            .into_iter()
            .map(|(k, v)| (k, v as f64 / runs as f64))
            .collect();
    }
    figures(&lock(&timeline), workload, &mut row);
    for task in tasks {
        task.abort();
    }
    if let Some(controller) = controller {
        controller.stop().await;
    }
    tokio::task::spawn_blocking(move || drop(plane)).await?;
    Ok(row)
}

/// Rates, latencies, duplicates and losses from the timeline.
fn figures(t: &observe::Timeline, workload: &Workload, row: &mut Row) {
    let first = t.created.values().min().copied();
    row.to_pod_per_s = rate(row.runs, first, t.pod_seen.values().max().copied());
    let latency = |from: &std::collections::HashMap<String, Instant>,
                   to: &std::collections::HashMap<String, Instant>| {
        let samples: Vec<Duration> = from
            .iter()
            .filter_map(|(run, at)| Some(to.get(run)?.saturating_duration_since(*at)))
            .collect();
        Percentiles::of(samples)
    };
    row.create_to_pod_ms = latency(&t.created, &t.pod_seen);
    row.duplicates = t.pods_of.values().filter(|pods| pods.len() > 1).count();
    let ended = match workload.mode {
        Some(_) => &t.run_ended,
        None => &t.pod_ended,
    };
    if workload.lifecycle {
        row.to_end_per_s = Some(rate(row.runs, first, ended.values().max().copied()));
        if workload.mode.is_some() {
            row.pod_end_to_run_end_ms = latency(&t.pod_ended, &t.run_ended);
        }
        row.lost = row.runs.saturating_sub(ended.len());
    } else {
        row.lost = row.runs.saturating_sub(t.pod_seen.len());
    }
}
