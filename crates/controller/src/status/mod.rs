//! Projecting a TaskRun's status from its pod: a pure function of the
//! previous status, the pod (None once it is gone), the results reporter's
//! log (when its report was too long for its termination message) and the
//! time.
//!
//! A run is decided by its steps' own container states, not by the pod's
//! phase alone: a sidecar injected into the pod (a service mesh proxy) keeps
//! the pod running after the last step, and the run must end anyway.

use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use minitask_api::{Phase, Reason, StepState, TaskRunResult, TaskRunStatus, format_duration};

pub(crate) mod deadline;
pub(crate) mod decide;
pub(crate) mod disruption;
pub(crate) mod events;
pub(crate) mod refusal;
pub(crate) mod retention;
pub(crate) mod retry;
pub(crate) mod sidecars;
pub(crate) mod steps;
pub(crate) mod stop;
pub(crate) mod stuck;

use crate::pod::launcher::debugger_awaited;
use crate::pod::results::{REPORTER, Report, from_log, from_message};
use crate::shared::{cut, set_succeeded};
use crate::status::disruption::disruption;
use crate::status::steps::step_states;
pub use crate::status::steps::{CONTINUED_REASON, STOPPED_REASON, TIMED_OUT_REASON, TURN_REASON};

/// The exit code recorded for a stopped step: what the kubelet reports for
/// a container it kills. The step's real end is in the pod, kept for its logs.
pub const STOPPED_EXIT_CODE: i32 = 137;
/// The most of a step's own termination message copied into the run's.
const MAX_STEP_MESSAGE: usize = 256;

/// The status that `pod` implies for a run whose last status was `previous`.
/// `reporter_log` is the log of the results reporter, which the caller reads
/// when `reporter_log_needed` says so.
///
/// A finished run never changes: later pod deletions or updates cannot
/// revert Succeeded or Failed. `pod = None` means the pod is gone, which
/// fails a run that had one (reason PodDeleted).
pub fn project_status(
    previous: &TaskRunStatus,
    pod: Option<&Pod>,
    reporter_log: Option<&[u8]>,
    now: &Time,
) -> TaskRunStatus {
    if previous.phase.is_some_and(Phase::is_terminal) {
        return previous.clone();
    }
    let Some(pod) = pod else {
        let Some(pod_name) = &previous.pod_name else {
            return previous.clone();
        };
        let message = format!(
            "pod {pod_name} was deleted before the run ended; nothing in the run failed: set spec.retries to run it again on such disruptions"
        );
        return with_outcome(previous, Phase::Failed, Reason::PodDeleted, message, now);
    };
    let mut next = previous.clone();
    next.steps = step_states(pod);
    if next.start_time.is_none() {
        next.start_time = pod.metadata.creation_timestamp.clone();
    }
    let (phase, mut reason, mut message, results) = classify(pod, &next.steps, reporter_log, now);
    if phase == Phase::Pending && !next.retries_status.is_empty() {
        reason = Reason::Retrying;
        message = format!("attempt {}: {message}", next.retries_status.len() + 1);
    }
    next.results = results;
    if phase.is_terminal() {
        next.completion_time = last_finish(&next.steps).or_else(|| Some(now.clone()));
    }
    with_outcome(&next, phase, reason, message, now)
}

/// The reporter's report header when its report must be read from its log.
pub fn reporter_log_needed(pod: &Pod) -> Option<crate::pod::results::Header> {
    match from_message(reporter_message(pod)?) {
        Report::InLog(header) => Some(header),
        Report::Read(_) => None,
    }
}

/// `previous` moved to `phase` for `reason`, with the Succeeded condition,
/// completion time and duration to match. The condition's transition time
/// changes only when its status does, so an unchanged run projects to an
/// equal status and causes no write. A run that ends leaves no step
/// running or waiting: see `end_steps`.
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
        end_steps(&mut next.steps, reason, now);
        let end = next.completion_time.get_or_insert_with(|| now.clone()).clone();
        next.duration = next.start_time.as_ref().map(|start| elapsed(start, &end));
    }
    set_succeeded(&mut next.conditions, phase, reason.as_str(), &message, now);
    next
}

/// The steps of a run that ended: a step still running was stopped (it
/// ends now, with reason Stopped); one that never started keeps no state,
/// which reads as "not run". None stays frozen as running or waiting.
fn end_steps(steps: &mut [StepState], reason: Reason, now: &Time) {
    for step in steps.iter_mut().filter(|s| s.terminated.is_none()) {
        step.waiting = None;
        if let Some(running) = step.running.take() {
            step.terminated = Some(ContainerStateTerminated {
                exit_code: STOPPED_EXIT_CODE,
                reason: Some(STOPPED_REASON.into()),
                message: Some(format!("stopped when the run ended ({reason})")),
                started_at: running.started_at,
                finished_at: Some(now.clone()),
                ..ContainerStateTerminated::default()
            });
        }
    }
}

/// Phase, reason, message and results from the pod and its steps.
fn classify(
    pod: &Pod,
    steps: &[StepState],
    reporter_log: Option<&[u8]>,
    now: &Time,
) -> (Phase, Reason, String, Vec<TaskRunResult>) {
    let status = pod.status.clone().unwrap_or_default();
    let failed = |reason, message| (Phase::Failed, reason, message, Vec::new());
    let steps_done = status.phase.as_deref() == Some("Succeeded")
        || (!steps.is_empty() && steps.iter().all(|s| s.terminated.as_ref().is_some_and(succeeded)));
    let has_reporter = has_reporter(pod);
    // Done is done, even if a sidecar keeps the pod running or the pod is
    // evicted a moment later.
    if steps_done && (!has_reporter || reporter_message(pod).is_some()) {
        return finish(pod, steps, reporter_log);
    }
    if let Some((reason, message)) = disruption(pod, now) {
        return failed(reason, message);
    }
    // The kubelet kills the steps at the deadline, so check it before the
    // exit codes that the kill produced.
    if status.reason.as_deref() == Some("DeadlineExceeded") {
        let detail = status.message.unwrap_or_default();
        let message = format!("the run went over spec.timeout and was stopped: {detail}");
        return failed(Reason::Timeout, message);
    }
    if let Some((step, terminated)) = steps
        .iter()
        .find_map(|s| Some((s, s.terminated.as_ref().filter(|t| !succeeded(t))?)))
    {
        let reason = match terminated.reason.as_deref() {
            Some(TIMED_OUT_REASON) => Reason::StepTimeout,
            _ => Reason::StepFailed,
        };
        let message = step_failure(pod, step, terminated);
        // The failed step ran (its launcher left a record), so each step
        // before it has left its marker; one whose container the kubelet
        // has not seen exit yet would be frozen as stopped if the run
        // ended now. Its own record is a moment away. A step that failed
        // without running (its container killed or unable to start)
        // proves nothing of the steps before: the run ends now.
        let ran = || has_record(pod, &step.container);
        if let Some(before) = steps
            .iter()
            .take_while(|s| s.name != step.name)
            .find(|s| s.running.is_some())
            .filter(|_| ran())
        {
            let message = format!("{message}; waiting for step {:?} to report how it ended", before.name);
            return (Phase::Running, Reason::Running, message, Vec::new());
        }
        // The reporter reports what the steps wrote before the failure,
        // once the failed step's launcher has left its marker (a step
        // killed without a record left none: nothing to wait for).
        return match (has_reporter && has_record(pod, &step.container), reporter_state(pod)) {
            (true, Some(_)) => (Phase::Failed, reason, message, results_after_failure(pod, reporter_log)),
            (true, None) if reporter_running(pod) => {
                let message = format!("{message}; reporting the results written before it");
                (Phase::Running, Reason::Running, message, Vec::new())
            }
            _ => failed(reason, message),
        };
    }
    if status.phase.as_deref() == Some("Failed") {
        let why = status.reason.clone().unwrap_or_else(|| "unknown reason".into());
        let detail = status.message.clone().unwrap_or_default();
        let message = format!("the pod failed ({why}): {detail}")
            .trim_end_matches(": ")
            .to_string();
        return failed(Reason::PodFailed, message);
    }
    let total = steps.len();
    let running = |message| (Phase::Running, Reason::Running, message, Vec::new());
    if steps_done {
        return running(format!("all {total} steps ended; reporting their results"));
    }
    if let Some((index, step)) = steps.iter().enumerate().find(|(_, s)| s.running.is_some()) {
        if debugger_awaited(pod) {
            return (
                Phase::Running,
                Reason::Debugging,
                debugging(pod, &step.name),
                Vec::new(),
            );
        }
        return running(format!("step {:?} is running ({} of {total})", step.name, index + 1));
    }
    let started = steps.iter().any(|s| s.terminated.is_some());
    // A later step that cannot start (its image, a missing Secret key):
    // that is what the run waits for, in the kubelet's words.
    if let Some(message) = steps.iter().find_map(waiting_problem).filter(|_| started) {
        return running(message);
    }
    if let Some((index, step)) = steps.iter().enumerate().rev().find(|(_, s)| s.terminated.is_some()) {
        return running(format!("step {:?} finished ({} of {total})", step.name, index + 1));
    }
    (Phase::Pending, Reason::Pending, pending_message(pod, steps), Vec::new())
}

/// A run whose steps all ended well: it succeeded, with its results, unless
/// they cannot be reported.
fn finish(pod: &Pod, steps: &[StepState], reporter_log: Option<&[u8]>) -> (Phase, Reason, String, Vec<TaskRunResult>) {
    let succeeded = |results| (Phase::Succeeded, Reason::Succeeded, success_message(steps), results);
    if !has_reporter(pod) {
        return succeeded(Vec::new());
    }
    let Some(read) = report(pod, reporter_log) else {
        let message = format!(
            "all {} steps ended; reading their results from the reporter's log",
            steps.len()
        );
        return (Phase::Running, Reason::Running, message, Vec::new());
    };
    match read {
        Ok(results) => succeeded(results),
        // A report that says nothing: the reporter itself failed.
        Err((Reason::ResultsFailed, _)) if reporter_exit(pod).is_some_and(|(code, _)| code != 0) => {
            let (code, why) = reporter_exit(pod).unwrap_or_default();
            let message = format!(
                "every step succeeded, but container {REPORTER} could not report the results: exit code {code} ({why}); see `kubectl logs {} -c {REPORTER}`",
                pod.metadata.name.as_deref().unwrap_or_default()
            );
            (Phase::Failed, Reason::ResultsFailed, message, Vec::new())
        }
        Err((reason, message)) => (Phase::Failed, reason, message, Vec::new()),
    }
}

/// The results of a run whose step failed: what the reporter found, or
/// none when it could not report (the failure says what matters).
fn results_after_failure(pod: &Pod, reporter_log: Option<&[u8]>) -> Vec<TaskRunResult> {
    report(pod, reporter_log).and_then(Result::ok).unwrap_or_default()
}

/// The reporter's report, read from its termination message or, when the
/// message says the report is in the log, from `reporter_log`; None while
/// that log is still to be read.
fn report(pod: &Pod, reporter_log: Option<&[u8]>) -> Option<Result<Vec<TaskRunResult>, crate::pod::results::Problem>> {
    match (from_message(reporter_message(pod).unwrap_or_default()), reporter_log) {
        (Report::Read(read), _) => Some(read),
        (Report::InLog(header), Some(log)) => Some(from_log(header, log)),
        (Report::InLog(_), None) => None,
    }
}

fn has_reporter(pod: &Pod) -> bool {
    pod.spec.iter().flat_map(|s| &s.containers).any(|c| c.name == REPORTER)
}

/// Whether the launcher of `container` left its record: the step ended by
/// itself, and left its marker for the ones after it.
fn has_record(pod: &Pod, container: &str) -> bool {
    container_status(pod, container)
        .and_then(|s| s.state.as_ref()?.terminated.as_ref()?.message.as_deref())
        .and_then(minitask_launcher::record::Record::parse)
        .is_some()
}

fn reporter_running(pod: &Pod) -> bool {
    container_status(pod, REPORTER).is_some_and(|s| s.state.as_ref().is_some_and(|s| s.running.is_some()))
}

fn container_status<'a>(pod: &'a Pod, name: &str) -> Option<&'a k8s_openapi::api::core::v1::ContainerStatus> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses.iter().find(|s| s.name == name)
}

/// The name of the run that owns `pod`, for commands in messages (the
/// cached pod keeps no labels: its owner is the run).
pub(crate) fn run_of(pod: &Pod) -> &str {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map_or("<run>", |o| o.name.as_str())
}

/// What a run that waits for a debugger says.
fn debugging(pod: &Pod, step: &str) -> String {
    let run = run_of(pod);
    format!(
        "step {step:?} failed and waits for a debugger: `kubectl task debug {run}` opens a shell in its container (the run fails when it exits), `kubectl task debug {run} --continue` lets the run fail now"
    )
}

/// A step that exited 0, or failed and was let through (onError: continue).
fn succeeded(terminated: &ContainerStateTerminated) -> bool {
    terminated.exit_code == 0 || terminated.reason.as_deref() == Some(CONTINUED_REASON)
}

fn step_failure(pod: &Pod, step: &StepState, terminated: &ContainerStateTerminated) -> String {
    let see = format!(
        "; see its output with `kubectl logs {} -c {}`",
        pod.metadata.name.as_deref().unwrap_or_default(),
        step.container
    );
    if terminated.reason.as_deref() == Some(TIMED_OUT_REASON) {
        let what = terminated.message.as_deref().unwrap_or("went over its timeout");
        let what = cut(what.trim(), MAX_STEP_MESSAGE);
        return format!(
            "step {:?} {what} and was stopped (exit code {}){see}",
            step.name, terminated.exit_code
        );
    }
    let mut message = format!("step {:?} failed with exit code {}", step.name, terminated.exit_code);
    if terminated.reason.as_deref() == Some("OOMKilled") {
        message.push_str(" (OOMKilled: it used more memory than its limit; raise the step's resources.limits.memory)");
        return format!("{message}{see}");
    }
    let why = terminated.reason.as_deref().filter(|r| *r != "Error");
    let detail = terminated
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| cut(m, MAX_STEP_MESSAGE));
    match (why, detail) {
        (Some(why), Some(detail)) => message.push_str(&format!(" ({why}: {detail})")),
        (Some(why), None) => message.push_str(&format!(" ({why})")),
        (None, Some(detail)) => message.push_str(&format!(" ({detail})")),
        (None, None) => {}
    }
    message.push_str(&see);
    message
}

/// "all 3 steps succeeded", or which ones failed and were let through.
fn success_message(steps: &[StepState]) -> String {
    let continued: Vec<String> = steps
        .iter()
        .filter_map(|s| {
            let t = s.terminated.as_ref().filter(|t| t.exit_code != 0)?;
            Some(format!("step {:?} failed with exit code {}", s.name, t.exit_code))
        })
        .collect();
    match (continued.is_empty(), steps) {
        (true, [only]) => format!("step {:?} succeeded", only.name),
        (true, _) => format!("all {} steps succeeded", steps.len()),
        (false, [_]) => format!("{} (onError: continue)", continued.join(", ")),
        (false, _) => format!(
            "all {} steps ran; {} (onError: continue)",
            steps.len(),
            continued.join(", ")
        ),
    }
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
    steps
        .iter()
        .find_map(waiting_problem)
        .unwrap_or_else(|| format!("waiting for pod {pod_name} to start"))
}

/// `step "b" is waiting: ErrImagePull: ...` for a step that waits for
/// something other than its turn.
fn waiting_problem(step: &StepState) -> Option<String> {
    let waiting = step.waiting.as_ref()?;
    let reason = waiting
        .reason
        .as_deref()
        .filter(|r| !["PodInitializing", "ContainerCreating", TURN_REASON].contains(r))?;
    let detail = waiting.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
    Some(format!("step {:?} is waiting: {reason}{detail}", step.name))
}

fn reporter_state(pod: &Pod) -> Option<&ContainerStateTerminated> {
    container_status(pod, REPORTER)?.state.as_ref()?.terminated.as_ref()
}

/// The termination message of the results reporter, once it has ended.
fn reporter_message(pod: &Pod) -> Option<&str> {
    Some(reporter_state(pod)?.message.as_deref().unwrap_or_default())
}

fn reporter_exit(pod: &Pod) -> Option<(i32, String)> {
    let terminated = reporter_state(pod)?;
    Some((terminated.exit_code, terminated.reason.clone().unwrap_or_default()))
}

fn last_finish(steps: &[StepState]) -> Option<Time> {
    steps
        .iter()
        .filter_map(|s| s.terminated.as_ref()?.finished_at.clone())
        .max()
}

fn elapsed(start: &Time, end: &Time) -> String {
    let seconds = end.0.as_second().saturating_sub(start.0.as_second()).max(0);
    format_duration(std::time::Duration::from_secs(seconds as u64))
}

#[cfg(test)]
mod tests;
