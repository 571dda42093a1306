//! The archive against a real kube-apiserver and etcd, authorized as its
//! deployed ServiceAccount. There is no kubelet here: a pod's log cannot be
//! read, which is the case of a pod whose node is gone (e2e covers real
//! logs).

use crate::common::{WAIT, World, archived, condition, said_unavailable};
use kube::api::Api;
use kube::api::{Patch, PatchParams, PostParams};
use minitask_api::PipelineRun;
use minitask_api::TaskRun;
use minitask_archive::record::{pipelinerun_key, taskrun_key};
use minitask_testenv::eventually;
use serde_json::json;

#[tokio::test]
async fn an_ended_taskrun_is_archived_with_what_became_of_each_step_log() {
    let w = World::new("archive").await;
    let run = w.ended_taskrun("build-1").await;
    let archive = w.archive().await;
    let runs: Api<TaskRun> = Api::namespaced(w.client.clone(), &w.ns);
    let archived = eventually("the Archived condition", WAIT, || async {
        let run = runs.get("build-1").await.ok()?;
        let conditions = run.status.clone()?.conditions;
        condition(&conditions, "Archived").filter(|c| c.status == "True")?;
        Some(run)
    })
    .await;
    let conditions = archived.status.clone().unwrap().conditions;
    // The controller's condition is untouched: each owns its own entry.
    assert_eq!(condition(&conditions, "Succeeded").unwrap().status, "True");
    let key = taskrun_key(&run).unwrap().record();
    assert!(condition(&conditions, "Archived").unwrap().message.ends_with(&key));

    let record = w.record(&key).await.expect("the record is stored");
    assert_eq!(
        (record.kind.as_str(), record.name.as_str(), record.phase.as_str()),
        ("TaskRun", "build-1", "Succeeded")
    );
    assert_eq!(record.task.as_deref(), Some("build"));
    assert_eq!(record.object["metadata"]["labels"]["team"], "a");
    assert!(record.object["metadata"].get("managedFields").is_none());
    // No pod (no kubelet here): the step that ran says its log is lost,
    // the one that never ran says so; neither is a silent hole.
    let logs: Vec<_> = record
        .logs
        .iter()
        .map(|l| (l.step.as_str(), l.key.is_some(), l.missing.clone().unwrap_or_default()))
        .collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(!logs[0].1 && logs[0].2.contains("pod build-1-pod was gone"), "{logs:?}");
    assert_eq!(logs[1].2, "the step never ran");
    assert!(
        record
            .notes
            .iter()
            .any(|n| n.contains("1 step log(s) could not be archived")),
        "{:?}",
        record.notes
    );
    // Found by name and by Task.
    let by_name = w.dir.join(format!("v1/{}/taskruns/names/build-1", w.ns));
    assert_eq!(std::fs::read_dir(by_name).unwrap().count(), 1);
    let by_task = w.dir.join(format!("v1/{}/taskruns/by/build", w.ns));
    assert_eq!(std::fs::read_dir(by_task).unwrap().count(), 1);
    archive.abort();
}

#[tokio::test]
async fn a_store_that_fails_is_said_in_the_condition_and_the_run_is_archived_once_it_is_back() {
    let w = World::new("archive-down").await;
    std::fs::create_dir_all(&w.dir).unwrap();
    let archive = w.archive().await;
    // The store's directory replaced by a file: every write fails.
    std::fs::remove_dir_all(&w.dir).unwrap();
    std::fs::write(&w.dir, "not a directory").unwrap();
    let run = w.ended_taskrun("down-1").await;
    let deleted = w.ended_taskrun("down-2").await;
    let runs: Api<TaskRun> = Api::namespaced(w.client.clone(), &w.ns);
    for name in ["down-1", "down-2"] {
        said_unavailable(&runs, name).await;
    }
    // A run deleted while the store is down is archived all the same.
    runs.delete("down-2", &Default::default()).await.unwrap();
    std::fs::remove_file(&w.dir).unwrap();
    std::fs::create_dir_all(&w.dir).unwrap();
    archived(&runs, "down-1", "True").await;
    assert!(w.record(&taskrun_key(&run).unwrap().record()).await.is_some());
    let key = taskrun_key(&deleted).unwrap().record();
    eventually("the deleted run's record, saying so", WAIT, || async {
        let record = w.record(&key).await?;
        record
            .notes
            .iter()
            .any(|n| n.starts_with("the run was deleted before it was archived"))
            .then_some(())
    })
    .await;
    archive.abort();
}

#[tokio::test]
async fn a_pipelinerun_is_archived_with_the_names_of_its_taskruns() {
    let w = World::new("archive-plr").await;
    let runs: Api<PipelineRun> = Api::namespaced(w.client.clone(), &w.ns);
    let run: PipelineRun = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun",
        "metadata": {"name": "ci-1"}, "spec": {"pipelineRef": {"name": "ci"}},
    }))
    .unwrap();
    runs.create(&PostParams::default(), &run).await.unwrap();
    let status = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun",
        "status": {"phase": "Failed", "reason": "TaskFailed", "completionTime": "2026-12-03T02:00:00Z",
                   "tasks": [{"name": "fetch", "taskRuns": ["ci-1-fetch"], "state": "Succeeded"},
                             {"name": "test", "taskRuns": ["ci-1-test"], "state": "Failed"}]}
    });
    let run = runs
        .patch_status(
            "ci-1",
            &PatchParams::apply("minitask-controller").force(),
            &Patch::Apply(&status),
        )
        .await
        .unwrap();
    let archive = w.archive().await;
    let key = pipelinerun_key(&run).unwrap().record();
    let record = eventually("the PipelineRun's record", WAIT, || w.record(&key)).await;
    assert_eq!(record.task_runs, ["ci-1-fetch", "ci-1-test"]);
    assert_eq!(record.reason.as_deref(), Some("TaskFailed"));
    assert_eq!(record.task.as_deref(), Some("ci"));
    archive.abort();
}

#[tokio::test]
async fn the_condition_of_a_run_is_never_written_on_another_run_of_its_name() {
    let w = World::new("archive-uid").await;
    let old = w.ended_taskrun("same").await;
    let runs: Api<TaskRun> = Api::namespaced(w.client.clone(), &w.ns);
    runs.delete("same", &Default::default()).await.unwrap();
    let new = w.ended_taskrun("same").await;
    assert_ne!(old.metadata.uid, new.metadata.uid);
    let client = minitask_testenv::ControlPlane::shared()
        .client_as(minitask_testenv::ARCHIVE_USER)
        .await;
    let archiver = minitask_archive::archiver::Archiver {
        client,
        store: minitask_archive::store::open(&w.url(), &[]).unwrap(),
        log_cap: 1024,
        location: w.url(),
    };
    let marked = archiver.mark(&old, Ok("v1/x")).await.unwrap();
    assert_eq!(marked, minitask_archive::archiver::Marked::Replaced);
    let now = runs.get("same").await.unwrap();
    assert!(condition(&now.status.unwrap().conditions, "Archived").is_none());
}
