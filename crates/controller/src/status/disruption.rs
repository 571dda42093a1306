//! Pods that go away under a run: evicted, preempted, drained, deleted, or
//! stranded on a node that no longer answers. A pure function of the pod
//! and the time.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use minitask_api::Reason;

/// How long past its grace period a terminating pod may take to go away
/// before its node counts as lost: a healthy kubelet confirms the end of a
/// pod within seconds.
pub const NODE_LOST_AFTER: Duration = Duration::from_secs(10);

/// Taints the node lifecycle controller puts on nodes it cannot reach.
const UNREACHABLE_TAINTS: [&str; 2] = ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"];

/// Why `pod` will not finish its steps, when something outside the run is
/// taking it away; None while it may still finish.
pub fn disruption(pod: &Pod, now: &Time) -> Option<(Reason, String)> {
    let name = pod.name_any();
    let status = pod.status.clone().unwrap_or_default();
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
    let target = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionTarget" && c.status == "True");
    if let Some(condition) = target {
        let why = condition.reason.clone().unwrap_or_default();
        let detail = condition.message.clone().unwrap_or_default();
        let node_gone = why == "DeletionByPodGC"
            || (why == "DeletionByTaintManager" && UNREACHABLE_TAINTS.iter().any(|t| detail.contains(t)));
        let message = format!("pod {name} was taken away by Kubernetes ({why}: {detail})");
        return Some(match node_gone {
            true => (
                Reason::NodeLost,
                format!("{message}; its node {node} is gone or unreachable{RETRY}"),
            ),
            false => (Reason::PodEvicted, format!("{message}{RETRY}")),
        });
    }
    // Kubelets that predate the DisruptionTarget condition.
    if status.reason.as_deref() == Some("Evicted") {
        let detail = status.message.unwrap_or_default();
        return Some((
            Reason::PodEvicted,
            format!("pod {name} was evicted by the kubelet of node {node}: {detail}{RETRY}"),
        ));
    }
    let deleted = pod.metadata.deletion_timestamp.as_ref()?;
    let past = now.0.as_second().saturating_sub(deleted.0.as_second());
    if past >= NODE_LOST_AFTER.as_secs() as i64 {
        let message = format!(
            "pod {name} has been terminating for {past}s past its grace period: its node {node} is probably lost{RETRY}"
        );
        return Some((Reason::NodeLost, message));
    }
    if status.phase.as_deref() == Some("Failed") {
        let message = format!("pod {name} was deleted before the run ended{RETRY}");
        return Some((Reason::PodDeleted, message));
    }
    None
}

/// When to look at a terminating pod again, to call its node lost.
pub fn recheck(pod: &Pod, now: &Time) -> Option<Duration> {
    let deleted = pod.metadata.deletion_timestamp.as_ref()?;
    let at = deleted.0.as_second().saturating_add(NODE_LOST_AFTER.as_secs() as i64);
    let left = at.saturating_sub(now.0.as_second()).max(0);
    Some(Duration::from_secs(left as u64))
}

/// What every disruption message ends with.
const RETRY: &str = "; nothing in the run failed: set spec.retries to run it again on such disruptions";

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::jiff::Timestamp;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(1_800_000_000 + second).unwrap())
    }

    fn pod(phase: &str) -> Pod {
        let mut pod = Pod {
            spec: Some(PodSpec {
                node_name: Some("n1".into()),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        pod.metadata.name = Some("r-pod".into());
        pod
    }

    fn disrupted(reason: &str, message: &str) -> Pod {
        let mut p = pod("Running");
        p.status.as_mut().unwrap().conditions = Some(vec![PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            ..PodCondition::default()
        }]);
        p
    }

    fn deleting(phase: &str, at_second: i64) -> Pod {
        let mut p = pod(phase);
        p.metadata.deletion_timestamp = Some(at(at_second));
        p
    }

    #[test]
    fn disruptions_are_told_apart() {
        let kubelet_evicted = {
            let mut p = pod("Failed");
            p.status.as_mut().unwrap().reason = Some("Evicted".into());
            p.status.as_mut().unwrap().message = Some("The node was low on resource: memory.".into());
            p
        };
        let cases = [
            ("running normally", pod("Running"), 100, None),
            (
                "drained",
                disrupted("EvictionByEvictionAPI", "Eviction API: evicting"),
                100,
                Some((
                    Reason::PodEvicted,
                    "pod r-pod was taken away by Kubernetes (EvictionByEvictionAPI: Eviction API: evicting)",
                )),
            ),
            (
                "preempted",
                disrupted("PreemptionByScheduler", "preempted by a higher priority pod"),
                100,
                Some((
                    Reason::PodEvicted,
                    "pod r-pod was taken away by Kubernetes (PreemptionByScheduler",
                )),
            ),
            (
                "unreachable node",
                disrupted(
                    "DeletionByTaintManager",
                    "Taint manager: deleting due to NoExecute taint key node.kubernetes.io/unreachable",
                ),
                100,
                Some((Reason::NodeLost, "its node n1 is gone or unreachable")),
            ),
            (
                "a NoExecute taint of the user's",
                disrupted(
                    "DeletionByTaintManager",
                    "Taint manager: deleting due to NoExecute taint key team/drain",
                ),
                100,
                Some((Reason::PodEvicted, "team/drain")),
            ),
            (
                "node deleted",
                disrupted("DeletionByPodGC", "PodGC: node no longer exists"),
                100,
                Some((Reason::NodeLost, "node no longer exists")),
            ),
            (
                "an older kubelet's eviction",
                kubelet_evicted,
                100,
                Some((
                    Reason::PodEvicted,
                    "evicted by the kubelet of node n1: The node was low on resource: memory.",
                )),
            ),
            (
                "terminating within its grace period",
                deleting("Running", 100),
                105,
                None,
            ),
            (
                "terminating far past its grace period",
                deleting("Running", 100),
                110,
                Some((
                    Reason::NodeLost,
                    "has been terminating for 10s past its grace period: its node n1 is probably lost",
                )),
            ),
            (
                "deleted and its steps killed",
                deleting("Failed", 100),
                101,
                Some((Reason::PodDeleted, "pod r-pod was deleted before the run ended")),
            ),
        ];
        for (name, pod, now, want) in cases {
            let got = disruption(&pod, &at(now));
            match (got, want) {
                (None, None) => {}
                (Some((reason, message)), Some((want_reason, part))) => {
                    assert_eq!(reason, want_reason, "{name}: {message}");
                    assert!(message.contains(part), "{name}: {message}");
                    assert!(message.ends_with(RETRY), "{name}: {message}");
                }
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_terminating_pod_is_looked_at_again_when_its_node_would_count_as_lost() {
        assert_eq!(recheck(&pod("Running"), &at(0)), None);
        assert_eq!(
            recheck(&deleting("Running", 100), &at(95)),
            Some(Duration::from_secs(15))
        );
        assert_eq!(recheck(&deleting("Running", 100), &at(500)), Some(Duration::ZERO));
    }
}
