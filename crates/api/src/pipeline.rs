use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Param, ParamSpec, TaskRef, TaskSpec};

/// A Pipeline: Tasks in a graph, each run as a TaskRun once the tasks it
/// comes after have ended, passing small results along; `finally` tasks
/// run after all of them, whatever happened.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "minitask.dev",
    version = "v1alpha1",
    kind = "Pipeline",
    namespaced,
    shortname = "pl",
    category = "minitask",
    doc = "A Pipeline runs Tasks in the order of a graph (runAfter, and the results they use), then its finally tasks. Start one with `kubectl task start pipeline/<name>`.",
    status = "PipelineStatus",
    printcolumn(
        name = "Tasks",
        type_ = "integer",
        json_path = ".status.tasks",
        description = "How many tasks the Pipeline has, finally tasks included"
    ),
    printcolumn(
        name = "Valid",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Valid\")].status",
        description = "Whether the graph and its references are sound (the controller checks what admission cannot)"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(
    validation = Rule::new("!has(self.finally) || self.finally.all(f, !self.tasks.exists(t, t.name == f.name))")
        .message("task names must be unique across tasks and finally")
        .field_path(".finally"),
    validation = Rule::new("self.tasks.all(t, !has(t.runAfter) || t.runAfter.all(r, self.tasks.exists(u, u.name == r)))")
        .message("runAfter must name tasks of this Pipeline (not finally tasks)")
        .field_path(".tasks"),
)]
#[serde(rename_all = "camelCase")]
pub struct PipelineSpec {
    /// What the Pipeline does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,

    /// The params a run may (or, without a default, must) set; tasks use
    /// them as `$(params.<name>)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    #[x_kube(validation = Rule::new("self.all(p, self.exists_one(q, q.name == p.name))")
        .message("param names must be unique within the Pipeline"))]
    pub params: Vec<ParamSpec>,

    /// Volumes the tasks share, bound by each run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[x_kube(validation = Rule::new("self.all(w, self.exists_one(v, v.name == w.name))")
        .message("workspace names must be unique within the Pipeline"))]
    pub workspaces: Vec<PipelineWorkspaceDeclaration>,

    /// The run's results, taken from its tasks' results once it ends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[x_kube(validation = Rule::new("self.all(r, self.exists_one(q, q.name == r.name))")
        .message("result names must be unique within the Pipeline"))]
    pub results: Vec<PipelineResult>,

    /// The tasks: each runs once the tasks it comes after (`runAfter`, and
    /// those whose results it uses) have ended. Between 1 and 100.
    #[schemars(length(min = 1, max = 100))]
    #[x_kube(validation = Rule::new("self.all(t, self.exists_one(u, u.name == t.name))")
        .message("task names must be unique within the Pipeline"))]
    pub tasks: Vec<PipelineTask>,

    /// Tasks that run after all the others have ended, whatever their
    /// outcome (also after a failure or a cancellation): clean-up,
    /// notifications. They may use `$(tasks.<name>.status)` and
    /// `$(tasks.status)`. At most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[x_kube(
        validation = Rule::new("self.all(t, self.exists_one(u, u.name == t.name))")
            .message("finally task names must be unique"),
        validation = Rule::new("self.all(t, !has(t.runAfter))")
            .message("finally tasks run after every task: they take no runAfter")
    )]
    pub finally: Vec<PipelineTask>,

    /// At most this many TaskRuns of one PipelineRun run at once (a
    /// matrix's included); unlimited when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_parallel: Option<i32>,
}

/// A workspace the Pipeline's tasks share, which each run binds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineWorkspaceDeclaration {
    /// The workspace's name, a DNS label.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// What it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A run may leave it unbound; tasks that use it then get nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// A result of the Pipeline: a value made of its tasks' results.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineResult {
    /// The result's name.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_-]*$"))]
    pub name: String,
    /// What it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Text with `$(tasks.<task>.results.<result>)` references, such as
    /// `$(tasks.build.results.digest)`. A result whose references do not
    /// exist when the run ends (a task skipped or failed) is left out.
    #[schemars(length(min = 1, max = 4096))]
    pub value: String,
}

/// One task of a Pipeline: a Task (by name, or inline) with its params,
/// workspaces, order and conditions.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(
    validation = Rule::new("has(self.taskRef) != has(self.taskSpec)")
        .message("set exactly one of taskRef (the name of a Task) or taskSpec (an inline Task)"),
    validation = Rule::new("!has(self.runAfter) || !self.runAfter.exists(r, r == self.name)")
        .message("a task cannot run after itself")
        .field_path(".runAfter"),
)]
#[serde(rename_all = "camelCase")]
pub struct PipelineTask {
    /// The task's name in the Pipeline: a DNS label, unique across tasks
    /// and finally. Its TaskRun is called `<run>-<name>`.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,

    /// The Task to run: by name in the run's namespace, or a ClusterTask
    /// (`kind: ClusterTask`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_ref: Option<TaskRef>,

    /// An inline Task to run instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_spec: Option<Box<TaskSpec>>,

    /// Values for the Task's params. They may use `$(params.<name>)`,
    /// `$(tasks.<task>.results.<result>)` (which makes this task run after
    /// that one), `$(context.pipelineRun.name)`, `$(context.pipelineRun.namespace)`
    /// and `$(context.pipeline.name)`; finally tasks also
    /// `$(tasks.<task>.status)` and `$(tasks.status)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    #[x_kube(validation = Rule::new("self.all(p, self.exists_one(q, q.name == p.name))")
        .message("each param may be set once"))]
    pub params: Vec<Param>,

    /// Runs the task once per combination of these params' values (each a
    /// list), at most 256 TaskRuns. The task's results are then lists, one
    /// item per TaskRun in the order of the combinations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Matrix>,

    /// The Task's workspaces, bound to the Pipeline's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub workspaces: Vec<PipelineTaskWorkspace>,

    /// The tasks this one starts after (at most 20): it starts once they
    /// have all ended, unless one of them failed (a failure stops new
    /// tasks from starting).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(length(min = 1, max = 63)))]
    pub run_after: Vec<String>,

    /// Conditions, all of which must hold for the task to run; otherwise
    /// it is Skipped (the tasks that only run after it still run; those
    /// that use its results are skipped too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub when: Vec<WhenExpression>,

    /// How many times to run the task's TaskRun again after a failed
    /// attempt (its `spec.retries`).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(min = 0, max = 10))]
    pub retries: i32,

    /// The longest the task's TaskRun may take, such as `10m`; never more
    /// than what is left of the run's timeouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 40), regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    pub timeout: Option<String>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// The params a task fans out over.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct Matrix {
    /// Params whose values are lists: one TaskRun per combination.
    #[schemars(length(min = 1, max = 10))]
    pub params: Vec<Param>,
}

/// A Task's workspace bound to one of the Pipeline's.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineTaskWorkspace {
    /// The name of the workspace in the Task.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// The name of the workspace in the Pipeline.
    #[schemars(length(min = 1, max = 63))]
    pub workspace: String,
    /// Only this directory of the Pipeline's workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
}

/// A condition on a task: `input` (after substitution) is, or is not,
/// one of `values`; or a CEL expression that is true.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(
    validation = Rule::new("has(self.cel) ? !has(self.input) && !has(self.operator) && !has(self.values) : has(self.operator) && has(self.values)")
        .message("set either cel, or operator and values (with input)"),
)]
pub struct WhenExpression {
    /// Text with references, such as `$(params.branch)` or
    /// `$(tasks.test.results.coverage)`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub input: String,
    /// `in` or `notin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<WhenOperator>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1, max = 50))]
    pub values: Vec<String>,
    /// A CEL expression that must be true, such as `'$(params.branch)' ==
    /// 'main' && $(tasks.test.results.passed) > 0`. Each reference is a
    /// value, never spliced text: in quotes a string, outside a number, a
    /// bool or a string by what it holds. Instead of input, operator and
    /// values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub cel: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WhenOperator {
    In,
    NotIn,
}

/// What the controller found checking the Pipeline.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineStatus {
    /// The `Valid` condition: False names the cycle or the bad reference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    // One entry per type, each owned by whoever applies it: the
    // controller's Succeeded (or Valid) and the archive's Archived.
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// How many tasks it has, finally tasks included (`kubectl get pipelines`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<i32>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl PipelineSpec {
    /// Every task, finally tasks last.
    pub fn all_tasks(&self) -> impl Iterator<Item = &PipelineTask> {
        self.tasks.iter().chain(&self.finally)
    }
}
