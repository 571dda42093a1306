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
    /// Failed: a step went over its own `timeout` and was stopped.
    StepTimeout,
    /// Running: a step failed and waits for a debugger (`spec.debug`):
    /// `kubectl task debug` opens a shell in it.
    Debugging,
    /// Failed: the run went over `spec.timeout`, counted from its creation.
    Timeout,
    /// Failed: `spec.cancelled` was set.
    Cancelled,
    /// Failed: a step's image could not be pulled within the grace period.
    ImagePullFailed,
    /// Failed: the pod failed without a failing step and without a known
    /// cause (the kubelet's reason and message are in the run's message).
    PodFailed,
    /// Failed: the run's pod was deleted before the run ended (by hand, by a
    /// force deletion, or by pod garbage collection).
    PodDeleted,
    /// Failed: the pod was evicted or preempted (its `DisruptionTarget`
    /// condition, or the kubelet's `Evicted`): a node drain, node pressure,
    /// a higher-priority pod.
    PodEvicted,
    /// Failed: the pod's node is gone or unreachable: the pod stayed
    /// terminating past its grace period, or Kubernetes deleted it because
    /// its node went away.
    NodeLost,
    /// Failed: a step's container could not be created within the image pull
    /// grace period (CreateContainerConfigError: a missing Secret or
    /// ConfigMap key; CreateContainerError; ImageInspectError...).
    ContainerCreationFailed,
    /// Failed: the pod could not start its containers within the image
    /// pull grace period for a cause its Events name that does not go away
    /// by itself: a volume that does not mount because the ConfigMap,
    /// Secret or claim it names does not exist.
    PodStartFailed,
    /// Failed: a pod with the run's pod name exists and belongs to someone else.
    PodConflict,
    /// The API server refused the pod. Pending while the cause may go away
    /// (a missing ServiceAccount, a full ResourceQuota), and the controller
    /// keeps trying with backoff; Failed when it cannot (a Pod Security
    /// violation, an invalid or too large pod, an admission webhook's
    /// denial).
    PodCreationFailed,
    /// Failed: a param is missing, unknown, of the wrong type or misused.
    InvalidParams,
    /// Failed: a workspace is not bound, or a binding names no workspace.
    InvalidWorkspaces,
    /// Failed: the resolved Task cannot be turned into a pod.
    InvalidTaskSpec,
    /// Failed: the results are larger than a run may report.
    ResultsTooLarge,
    /// Failed: every step succeeded, but the results could not be reported
    /// (the reporter's image did not pull, or its report was unreadable).
    ResultsFailed,
    /// Failed: a sidecar stopped (it crashed or exited) while the steps
    /// needed it; the message names it.
    SidecarFailed,
    /// Failed: a sidecar's readinessProbe did not pass within the sidecar
    /// grace period, so no step started; the message names it.
    SidecarNotReady,
}

impl Reason {
    /// Every reason, in the order the API documents them.
    pub const ALL: [Reason; 26] = [
        Reason::TaskNotFound,
        Reason::Pending,
        Reason::Running,
        Reason::Retrying,
        Reason::Succeeded,
        Reason::StepFailed,
        Reason::StepTimeout,
        Reason::Debugging,
        Reason::Timeout,
        Reason::Cancelled,
        Reason::ImagePullFailed,
        Reason::ContainerCreationFailed,
        Reason::PodStartFailed,
        Reason::PodFailed,
        Reason::PodDeleted,
        Reason::PodEvicted,
        Reason::NodeLost,
        Reason::PodConflict,
        Reason::PodCreationFailed,
        Reason::InvalidParams,
        Reason::InvalidWorkspaces,
        Reason::InvalidTaskSpec,
        Reason::ResultsTooLarge,
        Reason::ResultsFailed,
        Reason::SidecarFailed,
        Reason::SidecarNotReady,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Pending => "Pending",
            Reason::TaskNotFound => "TaskNotFound",
            Reason::Running => "Running",
            Reason::Retrying => "Retrying",
            Reason::Succeeded => "Succeeded",
            Reason::StepFailed => "StepFailed",
            Reason::StepTimeout => "StepTimeout",
            Reason::Debugging => "Debugging",
            Reason::Timeout => "Timeout",
            Reason::Cancelled => "Cancelled",
            Reason::ImagePullFailed => "ImagePullFailed",
            Reason::PodFailed => "PodFailed",
            Reason::PodDeleted => "PodDeleted",
            Reason::PodEvicted => "PodEvicted",
            Reason::NodeLost => "NodeLost",
            Reason::ContainerCreationFailed => "ContainerCreationFailed",
            Reason::PodStartFailed => "PodStartFailed",
            Reason::PodConflict => "PodConflict",
            Reason::PodCreationFailed => "PodCreationFailed",
            Reason::InvalidParams => "InvalidParams",
            Reason::InvalidWorkspaces => "InvalidWorkspaces",
            Reason::InvalidTaskSpec => "InvalidTaskSpec",
            Reason::ResultsTooLarge => "ResultsTooLarge",
            Reason::ResultsFailed => "ResultsFailed",
            Reason::SidecarFailed => "SidecarFailed",
            Reason::SidecarNotReady => "SidecarNotReady",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    /// Fails to compile when a variant is added without a place in `ALL`'s
    /// count, and fails when `ALL` repeats or misses one.
    #[test]
    fn all_lists_every_reason_once() {
        let mut names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Reason::ALL.len(), "a reason is listed twice");
        for reason in Reason::ALL {
            // The match is exhaustive: a new variant must be handled here,
            // which is the reminder to add it to ALL.
            match reason {
                Reason::Pending
                | Reason::TaskNotFound
                | Reason::Running
                | Reason::Retrying
                | Reason::Succeeded
                | Reason::StepFailed
                | Reason::StepTimeout
                | Reason::Debugging
                | Reason::Timeout
                | Reason::Cancelled
                | Reason::ImagePullFailed
                | Reason::ContainerCreationFailed
                | Reason::PodFailed
                | Reason::PodDeleted
                | Reason::PodEvicted
                | Reason::NodeLost
                | Reason::PodStartFailed
                | Reason::PodConflict
                | Reason::PodCreationFailed
                | Reason::InvalidParams
                | Reason::InvalidWorkspaces
                | Reason::InvalidTaskSpec
                | Reason::ResultsTooLarge
                | Reason::ResultsFailed
                | Reason::SidecarFailed
                | Reason::SidecarNotReady => {}
            }
        }
    }

    #[test]
    fn the_api_documents_every_reason() {
        let crd = serde_json::to_value(crate::TaskRun::crd()).unwrap();
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        let text = schema["properties"]["status"]["properties"]["reason"]["description"]
            .as_str()
            .unwrap();
        let words: Vec<&str> = text.split(|c: char| !c.is_ascii_alphanumeric()).collect();
        for reason in Reason::ALL {
            assert!(
                words.contains(&reason.as_str()),
                "{reason} is not in status.reason's description: {text}"
            );
        }
    }
}
