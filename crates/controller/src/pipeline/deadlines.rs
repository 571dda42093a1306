//! A PipelineRun's deadlines: `timeouts.pipeline`, `tasks` (what
//! `finally` leaves of `pipeline` unless given) and `finally` (from when
//! the tasks ended), and each TaskRun's share of what is left.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use minitask_api::{DEFAULT_TIMEOUT, MAX_TIMEOUT, PipelineRun, PipelineSpec, PipelineTask, TaskRun, parse_duration};

use crate::pipeline::view::is_finally;

/// When the last of `children` ended (seconds since the epoch; `now` for
/// one that does not say); None while one of them has not.
pub(crate) fn ended_at<'a>(children: impl Iterator<Item = &'a TaskRun>, now: &Time) -> Option<i64> {
    let mut last = i64::MIN;
    for child in children {
        let status = child.status.as_ref();
        let end = status.and_then(|s| s.completion_time.as_ref()).map(|t| t.0.as_second());
        match (child.phase().is_terminal(), end) {
            (true, Some(end)) => last = last.max(end),
            (true, None) => last = last.max(now.0.as_second()),
            (false, _) => return None,
        }
    }
    Some(last)
}

/// The run's deadlines, as seconds since the epoch.
pub(crate) struct Deadlines {
    pub(crate) pipeline: i64,
    pub(crate) tasks: i64,
    /// The finally tasks': counted from when the first of them started
    /// (None until then), within the pipeline's.
    pub(crate) finally: Option<i64>,
    /// `timeouts.finally`, in seconds.
    pub(crate) finally_secs: Option<i64>,
}

impl Deadlines {
    pub(crate) fn of(
        run: &PipelineRun,
        spec: &PipelineSpec,
        children: &BTreeMap<String, TaskRun>,
        now: &Time,
    ) -> Deadlines {
        let created = run
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(now.0.as_second(), |t| t.0.as_second());
        let timeouts = run.spec.timeouts.clone().unwrap_or_default();
        let secs = |d: Option<&String>, default: Duration| -> i64 {
            let d = d
                .and_then(|d| parse_duration(d).ok())
                .unwrap_or(default)
                .min(MAX_TIMEOUT);
            d.as_secs_f64().ceil() as i64
        };
        let default = parse_duration(DEFAULT_TIMEOUT).unwrap_or(Duration::from_secs(3600));
        let pipeline = created.saturating_add(secs(timeouts.pipeline.as_ref(), default));
        let finally_secs = timeouts.finally.as_ref().map(|f| secs(Some(f), default));
        // As in Tekton: without `tasks`, the tasks get what `finally`
        // leaves of `pipeline`, so the finally tasks keep their time.
        let tasks = match (&timeouts.tasks, finally_secs) {
            (Some(_), _) => created
                .saturating_add(secs(timeouts.tasks.as_ref(), default))
                .min(pipeline),
            (None, Some(finally)) => pipeline.saturating_sub(finally).max(created),
            (None, None) => pipeline,
        };
        // The finally tasks' time counts from when they could start (the
        // record), or from the first of them to start.
        let recorded = run
            .status
            .as_ref()
            .and_then(|s| s.finally_start_time.as_ref())
            .map(|t| t.0.as_second());
        let first_started = children
            .values()
            .filter(|c| is_finally(spec, c))
            .filter_map(|c| c.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()))
            .min();
        let finally = recorded
            .or(first_started)
            .map(|start| finally_secs.map_or(pipeline, |s| start.saturating_add(s).min(pipeline)));
        Deadlines {
            pipeline,
            tasks,
            finally,
            finally_secs,
        }
    }

    pub(crate) fn tasks_over(&self, now: &Time) -> bool {
        now.0.as_second() >= self.tasks
    }

    pub(crate) fn pipeline_over(&self, now: &Time) -> bool {
        now.0.as_second() >= self.pipeline
    }

    /// The timeout of a TaskRun that starts now: the task's own, within
    /// what is left.
    pub(crate) fn for_task(&self, task: &PipelineTask, finally: bool, now: &Time) -> Duration {
        let starting_now = self.finally_secs.map_or(self.pipeline, |s| {
            now.0.as_second().saturating_add(s).min(self.pipeline)
        });
        let until = match finally {
            true => self.finally.unwrap_or(starting_now),
            false => self.tasks,
        };
        let left = Duration::from_secs(until.saturating_sub(now.0.as_second()).max(1) as u64);
        let own = task.timeout.as_deref().and_then(|t| parse_duration(t).ok());
        own.map_or(left, |own| own.min(left))
    }

    /// The next deadline still ahead.
    pub(crate) fn next(&self, now: &Time) -> Option<Duration> {
        let now = now.0.as_second();
        [Some(self.tasks), self.finally, Some(self.pipeline)]
            .into_iter()
            .flatten()
            .filter(|d| *d > now)
            .min()
            .map(|d| Duration::from_secs((d - now) as u64))
    }
}
