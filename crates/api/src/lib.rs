//! The mini-task API, group `minitask.dev`, version `v1alpha1`: `Task` (a
//! reusable list of steps) and `TaskRun` (one execution of a Task),
//! `ClusterTask` (a Task for every namespace), `Pipeline` (Tasks in a graph) and `PipelineRun` (one execution of a
//! Pipeline, as TaskRuns).
//!
//! The CRD manifests in `deploy/crds/` are generated from these types by
//! `cargo xtask crds`; the doc comments become the `kubectl explain` text.

// kube's derive takes one `printcolumn(...)` per column; clippy mistakes
// their repeated `type_ = ...` keys for duplicated attributes.
#![allow(clippy::duplicated_attributes)]

mod archived;
pub mod cel;
mod cluster_task;
mod duration;
mod manifests;
mod names;
mod params;
mod pipeline;
mod pipeline_reason;
mod pipelinerun;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod readme_tests;
mod reason;
mod references;
mod suggest;
mod task;
mod taskrun;
mod template;
mod trigger;
mod trigger_run;
mod workspace;

pub use archived::{CONDITION_ARCHIVED, is_archived};
pub use cluster_task::{ClusterTask, ClusterTaskSpec};
pub use duration::{MAX_TIMEOUT, format_duration, parse_duration};
pub use manifests::manifests;
pub use names::{fnv1a, label_value, shorten};
pub use params::{Param, ParamSpec, ParamType, ParamValue, ResultSpec, TaskRunResult};
pub use pipeline::{
    Matrix, Pipeline, PipelineResult, PipelineSpec, PipelineStatus, PipelineTask, PipelineTaskWorkspace,
    PipelineWorkspaceDeclaration, WhenExpression, WhenOperator,
};
pub use pipeline_reason::PipelineReason;
pub use pipelinerun::{
    PipelineRef, PipelineRun, PipelineRunSpec, PipelineRunStatus, PipelineTaskStatus, PipelineWorkspaceBinding,
    TaskState, Timeouts, binding_problems,
};
pub use reason::Reason;
pub use references::undeclared;
pub use suggest::{did_you_mean, similar};
pub use task::{OnError, Sidecar, Step, Task, TaskSpec, TaskStatus};
pub use taskrun::{
    AttemptStatus, DEFAULT_DEBUG_TIMEOUT, DebugSpec, Phase, StepState, TaskKind, TaskRef, TaskRun, TaskRunSpec,
    TaskRunStatus,
};
pub use template::{PodTemplate, StepTemplate};
pub use trigger::{
    ConcurrencyPolicy, DEFAULT_SECRET_KEY, Delivery, LABEL_TRIGGER, LABEL_WEBHOOK_SECRET, Provider, SECRET_FOUND,
    Schedule, SecretKeyRef, Trigger, TriggerRun, TriggerSpec, TriggerStatus, Webhook,
};
pub use trigger_run::{TriggeredRun, delivery_key, fill_text, json_path_text, triggered_name, triggered_run};
pub use workspace::{WorkspaceBinding, WorkspaceDeclaration};

/// The API group of every mini-task resource.
pub const GROUP: &str = "minitask.dev";

/// Label on every Pod the controller creates: the owning TaskRun's name.
pub const LABEL_TASKRUN: &str = "minitask.dev/taskrun";
/// Label with the Task's name: on every Pod the controller creates (the
/// TaskRun's name when the Task is inline), and on every TaskRun that
/// `kubectl task start` creates.
pub const LABEL_TASK: &str = "minitask.dev/task";
/// Label on every TaskRun a PipelineRun creates: the PipelineRun's name.
pub const LABEL_PIPELINERUN: &str = "minitask.dev/pipelinerun";
/// Label on every TaskRun a PipelineRun creates: the pipeline task's name.
pub const LABEL_PIPELINE_TASK: &str = "minitask.dev/pipeline-task";
/// Label on every TaskRun a PipelineRun creates, and on every PipelineRun
/// `kubectl task start` creates: the Pipeline's name (the run's when inline).
pub const LABEL_PIPELINE: &str = "minitask.dev/pipeline";
/// Annotation on every Pod the controller creates: the resolved TaskSpec
/// (JSON) that the pod runs, so a run's status can always be rebuilt from
/// its pod.
pub const ANNOTATION_TASK_SPEC: &str = "minitask.dev/task-spec";

/// The condition type that `kubectl wait --for=condition=Succeeded` reads.
pub const CONDITION_SUCCEEDED: &str = "Succeeded";

/// The default `TaskRun.spec.timeout`.
pub const DEFAULT_TIMEOUT: &str = "1h";
