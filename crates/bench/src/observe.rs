//! When things happened, seen from outside the controller: when each run
//! was created (by the generator), when its pod appeared and when the run
//! ended (both through watches), when its pod ended (by the simulated
//! kubelet), and how many pods each run got.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use minitask_api::{LABEL_TASKRUN, TaskRun};
use minitask_controller::runtime::watches::WatchBackoff;

use crate::plane::NAMESPACE;

#[derive(Default)]
pub struct Timeline {
    pub created: HashMap<String, Instant>,
    pub pod_seen: HashMap<String, Instant>,
    pub pod_ended: HashMap<String, Instant>,
    pub run_ended: HashMap<String, Instant>,
    pub pods_of: HashMap<String, HashSet<String>>,
}

pub type Shared = Arc<Mutex<Timeline>>;

pub fn lock(timeline: &Shared) -> std::sync::MutexGuard<'_, Timeline> {
    timeline.lock().unwrap_or_else(|e| e.into_inner())
}

/// Watches pods (labelled with their run) and runs, filling `timeline`
/// until the returned handles are aborted.
pub fn start(client: &Client, timeline: &Shared) -> Vec<tokio::task::JoinHandle<()>> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let seen = timeline.clone();
    let pod_watch = tokio::spawn(async move {
        let config = watcher::Config::default().labels(LABEL_TASKRUN);
        let mut events = std::pin::pin!(watcher(pods, config).backoff(WatchBackoff::default()));
        while let Some(event) = events.next().await {
            let Some(pod) = crate::observe::applied(event) else {
                continue;
            };
            let Some(run) = pod.labels().get(LABEL_TASKRUN).cloned() else {
                continue;
            };
            let now = Instant::now();
            let mut t = lock(&seen);
            t.pod_seen.entry(run.clone()).or_insert(now);
            t.pods_of.entry(run).or_default().insert(pod.name_any());
        }
    });
    let runs: Api<TaskRun> = Api::namespaced(client.clone(), NAMESPACE);
    let ended = timeline.clone();
    let run_watch = tokio::spawn(async move {
        let mut events = std::pin::pin!(watcher(runs, watcher::Config::default()).backoff(WatchBackoff::default()));
        while let Some(event) = events.next().await {
            let Some(run) = crate::observe::applied(event) else {
                continue;
            };
            if run.phase().is_terminal() {
                lock(&ended).run_ended.entry(run.name_any()).or_insert(Instant::now());
            }
        }
    });
    vec![pod_watch, run_watch]
}

/// The object of a watch event that adds or changes one; errors (the
/// watcher retries by itself) and the rest are skipped.
pub fn applied<K>(event: Result<watcher::Event<K>, watcher::Error>) -> Option<K> {
    match event {
        Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => Some(object),
        _ => None,
    }
}
