//! What the real API server rejects at admission (schema + CEL rules), with
//! a message that names the field, and what it accepts.

use crate::common::World;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use minitask_testenv::{apply_yaml, repo_root};
use serde_json::{Value, json};

fn step(name: &str) -> Value {
    json!({"name": name, "image": "busybox", "script": "echo hi"})
}

fn api(w: &World, kind: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("minitask.dev", "v1alpha1", kind));
    Api::namespaced_with(w.client.clone(), &w.ns, &resource)
}

/// Creates `spec` as a `kind` and returns the API server's error message.
async fn rejection(w: &World, kind: &str, spec: Value) -> String {
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": kind,
        "metadata": {"generateName": "bad-"}, "spec": spec
    }))
    .unwrap();
    match api(w, kind).create(&PostParams::default(), &object).await {
        Ok(_) => panic!("{kind} {spec} was accepted"),
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 422, "{e:?}");
            e.message
        }
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[tokio::test]
async fn invalid_tasks_and_runs_are_rejected_naming_the_field() {
    let w = World::new("admission").await;
    let too_many: Vec<Value> = (0..21).map(|i| step(&format!("s{i}"))).collect();
    let cases = [
        ("Task", json!({"steps": []}), ["spec.steps", "at least 1"]),
        ("Task", json!({}), ["spec.steps", "Required value"]),
        ("Task", json!({"steps": too_many}), ["spec.steps", "at most 20"]),
        (
            "Task",
            json!({"steps": [step("a"), step("a")]}),
            ["spec.steps", "step names must be unique"],
        ),
        (
            "Task",
            json!({"steps": [{"name": "a", "image": "busybox", "script": "x", "command": ["y"]}]}),
            ["spec.steps[0]", "exactly one of script or command"],
        ),
        (
            "Task",
            json!({"steps": [{"name": "a", "image": "busybox"}]}),
            ["spec.steps[0]", "exactly one of script or command"],
        ),
        (
            "Task",
            json!({"steps": [{"name": "Build", "image": "busybox", "script": "x"}]}),
            ["spec.steps[0].name", "should match"],
        ),
        (
            "Task",
            json!({"steps": [{"name": "a".repeat(59), "image": "busybox", "script": "x"}]}),
            ["spec.steps[0].name", "58"],
        ),
        (
            "Task",
            json!({"steps": [{"name": "a", "script": "x"}]}),
            ["spec.steps", "every step needs an image, or set stepTemplate.image"],
        ),
        (
            "Task",
            json!({"steps": [{"name": "a", "image": "", "script": "x"}]}),
            ["spec.steps[0].image", "at least 1"],
        ),
        (
            "Task",
            json!({"steps": [{"name": "a", "image": "busybox", "script": "x", "args": ["1"]}]}),
            ["spec.steps[0]", "args are passed to command"],
        ),
        (
            "Task",
            json!({"steps": [step("a")], "params": [{"name": "x"}, {"name": "x"}]}),
            ["spec.params", "param names must be unique"],
        ),
        (
            "Task",
            json!({"steps": [step("a")], "params": [{"name": "1x"}]}),
            ["spec.params[0].name", "should match"],
        ),
        (
            "Task",
            json!({"steps": [step("a")], "params": [{"name": "x", "type": "object"}]}),
            ["spec.params[0].type", "Unsupported value"],
        ),
        (
            "Task",
            json!({"steps": [step("a")], "results": [{"name": "r"}, {"name": "r"}]}),
            ["spec.results", "result names must be unique"],
        ),
        (
            "Task",
            json!({"steps": [step("a")], "workspaces": [{"name": "w", "mountPath": "rel"}]}),
            ["spec.workspaces[0].mountPath", "absolute path outside /minitask"],
        ),
        (
            "Task",
            json!({"steps": [step("a")], "workspaces": [{"name": "w", "mountPath": "/workspace"}]}),
            [
                "spec.workspaces[0].mountPath",
                "the directory every step already shares",
            ],
        ),
        (
            "Task",
            json!({"steps": [step("a")], "workspaces": [{"name": "Src"}]}),
            ["spec.workspaces[0].name", "should match"],
        ),
        (
            "Task",
            json!({"steps": [{"name": "a", "image": "busybox", "script": "x", "onError": "ignore"}]}),
            ["spec.steps[0].onError", "Unsupported value"],
        ),
        (
            "TaskRun",
            json!({"taskRef": {"name": "t"}, "workspaces": [{"name": "w"}]}),
            [
                "spec.workspaces[0]",
                "exactly one of emptyDir, persistentVolumeClaim, configMap or secret",
            ],
        ),
        (
            "TaskRun",
            json!({"taskRef": {"name": "t"}, "workspaces": [{"name": "w", "emptyDir": {}, "secret": {"secretName": "s"}}]}),
            ["spec.workspaces[0]", "exactly one of emptyDir"],
        ),
        (
            "TaskRun",
            json!({"taskRef": {"name": "t"}, "params": [{"name": "p", "value": "1"}, {"name": "p", "value": "2"}]}),
            ["spec.params", "each param may be set once"],
        ),
        (
            "TaskRun",
            json!({"taskRef": {"name": "t"}, "params": [{"name": "p"}]}),
            ["spec.params[0].value", "Required value"],
        ),
        (
            "TaskRun",
            json!({"taskRef": {"name": "t"}, "retries": 11}),
            ["spec.retries", "less than or equal to 10"],
        ),
        ("TaskRun", json!({}), ["spec", "exactly one of taskRef"]),
        (
            "TaskRun",
            json!({"taskRef": {"name": "t"}, "taskSpec": {"steps": [step("a")]}}),
            ["spec", "exactly one of taskRef"],
        ),
        (
            "TaskRun",
            json!({"taskRef": {"name": "t"}, "timeout": "soon"}),
            ["spec.timeout", "should match"],
        ),
        (
            "TaskRun",
            json!({"taskRef": {"name": "t"}, "timeout": "596524h"}),
            ["spec.timeout", "at most 596523h14m7s"],
        ),
        (
            "TaskRun",
            json!({"taskRef": {"name": "t"}, "timeout": "0s"}),
            ["spec.timeout", "more than 0s"],
        ),
        (
            "TaskRun",
            json!({"taskRef": {"name": "t"}, "timeout": "99999999999999h"}),
            ["spec.timeout", "at most 596523h14m7s"],
        ),
        (
            "TaskRun",
            json!({"taskRef": {"name": ""}}),
            ["spec.taskRef.name", "at least 1"],
        ),
        (
            "TaskRun",
            json!({"taskSpec": {"steps": [step("a"), step("a")]}}),
            ["spec.taskSpec.steps", "step names must be unique"],
        ),
    ];
    for (kind, spec, wants) in cases {
        let message = rejection(&w, kind, spec.clone()).await;
        for want in wants {
            assert!(
                message.contains(want),
                "{kind} {spec}: {message:?} does not mention {want:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_run_spec_cannot_change_after_creation() {
    let w = World::new("immutable").await;
    w.create_run("r", "t").await;
    let patch = json!({"spec": {"timeout": "5m"}});
    let err = w
        .runs()
        .patch("r", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_err();
    let kube::Error::Api(e) = err else { panic!("{err}") };
    assert!(
        e.message.contains("only spec.cancelled can change after creation"),
        "{}",
        e.message
    );
}

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
        async move { (tasks.get("hello").await.ok()?.status?.steps? == 2).then_some(()) }
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
            .eq(["NAME", "STEPS", "AGE"]),
        "{tasks}"
    );
    assert!(
        tasks
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .take(2)
            .eq(["hello", "2"]),
        "{tasks}"
    );
    let everything = w.kubectl_ok(&["get", "minitask", "-o", "name"]).await;
    assert!(
        everything.contains("task.minitask.dev/hello") && everything.contains("taskrun.minitask.dev/hello-1"),
        "{everything}"
    );
    let explain = w.kubectl_ok(&["explain", "taskrun.spec"]).await;
    assert!(explain.contains("The Task to run, by name"), "{explain}");
    assert!(explain.contains("counted from the TaskRun's creation"), "{explain}");
}
