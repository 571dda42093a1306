//! The numbers of one workload, and how they are printed: one table for
//! people, JSON for comparing runs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

/// p50, p90 and p99 of a sample, in milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

impl Percentiles {
    pub fn of(mut samples: Vec<Duration>) -> Option<Percentiles> {
        if samples.is_empty() {
            return None;
        }
        samples.sort();
        let at = |q: f64| {
            let index = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[index].as_secs_f64() * 1000.0
        };
        Some(Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
        })
    }

    fn text(self) -> String {
        format!("{} / {} / {}", ms(self.p50), ms(self.p90), ms(self.p99))
    }
}

fn ms(value: f64) -> String {
    match value {
        v if v >= 10_000.0 => format!("{:.0}s", v / 1000.0),
        v if v >= 100.0 => format!("{v:.0}"),
        v => format!("{v:.1}"),
    }
}

/// One workload's figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Row {
    pub workload: String,
    /// `ceiling`, `event (4 workers)`, `poll (5s)`.
    pub controller: String,
    pub runs: usize,
    /// Runs (or, for the ceiling, pods) per second, from the first create
    /// to the last pod seen.
    pub to_pod_per_s: f64,
    /// Of the ceiling measured in the same bench run.
    pub to_pod_of_ceiling: Option<f64>,
    /// From a run's creation to its pod appearing.
    pub create_to_pod_ms: Option<Percentiles>,
    /// Runs per second from the first create to the last run's end.
    pub to_end_per_s: Option<f64>,
    pub to_end_of_ceiling: Option<f64>,
    /// From the (simulated) kubelet's last write to the run's end.
    pub pod_end_to_run_end_ms: Option<Percentiles>,
    /// The controller's requests per run, by `verb resource`.
    pub requests_per_run: BTreeMap<String, f64>,
    pub cpu_ms_per_run: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    /// Resident memory at the end, and per run held.
    pub rss_mib: Option<f64>,
    pub kib_per_run: Option<f64>,
    /// Runs that got more than one pod, and runs that got none (or never
    /// ended) in the time allowed.
    pub duplicates: usize,
    pub lost: usize,
}

/// Runs per second over `runs` between `first` and `last`.
pub fn rate(runs: usize, first: Option<Instant>, last: Option<Instant>) -> f64 {
    match (first, last) {
        (Some(a), Some(b)) if b > a => runs as f64 / (b - a).as_secs_f64(),
        _ => 0.0,
    }
}

/// The table.
pub fn table(rows: &[Row]) -> String {
    let headers = [
        "WORKLOAD",
        "CONTROLLER",
        "RUNS",
        "TO POD/S",
        "CREATE→POD ms p50/p90/p99",
        "TO END/S",
        "POD END→RUN END ms p50/p90/p99",
        "CPU ms/RUN",
        "PEAK RSS MiB",
        "DUP",
        "LOST",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let ratio = |of: Option<f64>| of.map(|f| format!(" ({:.0}%)", f * 100.0)).unwrap_or_default();
            vec![
                r.workload.clone(),
                r.controller.clone(),
                r.runs.to_string(),
                format!("{:.0}{}", r.to_pod_per_s, ratio(r.to_pod_of_ceiling)),
                r.create_to_pod_ms.map_or("-".into(), Percentiles::text),
                r.to_end_per_s
                    .map_or("-".into(), |v| format!("{v:.0}{}", ratio(r.to_end_of_ceiling))),
                r.pod_end_to_run_end_ms.map_or("-".into(), Percentiles::text),
                r.cpu_ms_per_run.map_or("-".into(), |v| format!("{v:.2}")),
                r.peak_rss_mib.map_or("-".into(), |v| format!("{v:.0}")),
                r.duplicates.to_string(),
                r.lost.to_string(),
            ]
        })
        .collect();
    let mut out = aligned(&headers, &cells);
    out.push_str("\nAPI requests per run (the controller's, from the API server's audit log):\n");
    let requests: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| !r.requests_per_run.is_empty())
        .map(|r| {
            let list: Vec<String> = r.requests_per_run.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
            vec![format!("{} · {}", r.workload, r.controller), list.join(", ")]
        })
        .collect();
    out.push_str(&aligned(&["WORKLOAD", "REQUESTS/RUN"], &requests));
    let memory: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r.kib_per_run.is_some())
        .map(|r| {
            vec![
                format!("{} · {}", r.workload, r.controller),
                r.rss_mib.map_or("-".into(), |v| format!("{v:.1}")),
                r.kib_per_run.map_or("-".into(), |v| format!("{v:.2}")),
            ]
        })
        .collect();
    if !memory.is_empty() {
        out.push_str("\nMemory held:\n");
        out.push_str(&aligned(&["WORKLOAD", "RSS MiB", "KiB/RUN"], &memory));
    }
    out
}

fn aligned(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            out.push_str(c);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(samples).unwrap();
        assert_eq!((p.p50, p.p90, p.p99), (50.0, 90.0, 99.0));
        assert!(Percentiles::of(Vec::new()).is_none());
        let one = Percentiles::of(vec![Duration::from_millis(7)]).unwrap();
        assert_eq!((one.p50, one.p99), (7.0, 7.0));
    }
}
