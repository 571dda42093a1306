//! The built `kubectl-task` binary, run as a subprocess against a real API
//! server (no kubelet: the tests write run status themselves where needed;
//! the e2e suite runs the same commands on a real cluster).

mod access;
mod cluster_tasks;
mod commands;
mod completion;
mod conventions;
mod dashboard;
mod errors;
mod follow;
mod import;
mod pipelines;
mod start;
mod triggers;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use minitask_api::{Task, TaskRun};
use minitask_testenv::ControlPlane;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-task");

pub async fn world(prefix: &str) -> (Client, String) {
    let cp = ControlPlane::shared();
    let client = cp.client().await;
    let ns = cp.namespace(&client, prefix).await;
    (client, ns)
}

pub async fn create_task(client: &Client, ns: &str, name: &str) {
    create_task_with(
        client,
        ns,
        name,
        json!({"steps": [{"name": "a", "image": "busybox", "script": "echo hi"}]}),
    )
    .await;
}

pub async fn create_task_with(client: &Client, ns: &str, name: &str, spec: Value) {
    let task: Task = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": name}, "spec": spec
    }))
    .unwrap();
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &task)
        .await
        .unwrap();
}

pub async fn create_run(client: &Client, ns: &str, name: &str, task: &str) -> TaskRun {
    let run: TaskRun = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
        "metadata": {"name": name, "labels": {"minitask.dev/task": task}},
        "spec": {"taskRef": {"name": task}}
    }))
    .unwrap();
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &run)
        .await
        .unwrap()
}

/// A claim named `name` (`start` checks that the claims `-w` names exist).
pub async fn create_claim(client: &Client, ns: &str, name: &str) {
    let claim: k8s_openapi::api::core::v1::PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }))
    .unwrap();
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &claim)
        .await
        .unwrap();
}

/// Plays the controller: merges `status` into the run's status.
pub async fn set_status(client: &Client, ns: &str, run: &str, status: Value) {
    Api::<TaskRun>::namespaced(client.clone(), ns)
        .patch_status(run, &PatchParams::default(), &Patch::Merge(&json!({"status": status})))
        .await
        .unwrap();
}

/// The plugin in namespace `ns` of the test control plane.
pub fn task_in(ns: &str, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["-n", ns]);
    plugin(&all, &ControlPlane::shared().kubeconfig)
}

pub fn plugin(args: &[&str], kubeconfig: &Path) -> Output {
    Command::new(PLUGIN)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("plugin runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

pub async fn runs(client: &Client, ns: &str) -> Vec<TaskRun> {
    Api::<TaskRun>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
}

/// The shared kubeconfig with its context's namespace set to `ns`.
pub fn kubeconfig_in(ns: &str, dir: &str) -> PathBuf {
    let original = std::fs::read_to_string(&ControlPlane::shared().kubeconfig).unwrap();
    let path = std::env::temp_dir().join(format!("minitask-cli-{dir}-{}", std::process::id()));
    std::fs::write(
        &path,
        original.replace("namespace: default", &format!("namespace: {ns}")),
    )
    .unwrap();
    path
}

/// The plugin as a user of the test control plane (impersonated by the
/// admin): what that user's RBAC allows is what the plugin can do.
pub fn task_as(user: &str, ns: &str, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["-n", ns, "--as", user]);
    plugin(&all, &ControlPlane::shared().kubeconfig)
}

/// Runs `script` in a real bash, with the plugin's directory first on the
/// PATH and KUBECONFIG set to the test control plane.
pub fn bash(script: &str) -> Output {
    let bin_dir = Path::new(PLUGIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    Command::new("bash")
        .args(["-c", script])
        .env("PATH", path)
        .env("KUBECONFIG", &ControlPlane::shared().kubeconfig)
        .output()
        .expect("bash runs")
}

/// stderr, asserting the plugin failed with exit code 2.
pub fn error(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {} stderr: {stderr}",
        text(&out.stdout)
    );
    assert!(
        !stderr.contains("Status {") && !stderr.contains("Some("),
        "a Debug dump: {stderr}"
    );
    stderr
}

/// A Task with params, a workspace and results, for the tests that need more
/// than `create_task`.
pub async fn full_task(client: &Client, ns: &str, name: &str) {
    let spec = json!({
        "description": "Builds the thing.\nSecond line.",
        "params": [{"name": "who", "default": "world"}, {"name": "files", "type": "array"}],
        "workspaces": [{"name": "src"}, {"name": "cache", "optional": true}],
        "results": [{"name": "digest"}],
        "steps": [{"name": "build", "image": "busybox", "script": "true"}, {"name": "push", "image": "busybox", "script": "true"}],
    });
    create_task_with(client, ns, name, spec).await;
}

/// Sends `signal` (TERM, INT...) to a child process.
pub fn signal(child: &std::process::Child, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}
