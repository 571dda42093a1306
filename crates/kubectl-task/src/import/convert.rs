//! Tekton objects to mini-task objects, and what could not come along:
//! pure, from parsed documents to converted objects and notes.

use serde_json::{Map, Value, json};

use super::shape::{self, Shape};

/// One thing to tell about a converted object: where, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// `Task/git-clone`.
    pub object: String,
    /// `spec.steps[0].ref`.
    pub path: String,
    pub why: String,
}

/// The converted objects, with what was left behind (`dropped`: the
/// objects do less than the Tekton ones) and what was changed on the way.
#[derive(Debug, Default)]
pub struct Converted {
    pub objects: Vec<Value>,
    pub dropped: Vec<Note>,
    pub changed: Vec<Note>,
}

const GROUP: &str = "minitask.dev/v1alpha1";

/// Converts every document (a `List`'s items too); an object that is not
/// a Tekton Task, Pipeline, TaskRun or PipelineRun is an error naming it.
pub fn convert(documents: &[Value]) -> Result<Converted, String> {
    let mut out = Converted::default();
    for (i, doc) in documents.iter().enumerate() {
        if doc.is_null() {
            continue;
        }
        if doc["kind"] == "List" {
            let items = doc["items"].as_array().cloned().unwrap_or_default();
            let inner = convert(&items)?;
            out.objects.extend(inner.objects);
            out.dropped.extend(inner.dropped);
            out.changed.extend(inner.changed);
            continue;
        }
        convert_one(doc, i, &mut out)?;
    }
    Ok(out)
}

fn convert_one(doc: &Value, index: usize, out: &mut Converted) -> Result<(), String> {
    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    let kind = doc["kind"].as_str().unwrap_or_default();
    let name = doc["metadata"]["name"]
        .as_str()
        .or(doc["metadata"]["generateName"].as_str())
        .unwrap_or("<no name>");
    if !matches!(api_version, "tekton.dev/v1" | "tekton.dev/v1beta1") {
        return Err(format!(
            "document {} ({kind} {name:?}) has apiVersion {api_version:?}: import reads tekton.dev/v1 and tekton.dev/v1beta1 objects",
            index + 1
        ));
    }
    let (our_kind, shape) = match kind {
        "Task" => ("Task", shape::task_spec()),
        "ClusterTask" => ("ClusterTask", shape::task_spec()),
        "Pipeline" => ("Pipeline", shape::pipeline_spec()),
        "TaskRun" => ("TaskRun", shape::taskrun_spec()),
        "PipelineRun" => ("PipelineRun", shape::pipelinerun_spec()),
        other => {
            return Err(format!(
                "document {} is a Tekton {other} ({name:?}): import converts Tasks, ClusterTasks, Pipelines, TaskRuns and PipelineRuns",
                index + 1
            ));
        }
    };
    let object = format!("{our_kind}/{name}");
    let mut notes = Notes {
        object: object.clone(),
        dropped: Vec::new(),
        changed: Vec::new(),
    };
    let mut spec = doc["spec"].clone();
    let beta = api_version == "tekton.dev/v1beta1";
    match our_kind {
        "Task" | "ClusterTask" => normalize_task(&mut spec, beta, "spec", &mut notes),
        "Pipeline" => normalize_pipeline(&mut spec, beta, "spec", &mut notes),
        "TaskRun" => normalize_taskrun(&mut spec, beta, &mut notes),
        _ => normalize_pipelinerun(&mut spec, beta, &mut notes),
    }
    let spec = walk(&spec, &shape, "spec", &mut notes);
    let mut converted =
        json!({"apiVersion": GROUP, "kind": our_kind, "metadata": metadata(&doc["metadata"]), "spec": spec});
    if our_kind == "ClusterTask"
        && let Some(meta) = converted["metadata"].as_object_mut()
    {
        meta.remove("namespace");
    }
    if let Some(description) = doc["metadata"]["annotations"]["tekton.dev/displayName"].as_str()
        && matches!(our_kind, "Task" | "ClusterTask")
        && converted["spec"].is_object()
        && converted["spec"]["description"].is_null()
    {
        converted["spec"]["description"] = json!(description);
    }
    out.objects.push(converted);
    out.dropped.extend(notes.dropped);
    out.changed.extend(notes.changed);
    Ok(())
}

struct Notes {
    object: String,
    dropped: Vec<Note>,
    changed: Vec<Note>,
}

impl Notes {
    fn dropped(&mut self, path: &str, why: &str) {
        self.dropped.push(self.note(path, why));
    }

    fn changed(&mut self, path: &str, why: &str) {
        self.changed.push(self.note(path, why));
    }

    fn note(&self, path: &str, why: &str) -> Note {
        Note {
            object: self.object.clone(),
            path: path.to_string(),
            why: why.to_string(),
        }
    }
}

/// Name, generateName, namespace, labels and annotations; what the API
/// server wrote (uid, resourceVersion...) is not the object's to carry.
fn metadata(tekton: &Value) -> Value {
    let mut out = Map::new();
    for key in ["name", "generateName", "namespace", "labels", "annotations"] {
        if let Some(value) = tekton.get(key) {
            out.insert(key.into(), value.clone());
        }
    }
    if let Some(Value::Object(annotations)) = out.get_mut("annotations") {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
    Value::Object(out)
}

/// Copies what `shape` lists; each other field becomes a dropped note.
fn walk(value: &Value, shape: &Shape, path: &str, notes: &mut Notes) -> Value {
    match (shape, value) {
        (Shape::Copy, _) => value.clone(),
        (Shape::List(inner), Value::Array(items)) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| walk(item, inner, &format!("{path}[{i}]"), notes))
                .collect(),
        ),
        (Shape::Fields(fields), Value::Object(map)) => {
            let mut out = Map::new();
            for (key, value) in map {
                let at = format!("{path}.{key}");
                match fields.iter().find(|f| f.from == key) {
                    Some(field) => {
                        out.insert(field.to.into(), walk(value, &field.shape, &at, notes));
                    }
                    None => notes.dropped(
                        &at,
                        shape::why_not(key).unwrap_or("mini-task has no such field; it is left out"),
                    ),
                }
            }
            Value::Object(out)
        }
        _ => value.clone(),
    }
}

fn items<'a>(value: &'a mut Value, key: &str) -> impl Iterator<Item = (usize, &'a mut Value)> {
    value
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flat_map(|items| items.iter_mut().enumerate())
}

fn take(value: &mut Value, key: &str) -> Option<Value> {
    value.as_object_mut()?.remove(key)
}

fn normalize_task(spec: &mut Value, beta: bool, path: &str, notes: &mut Notes) {
    object_params(spec, path, notes);
    for (i, result) in items(spec, "results") {
        // An object result's properties go with its type, named once.
        take(result, "properties");
        match take(result, "type") {
            None => {}
            Some(t) if t == "string" => {}
            Some(t) => notes.dropped(
                &format!("{path}.results[{i}].type"),
                &format!(
                    "{} results are not supported: a result is a string (its consumers get the text the step wrote)",
                    t.as_str().unwrap_or("typed")
                ),
            ),
        }
    }
    for (i, step) in items(spec, "steps") {
        let at = format!("{path}.steps[{i}]");
        if !step.is_object() {
            continue;
        }
        if beta && let Some(resources) = take(step, "resources") {
            step["computeResources"] = resources;
        }
        if step.get("name").and_then(Value::as_str).unwrap_or_default().is_empty() {
            step["name"] = json!(format!("step-{}", i + 1));
            notes.changed(
                &format!("{at}.name"),
                &format!("the unnamed step is named step-{}", i + 1),
            );
        }
        if step.get("script").is_some() && take(step, "args").is_some() {
            notes.dropped(
                &format!("{at}.args"),
                "a script's args are not passed to it: write them into the script (`set -- a b` sets $1 and $2)",
            );
        }
        if step.get("ref").is_some() {
            notes.dropped(
                &at,
                "StepActions (a step's ref) are not supported, so the step is left out: write its image and script in the Task",
            );
            *step = Value::Null;
        } else if step.get("script").is_none() && step.get("command").is_none() {
            notes.dropped(
                &at,
                "the step has neither script nor command, so it is left out: mini-task does not read an image's ENTRYPOINT; give it as command",
            );
            *step = Value::Null;
        }
    }
    retain_non_null(spec, "steps");
    for (_, sidecar) in items(spec, "sidecars") {
        if beta && let Some(resources) = take(sidecar, "resources") {
            sidecar["computeResources"] = resources;
        }
    }
    if beta
        && let Some(template) = spec.get_mut("stepTemplate")
        && let Some(resources) = take(template, "resources")
    {
        template["computeResources"] = resources;
    }
}

/// A declared param of `type: object` cannot be declared here.
fn object_params(spec: &mut Value, path: &str, notes: &mut Notes) {
    for (i, param) in items(spec, "params") {
        if param["type"] == "object" {
            notes.dropped(
                &format!("{path}.params[{i}]"),
                "object params are not supported: use one string param per key",
            );
            *param = Value::Null;
        }
    }
    retain_non_null(spec, "params");
}

fn retain_non_null(value: &mut Value, key: &str) {
    if let Some(items) = value.get_mut(key).and_then(Value::as_array_mut) {
        items.retain(|v| !v.is_null());
    }
}

fn normalize_pipeline(spec: &mut Value, beta: bool, path: &str, notes: &mut Notes) {
    object_params(spec, path, notes);
    for list in ["tasks", "finally"] {
        for (i, task) in items(spec, list) {
            let at = format!("{path}.{list}[{i}]");
            normalize_task_ref(task, &at, notes);
            object_values(task, "params", &at, notes);
            if let Some(inner) = task.get_mut("taskSpec") {
                // An embedded Task's metadata (labels, annotations) has no place here.
                if take(inner, "metadata").is_some() {
                    notes.changed(
                        &format!("{at}.taskSpec.metadata"),
                        "an embedded Task's labels and annotations are not kept",
                    );
                }
                normalize_task(inner, beta, &format!("{at}.taskSpec"), notes);
            }
        }
    }
}

/// `kind: Task` says nothing new; `kind: ClusterTask` stays (ours are the
/// same); a custom task's kind cannot run here.
fn normalize_task_ref(task: &mut Value, at: &str, notes: &mut Notes) {
    let Some(reference) = task.get_mut("taskRef") else {
        return;
    };
    if let Some(resolver) = take(reference, "resolver") {
        // The cluster resolver names the Task; git and hub name a file.
        let params = take(reference, "params").unwrap_or_default();
        let named = |key: &str| {
            params.as_array()?.iter().find(|p| p["name"] == key)?["value"]
                .as_str()
                .map(str::to_string)
        };
        let name = named("name")
            .or_else(|| {
                named("pathInRepo").map(|p| p.rsplit('/').next().unwrap_or(&p).trim_end_matches(".yaml").to_string())
            })
            .unwrap_or_else(|| "resolved-task".into());
        notes.dropped(
            &format!("{at}.taskRef.resolver"),
            &format!(
                "remote resolution ({}) is not supported: the task refers to Task {name:?} of the run's namespace; import or apply it there",
                resolver.as_str().unwrap_or("?")
            ),
        );
        reference["name"] = json!(name);
    }
    match take(reference, "kind").as_ref().and_then(Value::as_str) {
        None | Some("Task") => {}
        Some("ClusterTask") => {
            reference["kind"] = json!("ClusterTask");
        }
        Some(other) => notes.dropped(
            &format!("{at}.taskRef.kind"),
            &format!("custom tasks ({other}) are not supported"),
        ),
    }
    if take(reference, "apiVersion").is_some() {
        notes.dropped(&format!("{at}.taskRef.apiVersion"), "custom tasks are not supported");
    }
}

fn cancelled(spec: &mut Value, notes: &mut Notes) {
    if let Some(status) = take(spec, "status") {
        let status = status.as_str().unwrap_or_default();
        if status.contains("Cancelled") || status.contains("Stopped") {
            spec["cancelled"] = json!(true);
            notes.changed("spec.status", &format!("{status} becomes cancelled: true"));
        } else if status == "PipelineRunPending" || status == "TaskRunPending" {
            notes.dropped(
                "spec.status",
                "pending runs are not supported: create the run when it should start",
            );
        }
    }
}

fn normalize_taskrun(spec: &mut Value, beta: bool, notes: &mut Notes) {
    cancelled(spec, notes);
    if let Some(task) = spec.get_mut("taskSpec") {
        normalize_task(task, beta, "spec.taskSpec", notes);
    }
    normalize_task_ref(spec, "spec", notes);
    object_values(spec, "params", "spec", notes);
}

/// A param set to an object (Tekton's object params) cannot be passed.
fn object_values(holder: &mut Value, key: &str, path: &str, notes: &mut Notes) {
    for (i, param) in items(holder, key) {
        if param["value"].is_object() {
            notes.dropped(
                &format!("{path}.{key}[{i}]"),
                "object params are not supported: use one string param per key",
            );
            *param = Value::Null;
        }
    }
    retain_non_null(holder, key);
}

fn normalize_pipelinerun(spec: &mut Value, beta: bool, notes: &mut Notes) {
    cancelled(spec, notes);
    object_values(spec, "params", "spec", notes);
    if let Some(mut template) = take(spec, "taskRunTemplate") {
        for key in ["serviceAccountName", "podTemplate"] {
            if let Some(value) = take(&mut template, key) {
                spec[key] = value;
            }
        }
        if let Some(Value::Object(rest)) = Some(template) {
            for key in rest.keys() {
                notes.dropped(
                    &format!("spec.taskRunTemplate.{key}"),
                    "mini-task has no such field; it is left out",
                );
            }
        }
    }
    if let Some(timeout) = take(spec, "timeout") {
        spec["timeouts"] = json!({"pipeline": timeout});
        notes.changed("spec.timeout", "the deprecated timeout becomes timeouts.pipeline");
    }
    if let Some(pipeline) = spec.get_mut("pipelineSpec") {
        normalize_pipeline(pipeline, beta, "spec.pipelineSpec", notes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(yaml: &str) -> Converted {
        let docs: Vec<Value> = serde_saphyr::from_multiple(yaml).unwrap();
        convert(&docs).unwrap()
    }

    fn paths(notes: &[Note]) -> Vec<&str> {
        notes.iter().map(|n| n.path.as_str()).collect()
    }

    #[test]
    fn a_task_maps_field_by_field_and_names_what_it_leaves() {
        let out = one(r#"
apiVersion: tekton.dev/v1beta1
kind: Task
metadata: {name: t, uid: x, resourceVersion: "1", annotations: {"tekton.dev/displayName": "T", "kubectl.kubernetes.io/last-applied-configuration": "{}"}}
spec:
  params: [{name: p, type: object, properties: {a: {type: string}}}, {name: q, type: array, default: [a]}]
  results: [{name: r, type: string}, {name: o, type: object}]
  stepTemplate: {image: busybox, resources: {limits: {memory: 1Gi}}}
  sidecars: [{name: db, image: postgres, livenessProbe: {exec: {command: ["true"]}}}]
  steps:
    - {image: busybox, script: "echo hi", resources: {requests: {cpu: 100m}}, imagePullPolicy: Always}
    - {name: two, image: busybox, script: "echo $1", args: [x]}
"#);
        let task = &out.objects[0];
        assert_eq!(task["apiVersion"], "minitask.dev/v1alpha1");
        assert_eq!(
            task["metadata"],
            json!({"name": "t", "annotations": {"tekton.dev/displayName": "T"}})
        );
        assert_eq!(task["spec"]["description"], "T");
        assert_eq!(
            task["spec"]["params"],
            json!([{"name": "q", "type": "array", "default": ["a"]}])
        );
        assert_eq!(task["spec"]["results"], json!([{"name": "r"}, {"name": "o"}]));
        assert_eq!(
            task["spec"]["stepTemplate"]["resources"],
            json!({"limits": {"memory": "1Gi"}})
        );
        assert_eq!(task["spec"]["steps"][0]["name"], "step-1");
        assert_eq!(
            task["spec"]["steps"][0]["resources"],
            json!({"requests": {"cpu": "100m"}})
        );
        assert!(task["spec"]["steps"][1].get("args").is_none());
        assert_eq!(
            paths(&out.dropped),
            [
                "spec.params[0]",
                "spec.results[1].type",
                "spec.steps[1].args",
                "spec.sidecars[0].livenessProbe",
                "spec.steps[0].imagePullPolicy"
            ]
        );
        assert_eq!(task["spec"]["sidecars"], json!([{"name": "db", "image": "postgres"}]));
        assert_eq!(paths(&out.changed), ["spec.steps[0].name"]);
    }

    #[test]
    fn runs_take_their_v1_and_v1beta1_forms() {
        let out = one(r#"
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {generateName: p-}
spec:
  pipelineRef: {name: p}
  status: CancelledRunFinally
  taskRunTemplate: {serviceAccountName: sa, podTemplate: {nodeSelector: {a: b}}}
  params: [{name: o, value: {a: b}}, {name: s, value: x}]
---
apiVersion: tekton.dev/v1beta1
kind: PipelineRun
metadata: {name: q}
spec: {pipelineRef: {name: p}, timeout: 1h0m0s, serviceAccountName: sa}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: r}
spec: {taskRef: {name: c, kind: ClusterTask}, computeResources: {}}
"#);
        assert_eq!(
            out.objects[0]["spec"],
            json!({"pipelineRef": {"name": "p"}, "cancelled": true, "serviceAccountName": "sa",
                   "podTemplate": {"nodeSelector": {"a": "b"}}, "params": [{"name": "s", "value": "x"}]})
        );
        assert_eq!(out.objects[1]["spec"]["timeouts"], json!({"pipeline": "1h0m0s"}));
        assert_eq!(
            out.objects[2]["spec"]["taskRef"],
            json!({"name": "c", "kind": "ClusterTask"})
        );
        assert_eq!(paths(&out.dropped), ["spec.params[0]", "spec.computeResources"]);
        assert_eq!(paths(&out.changed), ["spec.status", "spec.timeout"]);
    }

    #[test]
    fn a_resolver_names_a_task_of_the_namespace_and_is_listed() {
        let out = one(r#"
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  tasks:
    - {name: a, taskRef: {resolver: cluster, params: [{name: name, value: git-clone}, {name: kind, value: task}]}}
    - {name: b, taskRef: {resolver: git, params: [{name: pathInRepo, value: task/lint/0.1/lint.yaml}]}}
    - {name: c, taskRef: {apiVersion: example.dev/v1, kind: Wait, name: w}}
"#);
        let tasks = &out.objects[0]["spec"]["tasks"];
        assert_eq!(tasks[0]["taskRef"], json!({"name": "git-clone"}));
        assert_eq!(tasks[1]["taskRef"], json!({"name": "lint"}));
        assert_eq!(
            paths(&out.dropped),
            [
                "spec.tasks[0].taskRef.resolver",
                "spec.tasks[1].taskRef.resolver",
                "spec.tasks[2].taskRef.kind",
                "spec.tasks[2].taskRef.apiVersion"
            ]
        );
    }

    #[test]
    fn malformed_documents_never_panic() {
        let shapes = [
            json!(null),
            json!("x"),
            json!(1),
            json!([1, "a", null]),
            json!({"a": [null]}),
        ];
        for kind in ["Task", "ClusterTask", "Pipeline", "TaskRun", "PipelineRun"] {
            for spec in &shapes {
                let mut fields = vec![spec.clone()];
                for key in [
                    "steps",
                    "params",
                    "results",
                    "tasks",
                    "finally",
                    "sidecars",
                    "stepTemplate",
                    "taskRef",
                    "status",
                    "taskRunTemplate",
                    "timeout",
                    "pipelineSpec",
                    "taskSpec",
                    "workspaces",
                ] {
                    for inner in &shapes {
                        fields.push(json!({key: inner}));
                        fields.push(json!({key: [inner]}));
                        fields.push(json!({"tasks": [{key: inner}], "steps": [{key: inner}]}));
                    }
                }
                for spec in fields {
                    let doc = json!({"apiVersion": "tekton.dev/v1beta1", "kind": kind, "metadata": {"annotations": {"tekton.dev/displayName": "d"}}, "spec": spec});
                    let _ = convert(&[doc]);
                }
            }
        }
        let _ = convert(&[json!("text"), json!([1]), json!({"kind": "List", "items": "no"})]);
    }

    #[test]
    fn what_is_not_tekton_is_refused_by_name() {
        let docs = vec![json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})];
        let err = convert(&docs).unwrap_err();
        assert!(
            err.contains("document 1 (ConfigMap \"c\") has apiVersion \"v1\""),
            "{err}"
        );
        let docs = vec![json!({"apiVersion": "tekton.dev/v1", "kind": "StepAction", "metadata": {"name": "s"}})];
        assert!(convert(&docs).unwrap_err().contains("is a Tekton StepAction"));
        let list = json!({"kind": "List", "items": [{"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "t"}, "spec": {"steps": [{"name": "a", "image": "i", "script": "s"}]}}]});
        assert_eq!(convert(&[list, Value::Null]).unwrap().objects.len(), 1);
    }
}
