use k8s_openapi::api::core::v1::{ContainerPort, EnvVar, Probe, ResourceRequirements, SecurityContext};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ParamSpec, ResultSpec, StepTemplate, WorkspaceDeclaration};

/// A Task: an ordered list of steps, each a container image with a script or
/// a command. Steps run one after another in one Pod and share `/workspace`.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "minitask.dev",
    version = "v1alpha1",
    kind = "Task",
    namespaced,
    shortname = "tsk",
    category = "minitask",
    doc = "A Task is a reusable list of steps that run in order in one Pod. Start one with `kubectl task start <task>`.",
    status = "TaskStatus",
    printcolumn(
        name = "Steps",
        type_ = "integer",
        json_path = ".status.steps",
        description = "How many steps the Task has"
    ),
    printcolumn(
        name = "Valid",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Valid\")].status",
        description = "Whether every reference in the steps names something the Task declares (the controller checks what admission cannot)"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(
    validation = Rule::new("self.steps.all(s, has(s.image)) || (has(self.stepTemplate) && has(self.stepTemplate.image))")
        .message("every step needs an image, or set stepTemplate.image")
        .field_path(".steps"),
)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpec {
    /// What the Task does, for people reading `kubectl get task -o yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,

    /// The steps, run strictly in order; the run stops at the first step that
    /// fails. Between 1 and 20 steps, with unique names.
    #[schemars(length(min = 1, max = 20))]
    #[x_kube(validation = Rule::new("self.all(s, self.exists_one(t, t.name == s.name))")
        .message("step names must be unique within the Task"))]
    pub steps: Vec<Step>,

    /// The params a run may (or, without a default, must) set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    #[x_kube(validation = Rule::new("self.all(p, self.exists_one(q, q.name == p.name))")
        .message("param names must be unique within the Task"))]
    pub params: Vec<ParamSpec>,

    /// The results the steps write, reported in the run's `status.results`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[x_kube(validation = Rule::new("self.all(r, self.exists_one(q, q.name == r.name))")
        .message("result names must be unique within the Task"))]
    pub results: Vec<ResultSpec>,

    /// Volumes the steps share, bound to real storage by each run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[x_kube(validation = Rule::new("self.all(w, self.exists_one(v, v.name == w.name))")
        .message("workspace names must be unique within the Task"))]
    pub workspaces: Vec<WorkspaceDeclaration>,

    /// Defaults merged into every step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_template: Option<StepTemplate>,

    /// Services the steps use over localhost (a database for integration
    /// tests): they start before the first step, which waits until each
    /// is ready (its readinessProbe passes, or it runs), and are stopped
    /// when the last step ends. At most 10, with unique names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    #[x_kube(validation = Rule::new("self.all(s, self.exists_one(t, t.name == s.name))")
        .message("sidecar names must be unique within the Task"))]
    pub sidecars: Vec<Sidecar>,
}

/// A container that runs beside the steps for the whole run.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(
    validation = Rule::new("!has(self.script) || (!has(self.command) && !has(self.args))")
        .message("set script, or command and args, not both"),
)]
#[serde(rename_all = "camelCase")]
pub struct Sidecar {
    /// A DNS label, unique among the sidecars; the container is called
    /// `sidecar-<name>` (`kubectl task logs RUN --sidecar NAME`).
    #[schemars(length(min = 1, max = 55), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// The image, such as `postgres:16`.
    #[schemars(length(min = 1))]
    pub image: String,
    /// The entrypoint; the image's own when unset (a sidecar is not run by
    /// the launcher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Arguments, as in a container's `args`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// A script run with `/bin/sh -c` (a `#!` line is only a comment here;
    /// the image needs `/bin/sh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// The ports it listens on, for people reading the Task: steps reach it
    /// on localhost whatever is listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<ContainerPort>>,
    /// When it is ready: the first step starts only once this passes.
    /// Without one, a sidecar is ready once it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
    /// The working directory; the image's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
}

/// What the controller reports about a Task.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    /// How many steps the Task has, for `kubectl get tasks`: a printer
    /// column shows only the first of a list, so it cannot count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<i32>,
    /// The `Valid` condition: False names each `$(params.x)`,
    /// `$(workspaces.x.path)` or `$(results.x.path)` a step uses that the
    /// Task does not declare (a run of it would fail).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    // One entry per type, each owned by whoever applies it: the
    // controller's Succeeded (or Valid) and the archive's Archived.
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// One step of a Task: a container that runs either `script` or `command`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(
    validation = Rule::new("has(self.script) != has(self.command)")
        .message("set exactly one of script or command; an image's ENTRYPOINT is not read (the launcher runs the step): give it as command"),
    validation = Rule::new("!has(self.args) || has(self.command)")
        .message("args are passed to command: set command (an image's ENTRYPOINT is not read: give it as command), or put the arguments in the script"),
)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// The step's name: a DNS label (lowercase letters, digits and '-', at
    /// most 58 characters), unique in the Task. The step's container is
    /// called `step-<name>`.
    #[schemars(length(min = 1, max = 58), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,

    /// The container image that runs the step, for example `busybox` or
    /// `alpine:3.20`; `stepTemplate.image` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// A script run as written: it starts with `#!` to choose an interpreter
    /// (`#!/usr/bin/env python3`), otherwise it runs with `/bin/sh -e`.
    /// Nothing in it is expanded by Kubernetes: `$(VAR)` and `$$` reach the
    /// interpreter unchanged. The image needs `/bin/sh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,

    /// The entrypoint, as in a container's `command`. Kubernetes expands
    /// `$(VAR)` references to the step's environment variables here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub command: Option<Vec<String>>,

    /// Arguments to `command`, as in a container's `args`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,

    /// Environment variables of the step's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,

    /// The working directory; `/workspace` (shared by all steps) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,

    /// CPU and memory requests and limits of the step's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// The step container's security context (user, capabilities,
    /// privilege escalation, seccomp...); `stepTemplate.securityContext`
    /// when unset. A namespace that enforces Pod Security `restricted` needs
    /// `allowPrivilegeEscalation: false` and `capabilities: {drop: [ALL]}`
    /// here or in the step template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,

    /// What a failure of this step does: `stopAndFail` (the default) stops
    /// the run and fails it; `continue` records the exit code in the step's
    /// state and runs the next step, as if it had succeeded.
    #[serde(default, skip_serializing_if = "OnError::is_default")]
    pub on_error: OnError,

    /// The longest this step may run, as a duration such as `30s` or `5m`
    /// (more than 0s). Past it the step is stopped (SIGTERM, then SIGKILL 5s
    /// later) and the run fails with reason `StepTimeout`; with
    /// `onError: continue` the next step runs. The run's `spec.timeout`
    /// applies in any case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 40), regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    pub timeout: Option<String>,
}

/// What a step's failure does to the run.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OnError {
    /// Stop at this step and fail the run.
    #[default]
    StopAndFail,
    /// Record the failure and go on with the next step.
    Continue,
}

impl OnError {
    fn is_default(&self) -> bool {
        *self == OnError::StopAndFail
    }
}
