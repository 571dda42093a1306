//! Garbage collection of finished runs: `spec.ttlSecondsAfterFinished` and
//! the controller's `--keep-finished-per-task`. Pure decisions; the
//! reconciler deletes. A run that has not finished is never touched.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use minitask_api::TaskRun;

/// What to do about a finished run now.
#[derive(Debug, PartialEq)]
pub enum Retention {
    Keep,
    Delete,
    /// Look again after this long (its TTL runs out then).
    CheckIn(Duration),
}

/// Whether `run` has outlived its `ttlSecondsAfterFinished` at `now`.
pub fn by_ttl(run: &TaskRun, now: &Time) -> Retention {
    let status = run.status.clone().unwrap_or_default();
    let (Some(ttl), Some(done), true) = (
        run.spec.ttl_seconds_after_finished,
        status.completion_time,
        run.phase().is_terminal(),
    ) else {
        return Retention::Keep;
    };
    let left = done.0.as_second() + ttl.max(0) - now.0.as_second();
    match left {
        l if l <= 0 => Retention::Delete,
        l => Retention::CheckIn(Duration::from_secs(l as u64)),
    }
}

/// The finished runs of `run`'s Task (same namespace, same `taskRef`)
/// beyond the newest `keep`, by completion time. Runs of inline Tasks are
/// not grouped.
pub fn beyond_keep(run: &TaskRun, all: &[Arc<TaskRun>], keep: usize) -> Vec<Arc<TaskRun>> {
    let Some(task) = run.task_name() else {
        return Vec::new();
    };
    let mut finished: Vec<Arc<TaskRun>> = all
        .iter()
        .filter(|r| r.namespace() == run.namespace() && r.task_name() == Some(task) && r.phase().is_terminal())
        .cloned()
        .collect();
    let key = |r: &TaskRun| {
        let done = r.status.as_ref().and_then(|s| s.completion_time.clone());
        (done, r.name_any())
    };
    finished.sort_by_key(|r| std::cmp::Reverse(key(r)));
    finished.into_iter().skip(keep).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::taskrun;
    use k8s_openapi::jiff::Timestamp;
    use minitask_api::{Phase, TaskRunStatus};

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(1_800_000_000 + second).unwrap())
    }

    fn finished(name: &str, task: &str, done: Option<i64>) -> TaskRun {
        let mut run = taskrun(name, task);
        run.status = Some(TaskRunStatus {
            phase: Some(if done.is_some() {
                Phase::Succeeded
            } else {
                Phase::Running
            }),
            completion_time: done.map(at),
            ..TaskRunStatus::default()
        });
        run
    }

    #[test]
    fn a_ttl_counts_from_the_end_of_the_run() {
        let mut run = finished("r", "t", Some(100));
        assert_eq!(by_ttl(&run, &at(500)), Retention::Keep, "no TTL, kept");
        run.spec.ttl_seconds_after_finished = Some(60);
        assert_eq!(by_ttl(&run, &at(130)), Retention::CheckIn(Duration::from_secs(30)));
        assert_eq!(by_ttl(&run, &at(160)), Retention::Delete);
        let mut running = finished("r", "t", None);
        running.spec.ttl_seconds_after_finished = Some(0);
        assert_eq!(by_ttl(&running, &at(10_000)), Retention::Keep, "never a running run");
    }

    #[test]
    fn only_finished_runs_of_the_same_task_beyond_the_newest_are_collected() {
        let all: Vec<Arc<TaskRun>> = [
            finished("old", "t", Some(1)),
            finished("mid", "t", Some(2)),
            finished("new", "t", Some(3)),
            finished("running", "t", None),
            finished("other", "u", Some(0)),
        ]
        .into_iter()
        .map(Arc::new)
        .collect();
        let names = |keep| -> Vec<String> { beyond_keep(&all[2], &all, keep).iter().map(|r| r.name_any()).collect() };
        assert_eq!(names(1), ["mid", "old"]);
        assert_eq!(names(3), Vec::<String>::new());
        assert_eq!(names(0), ["new", "mid", "old"]);
        let mut inline = finished("inline", "t", Some(5));
        inline.spec.task_ref = None;
        assert!(beyond_keep(&inline, &all, 0).is_empty());
    }
}
