//! `cargo xtask bench --archive [--s3]`: the archive (minitask-archive, a
//! process of its own, on a directory store or a bucket of a real S3
//! server) beside the controller while runs go
//! through their lifecycle at a steady rate: does it keep up, and what
//! does it cost. The simulated kubelet serves no logs, so each step's log
//! is recorded as lost (a read that fails), not stored: this measures the
//! watch, the record and the condition write, not log transfer.

use std::time::{Duration, Instant};

use anyhow::Context;
use kube::Api;
use kube::api::ListParams;
use minitask_api::TaskRun;
use minitask_bench::kubelet::{self, Pace};
use minitask_bench::load::{self, Arrival};
use minitask_bench::observe::{self, Shared, lock};
use minitask_bench::plane::{
    Controller, Mode, NAMESPACE, Plane, cpu_seconds, memory_kib, start_archive, start_archive_on,
};
use minitask_testenv::s3::{BUCKET, S3};

pub async fn run(per_second: usize, seconds: usize, pace: Pace, workers: u16, s3: bool) -> anyhow::Result<()> {
    let plane = Plane::start().await?;
    let spec = load::task_spec(1, false);
    load::create_task(&plane.client, "bench", &spec).await?;
    let timeline = Shared::default();
    let mut tasks = observe::start(&plane.client, &timeline);
    tasks.push(kubelet::start(&plane.client, &timeline, pace, kubelet::fail_every(10)));
    let controller = Controller::start(&plane, Mode::Event { workers }).await?;
    let store = std::env::temp_dir().join(format!("minitask-bench-archive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    // The S3 server lives until the end of this function.
    let (archive, _s3) = match s3 {
        false => (start_archive(&plane, &store, &[])?, None),
        true => {
            let server = S3::start()?;
            let env: Vec<(String, String)> = server
                .options()
                .into_iter()
                .map(|(k, v)| (k.to_ascii_uppercase(), v))
                .collect();
            let url = format!("s3://{BUCKET}/bench");
            (start_archive_on(&plane, &url, &env, &[])?, Some(server))
        }
    };
    let pid = archive.id().context("the archive has no pid")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu_before = cpu_seconds(pid);
    let arrival = Arrival::Steady { per_second, seconds };
    let runs = arrival.runs();
    let started = Instant::now();
    load::runs(&plane.client, "bench", arrival, &timeline).await?;
    let api: Api<TaskRun> = Api::namespaced(plane.client.clone(), NAMESPACE);
    let allowed = Duration::from_secs(120 + runs as u64 / 10);
    let (mut ended_at, mut archived) = (None, 0);
    while started.elapsed() < allowed {
        if ended_at.is_none() && lock(&timeline).run_ended.len() >= runs {
            ended_at = Some(started.elapsed());
        }
        let list = api.list(&ListParams::default()).await?;
        archived = list
            .items
            .iter()
            .filter(|r| {
                r.status
                    .as_ref()
                    .is_some_and(|s| minitask_api::is_archived(&s.conditions))
            })
            .count();
        if archived >= runs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all_archived = started.elapsed();
    let cpu = cpu_seconds(pid) - cpu_before;
    let (peak, now) = memory_kib(pid);
    let on = if s3 { "an S3 bucket (SeaweedFS)" } else { "a directory" };
    println!("archive on {on} beside the controller, steady {per_second}/s for {seconds}s ({runs} runs, 1 step each):");
    println!(
        "  archived {archived} of {runs}; all ended at {:.1}s, all archived at {:.1}s (lag behind the last end: {:.1}s)",
        ended_at.unwrap_or_default().as_secs_f64(),
        all_archived.as_secs_f64(),
        (all_archived.saturating_sub(ended_at.unwrap_or_default())).as_secs_f64()
    );
    println!(
        "  archive CPU {:.2} ms per archived run; RSS peak {:.1} MiB, at the end {:.1} MiB",
        cpu * 1000.0 / archived.max(1) as f64,
        peak as f64 / 1024.0,
        now as f64 / 1024.0
    );
    for task in tasks {
        task.abort();
    }
    controller.stop().await;
    drop(archive);
    let _ = std::fs::remove_dir_all(&store);
    tokio::task::spawn_blocking(move || drop(plane)).await?;
    Ok(())
}
