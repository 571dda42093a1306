//! What one look at a schedule does: which fire time is due, whether it
//! starts a run, which runs it cancels first, what it skips and why.
//!
//! Exactly once: a fire time's run is named after it (`run_name`), so a
//! second start, by this replica after a crash or by the next holder of
//! the shard, is refused by the API server. After downtime only the latest
//! missed fire time may start (no storm), and only within the deadline.

use jiff::Timestamp;
use minitask_api::{ConcurrencyPolicy, Schedule, triggered_name};

use super::Cron;

/// How many missed fire times are counted one by one after downtime.
const MAX_COUNTED: i64 = 1000;

/// A run of the Trigger that has not ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Running {
    pub name: String,
}

/// What to do now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Start the run of this fire time (named `run_name(trigger, time)`).
    pub fire: Option<Timestamp>,
    /// Cancel these runs first (`Replace`).
    pub cancel: Vec<String>,
    /// Fire times skipped now, by reason.
    pub skipped: Vec<(&'static str, i64)>,
    /// The fire time handled now: the status's `lastFireTime`.
    pub handled: Option<Timestamp>,
    /// The next fire time: the status's `nextFireTime`, and when to look again.
    pub next: Option<Timestamp>,
}

/// The name of the run of `trigger` for fire time `at`: minutes since the
/// epoch, as a CronJob names its Jobs.
pub fn run_name(trigger: &str, at: Timestamp) -> String {
    triggered_name(trigger, &(at.as_second().div_euclid(60)).to_string())
}

/// Plans a look at `trigger`'s schedule at `now`. `last` is the last fire
/// time handled (None: none since `created`).
pub fn plan(
    trigger: &str,
    cron: &Cron,
    schedule: &Schedule,
    last: Option<Timestamp>,
    created: Timestamp,
    now: Timestamp,
    running: &[Running],
) -> Plan {
    let since = last.unwrap_or(created);
    let next = cron.next_after(now.max(since));
    let mut plan = Plan {
        next,
        ..Plan::default()
    };
    let Some(latest) = cron.last_at_or_before(now).filter(|t| *t > since) else {
        return plan;
    };
    plan.handled = Some(latest);
    // The fire times between the last handled one and the latest were
    // missed (the controller was down): counted, never started.
    let mut missed = 0;
    let mut t = since;
    while let Some(at) = cron.next_after(t).filter(|at| *at < latest) {
        missed += 1;
        t = at;
        if missed == MAX_COUNTED {
            break;
        }
    }
    if missed > 0 {
        plan.skipped.push(("Missed", missed));
    }
    if schedule.suspend {
        plan.skipped.push(("Suspended", 1));
        return plan;
    }
    let late = now.duration_since(latest).as_secs();
    if schedule
        .starting_deadline_seconds
        .is_some_and(|deadline| late > deadline)
    {
        plan.skipped.push(("Missed", 1));
        return plan;
    }
    // This fire time's own run (started before a crash) is not "another".
    let own = run_name(trigger, latest);
    let others: Vec<String> = running.iter().map(|r| r.name.clone()).filter(|n| *n != own).collect();
    match schedule.concurrency_policy {
        ConcurrencyPolicy::Forbid if !others.is_empty() => plan.skipped.push(("Forbidden", 1)),
        ConcurrencyPolicy::Replace => {
            plan.cancel = others;
            plan.fire = Some(latest);
        }
        _ => plan.fire = Some(latest),
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::parse;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn every_minute(policy: ConcurrencyPolicy, deadline: Option<i64>) -> (Cron, Schedule) {
        let schedule = Schedule {
            cron: "* * * * *".into(),
            concurrency_policy: policy,
            starting_deadline_seconds: deadline,
            ..Schedule::default()
        };
        (parse(&schedule).unwrap(), schedule)
    }

    fn running(names: &[&str]) -> Vec<Running> {
        names.iter().map(|n| Running { name: n.to_string() }).collect()
    }

    #[test]
    fn a_due_fire_time_starts_once_and_the_next_is_said() {
        let (cron, s) = every_minute(ConcurrencyPolicy::Allow, None);
        let created = at("2026-12-03T10:00:10Z");
        let before = plan("t", &cron, &s, None, created, at("2026-12-03T10:00:50Z"), &[]);
        assert_eq!(before.fire, None);
        assert_eq!(before.next, Some(at("2026-12-03T10:01:00Z")));
        let due = plan("t", &cron, &s, None, created, at("2026-12-03T10:01:02Z"), &[]);
        assert_eq!(due.fire, Some(at("2026-12-03T10:01:00Z")));
        assert_eq!(due.handled, due.fire);
        assert_eq!(due.next, Some(at("2026-12-03T10:02:00Z")));
        // Once recorded, the same fire time is not due again, even when the
        // clock steps back.
        let again = plan("t", &cron, &s, due.handled, created, at("2026-12-03T10:01:30Z"), &[]);
        assert_eq!(again.fire, None);
        let stepped_back = plan("t", &cron, &s, due.handled, created, at("2026-12-03T09:58:00Z"), &[]);
        assert_eq!(
            (stepped_back.fire, stepped_back.next),
            (None, Some(at("2026-12-03T10:02:00Z")))
        );
        assert_eq!(run_name("t", at("2026-12-03T10:01:00Z")), "t-29938201");
    }

    #[test]
    fn after_downtime_only_the_latest_missed_fire_time_starts_within_the_deadline() {
        let (cron, s) = every_minute(ConcurrencyPolicy::Allow, Some(30));
        let start = at("2026-12-03T10:00:00Z");
        let last = Some(start);
        let soon = plan("t", &cron, &s, last, start, at("2026-12-03T10:10:20Z"), &[]);
        assert_eq!(soon.fire, Some(at("2026-12-03T10:10:00Z")));
        assert_eq!(soon.skipped, vec![("Missed", 9)]);
        let late = plan("t", &cron, &s, last, start, at("2026-12-03T10:10:40Z"), &[]);
        assert_eq!(late.fire, None);
        assert_eq!(late.handled, Some(at("2026-12-03T10:10:00Z")));
        assert_eq!(late.skipped, vec![("Missed", 9), ("Missed", 1)]);
        let years = plan("t", &cron, &s, last, start, at("2030-01-01T00:00:10Z"), &[]);
        assert_eq!(years.skipped[0], ("Missed", MAX_COUNTED));
        assert_eq!(years.fire, Some(at("2030-01-01T00:00:00Z")));
    }

    #[test]
    fn forbid_skips_while_another_runs_and_replace_cancels_it_first() {
        let now = at("2026-12-03T10:02:05Z");
        let last = Some(at("2026-12-03T10:01:00Z"));
        let (cron, forbid) = every_minute(ConcurrencyPolicy::Forbid, None);
        let busy = plan("t", &cron, &forbid, last, now, now, &running(&["t-29938201"]));
        assert_eq!((busy.fire, busy.skipped.clone()), (None, vec![("Forbidden", 1)]));
        assert_eq!(busy.handled, Some(at("2026-12-03T10:02:00Z")));
        // Its own run, started before a crash, does not forbid it.
        let own = plan("t", &cron, &forbid, last, now, now, &running(&["t-29938202"]));
        assert_eq!(own.fire, Some(at("2026-12-03T10:02:00Z")));
        let (cron, replace) = every_minute(ConcurrencyPolicy::Replace, None);
        let replaced = plan(
            "t",
            &cron,
            &replace,
            last,
            now,
            now,
            &running(&["t-29938201", "t-29938202"]),
        );
        assert_eq!(replaced.cancel, vec!["t-29938201".to_string()]);
        assert_eq!(replaced.fire, Some(at("2026-12-03T10:02:00Z")));
    }

    #[test]
    fn a_suspended_schedule_records_and_skips() {
        let (cron, mut s) = every_minute(ConcurrencyPolicy::Allow, None);
        s.suspend = true;
        let last = Some(at("2026-12-03T10:01:00Z"));
        let p = plan(
            "t",
            &cron,
            &s,
            last,
            at("2026-12-03T10:00:00Z"),
            at("2026-12-03T10:02:01Z"),
            &[],
        );
        assert_eq!((p.fire, p.skipped), (None, vec![("Suspended", 1)]));
        assert_eq!(p.handled, Some(at("2026-12-03T10:02:00Z")));
    }
}
