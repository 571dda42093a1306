//! Stopping the pod of a run that has ended (cancelled, timed out, a step
//! failed while a sidecar runs, a failed attempt that is retried): a pure
//! decision on the pod; the reconciler acts on it, always after the run's
//! status says why it ended.

use k8s_openapi::api::core::v1::Pod;
use minitask_api::{Phase, TaskRunStatus};

/// What to do with the pod of a run that has ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    /// It ended by itself, or is already stopping or going away.
    Nothing,
    /// No node has taken it: delete it. It has no logs to keep, and as long
    /// as it exists it holds quota, may scale up nodes and could still start.
    Delete,
    /// It is on a node: lower `activeDeadlineSeconds` to 1, so that the
    /// kubelet stops its containers but keeps the pod and its logs. The
    /// field may only be lowered, so this never restarts anything.
    Deadline,
}

/// The pods of a run whose attempt has ended, to stop if they still run:
/// the current one once the run has ended, and those of failed attempts.
pub fn ended_pods(status: &TaskRunStatus) -> impl Iterator<Item = &String> {
    let current = status
        .pod_name
        .iter()
        .filter(|_| status.phase.is_some_and(Phase::is_terminal));
    current.chain(status.retries_status.iter().map(|a| &a.pod_name))
}

/// How to stop `pod` now that its run has ended.
pub fn how_to_stop(pod: &Pod) -> Stop {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let spec = pod.spec.clone().unwrap_or_default();
    if matches!(phase, Some("Succeeded" | "Failed")) || pod.metadata.deletion_timestamp.is_some() {
        return Stop::Nothing;
    }
    if spec.node_name.is_none_or(|n| n.is_empty()) {
        return Stop::Delete;
    }
    if spec.active_deadline_seconds == Some(1) {
        return Stop::Nothing;
    }
    Stop::Deadline
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(phase: &str, node: Option<&str>, deadline: i64) -> Pod {
        Pod {
            spec: Some(PodSpec {
                node_name: node.map(str::to_string),
                active_deadline_seconds: Some(deadline),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn the_pods_of_ended_attempts_are_stopped() {
        let mut status = TaskRunStatus {
            phase: Some(Phase::Running),
            pod_name: Some("r-pod-retry1".into()),
            retries_status: vec![minitask_api::AttemptStatus {
                pod_name: "r-pod".into(),
                ..Default::default()
            }],
            ..TaskRunStatus::default()
        };
        assert_eq!(ended_pods(&status).collect::<Vec<_>>(), ["r-pod"]);
        status.phase = Some(Phase::Failed);
        assert_eq!(ended_pods(&status).collect::<Vec<_>>(), ["r-pod-retry1", "r-pod"]);
    }

    #[test]
    fn pods_on_a_node_are_stopped_and_the_others_deleted() {
        let mut terminating = pod("Running", Some("n1"), 3600);
        terminating.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        let cases = [
            ("unscheduled", pod("Pending", None, 3600), Stop::Delete),
            ("scheduled, pulling", pod("Pending", Some("n1"), 3600), Stop::Deadline),
            ("a sidecar still runs", pod("Running", Some("n1"), 3600), Stop::Deadline),
            ("already stopping", pod("Running", Some("n1"), 1), Stop::Nothing),
            ("ended", pod("Failed", Some("n1"), 3600), Stop::Nothing),
            ("succeeded", pod("Succeeded", Some("n1"), 3600), Stop::Nothing),
            ("going away", terminating, Stop::Nothing),
        ];
        for (name, pod, want) in cases {
            assert_eq!(how_to_stop(&pod), want, "{name}");
        }
    }
}
