//! Pods taken away under a run (evicted, force-deleted, stranded on a lost
//! node), sidecars that keep a pod running, and containers that cannot
//! start: each ends the attempt with its own reason, within a bounded time,
//! and is retried when that can help.

use std::time::Duration;

use crate::common::World;
use kube::api::DeleteParams;
use minitask_api::Phase;
use minitask_controller::PodOptions;
use serde_json::json;

#[tokio::test]
async fn an_evicted_pod_ends_the_attempt_as_evicted_and_is_retried() {
    let w = World::new("evicted").await;
    let _controller = w.controller().await;
    w.running("r", json!({"retries": 1})).await;
    // What a node drain does first: the pod is marked, then deleted.
    w.pod_status(
        "r-pod",
        json!({"conditions": [{
            "type": "DisruptionTarget", "status": "True",
            "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }]}),
    )
    .await;
    let retrying = w.run_status("r", "the retry", |s| s.retries_status.len() == 1).await;
    let attempt = &retrying.retries_status[0];
    assert_eq!(attempt.reason, "PodEvicted");
    assert!(attempt.message.contains("EvictionByEvictionAPI"), "{}", attempt.message);
    w.pod_named("r-pod-retry1").await;
    // The first attempt's pod was being drained: it is stopped, not left.
    w.stopped("r-pod").await;
}

#[tokio::test]
async fn a_force_deleted_pod_is_retried() {
    let w = World::new("force-deleted").await;
    let _controller = w.controller().await;
    w.running("r", json!({"retries": 1})).await;
    w.pods()
        .delete("r-pod", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    let retrying = w.run_status("r", "the retry", |s| s.retries_status.len() == 1).await;
    assert_eq!(retrying.retries_status[0].reason, "PodDeleted");
    w.pod_named("r-pod-retry1").await;
}

#[tokio::test]
async fn a_pod_terminating_long_past_its_grace_period_means_its_node_is_lost() {
    let w = World::new("node-lost").await;
    let _controller = w.controller().await;
    w.running("r", json!({})).await;
    // No kubelet confirms the end (none runs here, as on a dead node): the
    // pod stays Terminating and still says Running.
    w.pods()
        .delete("r-pod", &DeleteParams::default().grace_period(1))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let failed = w.phase("r", Phase::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("NodeLost"), "{failed:?}");
    assert!(
        failed
            .message
            .as_deref()
            .unwrap()
            .contains("past its grace period: its node node-1 is probably lost"),
        "{failed:?}"
    );
    let step = failed.steps[0].terminated.as_ref().expect("the step ended");
    assert_eq!(step.reason.as_deref(), Some("Stopped"));
    // Grace period 1 s + 10 s: bounded, not the run's timeout.
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_sidecar_does_not_keep_a_run_running_and_is_stopped_with_the_pod() {
    let w = World::new("sidecar").await;
    let _controller = w.controller().await;
    w.create_task("t", &[("a", "true"), ("b", "true")]).await;
    w.create_run("r", "t").await;
    let pod = w.pod("r").await;
    w.bind(&pod).await;
    // A mesh proxy injected as a regular container: still running after
    // the last step.
    let now = k8s_openapi::jiff::Timestamp::from_second(k8s_openapi::jiff::Timestamp::now().as_second())
        .unwrap()
        .to_string();
    let exited = |name: &str| {
        json!({"name": name, "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
               "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}})
    };
    let proxy = json!({"name": "istio-proxy", "image": "proxy", "imageID": "", "ready": true, "restartCount": 0,
                       "state": {"running": {"startedAt": now}}});
    w.pod_status(
        "r-pod",
        json!({"phase": "Running", "initContainerStatuses": [exited("minitask-prepare")], "containerStatuses": [exited("step-a"), exited("step-b"), proxy]}),
    )
    .await;
    let done = w.phase("r", Phase::Succeeded).await;
    assert_eq!(done.message.as_deref(), Some("all 2 steps succeeded"));
    w.stopped("r-pod").await;
}

#[tokio::test]
async fn a_container_that_cannot_start_ends_the_run_after_the_grace_period() {
    let w = World::new("config-error").await;
    let options = PodOptions {
        image_pull_grace: Duration::from_secs(3),
        ..PodOptions::default()
    };
    let _controller = w.controller_with_options(options).await;
    w.create_task("t", &[("a", "true")]).await;
    w.create_run("r", "t").await;
    let pod = w.pod("r").await;
    w.bind(&pod).await;
    let message = "couldn't find key password in Secret ns/db";
    w.pod_status(
        "r-pod",
        json!({"phase": "Pending", "containerStatuses": [{
            "name": "step-a", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "CreateContainerConfigError", "message": message}},
        }]}),
    )
    .await;
    let failed = w.phase("r", Phase::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("ContainerCreationFailed"));
    let text = failed.message.unwrap();
    assert!(
        text.contains(message) && text.starts_with("step \"a\" could not start for "),
        "{text}"
    );
}

#[tokio::test]
async fn a_reporter_that_cannot_start_is_not_a_reason_to_run_the_steps_again() {
    let w = World::new("reporter-pull").await;
    let _controller = w.controller().await;
    w.create_task_with(
        "t",
        json!({"results": [{"name": "digest"}], "steps": [{"name": "a", "image": "busybox", "script": "true"}]}),
    )
    .await;
    w.create_run_with("r", json!({"taskRef": {"name": "t"}, "retries": 2}))
        .await;
    let pod = w.pod("r").await;
    w.bind(&pod).await;
    w.pod_status(
        "r-pod",
        json!({"phase": "Running",
            "initContainerStatuses": [{"name": "minitask-prepare", "image": "minitask-controller:dev", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
            "containerStatuses": [{"name": "step-a", "image": "busybox", "imageID": "", "ready": true, "restartCount": 0,
                "state": {"running": {}}},
                {"name": "minitask-results", "image": "bad image", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "InvalidImageName", "message": "invalid reference format"}}}]}),
    )
    .await;
    let failed = w.phase("r", Phase::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("ResultsFailed"));
    assert!(failed.message.unwrap().contains("--launcher-image"));
    assert!(failed.retries_status.is_empty(), "the steps are not run again");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(w.pod_count().await, 1);
}
