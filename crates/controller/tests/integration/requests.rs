//! How much the controller asks of the API server: after its caches fill,
//! a whole run costs writes only, no GET or LIST.

use crate::common::{Running, StepState::*, World};
use minitask_api::Phase;
use minitask_controller::PodOptions;
use minitask_testenv::requests::RequestLog;
use minitask_testenv::{CONTROLLER_USER, ControlPlane};
use std::time::Duration;

/// A controller whose requests are logged, with a two-step Task `t`, once
/// its caches are full: those initial lists are the price of a cache,
/// paid once per process, not per run, and are not in the log.
async fn logged(name: &str) -> (World, RequestLog, Running) {
    let w = World::new(name).await;
    let (client, log) = RequestLog::client(ControlPlane::shared().config(Some(CONTROLLER_USER)).await);
    let controller = w.controller_with(client, PodOptions::default()).await;
    w.create_task("t", &[("a", "true"), ("b", "true")]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    log.take();
    (w, log, controller)
}

#[tokio::test]
async fn a_run_lifecycle_makes_no_reads_outside_the_watches() {
    let (w, log, _controller) = logged("requests").await;
    w.create_run("r", "t").await;
    let pod = w.pod("r").await;
    w.phase("r", Phase::Pending).await;
    w.kubelet(&pod, "Pending", &[Running, Waiting]).await;
    w.phase("r", Phase::Running).await;
    w.kubelet(&pod, "Succeeded", &[Exited(0), Exited(0)]).await;
    w.phase("r", Phase::Succeeded).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let requests = log.take();
    let reads: Vec<_> = requests.iter().filter(|r| r.is_read()).collect();
    assert!(reads.is_empty(), "reads in the steady state: {reads:?}");
    let creates: Vec<_> = requests.iter().filter(|r| r.verb == "create").collect();
    let pods = creates.iter().filter(|r| r.path.ends_with("/pods")).count();
    let events = creates.iter().filter(|r| r.path.ends_with("/events")).count();
    assert_eq!(
        (pods, events, creates.len()),
        (1, 1, 2),
        "one pod and a Succeeded Event: {creates:?}"
    );
    // One status write per change, as this pod is slow (the test waits for
    // each phase): Pending (once the write window has passed), Running
    // (first step), and Succeeded. A write
    // refused as stale (409) would be retried, not counted. (A ClusterTask
    // another test publishes meanwhile has its status written by every
    // controller: those writes are not this run's.)
    let writes: Vec<_> = requests
        .iter()
        .filter(|r| r.verb == "patch" && r.succeeded() && !r.path.contains("/events"))
        .filter(|r| !r.path.contains("/clustertasks/"))
        .collect();
    assert_eq!(writes.len(), 3, "status writes: {requests:?}");
    assert!(
        writes.iter().all(|w| w.path.ends_with("/taskruns/r/status")),
        "{writes:?}"
    );
}

/// A ClusterTask is resolved from the controller's cache, as a Task is:
/// its run makes no read either.
#[tokio::test]
async fn a_run_of_a_cluster_task_makes_no_reads_either() {
    let (w, log, _controller) = logged("requests-ctsk").await;
    let steps = serde_json::json!({"steps": [{"name": "a", "image": "busybox", "script": "true"}]});
    let shared = crate::cluster_tasks::Shared::create(&w, "t", steps).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    log.take();
    let reference = serde_json::json!({"taskRef": {"name": shared.name, "kind": "ClusterTask"}});
    w.create_run_with("r", reference).await;
    let pod = w.pod("r").await;
    w.kubelet(&pod, "Succeeded", &[Exited(0)]).await;
    w.phase("r", Phase::Succeeded).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let requests = log.take();
    let reads: Vec<_> = requests.iter().filter(|r| r.is_read()).collect();
    assert!(reads.is_empty(), "reads in the steady state: {reads:?}");
}

#[tokio::test]
async fn a_fast_pod_costs_one_status_write() {
    let (w, log, _controller) = logged("fast").await;

    w.create_run("r", "t").await;
    let pod = w.pod("r").await;
    // The pod runs its steps and ends within the controller's write window
    // (writes.rs): neither its creation nor its progress is written, its
    // end is.
    w.kubelet(&pod, "Pending", &[Running, Waiting]).await;
    w.kubelet(&pod, "Pending", &[Exited(0), Running]).await;
    w.kubelet(&pod, "Succeeded", &[Exited(0), Exited(0)]).await;
    w.phase("r", Phase::Succeeded).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let requests = log.take();
    let writes: Vec<_> = requests
        .iter()
        .filter(|r| r.verb == "patch" && r.path.ends_with("/taskruns/r/status"))
        .collect();
    assert_eq!(writes.len(), 1, "only the end: {writes:?}");
    assert!(
        writes.iter().all(|w| w.succeeded()),
        "no write refused as stale: {writes:?}"
    );
    let reads: Vec<_> = requests.iter().filter(|r| r.is_read()).collect();
    assert!(reads.is_empty(), "reads: {reads:?}");
}
