//! archive kill -9: a burst of runs while the archive (two replicas of
//! minitask-archive sharing the runs by shard Leases, beside one
//! controller) is killed with SIGKILL again and again, one replica at a
//! time, and its store goes away for a while in the middle. Then: every
//! run that ended is archived exactly once (one record per run), and every
//! step of every attempt is in its record (its log, or why there is none:
//! the simulated kubelet serves no logs).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kube::ResourceExt;
use kube::api::{Api, ListParams};
use minitask_api::TaskRun;
use minitask_archive::follow::ARCHIVE;
use minitask_archive::keys::{Kind, runs_dir};
use minitask_archive::record::Record;
use minitask_bench::plane::{NAMESPACE, Plane, start_archive};
use tokio::process::Child;

use super::Settings;
use crate::replica::{Replica, Spec};
use crate::rng::Rng;
use crate::stage::Stage;
use crate::table::Row;

pub async fn archive(s: &Settings) -> anyhow::Result<Row> {
    let mut stage = Stage::new().await?;
    let spec = Spec::new(0, "archive", 1, s.lease);
    stage.members.push(spec.member());
    let mut replica = Replica::start(&stage.plane, &spec).await?;
    let store = std::env::temp_dir().join(format!("minitask-chaos-archive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    std::fs::create_dir_all(&store)?;
    // Two replicas, 4 shards: a killed replica's shards go to the other
    // when its Leases lapse, and come back when it returns.
    let mut archives = vec![
        replica_of_archive(&stage.plane, &store, s.lease, 0)?,
        replica_of_archive(&stage.plane, &store, s.lease, 1)?,
    ];
    let runs = stage.plain(1, s.runs);
    let burst = stage.burst(runs);
    let mut rng = Rng::new(s.seed);
    for k in 0..s.kills {
        tokio::time::sleep(rng.between(Duration::from_millis(300), Duration::from_millis(2000))).await;
        let who = k % 2;
        let _ = archives[who].kill().await;
        stage.fault();
        tokio::time::sleep(rng.between(Duration::ZERO, Duration::from_millis(500))).await;
        archives[who] = replica_of_archive(&stage.plane, &store, s.lease, who)?;
        if k == s.kills / 2 {
            outage(&store).await?;
            stage.fault();
        }
        // One that started while the store was away waits for it.
        for (who, archive) in archives.iter_mut().enumerate() {
            if !matches!(archive.try_wait(), Ok(None)) {
                stage.problems.push("an archive replica exited on its own".into());
                *archive = replica_of_archive(&stage.plane, &store, s.lease, who)?;
            }
        }
    }
    burst.await??;
    stage.drain(s.drain).await;
    let waited = Instant::now();
    let problems = archived_once(&stage, &store, s.drain).await?;
    stage.notes.push(format!(
        "{} kills of one of 2 archive replicas and a 3 s store outage; every ended run was archived {:.1}s after the runs drained",
        s.kills,
        waited.elapsed().as_secs_f64()
    ));
    stage.problems.extend(problems);
    // The replicas share: two shards each, within a few Lease rounds of
    // the last restart.
    let among = ["archive-0", "archive-1"];
    match stage.balanced_of(ARCHIVE, 4, &among, s.lease * 4).await {
        Ok(took) => stage.notes.push(format!(
            "the archive's 4 shards are held two each by {among:?} ({:.1}s after the runs were archived)",
            took.as_secs_f64()
        )),
        Err(e) => stage
            .problems
            .push(format!("the archive replicas do not share the shards two each: {e:#}")),
    }
    for archive in &mut archives {
        if !matches!(archive.try_wait(), Ok(None)) {
            stage.problems.push("an archive replica exited on its own".into());
        }
        let _ = archive.kill().await;
    }
    if !replica.alive() {
        stage.problems.push("the controller exited on its own".into());
    }
    let _ = std::fs::remove_dir_all(&store);
    Ok(stage.finish("archive kill -9"))
}

/// Archive replica `who` of two, sharing 4 shards.
fn replica_of_archive(plane: &Plane, store: &Path, lease: Duration, who: usize) -> anyhow::Result<Child> {
    let args = [
        "--leader-elect=true".to_string(),
        "--shards=4".into(),
        format!("--lease-duration={}s", lease.as_secs().max(1)),
        format!("--identity=archive-{who}"),
    ];
    start_archive(plane, store, &args)
}

/// The store's directory replaced by a file for 3 s: every write fails.
async fn outage(store: &Path) -> anyhow::Result<()> {
    let away = store.with_extension("away");
    std::fs::rename(store, &away)?;
    std::fs::write(store, "the store is down")?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    std::fs::remove_file(store)?;
    std::fs::rename(&away, store)?;
    Ok(())
}

/// Waits (at most `bound`) until every ended run says it is archived, then
/// checks the store: one record per run, every step accounted for.
async fn archived_once(stage: &Stage, store: &Path, bound: Duration) -> anyhow::Result<Vec<String>> {
    let api: Api<TaskRun> = Api::namespaced(stage.plane.client.clone(), NAMESPACE);
    let deadline = Instant::now() + bound;
    let ended = loop {
        let runs = api.list(&ListParams::default()).await?.items;
        let ended: Vec<TaskRun> = runs.into_iter().filter(|r| r.phase().is_terminal()).collect();
        let waiting = ended
            .iter()
            .filter(|r| {
                !r.status
                    .as_ref()
                    .is_some_and(|s| minitask_api::is_archived(&s.conditions))
            })
            .count();
        if waiting == 0 || Instant::now() > deadline {
            break ended;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut problems = Vec::new();
    let records = record_files(&store.join(runs_dir(Kind::TaskRun, NAMESPACE)));
    for run in &ended {
        let name = run.name_any();
        let status = run.status.clone().unwrap_or_default();
        if !minitask_api::is_archived(&status.conditions) {
            problems.push(format!("run {name} ended but was never archived"));
            continue;
        }
        let uid = run.uid().unwrap_or_default();
        let mine: Vec<&PathBuf> = records
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(&format!(".{uid}.json.gz")))
            .collect();
        if mine.len() != 1 {
            problems.push(format!("run {name} has {} records in the archive, not 1", mine.len()));
            continue;
        }
        let record: Option<Record> = std::fs::read(mine[0])
            .ok()
            .and_then(|b| minitask_archive::store::gunzip(&b).ok())
            .and_then(|j| serde_json::from_slice(&j).ok());
        let Some(record) = record else {
            problems.push(format!("run {name}: its record cannot be read (torn?)"));
            continue;
        };
        let steps = status.steps.len() + status.retries_status.iter().map(|a| a.steps.len()).sum::<usize>();
        let accounted = record
            .logs
            .iter()
            .filter(|l| l.key.is_some() || l.missing.is_some())
            .count();
        if accounted != steps {
            problems.push(format!(
                "run {name}: {accounted} of its {steps} step logs are accounted for in its record"
            ));
        }
    }
    Ok(problems)
}

/// Every record file under `dir` (staging files of a cut write excluded:
/// object_store names them `<key>#<n>`).
fn record_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".json.gz") {
                out.push(path);
            }
        }
    }
    out
}
