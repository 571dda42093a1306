//! What a PipelineRun says: each task's summary in the status, the
//! progress while it runs and the verdict once it has ended.

use minitask_api::{Param, PipelineReason, PipelineSpec, PipelineTask, PipelineTaskStatus, TaskState};

use crate::pipeline::variables::{MAX_KEPT_RESULTS, value_size};
use crate::pipeline::view::{Stop, View};
use crate::shared::cut;

/// How a run whose tasks have all ended ends.
pub(crate) fn outcome(
    spec: &PipelineSpec,
    views: &[View],
    finals: &[View],
    stop: Option<Stop>,
    over: bool,
) -> (PipelineReason, String) {
    let failed: Vec<String> = spec
        .all_tasks()
        .zip(views.iter().chain(finals))
        .filter(|(_, v)| v.state == TaskState::Failed)
        .map(|(t, v)| {
            let why = v.message.as_deref().map(|m| cut(m, 300)).unwrap_or_default();
            format!(
                "task {} failed ({}): {why}",
                t.name,
                v.reason.clone().unwrap_or_default()
            )
        })
        .collect();
    let ran_finally = match finals.len() {
        0 => String::new(),
        _ => "; the finally tasks ran".into(),
    };
    match (stop, over) {
        (Some(Stop::TimedOut), _) | (_, true) => (
            PipelineReason::Timeout,
            format!("the run went over its timeouts; tasks that had not started did not run{ran_finally}"),
        ),
        (Some(Stop::Cancelled), _) => (
            PipelineReason::Cancelled,
            format!("the run was cancelled (spec.cancelled); tasks that had not started did not run{ran_finally}"),
        ),
        _ if !failed.is_empty() => (
            PipelineReason::TaskFailed,
            format!("{}; see `kubectl task describe` of its TaskRuns", failed.join("; ")),
        ),
        _ => {
            let skipped = views
                .iter()
                .chain(finals)
                .filter(|v| v.state == TaskState::Skipped)
                .count();
            let ran = views.len() + finals.len() - skipped;
            let message = match skipped {
                0 => format!("all {ran} tasks succeeded"),
                _ => format!("{ran} tasks succeeded, {skipped} skipped"),
            };
            (PipelineReason::Succeeded, message)
        }
    }
}

/// How `task` stands, for the status; an ended task keeps its results
/// while `kept` (bytes so far) stays within `MAX_KEPT_RESULTS`.
pub(crate) fn summary(task: &PipelineTask, view: &View, finally: bool, kept: &mut usize) -> PipelineTaskStatus {
    let results: Vec<Param> = match view.state {
        TaskState::Succeeded | TaskState::Failed => view
            .results
            .iter()
            .map(|(name, value)| Param {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let size: usize = results.iter().map(|r| r.name.len() + value_size(&r.value)).sum();
    let results = match *kept + size <= MAX_KEPT_RESULTS {
        true => {
            *kept += size;
            results
        }
        false => Vec::new(),
    };
    PipelineTaskStatus {
        name: task.name.clone(),
        task_runs: view.task_runs.clone(),
        state: view.state,
        reason: view.reason.clone(),
        message: view.message.clone(),
        finally,
        results,
    }
}

pub(crate) fn progress_message(spec: &PipelineSpec, views: &[View], finals: &[View], stop: Option<Stop>) -> String {
    // Once the run is cancelled or its tasks are out of time, a task that
    // has not started never will (its TaskRuns are cancelled): only
    // finally tasks still wait. After a failure, what was created runs.
    let tasks = spec.tasks.len();
    let can_wait = |i: usize| matches!(stop, None | Some(Stop::Failed)) || i >= tasks;
    let named = |state: TaskState| -> Vec<&str> {
        spec.all_tasks()
            .zip(views.iter().chain(finals))
            .enumerate()
            .filter(|(i, (_, v))| v.state == state && (state != TaskState::Pending || can_wait(*i)))
            .map(|(_, (t, _))| t.name.as_str())
            .collect()
    };
    let mut parts = Vec::new();
    for (state, word) in [(TaskState::Running, "running"), (TaskState::Pending, "waiting")] {
        let names = named(state);
        if !names.is_empty() {
            parts.push(format!("{word}: {}", names.join(", ")));
        }
    }
    // A task whose Task does not exist waits for it: say so, with the
    // TaskRun's words (which name the Task and what was probably meant).
    for (task, view) in spec.all_tasks().zip(views.iter().chain(finals)) {
        if view.state == TaskState::Pending
            && view.reason.as_deref() == Some(minitask_api::Reason::TaskNotFound.as_str())
        {
            let why = view.message.as_deref().map(|m| cut(m, 300)).unwrap_or_default();
            parts.push(format!("task {} waits: {why}", task.name));
        }
    }
    if let Some(stop) = stop {
        parts.push(
            match stop {
                Stop::Failed => "a task failed: no new task starts, then the finally tasks run",
                Stop::Cancelled => "cancelled: no new task starts, then the finally tasks run",
                Stop::TimedOut => "the tasks timed out: the finally tasks run next",
            }
            .into(),
        );
    }
    parts.join("; ")
}
