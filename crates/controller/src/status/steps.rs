//! The steps' states, from the pod. In a launcher pod every step's
//! container runs from the pod's start, so a container's state alone does
//! not say where a step is: a step that has ended says how in its
//! launcher's record (its termination message); a running container is the
//! running step only once the step before let it run, and waits for its
//! turn before. A step with no record (its container was killed: out of
//! memory, evicted) is what the kubelet says of its container.

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    Pod,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use minitask_api::StepState;
use minitask_launcher::record::{Record, State};

use crate::pod::launcher::is_launcher_pod;
use crate::pod::names::step_of_container;

/// `terminated.reason` of a step that failed with `onError: continue`.
pub const CONTINUED_REASON: &str = "Continued";
/// `terminated.reason` of a step that went over its own timeout.
pub const TIMED_OUT_REASON: &str = "StepTimeout";
/// `terminated.reason` of a step that was running when the run ended for
/// another reason (cancelled, timed out, evicted...).
pub const STOPPED_REASON: &str = "Stopped";
/// `waiting.reason` of a step whose container waits for the step before.
pub const TURN_REASON: &str = "WaitingForPreviousStep";

/// The steps in the order the pod runs them, with their states.
pub fn step_states(pod: &Pod) -> Vec<StepState> {
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
    let launcher = is_launcher_pod(pod);
    let mut steps: Vec<StepState> = Vec::new();
    for (step, c) in containers
        .into_iter()
        .filter_map(|c| step_of_container(&c.name).map(|step| (step, c)))
    {
        let state = statuses
            .iter()
            .find(|s| s.name == c.name)
            .and_then(|s| s.state.clone())
            .unwrap_or_default();
        let mut next = StepState {
            name: step.to_string(),
            container: c.name.clone(),
            ..StepState::default()
        };
        let let_run = steps.last().is_none_or(lets_next_run);
        match (launcher, state) {
            (false, state) => kubelet_says(&mut next, state),
            (
                true,
                ContainerState {
                    terminated: Some(t), ..
                },
            ) => match Record::parse(t.message.as_deref().unwrap_or_default()) {
                Some(record) => next.terminated = from_record(record).map(|r| with_kubelet_reason(r, &t)),
                // No record: the container was killed, or never ran.
                None if let_run || t.exit_code != 0 => next.terminated = Some(clean(t)),
                None => {}
            },
            (true, ContainerState { running: Some(r), .. }) if let_run => {
                let started = steps.last().and_then(|s| s.terminated.as_ref()?.finished_at.clone());
                next.running = Some(ContainerStateRunning {
                    started_at: started.or(r.started_at.filter(is_set)),
                });
            }
            (true, ContainerState { running: Some(_), .. }) if before_ended(&steps) => {}
            (true, ContainerState { running: Some(_), .. }) => {
                next.waiting = Some(ContainerStateWaiting {
                    reason: Some(TURN_REASON.into()),
                    message: None,
                })
            }
            (true, state) => kubelet_says(&mut next, state),
        }
        steps.push(next);
    }
    steps
}

/// Whether the step after `step` may run: it ended well.
fn lets_next_run(step: &StepState) -> bool {
    step.terminated
        .as_ref()
        .is_some_and(|t| t.exit_code == 0 || t.reason.as_deref() == Some(CONTINUED_REASON))
}

/// Whether an earlier step ended the run's course (it failed, or did not
/// run): a step after it never runs, whatever its container does.
fn before_ended(steps: &[StepState]) -> bool {
    steps.iter().any(|s| {
        (s.terminated.is_some() && !lets_next_run(s))
            || (s.terminated.is_none() && s.running.is_none() && s.waiting.is_none())
    })
}

fn kubelet_says(step: &mut StepState, state: ContainerState) {
    step.waiting = state.waiting;
    step.running = state.running.map(|mut r| {
        r.started_at = r.started_at.filter(is_set);
        r
    });
    step.terminated = state.terminated.map(clean);
}

fn clean(mut t: ContainerStateTerminated) -> ContainerStateTerminated {
    t.started_at = t.started_at.filter(is_set);
    t.finished_at = t.finished_at.filter(is_set);
    t
}

/// A launcher's record as a container state; None for a step that did not
/// run. Times are cut to seconds, as the API server stores them, so that
/// an unchanged record projects to an unchanged status.
fn from_record(record: Record) -> Option<ContainerStateTerminated> {
    let reason = match record.state {
        State::Skipped => return None,
        State::Succeeded => "Completed",
        State::Failed => "Error",
        State::Continued => CONTINUED_REASON,
        State::TimedOut => TIMED_OUT_REASON,
        State::Stopped => STOPPED_REASON,
    };
    let exit_code = match record.state {
        State::Succeeded => 0,
        // A failure is never exit code 0 to a reader.
        State::Failed | State::TimedOut | State::Stopped if record.exit_code == 0 => 1,
        _ => record.exit_code,
    };
    Some(ContainerStateTerminated {
        exit_code,
        reason: Some(reason.into()),
        message: Some(record.message).filter(|m| !m.is_empty()),
        started_at: time(record.started_ms),
        finished_at: time(record.finished_ms),
        ..ContainerStateTerminated::default()
    })
}

/// A failed step's record with the kubelet's word when it says more than
/// "Error" (OOMKilled, above all: the launcher sees only exit code 137).
fn with_kubelet_reason(
    mut record: ContainerStateTerminated,
    kubelet: &ContainerStateTerminated,
) -> ContainerStateTerminated {
    let said = kubelet
        .reason
        .as_deref()
        .filter(|r| !matches!(*r, "Completed" | "Error" | ""));
    if let (Some("Error"), Some(said)) = (record.reason.as_deref(), said) {
        record.reason = Some(said.chars().take(64).collect());
    }
    record
}

fn time(ms: u64) -> Option<Time> {
    let seconds = i64::try_from(ms / 1000).ok()?;
    Timestamp::from_second(seconds).ok().map(Time).filter(is_set)
}

/// The kubelet writes the zero time (1970) for a container that never
/// started; that is no time at all.
fn is_set(time: &Time) -> bool {
    time.0.as_second() > 0
}
