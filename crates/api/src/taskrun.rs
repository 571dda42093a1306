use k8s_openapi::api::core::v1::{ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::core::Rule;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Param, PodTemplate, TaskRunResult, TaskSpec, WorkspaceBinding};

/// A TaskRun: one execution of a Task, run as one Pod.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "minitask.dev",
    version = "v1alpha1",
    kind = "TaskRun",
    namespaced,
    status = "TaskRunStatus",
    shortname = "tr",
    category = "minitask",
    doc = "A TaskRun runs a Task once, as one Pod whose steps run in order, and reports progress in its status.",
    printcolumn(
        name = "Task",
        type_ = "string",
        json_path = ".spec.taskRef.name",
        description = "The Task this run executes"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.phase",
        description = "Pending, Running, Succeeded or Failed"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.reason",
        description = "Why the run is in its phase"
    ),
    printcolumn(
        name = "Started",
        type_ = "date",
        json_path = ".status.startTime",
        description = "When the controller started the run"
    ),
    printcolumn(
        name = "Duration",
        type_ = "string",
        json_path = ".status.duration",
        description = "How long the run took, once it ended"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(
    validation = Rule::new("has(self.taskRef) != has(self.taskSpec)")
        .message("set exactly one of taskRef (the name of a Task) or taskSpec (an inline Task)"),
    validation = fixed("taskRef"),
    validation = fixed("taskSpec"),
    validation = fixed("timeout"),
    validation = fixed("debug"),
    validation = fixed("serviceAccountName"),
    validation = fixed("params"),
    validation = fixed("workspaces"),
    validation = fixed("retries"),
    validation = fixed("podTemplate"),
)]
#[serde(rename_all = "camelCase")]
pub struct TaskRunSpec {
    /// The Task to run: by name in the TaskRun's namespace, or a
    /// ClusterTask (`kind: ClusterTask`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_ref: Option<TaskRef>,

    // Boxed, like the other large optional parts, so that a run without
    // them stays small in the controller's cache.
    /// An inline Task to run instead of a named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_spec: Option<Box<TaskSpec>>,

    /// The longest the run may take, counted from the TaskRun's creation
    /// (time spent pending counts), as a duration such as `30s`, `10m` or
    /// `1h30m`. Past it the steps are stopped, the pod and its logs are
    /// kept, and the run fails with reason `Timeout`. Defaults to `1h`;
    /// more than 0s and at most 596523h14m7s (2^31-1 seconds, the most a
    /// pod's `activeDeadlineSeconds` can hold).
    #[serde(default = "default_timeout")]
    #[schemars(length(max = 40), regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    #[x_kube(validation = Rule::new("duration(self) > duration('0s') && duration(self) <= duration('596523h14m7s')")
        .message("timeout must be more than 0s and at most 596523h14m7s (2^31-1 seconds), such as 30s, 10m or 1h30m"))]
    pub timeout: String,

    /// The ServiceAccount the run's pod runs as; the namespace's `default`
    /// when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,

    /// Set to true to cancel the run: its steps are stopped, the pod and its
    /// logs are kept, and the run fails with reason `Cancelled`
    /// (`kubectl patch taskrun <run> --type merge -p '{"spec":{"cancelled":true}}'`).
    /// The only field that can change after creation; it cannot be unset.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[x_kube(validation = Rule::new("self || !oldSelf").message("a cancelled run cannot be resumed: start a new TaskRun instead"))]
    pub cancelled: bool,

    /// Values for the Task's params.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    #[x_kube(validation = Rule::new("self.all(p, self.exists_one(q, q.name == p.name))")
        .message("each param may be set once"))]
    pub params: Vec<Param>,

    /// Volumes for the Task's workspaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[x_kube(validation = Rule::new("self.all(w, self.exists_one(v, v.name == w.name))")
        .message("each workspace may be bound once"))]
    pub workspaces: Vec<WorkspaceBinding>,

    /// How many times to run the Task again after a failed attempt (a step
    /// failed, or the pod failed or could not pull an image); not after a
    /// cancellation, a timeout or invalid input. Each attempt is a new pod,
    /// `<taskrun>-pod-retry<k>`; earlier ones are listed in
    /// `status.retriesStatus`. All attempts share `timeout`.
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(min = 0, max = 10))]
    pub retries: i32,

    /// Debugging: `onFailure: true` keeps a failed step's container for
    /// `kubectl task debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug: Option<DebugSpec>,

    /// Scheduling and security settings for the run's pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Box<PodTemplate>>,

    /// Delete the run (and, through its owner reference, its pod) this many
    /// seconds after it finished. Kept until deleted by hand when unset
    /// (unless the controller's `--keep-finished-per-task` removes it). May
    /// change after creation, as a Job's may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub ttl_seconds_after_finished: Option<i64>,
}

/// How a run waits for a debugger.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DebugSpec {
    /// When a step fails, its container keeps running (with its
    /// environment and the workspace as the step left them) until `kubectl
    /// task debug <run>` has opened a shell in it and the shell exits,
    /// `kubectl task debug <run> --continue` ends the wait, or `timeout`
    /// passes. The run's reason is `Debugging` meanwhile; then it fails as
    /// the step did.
    #[serde(default)]
    pub on_failure: bool,

    /// The longest a failed step waits for a debugger, such as `30m`;
    /// `15m` when unset. The wait counts toward the run's `spec.timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 40), regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    pub timeout: Option<String>,
}

/// How long a failed step waits for a debugger when `debug.timeout` is unset.
pub const DEFAULT_DEBUG_TIMEOUT: &str = "15m";

const IMMUTABLE: &str = "only spec.cancelled can change after creation: start a new TaskRun instead";

/// The rule that keeps spec `field` as it was created: present with the
/// same value, or absent before and after. Every spec field but `cancelled`
/// has one; a rule per field makes the error name the field.
fn fixed(field: &str) -> Rule {
    let f = field;
    Rule::new(format!(
        "has(self.{f}) ? has(oldSelf.{f}) && self.{f} == oldSelf.{f} : !has(oldSelf.{f})"
    ))
    .message(IMMUTABLE)
    .field_path(format!(".{f}"))
}

impl Default for TaskRunSpec {
    fn default() -> Self {
        TaskRunSpec {
            task_ref: None,
            task_spec: None,
            timeout: default_timeout(),
            service_account_name: None,
            cancelled: false,
            params: Vec::new(),
            workspaces: Vec::new(),
            retries: 0,
            debug: None,
            pod_template: None,
            ttl_seconds_after_finished: None,
        }
    }
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

fn default_timeout() -> String {
    crate::DEFAULT_TIMEOUT.to_string()
}

/// A reference to a Task in the run's namespace, or to a ClusterTask
/// (`kind: ClusterTask`) that every namespace may run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct TaskRef {
    /// The Task's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// `Task` (the default: the run's namespace) or `ClusterTask`.
    #[serde(default, skip_serializing_if = "TaskKind::is_task")]
    pub kind: TaskKind,
}

impl TaskRef {
    /// A reference to the Task `name` of the run's namespace.
    pub fn task(name: impl Into<String>) -> Self {
        TaskRef {
            name: name.into(),
            kind: TaskKind::Task,
        }
    }

    /// `Task "x"` or `ClusterTask "x"`, for messages.
    pub fn describe(&self) -> String {
        format!("{} {:?}", self.kind.as_str(), self.name)
    }
}

/// Where a `taskRef` looks: the run's namespace, or the cluster.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum TaskKind {
    /// A Task in the run's namespace.
    #[default]
    Task,
    /// A cluster-scoped ClusterTask, published once for every namespace.
    ClusterTask,
}

impl TaskKind {
    fn is_task(&self) -> bool {
        *self == TaskKind::Task
    }

    /// The kind's name, as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Task => "Task",
            TaskKind::ClusterTask => "ClusterTask",
        }
    }
}

/// The phase of a TaskRun.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Not started yet: waiting for the Task, or for the pod to start.
    Pending,
    /// The pod is running the steps.
    Running,
    /// Every step succeeded.
    Succeeded,
    /// A step failed, or the pod could not run; see `reason` and `message`.
    Failed,
}

impl Phase {
    /// Succeeded and Failed are final: nothing changes a run after them.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }
}

/// What the controller observed of a TaskRun.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskRunStatus {
    /// Pending, Running, Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// A CamelCase word that says why the run is in its phase, for machines:
    /// TaskNotFound, Pending, Running, Retrying, Succeeded, StepFailed,
    /// StepTimeout, Debugging, Timeout, Cancelled, ImagePullFailed, ContainerCreationFailed,
    /// PodStartFailed, PodFailed, PodDeleted, PodEvicted, NodeLost, PodConflict,
    /// PodCreationFailed, InvalidParams, InvalidWorkspaces, InvalidTaskSpec,
    /// ResultsTooLarge, ResultsFailed, SidecarFailed, SidecarNotReady.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,

    /// What happened, for people, and what to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    /// The `Succeeded` condition: Unknown while the run goes on, then True or
    /// False. `kubectl wait --for=condition=Succeeded` waits on it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    // One entry per type, each owned by whoever applies it: the
    // controller's Succeeded (or Valid) and the archive's Archived.
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// The name of the pod that runs the steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,

    /// When the controller started the run (created its pod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,

    /// When the run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,

    /// How long the run took from start to end, such as `1m5s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,

    /// The state of every step, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepState>,

    /// The `metadata.generation` of the TaskRun this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// The Task as it was when the run started: later edits of the Task do
    /// not change a run that has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_spec: Option<Box<TaskSpec>>,

    /// The Task's results, once the run has ended: all of them when it
    /// succeeded, and what the steps wrote before a step failed otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<TaskRunResult>,

    /// The attempts that failed before the current one (see `spec.retries`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retries_status: Vec<AttemptStatus>,
}

/// How one failed attempt of a run ended.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptStatus {
    /// The attempt's pod, kept for its logs.
    pub pod_name: String,
    /// Why it failed, as in `status.reason`.
    pub reason: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Its steps' final states.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepState>,
}

/// The state of one step, as its container reports it. In a finished run
/// every step is either terminated or has no state at all: it never ran.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepState {
    /// The step's name.
    pub name: String,
    /// The name of the step's container in the pod.
    pub container: String,
    /// Set while the step waits to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<ContainerStateWaiting>,
    /// Set while the step runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<ContainerStateRunning>,
    /// Set once the step ended, with its exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated: Option<ContainerStateTerminated>,
}

impl TaskRun {
    /// The run's phase; a run with no status yet is Pending.
    pub fn phase(&self) -> Phase {
        self.status.as_ref().and_then(|s| s.phase).unwrap_or(Phase::Pending)
    }

    /// The name of the Task the run executes, when it names one.
    pub fn task_name(&self) -> Option<&str> {
        self.spec.task_ref.as_ref().map(|r| r.name.as_str())
    }
}
