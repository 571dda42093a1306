//! Wiring: watches with caches for TaskRuns, Pods (by label) and Tasks,
//! feeding one kube-runtime Controller.

use std::future::Future;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use minitask_api::{LABEL_TASKRUN, Task, TaskRun};
use tracing::info;

use crate::pod::PodOptions;
use crate::reconcile::{Context, error_policy, reconcile};
use crate::task_status::record_step_count;

/// How one controller process runs.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Watch one namespace, or all of them when None.
    pub namespace: Option<String>,
    pub pod_options: PodOptions,
}

/// Runs the controller until `shutdown` completes, then finishes the
/// reconciles in flight and returns.
pub async fn run(client: Client, config: Config, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let (taskruns, tasks, pods) = apis(&client, config.namespace.as_deref());
    let (run_store, run_writer) = reflector::store();
    let (task_store, task_writer) = reflector::store();
    let (pod_store, pod_writer) = reflector::store();

    let run_events = watcher(taskruns, watcher::Config::default())
        .default_backoff()
        .reflect(run_writer)
        .applied_objects();
    // Each Task passes by once per change: record its step count then.
    let counting_client = client.clone();
    let task_events = watcher(tasks, watcher::Config::default())
        .default_backoff()
        .reflect(task_writer)
        .applied_objects()
        .and_then(move |task| {
            let client = counting_client.clone();
            async move {
                record_step_count(&client, &task).await;
                Ok(task)
            }
        });
    // Only our pods: the label selector keeps the rest of the cluster's pods
    // out of the watch and the cache.
    let pod_config = watcher::Config::default().labels(LABEL_TASKRUN);
    let pod_events = watcher(pods, pod_config)
        .default_backoff()
        .reflect(pod_writer)
        .touched_objects();

    let ctx = Arc::new(Context::new(
        client,
        pod_store.clone(),
        task_store.clone(),
        config.pod_options,
    ));
    let waiting_runs = run_store.clone();
    info!(
        namespace = config.namespace.as_deref().unwrap_or("<all>"),
        "starting controller"
    );
    Controller::for_stream(run_events, run_store)
        .owns_stream(pod_events)
        .watches_stream(task_events, move |task| runs_waiting_for(&waiting_runs, &task))
        .graceful_shutdown_on(shutdown)
        .run(
            move |run, ctx| {
                let (pods, tasks) = (pod_store.clone(), task_store.clone());
                async move {
                    // Until both caches hold a full list, a missing pod or
                    // Task would be a false alarm.
                    let _ = futures::join!(pods.wait_until_ready(), tasks.wait_until_ready());
                    reconcile(run, ctx).await
                }
            },
            error_policy,
            ctx,
        )
        .for_each(|_| futures::future::ready(()))
        .await;
    info!("controller stopped");
}

fn apis(client: &Client, namespace: Option<&str>) -> (Api<TaskRun>, Api<Task>, Api<Pod>) {
    match namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (
            Api::all(client.clone()),
            Api::all(client.clone()),
            Api::all(client.clone()),
        ),
    }
}

/// The not-yet-started runs in `task`'s namespace that name it: a Task that
/// appears (or changes) wakes exactly those.
fn runs_waiting_for(runs: &Store<TaskRun>, task: &Task) -> Vec<ObjectRef<TaskRun>> {
    let namespace = task.namespace();
    runs.state()
        .iter()
        .filter(|run| run.namespace() == namespace && run.task_name() == Some(task.name_any().as_str()))
        .filter(|run| run.status.as_ref().is_none_or(|s| s.pod_name.is_none()))
        .map(|run| ObjectRef::from_obj(run.as_ref()))
        .collect()
}
