//! `Task.status`: the step count behind the STEPS column of `kubectl get
//! tasks` (a printer column cannot count a list), and the `Valid`
//! condition (every `$(params.x)`, `$(workspaces.x.path)` and
//! `$(results.x.path)` a step uses is declared: CEL's cost budget cannot
//! walk the scripts at admission).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use minitask_api::{ClusterTask, Task, TaskSpec, TaskStatus, undeclared};
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::warn;

use crate::pod::MANAGER;
use crate::shared::valid::{already_says, valid_condition};

/// The status to write, or None when the Task (or ClusterTask) shows it
/// already.
pub fn status_to_write(task: &impl TaskObject, now: &Time) -> Option<TaskStatus> {
    let spec = task.task_spec();
    let count = i32::try_from(spec.steps.len()).unwrap_or(i32::MAX);
    let current = task.task_status().cloned().unwrap_or_default();
    let generation = task.meta().generation;
    let sound = "every reference in the steps names something the Task declares";
    let condition = valid_condition(&undeclared(spec), sound, &current.conditions, generation, now);
    let same = current.steps == Some(count)
        && already_says(&current.conditions, &condition)
        && current.observed_generation == generation;
    (!same).then(|| TaskStatus {
        steps: Some(count),
        conditions: vec![condition],
        observed_generation: generation,
    })
}

/// Writes the status when it changed. Failures are logged, not retried
/// here: the next event for the Task tries again, and runs never wait on
/// it (a run checks its Task itself).
pub async fn record_task_status<K: TaskObject>(client: &Client, task: &K) {
    let now = Time(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH));
    let Some(status) = status_to_write(task, &now) else {
        return;
    };
    let namespace = task.namespace();
    let api = K::api(client.clone(), namespace.as_deref().unwrap_or_default());
    let patch = json!({"apiVersion": K::api_version(&()), "kind": K::kind(&()), "status": status});
    let name = task.name_any();
    if let Err(error) = api
        .patch_status(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&patch))
        .await
    {
        let namespace = namespace.unwrap_or_default();
        warn!(kind = %K::kind(&()), %name, %namespace, %error, "could not record the status");
    }
}

/// A Task or a ClusterTask: what the status and the watches read of them.
pub trait TaskObject:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static
{
    fn task_spec(&self) -> &TaskSpec;
    fn task_status(&self) -> Option<&TaskStatus>;
    /// Where its status is written.
    fn api(client: Client, namespace: &str) -> Api<Self>;
}

impl TaskObject for Task {
    fn task_spec(&self) -> &TaskSpec {
        &self.spec
    }
    fn task_status(&self) -> Option<&TaskStatus> {
        self.status.as_ref()
    }
    fn api(client: Client, namespace: &str) -> Api<Self> {
        Api::namespaced(client, namespace)
    }
}

impl TaskObject for ClusterTask {
    fn task_spec(&self) -> &TaskSpec {
        &self.spec
    }
    fn task_status(&self) -> Option<&TaskStatus> {
        self.status.as_ref()
    }
    fn api(client: Client, _: &str) -> Api<Self> {
        Api::all(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::task;

    #[test]
    fn the_status_is_written_only_when_it_changed() {
        let now = Time(Timestamp::from_second(1_800_000_000).unwrap());
        let mut t = Task::new("t", task(&["a", "b"]));
        t.metadata.generation = Some(1);
        let first = status_to_write(&t, &now).expect("no status yet");
        assert_eq!(first.steps, Some(2));
        assert_eq!(first.conditions[0].status, "True");
        t.status = Some(first);
        assert_eq!(status_to_write(&t, &now), None, "up to date");
        t.spec.steps.pop();
        t.metadata.generation = Some(2);
        assert_eq!(status_to_write(&t, &now).unwrap().steps, Some(1), "a step was removed");
    }

    #[test]
    fn a_script_that_uses_what_the_task_does_not_declare_makes_it_invalid() {
        let now = Time(Timestamp::from_second(1_800_000_000).unwrap());
        let mut t = Task::new("t", task(&["a"]));
        t.spec.steps[0].script = Some("echo $(params.whom) > $(workspaces.src.path)/x".into());
        let status = status_to_write(&t, &now).unwrap();
        let valid = &status.conditions[0];
        assert_eq!((valid.status.as_str(), valid.reason.as_str()), ("False", "Invalid"));
        assert!(
            valid.message.contains("$(params.whom) names no param"),
            "{}",
            valid.message
        );
        assert!(
            valid.message.contains("$(workspaces.src) names no workspace"),
            "{}",
            valid.message
        );
    }
}
