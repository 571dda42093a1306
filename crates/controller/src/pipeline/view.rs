//! How one task of a PipelineRun stands in a reconcile, and why tasks
//! that have not started never will: what the plan, its variables and its
//! messages share.

use std::collections::BTreeMap;

use kube::ResourceExt;
use minitask_api::{ParamValue, PipelineSpec, TaskRun, TaskState};

/// How one task stands in this reconcile.
#[derive(Clone, Debug, Default)]
pub(crate) struct View {
    pub(crate) state: TaskState,
    pub(crate) reason: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) task_runs: Vec<String>,
    /// Its results: a string each, a list each for a matrix.
    pub(crate) results: BTreeMap<String, ParamValue>,
}

impl View {
    pub(crate) fn skipped(reason: &str, message: String) -> View {
        View {
            state: TaskState::Skipped,
            reason: Some(reason.into()),
            message: Some(message),
            ..View::default()
        }
    }
}

/// Why tasks that have not started never will.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Stop {
    Failed,
    Cancelled,
    TimedOut,
}

impl Stop {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Stop::Failed => "a task failed before it could start",
            Stop::Cancelled => "the run was cancelled before it could start",
            Stop::TimedOut => "the run's tasks timed out before it could start",
        }
    }
}

/// The reason of a task that did not start because the run stopped; its
/// `$(tasks.<name>.status)` is `None`.
pub(crate) const STOPPED: &str = "Stopped";

pub(crate) fn failed(reason: &str, message: String) -> View {
    View {
        state: TaskState::Failed,
        reason: Some(reason.into()),
        message: Some(message),
        ..View::default()
    }
}

pub(crate) fn is_finally(spec: &PipelineSpec, child: &TaskRun) -> bool {
    let task = child.labels().get(minitask_api::LABEL_PIPELINE_TASK);
    spec.finally.iter().any(|f| Some(&f.name) == task)
}
