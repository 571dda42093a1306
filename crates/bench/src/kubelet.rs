//! A simulated kubelet: it binds each pod to a node and walks it through
//! what a real one reports (each step's container running, then
//! terminated with its exit code, in order; then the pod Succeeded or
//! Failed), writing pod status through the API. What happens to a pod is
//! its `Fate`, chosen per pod by the workload. Like a real kubelet it
//! keeps trying a write the API server did not take (a restart, a busy
//! moment), and it finishes the deletion of a pod deleted gracefully.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use minitask_api::LABEL_TASKRUN;
use minitask_controller::runtime::watches::WatchBackoff;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::observe::{Shared, lock};
use crate::plane::NAMESPACE;

#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// A pause between two writes about one pod.
    pub between_writes: Duration,
    /// At most this many writes at once.
    pub in_flight: usize,
}

/// What the simulated kubelet makes of one pod.
#[derive(Clone, Debug, PartialEq)]
pub enum Fate {
    /// Every container exits 0; the results reporter reports one result.
    Succeed,
    /// The first container exits 1.
    FailFirstStep,
    /// Every container exits 0, and the results reporter's termination
    /// message is this text (garbage, for the hostile workloads).
    Report(String),
}

/// Chooses each pod's fate.
pub type Fates = Arc<dyn Fn(&Pod) -> Fate + Send + Sync>;

/// The report every `Fate::Succeed` pod's reporter writes.
pub const REPORT: &str = "minitask-results ok 13\nversion 2\nv1\n";

/// The number at the end of a run's name (`bench-17` is 17).
pub fn run_number(pod: &Pod) -> usize {
    let run = pod.labels().get(LABEL_TASKRUN).map_or("", String::as_str);
    run.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(1)
}

/// Every `n`-th run (by its number) fails at its first step; 0: none.
pub fn fail_every(n: usize) -> Fates {
    Arc::new(move |pod: &Pod| match n > 0 && run_number(pod).is_multiple_of(n) {
        true => Fate::FailFirstStep,
        false => Fate::Succeed,
    })
}

/// Drives every pod labelled with a run, until aborted.
pub fn start(client: &Client, timeline: &Shared, pace: Pace, fates: Fates) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    let timeline = timeline.clone();
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
        let writes = Arc::new(Semaphore::new(pace.in_flight.max(1)));
        let mut driven = HashSet::new();
        // Owned by this task: aborting the kubelet stops every pod it
        // drives, so none outlives its control plane.
        let mut drives = tokio::task::JoinSet::new();
        let config = watcher::Config::default().labels(LABEL_TASKRUN);
        let mut events = std::pin::pin!(watcher(pods.clone(), config).backoff(WatchBackoff::default()));
        while let Some(event) = events.next().await {
            while drives.try_join_next().is_some() {}
            let Some(pod) = crate::observe::applied(event) else {
                continue;
            };
            if pod.metadata.deletion_timestamp.is_some() {
                // The containers are stopped at once: the pod can go.
                let pods = pods.clone();
                drives.spawn(async move { finish_deletion(&pods, &pod).await });
                continue;
            }
            if !driven.insert(pod.uid().unwrap_or_default()) {
                continue;
            }
            let (pods, writes, timeline, fate) = (pods.clone(), writes.clone(), timeline.clone(), fates(&pod));
            drives.spawn(async move {
                if let Err(e) = drive(&pods, &pod, &fate, pace, &writes, &timeline).await {
                    eprintln!("simulated kubelet: pod {}: {e}", pod.name_any());
                }
            });
        }
    })
}

/// How long a write is tried again before the kubelet gives up on a pod.
const PERSIST: Duration = Duration::from_secs(180);

/// Runs `write` until it succeeds. Ok(false): the pod is gone (404), or
/// another pod has its name now (409, 422: every write names the pod's UID, as
/// a real kubelet's do, so one pod's progress never lands on its
/// successor's). A 409 on a binding already made counts as done.
async fn persist<F, Fut>(what: &str, mut write: F) -> anyhow::Result<bool>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), kube::Error>>,
{
    let started = Instant::now();
    loop {
        match write().await {
            Ok(()) => return Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 && what == "binding" => return Ok(true),
            Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409 | 422) => return Ok(false),
            Err(e) if started.elapsed() < PERSIST => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => anyhow::bail!("{what}: still failing after {PERSIST:?}: {e}"),
        }
    }
}

async fn finish_deletion(pods: &Api<Pod>, pod: &Pod) {
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(kube::api::Preconditions {
            uid: pod.uid(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    let name = pod.name_any();
    let deleted = persist("deletion", || async {
        match pods.delete(&name, &params).await {
            // Another pod by now: not ours to delete.
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
            other => other.map(|_| ()),
        }
    });
    if let Err(e) = deleted.await {
        eprintln!("simulated kubelet: pod {name}: {e}");
    }
}

async fn drive(
    pods: &Api<Pod>,
    pod: &Pod,
    fate: &Fate,
    pace: Pace,
    writes: &Semaphore,
    timeline: &Shared,
) -> anyhow::Result<()> {
    let name = pod.name_any();
    let run = pod.labels().get(LABEL_TASKRUN).cloned().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let init: Vec<String> = spec.init_containers.iter().flatten().map(|c| c.name.clone()).collect();
    let main: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
    let all: Vec<&String> = init.iter().chain(&main).collect();
    let uid = pod.uid().unwrap_or_default();
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "uid": uid},
                         "target": {"apiVersion": "v1", "kind": "Node", "name": "bench-node"}});
    let bound = persist("binding", || async {
        let _permit = writes.acquire().await.expect("the semaphore is never closed");
        pods.create_subresource::<Value, Value>("binding", &name, &PostParams::default(), &binding)
            .await
            .map(|_| ())
    });
    if !bound.await? {
        return Ok(());
    }
    for current in 0..=all.len() {
        tokio::time::sleep(pace.between_writes).await;
        // The first step is the first container after the launcher's
        // init container.
        let first_step = init.len();
        let failed_now = *fate == Fate::FailFirstStep && current == first_step + 1;
        let report = match fate {
            Fate::Report(text) => text.as_str(),
            _ => REPORT,
        };
        let state = |i: usize| -> Value {
            let now = Timestamp::from_second(Timestamp::now().as_second())
                .unwrap_or(Timestamp::UNIX_EPOCH)
                .to_string();
            match (i.cmp(&current), failed_now && i == first_step) {
                (_, true) => {
                    json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}})
                }
                (std::cmp::Ordering::Less, _) => {
                    let message = (all[i] == "minitask-results").then_some(report);
                    json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now, "message": message}})
                }
                (std::cmp::Ordering::Equal, _) => json!({"running": {"startedAt": now}}),
                (std::cmp::Ordering::Greater, _) => json!({"waiting": {"reason": "PodInitializing"}}),
            }
        };
        let status_of = |names: &[String], offset: usize| -> Vec<Value> {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| json!({"name": n, "image": "busybox", "imageID": "", "ready": false, "restartCount": 0, "state": state(offset + i)}))
                .collect()
        };
        let phase = match (failed_now, current) {
            (true, _) => "Failed",
            (_, c) if c == all.len() => "Succeeded",
            (_, c) if c >= init.len() => "Running",
            _ => "Pending",
        };
        let patch = json!({"metadata": {"uid": uid}, "status": {
            "phase": phase,
            "initContainerStatuses": status_of(&init, 0),
            "containerStatuses": status_of(&main, init.len()),
        }});
        let written = persist("status", || async {
            let _permit = writes.acquire().await.expect("the semaphore is never closed");
            pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ())
        });
        if !written.await? {
            return Ok(());
        }
        if phase == "Failed" || phase == "Succeeded" {
            lock(timeline).pod_ended.entry(run).or_insert(Instant::now());
            return Ok(());
        }
    }
    Ok(())
}
