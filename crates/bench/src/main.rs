//! `minitask-bench` (run it with `cargo xtask bench`): how fast and how lean
//! the controller is. Each workload runs on a fresh etcd + kube-apiserver
//! with the controller as a separate release-built process; a simulated
//! kubelet moves the pods along; the ceiling is the same generator creating
//! the pods itself. It prints numbers and never fails on a time.

mod archive;
mod hooks;
mod report;
mod scale;
mod steps;
mod workload;

use std::time::Duration;

use clap::Parser;
use minitask_bench::{kubelet, load, observe, plane};

use crate::kubelet::Pace;
use crate::load::Arrival;
use crate::plane::Mode;
use crate::report::Row;
use crate::workload::Workload;

#[derive(Parser)]
#[command(about = "How fast and how lean the mini-task controller is (cargo xtask bench)")]
struct Args {
    /// Runs per burst.
    #[arg(long, default_value_t = 1000)]
    runs: usize,
    /// A short version: few runs, short steady phases, small scale.
    #[arg(long)]
    quick: bool,
    /// The smallest run that goes through every part of the bench (CI's):
    /// `--quick` sizes, one workload of each kind, the idle controller.
    #[arg(long)]
    smoke: bool,
    /// Print the rows as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Only the workloads whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Also measure bursts with 1, 2, 4, 8, 16 and 32 workers.
    #[arg(long)]
    sweep_workers: bool,
    /// Finished runs held by the idle controller of the scale workloads
    /// (10,000 unless given; 500 with --quick).
    #[arg(long)]
    finished: Option<usize>,
    /// Leave out the scale workloads (idle with many finished runs, big bursts).
    #[arg(long)]
    no_scale: bool,
    /// Instead: the step hand-off on the cluster of $KUBECONFIG (the local
    /// cluster, with mini-task deployed).
    #[arg(long)]
    kubelet: bool,
    /// The simulated kubelet's pause between two writes about one pod.
    #[arg(long, default_value = "0ms", value_parser = minitask_api::parse_duration)]
    kubelet_pace: Duration,
    /// Workers of the event-driven controller (its default unless given).
    #[arg(long, default_value_t = minitask_controller::DEFAULT_WORKERS)]
    workers: u16,
    /// Only the archive beside the controller: steady 100 runs/s for 10 s
    /// (with --quick: 2 s); does it keep up, its CPU and memory.
    #[arg(long)]
    archive: bool,
    /// With --archive: the store is a bucket on a real S3 server
    /// (SeaweedFS, from `cargo xtask testenv`) instead of a directory.
    #[arg(long, requires = "archive")]
    s3: bool,
    /// Only the webhook line: minitask-hooks taking signed deliveries at
    /// 200, 400 and 800 a second (with --quick: 200).
    #[arg(long)]
    hooks: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.kubelet {
        let (steps, single, floor) = steps::handoff().await?;
        println!(
            "20 steps, first note to last: {steps:.2}s ({:.0} ms per hand-off)",
            (steps - single).max(0.0) * 1000.0 / 19.0
        );
        println!("1 container running the same 20 notes: {single:.2}s");
        println!(
            "a plain pod of 20 containers, first start to last: {floor:.2}s ({:.0} ms per container: the kubelet starts them one at a time)",
            floor * 1000.0 / 19.0
        );
        return Ok(());
    }
    let pace = Pace {
        between_writes: args.kubelet_pace,
        in_flight: 64,
    };
    if args.archive {
        let seconds = if args.quick || args.smoke { 2 } else { 10 };
        return archive::run(100, seconds, pace, args.workers, args.s3).await;
    }
    let quick = args.quick || args.smoke;
    let (hook_rates, hook_seconds): (&[usize], usize) = match (args.smoke, quick) {
        (true, _) => (&[200], 1),
        (_, true) => (&[200], 2),
        _ => (&[200, 400, 800], 10),
    };
    if args.hooks {
        print!("{}", hooks::table(&hooks::run(hook_rates, hook_seconds).await?));
        return Ok(());
    }
    let n = if quick { 50 } else { args.runs };
    let (steady_seconds, big) = match (args.smoke, quick) {
        (true, _) => (2, vec![]),
        (_, true) => (2, vec![100, 200]),
        _ => (15, vec![1000, 5000, 10_000]),
    };
    let event = Mode::Event { workers: args.workers };
    let burst = |runs| Arrival::Burst { runs, in_flight: 32 };
    let plan: Vec<Workload> = [
        workloads(
            &format!("burst {n}: pod creation"),
            burst(n),
            1,
            false,
            false,
            &[None, Some(event)],
        ),
        workloads(
            &format!("burst {n}: lifecycle, 1 step"),
            burst(n),
            1,
            false,
            true,
            &[None, Some(event), Some(Mode::Poll)],
        ),
        workloads(
            &format!("burst {}: lifecycle, 20 steps", n / 5),
            burst(n / 5),
            20,
            false,
            true,
            &[None, Some(event)],
        ),
        workloads(
            &format!("burst {n}: lifecycle, 1 step, results"),
            burst(n),
            1,
            true,
            true,
            &[Some(event)],
        ),
        workloads(
            "steady 20/s: lifecycle",
            Arrival::Steady {
                per_second: 20,
                seconds: steady_seconds,
            },
            1,
            false,
            true,
            &[None, Some(event), Some(Mode::Poll)],
        ),
        workloads(
            "steady 100/s: lifecycle",
            Arrival::Steady {
                per_second: 100,
                seconds: steady_seconds.min(10),
            },
            1,
            false,
            true,
            &[None, Some(event)],
        ),
    ]
    .into_iter()
    .flatten()
    .chain(
        args.sweep_workers
            .then(|| {
                [1u16, 2, 4, 8, 16, 32].map(|workers| Workload {
                    name: format!("burst {n}: pod creation (workers sweep)"),
                    arrival: burst(n),
                    steps: 1,
                    results: false,
                    lifecycle: false,
                    mode: Some(Mode::Event { workers }),
                })
            })
            .into_iter()
            .flatten(),
    )
    .collect();
    let wanted = |name: &str| args.only.as_ref().is_none_or(|o| name.contains(o.as_str()));
    let mut rows: Vec<Row> = Vec::new();
    let in_smoke = |w: &&Workload| !args.smoke || smoke(w);
    for workload in plan.iter().filter(|w| wanted(&w.name)).filter(in_smoke) {
        eprintln!(
            "bench: {} · {}",
            workload.name,
            workload::controller_name(workload.mode)
        );
        let mut row = workload::run(workload, pace).await?;
        // Against the ceiling of the same workload, measured just before.
        if let Some(ceiling) = rows
            .iter()
            .find(|r| r.workload == row.workload && r.controller == "ceiling")
        {
            row.to_pod_of_ceiling = (ceiling.to_pod_per_s > 0.0).then(|| row.to_pod_per_s / ceiling.to_pod_per_s);
            row.to_end_of_ceiling = match (row.to_end_per_s, ceiling.to_end_per_s) {
                (Some(r), Some(c)) if c > 0.0 => Some(r / c),
                _ => None,
            };
        }
        rows.push(row);
    }
    if !args.no_scale {
        let finished = args.finished.unwrap_or(match (args.smoke, quick) {
            (true, _) => 100,
            (_, true) => 500,
            _ => 10_000,
        });
        let idle_name = format!("idle, {finished} finished runs");
        let idle = if args.smoke {
            scale::Idle::SMOKE
        } else {
            scale::Idle::FULL
        };
        let bursts: Vec<usize> = big
            .into_iter()
            .filter(|runs| wanted(&format!("scale: burst {runs}")))
            .collect();
        // Memory per run is counted above that of an idle, empty controller.
        let empty = match wanted(&idle_name) || !bursts.is_empty() {
            true => {
                eprintln!("bench: idle controller, empty cluster");
                Some(scale::idle(0, None, idle).await?.1)
            }
            false => None,
        };
        if wanted(&idle_name) {
            eprintln!("bench: {idle_name}");
            rows.push(scale::idle(finished, empty, idle).await?.0);
        }
        for runs in bursts {
            let workload = Workload {
                name: format!("scale: burst {runs}, pod creation"),
                arrival: burst(runs),
                steps: 1,
                results: false,
                lifecycle: false,
                mode: Some(event),
            };
            eprintln!("bench: {}", workload.name);
            let mut row = workload::run(&workload, pace).await?;
            row.kib_per_run = row
                .rss_mib
                .zip(empty)
                .map(|(rss, empty)| (rss * 1024.0 - empty as f64).max(0.0) / runs as f64);
            rows.push(row);
        }
    }
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&rows)?),
        false => print!("{}", report::table(&rows)),
    }
    if wanted("webhooks") && !args.json {
        eprintln!("bench: webhooks");
        print!("{}", hooks::table(&hooks::run(hook_rates, hook_seconds).await?));
    }
    Ok(())
}

/// The workloads of `--smoke`: the ceiling, the controller and the polling
/// baseline on the lifecycle of a burst, results, many steps, a steady
/// arrival; each other workload only repeats one of these with other sizes.
fn smoke(w: &Workload) -> bool {
    let event = matches!(w.mode, Some(Mode::Event { .. }));
    match (w.arrival, w.steps, w.results, w.lifecycle) {
        (Arrival::Burst { .. }, 1, false, true) => true,
        (Arrival::Burst { .. }, _, _, true) => event,
        (Arrival::Steady { per_second: 20, .. }, _, _, _) => event,
        _ => false,
    }
}

/// The same workload under each controller (None: the ceiling).
fn workloads(
    name: &str,
    arrival: Arrival,
    steps: usize,
    results: bool,
    lifecycle: bool,
    modes: &[Option<Mode>],
) -> Vec<Workload> {
    modes
        .iter()
        .map(|mode| Workload {
            name: name.to_string(),
            arrival,
            steps,
            results,
            lifecycle,
            mode: *mode,
        })
        .collect()
}
