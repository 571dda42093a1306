//! ClusterTasks: one Task published for every namespace, resolved from the
//! controller's cache by runs and Pipelines of any namespace.

use kube::api::{Api, DeleteParams, PostParams};
use minitask_api::{ClusterTask, Phase, TaskKind};
use minitask_testenv::eventually;
use serde_json::{Value, json};

use crate::common::{WAIT, World};
use crate::pipelines::{create_pipeline, create_run, pipelines, until_children, valid};

fn cluster_tasks(w: &World) -> Api<ClusterTask> {
    Api::all(w.client.clone())
}

/// A ClusterTask named after the test's namespace (cluster-scoped names
/// are shared by every test), deleted when dropped.
pub struct Shared {
    pub name: String,
    api: Api<ClusterTask>,
}

impl Shared {
    pub async fn create(w: &World, suffix: &str, spec: Value) -> Shared {
        let name = format!("{}-{suffix}", w.ns);
        let task: ClusterTask = serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "ClusterTask",
            "metadata": {"name": name}, "spec": spec,
        }))
        .unwrap();
        let api = cluster_tasks(w);
        api.create(&PostParams::default(), &task)
            .await
            .expect("create clustertask");
        Shared { name, api }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let (api, name) = (self.api.clone(), self.name.clone());
        tokio::spawn(async move {
            let _ = api.delete(&name, &DeleteParams::default()).await;
        });
    }
}

#[tokio::test]
async fn a_run_of_a_cluster_task_waits_for_it_then_runs_in_the_runs_namespace() {
    let w = World::new("clustertask-run").await;
    let _controller = w.controller().await;
    let name = format!("{}-greet", w.ns);
    // A Task of the namespace with that name is not the ClusterTask.
    w.create_task(&name, &[("local", "echo local")]).await;
    w.create_run_with("r", json!({"taskRef": {"name": name, "kind": "ClusterTask"}}))
        .await;
    let waiting = w
        .run_status("r", "TaskNotFound", |s| s.reason.as_deref() == Some("TaskNotFound"))
        .await;
    let message = waiting.message.unwrap_or_default();
    assert!(
        message.contains(&format!(
            "ClusterTask \"{name}\" not found in the cluster (a Task \"{name}\" exists: set taskRef.kind to Task)"
        )) && message.contains("as one who may publish ClusterTasks"),
        "{message}"
    );
    assert_eq!(w.pod_count().await, 0);

    let shared = Shared::create(
        &w,
        "greet",
        json!({"steps": [{"name": "say", "image": "busybox", "script": "echo shared"}]}),
    )
    .await;
    let pod = w.pod("r").await;
    let spec = pod.metadata.annotations.unwrap_or_default()[minitask_api::ANNOTATION_TASK_SPEC].clone();
    assert!(spec.contains("echo shared") && !spec.contains("echo local"), "{spec}");
    w.phase("r", Phase::Pending).await;

    // Its status, as a Task's: the step count and Valid.
    let api = cluster_tasks(&w);
    let status = eventually("the ClusterTask's status", WAIT, || async {
        api.get(&shared.name).await.ok()?.status.filter(|s| s.steps == Some(1))
    })
    .await;
    assert_eq!(status.conditions[0].type_, "Valid");
    assert_eq!(status.conditions[0].status, "True");
}

/// A Pipeline's `taskRef` to a ClusterTask: invalid while it is missing,
/// valid once it exists (its results count), and its TaskRuns name it.
#[tokio::test]
async fn a_pipeline_uses_a_cluster_task_and_its_results() {
    let w = World::new("clustertask-pipeline").await;
    let _controller = w.controller().await;
    let name = format!("{}-clone", w.ns);
    let reference = json!({"name": name, "kind": "ClusterTask"});
    create_pipeline(
        &w,
        "ci",
        json!({"tasks": [
            {"name": "fetch", "taskRef": reference},
            {"name": "use", "taskSpec": {"params": [{"name": "c"}], "steps": [{"name": "a", "image": "busybox", "script": "echo $(params.c)"}]},
             "params": [{"name": "c", "value": "$(tasks.fetch.results.commit)"}]},
        ]}),
    )
    .await;
    let pipelines = pipelines(&w);
    let invalid = valid(&w, "ci", "False").await;
    assert!(
        invalid.message.contains(&format!(
            "task \"fetch\": ClusterTask \"{name}\" not found in the cluster"
        )),
        "{}",
        invalid.message
    );
    // Without the result the second task uses: still invalid.
    let shared = Shared::create(
        &w,
        "clone",
        json!({"steps": [{"name": "a", "image": "busybox", "script": "true"}]}),
    )
    .await;
    let no_result = eventually("the result named", WAIT, || {
        let pipelines = pipelines.clone();
        async move {
            let condition = pipelines.get("ci").await.ok()?.status?.conditions.first()?.clone();
            condition.message.contains("commit").then_some(condition)
        }
    })
    .await;
    assert_eq!(no_result.status, "False", "{}", no_result.message);
    let mut task = shared.api.get(&shared.name).await.unwrap();
    task.spec.0.results = vec![serde_json::from_value(json!({"name": "commit"})).unwrap()];
    shared
        .api
        .replace(&shared.name, &PostParams::default(), &task)
        .await
        .unwrap();
    valid(&w, "ci", "True").await;

    create_run(&w, "r", json!({"pipelineRef": {"name": "ci"}})).await;
    until_children(&w, &["r-fetch"]).await;
    let child = w.runs().get("r-fetch").await.unwrap();
    let child_ref = child.spec.task_ref.unwrap();
    assert_eq!(
        (child_ref.name.as_str(), child_ref.kind),
        (name.as_str(), TaskKind::ClusterTask)
    );
    w.pod("r-fetch").await;

    // Deleting it makes the Pipeline invalid again.
    drop(shared);
    valid(&w, "ci", "False").await;
}
