//! `cargo xtask archive-scale`: how the archive's reads scale with what it
//! holds. Fills a directory store with N archived runs of one namespace
//! (as the archiver writes them: record, pointers, one log each; ending
//! 100 a second by default, `scale N MS` for N runs MS apart), then times the reads the API makes: the first
//! page of a list (newest first, with and without a Task filter), a later
//! page, a run by name and a run's log. Prints the numbers.

use std::time::{Duration, Instant};

use minitask_api::TaskRun;
use minitask_archive::api::read;
use minitask_archive::api::route::{List, Log};
use minitask_archive::archiver::write_record;
use minitask_archive::keys::{Kind, RunKey};
use minitask_archive::record::{StepLog, taskrun_record};
use minitask_archive::store::{self, Store};

const NAMESPACE: &str = "team-a";

async fn fill(store: &Store, runs: usize, every_ms: i64) {
    let start_ms = 1_764_000_000_000;
    let mut writes = futures::stream::FuturesUnordered::new();
    for i in 0..runs {
        let store = store.clone();
        writes.push(async move {
            let name = format!("build-{i:06}");
            let uid = format!("0000-{i:06}");
            let run: TaskRun = serde_json::from_value(serde_json::json!({
                "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
                "metadata": {"name": name, "namespace": NAMESPACE, "uid": uid, "labels": {"n": (i % 10).to_string()}},
                "spec": {"taskRef": {"name": format!("task-{}", i % 20)}},
                "status": {"phase": if i % 7 == 0 { "Failed" } else { "Succeeded" }},
            }))
            .unwrap();
            let key = RunKey::new(Kind::TaskRun, NAMESPACE, &name, &uid, start_ms + i as i64 * every_ms).unwrap();
            let log_key = key.log(1, 0, "build");
            store::put(
                &store,
                &log_key,
                store::gzip(format!("step output of run {i}\n").repeat(20).as_bytes()),
            )
            .await
            .unwrap();
            let log = StepLog {
                attempt: 1,
                step: "build".into(),
                pod: format!("{name}-pod"),
                container: "step-build".into(),
                key: Some(log_key),
                bytes: 0,
                cut_bytes: 0,
                missing: None,
            };
            let record = taskrun_record(
                &run,
                vec![log],
                k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
                vec![],
            );
            write_record(&store, &key, &record).await.unwrap();
        });
        if writes.len() >= 64 {
            futures::StreamExt::next(&mut writes).await;
        }
    }
    while futures::StreamExt::next(&mut writes).await.is_some() {}
}

fn list(limit: usize, task: Option<&str>, after: Option<String>) -> List {
    List {
        kind: Kind::TaskRun,
        namespace: NAMESPACE.into(),
        limit,
        after,
        selector: Default::default(),
        task: task.map(str::to_string),
        phase: None,
    }
}

async fn timed<F, Fut, T>(label: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let _ = f().await;
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "{label:<44} p50 {:>7.1} ms   max {:>7.1} ms",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    // 10: runs ended at 100 a second, the bench's steady lifecycle.
    let every_ms: i64 = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(10);
    let dir = std::env::temp_dir().join(format!("minitask-archive-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = store::open(&format!("file://{}", dir.display()), &[])?;
    let start = Instant::now();
    fill(&store, runs, every_ms).await;
    let took = start.elapsed();
    println!(
        "filled: {runs} runs ending {every_ms} ms apart (record, 2 pointers, 1 log each) in {:.1} s: {:.0} runs/s written",
        took.as_secs_f64(),
        runs as f64 / took.as_secs_f64()
    );
    let store = &store;
    timed("first page, 50 newest", || async move {
        read::list(store, &list(50, None, None)).await.unwrap()
    })
    .await;
    timed("first page, 500 newest", || async move {
        read::list(store, &list(500, None, None)).await.unwrap()
    })
    .await;
    timed("first page of one Task, 50 newest", || async move {
        read::list(store, &list(50, Some("task-7"), None)).await.unwrap()
    })
    .await;
    let page = read::list(store, &list(50, None, None)).await.unwrap();
    let after = page.last.clone();
    timed("second page, 50", || {
        let after = after.clone();
        async move { read::list(store, &list(50, None, after)).await.unwrap() }
    })
    .await;
    let name = format!("build-{:06}", runs / 2);
    timed("a run by name", || {
        let name = name.clone();
        async move { read::newest(store, Kind::TaskRun, NAMESPACE, &name).await.unwrap() }
    })
    .await;
    timed("a run's log (by name)", || {
        let log = Log {
            namespace: NAMESPACE.into(),
            name: name.clone(),
            step: None,
            attempt: None,
            tail_lines: None,
        };
        async move { read::log(store, &log).await.unwrap() }
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
