//! Shared pieces: a controller running in-process as the deployed
//! ServiceAccount, objects to create, and a stand-in kubelet that writes pod
//! status the way the real one does.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use minitask_api::{Phase, Task, TaskRun, TaskRunStatus};
use minitask_controller::{Config, PodOptions};
use minitask_launcher::record::{Record, State};
use minitask_testenv::{CONTROLLER_USER, ControlPlane, eventually};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const WAIT: Duration = Duration::from_secs(30);

/// One test's world: an admin client and a fresh namespace.
pub struct World {
    pub client: Client,
    pub ns: String,
}

impl World {
    pub async fn new(prefix: &str) -> World {
        // The controllers' logs, when asked for: TEST_LOG=minitask_controller=debug.
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_test_writer()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .try_init();
        }
        let cp = ControlPlane::shared();
        let client = cp.client().await;
        let ns = cp.namespace(&client, prefix).await;
        World { client, ns }
    }

    pub fn tasks(&self) -> Api<Task> {
        Api::namespaced(self.client.clone(), &self.ns)
    }
    pub fn runs(&self) -> Api<TaskRun> {
        Api::namespaced(self.client.clone(), &self.ns)
    }
    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// The real `kubectl <args> -n <ns>`, as the admin.
    pub fn kubectl(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("kubectl");
        command
            .args(args)
            .args(["-n", &self.ns])
            .env("KUBECONFIG", &ControlPlane::shared().kubeconfig);
        command
    }

    /// `kubectl`, which must succeed; its standard output.
    pub async fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).output().await.expect("kubectl runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kubectl {args:?}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A controller for this namespace, authorized as the deployed
    /// ServiceAccount (impersonated), so RBAC is exercised on every path.
    pub async fn controller(&self) -> Running {
        self.controller_with_options(PodOptions::default()).await
    }

    /// `controller()` with other pod options.
    pub async fn controller_with_options(&self, pod_options: PodOptions) -> Running {
        let client = ControlPlane::shared().client_as(CONTROLLER_USER).await;
        self.controller_with(client, pod_options).await
    }

    pub async fn controller_with(&self, client: Client, pod_options: PodOptions) -> Running {
        let config = Config {
            namespace: Some(self.ns.clone()),
            pod_options,
            ..Config::default()
        };
        self.controller_with_config(client, config).await
    }

    /// A controller with its whole configuration given.
    pub async fn controller_with_config(&self, client: Client, config: Config) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(minitask_controller::run(client, config, async {
            let _ = stopped.await;
        }));
        Running {
            stop: Some(stop),
            handle,
        }
    }

    pub async fn create_task(&self, name: &str, scripts: &[(&str, &str)]) -> Task {
        let steps: Vec<Value> = scripts
            .iter()
            .map(|(n, s)| json!({"name": n, "image": "busybox", "script": s}))
            .collect();
        self.create_task_with(name, json!({"steps": steps})).await
    }

    /// Creates a Task with `spec` as written.
    pub async fn create_task_with(&self, name: &str, spec: Value) -> Task {
        let task: Task = serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "Task",
            "metadata": {"name": name}, "spec": spec
        }))
        .unwrap();
        self.tasks()
            .create(&PostParams::default(), &task)
            .await
            .expect("create task")
    }

    pub async fn create_run(&self, name: &str, task: &str) -> TaskRun {
        self.create_run_with(name, json!({"taskRef": {"name": task}})).await
    }

    /// Creates a TaskRun with `spec` as written.
    pub async fn create_run_with(&self, name: &str, spec: Value) -> TaskRun {
        let run: TaskRun = serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
            "metadata": {"name": name}, "spec": spec
        }))
        .unwrap();
        self.runs()
            .create(&PostParams::default(), &run)
            .await
            .expect("create taskrun")
    }

    /// Waits until the run's status satisfies `check`, and returns it.
    pub async fn run_status(&self, run: &str, what: &str, check: impl Fn(&TaskRunStatus) -> bool) -> TaskRunStatus {
        let runs = self.runs();
        eventually(what, WAIT, || {
            let runs = runs.clone();
            let check = &check;
            async move { runs.get(run).await.ok()?.status.filter(|s| check(s)) }
        })
        .await
    }

    pub async fn phase(&self, run: &str, phase: Phase) -> TaskRunStatus {
        self.run_status(run, &format!("{run} to be {phase:?}"), |s| s.phase == Some(phase))
            .await
    }

    /// Waits for the run's (first) pod and returns it.
    pub async fn pod(&self, run: &str) -> Pod {
        self.pod_named(&format!("{run}-pod")).await
    }

    /// Waits for the pod `name` and returns it.
    pub async fn pod_named(&self, name: &str) -> Pod {
        let pods = self.pods();
        let name = name.to_string();
        eventually(&format!("pod {name}"), WAIT, || {
            let (pods, name) = (pods.clone(), name.clone());
            async move { pods.get_opt(&name).await.ok().flatten() }
        })
        .await
    }

    pub async fn pod_count(&self) -> usize {
        self.pods()
            .list(&ListParams::default())
            .await
            .expect("list pods")
            .items
            .len()
    }

    /// A run `run` of a one-step Task `t` (step `a`, a long sleep) with
    /// `spec` added, whose step the kubelet (this test) reports running;
    /// returns its pod.
    pub async fn running(&self, run: &str, spec: Value) -> Pod {
        self.create_task("t", &[("a", "sleep 300")]).await;
        let mut full = json!({"taskRef": {"name": "t"}});
        if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
            full.extend(extra.clone());
        }
        self.create_run_with(run, full).await;
        let pod = self.pod(run).await;
        self.kubelet(&pod, "Running", &[StepState::Running]).await;
        self.phase(run, Phase::Running).await;
        pod
    }

    /// Sets `spec.cancelled` on run `run`.
    pub async fn cancel(&self, run: &str) {
        let patch = json!({"spec": {"cancelled": true}});
        self.runs()
            .patch(run, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("cancel");
    }

    /// Merges `status` into pod `name`'s status, as a kubelet would write it.
    pub async fn pod_status(&self, name: &str, status: Value) {
        self.pods()
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&json!({"status": status})))
            .await
            .expect("write pod status");
    }

    /// Waits until pod `name` is stopped (its activeDeadlineSeconds lowered
    /// to 1), which the controller does right after writing the run's end.
    pub async fn stopped(&self, name: &str) {
        eventually(&format!("pod {name} to be stopped"), WAIT, || async {
            let pod = self.pods().get(name).await.ok()?;
            (pod.spec?.active_deadline_seconds == Some(1)).then_some(())
        })
        .await;
    }

    /// Plays the scheduler: binds the pod to node `node-1` (which need not
    /// exist), unless it is bound already.
    pub async fn bind(&self, pod: &Pod) {
        let current = self.pods().get(&pod.name_any()).await.expect("the pod exists");
        if current.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
            return;
        }
        let binding = json!({
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": pod.name_any()},
            "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
        });
        self.pods()
            .create_subresource::<Value, Value>("binding", &pod.name_any(), &PostParams::default(), &binding)
            .await
            .expect("bind the pod");
    }

    /// Plays the kubelet: writes the pod's phase and the state of each of
    /// its containers (the steps, then the reporter), after the launcher's
    /// init container has ended. A step that exits leaves its launcher's
    /// record, as the launcher does. The pod is bound to a node first, as
    /// a kubelet only sees bound pods.
    pub async fn kubelet(&self, pod: &Pod, phase: &str, states: &[StepState]) {
        self.bind(pod).await;
        let spec = pod.spec.as_ref().expect("pod spec");
        let status = |name: &str, state: &StepState| {
            json!({
                "name": name, "image": "busybox", "imageID": "", "ready": matches!(state, StepState::Running),
                "restartCount": 0, "state": state.json(name.starts_with("step-")),
            })
        };
        let all: Vec<Value> = spec
            .containers
            .iter()
            .zip(states)
            .map(|(c, s)| status(&c.name, s))
            .collect();
        let prepared: Vec<Value> = spec
            .init_containers
            .iter()
            .flatten()
            .map(|c| status(&c.name, &StepState::Exited(0)))
            .collect();
        let patch = json!({"status": {
            "phase": phase,
            "initContainerStatuses": prepared,
            "containerStatuses": all,
        }});
        self.pods()
            .patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("write pod status");
    }
}

pub async fn gone(w: &World, run: &str) {
    let runs = w.runs();
    let run = run.to_string();
    eventually(&format!("{run} to be deleted"), Duration::from_secs(20), || {
        let (runs, run) = (runs.clone(), run.clone());
        async move { runs.get_opt(&run).await.ok()?.is_none().then_some(()) }
    })
    .await;
}

/// A step container's state, as the kubelet reports it.
pub enum StepState {
    Waiting,
    /// Waiting on an image that does not pull.
    PullFailing,
    Running,
    Exited(i32),
    /// Exited with this termination message.
    Reported(i32, &'static str),
}

impl StepState {
    /// The state as JSON; a step's exit comes with its launcher's record.
    fn json(&self, step: bool) -> Value {
        // Seconds, as the kubelet writes them.
        let second = k8s_openapi::jiff::Timestamp::now().as_second();
        let now = &k8s_openapi::jiff::Timestamp::from_second(second).unwrap().to_string();
        match self {
            StepState::Waiting => json!({"waiting": {"reason": "PodInitializing"}}),
            StepState::PullFailing => {
                json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"nope\""}})
            }
            StepState::Running => json!({"running": {"startedAt": now}}),
            StepState::Exited(code) => {
                let reason = if *code == 0 { "Completed" } else { "Error" };
                let record = step.then(|| {
                    let ms = second as u64 * 1000;
                    Record {
                        state: if *code == 0 { State::Succeeded } else { State::Failed },
                        exit_code: *code,
                        started_ms: ms,
                        finished_ms: ms,
                        message: String::new(),
                    }
                    .encode(4096)
                });
                json!({"terminated": {"exitCode": code, "reason": reason, "message": record, "startedAt": now, "finishedAt": now}})
            }
            StepState::Reported(code, message) => json!({"terminated": {
                "exitCode": code, "message": message, "startedAt": now, "finishedAt": now,
            }}),
        }
    }
}

/// A controller running in this test's runtime.
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), minitask_controller::Stopped>>,
}

impl Running {
    /// Graceful stop: in-flight reconciles finish first.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let handle = &mut self.handle;
        tokio::time::timeout(WAIT, handle)
            .await
            .expect("controller stops")
            .expect("controller task")
            .expect("a requested stop is a clean stop");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.abort();
    }
}
