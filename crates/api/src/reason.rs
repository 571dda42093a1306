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
    /// Pending: an attempt failed and the next one (`spec.retries`) has not
    /// started yet.
    Retrying,
    /// Succeeded: every step exited 0.
    Succeeded,
    /// Failed: a step exited non-zero.
    StepFailed,
    /// Failed: the run went over `spec.timeout`, counted from its creation.
    Timeout,
    /// Failed: `spec.cancelled` was set.
    Cancelled,
    /// Failed: a step's image could not be pulled within the grace period.
    ImagePullFailed,
    /// Failed: the pod failed without a failing step (evicted, node lost...).
    PodFailed,
    /// Failed: the run's pod was deleted before the run ended.
    PodDeleted,
    /// Failed: a pod with the run's pod name exists and belongs to someone else.
    PodConflict,
    /// Failed: the API server refused the pod (invalid image name, quota...).
    PodCreationFailed,
    /// Failed: a param is missing, unknown, of the wrong type or misused.
    InvalidParams,
    /// Failed: a workspace is not bound, or a binding names no workspace.
    InvalidWorkspaces,
    /// Failed: the resolved Task cannot be turned into a pod.
    InvalidTaskSpec,
    /// Failed: the results are larger than a termination message can carry.
    ResultsTooLarge,
}

impl Reason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Pending => "Pending",
            Reason::TaskNotFound => "TaskNotFound",
            Reason::Running => "Running",
            Reason::Retrying => "Retrying",
            Reason::Succeeded => "Succeeded",
            Reason::StepFailed => "StepFailed",
            Reason::Timeout => "Timeout",
            Reason::Cancelled => "Cancelled",
            Reason::ImagePullFailed => "ImagePullFailed",
            Reason::PodFailed => "PodFailed",
            Reason::PodDeleted => "PodDeleted",
            Reason::PodConflict => "PodConflict",
            Reason::PodCreationFailed => "PodCreationFailed",
            Reason::InvalidParams => "InvalidParams",
            Reason::InvalidWorkspaces => "InvalidWorkspaces",
            Reason::InvalidTaskSpec => "InvalidTaskSpec",
            Reason::ResultsTooLarge => "ResultsTooLarge",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
