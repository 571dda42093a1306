//! When a run must stop before its pod ends on its own: cancellation; the
//! timeout, which counts from the TaskRun's creation so that time spent
//! pending (an image that never pulls, a pod that never schedules) counts;
//! and a container that has not started for a grace period (an image that
//! does not pull, a Secret key that does not exist).

use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use minitask_api::{Phase, Reason, TaskRun, TaskRunStatus, parse_duration};

use crate::pod::launcher::{PREPARE, REPORTER};
use crate::pod::names::step_of_container;

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
    let elapsed = now.0.as_second().saturating_sub(created.0.as_second()).max(0) as u64;
    Some(timeout.saturating_sub(Duration::from_secs(elapsed)))
}

/// What the containers of a pod that have not started say about the run.
#[derive(Debug, PartialEq)]
pub enum Starting {
    /// No container is stuck.
    Fine,
    /// A container cannot start yet: look again after `left`; the run
    /// fails `at` this time if it has not started by then.
    Failing { left: Duration, at: Time },
    /// A container could not start for good, or for longer than the grace
    /// period: the run fails for this reason.
    Failed(Reason, String),
}

/// Waiting reasons of image pulls that another try may cure (a registry
/// hiccup).
const PULL_RETRYING: [&str; 4] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "RegistryUnavailable",
    "SignatureValidationFailed",
];
/// Waiting reasons of image pulls that no retry cures.
const PULL_HOPELESS: [&str; 2] = ["InvalidImageName", "ErrImageNeverPull"];
/// Waiting reasons of containers the kubelet cannot create, which a change
/// elsewhere may cure (a missing Secret or ConfigMap key created later).
const CREATE_RETRYING: [&str; 5] = [
    "CreateContainerConfigError",
    "CreateContainerError",
    "ImageInspectError",
    "PreCreateHookError",
    "PreStartHookError",
];

/// Checks the containers of `pod` that wait to start, at `now`. An init
/// container starts waiting when the one before it ended (or when the pod
/// started, for the first one), the others when the last init container
/// ended; a pull or creation that has failed for longer than `grace` since
/// then fails the run, and so does a pull that can never succeed. A step's
/// failure is retryable (ImagePullFailed, ContainerCreationFailed); the
/// results reporter's is not (ResultsFailed): the steps run beside it, so
/// they may have run already.
pub fn starting(pod: &Pod, now: &Time, grace: Duration) -> Starting {
    let Some(status) = &pod.status else {
        return Starting::Fine;
    };
    // Init containers run one after another; the others start together
    // once the last init container has ended.
    let statuses: Vec<(bool, &ContainerStatus)> = status
        .init_container_statuses
        .iter()
        .flatten()
        .map(|s| (true, s))
        .chain(status.container_statuses.iter().flatten().map(|s| (false, s)))
        .collect();
    let mut since = status.start_time.clone().or(pod.metadata.creation_timestamp.clone());
    for (init, container) in statuses {
        let state = container.state.clone().unwrap_or_default();
        if let Some(terminated) = &state.terminated {
            if init {
                since = terminated.finished_at.clone().or(since);
            }
            continue;
        }
        let Some(waiting) = state.waiting else { continue };
        let why = waiting.reason.clone().unwrap_or_default();
        let (pull, hopeless, create) = (
            PULL_RETRYING.contains(&why.as_str()),
            PULL_HOPELESS.contains(&why.as_str()),
            CREATE_RETRYING.contains(&why.as_str()),
        );
        if !pull && !hopeless && !create {
            continue;
        }
        let waited = since
            .as_ref()
            .map_or(0, |s| now.0.as_second().saturating_sub(s.0.as_second()).max(0) as u64);
        let waited = Duration::from_secs(waited);
        if !hopeless && waited < grace {
            let since = since.as_ref().map_or(now.0.as_second(), |s| s.0.as_second());
            let at = since.saturating_add(grace.as_secs() as i64);
            let at = Time(k8s_openapi::jiff::Timestamp::from_second(at).unwrap_or(now.0));
            return Starting::Failing {
                left: grace - waited,
                at,
            };
        }
        let step = step_of_container(&container.name);
        let who = match step {
            Some(step) => format!("step {step:?}"),
            None => format!("container {:?}", container.name),
        };
        let detail = waiting.message.map(|m| format!(": {m}")).unwrap_or_default();
        let tried = match hopeless {
            false => format!(" for {}", minitask_api::format_duration(waited)),
            true => String::new(),
        };
        let (reason, mut message) = match create {
            false => (
                Reason::ImagePullFailed,
                format!(
                    "{who} could not pull image {:?}{tried} ({why}{detail}); check the image name, that it exists, and the pull secrets (podTemplate.imagePullSecrets)",
                    container.image
                ),
            ),
            true => (
                Reason::ContainerCreationFailed,
                format!(
                    "{who} could not start{tried} ({why}{detail}); check the Secrets and ConfigMaps its env and volumes name"
                ),
            ),
        };
        if [PREPARE, REPORTER].contains(&container.name.as_str()) {
            message.push_str("; this is the launcher image, the controller's --launcher-image");
        }
        if container.name == REPORTER {
            let message = format!("the results cannot be reported: {message}");
            return Starting::Failed(Reason::ResultsFailed, message);
        }
        return Starting::Failed(reason, message);
    }
    Starting::Fine
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
    fn containers_that_cannot_start_fail_the_run_after_the_grace_period() {
        let grace = Duration::from_secs(300);
        let pull_failed = |who: &str, image: &str, tried: &str, why: &str| {
            format!(
                "{who} could not pull image \"{image}\"{tried} ({why}: no such host); check the image name, that it exists, and the pull secrets (podTemplate.imagePullSecrets)"
            )
        };
        let cases = [
            ("nothing waits", pulling(&[("step-a", None, Some(5))]), 1000, Starting::Fine),
            (
                "container creation is not a problem",
                pulling(&[("step-a", Some("ContainerCreating"), None)]),
                1000,
                Starting::Fine,
            ),
            (
                "within the grace period",
                pulling(&[("step-a", Some("ImagePullBackOff"), None)]),
                100,
                Starting::Failing {
                    left: Duration::from_secs(200),
                    at: at(300),
                },
            ),
            (
                "the grace period counts from the previous step's end",
                pulling(&[("step-a", None, Some(250)), ("step-b", Some("ErrImagePull"), None)]),
                400,
                Starting::Failing {
                    left: Duration::from_secs(150),
                    at: at(550),
                },
            ),
            (
                "past the grace period",
                pulling(&[("step-a", Some("ErrImagePull"), None)]),
                301,
                Starting::Failed(Reason::ImagePullFailed, pull_failed("step \"a\"", "step-a:1", " for 5m1s", "ErrImagePull")),
            ),
            (
                "an invalid name fails at once",
                pulling(&[("step-a", Some("InvalidImageName"), None)]),
                1,
                Starting::Failed(Reason::ImagePullFailed, pull_failed("step \"a\"", "step-a:1", "", "InvalidImageName")),
            ),
            (
                "a missing Secret key, within the grace period",
                pulling(&[("step-a", Some("CreateContainerConfigError"), None)]),
                10,
                Starting::Failing {
                    left: Duration::from_secs(290),
                    at: at(300),
                },
            ),
            (
                "a missing Secret key, past it",
                pulling(&[("step-a", Some("CreateContainerConfigError"), None)]),
                300,
                Starting::Failed(
                    Reason::ContainerCreationFailed,
                    "step \"a\" could not start for 5m0s (CreateContainerConfigError: no such host); check the Secrets and ConfigMaps its env and volumes name".into(),
                ),
            ),
            (
                "the reporter's image is not a reason to run the steps again, and says where it comes from",
                pulling(&[("step-a", None, Some(5)), ("minitask-results", Some("InvalidImageName"), None)]),
                6,
                Starting::Failed(
                    Reason::ResultsFailed,
                    format!(
                        "the results cannot be reported: {}; this is the launcher image, the controller's --launcher-image",
                        pull_failed("container \"minitask-results\"", "minitask-results:1", "", "InvalidImageName")
                    ),
                ),
            ),
        ];
        for (name, pod, now, want) in cases {
            assert_eq!(starting(&pod, &at(now), grace), want, "{name}");
        }
    }
}
