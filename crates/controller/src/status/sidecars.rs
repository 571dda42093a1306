//! Whether a run's sidecars let it go on: one that stopped (the kubelet
//! restarts a native sidecar, so a restart says it did) fails the run at
//! once; one that runs without getting ready fails it after the grace
//! period, as no step starts before it is ready. Pure.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use minitask_api::{Reason, format_duration};

use crate::pod::sidecars::sidecar_of_container;
use crate::status::deadline::Starting;
use crate::status::run_of;

/// The first sidecar of `pod` that stopped or is not ready yet, by name.
pub fn check(pod: &Pod, now: &Time, grace: Duration) -> Starting {
    let Some(status) = &pod.status else {
        return Starting::Fine;
    };
    let run = run_of(pod);
    for container in status.init_container_statuses.iter().flatten() {
        let Some(name) = sidecar_of_container(&container.name) else {
            continue;
        };
        let logs = format!("`kubectl task logs {run} --sidecar {name}` shows its output");
        if container.restart_count > 0 {
            let last = container.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            let how = match last {
                Some(t) => format!(
                    "exit code {}{}",
                    t.exit_code,
                    t.reason.as_ref().map(|r| format!(", {r}")).unwrap_or_default()
                ),
                None => "it stopped".into(),
            };
            return Starting::Failed(
                Reason::SidecarFailed,
                format!(
                    "sidecar {name:?} stopped ({how}) and was restarted {} time(s) while the steps needed it; {logs}",
                    container.restart_count
                ),
            );
        }
        let running = container.state.as_ref().and_then(|s| s.running.as_ref());
        let Some(since) = running.and_then(|r| r.started_at.clone()) else {
            continue;
        };
        if container.started == Some(true) {
            continue;
        }
        let waited = Duration::from_secs(now.0.as_second().saturating_sub(since.0.as_second()).max(0) as u64);
        if waited >= grace {
            return Starting::Failed(
                Reason::SidecarNotReady,
                format!(
                    "sidecar {name:?} ran for {} without passing its readinessProbe, so no step started; check the probe and that the service starts ({logs})",
                    format_duration(waited)
                ),
            );
        }
        let at = since.0.as_second().saturating_add(grace.as_secs() as i64);
        return Starting::Failing {
            left: grace - waited,
            at: Time(k8s_openapi::jiff::Timestamp::from_second(at).unwrap_or(now.0)),
        };
    }
    Starting::Fine
}

/// What a pending run waits for when a sidecar is not ready yet.
pub fn waiting_for(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    let container = status.init_container_statuses.iter().flatten().find(|c| {
        sidecar_of_container(&c.name).is_some()
            && c.state.as_ref().is_some_and(|s| s.running.is_some())
            && c.started != Some(true)
    })?;
    let name = sidecar_of_container(&container.name)?;
    Some(format!(
        "waiting for sidecar {name:?} to get ready (its readinessProbe) before the first step"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(sidecar: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "r-pod", "ownerReferences": [{"apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun", "name": "r", "uid": "u", "controller": true}]},
            "status": {"initContainerStatuses": [
                {"name": "prepare", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0}}},
                sidecar,
            ]}
        }))
        .unwrap()
    }

    fn at(second: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(second).unwrap())
    }

    #[test]
    fn a_sidecar_that_is_not_ready_has_the_grace_period_then_fails_the_run() {
        let waiting = pod(
            json!({"name": "sidecar-db", "image": "postgres", "imageID": "", "ready": false, "restartCount": 0,
            "started": false, "state": {"running": {"startedAt": "1970-01-01T00:01:40Z"}}}),
        );
        let grace = Duration::from_secs(60);
        match check(&waiting, &at(130), grace) {
            Starting::Failing { left, at: when } => {
                assert_eq!(left, Duration::from_secs(30));
                assert_eq!(when, at(160));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            waiting_for(&waiting).as_deref(),
            Some("waiting for sidecar \"db\" to get ready (its readinessProbe) before the first step")
        );
        let Starting::Failed(reason, message) = check(&waiting, &at(160), grace) else {
            panic!()
        };
        assert_eq!(reason, Reason::SidecarNotReady);
        assert!(
            message.starts_with("sidecar \"db\" ran for 1m0s without passing its readinessProbe"),
            "{message}"
        );
        assert!(message.contains("kubectl task logs r --sidecar db"), "{message}");
    }

    #[test]
    fn a_sidecar_that_stopped_fails_the_run_and_a_ready_one_is_fine() {
        let crashed = pod(
            json!({"name": "sidecar-db", "image": "postgres", "imageID": "", "ready": false, "restartCount": 2,
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
            "state": {"waiting": {"reason": "CrashLoopBackOff"}}}),
        );
        let Starting::Failed(reason, message) = check(&crashed, &at(10), Duration::from_secs(60)) else {
            panic!()
        };
        assert_eq!(reason, Reason::SidecarFailed);
        assert!(
            message.starts_with("sidecar \"db\" stopped (exit code 1, Error) and was restarted 2 time(s)"),
            "{message}"
        );
        let ready = pod(
            json!({"name": "sidecar-db", "image": "postgres", "imageID": "", "ready": true, "restartCount": 0,
            "started": true, "state": {"running": {"startedAt": "1970-01-01T00:00:00Z"}}}),
        );
        assert!(matches!(
            check(&ready, &at(1000), Duration::from_secs(60)),
            Starting::Fine
        ));
        assert_eq!(waiting_for(&ready), None);
        // Stopped by the kubelet once the steps ended: not a failure.
        let stopped = pod(
            json!({"name": "sidecar-db", "image": "postgres", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 143}}}),
        );
        assert!(matches!(
            check(&stopped, &at(1000), Duration::from_secs(60)),
            Starting::Fine
        ));
    }
}
