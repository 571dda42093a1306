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

fn started() -> TaskRunStatus {
    TaskRunStatus {
        pod_name: Some("r-pod".into()),
        start_time: Some(at(0)),
        task_spec: Some(task(&["a", "b", "c"])),
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
            name: "evicted",
            pod: evicted,
            phase: Phase::Failed,
            reason: Reason::PodFailed,
            condition: "False",
            message: "the pod failed (Evicted): The node was low on resource: memory.",
        },
    ];
    for case in cases {
        let got = project_status(&started(), Some(&case.pod), &at(100));
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
    let got = project_status(
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
    let got = project_status(
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
    let got = project_status(&running, None, &at(30));
    assert_eq!(
        (got.phase, got.reason.as_deref()),
        (Some(Phase::Failed), Some("PodDeleted"))
    );
    assert_eq!(
        got.message.as_deref(),
        Some("pod r-pod was deleted before the run ended; start a new run")
    );
    assert_eq!(got.completion_time, Some(at(30)));
    assert_eq!(condition(&got), ("False", "PodDeleted"));
}

#[test]
fn no_pod_and_no_pod_recorded_changes_nothing() {
    let fresh = TaskRunStatus::default();
    assert_eq!(project_status(&fresh, None, &at(1)), fresh);
}

#[test]
fn terminal_states_are_sticky() {
    use Step::*;
    let done = project_status(
        &started(),
        Some(&pod("Succeeded", [Exited(0, 1, 2), Exited(0, 2, 3), Exited(0, 3, 4)])),
        &at(5),
    );
    assert_eq!(project_status(&done, None, &at(50)), done, "pod deleted after success");
    let failed_pod = pod("Failed", [Exited(1, 1, 2), Unreported, Unreported]);
    assert_eq!(
        project_status(&done, Some(&failed_pod), &at(50)),
        done,
        "a later pod state"
    );
    let failed = project_status(&started(), Some(&failed_pod), &at(5));
    let succeeded_pod = pod("Succeeded", [Exited(0, 1, 2), Exited(0, 2, 3), Exited(0, 3, 4)]);
    assert_eq!(project_status(&failed, Some(&succeeded_pod), &at(50)), failed);
}

#[test]
fn projecting_an_unchanged_pod_again_is_a_no_op() {
    use Step::*;
    let running_pod = pod("Running", [Exited(0, 1, 2), Exited(0, 2, 3), Running(3)]);
    let first = project_status(&started(), Some(&running_pod), &at(10));
    let again = project_status(&first, Some(&running_pod), &at(20));
    assert_eq!(first, again, "a later `now` alone must not cause a status write");
}

#[test]
fn the_condition_transition_time_moves_only_when_its_status_does() {
    use Step::*;
    let pending = project_status(
        &started(),
        Some(&pod("Pending", [Unreported, Unreported, Unreported])),
        &at(1),
    );
    let running = project_status(
        &pending,
        Some(&pod("Pending", [Running(2), Unreported, Unreported])),
        &at(2),
    );
    let ended = project_status(
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
    let got = project_status(
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
    let status = project_status(&started(), Some(&succeeded), &at(9));
    assert_eq!(status.phase, Some(Phase::Succeeded));
    assert_eq!(
        status.message.as_deref(),
        Some("all 3 steps ran; step \"a\" failed with exit code 3 (onError: continue)")
    );
    let a = status.steps[0].terminated.as_ref().unwrap();
    assert_eq!((a.exit_code, a.reason.as_deref()), (3, Some(CONTINUED_REASON)));

    let mut failed = pod("Failed", [Exited(0, 1, 2), Exited(0, 2, 3), Exited(1, 3, 4)]);
    set_message(&mut failed, "step-a", "minitask: continued after exit code 3");
    let status = project_status(&started(), Some(&failed), &at(9));
    assert_eq!(status.reason.as_deref(), Some("StepFailed"));
    assert!(
        status
            .message
            .unwrap()
            .starts_with("step \"c\" failed with exit code 1")
    );
}

#[test]
fn results_come_from_the_reporter_or_fail_the_run() {
    use Step::*;
    let with_reporter = |phase: &str, code: i32, message: &str| {
        let mut p = pod(phase, [Exited(0, 1, 2), Exited(0, 2, 3), Exited(0, 3, 4)]);
        let mut reporter = container_status(REPORTER, &Exited(code, 4, 5)).unwrap();
        let t = reporter.state.as_mut().unwrap().terminated.as_mut().unwrap();
        t.message = Some(message.into());
        p.status
            .as_mut()
            .unwrap()
            .container_statuses
            .as_mut()
            .unwrap()
            .push(reporter);
        p
    };
    let ok = project_status(
        &started(),
        Some(&with_reporter("Succeeded", 0, "digest 3\nabc\n")),
        &at(9),
    );
    assert_eq!(ok.phase, Some(Phase::Succeeded));
    assert_eq!(ok.completion_time, Some(at(4)), "the last step's end is the run's end");
    let got: Vec<(String, String)> = ok.results.into_iter().map(|r| (r.name, r.value)).collect();
    assert_eq!(got, [("digest".to_string(), "abc".to_string())]);

    let big = project_status(
        &started(),
        Some(&with_reporter("Failed", 1, "TOO-LARGE\nlog 9000\n")),
        &at(9),
    );
    assert_eq!(big.phase, Some(Phase::Failed));
    assert_eq!(big.reason.as_deref(), Some("ResultsTooLarge"));
    assert!(big.message.unwrap().contains("log is 9000 bytes"));
    assert!(big.results.is_empty());
}

#[test]
fn a_retry_pod_that_has_not_started_says_which_attempt_it_is() {
    use Step::*;
    let mut previous = started();
    previous.retries_status = vec![minitask_api::AttemptStatus::default()];
    let status = project_status(
        &previous,
        Some(&pod("Pending", [Unreported, Unreported, Unreported])),
        &at(1),
    );
    assert_eq!(status.reason.as_deref(), Some("Retrying"));
    assert_eq!(
        status.message.as_deref(),
        Some("attempt 2: waiting for pod r-pod to start")
    );
    let running = project_status(
        &previous,
        Some(&pod("Running", [Running(1), Waiting("PodInitializing"), Unreported])),
        &at(2),
    );
    assert_eq!(running.reason.as_deref(), Some("Running"));
}
