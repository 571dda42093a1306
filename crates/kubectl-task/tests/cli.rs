//! The built `kubectl-task` binary against a real API server.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use minitask_api::{LABEL_TASK, Task, TaskRun};
use minitask_testenv::ControlPlane;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-task");

async fn world(prefix: &str) -> (Client, String) {
    let cp = ControlPlane::shared();
    let client = cp.client().await;
    let ns = cp.namespace(&client, prefix).await;
    (client, ns)
}

async fn create_task(client: &Client, ns: &str, name: &str) {
    let task: Task = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": name},
        "spec": {"steps": [{"name": "a", "image": "busybox", "script": "echo hi"}]}
    }))
    .unwrap();
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &task)
        .await
        .unwrap();
}

fn plugin(args: &[&str], kubeconfig: &Path) -> Output {
    Command::new(PLUGIN)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("plugin runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn runs(client: &Client, ns: &str) -> Vec<TaskRun> {
    Api::<TaskRun>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
}

/// The shared kubeconfig with its context's namespace set to `ns`.
fn kubeconfig_in(ns: &str, dir: &str) -> PathBuf {
    let original = std::fs::read_to_string(&ControlPlane::shared().kubeconfig).unwrap();
    let path = std::env::temp_dir().join(format!("minitask-cli-{dir}-{}", std::process::id()));
    std::fs::write(
        &path,
        original.replace("namespace: default", &format!("namespace: {ns}")),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn start_creates_a_run_of_the_task_and_prints_its_name() {
    let (client, ns) = world("start").await;
    create_task(&client, &ns, "hello").await;
    let out = plugin(&["start", "hello", "-n", &ns], &ControlPlane::shared().kubeconfig);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let runs = runs(&client, &ns).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert!(run.name_any().starts_with("hello-run-"), "{}", run.name_any());
    assert_eq!(
        stdout.trim(),
        format!("taskrun.minitask.dev/{} created", run.name_any())
    );
    assert_eq!(run.task_name(), Some("hello"));
    assert_eq!(run.labels()[LABEL_TASK], "hello");
}

#[tokio::test]
async fn a_missing_task_is_an_error_naming_it_and_its_namespace() {
    let (client, ns) = world("missing").await;
    let out = plugin(&["start", "nope", "-n", &ns], &ControlPlane::shared().kubeconfig);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("Task \"nope\" not found in namespace \"{ns}\"")),
        "{stderr}"
    );
    assert!(runs(&client, &ns).await.is_empty(), "nothing was created");
}

#[tokio::test]
async fn the_namespace_defaults_to_the_contexts() {
    let (client, ns) = world("context-ns").await;
    create_task(&client, &ns, "hello").await;
    let out = plugin(&["start", "hello"], &kubeconfig_in(&ns, "ns"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(runs(&client, &ns).await.len(), 1);
}

#[tokio::test]
async fn kubeconfig_and_context_flags_are_honoured() {
    let (client, ns) = world("flags").await;
    create_task(&client, &ns, "hello").await;
    let kubeconfig = kubeconfig_in(&ns, "flags");
    let bogus = std::env::temp_dir().join("minitask-cli-no-such-kubeconfig");
    let out = Command::new(PLUGIN)
        .args([
            "start",
            "hello",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--context",
            "test",
        ])
        .env("KUBECONFIG", &bogus)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(runs(&client, &ns).await.len(), 1);

    let out = plugin(&["start", "hello", "--context", "no-such-context"], &kubeconfig);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no-such-context"), "{}", text(&out.stderr));
    // The namespace exists, so the runs in it are ours to count.
    let _: Namespace = Api::all(client.clone()).get(&ns).await.unwrap();
}

#[tokio::test]
async fn kubectl_finds_the_plugin_on_path() {
    let (client, ns) = world("discovery").await;
    create_task(&client, &ns, "hello").await;
    let bin_dir = Path::new(PLUGIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("kubectl")
        .args(["task", "start", "hello", "-n", &ns])
        .env("PATH", path)
        .env("KUBECONFIG", &ControlPlane::shared().kubeconfig)
        .output()
        .expect("kubectl runs");
    assert!(out.status.success(), "{} {}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("created"), "{}", text(&out.stdout));
    assert_eq!(runs(&client, &ns).await.len(), 1);
}
