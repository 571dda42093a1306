//! A pod that is on a node but does not start its containers, and says why
//! only in its Events (FailedMount, FailedAttachVolume,
//! FailedCreatePodSandBox...). The shell reads the pod's Warning Events,
//! bounded, only when `events_worth_reading` says so; these functions say
//! what the run's message becomes, and whether the run fails after the
//! grace period (a cause that does not go away by itself).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::shared::cut;

/// How long a scheduled pod may take to start a container before its
/// Events are read: most start well within it, so most runs cost no read.
pub const LOOK_AFTER: Duration = Duration::from_secs(3);
/// How often the Events of a pod that still does not start are read again.
pub const LOOK_EVERY: Duration = Duration::from_secs(10);
/// The most Events read per look.
pub const MOST_EVENTS: u32 = 20;

/// The Event reasons that say why a pod's containers do not start.
const KNOWN: [&str; 6] = [
    "FailedMount",
    "FailedAttachVolume",
    "FailedMapVolume",
    "FailedCreatePodSandBox",
    "FailedCreatePodContainer",
    "NetworkNotReady",
];

/// One Warning Event of the pod, as read.
#[derive(Clone, Debug, PartialEq)]
pub struct PodEvent {
    pub reason: String,
    pub message: String,
    /// When it was last seen, to take the newest.
    pub last: Option<Time>,
}

/// What the Events say keeps the pod from starting.
#[derive(Clone, Debug, PartialEq)]
pub struct Stuck {
    /// `FailedMount: MountVolume.SetUp failed for volume ...`.
    pub why: String,
    /// It does not go away by itself (a ConfigMap, Secret or claim that
    /// does not exist): the run fails after the grace period.
    pub lasting: bool,
}

/// How long until the pod's Events are worth reading (zero: now), or None
/// when they are not: the pod is not on a node yet (its PodScheduled
/// condition says why), or one of its containers has started or waits for
/// a reason its own status gives.
pub fn events_worth_reading(pod: &Pod, now: &Time) -> Option<Duration> {
    pod.spec.as_ref()?.node_name.as_ref()?;
    let status = pod.status.as_ref()?;
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for container in containers {
        let state = container.state.clone().unwrap_or_default();
        if state.running.is_some() || state.terminated.is_some() {
            return None;
        }
        let quiet = ["PodInitializing", "ContainerCreating"];
        if state
            .waiting
            .and_then(|w| w.reason)
            .is_some_and(|r| !quiet.contains(&r.as_str()))
        {
            return None;
        }
    }
    let created = pod.metadata.creation_timestamp.as_ref()?.0.as_second();
    let age = now.0.as_second().saturating_sub(created).max(0) as u64;
    Some(LOOK_AFTER.saturating_sub(Duration::from_secs(age)))
}

/// What `events` say keeps the pod from starting: the newest of a known
/// reason, None when none is.
pub fn stuck(events: &[PodEvent]) -> Option<Stuck> {
    let newest = events
        .iter()
        .filter(|e| KNOWN.contains(&e.reason.as_str()))
        .max_by(|a, b| a.last.cmp(&b.last))?;
    let message = newest.message.trim().replace('\n', " ");
    let lasting = newest.reason == "FailedMount" && message.contains("not found");
    Some(Stuck {
        why: cut(&format!("{}: {message}", newest.reason), 1024),
        lasting,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus};
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(1_800_000_000 + second).unwrap())
    }

    fn pod(node: bool, waiting: &str) -> Pod {
        let mut pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "r-pod", "creationTimestamp": at(0).0.to_string()},
            "spec": {"containers": []},
        }))
        .unwrap();
        if node {
            pod.spec.as_mut().unwrap().node_name = Some("n1".into());
        }
        pod.status = Some(k8s_openapi::api::core::v1::PodStatus {
            container_statuses: Some(vec![ContainerStatus {
                name: "step-a".into(),
                state: Some(ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some(waiting.into()),
                        message: None,
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }]),
            ..Default::default()
        });
        pod
    }

    #[test]
    fn only_a_scheduled_pod_whose_containers_wait_quietly_is_looked_at() {
        assert_eq!(
            events_worth_reading(&pod(false, "ContainerCreating"), &at(10)),
            None,
            "not on a node"
        );
        assert_eq!(
            events_worth_reading(&pod(true, "ContainerCreating"), &at(1)),
            Some(Duration::from_secs(2)),
            "in 2s"
        );
        assert_eq!(
            events_worth_reading(&pod(true, "ContainerCreating"), &at(10)),
            Some(Duration::ZERO)
        );
        assert_eq!(
            events_worth_reading(&pod(true, "ErrImagePull"), &at(10)),
            None,
            "its status says why"
        );
        let mut started = pod(true, "ContainerCreating");
        started.status.as_mut().unwrap().container_statuses.as_mut().unwrap()[0].state = Some(ContainerState {
            running: Some(ContainerStateRunning::default()),
            ..ContainerState::default()
        });
        assert_eq!(events_worth_reading(&started, &at(10)), None, "it runs");
    }

    #[test]
    fn the_newest_known_event_says_why_and_a_missing_object_lasts() {
        let event = |reason: &str, message: &str, second| PodEvent {
            reason: reason.into(),
            message: message.into(),
            last: Some(at(second)),
        };
        let events = [
            event("FailedScheduling", "0/1 nodes are available", 0),
            event(
                "FailedMount",
                "MountVolume.SetUp failed for volume \"ws-input\" : configmap \"nope\" not found",
                5,
            ),
            event("FailedCreatePodSandBox", "sandbox hiccup", 2),
        ];
        assert_eq!(
            stuck(&events),
            Some(Stuck {
                why: "FailedMount: MountVolume.SetUp failed for volume \"ws-input\" : configmap \"nope\" not found"
                    .into(),
                lasting: true,
            })
        );
        let passing = stuck(&events[2..]).unwrap();
        assert!(!passing.lasting, "a sandbox may come up on a later try");
        assert_eq!(stuck(&events[..1]), None, "the pod's condition says that one");
    }
}
