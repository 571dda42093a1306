//! The watches that record, from outside the controller, everything the
//! checks read: every status each run (each UID) showed and every pod each
//! run got. They ride out API server restarts (the watcher lists again),
//! as a real client does.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use minitask_api::{LABEL_TASKRUN, TaskRun};
use minitask_bench::plane::NAMESPACE;
use minitask_controller::runtime::watches::WatchBackoff;

use crate::check::Record;

#[derive(Default)]
pub struct Log {
    pub record: Record,
}

#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Log>>);

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Log> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Starts the watches; they run until the handles are aborted.
pub fn start(client: &Client, log: &Shared) -> Vec<tokio::task::JoinHandle<()>> {
    let runs: Api<TaskRun> = Api::namespaced(client.clone(), NAMESPACE);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let (run_log, pod_log) = (log.clone(), log.clone());
    let run_watch = tokio::spawn(async move {
        let mut events = std::pin::pin!(watcher(runs, watcher::Config::default()).backoff(WatchBackoff::default()));
        // A run deleted while the watch was down shows no Delete: it is
        // missing from the next list.
        let mut listed = std::collections::HashSet::new();
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Init) => listed.clear(),
                Ok(watcher::Event::InitApply(run)) => {
                    listed.insert(run.uid().unwrap_or_default());
                    saw_run(&run_log, &run);
                }
                Ok(watcher::Event::InitDone) => {
                    let mut log = run_log.lock();
                    for (uid, seen) in log.record.runs.iter_mut() {
                        seen.deleted |= !listed.contains(uid);
                    }
                }
                Ok(watcher::Event::Apply(run)) => saw_run(&run_log, &run),
                Ok(watcher::Event::Delete(run)) => {
                    let mut log = run_log.lock();
                    if let Some(seen) = log.record.runs.get_mut(&run.uid().unwrap_or_default()) {
                        seen.deleted = true;
                    }
                }
                _ => {}
            }
        }
    });
    let pod_watch = tokio::spawn(async move {
        let config = watcher::Config::default().labels(LABEL_TASKRUN);
        let mut events = std::pin::pin!(watcher(pods.clone(), config).backoff(WatchBackoff::default()));
        while let Some(event) = events.next().await {
            let Some(pod) = minitask_bench::observe::applied(event) else {
                continue;
            };
            saw_pod(&pod_log, &pod);
        }
    });
    vec![run_watch, pod_watch]
}

fn saw_run(log: &Shared, run: &TaskRun) {
    let now = Instant::now();
    let mut log = log.lock();
    let seen = log.record.runs.entry(run.uid().unwrap_or_default()).or_default();
    seen.name = run.name_any();
    seen.created.get_or_insert(now);
    let status = run.status.clone().unwrap_or_default();
    let state = (status.phase, status.reason);
    if seen.states.last() == Some(&state) {
        return;
    }
    if state.0.is_some_and(|p| p.is_terminal()) {
        seen.ended.get_or_insert(now);
    }
    seen.states.push(state);
}

fn saw_pod(log: &Shared, pod: &Pod) {
    let owner = pod
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.clone())
        .unwrap_or_default();
    let mut log = log.lock();
    let uids = log.record.pods.entry((owner, pod.name_any())).or_default();
    uids.insert(pod.uid().unwrap_or_default());
}
