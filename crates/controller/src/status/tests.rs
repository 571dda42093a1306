use super::*;
use crate::fixtures::{task, taskrun};
use crate::pod::{PodOptions, build_pod};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, PodCondition, PodStatus,
};
use k8s_openapi::jiff::Timestamp;

fn at(second: i64) -> Time {
    Time(Timestamp::from_second(1_800_000_000 + second).unwrap())
}

/// What a step's container reports, as the kubelet writes it.
#[derive(Clone)]
enum Step {
    Unreported,
    Waiting(&'static str),
    Running(i64),
    Exited(i32, i64, i64),
}

fn container_status(name: &str, step: &Step) -> Option<ContainerStatus> {
    let state = match step {
        Step::Unreported => return None,
        Step::Waiting(reason) => ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.to_string()),
                message: None,
            }),
            ..ContainerState::default()
        },
        Step::Running(started) => ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(at(*started)),
            }),
            ..ContainerState::default()
        },
        Step::Exited(code, started, finished) => ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: *code,
                reason: Some(if *code == 0 { "Completed" } else { "Error" }.into()),
                started_at: Some(at(*started)),
                finished_at: Some(at(*finished)),
                ..ContainerStateTerminated::default()
            }),
            ..ContainerState::default()
        },
    };
    Some(ContainerStatus {
        name: name.into(),
        state: Some(state),
        ..ContainerStatus::default()
    })
}

/// A pod for steps a, b, c in `phase`, each step reporting as given.
fn pod(phase: &str, steps: [Step; 3]) -> Pod {
    let mut pod = build_pod(&task(&["a", "b", "c"]), &taskrun("r", "t"), 0, &PodOptions::default()).unwrap();
    pod.metadata.creation_timestamp = Some(at(0));
    let statuses: Vec<_> = ["step-a", "step-b", "step-c"]
        .iter()
        .zip(&steps)
        .filter_map(|(n, s)| container_status(n, s))
        .collect();
    let (init, main): (Vec<_>, Vec<_>) = statuses.into_iter().partition(|s| s.name != "step-c");
    pod.status = Some(PodStatus {
        phase: Some(phase.into()),
        init_container_statuses: Some(init),
        container_statuses: Some(main),
        ..PodStatus::default()
    });
    pod
}

/// The projection without a reporter log.
fn project(previous: &TaskRunStatus, pod: Option<&Pod>, now: &Time) -> TaskRunStatus {
    project_status(previous, pod, None, now)
}

fn started() -> TaskRunStatus {
    TaskRunStatus {
        pod_name: Some("r-pod".into()),
        start_time: Some(at(0)),
        task_spec: Some(Box::new(task(&["a", "b", "c"]))),
        ..TaskRunStatus::default()
    }
}

fn condition(status: &TaskRunStatus) -> (&str, &str) {
    let c = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Succeeded")
        .expect("a Succeeded condition");
    (c.status.as_str(), c.reason.as_str())
}

#[test]
fn phases_follow_the_pod() {
    use Step::*;
    struct Case {
        name: &'static str,
        pod: Pod,
        phase: Phase,
        reason: Reason,
        condition: &'static str,
        message: &'static str,
    }
    let unschedulable = {
        let mut p = pod("Pending", [Unreported, Unreported, Unreported]);
        p.status.as_mut().unwrap().conditions = Some(vec![PodCondition {
            type_: "PodScheduled".into(),
            status: "False".into(),
            reason: Some("Unschedulable".into()),
            message: Some("0/1 nodes are available: 1 Insufficient cpu.".into()),
            ..PodCondition::default()
        }]);
        p
    };
    let deadline = {
        let mut p = pod(
            "Failed",
            [Exited(0, 1, 2), Exited(137, 2, 9), Waiting("PodInitializing")],
        );
        p.status.as_mut().unwrap().reason = Some("DeadlineExceeded".into());
        p.status.as_mut().unwrap().message =
            Some("Pod was active on the node longer than the specified deadline".into());
        p
    };
    let evicted = {
        let mut p = pod("Failed", [Exited(0, 1, 2), Unreported, Unreported]);
        p.status.as_mut().unwrap().reason = Some("Evicted".into());
        p.status.as_mut().unwrap().message = Some("The node was low on resource: memory.".into());
        p
    };
    let pod_failed = {
        let mut p = pod("Failed", [Unreported, Unreported, Unreported]);
        p.status.as_mut().unwrap().reason = Some("OutOfcpu".into());
        p.status.as_mut().unwrap().message = Some("Node didn't have enough resource: cpu".into());
        p
    };
    let cases = [
        Case {
            name: "created, nothing reported yet",
            pod: pod("Pending", [Unreported, Unreported, Unreported]),
            phase: Phase::Pending,
            reason: Reason::Pending,
            condition: "Unknown",
            message: "waiting for pod r-pod to start",
        },
        Case {
            name: "unschedulable",
            pod: unschedulable,
            phase: Phase::Pending,
            reason: Reason::Pending,
            condition: "Unknown",
            message: "pod r-pod is not scheduled: 0/1 nodes are available: 1 Insufficient cpu.",
        },
        Case {
            name: "image pull",
            pod: pod(
                "Pending",
                [
                    Waiting("ErrImagePull"),
                    Waiting("PodInitializing"),
                    Waiting("PodInitializing"),
                ],
            ),
            phase: Phase::Pending,
            reason: Reason::Pending,
            condition: "Unknown",
            message: "step \"a\" is waiting: ErrImagePull",
        },
        Case {
            name: "first step running",
            pod: pod(
                "Pending",
                [Running(1), Waiting("PodInitializing"), Waiting("PodInitializing")],
            ),
            phase: Phase::Running,
            reason: Reason::Running,
            condition: "Unknown",
            message: "step \"a\" is running (1 of 3)",
        },
        Case {
            name: "between steps",
            pod: pod(
                "Pending",
                [Exited(0, 1, 2), Waiting("PodInitializing"), Waiting("PodInitializing")],
            ),
            phase: Phase::Running,
            reason: Reason::Running,
            condition: "Unknown",
            message: "step \"a\" finished (1 of 3)",
        },
        Case {
            name: "a later step cannot pull its image",
            pod: pod(
                "Pending",
                [Exited(0, 1, 2), Waiting("ErrImagePull"), Waiting("PodInitializing")],
            ),
            phase: Phase::Running,
            reason: Reason::Running,
            condition: "Unknown",
            message: "step \"b\" is waiting: ErrImagePull",
        },
        Case {
            name: "last step running",
            pod: pod("Running", [Exited(0, 1, 2), Exited(0, 2, 3), Running(3)]),
            phase: Phase::Running,
            reason: Reason::Running,
            condition: "Unknown",
            message: "step \"c\" is running (3 of 3)",
        },
        Case {
            name: "succeeded",
            pod: pod("Succeeded", [Exited(0, 1, 2), Exited(0, 2, 3), Exited(0, 3, 65)]),
            phase: Phase::Succeeded,
            reason: Reason::Succeeded,
            condition: "True",
            message: "all 3 steps succeeded",
        },
        Case {
            name: "second step fails",
            pod: pod("Failed", [Exited(0, 1, 2), Exited(3, 2, 4), Waiting("PodInitializing")]),
            phase: Phase::Failed,
            reason: Reason::StepFailed,
            condition: "False",
            message: "step \"b\" failed with exit code 3; see its output with `kubectl logs r-pod -c step-b`",
        },
        Case {
            name: "timeout",
            pod: deadline,
            phase: Phase::Failed,
            reason: Reason::Timeout,
            condition: "False",
            message: "the run went over spec.timeout and was stopped: Pod was active on the node longer than the specified deadline",
        },
        Case {
            name: "evicted by the kubelet",
            pod: evicted,
            phase: Phase::Failed,
            reason: Reason::PodEvicted,
            condition: "False",
            message: "pod r-pod was evicted by the kubelet of node : The node was low on resource: memory.; nothing in the run failed: set spec.retries to run it again on such disruptions",
        },
        Case {
            name: "a pod failed for another reason",
            pod: pod_failed,
            phase: Phase::Failed,
            reason: Reason::PodFailed,
            condition: "False",
            message: "the pod failed (OutOfcpu): Node didn't have enough resource: cpu",
        },
        Case {
            name: "a sidecar keeps the pod running after the last step",
            pod: pod("Running", [Exited(0, 1, 2), Exited(0, 2, 3), Exited(0, 3, 65)]),
            phase: Phase::Succeeded,
            reason: Reason::Succeeded,
            condition: "True",
            message: "all 3 steps succeeded",
        },
        Case {
            name: "the last step failed while a sidecar runs",
            pod: pod("Running", [Exited(0, 1, 2), Exited(0, 2, 3), Exited(2, 3, 65)]),
            phase: Phase::Failed,
            reason: Reason::StepFailed,
            condition: "False",
            message: "step \"c\" failed with exit code 2; see its output with `kubectl logs r-pod -c step-c`",
        },
    ];
    for case in cases {
        let got = project(&started(), Some(&case.pod), &at(100));
        assert_eq!(got.phase, Some(case.phase), "{}", case.name);
        assert_eq!(got.reason.as_deref(), Some(case.reason.as_str()), "{}", case.name);
        assert_eq!(got.message.as_deref(), Some(case.message), "{}", case.name);
        assert_eq!(condition(&got), (case.condition, case.reason.as_str()), "{}", case.name);
        assert_eq!(got.steps.len(), 3, "{}", case.name);
        assert_eq!(got.completion_time.is_some(), case.phase.is_terminal(), "{}", case.name);
    }
}

#[test]
fn step_states_carry_exit_codes_in_order_and_later_steps_never_ran() {
    use Step::*;
    let got = project(
        &started(),
        Some(&pod(
            "Failed",
            [Exited(0, 1, 2), Exited(3, 2, 4), Waiting("PodInitializing")],
        )),
        &at(9),
    );
    let names: Vec<_> = got
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.container.as_str()))
        .collect();
    assert_eq!(names, [("a", "step-a"), ("b", "step-b"), ("c", "step-c")]);
    assert_eq!(got.steps[0].terminated.as_ref().unwrap().exit_code, 0);
    assert_eq!(got.steps[1].terminated.as_ref().unwrap().exit_code, 3);
    assert!(got.steps[2].terminated.is_none() && got.steps[2].running.is_none());
}

#[test]
fn completion_time_and_duration_come_from_the_last_step() {
    use Step::*;
    let got = project(
        &started(),
        Some(&pod("Succeeded", [Exited(0, 1, 2), Exited(0, 2, 3), Exited(0, 3, 65)])),
        &at(500),
    );
    assert_eq!(got.completion_time, Some(at(65)));
    assert_eq!(got.duration.as_deref(), Some("1m5s"));
}

#[test]
fn a_deleted_pod_fails_a_running_run() {
    let mut running = started();
    running.phase = Some(Phase::Running);
    let got = project(&running, None, &at(30));
    assert_eq!(
        (got.phase, got.reason.as_deref()),
        (Some(Phase::Failed), Some("PodDeleted"))
    );
    assert_eq!(
        got.message.as_deref(),
        Some(
            "pod r-pod was deleted before the run ended; nothing in the run failed: set spec.retries to run it again on such disruptions"
        )
    );
    assert_eq!(got.completion_time, Some(at(30)));
    assert_eq!(condition(&got), ("False", "PodDeleted"));
}

#[test]
fn no_pod_and_no_pod_recorded_changes_nothing() {
    let fresh = TaskRunStatus::default();
    assert_eq!(project(&fresh, None, &at(1)), fresh);
}

#[test]
fn terminal_states_are_sticky() {
    use Step::*;
    let done = project(
        &started(),
        Some(&pod("Succeeded", [Exited(0, 1, 2), Exited(0, 2, 3), Exited(0, 3, 4)])),
        &at(5),
    );
    assert_eq!(project(&done, None, &at(50)), done, "pod deleted after success");
    let failed_pod = pod("Failed", [Exited(1, 1, 2), Unreported, Unreported]);
    assert_eq!(project(&done, Some(&failed_pod), &at(50)), done, "a later pod state");
    let failed = project(&started(), Some(&failed_pod), &at(5));
    let succeeded_pod = pod("Succeeded", [Exited(0, 1, 2), Exited(0, 2, 3), Exited(0, 3, 4)]);
    assert_eq!(project(&failed, Some(&succeeded_pod), &at(50)), failed);
}

#[test]
fn projecting_an_unchanged_pod_again_is_a_no_op() {
    use Step::*;
    let running_pod = pod("Running", [Exited(0, 1, 2), Exited(0, 2, 3), Running(3)]);
    let first = project(&started(), Some(&running_pod), &at(10));
    let again = project(&first, Some(&running_pod), &at(20));
    assert_eq!(first, again, "a later `now` alone must not cause a status write");
}

#[test]
fn the_condition_transition_time_moves_only_when_its_status_does() {
    use Step::*;
    let pending = project(
        &started(),
        Some(&pod("Pending", [Unreported, Unreported, Unreported])),
        &at(1),
    );
    let running = project(
        &pending,
        Some(&pod("Pending", [Running(2), Unreported, Unreported])),
        &at(2),
    );
    let ended = project(
        &running,
        Some(&pod("Succeeded", [Exited(0, 2, 3), Exited(0, 3, 4), Exited(0, 4, 5)])),
        &at(6),
    );
    let times = |s: &TaskRunStatus| s.conditions[0].last_transition_time.clone();
    assert_eq!(times(&running), at(1), "Unknown to Unknown keeps the time");
    assert_eq!(times(&ended), at(6), "Unknown to True moves it");
    assert_eq!(running.conditions.len(), 1);
}

#[test]
fn start_time_falls_back_to_the_pod_creation() {
    use Step::*;
    let mut status = started();
    status.start_time = None;
    let got = project(
        &status,
        Some(&pod("Running", [Running(1), Unreported, Unreported])),
        &at(3),
    );
    assert_eq!(got.start_time, Some(at(0)));
}

fn set_message(pod: &mut Pod, container: &str, message: &str) {
    let status = pod.status.as_mut().unwrap();
    let all = status
        .init_container_statuses
        .iter_mut()
        .flatten()
        .chain(status.container_statuses.iter_mut().flatten());
    for s in all.filter(|s| s.name == container) {
        let t = s.state.as_mut().unwrap().terminated.as_mut().unwrap();
        t.message = Some(message.into());
    }
}

#[test]
fn a_step_that_continued_shows_its_exit_code_and_the_run_goes_on() {
    use Step::*;
    let mut succeeded = pod("Succeeded", [Exited(0, 1, 2), Exited(0, 2, 3), Exited(0, 3, 4)]);
    set_message(&mut succeeded, "step-a", "minitask: continued after exit code 3");
    let status = project(&started(), Some(&succeeded), &at(9));
    assert_eq!(status.phase, Some(Phase::Succeeded));
    assert_eq!(
        status.message.as_deref(),
        Some("all 3 steps ran; step \"a\" failed with exit code 3 (onError: continue)")
    );
    let a = status.steps[0].terminated.as_ref().unwrap();
    assert_eq!((a.exit_code, a.reason.as_deref()), (3, Some(CONTINUED_REASON)));

    let mut failed = pod("Failed", [Exited(0, 1, 2), Exited(0, 2, 3), Exited(1, 3, 4)]);
    set_message(&mut failed, "step-a", "minitask: continued after exit code 3");
    let status = project(&started(), Some(&failed), &at(9));
    assert_eq!(status.reason.as_deref(), Some("StepFailed"));
    assert!(
        status
            .message
            .unwrap()
            .starts_with("step \"c\" failed with exit code 1")
    );
}

/// A pod for steps a, b, c and the results reporter, all steps done; the
/// reporter exited with `code` and termination message `message`.
fn with_reporter(phase: &str, code: i32, message: &str) -> Pod {
    let mut spec = task(&["a", "b", "c"]);
    spec.results = vec![minitask_api::ResultSpec {
        name: "digest".into(),
        description: None,
    }];
    let mut pod = build_pod(&spec, &taskrun("r", "t"), 0, &PodOptions::default()).unwrap();
    let steps: Vec<_> = ["step-a", "step-b", "step-c"]
        .iter()
        .zip([(1, 2), (2, 3), (3, 4)])
        .filter_map(|(n, (a, b))| container_status(n, &Step::Exited(0, a, b)))
        .collect();
    let mut reporter = container_status(REPORTER, &Step::Exited(code, 4, 5)).unwrap();
    let t = reporter.state.as_mut().unwrap().terminated.as_mut().unwrap();
    t.message = Some(message.into());
    pod.status = Some(PodStatus {
        phase: Some(phase.into()),
        init_container_statuses: Some(steps),
        container_statuses: Some(vec![reporter]),
        ..PodStatus::default()
    });
    pod
}

#[test]
fn results_come_from_the_reporter_or_fail_the_run() {
    let ok = project(
        &started(),
        Some(&with_reporter(
            "Succeeded",
            0,
            "minitask-results ok 13\ndigest 3\nabc\n",
        )),
        &at(9),
    );
    assert_eq!(ok.phase, Some(Phase::Succeeded));
    assert_eq!(ok.completion_time, Some(at(4)), "the last step's end is the run's end");
    let got: Vec<(String, String)> = ok.results.into_iter().map(|r| (r.name, r.value)).collect();
    assert_eq!(got, [("digest".to_string(), "abc".to_string())]);

    let big = project(
        &started(),
        Some(&with_reporter(
            "Failed",
            1,
            "minitask-results too-large 12\ndigest 9000\n",
        )),
        &at(9),
    );
    assert_eq!(big.phase, Some(Phase::Failed));
    assert_eq!(big.reason.as_deref(), Some("ResultsTooLarge"));
    assert!(big.message.unwrap().contains("digest is 9000 bytes"));
    assert!(big.results.is_empty());

    let broken = project(&started(), Some(&with_reporter("Failed", 137, "")), &at(9));
    assert_eq!(broken.reason.as_deref(), Some("ResultsFailed"));
    assert_eq!(
        broken.message.as_deref(),
        Some(
            "every step succeeded, but container minitask-results could not report the results: exit code 137 (Error); see `kubectl logs r-pod -c minitask-results`"
        )
    );

    // A sidecar keeps the pod running: the reporter's end is what counts.
    let running = project(
        &started(),
        Some(&with_reporter("Running", 0, "minitask-results ok 0\n")),
        &at(9),
    );
    assert_eq!(running.phase, Some(Phase::Succeeded));
}

#[test]
fn a_report_too_long_for_the_termination_message_is_read_from_the_log() {
    let pod = with_reporter("Succeeded", 0, "minitask-results ok 13\ndigest 3\na");
    assert!(reporter_log_needed(&pod).is_some());
    let waiting = project(&started(), Some(&pod), &at(9));
    assert_eq!(waiting.phase, Some(Phase::Running), "not done until the log is read");
    let done = project_status(&started(), Some(&pod), Some(b"digest 3\nabc\n"), &at(9));
    assert_eq!(done.phase, Some(Phase::Succeeded));
    assert_eq!(done.results[0].value, "abc");
    let cut = project_status(&started(), Some(&pod), Some(b"digest 3\nab"), &at(9));
    assert_eq!(cut.reason.as_deref(), Some("ResultsFailed"));
    let small = with_reporter("Succeeded", 0, "minitask-results ok 13\ndigest 3\nabc\n");
    assert_eq!(
        reporter_log_needed(&small),
        None,
        "no log read when the message holds it all"
    );
}

#[test]
fn an_ended_run_leaves_no_step_running_or_waiting() {
    use Step::*;
    let running = project(
        &started(),
        Some(&pod(
            "Running",
            [Exited(0, 1, 2), Running(3), Waiting("PodInitializing")],
        )),
        &at(10),
    );
    let cancelled = with_outcome(&running, Phase::Failed, Reason::Cancelled, "cancelled".into(), &at(20));
    let b = cancelled.steps[1]
        .terminated
        .as_ref()
        .expect("the running step is stopped");
    assert_eq!(
        (b.exit_code, b.reason.as_deref()),
        (STOPPED_EXIT_CODE, Some(STOPPED_REASON))
    );
    assert_eq!(
        (b.started_at.clone(), b.finished_at.clone()),
        (Some(at(3)), Some(at(20)))
    );
    assert_eq!(b.message.as_deref(), Some("stopped when the run ended (Cancelled)"));
    let c = &cancelled.steps[2];
    assert!(
        c.waiting.is_none() && c.running.is_none() && c.terminated.is_none(),
        "not run: {c:?}"
    );
    assert_eq!(cancelled.steps[0], running.steps[0], "a finished step keeps its state");
}

#[test]
fn a_step_that_could_not_start_says_why_and_has_no_start_time() {
    use Step::*;
    let mut p = pod(
        "Failed",
        [Exited(0, 1, 2), Exited(128, 0, 0), Waiting("PodInitializing")],
    );
    let status = p.status.as_mut().unwrap();
    let b = status.init_container_statuses.as_mut().unwrap()[1]
        .state
        .as_mut()
        .unwrap();
    let t = b.terminated.as_mut().unwrap();
    t.reason = Some("StartError".into());
    t.message = Some("exec: \"nosuchbinary\": executable file not found in $PATH".into());
    t.started_at = Some(Time(Timestamp::UNIX_EPOCH));
    let got = project(&started(), Some(&p), &at(9));
    assert_eq!(
        got.message.as_deref(),
        Some(
            "step \"b\" failed with exit code 128 (StartError: exec: \"nosuchbinary\": executable file not found in $PATH); see its output with `kubectl logs r-pod -c step-b`"
        )
    );
    assert_eq!(
        got.steps[1].terminated.as_ref().unwrap().started_at,
        None,
        "1970 is no time"
    );
}

#[test]
fn a_disrupted_pod_fails_the_run_with_its_cause() {
    use Step::*;
    let mut p = pod("Running", [Exited(0, 1, 2), Running(3), Unreported]);
    p.status.as_mut().unwrap().conditions = Some(vec![PodCondition {
        type_: "DisruptionTarget".into(),
        status: "True".into(),
        reason: Some("EvictionByEvictionAPI".into()),
        message: Some("Eviction API: evicting".into()),
        ..PodCondition::default()
    }]);
    let got = project(&started(), Some(&p), &at(9));
    assert_eq!(got.reason.as_deref(), Some("PodEvicted"));
    // Killed by the eviction, not failed: the step's exit code does not
    // make it a StepFailed.
    let steps = p.status.as_mut().unwrap().init_container_statuses.as_mut().unwrap();
    steps[1] = container_status("step-b", &Exited(143, 3, 8)).unwrap();
    p.status.as_mut().unwrap().phase = Some("Failed".into());
    assert_eq!(
        project(&started(), Some(&p), &at(9)).reason.as_deref(),
        Some("PodEvicted")
    );
}

#[test]
fn a_retry_pod_that_has_not_started_says_which_attempt_it_is() {
    use Step::*;
    let mut previous = started();
    previous.retries_status = vec![minitask_api::AttemptStatus::default()];
    let status = project(
        &previous,
        Some(&pod("Pending", [Unreported, Unreported, Unreported])),
        &at(1),
    );
    assert_eq!(status.reason.as_deref(), Some("Retrying"));
    assert_eq!(
        status.message.as_deref(),
        Some("attempt 2: waiting for pod r-pod to start")
    );
    let running = project(
        &previous,
        Some(&pod("Running", [Running(1), Waiting("PodInitializing"), Unreported])),
        &at(2),
    );
    assert_eq!(running.reason.as_deref(), Some("Running"));
}
