//! `Task.status.steps`: the step count behind the STEPS column of
//! `kubectl get tasks` (a printer column cannot count a list).

use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use minitask_api::Task;
use serde_json::json;
use tracing::warn;

use crate::pod::MANAGER;

/// The count to write, or None when the status already says it.
pub fn step_count_to_write(task: &Task) -> Option<i32> {
    let count = i32::try_from(task.spec.steps.len()).unwrap_or(i32::MAX);
    (task.status.as_ref().and_then(|s| s.steps) != Some(count)).then_some(count)
}

/// Writes the count when it changed. Failures are logged, not retried
/// here: the next event for the Task tries again, and runs never wait on it.
pub async fn record_step_count(client: &Client, task: &Task) {
    let (Some(count), Some(namespace)) = (step_count_to_write(task), task.namespace()) else {
        return;
    };
    let api: Api<Task> = Api::namespaced(client.clone(), &namespace);
    let patch = json!({"apiVersion": Task::api_version(&()), "kind": Task::kind(&()), "status": {"steps": count}});
    if let Err(error) = api
        .patch_status(
            &task.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
    {
        warn!(task = %task.name_any(), %namespace, %error, "could not record the step count");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::task;
    use minitask_api::TaskStatus;

    #[test]
    fn the_count_is_written_only_when_it_changed() {
        let mut t = Task::new("t", task(&["a", "b"]));
        assert_eq!(step_count_to_write(&t), Some(2), "no status yet");
        t.status = Some(TaskStatus { steps: Some(2) });
        assert_eq!(step_count_to_write(&t), None, "up to date");
        t.spec.steps.pop();
        assert_eq!(step_count_to_write(&t), Some(1), "a step was removed");
    }
}
