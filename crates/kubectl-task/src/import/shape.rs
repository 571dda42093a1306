//! What of Tekton's `tekton.dev/v1` (and `v1beta1`) objects mini-task
//! takes: each field it carries over, under which name, and why each one it
//! does not is left behind. One table per kind; `convert.rs` walks it.

/// How a field's value is carried over.
pub enum Shape {
    /// As it is: a string, a list of strings, or a Kubernetes type both
    /// share (env, securityContext, a volume source...).
    Copy,
    /// An object whose fields are listed.
    Fields(Vec<Field>),
    /// A list whose items have this shape.
    List(Box<Shape>),
}

pub struct Field {
    pub from: &'static str,
    pub to: &'static str,
    pub shape: Shape,
}

fn f(name: &'static str, shape: Shape) -> Field {
    Field {
        from: name,
        to: name,
        shape,
    }
}

fn copy(name: &'static str) -> Field {
    f(name, Shape::Copy)
}

fn list(shape: Shape) -> Shape {
    Shape::List(Box::new(shape))
}

fn renamed(from: &'static str, to: &'static str, shape: Shape) -> Field {
    Field { from, to, shape }
}

pub fn param_spec() -> Shape {
    Shape::Fields(vec![copy("name"), copy("type"), copy("description"), copy("default")])
}

pub fn param() -> Shape {
    Shape::Fields(vec![copy("name"), copy("value")])
}

pub fn step() -> Shape {
    Shape::Fields(vec![
        copy("name"),
        copy("image"),
        copy("script"),
        copy("command"),
        copy("args"),
        copy("env"),
        copy("workingDir"),
        renamed("computeResources", "resources", Shape::Copy),
        copy("securityContext"),
        copy("onError"),
        copy("timeout"),
    ])
}

fn sidecar() -> Shape {
    Shape::Fields(vec![
        copy("name"),
        copy("image"),
        copy("command"),
        copy("args"),
        copy("script"),
        copy("env"),
        copy("ports"),
        copy("readinessProbe"),
        renamed("computeResources", "resources", Shape::Copy),
        copy("securityContext"),
        copy("workingDir"),
    ])
}

pub fn task_spec() -> Shape {
    Shape::Fields(vec![
        copy("description"),
        f("params", list(param_spec())),
        f("results", list(Shape::Fields(vec![copy("name"), copy("description")]))),
        f(
            "workspaces",
            list(Shape::Fields(vec![
                copy("name"),
                copy("description"),
                copy("mountPath"),
                copy("readOnly"),
                copy("optional"),
            ])),
        ),
        f("steps", list(step())),
        f("sidecars", list(sidecar())),
        f(
            "stepTemplate",
            Shape::Fields(vec![
                copy("image"),
                copy("env"),
                copy("workingDir"),
                renamed("computeResources", "resources", Shape::Copy),
                copy("securityContext"),
            ]),
        ),
    ])
}

fn when() -> Shape {
    Shape::Fields(vec![copy("input"), copy("operator"), copy("values"), copy("cel")])
}

fn pipeline_task() -> Shape {
    Shape::Fields(vec![
        copy("name"),
        f("taskRef", Shape::Fields(vec![copy("name"), copy("kind")])),
        f("taskSpec", task_spec()),
        f("params", list(param())),
        f("matrix", Shape::Fields(vec![f("params", list(param()))])),
        f(
            "workspaces",
            list(Shape::Fields(vec![copy("name"), copy("workspace"), copy("subPath")])),
        ),
        copy("runAfter"),
        f("when", list(when())),
        copy("retries"),
        copy("timeout"),
    ])
}

pub fn pipeline_spec() -> Shape {
    Shape::Fields(vec![
        copy("description"),
        f("params", list(param_spec())),
        f(
            "workspaces",
            list(Shape::Fields(vec![copy("name"), copy("description"), copy("optional")])),
        ),
        f(
            "results",
            list(Shape::Fields(vec![copy("name"), copy("description"), copy("value")])),
        ),
        f("tasks", list(pipeline_task())),
        f("finally", list(pipeline_task())),
    ])
}

fn pod_template() -> Shape {
    Shape::Fields(vec![
        copy("nodeSelector"),
        copy("tolerations"),
        copy("affinity"),
        copy("securityContext"),
        copy("imagePullSecrets"),
        copy("priorityClassName"),
    ])
}

/// A run's workspace binding; only a PipelineRun makes claims from a
/// template.
fn binding(claim_template: bool) -> Shape {
    let mut fields = vec![
        copy("name"),
        copy("subPath"),
        copy("emptyDir"),
        copy("persistentVolumeClaim"),
        copy("configMap"),
        copy("secret"),
    ];
    if claim_template {
        fields.push(copy("volumeClaimTemplate"));
    }
    Shape::Fields(fields)
}

pub fn taskrun_spec() -> Shape {
    Shape::Fields(vec![
        f("taskRef", Shape::Fields(vec![copy("name"), copy("kind")])),
        f("taskSpec", task_spec()),
        f("params", list(param())),
        f("workspaces", list(binding(false))),
        copy("serviceAccountName"),
        copy("timeout"),
        copy("retries"),
        f("podTemplate", pod_template()),
        copy("cancelled"),
    ])
}

pub fn pipelinerun_spec() -> Shape {
    Shape::Fields(vec![
        f("pipelineRef", Shape::Fields(vec![copy("name")])),
        f("pipelineSpec", pipeline_spec()),
        f("params", list(param())),
        f("workspaces", list(binding(true))),
        f(
            "timeouts",
            Shape::Fields(vec![copy("pipeline"), copy("tasks"), copy("finally")]),
        ),
        copy("serviceAccountName"),
        f("podTemplate", pod_template()),
        copy("cancelled"),
    ])
}

/// Why a Tekton field is not carried over, for those a user meets; None:
/// a field mini-task does not know.
pub fn why_not(field: &str) -> Option<&'static str> {
    Some(match field {
        "resolver" | "bundle" => {
            "remote resolution (git, hub, bundles, cluster) is not supported: apply the referenced Task or Pipeline to the namespace and name it"
        }
        "ref" => "StepActions (a step's ref) are not supported: write the step's image and script in the Task",
        "sidecars" => {
            "sidecars are not supported yet (tracked in issue 27): run the service in a step's background, or outside the Task"
        }
        "livenessProbe" | "startupProbe" | "lifecycle" => {
            "a sidecar's liveness and startup probes and lifecycle hooks are not supported: its readinessProbe says when the steps may start"
        }
        "volumes" | "volumeMounts" | "volumeDevices" => {
            "Task volumes are not supported: use a workspace (bound to a claim, a ConfigMap, a Secret or an emptyDir by the run)"
        }
        "stdoutConfig" | "stderrConfig" => {
            "step output files are not supported: write to a result or a workspace in the script"
        }
        "envFrom" => {
            "envFrom is not supported: list the variables in env (valueFrom reads a Secret's or a ConfigMap's key)"
        }
        "imagePullPolicy" => {
            "a step's imagePullPolicy is not supported: the kubelet's default applies (Always for :latest)"
        }
        "displayName" => "display names are not supported: the name is shown",
        "properties" => "object params and results are not supported: use one string param per key",
        "enum" => "param enums are not supported: check the value in the step's script",
        "include" => "matrix include is not supported: list the combinations as tasks",
        "onError" => "a pipeline task's onError is not supported: a failed task fails the run (finally still runs)",
        "pipelineRef" | "pipelineSpec" => {
            "pipelines in pipelines are not supported: start the inner Pipeline's tasks in this one"
        }
        "taskRunSpecs" => {
            "per-task run specs are not supported: set the Pipeline run's podTemplate and serviceAccountName"
        }
        "statusMessage" | "status" => "a Tekton run's status is not carried over: the run starts anew",
        "managedBy" => "managedBy is not supported: mini-task's controller runs it",
        "affinityAssistant" | "computeResources" => {
            "a run's computeResources (and affinity assistant settings) are not supported: set resources on the Task's steps or stepTemplate"
        }
        "debug" => "Tekton's debug breakpoints are not carried over: start the run with `kubectl task start --debug`",
        "stepSpecs" | "sidecarSpecs" => "per-run step overrides are not supported: change the Task",
        "results" => "step results are not supported: write the Task's results ($(results.<name>.path))",
        "workspaces" => "a step's own workspaces are not supported: every step sees every workspace of its Task",
        "when" => "a step's when is not supported: test the condition in the step's script",
        "volumeClaimTemplate" => {
            "a TaskRun's volumeClaimTemplate is not supported: bind a claim, or start a PipelineRun (it makes claims from a template)"
        }
        "csi" | "projected" => {
            "csi and projected workspaces are not supported: bind a claim, a ConfigMap, a Secret or an emptyDir"
        }
        _ => return None,
    })
}
