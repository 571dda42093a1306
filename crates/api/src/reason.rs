use std::fmt;

/// Why a TaskRun is in its phase: the machine-readable `status.reason`.
///
/// These strings are API: tools match on them, so they never change meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Pending: the pod exists but no step has started yet.
    Pending,
    /// Pending: `spec.taskRef` names a Task that does not exist (yet).
    TaskNotFound,
    /// Running: at least one step has started.
    Running,
    /// Succeeded: every step exited 0.
    Succeeded,
    /// Failed: a step exited non-zero.
    StepFailed,
    /// Failed: the run went over `spec.timeout`, counted from its creation.
    Timeout,
    /// Failed: `spec.cancelled` was set.
    Cancelled,
    /// Failed: the pod failed without a failing step (evicted, node lost...).
    PodFailed,
    /// Failed: the run's pod was deleted before the run ended.
    PodDeleted,
    /// Failed: a pod with the run's pod name exists and belongs to someone else.
    PodConflict,
    /// Failed: the API server refused the pod (invalid image name, quota...).
    PodCreationFailed,
    /// Failed: the resolved Task cannot be turned into a pod.
    InvalidTaskSpec,
}

impl Reason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Pending => "Pending",
            Reason::TaskNotFound => "TaskNotFound",
            Reason::Running => "Running",
            Reason::Succeeded => "Succeeded",
            Reason::StepFailed => "StepFailed",
            Reason::Timeout => "Timeout",
            Reason::Cancelled => "Cancelled",
            Reason::PodFailed => "PodFailed",
            Reason::PodDeleted => "PodDeleted",
            Reason::PodConflict => "PodConflict",
            Reason::PodCreationFailed => "PodCreationFailed",
            Reason::InvalidTaskSpec => "InvalidTaskSpec",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
