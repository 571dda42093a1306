//! When a run must stop before its pod ends on its own: cancellation, and
//! the timeout, which counts from the TaskRun's creation so that time spent
//! pending (an image that never pulls, a pod that never schedules) counts.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use minitask_api::{Phase, Reason, TaskRun, TaskRunStatus, parse_duration};

/// Why `run`, whose status is now `status`, must be stopped at `now`.
pub fn stop_reason(run: &TaskRun, status: &TaskRunStatus, now: &Time) -> Option<(Reason, String)> {
    if run.spec.cancelled {
        let message = "the run was cancelled (spec.cancelled); its pod and logs are kept".to_string();
        return Some((Reason::Cancelled, message));
    }
    if time_left(run, now)? > Duration::ZERO {
        return None;
    }
    let mut message = format!(
        "the run did not finish within spec.timeout ({}) of its creation",
        run.spec.timeout
    );
    // Say why it never got going: that is what the person has to fix.
    if status.phase.is_none_or(|p| p == Phase::Pending)
        && let Some(why) = &status.message
    {
        message.push_str(&format!("; it was still pending: {why}"));
    }
    Some((Reason::Timeout, message))
}

/// How long until the run times out (zero once it has); None when the run
/// has no creation time yet or an unparsable timeout.
pub fn time_left(run: &TaskRun, now: &Time) -> Option<Duration> {
    let created = run.metadata.creation_timestamp.as_ref()?;
    let timeout = parse_duration(&run.spec.timeout).ok()?;
    let elapsed = (now.0.as_second() - created.0.as_second()).max(0) as u64;
    Some(timeout.saturating_sub(Duration::from_secs(elapsed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::taskrun;
    use k8s_openapi::jiff::Timestamp;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(1_800_000_000 + second).unwrap())
    }

    fn run(timeout: &str, cancelled: bool) -> TaskRun {
        let mut run = taskrun("r", "t");
        run.metadata.creation_timestamp = Some(at(0));
        run.spec.timeout = timeout.into();
        run.spec.cancelled = cancelled;
        run
    }

    fn status(phase: Option<Phase>, message: Option<&str>) -> TaskRunStatus {
        TaskRunStatus {
            phase,
            message: message.map(str::to_string),
            ..TaskRunStatus::default()
        }
    }

    #[test]
    fn runs_stop_when_cancelled_or_out_of_time() {
        struct Case {
            name: &'static str,
            run: TaskRun,
            status: TaskRunStatus,
            now: i64,
            want: Option<(Reason, &'static str)>,
        }
        let waiting = "step \"a\" is waiting: ErrImagePull: no such host";
        let cases = [
            Case {
                name: "in time",
                run: run("1m", false),
                status: status(None, None),
                now: 59,
                want: None,
            },
            Case {
                name: "cancelled, even in time",
                run: run("1m", true),
                status: status(Some(Phase::Running), None),
                now: 1,
                want: Some((
                    Reason::Cancelled,
                    "the run was cancelled (spec.cancelled); its pod and logs are kept",
                )),
            },
            Case {
                name: "timed out while pending says why",
                run: run("1m", false),
                status: status(Some(Phase::Pending), Some(waiting)),
                now: 60,
                want: Some((
                    Reason::Timeout,
                    "the run did not finish within spec.timeout (1m) of its creation; it was still pending: step \"a\" is waiting: ErrImagePull: no such host",
                )),
            },
            Case {
                name: "timed out while running",
                run: run("90s", false),
                status: status(Some(Phase::Running), Some("step \"a\" is running (1 of 1)")),
                now: 500,
                want: Some((
                    Reason::Timeout,
                    "the run did not finish within spec.timeout (90s) of its creation",
                )),
            },
            Case {
                name: "unparsable timeout",
                run: run("soon", false),
                status: status(None, None),
                now: 9999,
                want: None,
            },
        ];
        for case in cases {
            let got = stop_reason(&case.run, &case.status, &at(case.now));
            let got = got.as_ref().map(|(r, m)| (*r, m.as_str()));
            assert_eq!(got, case.want, "{}", case.name);
        }
    }

    #[test]
    fn time_left_counts_from_creation() {
        assert_eq!(time_left(&run("1m", false), &at(20)), Some(Duration::from_secs(40)));
        assert_eq!(time_left(&run("1m", false), &at(600)), Some(Duration::ZERO));
        let mut uncreated = run("1m", false);
        uncreated.metadata.creation_timestamp = None;
        assert_eq!(time_left(&uncreated, &at(1)), None);
    }
}
