//! Params, workspaces, results, retries, image pull failures and pod
//! shaping, through the controller on a real API server (the test plays the
//! kubelet; the e2e tests run the same on a real one).

use std::time::Duration;

use crate::common::{StepState::*, World};
use minitask_api::Phase;
use minitask_controller::PodOptions;
use serde_json::json;

#[tokio::test]
async fn bad_params_and_unbound_workspaces_fail_at_start_listing_every_problem() {
    let w = World::new("invalid").await;
    let _controller = w.controller().await;
    w.create_task_with(
        "t",
        json!({
            "params": [{"name": "who"}, {"name": "files", "type": "array"}],
            "workspaces": [{"name": "src"}],
            "steps": [{"name": "a", "image": "busybox", "script": "echo $(params.who)"}],
        }),
    )
    .await;
    w.create_run_with(
        "bad-params",
        json!({"taskRef": {"name": "t"}, "params": [{"name": "files", "value": "x"}, {"name": "typo", "value": "1"}]}),
    )
    .await;
    let failed = w.phase("bad-params", Phase::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("InvalidParams"));
    assert_eq!(
        failed.message.as_deref(),
        Some(
            "param \"typo\" is not declared: the Task takes who, files; param \"who\" is required: it has no default; param \"files\" is an array, but its value is a string"
        )
    );

    let params = json!([{"name": "who", "value": "me"}, {"name": "files", "value": []}]);
    w.create_run_with("unbound", json!({"taskRef": {"name": "t"}, "params": params}))
        .await;
    let failed = w.phase("unbound", Phase::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("InvalidWorkspaces"));
    assert!(failed.message.unwrap().starts_with("workspace \"src\" is not bound"));
    assert_eq!(w.pod_count().await, 0, "an invalid run never gets a pod");
}

#[tokio::test]
async fn params_workspaces_and_the_pod_template_reach_the_pod() {
    let w = World::new("shaping").await;
    let _controller = w.controller().await;
    w.create_task_with(
        "build",
        json!({
            "params": [{"name": "target", "default": "all"}, {"name": "flags", "type": "array"}],
            "workspaces": [{"name": "src", "readOnly": true}],
            "stepTemplate": {"image": "busybox", "env": [{"name": "CI", "value": "1"}]},
            "steps": [{"name": "make", "command": ["make", "$(params.flags[*])", "$(params.target)"], "workingDir": "$(workspaces.src.path)"}],
        }),
    )
    .await;
    w.create_run_with(
        "b-1",
        json!({
            "taskRef": {"name": "build"},
            "params": [{"name": "flags", "value": ["-j2", "-k"]}],
            "workspaces": [{"name": "src", "persistentVolumeClaim": {"claimName": "sources"}}],
            "podTemplate": {"nodeSelector": {"disk": "ssd"}, "priorityClassName": "system-cluster-critical"},
        }),
    )
    .await;
    let pod = w.pod("b-1").await;
    let spec = pod.spec.unwrap();
    let step = &spec.containers[0];
    assert_eq!(step.image.as_deref(), Some("busybox"));
    let args = step.args.clone().unwrap();
    let at = args.iter().position(|a| a == "--").expect("a command step");
    assert_eq!(args[at + 1..], ["make", "-j2", "-k", "all"]);
    assert_eq!(step.working_dir.as_deref(), Some("/workspace/src"));
    let env: Vec<String> = step.env.clone().unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(env, ["PARAM_FLAGS", "PARAM_TARGET", "CI"]);
    let mount = step
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.mount_path == "/workspace/src");
    assert_eq!(mount.unwrap().read_only, Some(true));
    let volume = spec
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.name == mount.unwrap().name)
        .unwrap();
    assert_eq!(volume.persistent_volume_claim.unwrap().claim_name, "sources");
    assert_eq!(spec.node_selector.unwrap()["disk"], "ssd");
    assert_eq!(spec.priority_class_name.as_deref(), Some("system-cluster-critical"));
}

#[tokio::test]
async fn results_are_reported_when_the_run_succeeds() {
    let w = World::new("results").await;
    let _controller = w.controller().await;
    let steps = json!([{"name": "a", "image": "busybox", "script": "printf v1 > $(results.version.path)"}]);
    w.create_task_with(
        "t",
        json!({"results": [{"name": "version"}, {"name": "unused"}], "steps": steps}),
    )
    .await;
    w.create_run("r", "t").await;
    let pod = w.pod("r").await;
    w.kubelet(
        &pod,
        "Succeeded",
        &[Exited(0), Reported(0, "minitask-results ok 13\nversion 2\nv1\n")],
    )
    .await;
    let done = w.phase("r", Phase::Succeeded).await;
    let results: Vec<(String, String)> = done.results.into_iter().map(|r| (r.name, r.value)).collect();
    assert_eq!(results, [("version".to_string(), "v1".to_string())]);

    w.create_run("big", "t").await;
    let pod = w.pod("big").await;
    w.kubelet(
        &pod,
        "Failed",
        &[Exited(0), Reported(1, "minitask-results too-large 13\nversion 9000\n")],
    )
    .await;
    let failed = w.phase("big", Phase::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("ResultsTooLarge"));
    assert!(failed.message.unwrap().contains("version is 9000 bytes"));
}

#[tokio::test]
async fn a_failed_attempt_is_retried_in_a_new_pod_and_recorded() {
    let w = World::new("retries").await;
    let _controller = w.controller().await;
    w.create_task("t", &[("a", "exit 1")]).await;
    w.create_run_with("r", json!({"taskRef": {"name": "t"}, "retries": 1}))
        .await;
    let first = w.pod("r").await;
    w.kubelet(&first, "Failed", &[Exited(1)]).await;

    let second = w.pod_named("r-pod-retry1").await;
    let retrying = w
        .run_status("r", "the retry to be recorded", |s| s.retries_status.len() == 1)
        .await;
    assert_eq!(retrying.phase, Some(Phase::Pending));
    assert_eq!(retrying.reason.as_deref(), Some("Retrying"));
    assert_eq!(
        retrying.message.as_deref(),
        Some("attempt 2: waiting for pod r-pod-retry1 to start")
    );
    assert_eq!(retrying.pod_name.as_deref(), Some("r-pod-retry1"));
    let attempt = &retrying.retries_status[0];
    assert_eq!(
        (attempt.pod_name.as_str(), attempt.reason.as_str()),
        ("r-pod", "StepFailed")
    );
    assert_eq!(attempt.steps[0].terminated.as_ref().unwrap().exit_code, 1);
    // The Event the README promises for a new attempt.
    let events: kube::Api<k8s_openapi::api::events::v1::Event> = kube::Api::namespaced(w.client.clone(), &w.ns);
    let retried = minitask_testenv::eventually("a Retrying Event", Duration::from_secs(10), || {
        let events = events.clone();
        async move {
            let list = events.list(&Default::default()).await.ok()?;
            list.items.into_iter().find(|e| e.reason.as_deref() == Some("Retrying"))
        }
    })
    .await;
    assert_eq!(retried.note.as_deref(), Some("created pod r-pod-retry1 for attempt 2"));

    w.kubelet(&second, "Failed", &[Exited(2)]).await;
    let failed = w.phase("r", Phase::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("StepFailed"));
    assert!(failed.message.unwrap().contains("exit code 2"));
    assert_eq!(failed.retries_status.len(), 1, "no attempts beyond spec.retries");
    assert_eq!(w.pod_count().await, 2, "every attempt's pod is kept for its logs");
}

#[tokio::test]
async fn a_failing_image_pull_fails_the_run_after_the_grace_period() {
    let w = World::new("pull").await;
    let options = PodOptions {
        image_pull_grace: Duration::from_secs(5),
        ..PodOptions::default()
    };
    let _controller = w.controller_with_options(options).await;
    w.create_task("t", &[("a", "true")]).await;
    w.create_run("r", "t").await;
    let pod = w.pod("r").await;
    w.kubelet(&pod, "Pending", &[PullFailing]).await;
    let pulling =
        |s: &minitask_api::TaskRunStatus| s.message.as_deref().is_some_and(|m| m.contains("ImagePullBackOff"));
    let pending = w.run_status("r", "the pull error to show", pulling).await;
    assert_eq!(pending.phase, Some(Phase::Pending), "a failing pull is given time");
    let message = pending.message.unwrap();
    assert!(
        message.contains("; the run fails at 20"),
        "says when it gives up: {message}"
    );

    let failed = w.phase("r", Phase::Failed).await;
    assert_eq!(failed.reason.as_deref(), Some("ImagePullFailed"));
    let message = failed.message.unwrap();
    assert!(
        message.starts_with("step \"a\" could not pull image \"busybox\" for ") && message.contains("ImagePullBackOff"),
        "{message}"
    );
    // The end is written first, then the pod is stopped.
    w.stopped("r-pod").await;
}
