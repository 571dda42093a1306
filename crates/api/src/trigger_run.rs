//! The run a Trigger starts, built from its `spec.run` with the `$(…)`
//! references of its params filled in. Pure: the caller says what a
//! reference means (a delivery's body, a schedule's time).

use std::collections::BTreeMap;

use kube::api::ObjectMeta;

use crate::{
    LABEL_PIPELINE, LABEL_TASK, LABEL_TRIGGER, Param, ParamValue, PipelineRun, PipelineRunSpec, TaskRun, TaskRunSpec,
    Trigger, label_value,
};

/// A run to create: a TaskRun or a PipelineRun.
#[derive(Clone, Debug)]
pub enum TriggeredRun {
    Task(TaskRun),
    Pipeline(PipelineRun),
}

impl TriggeredRun {
    pub fn name(&self) -> &str {
        let meta = match self {
            TriggeredRun::Task(run) => &run.metadata,
            TriggeredRun::Pipeline(run) => &run.metadata,
        };
        meta.name.as_deref().unwrap_or_default()
    }

    /// `TaskRun` or `PipelineRun`.
    pub fn kind(&self) -> &'static str {
        match self {
            TriggeredRun::Task(_) => "TaskRun",
            TriggeredRun::Pipeline(_) => "PipelineRun",
        }
    }

    /// Creates the run in its namespace: true when created, false when a
    /// run of its name exists already (the same fire time or delivery,
    /// started before).
    pub async fn create(&self, client: &kube::Client) -> Result<bool, kube::Error> {
        let params = kube::api::PostParams::default();
        let created = match self {
            TriggeredRun::Task(run) => {
                let namespace = run.metadata.namespace.as_deref().unwrap_or_default();
                kube::Api::<TaskRun>::namespaced(client.clone(), namespace)
                    .create(&params, run)
                    .await
                    .map(|_| ())
            }
            TriggeredRun::Pipeline(run) => {
                let namespace = run.metadata.namespace.as_deref().unwrap_or_default();
                kube::Api::<PipelineRun>::namespaced(client.clone(), namespace)
                    .create(&params, run)
                    .await
                    .map(|_| ())
            }
        };
        match created {
            Ok(()) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The reference namespaces a Trigger fills; any other `$(…)` is left as
/// written (the Task's own substitutions may use it).
const PREFIXES: [&str; 3] = ["body.", "headers.", "schedule."];

/// Builds the run named `name` that `trigger` starts. `fill` gives the
/// text of a reference such as `body.head_commit.id`, None when it is
/// missing; `overrides` replace params of the same name (`kubectl task
/// trigger fire -p`). Errors name the param and the reference.
pub fn triggered_run(
    trigger: &Trigger,
    name: &str,
    fill: &dyn Fn(&str) -> Option<String>,
    overrides: &[Param],
) -> Result<TriggeredRun, String> {
    let run = &trigger.spec.run;
    let mut params = Vec::with_capacity(run.params.len());
    for param in &run.params {
        if overrides.iter().any(|o| o.name == param.name) {
            continue;
        }
        let value = match &param.value {
            ParamValue::String(text) => ParamValue::String(fill_text(text, fill, &param.name)?),
            ParamValue::Array(items) => ParamValue::Array(
                items
                    .iter()
                    .map(|item| fill_text(item, fill, &param.name))
                    .collect::<Result<_, _>>()?,
            ),
            other => other.clone(),
        };
        params.push(Param {
            name: param.name.clone(),
            value,
        });
    }
    params.extend(overrides.iter().cloned());
    let trigger_name = trigger.metadata.name.clone().unwrap_or_default();
    let mut labels: BTreeMap<String, String> = run.labels.clone();
    labels.insert(LABEL_TRIGGER.into(), label_value(&trigger_name));
    let metadata = |labels: BTreeMap<String, String>| ObjectMeta {
        name: Some(name.to_string()),
        namespace: trigger.metadata.namespace.clone(),
        labels: Some(labels),
        ..ObjectMeta::default()
    };
    if let Some(task) = &run.task_ref {
        labels.insert(LABEL_TASK.into(), label_value(&task.name));
        let spec = TaskRunSpec {
            task_ref: Some(task.clone()),
            params,
            workspaces: run.workspaces.iter().map(|w| w.to_task_binding()).collect(),
            service_account_name: run.service_account_name.clone(),
            timeout: run.timeout.clone().unwrap_or_else(|| TaskRunSpec::default().timeout),
            ttl_seconds_after_finished: run.ttl_seconds_after_finished,
            ..TaskRunSpec::default()
        };
        let mut task_run = TaskRun::new(name, spec);
        task_run.metadata = metadata(labels);
        return Ok(TriggeredRun::Task(task_run));
    }
    let Some(pipeline) = &run.pipeline_ref else {
        return Err("spec.run names neither a taskRef nor a pipelineRef: set one of them".into());
    };
    labels.insert(LABEL_PIPELINE.into(), label_value(&pipeline.name));
    let spec = PipelineRunSpec {
        pipeline_ref: Some(pipeline.clone()),
        params,
        workspaces: run.workspaces.clone(),
        service_account_name: run.service_account_name.clone(),
        timeouts: run.timeouts.clone(),
        ttl_seconds_after_finished: run.ttl_seconds_after_finished,
        ..PipelineRunSpec::default()
    };
    let mut pipeline_run = PipelineRun::new(name, spec);
    pipeline_run.metadata = metadata(labels);
    Ok(TriggeredRun::Pipeline(pipeline_run))
}

/// `text` with each `$(body.…)`, `$(headers.…)`, `$(event)` and
/// `$(schedule.…)` replaced by what `fill` says.
pub fn fill_text(text: &str, fill: &dyn Fn(&str) -> Option<String>, param: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let reference = &after[..end];
        if reference == "event" || PREFIXES.iter().any(|p| reference.starts_with(p)) {
            match fill(reference) {
                Some(value) => out.push_str(&value),
                None => {
                    return Err(format!(
                        "param {param}: $({reference}) is not in this {}",
                        if reference.starts_with("schedule.") {
                            "schedule"
                        } else {
                            "delivery"
                        }
                    ));
                }
            }
        } else {
            out.push_str(&rest[start..start + 2 + end + 1]);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The text of `path` (`a.b.0.c`) in a JSON body: a string as it is,
/// anything else as JSON; None when a step is missing.
pub fn json_path_text(body: &serde_json::Value, path: &str) -> Option<String> {
    let mut at = body;
    for key in path.split('.') {
        at = match at {
            serde_json::Value::Object(map) => map.get(key)?,
            serde_json::Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(match at {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    })
}

/// A run's name for one fire time or delivery: the Trigger's name and a
/// key, within 63 characters (a TaskRun's name is a label value), the same
/// every time, so the API server refuses a second run for one event.
pub fn triggered_name(trigger: &str, key: &str) -> String {
    crate::shorten(trigger, &format!("-{key}"), 63)
}

/// The key of a delivery id: short, lower-case hex, whatever the id holds.
pub fn delivery_key(trigger_uid: &str, delivery_id: &str) -> String {
    let hash = crate::fnv1a(format!("{trigger_uid}/{delivery_id}").as_bytes());
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TaskRef, TriggerRun, TriggerSpec};

    fn trigger(run: TriggerRun) -> Trigger {
        let mut trigger = Trigger::new(
            "on-push",
            TriggerSpec {
                run,
                schedule: None,
                webhook: None,
            },
        );
        trigger.metadata.namespace = Some("team".into());
        trigger
    }

    fn param(name: &str, value: &str) -> Param {
        Param {
            name: name.into(),
            value: ParamValue::String(value.into()),
        }
    }

    #[test]
    fn references_are_filled_from_the_body_and_others_are_kept() {
        let body = serde_json::json!({"head_commit": {"id": "abc"}, "commits": [{"n": 1}], "ok": true});
        let fill = |r: &str| match r {
            "event" => Some("push".to_string()),
            r => r.strip_prefix("body.").and_then(|p| json_path_text(&body, p)),
        };
        let got = fill_text(
            "$(body.head_commit.id)@$(event) $(params.x) $(body.commits.0) $(body.ok)",
            &fill,
            "p",
        );
        assert_eq!(got.unwrap(), r#"abc@push $(params.x) {"n":1} true"#);
        let missing = fill_text("$(body.nope.id)", &fill, "commit").unwrap_err();
        assert_eq!(missing, "param commit: $(body.nope.id) is not in this delivery");
        assert_eq!(fill_text("$(body.x", &fill, "p").unwrap(), "$(body.x");
    }

    #[test]
    fn a_task_trigger_builds_a_labelled_taskrun_with_overrides() {
        let run = TriggerRun {
            task_ref: Some(TaskRef::task("build")),
            params: vec![param("commit", "$(body.sha)"), param("mode", "fast")],
            ..TriggerRun::default()
        };
        let fill = |r: &str| (r == "body.sha").then(|| "f00".to_string());
        let built = triggered_run(&trigger(run), "on-push-1", &fill, &[param("mode", "slow")]).unwrap();
        let TriggeredRun::Task(task_run) = built else {
            panic!("a TaskRun")
        };
        assert_eq!(task_run.metadata.namespace.as_deref(), Some("team"));
        let labels = task_run.metadata.labels.unwrap();
        assert_eq!(labels[LABEL_TRIGGER], "on-push");
        assert_eq!(labels[LABEL_TASK], "build");
        assert_eq!(
            task_run.spec.params,
            vec![param("commit", "f00"), param("mode", "slow")]
        );
    }

    #[test]
    fn names_are_deterministic_and_fit() {
        assert_eq!(triggered_name("nightly", "29000000"), "nightly-29000000");
        let long = triggered_name(&"x".repeat(80), "29000000");
        assert!(long.len() <= 63 && long.ends_with("-29000000"));
        assert_eq!(delivery_key("uid", "d1"), delivery_key("uid", "d1"));
        assert_ne!(delivery_key("uid", "d1"), delivery_key("uid", "d2"));
    }
}
