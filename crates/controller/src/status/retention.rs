//! Garbage collection of finished runs: `spec.ttlSecondsAfterFinished` and
//! the controller's `--keep-finished-per-task`. Pure decisions; the
//! reconciler deletes. A run that has not finished is never touched.
//!
//! The per-Task limit is kept with an index of the finished runs of each
//! Task, updated from the TaskRun watch, so that a finished run costs a
//! lookup in its own Task's list, not a scan of every run in the cluster.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use minitask_api::TaskRun;

/// What to do about a finished run now.
#[derive(Debug, PartialEq)]
pub enum Retention {
    Keep,
    Delete,
    /// Look again after this long (its TTL runs out then).
    CheckIn(Duration),
}

/// Whether `run` has outlived its `ttlSecondsAfterFinished` at `now`. A TTL
/// too large to add to a time never runs out.
pub fn by_ttl(run: &TaskRun, now: &Time) -> Retention {
    let status = run.status.clone().unwrap_or_default();
    let (Some(ttl), Some(done), true) = (
        run.spec.ttl_seconds_after_finished,
        status.completion_time,
        run.phase().is_terminal(),
    ) else {
        return Retention::Keep;
    };
    let Some(deadline) = done.0.as_second().checked_add(ttl.max(0)) else {
        return Retention::Keep;
    };
    match deadline.saturating_sub(now.0.as_second()) {
        left if left <= 0 => Retention::Delete,
        left => Retention::CheckIn(Duration::from_secs(left as u64)),
    }
}

/// With an archive installed (`--max-archive-wait`), how long a deletion
/// that retention decided must still wait: None when it may go now (the
/// archive holds the run, or it waited `max_wait` past the run's end, or
/// there is no archive). A run that never says when it ended waits from now.
pub fn archive_hold(
    conditions: &[Condition],
    ended: Option<&Time>,
    max_wait: Option<Duration>,
    now: &Time,
) -> Option<Duration> {
    let max_wait = max_wait?;
    if minitask_api::is_archived(conditions) {
        return None;
    }
    let ended = ended.map_or(now.0.as_second(), |t| t.0.as_second());
    let waited = now.0.as_second().saturating_sub(ended).max(0) as u64;
    let left = max_wait.as_secs().saturating_sub(waited);
    (left > 0).then(|| Duration::from_secs(left))
}

/// A run's place in its Task's list: by completion time, then name.
type Entry = (i64, String);
/// A Task: the runs' namespace, the kind (a Task and a ClusterTask of one
/// name are two) and the name.
type Group = (String, &'static str, String);

/// The finished runs of every Task (runs of inline Tasks are not grouped),
/// oldest first.
#[derive(Debug, Default)]
pub struct Finished {
    groups: HashMap<Group, BTreeSet<Entry>>,
    /// Where each indexed run is, to move or remove it.
    runs: HashMap<(String, String), (Group, Entry)>,
}

impl Finished {
    /// Follows one event of the TaskRun watch. Returns the runs that have
    /// just fallen beyond the newest `keep` of their Task.
    pub fn apply(&mut self, event: &watcher::Event<TaskRun>, keep: usize) -> Vec<ObjectRef<TaskRun>> {
        match event {
            // A relist starts: forget, then learn again. Forgetting too
            // much only delays a deletion; it never deletes a run it should
            // not.
            watcher::Event::Init => {
                *self = Finished::default();
                Vec::new()
            }
            watcher::Event::InitApply(run) | watcher::Event::Apply(run) => self.update(run, keep),
            watcher::Event::Delete(run) => {
                self.remove(&run.namespace().unwrap_or_default(), &run.name_any());
                Vec::new()
            }
            watcher::Event::InitDone => Vec::new(),
        }
    }

    fn update(&mut self, run: &TaskRun, keep: usize) -> Vec<ObjectRef<TaskRun>> {
        let namespace = run.namespace().unwrap_or_default();
        let name = run.name_any();
        self.remove(&namespace, &name);
        let (Some(task), true) = (run.spec.task_ref.as_ref(), run.phase().is_terminal()) else {
            return Vec::new();
        };
        // A PipelineRun's TaskRuns go with it, never before.
        if run
            .owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && o.kind == "PipelineRun")
        {
            return Vec::new();
        }
        let done = run.status.as_ref().and_then(|s| s.completion_time.as_ref());
        let entry: Entry = (done.map_or(0, |t| t.0.as_second()), name.clone());
        let group: Group = (namespace.clone(), task.kind.as_str(), task.name.clone());
        self.groups.entry(group.clone()).or_default().insert(entry.clone());
        self.runs.insert((namespace.clone(), name), (group.clone(), entry));
        self.beyond(&group, keep)
            .map(|name| ObjectRef::new(name).within(&namespace))
            .collect()
    }

    fn remove(&mut self, namespace: &str, name: &str) {
        let Some((group, entry)) = self.runs.remove(&(namespace.to_string(), name.to_string())) else {
            return;
        };
        if let Some(entries) = self.groups.get_mut(&group) {
            entries.remove(&entry);
            if entries.is_empty() {
                self.groups.remove(&group);
            }
        }
    }

    /// The names of `group`'s runs beyond the newest `keep`, oldest first.
    fn beyond(&self, group: &Group, keep: usize) -> impl Iterator<Item = &str> {
        let entries = self.groups.get(group);
        let extra = entries.map_or(0, |e| e.len().saturating_sub(keep));
        entries.into_iter().flatten().take(extra).map(|(_, name)| name.as_str())
    }

    /// True when `run` is a finished run beyond the newest `keep` of its
    /// Task.
    pub fn is_beyond(&self, run: &TaskRun, keep: usize) -> bool {
        let key = (run.namespace().unwrap_or_default(), run.name_any());
        let Some((group, _)) = self.runs.get(&key) else {
            return false;
        };
        self.beyond(group, keep).any(|name| name == key.1)
    }
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
        run.spec.ttl_seconds_after_finished = Some(i64::MAX);
        assert_eq!(by_ttl(&run, &at(160)), Retention::Keep, "a TTL past the end of time");
        run.spec.ttl_seconds_after_finished = Some(i64::MAX - 1_800_000_200);
        assert!(matches!(by_ttl(&run, &at(160)), Retention::CheckIn(_)));
        let mut running = finished("r", "t", None);
        running.spec.ttl_seconds_after_finished = Some(0);
        assert_eq!(by_ttl(&running, &at(10_000)), Retention::Keep, "never a running run");
    }

    fn names(refs: Vec<ObjectRef<TaskRun>>) -> Vec<String> {
        refs.into_iter().map(|r| r.name).collect()
    }

    #[test]
    fn only_finished_runs_of_the_same_task_beyond_the_newest_are_collected() {
        let mut index = Finished::default();
        let apply = |index: &mut Finished, run: TaskRun, keep| names(index.apply(&watcher::Event::Apply(run), keep));
        assert!(apply(&mut index, finished("running", "t", None), 1).is_empty());
        assert!(apply(&mut index, finished("old", "t", Some(1)), 1).is_empty());
        assert_eq!(apply(&mut index, finished("mid", "t", Some(2)), 1), ["old"]);
        assert_eq!(
            apply(&mut index, finished("other", "u", Some(0)), 1),
            Vec::<String>::new()
        );
        assert_eq!(apply(&mut index, finished("new", "t", Some(3)), 1), ["old", "mid"]);
        assert!(index.is_beyond(&finished("mid", "t", Some(2)), 1));
        assert!(!index.is_beyond(&finished("new", "t", Some(3)), 1));
        assert!(
            !index.is_beyond(&finished("running", "t", None), 0),
            "never a running run"
        );

        // Deleted runs leave the index, so they stop counting.
        index.apply(&watcher::Event::Delete(finished("old", "t", Some(1))), 1);
        index.apply(&watcher::Event::Delete(finished("mid", "t", Some(2))), 1);
        assert!(!index.is_beyond(&finished("new", "t", Some(3)), 1));
        let mut inline = finished("inline", "t", Some(5));
        inline.spec.task_ref = None;
        assert!(apply(&mut index, inline.clone(), 0).is_empty());
        assert!(!index.is_beyond(&inline, 0));

        index.apply(&watcher::Event::Init, 1);
        assert!(
            !index.is_beyond(&finished("new", "t", Some(3)), 0),
            "a relist starts afresh"
        );
    }

    #[test]
    fn a_task_and_a_cluster_task_of_one_name_keep_their_runs_apart() {
        let mut index = Finished::default();
        let mut shared = finished("shared-old", "t", Some(1));
        shared.spec.task_ref.as_mut().unwrap().kind = minitask_api::TaskKind::ClusterTask;
        index.apply(&watcher::Event::Apply(shared.clone()), 1);
        let own = index.apply(&watcher::Event::Apply(finished("own-new", "t", Some(2))), 1);
        assert!(own.is_empty(), "the namespace Task's first run: {:?}", names(own));
        assert!(!index.is_beyond(&shared, 1), "the ClusterTask's newest run is kept");
    }

    #[test]
    fn the_taskruns_of_a_pipelinerun_go_with_it_only() {
        let mut index = Finished::default();
        let mut child = finished("p-build", "t", Some(1));
        child.metadata.owner_references = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "minitask.dev/v1alpha1".into(),
            kind: "PipelineRun".into(),
            name: "p".into(),
            uid: "u".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        index.apply(&watcher::Event::Apply(child.clone()), 0);
        let newer = index.apply(&watcher::Event::Apply(finished("newer", "t", Some(2))), 0);
        assert_eq!(names(newer), ["newer"], "only the run of its own");
        assert!(!index.is_beyond(&child, 0));
    }

    #[test]
    fn with_an_archive_a_deletion_waits_for_it_at_most_max_wait() {
        let archived: Condition = serde_json::from_value(serde_json::json!({
            "type": "Archived", "status": "True", "reason": "Archived", "message": "",
            "lastTransitionTime": "2026-12-03T00:00:00Z",
        }))
        .unwrap();
        let not_yet = Condition {
            status: "False".into(),
            ..archived.clone()
        };
        let hour = Some(Duration::from_secs(3600));
        let ended = at(0);
        assert_eq!(archive_hold(&[], Some(&ended), None, &at(10)), None, "no archive");
        assert_eq!(
            archive_hold(&[], Some(&ended), hour, &at(10)),
            Some(Duration::from_secs(3590))
        );
        assert_eq!(
            archive_hold(&[not_yet], Some(&ended), hour, &at(10)),
            Some(Duration::from_secs(3590))
        );
        assert_eq!(archive_hold(&[archived], Some(&ended), hour, &at(10)), None);
        assert_eq!(
            archive_hold(&[], Some(&ended), hour, &at(3600)),
            None,
            "waited long enough"
        );
        assert_eq!(archive_hold(&[], None, hour, &at(10)), Some(Duration::from_secs(3600)));
    }
}
