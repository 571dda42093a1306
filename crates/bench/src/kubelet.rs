//! A simulated kubelet: it binds each pod to a node and walks it through
//! what a real one reports (each step's container running, then
//! terminated with its exit code, in order; then the pod Succeeded or
//! Failed), writing pod status through the API. Every `fail_every`-th run
//! fails at its first step.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use minitask_api::LABEL_TASKRUN;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::observe::{Shared, lock};
use crate::plane::NAMESPACE;

#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// Every n-th run (by its number) fails at its first step; 0: none.
    pub fail_every: usize,
    /// A pause between two writes about one pod.
    pub between_writes: Duration,
    /// At most this many writes at once.
    pub in_flight: usize,
}

/// Drives every pod labelled with a run, until aborted.
pub fn start(client: &Client, timeline: &Shared, pace: Pace) -> tokio::task::JoinHandle<()> {
    let client = client.clone();
    let timeline = timeline.clone();
    tokio::spawn(async move {
        let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
        let writes = Arc::new(Semaphore::new(pace.in_flight.max(1)));
        let mut driven = HashSet::new();
        let config = watcher::Config::default().labels(LABEL_TASKRUN);
        let mut events = std::pin::pin!(watcher(pods.clone(), config));
        while let Some(event) = events.next().await {
            let Some(pod) = crate::observe::applied(event) else {
                continue;
            };
            if !driven.insert(pod.uid().unwrap_or_default()) {
                continue;
            }
            let (pods, writes, timeline) = (pods.clone(), writes.clone(), timeline.clone());
            tokio::spawn(async move {
                if let Err(e) = drive(&pods, &pod, pace, &writes, &timeline).await {
                    eprintln!("simulated kubelet: pod {}: {e}", pod.name_any());
                }
            });
        }
    })
}

async fn drive(pods: &Api<Pod>, pod: &Pod, pace: Pace, writes: &Semaphore, timeline: &Shared) -> anyhow::Result<()> {
    let name = pod.name_any();
    let run = pod.labels().get(LABEL_TASKRUN).cloned().unwrap_or_default();
    let number: usize = run.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let fails = pace.fail_every > 0 && number.is_multiple_of(pace.fail_every);
    let spec = pod.spec.clone().unwrap_or_default();
    let init: Vec<String> = spec.init_containers.iter().flatten().map(|c| c.name.clone()).collect();
    let main: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
    let all: Vec<&String> = init.iter().chain(&main).collect();
    {
        let _permit = writes.acquire().await?;
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                             "target": {"apiVersion": "v1", "kind": "Node", "name": "bench-node"}});
        pods.create_subresource::<Value, Value>("binding", &name, &PostParams::default(), &binding)
            .await?;
    }
    for current in 0..=all.len() {
        tokio::time::sleep(pace.between_writes).await;
        let failed_now = fails && current == 1;
        let state = |i: usize| -> Value {
            let now = Timestamp::from_second(Timestamp::now().as_second())
                .unwrap_or(Timestamp::UNIX_EPOCH)
                .to_string();
            match (i.cmp(&current), failed_now && i == 0) {
                (_, true) => {
                    json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}})
                }
                (std::cmp::Ordering::Less, _) => {
                    let message = (all[i] == "minitask-results").then_some("minitask-results ok 13\nversion 2\nv1\n");
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
        let patch = json!({"status": {
            "phase": phase,
            "initContainerStatuses": status_of(&init, 0),
            "containerStatuses": status_of(&main, init.len()),
        }});
        {
            let _permit = writes.acquire().await?;
            pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        if phase == "Failed" || phase == "Succeeded" {
            lock(timeline).pod_ended.entry(run).or_insert(Instant::now());
            return Ok(());
        }
    }
    Ok(())
}
