//! When a run must stop before its pod ends on its own: cancellation; the
//! timeout, which counts from the TaskRun's creation so that time spent
//! pending (an image that never pulls, a pod that never schedules) counts;
//! and an image that has not pulled for a grace period.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use minitask_api::{Phase, Reason, TaskRun, TaskRunStatus, parse_duration};

use crate::names::step_of_container;

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

/// What the image pulls of a pod say about the run.
#[derive(Debug, PartialEq)]
pub enum Pulls {
    /// No container is failing to pull.
    Fine,
    /// A pull is failing; look again after this long.
    Failing(Duration),
    /// A pull failed for good, or for longer than the grace period.
    Failed(String),
}

/// Waiting reasons that another try may cure (a registry hiccup).
const PULL_RETRYING: [&str; 2] = ["ErrImagePull", "ImagePullBackOff"];
/// Waiting reasons that no retry cures.
const PULL_HOPELESS: [&str; 2] = ["InvalidImageName", "ErrImageNeverPull"];

/// Checks the containers of `pod` for failing image pulls at `now`. A
/// container starts waiting for its image when the one before it ended (or
/// when the pod started, for the first one); a pull that has failed for
/// longer than `grace` since then fails the run, and so does one that can
/// never succeed.
pub fn image_pulls(pod: &Pod, now: &Time, grace: Duration) -> Pulls {
    let Some(status) = &pod.status else {
        return Pulls::Fine;
    };
    let statuses: Vec<&ContainerStatus> = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .collect();
    let mut since = status.start_time.clone().or(pod.metadata.creation_timestamp.clone());
    for container in statuses {
        let state = container.state.clone().unwrap_or_default();
        if let Some(terminated) = &state.terminated {
            since = terminated.finished_at.clone().or(since);
            continue;
        }
        let Some(waiting) = state.waiting else { continue };
        let reason = waiting.reason.clone().unwrap_or_default();
        let (hopeless, retrying) = (
            PULL_HOPELESS.contains(&reason.as_str()),
            PULL_RETRYING.contains(&reason.as_str()),
        );
        if !hopeless && !retrying {
            continue;
        }
        let waited = since
            .as_ref()
            .map_or(0, |s| (now.0.as_second() - s.0.as_second()).max(0) as u64);
        let waited = Duration::from_secs(waited);
        if retrying && waited < grace {
            return Pulls::Failing(grace - waited);
        }
        let who = match step_of_container(&container.name) {
            Some(step) => format!("step {step:?}"),
            None => format!("container {:?}", container.name),
        };
        let detail = waiting.message.map(|m| format!(": {m}")).unwrap_or_default();
        let tried = match retrying {
            true => format!(" for {}", minitask_api::format_duration(waited)),
            false => String::new(),
        };
        return Pulls::Failed(format!(
            "{who} could not pull image {:?}{tried} ({reason}{detail}); check the image name, that it exists, and the pull secrets (podTemplate.imagePullSecrets)",
            container.image
        ));
    }
    Pulls::Fine
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

    fn pulling(states: &[(&str, Option<&str>, Option<i64>)]) -> Pod {
        use k8s_openapi::api::core::v1::{ContainerState, ContainerStateTerminated, ContainerStateWaiting, PodStatus};
        let statuses = states
            .iter()
            .map(|(name, waiting, finished)| ContainerStatus {
                name: name.to_string(),
                image: format!("{name}:1"),
                state: Some(ContainerState {
                    waiting: waiting.map(|r| ContainerStateWaiting {
                        reason: Some(r.into()),
                        message: Some("no such host".into()),
                    }),
                    terminated: finished.map(|f| ContainerStateTerminated {
                        finished_at: Some(at(f)),
                        ..ContainerStateTerminated::default()
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            })
            .collect();
        Pod {
            status: Some(PodStatus {
                start_time: Some(at(0)),
                init_container_statuses: Some(statuses),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn image_pulls_fail_after_the_grace_period_or_at_once_when_hopeless() {
        let grace = Duration::from_secs(300);
        let cases = [
            ("nothing waits", pulling(&[("step-a", None, Some(5))]), 1000, Pulls::Fine),
            (
                "container creation is not a pull",
                pulling(&[("step-a", Some("ContainerCreating"), None)]),
                1000,
                Pulls::Fine,
            ),
            (
                "within the grace period",
                pulling(&[("step-a", Some("ImagePullBackOff"), None)]),
                100,
                Pulls::Failing(Duration::from_secs(200)),
            ),
            (
                "the grace period counts from the previous step's end",
                pulling(&[("step-a", None, Some(250)), ("step-b", Some("ErrImagePull"), None)]),
                400,
                Pulls::Failing(Duration::from_secs(150)),
            ),
            (
                "past the grace period",
                pulling(&[("step-a", Some("ErrImagePull"), None)]),
                301,
                Pulls::Failed("step \"a\" could not pull image \"step-a:1\" for 5m1s (ErrImagePull: no such host); check the image name, that it exists, and the pull secrets (podTemplate.imagePullSecrets)".into()),
            ),
            (
                "an invalid name fails at once",
                pulling(&[("minitask-results", Some("InvalidImageName"), None)]),
                1,
                Pulls::Failed("container \"minitask-results\" could not pull image \"minitask-results:1\" (InvalidImageName: no such host); check the image name, that it exists, and the pull secrets (podTemplate.imagePullSecrets)".into()),
            ),
        ];
        for (name, pod, now, want) in cases {
            assert_eq!(image_pulls(&pod, &at(now), grace), want, "{name}");
        }
    }
}
