//! A TaskRun's life on a real API server, with the test as the kubelet.

use crate::common::{StepState::*, World};
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams};
use minitask_api::{LABEL_TASK, LABEL_TASKRUN, Phase};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_run_goes_pending_running_succeeded_with_one_pod() {
    let w = World::new("success").await;
    let _controller = w.controller().await;
    w.create_task("hello", &[("greet", "echo hello"), ("bye", "echo bye")])
        .await;
    let run = w.create_run("hello-1", "hello").await;

    let pod = w.pod("hello-1").await;
    let spec = pod.spec.clone().unwrap();
    assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
    assert_eq!(spec.init_containers.as_ref().unwrap()[0].name, "minitask-prepare");
    assert_eq!(spec.containers[0].name, "step-greet");
    assert_eq!(spec.containers[1].name, "step-bye");
    assert_eq!(pod.labels()[LABEL_TASKRUN], "hello-1");
    assert_eq!(pod.labels()[LABEL_TASK], "hello");
    let owner = &pod.owner_references()[0];
    assert_eq!(
        (owner.uid.as_str(), owner.controller),
        (run.uid().unwrap().as_str(), Some(true))
    );

    let pending = w.phase("hello-1", Phase::Pending).await;
    assert_eq!(pending.reason.as_deref(), Some("Pending"));
    assert_eq!(pending.pod_name.as_deref(), Some("hello-1-pod"));
    assert!(pending.start_time.is_some());
    assert_eq!(pending.task_spec.as_ref().unwrap().steps.len(), 2);

    // Both containers run; the second step's launcher waits for the first.
    w.kubelet(&pod, "Running", &[Running, Running]).await;
    let running = w.phase("hello-1", Phase::Running).await;
    assert!(running.steps[0].running.is_some(), "{:?}", running.steps);
    let waiting = running.steps[1].waiting.as_ref().expect("the second step waits");
    assert_eq!(waiting.reason.as_deref(), Some("WaitingForPreviousStep"));
    assert_eq!(running.conditions[0].status, "Unknown");

    w.kubelet(&pod, "Succeeded", &[Exited(0), Exited(0)]).await;
    let done = w.phase("hello-1", Phase::Succeeded).await;
    assert!(done.completion_time.is_some());
    assert_eq!(done.conditions[0].status, "True");
    assert_eq!(
        done.steps
            .iter()
            .map(|s| s.terminated.as_ref().unwrap().exit_code)
            .collect::<Vec<_>>(),
        [0, 0]
    );
    assert_eq!(w.pod_count().await, 1);
}

#[tokio::test]
async fn a_failing_step_fails_the_run_with_its_name_and_exit_code() {
    let w = World::new("failure").await;
    let _controller = w.controller().await;
    w.create_task("three", &[("a", "true"), ("b", "exit 3"), ("c", "echo never")])
        .await;
    w.create_run("three-1", "three").await;
    let pod = w.pod("three-1").await;

    w.kubelet(&pod, "Failed", &[Exited(0), Exited(3), Waiting]).await;
    let failed = w.phase("three-1", Phase::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("StepFailed"));
    let message = failed.message.unwrap();
    assert!(message.contains("step \"b\" failed with exit code 3"), "{message}");
    assert_eq!(failed.steps[1].terminated.as_ref().unwrap().exit_code, 3);
    assert!(
        failed.steps[2].terminated.is_none() && failed.steps[2].running.is_none(),
        "step c never ran"
    );
    assert_eq!(failed.conditions[0].status, "False");
}

#[tokio::test]
async fn kubectl_wait_returns_when_the_run_succeeds() {
    let w = World::new("wait").await;
    let _controller = w.controller().await;
    w.create_task("hello", &[("only", "echo hi")]).await;
    w.create_run("hello-1", "hello").await;
    let pod = w.pod("hello-1").await;
    w.phase("hello-1", Phase::Pending).await;

    let wait = w
        .kubectl(&["wait", "--for=condition=Succeeded", "taskrun/hello-1", "--timeout=60s"])
        .output();
    let wait = tokio::spawn(wait);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!wait.is_finished(), "kubectl wait must block while the run is pending");
    w.kubelet(&pod, "Succeeded", &[Exited(0)]).await;
    let output = wait.await.unwrap().expect("kubectl runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("condition met"), "{stdout}");
}

#[tokio::test]
async fn deleting_the_pod_mid_run_fails_the_run_but_not_after_success() {
    let w = World::new("deleted").await;
    let _controller = w.controller().await;
    w.create_task("t", &[("only", "sleep 100")]).await;

    w.create_run("mid", "t").await;
    let pod = w.pod("mid").await;
    w.kubelet(&pod, "Running", &[Running]).await;
    w.phase("mid", Phase::Running).await;
    // Forced, as a node's garbage collection or `--force` does: it is gone
    // at once.
    w.pods()
        .delete(&pod.name_any(), &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    let failed = w.phase("mid", Phase::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("PodDeleted"));

    w.create_run("after", "t").await;
    let pod = w.pod("after").await;
    w.kubelet(&pod, "Succeeded", &[Exited(0)]).await;
    let done = w.phase("after", Phase::Succeeded).await;
    w.pods()
        .delete(&pod.name_any(), &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    // Give the controller time to (wrongly) react to the deletion event.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        w.runs().get("after").await.unwrap().status,
        Some(done),
        "a finished run never changes"
    );
}

#[tokio::test]
async fn a_run_waits_for_its_task_and_starts_when_it_appears() {
    let w = World::new("missing").await;
    let _controller = w.controller().await;
    w.create_run("early", "later").await;
    let pending = w
        .run_status("early", "TaskNotFound", |s| s.reason.as_deref() == Some("TaskNotFound"))
        .await;
    assert_eq!(pending.phase, Some(Phase::Pending));
    let message = pending.message.unwrap();
    assert!(
        message.contains("\"later\"") && message.contains(&format!("\"{}\"", w.ns)),
        "{message}"
    );
    assert_eq!(w.pod_count().await, 0);

    w.create_task("later", &[("only", "echo now")]).await;
    w.pod("early").await;
    w.phase("early", Phase::Pending).await;
    let started = w
        .run_status("early", "the run to start", |s| s.pod_name.is_some())
        .await;
    assert_eq!(started.reason.as_deref(), Some("Pending"));
}

#[tokio::test]
async fn a_restarted_controller_adopts_the_pod_and_finishes_the_run() {
    let w = World::new("restart").await;
    let first = w.controller().await;
    w.create_task("t", &[("a", "true"), ("b", "true")]).await;
    w.create_run("r", "t").await;
    let pod = w.pod("r").await;
    w.phase("r", Phase::Pending).await;
    first.stop().await;

    w.kubelet(&pod, "Pending", &[Running, Waiting]).await;
    let _second = w.controller().await;
    w.phase("r", Phase::Running).await;
    w.kubelet(&pod, "Succeeded", &[Exited(0), Exited(0)]).await;
    w.phase("r", Phase::Succeeded).await;
    assert_eq!(w.pod_count().await, 1, "no second pod");
    assert_eq!(
        w.pods().get(&pod.name_any()).await.unwrap().uid(),
        pod.uid(),
        "the same pod"
    );
}

#[tokio::test]
async fn a_controller_that_dies_before_its_first_status_write_leaves_the_pod_as_the_record() {
    let w = World::new("window").await;
    let first = w.controller().await;
    w.create_task("t", &[("a", "echo original")]).await;
    w.create_run("r", "t").await;
    // The first status write waits up to a second for the pod to progress
    // (writes.rs); the controller dies in that window, the Task changes.
    let pod = w.pod("r").await;
    first.stop().await;
    let edit = json!({"spec": {"steps": [{"name": "a", "image": "busybox", "script": "echo edited"}]}});
    w.tasks()
        .patch("t", &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap();

    let _second = w.controller().await;
    w.kubelet(&pod, "Running", &[Running]).await;
    let running = w.phase("r", Phase::Running).await;
    assert_eq!(running.pod_name.as_deref(), Some(pod.name_any().as_str()));
    let recorded = running.task_spec.expect("the Task recorded from the pod");
    assert_eq!(recorded.steps[0].script.as_deref(), Some("echo original"));
    assert_eq!(w.pod_count().await, 1, "no second pod");
}

#[tokio::test]
async fn editing_the_task_does_not_change_a_started_run() {
    let w = World::new("edit").await;
    let _controller = w.controller().await;
    w.create_task("t", &[("a", "echo original")]).await;
    w.create_run("r", "t").await;
    let pod = w.pod("r").await;
    let recorded = w
        .run_status("r", "the recorded taskSpec", |s| s.task_spec.is_some())
        .await
        .task_spec
        .unwrap();

    let edit = json!({"spec": {"steps": [{"name": "a", "image": "busybox", "script": "echo edited"}]}});
    w.tasks()
        .patch("t", &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap();
    w.kubelet(&pod, "Running", &[Running]).await;
    let running = w.phase("r", Phase::Running).await;

    assert_eq!(running.task_spec.unwrap(), recorded);
    assert_eq!(recorded.steps[0].script.as_deref(), Some("echo original"));
    assert_eq!(
        w.pods().get(&pod.name_any()).await.unwrap().spec.unwrap().containers,
        pod.spec.unwrap().containers,
        "the pod is unchanged"
    );
    assert_eq!(w.pod_count().await, 1);
}

#[tokio::test]
async fn a_foreign_pod_with_the_run_pod_name_fails_the_run() {
    let w = World::new("conflict").await;
    let foreign: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "metadata": {"name": "r-pod"},
        "spec": {"containers": [{"name": "x", "image": "busybox"}]}
    }))
    .unwrap();
    w.pods().create(&Default::default(), &foreign).await.unwrap();
    let _controller = w.controller().await;
    w.create_task("t", &[("a", "true")]).await;
    w.create_run("r", "t").await;
    let failed = w.phase("r", Phase::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("PodConflict"));
    assert!(failed.message.unwrap().contains("not owned by TaskRun r"));
    assert_eq!(w.pod_count().await, 1);
}

#[tokio::test]
async fn a_status_write_from_a_stale_cache_is_refused() {
    use kube::runtime::{reflector, watcher};
    use minitask_controller::PodOptions;
    use minitask_controller::{Context, reconcile};
    use std::sync::Arc;

    let w = World::new("stale").await;
    let controller = w.controller().await;
    let task = w.create_task("t", &[("a", "true")]).await;
    let stale = w.create_run("r", "t").await;
    let pod = w.pod("r").await;
    w.kubelet(&pod, "Running", &[Running]).await;
    let fresh = w.phase("r", Phase::Running).await;
    controller.stop().await;

    // A reconcile that sees the TaskRun as it was at creation, before any
    // status, and a pod cache that has not caught up either.
    let (pods, mut pod_writer) = reflector::store();
    pod_writer.apply_watcher_event(&watcher::Event::InitDone);
    let (tasks, mut task_writer) = reflector::store();
    task_writer.apply_watcher_event(&watcher::Event::Apply(task));
    task_writer.apply_watcher_event(&watcher::Event::InitDone);
    let client = minitask_testenv::ControlPlane::shared()
        .client_as(minitask_testenv::CONTROLLER_USER)
        .await;
    let catalog = minitask_controller::runtime::catalog::Catalog {
        tasks,
        cluster: reflector::store().0,
    };
    let ctx = Arc::new(Context::new(client, pods, catalog, PodOptions::default()));
    let result = reconcile(Arc::new(stale), ctx).await;

    let error = result.expect_err("the stale write must be refused");
    assert!(
        error.to_string().contains("409") || error.to_string().contains("onflict"),
        "{error}"
    );
    assert_eq!(
        w.runs().get("r").await.unwrap().status,
        Some(fresh),
        "the stored status is untouched"
    );
    assert_eq!(w.pod_count().await, 1);
}

#[tokio::test]
async fn a_run_recreated_under_the_same_name_replaces_the_pod_its_predecessor_left() {
    let w = World::new("recreate").await;
    let _controller = w.controller().await;
    w.create_task("t", &[("a", "true")]).await;
    let first = w.create_run("r", "t").await;
    let old = w.pod("r").await;
    w.phase("r", Phase::Pending).await;
    // Deleted in the background (kubectl's default): the pod lingers until
    // the garbage collector gets to it, which never happens here.
    w.runs().delete("r", &DeleteParams::background()).await.unwrap();
    crate::common::gone(&w, "r").await;
    let second = w.create_run("r", "t").await;
    assert_ne!(first.uid(), second.uid());

    let pod = minitask_testenv::eventually("a new pod", crate::common::WAIT, || async {
        let pod = w.pods().get_opt("r-pod").await.ok()??;
        (pod.uid() != old.uid()).then_some(pod)
    })
    .await;
    assert_eq!(pod.owner_references()[0].uid, second.uid().unwrap());
    let started = w.phase("r", Phase::Pending).await;
    assert_eq!(started.reason.as_deref(), Some("Pending"), "never a PodConflict");
}

#[tokio::test]
async fn a_run_waits_while_its_predecessors_pod_is_being_deleted() {
    let w = World::new("recreate-wait").await;
    let _controller = w.controller().await;
    let old = w.running("r", json!({})).await;
    w.runs().delete("r", &DeleteParams::background()).await.unwrap();
    crate::common::gone(&w, "r").await;
    // On a node, a deleted pod stays Terminating until its kubelet is done.
    w.pods().delete("r-pod", &DeleteParams::default()).await.unwrap();
    w.create_run("r", "t").await;
    let waiting = w
        .run_status("r", "the wait to show", |s| {
            s.message
                .as_deref()
                .is_some_and(|m| m.contains("left by an earlier TaskRun"))
        })
        .await;
    assert_eq!(waiting.phase, Some(Phase::Pending));
    assert_eq!(
        w.pods().get("r-pod").await.unwrap().uid(),
        old.uid(),
        "not deleted twice"
    );
    // The kubelet is done: the new run gets its pod.
    w.pods()
        .delete("r-pod", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    minitask_testenv::eventually("a new pod", crate::common::WAIT, || async {
        let pod = w.pods().get_opt("r-pod").await.ok()??;
        (pod.uid() != old.uid()).then_some(pod)
    })
    .await;
}

#[tokio::test]
async fn a_hostile_termination_message_fails_only_its_own_run() {
    let w = World::new("hostile").await;
    let _controller = w.controller().await;
    let steps = json!([{"name": "a", "image": "busybox", "script": "true"}]);
    w.create_task_with("t", json!({"results": [{"name": "x"}], "steps": steps}))
        .await;
    w.create_run("r", "t").await;
    let pod = w.pod("r").await;
    // Anyone who can create pods in the namespace can write this: a size
    // that overflows.
    w.kubelet(
        &pod,
        "Succeeded",
        &[Exited(0), Reported(0, "x 18446744073709551615\nab\n")],
    )
    .await;
    let failed = w.phase("r", Phase::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("ResultsFailed"));
    assert!(failed.message.unwrap().contains("is unreadable"));
    w.kubelet(
        &pod,
        "Succeeded",
        &[
            Exited(0),
            Reported(0, "minitask-results ok 26\nx 18446744073709551615\nab\n"),
        ],
    )
    .await;

    // The controller is still there for everyone else.
    w.create_run("next", "t").await;
    let pod = w.pod("next").await;
    w.kubelet(
        &pod,
        "Succeeded",
        &[Exited(0), Reported(0, "minitask-results ok 6\nx 1\ny\n")],
    )
    .await;
    let done = w.phase("next", Phase::Succeeded).await;
    assert_eq!(done.results[0].value, "y");
}

#[tokio::test]
async fn runs_created_while_the_controller_starts_all_start() {
    let w = World::new("startup").await;
    w.create_task("t", &[("a", "true")]).await;
    // Runs already there and runs arriving while the caches fill: each
    // reconcile must come back to them once the caches are full
    // (kube-runtime wakes only one of several tasks waiting on a store, so
    // none may wait on one).
    let names: Vec<String> = (0..12).map(|i| format!("r{i}")).collect();
    for name in &names[..8] {
        w.create_run(name, "t").await;
    }
    let _controller = w.controller().await;
    for name in &names[8..] {
        w.create_run(name, "t").await;
    }
    for name in &names {
        w.pod(name).await;
    }
}
