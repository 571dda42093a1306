//! The archive's own retention: records older than `--keep-days`, and all
//! but the newest `--keep-per-task` of each Task or Pipeline, are deleted
//! with their logs and pointers. The record goes last: a prune cut short
//! is found and finished by the next one.

use std::time::Duration;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tracing::{info, warn};

use crate::keys::{Kind, RunKey, kind_dir, runs_dir};
use crate::record::Record;
use crate::store::{self, Store};

#[derive(Clone, Copy, Debug, Default)]
pub struct Retention {
    pub max_age: Option<Duration>,
    pub keep_per_task: Option<usize>,
}

impl Retention {
    pub fn is_set(&self) -> bool {
        self.max_age.is_some() || self.keep_per_task.is_some()
    }
}

/// Prunes every `every` until the process ends, while `mine` says so (one
/// replica of several prunes: the holder of shard 0).
pub async fn run(store: Store, retention: Retention, every: Duration, mine: impl Fn() -> bool) {
    loop {
        if !mine() {
            tokio::time::sleep(every).await;
            continue;
        }
        let now_ms = k8s_openapi::jiff::Timestamp::now().as_millisecond();
        match prune(&store, retention, now_ms).await {
            Ok(0) => {}
            Ok(n) => info!(records = n, "pruned the archive"),
            Err(e) => warn!(error = %e, "pruning the archive failed; trying again later"),
        }
        tokio::time::sleep(every).await;
    }
}

async fn dirs(store: &Store, dir: &str) -> object_store::Result<Vec<String>> {
    Ok(store::list_dir(store, dir).await?.0)
}

async fn objects(store: &Store, dir: &str) -> object_store::Result<Vec<String>> {
    Ok(store::list_dir(store, dir).await?.1)
}

/// Every key two bucket levels under `dir`, newest first.
async fn bucketed(store: &Store, dir: &str) -> object_store::Result<Vec<String>> {
    let mut out = Vec::new();
    for b1 in dirs(store, dir).await? {
        for b2 in dirs(store, &b1).await? {
            out.extend(objects(store, &b2).await?);
        }
    }
    Ok(out)
}

/// One pass; returns how many records it deleted.
pub async fn prune(store: &Store, retention: Retention, now_ms: i64) -> object_store::Result<usize> {
    let mut deleted = 0;
    for namespace_dir in dirs(store, "v1").await? {
        let namespace = namespace_dir.rsplit('/').next().unwrap_or_default().to_string();
        for kind in [Kind::TaskRun, Kind::PipelineRun] {
            if let Some(age) = retention.max_age {
                let cutoff = now_ms.saturating_sub(age.as_millis() as i64);
                // Oldest last: stop at the first record that is young enough.
                for key in bucketed(store, &runs_dir(kind, &namespace)).await?.into_iter().rev() {
                    match RunKey::from_record(kind, &namespace, &key) {
                        Some(run) if run.ended_before(cutoff) => {
                            delete(store, &run, &key).await?;
                            deleted += 1;
                        }
                        Some(_) => break,
                        None => {}
                    }
                }
            }
            if let Some(keep) = retention.keep_per_task {
                let by = format!("{}/by", kind_dir(kind, &namespace));
                for task_dir in dirs(store, &by).await? {
                    for pointer in bucketed(store, &task_dir).await?.into_iter().skip(keep) {
                        let Some(target) = store::get(store, &pointer).await? else {
                            continue;
                        };
                        let record_key = String::from_utf8_lossy(&target).into_owned();
                        match RunKey::from_record(kind, &namespace, &record_key) {
                            Some(run) => {
                                delete(store, &run, &record_key).await?;
                                deleted += 1;
                            }
                            // A pointer to nothing we can read: drop it.
                            None => store.delete(&Path::from(pointer.as_str())).await?,
                        }
                    }
                }
            }
        }
    }
    Ok(deleted)
}

/// A run's pointers, logs, then its record.
async fn delete(store: &Store, run: &RunKey, record_key: &str) -> object_store::Result<()> {
    let task = match store::get(store, record_key).await? {
        Some(bytes) => store::gunzip(&bytes)
            .ok()
            .and_then(|json| serde_json::from_slice::<Record>(&json).ok())
            .and_then(|r| r.task),
        None => None,
    };
    let mut keys = vec![run.by_name()];
    if let Some(pointer) = task.and_then(|t| run.by_task(&t).ok()) {
        keys.push(pointer);
    }
    let logs: Vec<_> = store.list(Some(&Path::from(run.logs_dir()))).try_collect().await?;
    keys.extend(logs.into_iter().map(|m| m.location.to_string()));
    keys.push(record_key.to_string());
    for key in keys {
        match store.delete(&Path::from(key.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archiver::write_record;
    use crate::record::{StepLog, taskrun_record};
    use minitask_api::TaskRun;
    use serde_json::json;

    /// A record, one log and both pointers, as the archiver writes them.
    async fn archived(store: &Store, name: &str, task: &str, ended_ms: i64) -> RunKey {
        let run: TaskRun = serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}")},
            "spec": {"taskRef": {"name": task}},
        }))
        .unwrap();
        let key = RunKey::new(Kind::TaskRun, "ns", name, &format!("uid-{name}"), ended_ms).unwrap();
        let log = key.log(1, 0, "a");
        store::put(store, &log, store::gzip(b"hello\n")).await.unwrap();
        let logs = vec![StepLog {
            attempt: 1,
            step: "a".into(),
            pod: "p".into(),
            container: "c".into(),
            key: Some(log),
            bytes: 6,
            cut_bytes: 0,
            missing: None,
        }];
        let record = taskrun_record(
            &run,
            logs,
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
            vec![],
        );
        write_record(store, &key, &record).await.unwrap();
        key
    }

    async fn files(dir: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                match path.is_dir() {
                    true => stack.push(path),
                    false => out.push(path.strip_prefix(dir).unwrap().display().to_string()),
                }
            }
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn pruning_keeps_the_newest_per_task_and_the_young_and_leaves_nothing_of_the_rest() {
        let dir = std::env::temp_dir().join(format!("minitask-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = store::open(&format!("file://{}", dir.display()), &[]).unwrap();
        let day = 86_400_000;
        let now = 100 * day;
        for (i, name) in ["b-1", "b-2", "b-3", "b-4"].iter().enumerate() {
            archived(&store, name, "build", now - (10 - i as i64) * day).await;
        }
        let test = archived(&store, "t-1", "test", now - 9 * day).await;
        let keep_two = Retention {
            keep_per_task: Some(2),
            ..Retention::default()
        };
        assert_eq!(prune(&store, keep_two, now).await.unwrap(), 2);
        let left = files(&dir).await;
        for gone in ["b-1", "b-2"] {
            assert!(!left.iter().any(|f| f.contains(gone)), "{gone} left: {left:?}");
        }
        // b-3, b-4, t-1: a record, a log and two pointers each.
        assert_eq!(left.len(), 12, "{left:?}");
        assert_eq!(
            prune(&store, keep_two, now).await.unwrap(),
            0,
            "a second pass has nothing to do"
        );

        let eight_days = Retention {
            max_age: Some(Duration::from_secs(8 * 86_400)),
            ..Retention::default()
        };
        // t-1 ended 9 days ago and goes; b-3 ended exactly 8 days ago,
        // which is not older than 8 days, and stays (with b-4).
        assert_eq!(prune(&store, eight_days, now).await.unwrap(), 1);
        let left = files(&dir).await;
        assert!(!left.iter().any(|f| f.contains(&test.uid)), "{left:?}");
        assert_eq!(left.len(), 8, "{left:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
