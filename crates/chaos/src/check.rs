//! The invariants, checked after the faults on what the watches recorded
//! (a pure function of the record, so it is tested on its own):
//!
//! - every run ends as its steps dictate (phase, reason), or stays as
//!   expected (a run of a missing Task stays Pending);
//! - exactly one pod per attempt: no pod name of a run ever had two pods,
//!   and a run has one pod per attempt it should have made;
//! - no status went back: once a run (a UID) was seen terminal, every
//!   later status the watch showed is that same end;
//! - nothing lost: every run that should end has ended.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use minitask_api::Phase;

/// How a run should end.
#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    pub phase: Phase,
    pub reason: &'static str,
    /// The pods it should have had: one per attempt, 0 when it never starts.
    pub pods: usize,
}

impl Expect {
    pub fn new(phase: Phase, reason: &'static str, pods: usize) -> Expect {
        Expect { phase, reason, pods }
    }
}

/// One run (one UID) as the watch showed it.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub name: String,
    /// When the watch first showed it.
    pub created: Option<Instant>,
    /// Each distinct (phase, reason) in the order the watch showed them.
    pub states: Vec<(Option<Phase>, Option<String>)>,
    /// When the watch first showed it terminal.
    pub ended: Option<Instant>,
    pub deleted: bool,
}

/// What the watches saw.
#[derive(Debug, Default)]
pub struct Record {
    /// By UID.
    pub runs: HashMap<String, Seen>,
    /// By (controlling owner's UID, pod name): every pod UID seen.
    pub pods: HashMap<(String, String), HashSet<String>>,
}

/// What the check found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verdict {
    pub runs: usize,
    pub finished: usize,
    pub duplicates: usize,
    pub lost: usize,
    pub regressions: usize,
    /// One line per broken invariant.
    pub problems: Vec<String>,
    /// From `since` to the last run's end.
    pub drain: Option<Duration>,
    /// The longest any run waited for its end, counted from its creation
    /// or `since`, whichever is later.
    pub longest_wait: Option<Duration>,
}

/// Checks `record` against `expected` (by run name); times are counted
/// from `since` (the last fault).
pub fn verdict(expected: &BTreeMap<String, Expect>, record: &Record, since: Instant) -> Verdict {
    let mut v = Verdict {
        runs: expected.len(),
        ..Verdict::default()
    };
    for ((owner, pod), uids) in &record.pods {
        if uids.len() > 1 && !owner.is_empty() {
            v.duplicates += 1;
            v.problems
                .push(format!("pod {pod} was created {} times for one run", uids.len()));
        }
    }
    for (uid, seen) in &record.runs {
        if let Some(after) = regression(&seen.states) {
            v.regressions += 1;
            v.problems
                .push(format!("run {} ({uid}) went back after its end: {after}", seen.name));
        }
    }
    for (name, expect) in expected {
        let live: Vec<(&String, &Seen)> = record
            .runs
            .iter()
            .filter(|(_, s)| &s.name == name && !s.deleted)
            .collect();
        let [(uid, seen)] = live.as_slice() else {
            v.lost += usize::from(live.is_empty() && expect.phase.is_terminal());
            v.problems
                .push(format!("run {name}: {} live runs under that name", live.len()));
            continue;
        };
        let (phase, reason) = seen.states.last().cloned().unwrap_or_default();
        if phase.is_some_and(Phase::is_terminal) {
            v.finished += 1;
        } else if expect.phase.is_terminal() {
            v.lost += 1;
            v.problems.push(format!(
                "run {name} never ended: last seen {}",
                describe(phase, reason.as_deref())
            ));
            continue;
        }
        if phase != Some(expect.phase) || reason.as_deref() != Some(expect.reason) {
            v.problems.push(format!(
                "run {name} ended {}, not {}",
                describe(phase, reason.as_deref()),
                describe(Some(expect.phase), Some(expect.reason))
            ));
        }
        let pods = record.pods.keys().filter(|(owner, _)| owner == *uid).count();
        if pods != expect.pods {
            v.duplicates += usize::from(pods > expect.pods);
            v.problems
                .push(format!("run {name} had {pods} pods where {} attempts ran", expect.pods));
        }
        if let (Some(ended), Some(created)) = (seen.ended, seen.created) {
            let wait = ended.saturating_duration_since(created.max(since));
            v.longest_wait = Some(v.longest_wait.map_or(wait, |w| w.max(wait)));
            let drain = ended.saturating_duration_since(since);
            v.drain = Some(v.drain.map_or(drain, |d| d.max(drain)));
        }
    }
    v
}

/// The first state after a terminal one that differs from it.
fn regression(states: &[(Option<Phase>, Option<String>)]) -> Option<String> {
    let end = states.iter().position(|(p, _)| p.is_some_and(Phase::is_terminal))?;
    let (phase, reason) = &states[end];
    states[end + 1..].iter().find(|s| *s != &states[end]).map(|(p, r)| {
        format!(
            "{} after {}",
            describe(*p, r.as_deref()),
            describe(*phase, reason.as_deref())
        )
    })
}

fn describe(phase: Option<Phase>, reason: Option<&str>) -> String {
    match phase {
        Some(phase) => format!("{phase:?}/{}", reason.unwrap_or("-")),
        None => "without a status".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(name: &str, states: &[(Phase, &str)], ended: bool) -> Seen {
        let now = Instant::now();
        Seen {
            name: name.into(),
            created: Some(now),
            states: states.iter().map(|(p, r)| (Some(*p), Some(r.to_string()))).collect(),
            ended: ended.then(|| now + Duration::from_secs(2)),
            deleted: false,
        }
    }

    fn pods(record: &mut Record, owner: &str, pods: &[(&str, &str)]) {
        for (name, uid) in pods {
            record
                .pods
                .entry((owner.into(), name.to_string()))
                .or_default()
                .insert(uid.to_string());
        }
    }

    fn expected(rows: &[(&str, Expect)]) -> BTreeMap<String, Expect> {
        rows.iter().map(|(n, e)| (n.to_string(), e.clone())).collect()
    }

    #[test]
    fn runs_that_end_as_expected_with_one_pod_per_attempt_hold() {
        let mut record = Record::default();
        let running = (Phase::Running, "Running");
        record.runs.insert(
            "u1".into(),
            seen("a", &[running, (Phase::Succeeded, "Succeeded")], true),
        );
        record.runs.insert(
            "u2".into(),
            seen(
                "b",
                &[running, (Phase::Pending, "Retrying"), (Phase::Succeeded, "Succeeded")],
                true,
            ),
        );
        record
            .runs
            .insert("u3".into(), seen("c", &[(Phase::Pending, "TaskNotFound")], false));
        pods(&mut record, "u1", &[("a-pod", "p1")]);
        pods(&mut record, "u2", &[("b-pod", "p2"), ("b-pod-retry1", "p3")]);
        // A foreign pod under a run's pod name is not the controller's.
        pods(&mut record, "", &[("x-pod", "p4"), ("x-pod", "p5")]);
        let want = expected(&[
            ("a", Expect::new(Phase::Succeeded, "Succeeded", 1)),
            ("b", Expect::new(Phase::Succeeded, "Succeeded", 2)),
            ("c", Expect::new(Phase::Pending, "TaskNotFound", 0)),
        ]);
        let v = verdict(&want, &record, Instant::now());
        assert_eq!(v.problems, Vec::<String>::new());
        assert_eq!(
            (v.runs, v.finished, v.duplicates, v.lost, v.regressions),
            (3, 2, 0, 0, 0)
        );
        assert!(v.longest_wait.is_some() && v.drain.is_some());
    }

    #[test]
    fn duplicates_losses_regressions_and_wrong_ends_are_found() {
        let mut record = Record::default();
        let ok = (Phase::Succeeded, "Succeeded");
        // Two pods under one name, and a retry pod that should not exist.
        record.runs.insert("u1".into(), seen("dup", &[ok], true));
        pods(
            &mut record,
            "u1",
            &[("dup-pod", "p1"), ("dup-pod", "p2"), ("dup-pod-retry1", "p3")],
        );
        // Never ended.
        record
            .runs
            .insert("u2".into(), seen("slow", &[(Phase::Running, "Running")], false));
        pods(&mut record, "u2", &[("slow-pod", "p4")]);
        // Went back from its end.
        record
            .runs
            .insert("u3".into(), seen("back", &[ok, (Phase::Running, "Running"), ok], true));
        pods(&mut record, "u3", &[("back-pod", "p5")]);
        // Failed where it should have succeeded.
        record
            .runs
            .insert("u4".into(), seen("wrong", &[(Phase::Failed, "PodDeleted")], true));
        pods(&mut record, "u4", &[("wrong-pod", "p6")]);
        let want = expected(&[
            ("dup", Expect::new(Phase::Succeeded, "Succeeded", 1)),
            ("slow", Expect::new(Phase::Succeeded, "Succeeded", 1)),
            ("back", Expect::new(Phase::Succeeded, "Succeeded", 1)),
            ("wrong", Expect::new(Phase::Succeeded, "Succeeded", 1)),
            ("missing", Expect::new(Phase::Succeeded, "Succeeded", 1)),
        ]);
        let v = verdict(&want, &record, Instant::now());
        assert_eq!(
            (v.duplicates, v.lost, v.regressions, v.finished),
            (2, 2, 1, 3),
            "{:?}",
            v.problems
        );
        let text = v.problems.join("\n");
        for needle in [
            "pod dup-pod was created 2 times",
            "run dup had 2 pods where 1 attempts ran",
            "run slow never ended: last seen Running/Running",
            "run back (u3) went back after its end: Running/Running after Succeeded/Succeeded",
            "run wrong ended Failed/PodDeleted, not Succeeded/Succeeded",
            "run missing: 0 live runs",
        ] {
            assert!(text.contains(needle), "{needle:?} not in:\n{text}");
        }
    }

    #[test]
    fn a_run_created_again_is_judged_by_its_live_incarnation() {
        let mut record = Record::default();
        let mut old = seen("again", &[(Phase::Running, "Running")], false);
        old.deleted = true;
        record.runs.insert("old".into(), old);
        pods(&mut record, "old", &[("again-pod", "p1")]);
        record
            .runs
            .insert("new".into(), seen("again", &[(Phase::Succeeded, "Succeeded")], true));
        pods(&mut record, "new", &[("again-pod", "p2")]);
        let want = expected(&[("again", Expect::new(Phase::Succeeded, "Succeeded", 1))]);
        let v = verdict(&want, &record, Instant::now());
        assert_eq!(v.problems, Vec::<String>::new());
    }
}
