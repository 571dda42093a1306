use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, EmptyDirVolumeSource, PersistentVolumeClaimTemplate, PersistentVolumeClaimVolumeSource,
    SecretVolumeSource,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::core::Rule;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Param, Phase, PipelineSpec, PodTemplate, TaskRunResult};

/// A PipelineRun: one execution of a Pipeline, as TaskRuns it owns.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "minitask.dev",
    version = "v1alpha1",
    kind = "PipelineRun",
    namespaced,
    status = "PipelineRunStatus",
    shortname = "plr",
    category = "minitask",
    doc = "A PipelineRun runs a Pipeline once: each of its tasks as a TaskRun it owns, in the order of the Pipeline's graph, then its finally tasks.",
    printcolumn(
        name = "Pipeline",
        type_ = "string",
        json_path = ".spec.pipelineRef.name",
        description = "The Pipeline this run executes"
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
        name = "Tasks",
        type_ = "string",
        json_path = ".status.progress",
        description = "Tasks ended (succeeded, failed or skipped) of all tasks"
    ),
    printcolumn(
        name = "Started",
        type_ = "date",
        json_path = ".status.startTime",
        description = "When the run started"
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
    validation = Rule::new("has(self.pipelineRef) != has(self.pipelineSpec)")
        .message("set exactly one of pipelineRef (the name of a Pipeline) or pipelineSpec (an inline Pipeline)"),
    validation = fixed("pipelineRef"),
    validation = fixed("pipelineSpec"),
    validation = fixed("params"),
    validation = fixed("workspaces"),
    validation = fixed("timeouts"),
    validation = fixed("serviceAccountName"),
    validation = fixed("podTemplate"),
)]
#[serde(rename_all = "camelCase")]
pub struct PipelineRunSpec {
    /// The Pipeline to run, by name, in the run's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_ref: Option<PipelineRef>,

    /// An inline Pipeline to run instead of a named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_spec: Option<Box<PipelineSpec>>,

    /// Values for the Pipeline's params.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    #[x_kube(validation = Rule::new("self.all(p, self.exists_one(q, q.name == p.name))")
        .message("each param may be set once"))]
    pub params: Vec<Param>,

    /// Volumes for the Pipeline's workspaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[x_kube(validation = Rule::new("self.all(w, self.exists_one(v, v.name == w.name))")
        .message("each workspace may be bound once"))]
    pub workspaces: Vec<PipelineWorkspaceBinding>,

    /// How long the run, its tasks and its finally tasks may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,

    /// Set to true to cancel the run: its running TaskRuns are cancelled
    /// (their pods and logs are kept), tasks that have not started never
    /// start, and the finally tasks still run. It cannot be unset.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[x_kube(validation = Rule::new("self || !oldSelf").message("a cancelled run cannot be resumed: start a new PipelineRun instead"))]
    pub cancelled: bool,

    /// The ServiceAccount every TaskRun's pod runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,

    /// Scheduling and security settings for every TaskRun's pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Box<PodTemplate>>,

    /// Delete the run (with its TaskRuns, pods and claims) this many
    /// seconds after it finished. May change after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub ttl_seconds_after_finished: Option<i64>,
}

const IMMUTABLE: &str =
    "only spec.cancelled and spec.ttlSecondsAfterFinished can change after creation: start a new PipelineRun instead";

/// The rule that keeps spec `field` as it was created (see TaskRun's).
fn fixed(field: &str) -> Rule {
    let f = field;
    Rule::new(format!(
        "has(self.{f}) ? has(oldSelf.{f}) && self.{f} == oldSelf.{f} : !has(oldSelf.{f})"
    ))
    .message(IMMUTABLE)
    .field_path(format!(".{f}"))
}

/// A reference to a Pipeline in the run's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct PipelineRef {
    /// The Pipeline's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// How long parts of a run may take, each as a duration such as `30m`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Timeouts {
    /// The whole run, counted from its creation; `1h` when unset. Past it,
    /// every TaskRun still running is cancelled, finally tasks included,
    /// and the run fails with reason Timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 40), regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    #[x_kube(validation = Rule::new("duration(self) > duration('0s') && duration(self) <= duration('596523h14m7s')")
        .message("a timeout must be more than 0s and at most 596523h14m7s"))]
    pub pipeline: Option<String>,
    /// The tasks (not finally), counted from the run's creation. Past it,
    /// their TaskRuns are cancelled and the finally tasks run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 40), regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    #[x_kube(validation = Rule::new("duration(self) > duration('0s') && duration(self) <= duration('596523h14m7s')")
        .message("a timeout must be more than 0s and at most 596523h14m7s"))]
    pub tasks: Option<String>,
    /// The finally tasks, counted from when they start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 40), regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    #[x_kube(validation = Rule::new("duration(self) > duration('0s') && duration(self) <= duration('596523h14m7s')")
        .message("a timeout must be more than 0s and at most 596523h14m7s"))]
    pub finally: Option<String>,
}

/// Binds a Pipeline's workspace to a volume for one run: exactly one of
/// emptyDir, persistentVolumeClaim, volumeClaimTemplate, configMap or
/// secret.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("[has(self.emptyDir), has(self.persistentVolumeClaim), has(self.volumeClaimTemplate), has(self.configMap), has(self.secret)].filter(x, x).size() == 1")
        .message("set exactly one of emptyDir, persistentVolumeClaim, volumeClaimTemplate, configMap or secret"),
    validation = Rule::new("!has(self.keep) || !self.keep || has(self.volumeClaimTemplate)")
        .message("keep applies to a volumeClaimTemplate: other volumes are not made by the run"),
)]
#[serde(rename_all = "camelCase")]
pub struct PipelineWorkspaceBinding {
    /// The name of a workspace the Pipeline declares.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,

    /// Mount only this directory of the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,

    /// A fresh empty directory per TaskRun: only for a workspace that one
    /// task uses (an emptyDir cannot be shared between pods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirVolumeSource>,

    /// An existing PersistentVolumeClaim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PersistentVolumeClaimVolumeSource>,

    /// A PersistentVolumeClaim the run creates (`<run>-<workspace>`, owned
    /// by the run) before its first task, and deletes when it finishes
    /// (unless `keep`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_claim_template: Option<PersistentVolumeClaimTemplate>,

    /// Keep the claim made from `volumeClaimTemplate` after the run
    /// finishes; it then goes with the run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep: bool,

    /// A ConfigMap's keys as files (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapVolumeSource>,

    /// A Secret's keys as files (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretVolumeSource>,
}

impl PipelineWorkspaceBinding {
    /// The same binding as a TaskRun takes it (a claim template, which
    /// only a PipelineRun has, is left out).
    pub fn to_task_binding(&self) -> crate::WorkspaceBinding {
        crate::WorkspaceBinding {
            name: self.name.clone(),
            sub_path: self.sub_path.clone(),
            empty_dir: self.empty_dir.clone(),
            persistent_volume_claim: self.persistent_volume_claim.clone(),
            config_map: self.config_map.clone(),
            secret: self.secret.clone(),
        }
    }
}

/// What the controller observed of a PipelineRun. It holds only
/// references to the child TaskRuns and their outcome in a word, never
/// their status (a large Pipeline's would not fit an object).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineRunStatus {
    /// Pending, Running, Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// A CamelCase word that says why the run is in its phase, for machines:
    /// PipelineNotFound, Pending, Running, Succeeded, TaskFailed, Cancelled,
    /// Timeout, InvalidPipeline, InvalidParams, InvalidWorkspaces,
    /// ClaimFailed, TaskRunRefused, TaskRunConflict, ResultsTooLarge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,

    /// What happened, for people, and what to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    /// The `Succeeded` condition: Unknown while the run goes on, then True
    /// or False (`kubectl wait --for=condition=Succeeded`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    // One entry per type, each owned by whoever applies it: the
    // controller's Succeeded (or Valid) and the archive's Archived.
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// When the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,

    /// When the run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,

    /// How long the run took, such as `3m5s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,

    /// When every task (not finally) had ended, so the finally tasks could
    /// start: `timeouts.tasks` is judged against it, and `timeouts.finally`
    /// counts from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finally_start_time: Option<Time>,

    /// Tasks ended (succeeded, failed or skipped) of all tasks, such as
    /// `3/5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,

    /// Every task, finally tasks last: its TaskRuns and how it stands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<PipelineTaskStatus>,

    /// The Pipeline's results, once the run has ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<TaskRunResult>,

    /// The Pipeline as it was when the run started: editing the Pipeline
    /// never changes a run that has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_spec: Option<Box<PipelineSpec>>,

    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// How one task of a run stands.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineTaskStatus {
    /// The task's name in the Pipeline.
    pub name: String,
    /// Its TaskRuns: one, or one per combination of its matrix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub task_runs: Vec<String>,
    pub state: TaskState,
    /// A word: why it was skipped, or how it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A finally task.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub finally: bool,
    /// The results of an ended task (a list each for a matrix), kept so
    /// that deleting its TaskRuns changes nothing for the tasks after it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<crate::Param>,
}

/// Where one task of a run stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum TaskState {
    /// Not started: waiting for the tasks it comes after, or for room
    /// under `maxParallel`; or its TaskRuns are pending.
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    /// It did not run: its `when` was false, it needs results that do not
    /// exist, or the run stopped before it could start (see `reason`).
    Skipped,
}

impl TaskState {
    /// Succeeded, Failed and Skipped: nothing more happens to it.
    pub fn is_done(self) -> bool {
        matches!(self, TaskState::Succeeded | TaskState::Failed | TaskState::Skipped)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "Pending",
            TaskState::Running => "Running",
            TaskState::Succeeded => "Succeeded",
            TaskState::Failed => "Failed",
            TaskState::Skipped => "Skipped",
        }
    }
}

impl PipelineRun {
    /// The run's phase; a run with no status yet is Pending.
    pub fn phase(&self) -> Phase {
        self.status.as_ref().and_then(|s| s.phase).unwrap_or(Phase::Pending)
    }

    /// The name of the Pipeline the run executes, when it names one.
    pub fn pipeline_name(&self) -> Option<&str> {
        self.spec.pipeline_ref.as_ref().map(|r| r.name.as_str())
    }
}

/// What is wrong with a PipelineRun's workspace `bindings` for `spec`:
/// every required workspace bound, every binding declared, an emptyDir
/// only for a workspace one task uses (the controller and `kubectl task
/// start` check the same).
pub fn binding_problems(spec: &PipelineSpec, bindings: &[PipelineWorkspaceBinding]) -> Vec<String> {
    let mut problems = Vec::new();
    for binding in bindings {
        if !spec.workspaces.iter().any(|w| w.name == binding.name) {
            problems.push(format!(
                "workspace {:?} is bound, but the Pipeline declares {}",
                binding.name,
                match spec.workspaces.is_empty() {
                    true => "no workspaces".to_string(),
                    false => format!(
                        "only {}",
                        spec.workspaces
                            .iter()
                            .map(|w| w.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            ));
        }
        let users = spec
            .all_tasks()
            .filter(|t| t.workspaces.iter().any(|w| w.workspace == binding.name))
            .count();
        if binding.empty_dir.is_some() && users > 1 {
            problems.push(format!(
                "workspace {:?} is an emptyDir but {users} tasks use it: an emptyDir lives in one pod; bind a persistentVolumeClaim or a volumeClaimTemplate to share files between tasks",
                binding.name
            ));
        }
    }
    for declared in spec.workspaces.iter().filter(|w| !w.optional) {
        if !bindings.iter().any(|b| b.name == declared.name) {
            problems.push(format!(
                "workspace {:?} is not bound: add it to the PipelineRun's spec.workspaces, e.g. {{name: {}, volumeClaimTemplate: ...}}",
                declared.name, declared.name
            ));
        }
    }
    problems
}
