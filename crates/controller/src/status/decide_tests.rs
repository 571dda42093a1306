use super::*;
use crate::fixtures::{task, taskrun};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;

fn at(second: i64) -> Time {
    Time(Timestamp::from_second(1_800_000_000 + second).unwrap())
}

/// The run `r` of a one-step Task, created at 0, with a 1m timeout.
fn run() -> TaskRun {
    let mut run = taskrun("r", "t");
    run.metadata.creation_timestamp = Some(at(0));
    run.spec.timeout = "1m".into();
    run
}

fn spec() -> Box<TaskSpec> {
    Box::new(task(&["a"]))
}

/// The run's pod for `attempt`, its step in `state`, the pod in `phase`.
fn pod(attempt: usize, phase: &str, state: ContainerState) -> Pod {
    let mut pod = build_pod(&spec(), &run(), attempt, &PodOptions::default()).unwrap();
    pod.metadata.creation_timestamp = Some(at(1));
    pod.status = Some(PodStatus {
        phase: Some(phase.into()),
        container_statuses: Some(vec![ContainerStatus {
            name: "step-a".into(),
            state: Some(state),
            ..ContainerStatus::default()
        }]),
        ..PodStatus::default()
    });
    pod
}

fn exited(code: i32) -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: code,
            started_at: Some(at(2)),
            finished_at: Some(at(3)),
            ..ContainerStateTerminated::default()
        }),
        ..ContainerState::default()
    }
}

fn waiting(reason: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: Some("the kubelet's words".into()),
        }),
        ..ContainerState::default()
    }
}

fn running() -> ContainerState {
    ContainerState {
        running: Some(Default::default()),
        ..ContainerState::default()
    }
}

/// A status that has started attempt `attempts + 1` with the Task.
fn started(attempts: usize) -> TaskRunStatus {
    TaskRunStatus {
        pod_name: Some(pod_name("r", attempts)),
        start_time: Some(at(1)),
        task_spec: Some(spec()),
        retries_status: vec![Default::default(); attempts],
        ..TaskRunStatus::default()
    }
}

/// One row: the facts a reconcile has, and what it must decide.
struct Case {
    name: &'static str,
    run: TaskRun,
    previous: TaskRunStatus,
    pod: Option<Pod>,
    task: Option<Result<Box<TaskSpec>, String>>,
    refused: Option<Refusal>,
    now: i64,
    /// Phase and reason of the next status (None: no status).
    want: Option<(Phase, &'static str)>,
    /// The pod it asks to create.
    create: Option<&'static str>,
    deletes: bool,
    requeue: Option<u64>,
}

fn case(name: &'static str) -> Case {
    Case {
        name,
        run: run(),
        previous: TaskRunStatus::default(),
        pod: None,
        task: None,
        refused: None,
        now: 10,
        want: None,
        create: None,
        deletes: false,
        requeue: None,
    }
}

#[test]
fn a_reconcile_decides_the_status_the_pod_to_create_and_when_to_look_again() {
    let mut cancelled = run();
    cancelled.spec.cancelled = true;
    let mut retried = run();
    retried.spec.retries = 1;
    let mut earlier = pod(0, "Running", running());
    earlier.metadata.owner_references = Some(vec![OwnerReference {
        uid: "an-earlier-uid".into(),
        ..earlier.metadata.owner_references.clone().unwrap()[0].clone()
    }]);
    let mut foreign = pod(0, "Running", running());
    foreign.metadata.owner_references = None;
    let cases = [
        Case {
            task: Some(Ok(spec())),
            create: Some("r-pod"),
            ..case("a new run asks for its pod, and keeps its status until it exists")
        },
        Case {
            task: Some(Err("Task \"t\" not found".into())),
            want: Some((Phase::Pending, "TaskNotFound")),
            requeue: Some(50),
            ..case("a run of a missing Task waits for it, and for its timeout")
        },
        Case {
            task: Some(Ok(Box::new(TaskSpec {
                params: vec![serde_json::from_value(serde_json::json!({"name": "who"})).unwrap()],
                ..*spec()
            }))),
            want: Some((Phase::Failed, "InvalidParams")),
            ..case("a run whose params do not fit fails before any pod")
        },
        Case {
            run: cancelled.clone(),
            task: Some(Ok(spec())),
            want: Some((Phase::Failed, "Cancelled")),
            ..case("a run cancelled before it started never gets a pod")
        },
        Case {
            task: Some(Ok(spec())),
            now: 61,
            want: Some((Phase::Failed, "Timeout")),
            ..case("a run out of time before it started never gets a pod")
        },
        Case {
            task: Some(Ok(spec())),
            refused: Some(Refusal::Retry("no ServiceAccount".into())),
            want: Some((Phase::Pending, "PodCreationFailed")),
            requeue: Some(5),
            ..case("a pod refused for a cause that may go away is tried again soon")
        },
        Case {
            task: Some(Ok(spec())),
            refused: Some(Refusal::Permanent("violates PodSecurity".into())),
            want: Some((Phase::Failed, "PodCreationFailed")),
            ..case("a pod refused for good fails the run")
        },
        Case {
            pod: Some(pod(0, "Pending", waiting("ContainerCreating"))),
            want: Some((Phase::Pending, "Pending")),
            requeue: Some(50),
            ..case("a pod just created: pending, and the timeout is the next deadline")
        },
        Case {
            previous: started(0),
            pod: Some(pod(0, "Running", running())),
            want: Some((Phase::Running, "Running")),
            requeue: Some(50),
            ..case("a running step")
        },
        Case {
            previous: started(0),
            pod: Some(pod(0, "Succeeded", exited(0))),
            want: Some((Phase::Succeeded, "Succeeded")),
            ..case("the pod succeeded")
        },
        Case {
            previous: started(0),
            pod: Some(pod(0, "Failed", exited(2))),
            want: Some((Phase::Failed, "StepFailed")),
            ..case("a step failed and no retry is left")
        },
        Case {
            run: retried.clone(),
            previous: started(0),
            pod: Some(pod(0, "Failed", exited(2))),
            want: Some((Phase::Pending, "Retrying")),
            create: Some("r-pod-retry1"),
            ..case("a step failed and a retry is left: the next attempt's pod")
        },
        Case {
            run: retried.clone(),
            previous: started(1),
            pod: Some(pod(1, "Running", running())),
            want: Some((Phase::Running, "Running")),
            requeue: Some(50),
            ..case("the second attempt runs")
        },
        Case {
            previous: started(0),
            want: Some((Phase::Failed, "PodDeleted")),
            ..case("the recorded pod is gone")
        },
        Case {
            previous: started(0),
            pod: Some(foreign),
            want: Some((Phase::Failed, "PodConflict")),
            ..case("a pod under the run's pod name that is someone else's")
        },
        Case {
            pod: Some(earlier),
            want: Some((Phase::Pending, "Pending")),
            deletes: true,
            requeue: Some(5),
            ..case("the pod an earlier run of the same name left is deleted first")
        },
        Case {
            previous: started(0),
            pod: Some(pod(0, "Pending", waiting("ImagePullBackOff"))),
            want: Some((Phase::Pending, "Pending")),
            requeue: Some(50),
            ..case("an image that does not pull yet: the grace period is longer than the timeout")
        },
        Case {
            run: cancelled,
            previous: started(0),
            pod: Some(pod(0, "Running", running())),
            want: Some((Phase::Failed, "Cancelled")),
            ..case("a running run is cancelled")
        },
    ];
    for c in cases {
        let facts = Facts {
            run: &c.run,
            previous: &c.previous,
            pod: c.pod.as_ref(),
            reporter_log: None,
            pod_events: None,
            task: c.task.clone(),
            refused: c.refused.as_ref(),
            options: &PodOptions::default(),
            now: &at(c.now),
        };
        let got = decide(&facts);
        let status = (got.status.phase, got.status.reason.as_deref());
        let want = c.want.map_or((None, None), |(p, r)| (Some(p), Some(r)));
        assert_eq!(status, want, "{}: {:?}", c.name, got.status.message);
        assert_eq!(
            got.create.as_ref().map(|p| p.name_any()).as_deref(),
            c.create,
            "{}",
            c.name
        );
        assert_eq!(got.delete.is_some(), c.deletes, "{}", c.name);
        assert_eq!(got.requeue.map(|d| d.as_secs()), c.requeue, "{}", c.name);
        if got.create.is_none() && got.status.phase.is_some() {
            assert_eq!(got.status.observed_generation, Some(1), "{}", c.name);
        }
    }
}

#[test]
fn after_the_pod_is_created_the_run_is_decided_again_with_it() {
    let run = run();
    let task = Some(Ok(spec()));
    let facts = Facts {
        run: &run,
        previous: &TaskRunStatus::default(),
        pod: None,
        reporter_log: None,
        pod_events: None,
        task: task.clone(),
        refused: None,
        options: &PodOptions::default(),
        now: &at(1),
    };
    let first = decide(&facts);
    let created = first.create.clone().expect("a pod to create");
    let facts = Facts {
        previous: &first.status,
        pod: Some(&created),
        task: None,
        ..facts
    };
    let second = decide(&facts);
    assert_eq!(second.create, None, "never a second pod");
    assert_eq!(second.status.pod_name.as_deref(), Some("r-pod"));
    assert_eq!(
        second.status.task_spec,
        Some(spec()),
        "the Task is recorded from the pod"
    );
}

#[test]
fn a_report_that_cannot_be_read_fails_the_run_saying_why() {
    let run = run();
    let mut spec = *spec();
    spec.results = vec![minitask_api::ResultSpec {
        name: "x".into(),
        description: None,
    }];
    let mut pod = build_pod(&spec, &run, 0, &PodOptions::default()).unwrap();
    let mut done = exited(0);
    done.terminated.as_mut().unwrap().message = Some("minitask-results ok 5000\n".into());
    pod.status = Some(PodStatus {
        phase: Some("Succeeded".into()),
        init_container_statuses: Some(vec![ContainerStatus {
            name: "step-a".into(),
            state: Some(exited(0)),
            ..ContainerStatus::default()
        }]),
        container_statuses: Some(vec![ContainerStatus {
            name: REPORTER.into(),
            state: Some(done),
            ..ContainerStatus::default()
        }]),
        ..PodStatus::default()
    });
    let gone = Log::Gone("the container is gone".into());
    let facts = Facts {
        run: &run,
        previous: &started(0),
        pod: Some(&pod),
        reporter_log: Some(&gone),
        pod_events: None,
        task: None,
        refused: None,
        options: &PodOptions::default(),
        now: &at(10),
    };
    let got = decide(&facts);
    assert_eq!(got.status.reason.as_deref(), Some("ResultsFailed"));
    let message = got.status.message.unwrap();
    assert!(message.contains("the container is gone"), "{message}");
}

/// A pod on a node that starts nothing says why in its Events: the run's
/// message says it, and a mount of something that does not exist fails
/// the run once the grace period is over.
#[test]
fn a_pod_kept_from_starting_by_a_missing_configmap_says_so_then_fails() {
    let run = Box::new(run());
    let mut stuck = pod(0, "Pending", waiting("ContainerCreating"));
    stuck.spec.as_mut().unwrap().node_name = Some("n1".into());
    let events = [PodEvent {
        reason: "FailedMount".into(),
        message: "MountVolume.SetUp failed for volume \"ws-input\" : configmap \"nope\" not found".into(),
        last: Some(at(2)),
    }];
    let options = PodOptions {
        image_pull_grace: Duration::from_secs(30),
        ..PodOptions::default()
    };
    let decided = |now: i64, events: Option<&[PodEvent]>| {
        decide(&Facts {
            run: &run,
            previous: &started(0),
            pod: Some(&stuck),
            reporter_log: None,
            pod_events: events,
            task: None,
            refused: None,
            options: &options,
            now: &at(now),
        })
    };
    let early = decided(2, None);
    assert_eq!(early.requeue, Some(Duration::from_secs(2)), "looks once it is 3s old");
    let said = decided(5, Some(&events));
    assert_eq!(said.status.phase, Some(Phase::Pending));
    let message = said.status.message.clone().unwrap();
    assert!(
        message.starts_with("pod r-pod cannot start: FailedMount: MountVolume.SetUp failed for volume \"ws-input\" : configmap \"nope\" not found; the run fails at "),
        "{message}"
    );
    assert_eq!(said.requeue, Some(Duration::from_secs(10)), "looks again");
    let failed = decided(31, Some(&events));
    assert_eq!(failed.status.phase, Some(Phase::Failed));
    assert_eq!(failed.status.reason.as_deref(), Some("PodStartFailed"));
    assert!(
        failed
            .status
            .message
            .as_deref()
            .unwrap()
            .contains("could not start within 30s: FailedMount"),
        "{:?}",
        failed.status.message
    );
    // A cause that may pass is said, and the run waits (its timeout holds).
    let sandbox = [PodEvent {
        reason: "FailedCreatePodSandBox".into(),
        message: "network not ready".into(),
        last: Some(at(2)),
    }];
    let waits = decided(31, Some(&sandbox));
    assert_eq!(waits.status.phase, Some(Phase::Pending));
    assert_eq!(
        waits.status.message.as_deref(),
        Some("pod r-pod cannot start: FailedCreatePodSandBox: network not ready")
    );
}
