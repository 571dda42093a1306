//! What the archive keeps of a run, decided from the run alone. Pure.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{Resource, ResourceExt};
use minitask_api::{PipelineRun, TaskRun};
use serde::{Deserialize, Serialize};

use crate::keys::{BadName, Kind, RunKey};

/// The condition the archive writes on a run it holds.
pub const ARCHIVED: &str = minitask_api::CONDITION_ARCHIVED;

/// One run as archived. The log bytes live beside it (see `keys`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// The Task or Pipeline it ran, when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    pub archived_at: Time,
    /// The run's final object: spec, status, labels and annotations.
    pub object: serde_json::Value,
    /// Every step's log of every attempt, in order (TaskRuns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<StepLog>,
    /// Its TaskRuns, each archived as a record of its own (PipelineRuns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub task_runs: Vec<String>,
    /// What a reader should know: a run deleted before it was archived,
    /// logs that could not be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Where one step's log of one attempt came from, and what became of it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StepLog {
    /// 1 for the first attempt.
    pub attempt: u32,
    pub step: String,
    pub pod: String,
    pub container: String,
    /// The log's key in the store, when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The log's full size, before any cut.
    #[serde(default)]
    pub bytes: u64,
    /// Bytes cut from its middle to stay within the cap.
    #[serde(default)]
    pub cut_bytes: u64,
    /// Why there is no log: the step never ran, or its pod was gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// A log to read: one step of one attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct LogSource {
    pub attempt: u32,
    pub index: usize,
    pub step: String,
    pub pod: String,
    pub container: String,
    /// The step has no state: it never ran, so there is nothing to read.
    pub never_ran: bool,
}

/// Whether a run has ended, and the archive has not said it holds it.
pub fn wants_archiving(ended: bool, conditions: &[Condition]) -> bool {
    ended && !is_archived(conditions)
}

pub use minitask_api::is_archived;

/// The run's end, in ms: its completion time, else its creation (a run
/// that ended without saying when), so its keys are the same on every try.
fn ended_ms(completion: Option<&Time>, object: &impl Resource) -> i64 {
    completion
        .or(object.meta().creation_timestamp.as_ref())
        .map_or(0, |t| t.0.as_millisecond())
}

fn run_key(kind: Kind, run: &impl Resource, completion: Option<&Time>) -> Result<RunKey, BadName> {
    RunKey::new(
        kind,
        &run.namespace().unwrap_or_default(),
        &run.name_any(),
        &run.uid().unwrap_or_default(),
        ended_ms(completion, run),
    )
}

pub fn taskrun_key(run: &TaskRun) -> Result<RunKey, BadName> {
    let done = run.status.as_ref().and_then(|s| s.completion_time.as_ref());
    run_key(Kind::TaskRun, run, done)
}

pub fn pipelinerun_key(run: &PipelineRun) -> Result<RunKey, BadName> {
    let done = run.status.as_ref().and_then(|s| s.completion_time.as_ref());
    run_key(Kind::PipelineRun, run, done)
}

/// Every step of every attempt, failed attempts first, each attempt's
/// sidecars after its steps (`sidecar <name>`: the Task the run recorded
/// names them).
pub fn log_sources(run: &TaskRun) -> Vec<LogSource> {
    let Some(status) = &run.status else {
        return Vec::new();
    };
    let sidecars: Vec<String> = status
        .task_spec
        .iter()
        .flat_map(|t| t.sidecars.iter().map(|s| s.name.clone()))
        .collect();
    let earlier = status.retries_status.iter().map(|a| (a.pod_name.as_str(), &a.steps));
    let current = status.pod_name.as_deref().map(|pod| (pod, &status.steps));
    earlier
        .chain(current)
        .enumerate()
        .flat_map(|(attempt, (pod, steps))| {
            let ran = steps.iter().any(|s| s.terminated.is_some() || s.running.is_some());
            let steps = steps.iter().map(|step| {
                (
                    step.name.clone(),
                    step.container.clone(),
                    step.terminated.is_none() && step.running.is_none(),
                )
            });
            let sidecars = sidecars
                .iter()
                .map(move |name| (format!("sidecar {name}"), format!("sidecar-{name}"), !ran));
            steps
                .chain(sidecars)
                .enumerate()
                .map(move |(index, (step, container, never_ran))| LogSource {
                    attempt: attempt as u32 + 1,
                    index,
                    step,
                    pod: pod.to_string(),
                    container,
                    never_ran,
                })
        })
        .collect()
}

/// The object as archived: no managedFields, which are large and say
/// nothing a reader needs.
pub fn final_object(object: &impl Serialize) -> serde_json::Value {
    let mut value = serde_json::to_value(object).unwrap_or_default();
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("managedFields");
    }
    value
}

/// What both kinds share: the run's identity, how it ended, its object.
fn record_of(kind: &str, run: &(impl Resource + Serialize), ended: Ended, now: Time) -> Record {
    Record {
        kind: kind.into(),
        namespace: run.namespace().unwrap_or_default(),
        name: run.name_any(),
        uid: run.uid().unwrap_or_default(),
        task: ended.task,
        phase: ended.phase,
        reason: ended.reason,
        start_time: ended.start_time,
        completion_time: ended.completion_time,
        archived_at: now,
        object: final_object(run),
        logs: Vec::new(),
        task_runs: Vec::new(),
        notes: Vec::new(),
    }
}

/// How a run of either kind ended, as its status says.
struct Ended {
    task: Option<String>,
    phase: String,
    reason: Option<String>,
    start_time: Option<Time>,
    completion_time: Option<Time>,
}

pub fn taskrun_record(run: &TaskRun, logs: Vec<StepLog>, now: Time, notes: Vec<String>) -> Record {
    let status = run.status.clone().unwrap_or_default();
    let ended = Ended {
        task: run.task_name().map(str::to_string),
        phase: format!("{:?}", run.phase()),
        reason: status.reason,
        start_time: status.start_time,
        completion_time: status.completion_time,
    };
    Record {
        logs,
        notes,
        ..record_of("TaskRun", run, ended, now)
    }
}

pub fn pipelinerun_record(run: &PipelineRun, now: Time, notes: Vec<String>) -> Record {
    let status = run.status.clone().unwrap_or_default();
    let ended = Ended {
        task: run.pipeline_name().map(str::to_string),
        phase: format!("{:?}", run.phase()),
        reason: status.reason,
        start_time: status.start_time,
        completion_time: status.completion_time,
    };
    Record {
        task_runs: status.tasks.iter().flat_map(|t| t.task_runs.clone()).collect(),
        notes,
        ..record_of("PipelineRun", run, ended, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(status: serde_json::Value) -> TaskRun {
        serde_json::from_value(json!({
            "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
            "metadata": {"name": "r", "namespace": "ns", "uid": "u1",
                         "managedFields": [{"manager": "x"}]},
            "spec": {"taskRef": {"name": "build"}},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn every_attempt_and_step_is_read_and_steps_that_never_ran_are_said() {
        let run = run(json!({
            "phase": "Failed", "podName": "r-pod-2",
            "retriesStatus": [{"podName": "r-pod", "reason": "StepFailed", "message": "",
                "steps": [{"name": "a", "container": "step-a", "terminated": {"exitCode": 1}}]}],
            "steps": [{"name": "a", "container": "step-a", "terminated": {"exitCode": 1}},
                      {"name": "b", "container": "step-b"}],
        }));
        let sources = log_sources(&run);
        let seen: Vec<_> = sources
            .iter()
            .map(|s| (s.attempt, s.pod.as_str(), s.container.as_str(), s.never_ran))
            .collect();
        assert_eq!(
            seen,
            [
                (1, "r-pod", "step-a", false),
                (2, "r-pod-2", "step-a", false),
                (2, "r-pod-2", "step-b", true)
            ]
        );
    }

    #[test]
    fn sidecar_logs_are_read_after_each_attempts_steps() {
        let run = run(json!({
            "phase": "Succeeded", "podName": "r-pod",
            "taskSpec": {"steps": [{"name": "a", "image": "busybox", "script": "true"}],
                         "sidecars": [{"name": "db", "image": "postgres"}]},
            "steps": [{"name": "a", "container": "step-a", "terminated": {"exitCode": 0}}],
        }));
        let seen: Vec<_> = log_sources(&run)
            .iter()
            .map(|s| (s.index, s.step.clone(), s.container.clone(), s.never_ran))
            .collect();
        assert_eq!(
            seen,
            [
                (0, "a".to_string(), "step-a".to_string(), false),
                (1, "sidecar db".to_string(), "sidecar-db".to_string(), false)
            ]
        );
    }

    #[test]
    fn the_record_has_the_final_object_without_managed_fields() {
        let run = run(json!({"phase": "Succeeded", "reason": "Succeeded"}));
        let record = taskrun_record(&run, Vec::new(), Time(Default::default()), Vec::new());
        assert_eq!(record.task.as_deref(), Some("build"));
        assert_eq!(record.phase, "Succeeded");
        assert!(record.object["metadata"].get("managedFields").is_none());
        assert_eq!(record.object["spec"]["taskRef"]["name"], "build");
    }

    #[test]
    fn a_run_is_archived_once_it_ended_until_it_says_it_is() {
        let archived: Condition = serde_json::from_value(json!({
            "type": ARCHIVED, "status": "True", "reason": "Archived", "message": "",
            "lastTransitionTime": "2026-12-03T00:00:00Z",
        }))
        .unwrap();
        assert!(wants_archiving(true, &[]));
        assert!(!wants_archiving(false, &[]));
        assert!(!wants_archiving(true, std::slice::from_ref(&archived)));
        let failed = Condition {
            status: "False".into(),
            ..archived
        };
        assert!(wants_archiving(true, &[failed]));
    }
}
