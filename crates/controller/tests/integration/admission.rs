//! What the real API server accepts: the samples, kubectl's view of the
//! CRDs. What it refuses is the corpus (corpus.rs).

use crate::common::World;
use minitask_testenv::{apply_yaml, repo_root};

#[tokio::test]
async fn the_samples_are_valid_and_runs_default_their_timeout() {
    let w = World::new("samples").await;
    let dir = repo_root().join("deploy/samples");
    let mut applied = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let yaml = std::fs::read_to_string(&path).unwrap();
        let yaml = yaml.replace("metadata:\n", &format!("metadata:\n  namespace: {}\n", w.ns));
        apply_yaml(&w.client, &yaml)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        applied += 1;
    }
    assert!(applied >= 3, "samples in {}", dir.display());
    assert_eq!(w.tasks().get("hello").await.unwrap().spec.steps.len(), 2);
    let run = w.create_run("r", "hello").await;
    assert_eq!(run.spec.timeout, "1h", "the API server applies the schema default");
}

/// What kubectl shows a person: short names, the `minitask` category, the
/// printer columns and the field docs behind `kubectl explain`.
#[tokio::test]
async fn kubectl_finds_the_short_names_category_columns_and_docs() {
    let w = World::new("kubectl").await;
    let _controller = w.controller().await;
    w.create_task("hello", &[("a", "true"), ("b", "true")]).await;
    w.create_run("hello-1", "hello").await;
    let tasks = w.tasks();
    minitask_testenv::eventually("the step count", crate::common::WAIT, || {
        let tasks = tasks.clone();
        async move {
            let status = tasks.get("hello").await.ok()?.status?;
            (status.steps? == 2 && !status.conditions.is_empty()).then_some(())
        }
    })
    .await;
    let runs = w.kubectl_ok(&["get", "tr"]).await;
    let header: Vec<&str> = runs.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "TASK", "STATUS", "REASON", "STARTED", "DURATION", "AGE"]
    );
    assert!(runs.lines().nth(1).unwrap().starts_with("hello-1   hello"), "{runs}");
    let tasks = w.kubectl_ok(&["get", "tsk"]).await;
    assert!(
        tasks
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .eq(["NAME", "STEPS", "VALID", "AGE"]),
        "{tasks}"
    );
    assert!(
        tasks
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .take(3)
            .eq(["hello", "2", "True"]),
        "{tasks}"
    );
    let everything = w.kubectl_ok(&["get", "minitask", "-o", "name"]).await;
    assert!(
        everything.contains("task.minitask.dev/hello") && everything.contains("taskrun.minitask.dev/hello-1"),
        "{everything}"
    );
    let explain = w.kubectl_ok(&["explain", "taskrun.spec"]).await;
    assert!(
        explain.contains("The Task to run: by name in the TaskRun's namespace"),
        "{explain}"
    );
    assert!(explain.contains("counted from the TaskRun's creation"), "{explain}");
}
