//! What one reconcile of a TaskRun that has not ended does, decided from
//! what it knows: a pure function of the run, its status, its pod, the
//! Task to start with, the API server's answer to a pod create, and the
//! time. The shell (runtime/reconcile.rs) gathers these facts, creates the
//! pod a decision asks for and decides again with the result, writes the
//! status once, and only then acts on it.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use minitask_api::{Phase, Reason, TaskRun, TaskRunStatus, TaskSpec};

use crate::pod::names::pod_name;
use crate::pod::results::REPORTER;
use crate::pod::{PodOptions, build_pod, is_left_by_earlier_run, is_owned_by, task_spec_of};
use crate::status::deadline::{Starting, starting, stop_reason, time_left};
use crate::status::refusal::{Refusal, retry_after};
use crate::status::retry::retry;
use crate::status::stuck::{self, PodEvent, events_worth_reading};
use crate::status::{disruption, project_status, sidecars, with_outcome};

/// The results reporter's log, when its report did not fit its
/// termination message.
#[derive(Clone, Debug, PartialEq)]
pub enum Log {
    Read(Vec<u8>),
    /// It cannot be read, for good (the container is gone): why.
    Gone(String),
}

/// What a reconcile knows about a run that has not ended.
pub struct Facts<'a> {
    pub run: &'a TaskRun,
    /// The run's status, with its Task recorded when it has started (from
    /// the status, this process's memory of it, or the pod).
    pub previous: &'a TaskRunStatus,
    /// The current attempt's pod, when one exists.
    pub pod: Option<&'a Pod>,
    /// The reporter's log, read when `reporter_log_needed` asked for it.
    pub reporter_log: Option<&'a Log>,
    /// The pod's Warning Events, read when `events_worth_reading` said so.
    pub pod_events: Option<&'a [PodEvent]>,
    /// The Task to start with, when the run has no pod yet: the inline one
    /// or the named one; Err says why there is none.
    pub task: Option<Result<Box<TaskSpec>, String>>,
    /// The API server refused the pod this reconcile just tried to create.
    pub refused: Option<&'a Refusal>,
    pub options: &'a PodOptions,
    pub now: &'a Time,
}

/// What to do.
#[derive(Debug, PartialEq)]
pub struct Decision {
    /// The run's next status (written when it differs from the stored one).
    pub status: TaskRunStatus,
    /// Create this pod, then decide again with it (or with its refusal),
    /// `status` as the previous status.
    pub create: Option<Pod>,
    /// Delete this pod, left by an earlier TaskRun of the same name.
    pub delete: Option<Pod>,
    /// Look again after this long unless an event comes first: a timeout,
    /// a grace period, a refused pod's next try. None: only events.
    pub requeue: Option<Duration>,
}

impl Decision {
    fn status(status: TaskRunStatus) -> Decision {
        Decision {
            status,
            create: None,
            delete: None,
            requeue: None,
        }
    }
}

/// How long a run waits for the pod of an earlier run of its name to go
/// before it looks again (its deletion event normally comes first).
const STALE_POD_RECHECK: Duration = Duration::from_secs(5);

/// The decision for the run of `f`.
pub fn decide(f: &Facts) -> Decision {
    let (run, now) = (f.run, f.now);
    // An earlier TaskRun of the same name was deleted and its pod lingers.
    if let Some(stale) = f.pod.filter(|p| is_left_by_earlier_run(p, run)) {
        let message = format!(
            "waiting for pod {}, left by an earlier TaskRun named {}, to be deleted",
            stale.name_any(),
            run.name_any()
        );
        let mut status = with_outcome(f.previous, Phase::Pending, Reason::Pending, message, now);
        status.observed_generation = run.metadata.generation;
        return Decision {
            delete: stale.metadata.deletion_timestamp.is_none().then(|| stale.clone()),
            requeue: Some(STALE_POD_RECHECK),
            ..Decision::status(status)
        };
    }
    let mut next = match (f.pod, &f.previous.pod_name) {
        (Some(pod), _) => observe(f, pod),
        (None, Some(_)) => project_status(f.previous, None, None, now),
        // A run cancelled or out of time before it started never starts.
        (None, None) if stop_reason(run, f.previous, now).is_some() => f.previous.clone(),
        (None, None) => match start(f, f.previous) {
            Started::Create(pod) => {
                return Decision {
                    create: Some(*pod),
                    ..Decision::status(f.previous.clone())
                };
            }
            Started::Not(status) => *status,
        },
    };
    let mut recheck = None;
    if !next.phase.is_some_and(Phase::is_terminal) {
        let mut stuck = f
            .pod
            .map_or(Starting::Fine, |p| starting(p, now, f.options.image_pull_grace));
        // A sidecar that stopped, or that keeps the steps from starting.
        if let (Starting::Fine, Some(pod)) = (&stuck, f.pod) {
            stuck = sidecars::check(pod, now, f.options.sidecar_grace);
            if let (Some(Phase::Pending), Some(waiting)) = (next.phase, sidecars::waiting_for(pod)) {
                next = with_outcome(&next, Phase::Pending, Reason::Pending, waiting, now);
            }
        }
        // A pod on a node that starts nothing: its Events say why.
        if let (Starting::Fine, Some(Phase::Pending), Some(pod)) = (&stuck, next.phase, f.pod) {
            if let Some(found) = f.pod_events.and_then(stuck::stuck) {
                let message = format!("pod {} cannot start: {}", pod.name_any(), found.why);
                next = with_outcome(&next, Phase::Pending, Reason::Pending, message, now);
                if found.lasting {
                    stuck = lasting(pod, &found, now, f.options.image_pull_grace);
                }
            }
            // Look (again) once it is worth it.
            recheck = events_worth_reading(pod, now).map(|wait| match wait.is_zero() {
                true => stuck::LOOK_EVERY,
                false => wait,
            });
        }
        let stop = match (stop_reason(run, &next, now), stuck) {
            (Some(stop), _) => Some(stop),
            (None, Starting::Failed(reason, message)) => Some((reason, message)),
            (None, Starting::Failing { left, at }) => {
                recheck = Some(recheck.map_or(left, |r: Duration| r.min(left)));
                // Say when the controller gives up: a stable time, so that
                // it costs no status write per reconcile.
                let message = format!(
                    "{}; the run fails at {} if it has not started by then",
                    next.message.clone().unwrap_or_default(),
                    at.0
                );
                let phase = next.phase.unwrap_or(Phase::Pending);
                let reason = Reason::ALL
                    .into_iter()
                    .find(|r| Some(r.as_str()) == next.reason.as_deref())
                    .unwrap_or(Reason::Pending);
                next = with_outcome(&next, phase, reason, message, now);
                None
            }
            (None, Starting::Fine) => None,
        };
        if let Some((reason, message)) = stop {
            next = with_outcome(&next, Phase::Failed, reason, message, now);
        }
        if let Some(left) = f.pod.and_then(|p| disruption::recheck(p, now)) {
            recheck = Some(recheck.map_or(left, |r: Duration| r.min(left)));
        }
    }
    if let Some(retried) = retry(run, &next, f.pod, now) {
        match start(f, &retried) {
            Started::Create(pod) => {
                return Decision {
                    create: Some(*pod),
                    ..Decision::status(retried)
                };
            }
            Started::Not(status) => next = *status,
        }
    }
    next.observed_generation = run.metadata.generation;
    if next.phase.is_some_and(Phase::is_terminal) {
        return Decision::status(next);
    }
    // Wake up at the timeout, at the end of a grace period, or when a
    // refused pod is tried again: no watch event announces those.
    let mut after = time_left(run, now);
    if next.reason.as_deref() == Some(Reason::PodCreationFailed.as_str()) {
        let backoff = retry_after(age(run, now));
        after = Some(after.map_or(backoff, |a| a.min(backoff)));
    }
    let requeue = match (after, recheck) {
        (Some(a), Some(r)) => Some(a.min(r)),
        (a, r) => a.or(r),
    };
    Decision {
        requeue,
        ..Decision::status(next)
    }
}

/// A pod kept from starting by a cause that does not go away by itself:
/// it has the image pull grace period, from its creation, then the run
/// fails.
fn lasting(pod: &Pod, found: &stuck::Stuck, now: &Time, grace: Duration) -> Starting {
    let created = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(now.0.as_second(), |t| t.0.as_second());
    let waited = Duration::from_secs(now.0.as_second().saturating_sub(created).max(0) as u64);
    if waited < grace {
        let at = Timestamp::from_second(created.saturating_add(grace.as_secs() as i64)).unwrap_or(now.0);
        return Starting::Failing {
            left: grace - waited,
            at: Time(at),
        };
    }
    Starting::Failed(
        Reason::PodStartFailed,
        format!(
            "pod {} could not start within {}: {}; create what it names (or fix the run's workspaces) and start the run again",
            pod.name_any(),
            minitask_api::format_duration(grace),
            found.why
        ),
    )
}

/// How old `run` is at `now`.
fn age(run: &TaskRun, now: &Time) -> Duration {
    let created = run.metadata.creation_timestamp.as_ref().map_or(0, |t| t.0.as_second());
    Duration::from_secs(now.0.as_second().saturating_sub(created).max(0) as u64)
}

/// The status a run's pod implies, when the pod is the run's.
fn observe(f: &Facts, pod: &Pod) -> TaskRunStatus {
    if !is_owned_by(pod, f.run) {
        let message = format!(
            "pod {} already exists and is not owned by TaskRun {}; delete that pod or start a run with another name",
            pod.name_any(),
            f.run.name_any()
        );
        return with_outcome(f.previous, Phase::Failed, Reason::PodConflict, message, f.now);
    }
    // The pod records what it runs: a status from a stale cache, or one
    // never written because a controller died after creating the pod, is
    // completed from it rather than from a Task that may have changed.
    let mut previous = f.previous.clone();
    previous.pod_name.get_or_insert_with(|| pod.name_any());
    if previous.task_spec.is_none() {
        previous.task_spec = task_spec_of(pod).map(Box::new);
    }
    match f.reporter_log {
        Some(Log::Read(log)) => project_status(&previous, Some(pod), Some(log), f.now),
        Some(Log::Gone(why)) => {
            let ended = project_status(&previous, Some(pod), None, f.now);
            // A run that failed anyway keeps its reason, without results.
            if ended.phase == Some(Phase::Failed) {
                return ended;
            }
            let message = format!(
                "every step succeeded, but the results could not be read from the log of container {REPORTER} of pod {}: {why}",
                pod.name_any()
            );
            with_outcome(&ended, Phase::Failed, Reason::ResultsFailed, message, f.now)
        }
        None => project_status(&previous, Some(pod), None, f.now),
    }
}

enum Started {
    /// Create this pod.
    Create(Box<Pod>),
    /// It cannot start (yet): the status that says why.
    Not(Box<TaskRunStatus>),
}

/// Starting the current attempt of a run whose status is `previous`: its
/// pod, or why there is none. A refusal of the API server settles it.
fn start(f: &Facts, previous: &TaskRunStatus) -> Started {
    let now = f.now;
    match f.refused {
        Some(Refusal::Permanent(message)) => {
            let status = with_outcome(previous, Phase::Failed, Reason::PodCreationFailed, message.clone(), now);
            return Started::Not(Box::new(status));
        }
        Some(Refusal::Retry(message)) => {
            let status = with_outcome(
                previous,
                Phase::Pending,
                Reason::PodCreationFailed,
                message.clone(),
                now,
            );
            return Started::Not(Box::new(status));
        }
        None => {}
    }
    // A retry reuses the Task the run started with.
    let task = match (&previous.task_spec, &f.task) {
        (Some(task), _) => Ok(task.clone()),
        (None, Some(task)) => task.clone(),
        (None, None) => Err(format!(
            "the Task of TaskRun {} is not known to this reconcile",
            f.run.name_any()
        )),
    };
    let task = match task {
        Ok(task) => task,
        Err(message) => {
            let status = with_outcome(previous, Phase::Pending, Reason::TaskNotFound, message, now);
            return Started::Not(Box::new(status));
        }
    };
    match build_pod(&task, f.run, previous.retries_status.len(), f.options) {
        Ok(pod) => Started::Create(Box::new(pod)),
        Err(e) => Started::Not(Box::new(with_outcome(
            previous,
            Phase::Failed,
            e.reason(),
            e.to_string(),
            now,
        ))),
    }
}

/// The name of the pod of the current attempt of a run whose status is
/// `status`: each failed attempt is recorded before the next starts.
pub fn current_pod(run: &TaskRun, status: &TaskRunStatus) -> String {
    pod_name(&run.name_any(), status.retries_status.len())
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
