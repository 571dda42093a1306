//! Tekton YAML brought over with `kubectl task import --apply` runs on real
//! containers: the corpus files marked `# runs` (busybox only), among them
//! a v1beta1 Pipeline with a CEL `when` on a result, a ClusterTask, an
//! inline Task with an unnamed step, and `finally`.

use std::path::Path;

use kube::api::Api;
use minitask_api::{Phase, PipelineRun, TaskState};

use crate::Namespaced;

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn imported_tekton_tasks_and_a_pipeline_run_to_the_end() {
    let t = Namespaced::new("import").await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tekton");
    for file in [
        "tasks/echo-busybox.yaml",
        "tasks/count-files.yaml",
        "tasks/hello-cluster.yaml",
        "pipelines/hello.yaml",
    ] {
        let path = root.join(file);
        let first = std::fs::read_to_string(&path).unwrap();
        assert!(first.starts_with("# runs"), "{file} is marked to run");
        t.kubectl_ok(&["task", "import", "--apply", "-f", path.to_str().unwrap()]);
    }
    let run = t.finish("hello-cluster-run", Phase::Succeeded).await;
    let pod = run.status.unwrap().pod_name.unwrap();
    assert_eq!(t.logs(&pod, "step-hello").await, "hello tekton users\n");

    t.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Succeeded",
        "pipelinerun/hello-run",
        "--timeout=180s",
    ]);
    let run = Api::<PipelineRun>::namespaced(t.client.clone(), &t.ns)
        .get("hello-run")
        .await
        .unwrap();
    let status = run.status.unwrap();
    let state = |name: &str| {
        let task = status.tasks.iter().find(|s| s.name == name).unwrap();
        (task.state, task.results.clone())
    };
    assert_eq!(state("greet").0, TaskState::Succeeded);
    assert_eq!(
        state("count").0,
        TaskState::Succeeded,
        "its CEL when read greet's result 3: {:?}",
        status.tasks
    );
    assert_eq!(state("skipped").0, TaskState::Skipped);
    assert_eq!(state("inline").0, TaskState::Succeeded);
    assert_eq!(state("goodbye").0, TaskState::Succeeded);
    let files = state("count").1;
    assert_eq!(
        files.iter().find(|r| r.name == "files").map(|r| r.value.clone()),
        Some(minitask_api::ParamValue::String("1".into())),
        "greet wrote one file to the workspace"
    );
    let goodbye = t.kubectl_ok(&["task", "logs", "pipelinerun/hello-run", "--task", "goodbye"]);
    assert!(goodbye.contains("hello Succeeded / Skipped"), "{goodbye}");
    let inline = t.kubectl_ok(&["task", "logs", "pipelinerun/hello-run", "--task", "inline"]);
    assert!(inline.contains("count saw 1 files"), "{inline}");
    // Cluster-scoped: not deleted with the namespace.
    t.kubectl_ok(&["delete", "clustertask", "hello-cluster"]);
    t.cleanup().await;
}
