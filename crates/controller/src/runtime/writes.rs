//! Fewer status writes, from a short memory of the writes this process
//! made (measured with `cargo xtask bench`, README, Performance):
//!
//! - A cached run that still shows the resourceVersion our last write was
//!   computed from is stale: the watch has not delivered that write yet.
//!   Reconciling it would compute the same change again and be refused
//!   (409), or read a pod for nothing; it waits for the watch instead.
//! - A pod's progress (created, a step started or ended) is written at
//!   most once per `WINDOW` per run: a fast pod goes from created to its
//!   end in one write, and a long one shows its progress at most a second
//!   late. Until the first write the pod is the record (deterministic
//!   name, the Task in its annotation), so a controller that dies in the
//!   window finds it again. Everything else (a retry, a refusal, the end)
//!   is written at once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::ResourceExt;
use minitask_api::{Phase, TaskRun, TaskRunStatus, TaskSpec};

use crate::runtime::expiring::Expiring;

/// How often a run's progress may be written.
pub const WINDOW: Duration = Duration::from_secs(1);
/// How long a write is remembered: long enough for the watch to bring it.
/// A watch slower than this costs a refused write, never a wrong one.
const REMEMBER: Duration = Duration::from_secs(30);

/// Whether going from `previous` to `next` is only the progress of the
/// same attempt's pod, which may wait for the window.
pub fn may_wait(previous: &TaskRunStatus, next: &TaskRunStatus) -> bool {
    next.pod_name.is_some()
        && previous
            .pod_name
            .as_ref()
            .is_none_or(|p| next.pod_name.as_ref() == Some(p))
        && previous.retries_status.len() == next.retries_status.len()
        && !next.phase.is_some_and(Phase::is_terminal)
}

/// What this process last did to each run's status, and when.
pub struct Writes(Mutex<Expiring<Key, Last>>);

/// A run by namespace, name and UID: a run deleted and created again under
/// the same name is another run, with nothing of the first one's record.
type Key = (String, String, String);

enum Last {
    /// Wrote it, computed from this resourceVersion of the run.
    Wrote(Option<String>),
    /// Created the run's first pod, running this Task, and wrote nothing
    /// yet (a pod that ends in the window may have lost its annotation in
    /// the cache by the time its status is written).
    Started(Box<TaskSpec>),
}

impl Default for Writes {
    fn default() -> Self {
        Writes(Mutex::new(Expiring::new(REMEMBER)))
    }
}

fn key(run: &TaskRun) -> Key {
    (
        run.namespace().unwrap_or_default(),
        run.name_any(),
        run.uid().unwrap_or_default(),
    )
}

impl Writes {
    /// True while the cache shows the version of `run` that our last write
    /// replaced.
    pub fn is_stale(&self, run: &TaskRun, now: Instant) -> bool {
        let mut writes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = key(run);
        let Some((Last::Wrote(over), age)) = writes.get(&key, now) else {
            return false;
        };
        let stale = over.is_some() && *over == run.metadata.resource_version;
        if !stale && age >= WINDOW {
            // Seen and no longer needed for the window: forget it.
            writes.remove(&key);
        }
        stale
    }

    /// How long a write that may wait should wait: the rest of the window
    /// since this run's last write.
    pub fn hold_back(&self, run: &TaskRun, now: Instant) -> Option<Duration> {
        let writes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (_, age) = writes.get(&key(run), now)?;
        WINDOW.checked_sub(age).filter(|left| !left.is_zero())
    }

    /// Opens the window of a run whose first pod this process just created
    /// to run `task`.
    pub fn started(&self, run: &TaskRun, task: Box<TaskSpec>, now: Instant) {
        let mut writes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        writes.insert(key(run), Last::Started(task), now);
    }

    /// The Task of a run started by this process and not written since.
    pub fn started_with(&self, run: &TaskRun, now: Instant) -> Option<Box<TaskSpec>> {
        let writes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match writes.get(&key(run), now)? {
            (Last::Started(task), _) => Some(task.clone()),
            (Last::Wrote(_), _) => None,
        }
    }

    /// Remembers a write computed from `run`, as it is in the cache.
    pub fn wrote(&self, run: &TaskRun, now: Instant) {
        let mut writes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        writes.insert(key(run), Last::Wrote(run.metadata.resource_version.clone()), now);
    }

    /// Runs remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{task, taskrun};

    fn status(phase: Phase, pod: Option<&str>) -> TaskRunStatus {
        TaskRunStatus {
            phase: Some(phase),
            pod_name: pod.map(str::to_string),
            task_spec: Some(Box::new(task(&["a"]))),
            ..TaskRunStatus::default()
        }
    }

    #[test]
    fn only_the_progress_of_one_attempts_pod_may_wait() {
        let pending = status(Phase::Pending, Some("p"));
        let running = status(Phase::Running, Some("p"));
        assert!(may_wait(&pending, &running));
        assert!(may_wait(&TaskRunStatus::default(), &pending), "the pod just created");
        assert!(
            !may_wait(&TaskRunStatus::default(), &status(Phase::Pending, None)),
            "no pod: a missing Task, a refused pod"
        );
        assert!(!may_wait(&running, &status(Phase::Succeeded, Some("p"))), "the end");
        assert!(!may_wait(&running, &status(Phase::Failed, Some("p"))));
        assert!(
            !may_wait(&running, &status(Phase::Pending, Some("p-retry1"))),
            "a new attempt"
        );
        let mut retried = running.clone();
        retried.retries_status.push(Default::default());
        assert!(!may_wait(&running, &retried));
    }

    #[test]
    fn a_pod_just_created_opens_the_window_without_a_write() {
        let writes = Writes::default();
        let start = Instant::now();
        let run = taskrun("r", "t");
        writes.started(&run, Box::new(task(&["a"])), start);
        assert!(!writes.is_stale(&run, start), "nothing written, nothing stale");
        assert_eq!(writes.hold_back(&run, start), Some(WINDOW));
        assert_eq!(writes.hold_back(&run, start + WINDOW), None);
        assert!(!writes.is_stale(&run, start + WINDOW));
        assert_eq!(
            writes.started_with(&run, start + WINDOW).map(|t| t.steps.len()),
            Some(1),
            "the Task is known until the first write"
        );
        let mut again = run.clone();
        again.metadata.uid = Some("another".into());
        assert!(
            writes.started_with(&again, start).is_none(),
            "a run created again under the same name starts afresh"
        );
        writes.wrote(&run, start + WINDOW);
        assert!(writes.started_with(&run, start + WINDOW).is_none());
    }

    #[test]
    fn a_run_is_stale_until_the_watch_brings_our_write_and_progress_waits_for_the_window() {
        let writes = Writes::default();
        let start = Instant::now();
        let mut run = taskrun("r", "t");
        run.metadata.resource_version = Some("10".into());
        assert!(!writes.is_stale(&run, start) && writes.hold_back(&run, start).is_none());

        writes.wrote(&run, start);
        assert!(writes.is_stale(&run, start), "the cache still shows version 10");
        let ms = Duration::from_millis;
        assert_eq!(writes.hold_back(&run, start + ms(300)), Some(ms(700)));

        run.metadata.resource_version = Some("11".into());
        assert!(!writes.is_stale(&run, start + ms(300)), "the watch brought our write");
        assert_eq!(writes.len(), 1, "still needed for the window");
        assert_eq!(writes.hold_back(&run, start + WINDOW), None, "the window has passed");
        assert!(!writes.is_stale(&run, start + WINDOW));
        assert!(writes.is_empty(), "forgotten once seen and the window has passed");

        run.metadata.resource_version = Some("12".into());
        writes.wrote(&run, start);
        assert!(
            !writes.is_stale(&run, start + REMEMBER),
            "a watch that never brings it is not waited for"
        );
    }
}
