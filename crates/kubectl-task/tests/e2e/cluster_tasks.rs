//! A ClusterTask published once runs in two namespaces on real containers,
//! started by name and from a Pipeline.

use kube::api::{Api, DeleteParams};
use minitask_api::{ClusterTask, Phase};
use serde_json::json;

use crate::Namespaced;

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn one_cluster_task_runs_in_two_namespaces_and_in_a_pipeline() {
    let (a, b) = (Namespaced::new("shared-a").await, Namespaced::new("shared-b").await);
    let name = format!("{}-greet", a.ns);
    let task = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "ClusterTask", "metadata": {"name": name},
        "spec": {
            "params": [{"name": "who"}],
            "results": [{"name": "said"}],
            "steps": [{"name": "say", "image": "busybox",
                       "script": "echo hello $(params.who) | tee $(results.said.path)"}],
        }
    });
    a.apply(&task.to_string());
    for t in [&a, &b] {
        let run = t.start_with(&[&format!("clustertask/{name}"), "-p", &format!("who={}", t.ns)]);
        let done = t.finish(&run, Phase::Succeeded).await;
        let pod = done.status.unwrap().pod_name.unwrap();
        assert_eq!(t.logs(&pod, "step-say").await, format!("hello {}\n", t.ns));
    }
    let pipeline = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Pipeline", "metadata": {"name": "uses-shared"},
        "spec": {"tasks": [
            {"name": "greet", "taskRef": {"name": name, "kind": "ClusterTask"}, "params": [{"name": "who", "value": "pipeline"}]},
            {"name": "echo", "params": [{"name": "s", "value": "$(tasks.greet.results.said)"}],
             "taskSpec": {"params": [{"name": "s"}], "steps": [{"name": "a", "image": "busybox", "script": "echo got $(params.s)"}]}},
        ]}
    });
    b.apply(&pipeline.to_string());
    let out = b.kubectl_ok(&["task", "start", "pipeline/uses-shared", "-o", "name"]);
    let run = out.trim().rsplit('/').next().unwrap().to_string();
    b.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Succeeded",
        &format!("pipelinerun/{run}"),
        "--timeout=180s",
    ]);
    let echo = b.finish(&format!("{run}-echo"), Phase::Succeeded).await;
    let pod = echo.status.unwrap().pod_name.unwrap();
    assert_eq!(b.logs(&pod, "step-a").await, "got hello pipeline\n");

    let _ = Api::<ClusterTask>::all(a.client.clone())
        .delete(&name, &DeleteParams::default())
        .await;
    a.cleanup().await;
    b.cleanup().await;
}
