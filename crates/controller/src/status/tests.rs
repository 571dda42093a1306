use super::*;
use crate::fixtures::{task, taskrun};
use crate::pod::{PodOptions, build_pod};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    PodCondition, PodStatus,
};
use k8s_openapi::jiff::Timestamp;
use minitask_launcher::record::{Record, State};

fn at(second: i64) -> Time {
    Time(Timestamp::from_second(1_800_000_000 + second).unwrap())
}

/// What a step's container reports, as the kubelet writes it.
#[derive(Clone)]
enum Step {
    Unreported,
    Waiting(&'static str),
    Running(i64),
    /// Ended with the launcher's record of this state.
    Ended(State, i32, i64, i64),
    /// Ended with exit code 0 or 1 (succeeded or failed), as its launcher
    /// records it.
    Exited(i32, i64, i64),
    /// Ended without a record: killed (out of memory, evicted).
    Killed(i32, i64, i64),
}

fn record(state: State, code: i32, started: i64, finished: i64) -> String {
    let ms = |t: i64| (1_800_000_000 + t) as u64 * 1000;
    Record {
        state,
        exit_code: code,
        started_ms: ms(started),
        finished_ms: ms(finished),
        message: String::new(),
    }
    .encode(4096)
}

fn container_status(name: &str, step: &Step) -> Option<ContainerStatus> {
    let terminated = |code: i32, started: i64, finished: i64, message: Option<String>| ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: code,
            reason: Some(if code == 0 { "Completed" } else { "Error" }.into()),
            message,
            started_at: Some(at(started)),
            finished_at: Some(at(finished)),
            ..ContainerStateTerminated::default()
        }),
        ..ContainerState::default()
    };
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
        Step::Ended(state, code, started, finished) => {
            let exit = if state.lets_next_run() || *state == State::Skipped {
                0
            } else {
                *code
            };
            terminated(
                exit,
                *started,
                *finished,
                Some(record(*state, *code, *started, *finished)),
            )
        }
        Step::Exited(code, started, finished) => {
            let state = if *code == 0 { State::Succeeded } else { State::Failed };
            terminated(
                *code,
                *started,
                *finished,
                Some(record(state, *code, *started, *finished)),
            )
        }
        Step::Killed(code, started, finished) => terminated(*code, *started, *finished, None),
    };
    Some(ContainerStatus {
        name: name.into(),
        state: Some(state),
        ..ContainerStatus::default()
    })
}

/// A pod for steps a, b, c in `phase`, each step reporting as given; its
/// init container has copied the launcher.
fn pod(phase: &str, steps: [Step; 3]) -> Pod {
    let mut pod = build_pod(&task(&["a", "b", "c"]), &taskrun("r", "t"), 0, &PodOptions::default()).unwrap();
    pod.metadata.creation_timestamp = Some(at(0));
    let statuses: Vec<_> = ["step-a", "step-b", "step-c"]
        .iter()
        .zip(&steps)
        .filter_map(|(n, s)| container_status(n, s))
        .collect();
    let prepared = !matches!(steps[0], Step::Unreported);
    let prepare = prepared.then(|| container_status(crate::pod::launcher::PREPARE, &Step::Killed(0, 0, 0)));
    pod.status = Some(PodStatus {
        phase: Some(phase.into()),
        init_container_statuses: prepare.flatten().map(|p| vec![p]),
        container_statuses: Some(statuses),
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

#[test]
fn a_step_that_continued_shows_its_exit_code_and_the_run_goes_on() {
    use Step::*;
    let succeeded = pod(
        "Succeeded",
        [Ended(State::Continued, 3, 1, 2), Exited(0, 2, 3), Exited(0, 3, 4)],
    );
    let status = project(&started(), Some(&succeeded), &at(9));
    assert_eq!(status.phase, Some(Phase::Succeeded));
    assert_eq!(
        status.message.as_deref(),
        Some("all 3 steps ran; step \"a\" failed with exit code 3 (onError: continue)")
    );
    let a = status.steps[0].terminated.as_ref().unwrap();
    assert_eq!((a.exit_code, a.reason.as_deref()), (3, Some(CONTINUED_REASON)));

    let failed = pod(
        "Failed",
        [Ended(State::Continued, 3, 1, 2), Exited(0, 2, 3), Exited(1, 3, 4)],
    );
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
    let steps = [Step::Exited(0, 1, 2), Step::Exited(0, 2, 3), Step::Exited(0, 3, 4)];
    reporting(phase, steps, Step::Killed(code, 4, 5), Some(message))
}

/// A pod for steps a, b, c with result `digest`, each step and the
/// reporter reporting as given (the reporter's termination message
/// replaced by `message`).
fn reporting(phase: &str, steps: [Step; 3], reporter: Step, message: Option<&str>) -> Pod {
    let mut spec = task(&["a", "b", "c"]);
    spec.results = vec![minitask_api::ResultSpec {
        name: "digest".into(),
        description: None,
    }];
    let mut pod = build_pod(&spec, &taskrun("r", "t"), 0, &PodOptions::default()).unwrap();
    let mut statuses: Vec<_> = ["step-a", "step-b", "step-c"]
        .iter()
        .zip(&steps)
        .filter_map(|(n, s)| container_status(n, s))
        .collect();
    let mut reporter = container_status(REPORTER, &reporter);
    if let Some(t) = reporter.as_mut().and_then(|r| r.state.as_mut()?.terminated.as_mut()) {
        t.message = message.map(String::from);
    }
    statuses.extend(reporter);
    pod.status = Some(PodStatus {
        phase: Some(phase.into()),
        init_container_statuses: container_status(crate::pod::launcher::PREPARE, &Step::Killed(0, 0, 0))
            .map(|p| vec![p]),
        container_statuses: Some(statuses),
        ..PodStatus::default()
    });
    pod
}

#[test]
fn a_step_over_its_timeout_fails_the_run_with_step_timeout_and_the_rest_do_not_run() {
    use Step::*;
    let p = pod(
        "Failed",
        [
            Exited(0, 1, 2),
            Ended(State::TimedOut, 143, 2, 32),
            Ended(State::Skipped, 0, 32, 32),
        ],
    );
    let mut p = p;
    let b = p.status.as_mut().unwrap().container_statuses.as_mut().unwrap()[1].clone();
    let mut record = Record::parse(b.state.unwrap().terminated.unwrap().message.as_deref().unwrap()).unwrap();
    record.message = "went over its timeout of 30s".into();
    let statuses = p.status.as_mut().unwrap().container_statuses.as_mut().unwrap();
    statuses[1].state.as_mut().unwrap().terminated.as_mut().unwrap().message = Some(record.encode(4096));
    let got = project(&started(), Some(&p), &at(40));
    assert_eq!(got.phase, Some(Phase::Failed));
    assert_eq!(got.reason.as_deref(), Some("StepTimeout"));
    assert_eq!(
        got.message.as_deref(),
        Some(
            "step \"b\" went over its timeout of 30s and was stopped (exit code 143); see its output with `kubectl logs r-pod -c step-b`"
        )
    );
    let b = got.steps[1].terminated.as_ref().unwrap();
    assert_eq!((b.exit_code, b.reason.as_deref()), (143, Some(TIMED_OUT_REASON)));
    let c = &got.steps[2];
    assert!(c.terminated.is_none() && c.running.is_none(), "never ran: {c:?}");
}

#[test]
fn steps_after_a_failure_never_run_and_steps_wait_for_their_turn() {
    use Step::*;
    let waiting = project(
        &started(),
        Some(&pod("Running", [Running(1), Running(1), Running(1)])),
        &at(2),
    );
    assert!(waiting.steps[0].running.is_some());
    for later in &waiting.steps[1..] {
        let reason = later.waiting.as_ref().and_then(|w| w.reason.as_deref());
        assert_eq!(reason, Some(TURN_REASON), "{later:?}");
    }
    assert_eq!(waiting.message.as_deref(), Some("step \"a\" is running (1 of 3)"));

    let failed = project(
        &started(),
        Some(&pod(
            "Failed",
            [
                Exited(1, 1, 2),
                Ended(State::Skipped, 0, 2, 2),
                Ended(State::Skipped, 0, 2, 2),
            ],
        )),
        &at(3),
    );
    assert_eq!(failed.reason.as_deref(), Some("StepFailed"));
    assert!(
        failed.steps[1..]
            .iter()
            .all(|s| s.terminated.is_none() && s.running.is_none())
    );
}

#[test]
fn results_written_before_a_failure_are_reported() {
    use Step::*;
    let steps = [Exited(0, 1, 2), Exited(1, 2, 3), Ended(State::Skipped, 0, 3, 3)];
    let reporting_now = project(
        &started(),
        Some(&reporting("Running", steps.clone(), Running(1), None)),
        &at(4),
    );
    assert_eq!(reporting_now.phase, Some(Phase::Running), "waits for the report");
    assert!(
        reporting_now
            .message
            .unwrap()
            .ends_with("; reporting the results written before it")
    );

    let reported = reporting(
        "Failed",
        steps,
        Killed(0, 1, 4),
        Some("minitask-results ok 13\ndigest 3\nabc\n"),
    );
    let got = project(&started(), Some(&reported), &at(5));
    assert_eq!(got.reason.as_deref(), Some("StepFailed"));
    assert!(got.message.unwrap().starts_with("step \"b\" failed with exit code 1"));
    let results: Vec<(String, String)> = got.results.into_iter().map(|r| (r.name, r.value)).collect();
    assert_eq!(results, [("digest".to_string(), "abc".to_string())]);

    // Killed without a record: no marker, so no report to wait for.
    let killed = [Exited(0, 1, 2), Killed(137, 2, 3), Running(1)];
    let got = project(&started(), Some(&reporting("Failed", killed, Running(1), None)), &at(5));
    assert_eq!(
        (got.phase, got.reason.as_deref()),
        (Some(Phase::Failed), Some("StepFailed"))
    );
}

#[test]
fn a_failed_step_waiting_for_a_debugger_says_how_to_debug_it() {
    use Step::*;
    let mut run = taskrun("r", "t");
    run.spec.debug = Some(minitask_api::DebugSpec {
        on_failure: true,
        timeout: None,
    });
    let mut p = build_pod(&task(&["a", "b", "c"]), &run, 0, &PodOptions::default()).unwrap();
    let mut statuses: Vec<_> = [
        ("step-a", Exited(0, 1, 2)),
        ("step-b", Running(1)),
        ("step-c", Running(1)),
        (REPORTER, Running(1)),
    ]
    .iter()
    .filter_map(|(n, s)| container_status(n, s))
    .collect();
    statuses[3].ready = true;
    p.status = Some(PodStatus {
        phase: Some("Running".into()),
        container_statuses: Some(statuses),
        ..PodStatus::default()
    });
    let got = project(&started(), Some(&p), &at(5));
    assert_eq!(
        (got.phase, got.reason.as_deref()),
        (Some(Phase::Running), Some("Debugging"))
    );
    assert_eq!(
        got.message.as_deref(),
        Some(
            "step \"b\" failed and waits for a debugger: `kubectl task debug r` opens a shell in its container (the run fails when it exits), `kubectl task debug r --continue` lets the run fail now"
        )
    );
    p.status.as_mut().unwrap().container_statuses.as_mut().unwrap()[3].ready = false;
    assert_eq!(project(&started(), Some(&p), &at(5)).reason.as_deref(), Some("Running"));
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
    // Its launcher started it when step a ended, not when its container did.
    assert_eq!(
        (b.started_at.clone(), b.finished_at.clone()),
        (Some(at(2)), Some(at(20)))
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
    let mut p = pod("Failed", [Exited(0, 1, 2), Killed(128, 0, 0), Killed(0, 1, 3)]);
    let status = p.status.as_mut().unwrap();
    let b = status.container_statuses.as_mut().unwrap()[1].state.as_mut().unwrap();
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
    let steps = p.status.as_mut().unwrap().container_statuses.as_mut().unwrap();
    steps[1] = container_status("step-b", &Killed(143, 3, 8)).unwrap();
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

/// The OOM killer ends the step's process (the launcher sees exit code
/// 137), and the kubelet says OOMKilled: the run says so, and what to do.
#[test]
fn a_step_killed_for_memory_says_oomkilled_not_just_exit_code_137() {
    use Step::*;
    let mut failed = pod("Failed", [Exited(0, 1, 2), Exited(137, 2, 3), Unreported]);
    let statuses = failed.status.as_mut().unwrap().container_statuses.as_mut().unwrap();
    statuses[1].state.as_mut().unwrap().terminated.as_mut().unwrap().reason = Some("OOMKilled".into());
    let status = project(&started(), Some(&failed), &at(9));
    let b = status.steps[1].terminated.as_ref().unwrap();
    assert_eq!((b.exit_code, b.reason.as_deref()), (137, Some("OOMKilled")));
    let message = status.message.unwrap();
    assert!(
        message.starts_with("step \"b\" failed with exit code 137 (OOMKilled: it used more memory than its limit; raise the step's resources.limits.memory)"),
        "{message}"
    );
}

/// A step's launcher hands the turn on before its container exits, so the
/// kubelet can report the next step's failure while the step before still
/// shows running. The run waits for that step's record instead of freezing
/// it as stopped with exit code 137 (seen in CI's e2e run of `failing`).
#[test]
fn a_failure_reported_before_the_step_before_has_exited_waits_for_its_record() {
    use Step::*;
    let early = pod("Running", [Running(1), Exited(3, 2, 2), Running(1)]);
    let status = project(&started(), Some(&early), &at(3));
    assert_eq!(status.phase, Some(Phase::Running));
    let message = status.message.as_deref().unwrap();
    assert!(
        message.starts_with("step \"b\" failed with exit code 3")
            && message.ends_with("; waiting for step \"a\" to report how it ended"),
        "{message}"
    );

    let settled = pod(
        "Failed",
        [Exited(0, 1, 2), Exited(3, 2, 2), Ended(State::Skipped, 0, 2, 2)],
    );
    let failed = project(&status, Some(&settled), &at(4));
    assert_eq!(failed.reason.as_deref(), Some("StepFailed"));
    let a = failed.steps[0].terminated.as_ref().unwrap();
    assert_eq!((a.exit_code, a.reason.as_deref()), (0, Some("Completed")));

    // A later container that could not start never ran its step: it says
    // nothing of the step before, which may run for long; the run ends.
    let unstartable = pod("Running", [Running(1), Killed(128, 1, 1), Running(1)]);
    let failed = project(&started(), Some(&unstartable), &at(3));
    assert_eq!(failed.reason.as_deref(), Some("StepFailed"));
    assert_eq!(
        failed.steps[0].terminated.as_ref().unwrap().reason.as_deref(),
        Some(STOPPED_REASON)
    );
}
