//! Finished runs are garbage-collected by TTL or by a per-Task limit, and
//! never before they finish; their Events tell the story.

use std::time::Duration;

use crate::common::{StepState::*, World, gone};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use minitask_api::Phase;
use minitask_controller::Config;
use minitask_testenv::{CONTROLLER_USER, ControlPlane, eventually};
use serde_json::json;

#[tokio::test]
async fn a_finished_run_is_deleted_after_its_ttl_and_says_what_happened() {
    let w = World::new("ttl").await;
    let _controller = w.controller().await;
    w.create_task("t", &[("a", "true")]).await;
    w.create_run_with("r", json!({"taskRef": {"name": "t"}, "ttlSecondsAfterFinished": 2}))
        .await;
    let pod = w.pod("r").await;
    w.kubelet(&pod, "Running", &[Running]).await;
    w.phase("r", Phase::Running).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(w.runs().get_opt("r").await.unwrap().is_some(), "a running run is kept");
    w.kubelet(&pod, "Succeeded", &[Exited(0)]).await;
    w.phase("r", Phase::Succeeded).await;

    let events: Api<Event> = Api::namespaced(w.client.clone(), &w.ns);
    let reasons = eventually("the run's Events", Duration::from_secs(20), || {
        let events = events.clone();
        async move {
            let mut reasons: Vec<String> = events
                .list(&ListParams::default())
                .await
                .ok()?
                .items
                .into_iter()
                .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("r"))
                .filter_map(|e| e.reason)
                .collect();
            reasons.sort();
            (!reasons.is_empty()).then_some(reasons)
        }
    })
    .await;
    assert_eq!(reasons, ["Succeeded"]);
    gone(&w, "r").await;
}

#[tokio::test]
async fn only_the_newest_finished_runs_of_a_task_are_kept() {
    let w = World::new("keep").await;
    let client = ControlPlane::shared().client_as(CONTROLLER_USER).await;
    let config = Config {
        namespace: Some(w.ns.clone()),
        keep_finished_per_task: Some(1),
        ..Config::default()
    };
    let _controller = w.controller_with_config(client, config).await;
    w.create_task("t", &[("a", "true")]).await;
    w.create_run("running", "t").await;
    for name in ["first", "second"] {
        w.create_run(name, "t").await;
        let pod = w.pod(name).await;
        w.kubelet(&pod, "Succeeded", &[Exited(0)]).await;
        w.phase(name, Phase::Succeeded).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    gone(&w, "first").await;
    let left: Vec<String> = w
        .runs()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| kube::ResourceExt::name_any(&r))
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.contains(&"second".into()) && left.contains(&"running".into()),
        "{left:?}"
    );
}

#[tokio::test]
async fn with_an_archive_a_finished_run_is_deleted_only_once_it_is_archived() {
    let w = World::new("ttl-archive").await;
    let client = ControlPlane::shared().client_as(CONTROLLER_USER).await;
    let config = Config {
        namespace: Some(w.ns.clone()),
        max_archive_wait: Some(Duration::from_secs(3600)),
        ..Config::default()
    };
    let _controller = w.controller_with_config(client, config).await;
    w.create_task("t", &[("a", "true")]).await;
    w.create_run_with("r", json!({"taskRef": {"name": "t"}, "ttlSecondsAfterFinished": 0}))
        .await;
    let pod = w.pod("r").await;
    w.kubelet(&pod, "Succeeded", &[Exited(0)]).await;
    w.phase("r", Phase::Succeeded).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(w.runs().get_opt("r").await.unwrap().is_some(), "kept until archived");
    mark_archived(&w, "r").await;
    gone(&w, "r").await;
}

#[tokio::test]
async fn with_delete_pods_after_archive_an_archived_runs_pod_goes_and_the_run_stays() {
    let w = World::new("pods-after-archive").await;
    let client = ControlPlane::shared().client_as(CONTROLLER_USER).await;
    let config = Config {
        namespace: Some(w.ns.clone()),
        delete_pods_after_archive: true,
        ..Config::default()
    };
    let _controller = w.controller_with_config(client, config).await;
    w.create_task("t", &[("a", "true")]).await;
    w.create_run("r", "t").await;
    let pod = w.pod("r").await;
    w.kubelet(&pod, "Succeeded", &[Exited(0)]).await;
    w.phase("r", Phase::Succeeded).await;
    let pod_name = kube::ResourceExt::name_any(&pod);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        w.pods().get_opt(&pod_name).await.unwrap().is_some(),
        "kept until archived"
    );
    mark_archived(&w, "r").await;
    eventually("the archived run's pod to go", Duration::from_secs(20), || async {
        w.pods().get_opt(&pod_name).await.unwrap().is_none().then_some(())
    })
    .await;
    let run = w.runs().get("r").await.unwrap();
    assert_eq!(run.phase(), Phase::Succeeded, "the run stays as it ended");
}

/// What minitask-archive writes once a run is stored.
async fn mark_archived(w: &World, run: &str) {
    let archived = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
        "status": {"conditions": [{"type": "Archived", "status": "True", "reason": "Archived",
            "message": "archived in file:///x", "lastTransitionTime": "2026-12-03T00:00:00Z"}]}
    });
    w.runs()
        .patch_status(
            run,
            &PatchParams::apply("minitask-archive").force(),
            &Patch::Apply(&archived),
        )
        .await
        .unwrap();
}
