//! `spec.retries`: whether a failed attempt gets another, and the status
//! that records it. A pure function; the reconciler creates the pod.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use minitask_api::{AttemptStatus, Phase, Reason, TaskRun, TaskRunStatus};

use crate::status::deadline::time_left;
use crate::status::with_outcome;

/// Failures another attempt may cure: a failed step, a pod that failed or
/// was taken away (evicted, node lost, deleted), a container that could not
/// start, a sidecar that stopped or never got ready. Not cancellation, timeout, invalid input or unreportable results,
/// which another run of the steps would not change.
pub const RETRYABLE: [Reason; 9] = [
    Reason::StepFailed,
    Reason::PodFailed,
    Reason::PodDeleted,
    Reason::PodEvicted,
    Reason::NodeLost,
    Reason::ImagePullFailed,
    Reason::ContainerCreationFailed,
    Reason::SidecarFailed,
    Reason::SidecarNotReady,
];

/// The status that starts the next attempt when `next` is a failure that
/// `spec.retries` allows another try at: the failed attempt moves into
/// `retriesStatus` and the run goes back to Pending. A cancelled run is
/// never retried, even when its attempt failed on its own at that moment.
pub fn retry(run: &TaskRun, next: &TaskRunStatus, pod: Option<&Pod>, now: &Time) -> Option<TaskRunStatus> {
    if next.phase != Some(Phase::Failed)
        || run.spec.cancelled
        || next.retries_status.len() >= run.spec.retries.max(0) as usize
    {
        return None;
    }
    let reason = next
        .reason
        .clone()
        .filter(|r| RETRYABLE.iter().any(|x| x.as_str() == r))?;
    if time_left(run, now).is_some_and(|left| left.is_zero()) {
        return None;
    }
    let message = next.message.clone().unwrap_or_default();
    let mut retried = next.clone();
    // Back to the last written condition (Unknown), so that its transition
    // time stays that of the run's start.
    retried.conditions = run.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default();
    retried.retries_status.push(AttemptStatus {
        pod_name: next.pod_name.clone().unwrap_or_default(),
        reason: reason.clone(),
        message: message.clone(),
        start_time: pod.and_then(|p| p.metadata.creation_timestamp.clone()),
        completion_time: next.completion_time.clone(),
        steps: next.steps.clone(),
    });
    let attempt = retried.retries_status.len();
    retried.pod_name = None;
    retried.steps.clear();
    retried.completion_time = None;
    retried.duration = None;
    let message = format!(
        "attempt {attempt} of {} failed ({reason}: {message}); starting attempt {}",
        run.spec.retries.saturating_add(1),
        attempt + 1
    );
    Some(with_outcome(&retried, Phase::Pending, Reason::Retrying, message, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::taskrun;
    use k8s_openapi::jiff::Timestamp;
    use minitask_api::StepState;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(1_800_000_000 + second).unwrap())
    }

    fn failed(reason: Reason, attempts: usize) -> TaskRunStatus {
        let previous = TaskRunStatus {
            pod_name: Some("r-pod".into()),
            start_time: Some(at(0)),
            retries_status: vec![AttemptStatus::default(); attempts],
            steps: vec![StepState::default()],
            ..TaskRunStatus::default()
        };
        with_outcome(&previous, Phase::Failed, reason, "it broke".into(), &at(10))
    }

    fn run(retries: i32) -> TaskRun {
        let mut run = taskrun("r", "t");
        run.metadata.creation_timestamp = Some(at(0));
        run.spec.retries = retries;
        run.spec.timeout = "1m".into();
        run
    }

    fn cancelled(mut run: TaskRun) -> TaskRun {
        run.spec.cancelled = true;
        run
    }

    #[test]
    fn only_retryable_failures_with_attempts_and_time_left_are_retried() {
        let cases = [
            (
                "step failed, one retry",
                run(1),
                failed(Reason::StepFailed, 0),
                10,
                true,
            ),
            ("the pod failed", run(1), failed(Reason::PodFailed, 0), 10, true),
            ("evicted", run(1), failed(Reason::PodEvicted, 0), 10, true),
            ("node lost", run(1), failed(Reason::NodeLost, 0), 10, true),
            ("pod deleted", run(1), failed(Reason::PodDeleted, 0), 10, true),
            (
                "a container could not start",
                run(1),
                failed(Reason::ContainerCreationFailed, 0),
                10,
                true,
            ),
            (
                "results too large",
                run(1),
                failed(Reason::ResultsTooLarge, 0),
                10,
                false,
            ),
            (
                "results not reported",
                run(1),
                failed(Reason::ResultsFailed, 0),
                10,
                false,
            ),
            (
                "image never pulled",
                run(1),
                failed(Reason::ImagePullFailed, 0),
                10,
                true,
            ),
            ("no retries asked", run(0), failed(Reason::StepFailed, 0), 10, false),
            ("retries used up", run(2), failed(Reason::StepFailed, 2), 10, false),
            ("cancelled", run(1), failed(Reason::Cancelled, 0), 10, false),
            ("timed out", run(1), failed(Reason::Timeout, 0), 10, false),
            ("invalid params", run(1), failed(Reason::InvalidParams, 0), 10, false),
            ("no time left", run(1), failed(Reason::StepFailed, 0), 60, false),
            (
                "a step failed as the run was cancelled",
                cancelled(run(1)),
                failed(Reason::StepFailed, 0),
                10,
                false,
            ),
        ];
        for (name, run, next, now, want) in cases {
            assert_eq!(retry(&run, &next, None, &at(now)).is_some(), want, "{name}");
        }
        let running = with_outcome(
            &TaskRunStatus::default(),
            Phase::Running,
            Reason::Running,
            String::new(),
            &at(1),
        );
        assert!(retry(&run(3), &running, None, &at(1)).is_none());
    }

    #[test]
    fn a_retry_records_the_failed_attempt_and_starts_over() {
        let next = retry(&run(2), &failed(Reason::StepFailed, 0), None, &at(10)).unwrap();
        assert_eq!(next.phase, Some(Phase::Pending));
        assert_eq!(next.reason.as_deref(), Some("Retrying"));
        assert_eq!(
            next.message.as_deref(),
            Some("attempt 1 of 3 failed (StepFailed: it broke); starting attempt 2")
        );
        assert_eq!((next.pod_name.clone(), next.steps.len()), (None, 0));
        assert_eq!((next.completion_time.clone(), next.duration.clone()), (None, None));
        assert_eq!(next.start_time, Some(at(0)), "the run started with its first attempt");
        let attempt = &next.retries_status[0];
        assert_eq!(
            (
                attempt.pod_name.as_str(),
                attempt.reason.as_str(),
                attempt.message.as_str()
            ),
            ("r-pod", "StepFailed", "it broke")
        );
        assert_eq!(attempt.completion_time, Some(at(10)));
        assert_eq!(attempt.steps.len(), 1);
    }
}
