//! Projecting a TaskRun's status from its pod: a pure function of the
//! previous status, the pod (None once it is gone) and the time.

use k8s_openapi::api::core::v1::{Container, ContainerStateTerminated, ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use minitask_api::{CONDITION_SUCCEEDED, Phase, Reason, StepState, TaskRunStatus, format_duration};

use crate::names::step_of_container;
use crate::results::{REPORTER, parse_report};
use crate::script::CONTINUED;

/// `terminated.reason` of a step that failed with `onError: continue`.
pub const CONTINUED_REASON: &str = "Continued";

/// The status that `pod` implies for a run whose last status was `previous`.
///
/// A finished run never changes: later pod deletions or updates cannot
/// revert Succeeded or Failed. `pod = None` means the pod is gone, which
/// fails a run that had one (reason PodDeleted).
pub fn project_status(previous: &TaskRunStatus, pod: Option<&Pod>, now: &Time) -> TaskRunStatus {
    if previous.phase.is_some_and(Phase::is_terminal) {
        return previous.clone();
    }
    let Some(pod) = pod else {
        let Some(pod_name) = &previous.pod_name else {
            return previous.clone();
        };
        let message = format!("pod {pod_name} was deleted before the run ended; start a new run");
        return with_outcome(previous, Phase::Failed, Reason::PodDeleted, message, now);
    };
    let mut next = previous.clone();
    next.steps = step_states(pod);
    if next.start_time.is_none() {
        next.start_time = pod.metadata.creation_timestamp.clone();
    }
    let (mut phase, mut reason, mut message) = classify(pod, &next.steps);
    if phase == Phase::Pending && !next.retries_status.is_empty() {
        reason = Reason::Retrying;
        message = format!("attempt {}: {message}", next.retries_status.len() + 1);
    }
    if let Some(report) = reporter_message(pod) {
        match parse_report(report) {
            Ok(results) if phase == Phase::Succeeded => next.results = results,
            Ok(_) => {}
            Err((why, text)) => (phase, reason, message) = (Phase::Failed, why, text),
        }
    }
    if phase.is_terminal() {
        next.completion_time = last_finish(&next.steps).or_else(|| Some(now.clone()));
    }
    with_outcome(&next, phase, reason, message, now)
}

/// `previous` moved to `phase` for `reason`, with the Succeeded condition,
/// completion time and duration to match. The condition's transition time
/// changes only when its status does, so an unchanged run projects to an
/// equal status and causes no write.
pub fn with_outcome(
    previous: &TaskRunStatus,
    phase: Phase,
    reason: Reason,
    message: String,
    now: &Time,
) -> TaskRunStatus {
    let mut next = previous.clone();
    next.phase = Some(phase);
    next.reason = Some(reason.to_string());
    next.message = Some(message.clone());
    if phase.is_terminal() {
        let end = next.completion_time.get_or_insert_with(|| now.clone()).clone();
        next.duration = next.start_time.as_ref().map(|start| elapsed(start, &end));
    }
    let status = match phase {
        Phase::Succeeded => "True",
        Phase::Failed => "False",
        Phase::Pending | Phase::Running => "Unknown",
    };
    let transition = match previous.conditions.iter().find(|c| c.type_ == CONDITION_SUCCEEDED) {
        Some(old) if old.status == status => old.last_transition_time.clone(),
        _ => now.clone(),
    };
    next.conditions.retain(|c| c.type_ != CONDITION_SUCCEEDED);
    next.conditions.push(Condition {
        type_: CONDITION_SUCCEEDED.into(),
        status: status.into(),
        reason: reason.to_string(),
        message,
        last_transition_time: transition,
        observed_generation: None,
    });
    next
}

/// Phase, reason and message from the pod's phase and its steps.
fn classify(pod: &Pod, steps: &[StepState]) -> (Phase, Reason, String) {
    let status = pod.status.clone().unwrap_or_default();
    let total = steps.len();
    match status.phase.as_deref() {
        Some("Succeeded") => (Phase::Succeeded, Reason::Succeeded, success_message(steps)),
        Some("Failed") => failure(pod, steps),
        _ => {
            if let Some((index, step)) = steps.iter().enumerate().find(|(_, s)| s.running.is_some()) {
                let message = format!("step {:?} is running ({} of {total})", step.name, index + 1);
                return (Phase::Running, Reason::Running, message);
            }
            if let Some((index, step)) = steps.iter().enumerate().rev().find(|(_, s)| s.terminated.is_some()) {
                let message = format!("step {:?} finished ({} of {total})", step.name, index + 1);
                return (Phase::Running, Reason::Running, message);
            }
            (Phase::Pending, Reason::Pending, pending_message(pod, steps))
        }
    }
}

/// "all 3 steps succeeded", or which ones failed and were let through.
fn success_message(steps: &[StepState]) -> String {
    let total = steps.len();
    let continued: Vec<String> = steps
        .iter()
        .filter_map(|s| {
            let t = s.terminated.as_ref().filter(|t| t.exit_code != 0)?;
            Some(format!("step {:?} failed with exit code {}", s.name, t.exit_code))
        })
        .collect();
    match continued.is_empty() {
        true => format!("all {total} steps succeeded"),
        false => format!("all {total} steps ran; {} (onError: continue)", continued.join(", ")),
    }
}

fn failure(pod: &Pod, steps: &[StepState]) -> (Phase, Reason, String) {
    let status = pod.status.clone().unwrap_or_default();
    let (pod_reason, detail) = (status.reason, status.message.unwrap_or_default());
    // The kubelet kills the steps at the deadline, so check it before the
    // exit codes that the kill produced.
    if pod_reason.as_deref() == Some("DeadlineExceeded") {
        let message = format!("the run went over spec.timeout and was stopped: {detail}");
        return (Phase::Failed, Reason::Timeout, message);
    }
    let failed = steps.iter().find_map(|s| {
        let t = s.terminated.as_ref()?;
        (t.exit_code != 0 && t.reason.as_deref() != Some(CONTINUED_REASON)).then_some((s, t))
    });
    if let Some((step, terminated)) = failed {
        let mut message = format!("step {:?} failed with exit code {}", step.name, terminated.exit_code);
        if let Some(why) = terminated.reason.as_deref().filter(|r| *r != "Error") {
            message.push_str(&format!(" ({why})"));
        }
        message.push_str(&format!(
            "; see its output with `kubectl logs {} -c {}`",
            pod.metadata.name.as_deref().unwrap_or_default(),
            step.container
        ));
        return (Phase::Failed, Reason::StepFailed, message);
    }
    let why = pod_reason.clone().unwrap_or_else(|| "unknown reason".into());
    (
        Phase::Failed,
        Reason::PodFailed,
        format!("the pod failed ({why}): {detail}")
            .trim_end_matches(": ")
            .to_string(),
    )
}

/// What a pending pod waits for: an unschedulable pod, or the first step's
/// waiting reason (image pull, container creation...).
fn pending_message(pod: &Pod, steps: &[StepState]) -> String {
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    if let Some(c) = conditions
        .iter()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        let why = c.message.clone().or_else(|| c.reason.clone()).unwrap_or_default();
        return format!("pod {pod_name} is not scheduled: {why}");
    }
    let waiting = steps.iter().find_map(|s| s.waiting.as_ref().map(|w| (s, w)));
    match waiting {
        Some((step, w)) if w.reason.as_deref().is_some_and(|r| r != "PodInitializing") => {
            let detail = w.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
            format!(
                "step {:?} is waiting: {}{detail}",
                step.name,
                w.reason.as_deref().unwrap_or_default()
            )
        }
        _ => format!("waiting for pod {pod_name} to start"),
    }
}

/// The steps in the order the pod runs them, with their container states.
fn step_states(pod: &Pod) -> Vec<StepState> {
    let (Some(spec), status) = (&pod.spec, pod.status.clone().unwrap_or_default()) else {
        return Vec::new();
    };
    let statuses: Vec<ContainerStatus> = status
        .init_container_statuses
        .into_iter()
        .flatten()
        .chain(status.container_statuses.into_iter().flatten())
        .collect();
    let containers: Vec<&Container> = spec.init_containers.iter().flatten().chain(&spec.containers).collect();
    containers
        .into_iter()
        .filter_map(|c| step_of_container(&c.name).map(|step| (step, c)))
        .map(|(step, c)| {
            let state = statuses
                .iter()
                .find(|s| s.name == c.name)
                .and_then(|s| s.state.clone())
                .unwrap_or_default();
            StepState {
                name: step.to_string(),
                container: c.name.clone(),
                waiting: state.waiting,
                running: state.running,
                terminated: state.terminated.map(continued),
            }
        })
        .collect()
}

/// A step with `onError: continue` exits 0 and reports its real exit code
/// in its termination message; show that code.
fn continued(mut terminated: ContainerStateTerminated) -> ContainerStateTerminated {
    let code = terminated
        .message
        .as_deref()
        .and_then(|m| m.strip_prefix(CONTINUED))
        .and_then(|code| code.trim().parse().ok());
    if let (0, Some(code)) = (terminated.exit_code, code) {
        terminated.exit_code = code;
        terminated.reason = Some(CONTINUED_REASON.into());
    }
    terminated
}

/// The termination message of the results reporter, once it has ended.
fn reporter_message(pod: &Pod) -> Option<&str> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let reporter = statuses.iter().find(|s| s.name == REPORTER)?;
    let terminated = reporter.state.as_ref()?.terminated.as_ref()?;
    Some(terminated.message.as_deref().unwrap_or_default())
}

fn last_finish(steps: &[StepState]) -> Option<Time> {
    steps
        .iter()
        .filter_map(|s| s.terminated.as_ref()?.finished_at.clone())
        .max()
}

fn elapsed(start: &Time, end: &Time) -> String {
    let seconds = (end.0.as_second() - start.0.as_second()).max(0);
    format_duration(std::time::Duration::from_secs(seconds as u64))
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
