//! Cancellation and timeouts: the run ends with its reason, its steps are
//! stopped, and its pod (with the logs) is kept.

use crate::common::{StepState::*, World};
use kube::api::{Patch, PatchParams, PostParams};
use minitask_api::{Phase, TaskRun};
use serde_json::json;

async fn cancel(w: &World, run: &str) {
    w.cancel(run).await;
}

#[tokio::test]
async fn cancelling_a_running_run_stops_its_pod_and_keeps_it() {
    let w = World::new("cancel").await;
    let _controller = w.controller().await;
    w.running("r", json!({})).await;

    cancel(&w, "r").await;
    let cancelled = w.phase("r", Phase::Failed).await;
    assert_eq!(cancelled.reason.as_deref(), Some("Cancelled"));
    assert_eq!(cancelled.conditions[0].status, "False");
    let step = cancelled.steps[0].terminated.as_ref().expect("the step ended");
    assert_eq!(step.reason.as_deref(), Some("Stopped"), "never frozen as running");
    // The kubelet is told to stop the steps.
    w.stopped("r-pod").await;
    assert_eq!(w.pod_count().await, 1);
}

#[tokio::test]
async fn a_run_cancelled_before_it_starts_never_gets_a_pod() {
    let w = World::new("cancel-early").await;
    let _controller = w.controller().await;
    w.create_run("r", "missing").await;
    w.run_status("r", "TaskNotFound", |s| s.reason.as_deref() == Some("TaskNotFound"))
        .await;
    cancel(&w, "r").await;
    let cancelled = w.phase("r", Phase::Failed).await;
    assert_eq!(cancelled.reason.as_deref(), Some("Cancelled"));
    w.create_task("missing", &[("a", "true")]).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(w.pod_count().await, 0, "a cancelled run never starts");
}

#[tokio::test]
async fn the_timeout_counts_pending_time_and_says_why_the_run_never_started() {
    let w = World::new("timeout").await;
    let _controller = w.controller().await;
    w.create_task("t", &[("a", "true")]).await;
    let run: TaskRun = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
        "metadata": {"name": "slow"}, "spec": {"taskRef": {"name": "t"}, "timeout": "3s"}
    }))
    .unwrap();
    w.runs().create(&PostParams::default(), &run).await.unwrap();
    let pod = w.pod("slow").await;
    w.bind(&pod).await;
    // The kubelet cannot pull the image: the pod never leaves Pending.
    let waiting = json!({"status": {"phase": "Pending", "containerStatuses": [{
        "name": "step-a", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ErrImagePull", "message": "pull access denied"}}
    }]}});
    w.pods()
        .patch_status("slow-pod", &PatchParams::default(), &Patch::Merge(&waiting))
        .await
        .unwrap();

    let timed_out = w.phase("slow", Phase::Failed).await;
    assert_eq!(timed_out.reason.as_deref(), Some("Timeout"));
    let message = timed_out.message.unwrap();
    assert!(message.contains("spec.timeout (3s) of its creation"), "{message}");
    assert!(
        message.contains("still pending: step \"a\" is waiting: ErrImagePull: pull access denied"),
        "{message}"
    );
    w.stopped("slow-pod").await;
}

#[tokio::test]
async fn only_cancelled_may_change_and_only_to_true() {
    let w = World::new("mutable").await;
    w.create_run("r", "t").await;
    let reject = |patch: serde_json::Value| {
        let runs = w.runs();
        async move {
            match runs.patch("r", &PatchParams::default(), &Patch::Merge(&patch)).await {
                Err(kube::Error::Api(e)) => e.message,
                other => panic!("{patch} was not rejected: {other:?}"),
            }
        }
    };
    let message = reject(json!({"spec": {"timeout": "5m"}})).await;
    assert!(
        message.contains("spec.timeout") && message.contains("only spec.cancelled can change"),
        "{message}"
    );
    let message = reject(json!({"spec": {"serviceAccountName": "other"}})).await;
    assert!(
        message.contains("spec.serviceAccountName") && message.contains("only spec.cancelled can change"),
        "{message}"
    );
    let message = reject(json!({"spec": {"params": [{"name": "p", "value": "added"}]}})).await;
    assert!(message.contains("spec.params"), "{message}");
    // A param value has no type in the schema; it is still fixed.
    let with_params = json!({"taskRef": {"name": "t"}, "params": [{"name": "p", "value": ["a"]}]});
    w.create_run_with("p", with_params).await;
    let patch = json!({"spec": {"params": [{"name": "p", "value": ["b"]}]}});
    match w
        .runs()
        .patch("p", &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Err(kube::Error::Api(e)) => assert!(e.message.contains("spec.params"), "{}", e.message),
        other => panic!("a param value was changed: {other:?}"),
    }
    let message = reject(json!({"spec": {"retries": 3}})).await;
    assert!(message.contains("spec.retries"), "{message}");
    cancel(&w, "r").await;
    let message = reject(json!({"spec": {"cancelled": false}})).await;
    assert!(
        message.contains("spec.cancelled") && message.contains("cannot be resumed"),
        "{message}"
    );
}

#[tokio::test]
async fn cancelling_a_run_whose_pod_no_node_took_deletes_the_pod() {
    let w = World::new("cancel-unscheduled").await;
    let _controller = w.controller().await;
    w.create_task("t", &[("a", "true"), ("b", "true")]).await;
    w.create_run("r", "t").await;
    w.pod("r").await;
    w.phase("r", Phase::Pending).await;
    // Nothing schedules it (no scheduler here, as with an unsatisfiable
    // nodeSelector): it must not linger, holding quota.
    cancel(&w, "r").await;
    let cancelled = w.phase("r", Phase::Failed).await;
    assert_eq!(cancelled.reason.as_deref(), Some("Cancelled"));
    assert!(
        cancelled
            .steps
            .iter()
            .all(|s| s.waiting.is_none() && s.running.is_none() && s.terminated.is_none()),
        "no step ran: {:?}",
        cancelled.steps
    );
    minitask_testenv::eventually("the pod to be deleted", crate::common::WAIT, || async {
        (w.pod_count().await == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_end_of_a_run_is_written_before_its_pod_is_stopped() {
    use minitask_controller::PodOptions;
    use minitask_testenv::requests::RequestLog;
    use minitask_testenv::{CONTROLLER_USER, ControlPlane};
    let w = World::new("status-first").await;
    let (client, log) = RequestLog::client(ControlPlane::shared().config(Some(CONTROLLER_USER)).await);
    let _controller = w.controller_with(client, PodOptions::default()).await;
    w.running("r", json!({})).await;
    log.take();

    cancel(&w, "r").await;
    w.phase("r", Phase::Failed).await;
    w.stopped("r-pod").await;
    // A controller that dies between the two leaves a status that already
    // says Cancelled: the pod's later DeadlineExceeded cannot make it a
    // Timeout.
    let requests = log.take();
    let at = |path: &str| {
        requests
            .iter()
            .position(|r| r.verb == "patch" && r.succeeded() && r.path.ends_with(path))
            .unwrap_or_else(|| panic!("no patch of {path}: {requests:?}"))
    };
    assert!(
        at("/taskruns/r/status") < at("/pods/r-pod"),
        "the status is written first: {requests:?}"
    );
}

#[tokio::test]
async fn a_cancelled_run_is_not_retried_even_if_its_attempt_fails_at_that_moment() {
    let w = World::new("cancel-retry").await;
    let controller = w.controller().await;
    let pod = w.running("r", json!({"retries": 2})).await;
    // The step fails on its own while the cancel is on its way: the
    // controller sees both at once.
    controller.stop().await;
    cancel(&w, "r").await;
    w.kubelet(&pod, "Failed", &[Exited(1)]).await;
    let _controller = w.controller().await;
    let ended = w.phase("r", Phase::Failed).await;
    assert!(ended.retries_status.is_empty(), "{ended:?}");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(w.pod_count().await, 1, "no retry pod");
}
