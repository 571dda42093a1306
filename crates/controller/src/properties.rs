//! Property tests of everything the controller reads from the cluster or
//! from users: termination messages, logs, pod statuses, substitutions,
//! scripts and params. Any input gives an answer, never a panic, and what
//! goes through Kubernetes comes back byte for byte. A plain `cargo test`
//! runs 256 cases of each; `cargo xtask fuzz` runs many more.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, Pod,
    PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use minitask_api::{Param, ParamSpec, ParamType, ParamValue, Phase, ResultSpec, TaskRunResult, TaskRunStatus};
use proptest::prelude::*;

use crate::fixtures::{task, taskrun};
use crate::pod::results::{Report, from_log, from_message};
use crate::pod::script::{escape, kubelet_expand};
use crate::pod::substitute::{Field, Vars};
use crate::pod::{PodOptions, build_pod, is_left_by_earlier_run, is_owned_by, task_spec_of};
use crate::runtime::cache::CachedPod;
use crate::status::deadline::starting;
use crate::status::disruption::{disruption, recheck};
use crate::status::stop::how_to_stop;
use crate::status::{project_status, reporter_log_needed};

fn at(second: i64) -> Time {
    Time(Timestamp::from_second(1_800_000_000 + second).unwrap())
}

/// The report as the reporter writes it: a header, then each result.
fn encode(results: &[TaskRunResult]) -> (String, String) {
    let body: String = results
        .iter()
        .map(|r| format!("{} {}\n{}\n", r.name, r.value.len(), r.value))
        .collect();
    (format!("minitask-results ok {}\n", body.len()), body)
}

fn results() -> impl Strategy<Value = Vec<TaskRunResult>> {
    proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_-]{0,12}", any::<String>(), 0..6).prop_map(|m| {
        m.into_iter()
            .map(|(name, value)| TaskRunResult { name, value })
            .collect()
    })
}

/// Sizes, with the edges where arithmetic overflows weighted in.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..64, Just(usize::MAX), Just(usize::MAX - 1), any::<usize>()]
}

fn param_value() -> impl Strategy<Value = ParamValue> {
    prop_oneof![
        any::<String>().prop_map(ParamValue::String),
        proptest::collection::vec(any::<String>(), 0..4).prop_map(ParamValue::Array),
        any::<i64>().prop_map(|n| ParamValue::Other(serde_json::json!(n))),
    ]
}

fn container_state() -> impl Strategy<Value = Option<ContainerState>> {
    let time = proptest::option::of((-5i64..5000).prop_map(at));
    prop_oneof![
        Just(None),
        ("[A-Za-z]{0,30}", ".{0,40}").prop_map(|(reason, message)| Some(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason),
                message: Some(message),
            }),
            ..ContainerState::default()
        })),
        time.clone().prop_map(|started_at| Some(ContainerState {
            running: Some(ContainerStateRunning { started_at }),
            ..ContainerState::default()
        })),
        // A launcher's record, whole or cut, or anything else.
        (
            any::<i32>(),
            prop_oneof![
                ".{0,200}",
                (
                    "(succeeded|failed|continued|timed-out|skipped|stopped|x)",
                    any::<i32>(),
                    any::<u64>(),
                    any::<u64>(),
                    ".{0,30}"
                )
                    .prop_map(|(state, code, a, b, m)| format!("minitask-step {state} {code} {a} {b}\n{m}")),
            ],
            time.clone(),
            time,
        )
            .prop_map(|(exit_code, message, started_at, finished_at)| {
                Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code,
                        message: Some(message),
                        started_at,
                        finished_at,
                        ..ContainerStateTerminated::default()
                    }),
                    ..ContainerState::default()
                })
            }),
    ]
}

proptest! {
    #[test]
    fn any_termination_message_gives_results_or_a_reason(message in any::<String>()) {
        match from_message(&message) {
            Report::Read(_) => {}
            Report::InLog(header) => {
                let _ = from_log(header, message.as_bytes());
            }
        }
    }

    #[test]
    fn reports_with_any_sizes_give_results_or_a_reason(
        header in any::<bool>(),
        announced in size(),
        entries in proptest::collection::vec(("[a-z]{0,3}", size(), ".{0,20}"), 0..4),
    ) {
        let body: String = entries.iter().map(|(name, size, value)| format!("{name} {size}\n{value}\n")).collect();
        let message = match header {
            true => format!("minitask-results ok {announced}\n{body}"),
            false => body.clone(),
        };
        let _ = from_message(&message);
        let exact = format!("minitask-results ok {}\n{body}", body.len());
        let _ = from_message(&exact);
    }

    #[test]
    fn any_log_gives_results_or_a_reason(log in proptest::collection::vec(any::<u8>(), 0..300), bytes in 0usize..400) {
        if let Report::InLog(header) = from_message(&format!("minitask-results ok {bytes}\n")) {
            let _ = from_log(header, &log);
        }
    }

    #[test]
    fn reports_come_back_byte_for_byte_from_the_message_or_the_log(results in results(), cut in any::<usize>()) {
        let (header, body) = encode(&results);
        prop_assert_eq!(from_message(&format!("{header}{body}")), Report::Read(Ok(results.clone())));
        // Cut by the kubelet anywhere after the header: the log has it.
        let kept = body.len().min(cut % (body.len() + 1));
        if kept < body.len() && body.is_char_boundary(kept) {
            let Report::InLog(h) = from_message(&format!("{header}{}", &body[..kept])) else {
                return Err(TestCaseError::fail("a cut report must send us to the log"));
            };
            prop_assert_eq!(from_log(h, body.as_bytes()), Ok(results));
        }
    }

    #[test]
    fn escaped_text_survives_the_kubelets_expansion(text in any::<String>(), env in any::<String>()) {
        prop_assert_eq!(kubelet_expand(&escape(&text), |_| Some(env.clone())), text);
    }

    #[test]
    fn substituted_values_arrive_as_given(value in any::<String>(), before in "[^$]{0,10}", after in "[^$]{0,10}") {
        let vars = Vars { values: BTreeMap::from([("params.p".to_string(), ParamValue::String(value.clone()))]), ..Vars::default() };
        let text = format!("{before}$(params.p){after}");
        let mut problems = Vec::new();
        let raw = vars.string(&text, Field::Raw, "f", &mut problems);
        prop_assert_eq!(&raw, &format!("{before}{value}{after}"));
        let expanded = vars.string(&text, Field::Expanded, "f", &mut problems);
        prop_assert_eq!(kubelet_expand(&expanded, |_| Some("ENV".into())), raw);
        prop_assert!(problems.is_empty());
    }

    #[test]
    fn any_text_can_be_substituted(text in any::<String>(), value in param_value()) {
        let vars = Vars { values: BTreeMap::from([("params.p".to_string(), value)]), ..Vars::default() };
        let mut problems = Vec::new();
        let _ = vars.string(&text, Field::Raw, "f", &mut problems);
        let _ = vars.list(&[text.clone(), "$(params.p[*])".into()], "f", &mut problems);
    }

    #[test]
    fn params_resolve_or_every_problem_is_named(
        declared in proptest::collection::vec(("[a-c]{1,2}", any::<bool>(), proptest::option::of(param_value())), 0..5),
        given in proptest::collection::vec(("[a-d]{1,2}", param_value()), 0..5),
    ) {
        let declared: Vec<ParamSpec> = declared
            .into_iter()
            .map(|(name, array, default)| ParamSpec {
                name,
                type_: if array { ParamType::Array } else { ParamType::String },
                description: None,
                default,
            })
            .collect();
        let given: Vec<Param> = given.into_iter().map(|(name, value)| Param { name, value }).collect();
        match crate::pod::params::resolve(&declared, &given) {
            Ok(values) => {
                for spec in &declared {
                    prop_assert_eq!(values.get(&spec.name).and_then(ParamValue::type_), Some(spec.type_));
                }
            }
            Err(problems) => prop_assert!(!problems.is_empty()),
        }
    }

    #[test]
    fn any_task_builds_a_pod_or_says_why(
        names in proptest::collection::vec("[a-z0-9-]{0,8}", 0..22),
        script in any::<String>(),
        timeout in "[0-9]{1,12}(s|m|h)",
        results in proptest::collection::vec("[a-z]{1,4}", 0..3),
    ) {
        let mut spec = task(&names.iter().map(String::as_str).collect::<Vec<_>>());
        for step in &mut spec.steps {
            step.script = Some(script.clone());
        }
        spec.results = results.into_iter().map(|name| ResultSpec { name, description: None }).collect();
        let mut run = taskrun("r", "t");
        run.spec.timeout = timeout;
        let _ = build_pod(&spec, &run, 0, &PodOptions::default());
    }

    #[test]
    fn any_pod_status_projects_without_panic_and_an_ended_run_has_no_running_step(
        states in proptest::collection::vec(container_state(), 3),
        phase in prop_oneof![Just("Pending"), Just("Running"), Just("Succeeded"), Just("Failed"), Just("Unknown")],
        disrupted in any::<bool>(),
        deleted in proptest::option::of(-100i64..100),
        reason in proptest::option::of(prop_oneof![Just("Evicted".to_string()), Just("DeadlineExceeded".to_string()), ".{0,10}"]),
        log in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..50)),
        ready in proptest::collection::vec(any::<bool>(), 3),
        prepare in container_state(),
        debug in any::<bool>(),
    ) {
        let mut spec = task(&["a", "b"]);
        spec.results = vec![ResultSpec { name: "x".into(), description: None }];
        let mut run = taskrun("r", "t");
        run.spec.debug = debug.then_some(minitask_api::DebugSpec { on_failure: true, timeout: None });
        let mut pod: Pod = build_pod(&spec, &run, 0, &PodOptions::default()).unwrap();
        let names = ["step-a", "step-b", "minitask-results"];
        let statuses: Vec<ContainerStatus> = names
            .iter()
            .zip(states)
            .zip(ready)
            .map(|((name, state), ready)| ContainerStatus { name: name.to_string(), state, ready, ..ContainerStatus::default() })
            .collect();
        let prepared = ContainerStatus { name: crate::pod::launcher::PREPARE.into(), state: prepare, ..ContainerStatus::default() };
        pod.metadata.deletion_timestamp = deleted.map(at);
        pod.status = Some(PodStatus {
            phase: Some(phase.into()),
            reason,
            init_container_statuses: Some(vec![prepared]),
            container_statuses: Some(statuses),
            conditions: disrupted.then(|| vec![PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        });
        let previous = TaskRunStatus { pod_name: Some("r-pod".into()), ..TaskRunStatus::default() };
        let next = project_status(&previous, Some(&pod), log.as_deref(), &at(50));
        if next.phase.is_some_and(Phase::is_terminal) {
            prop_assert!(next.steps.iter().all(|s| s.running.is_none() && s.waiting.is_none()), "{:?}", next.steps);
        }
        let _ = crate::status::disruption::disruption(&pod, &at(50));
        let _ = crate::status::deadline::starting(&pod, &at(50), std::time::Duration::from_secs(300));
    }

    #[test]
    fn the_pod_cache_keeps_everything_a_decision_reads(
        states in proptest::collection::vec(container_state(), 3),
        pulls in proptest::collection::vec(proptest::option::of(prop_oneof![
            Just("ErrImagePull"), Just("ImagePullBackOff"), Just("InvalidImageName"), Just("CreateContainerConfigError"),
        ]), 3),
        phase in proptest::option::of(prop_oneof![Just("Pending"), Just("Running"), Just("Succeeded"), Just("Failed")]),
        conditions in proptest::collection::vec((
            prop_oneof![Just("PodScheduled"), Just("DisruptionTarget"), Just("Ready"), Just("Initialized")],
            prop_oneof![Just("True"), Just("False")],
            proptest::option::of("[A-Za-z]{0,10}"),
        ), 0..4),
        node in proptest::option::of("[a-z0-9]{0,6}"),
        deadline in proptest::option::of(1i64..5),
        deleted in proptest::option::of(-100i64..100),
        reason in proptest::option::of(prop_oneof![Just("Evicted".to_string()), Just("DeadlineExceeded".to_string()), ".{0,10}"]),
        started in proptest::option::of((-5i64..5000).prop_map(at)),
        now in 0i64..6000,
        ready in proptest::collection::vec(any::<bool>(), 3),
        prepare in container_state(),
        debug in any::<bool>(),
    ) {
        let mut spec = task(&["a", "b"]);
        spec.results = vec![ResultSpec { name: "x".into(), description: None }];
        let mut run = taskrun("r", "t");
        run.spec.debug = debug.then_some(minitask_api::DebugSpec { on_failure: true, timeout: None });
        let prepared = ContainerStatus { name: crate::pod::launcher::PREPARE.into(), state: prepare, ..ContainerStatus::default() };
        let mut pod: Pod = build_pod(&spec, &run, 0, &PodOptions::default()).unwrap();
        let names = ["step-a", "step-b", "minitask-results"];
        let statuses: Vec<ContainerStatus> = names
            .iter()
            .zip(states)
            .zip(pulls)
            .zip(ready)
            .map(|(((name, state), pull), ready)| {
                let state = match pull {
                    Some(reason) => Some(ContainerState {
                        waiting: Some(ContainerStateWaiting { reason: Some(reason.into()), message: Some("m".into()) }),
                        ..ContainerState::default()
                    }),
                    None => state,
                };
                ContainerStatus {
                    name: name.to_string(),
                    image: format!("registry.example/{name}:1"),
                    image_id: "sha256:abc".into(),
                    ready,
                    state,
                    ..ContainerStatus::default()
                }
            })
            .collect();
        pod.metadata.deletion_timestamp = deleted.map(at);
        pod.metadata.managed_fields = Some(vec![Default::default()]);
        let spec = pod.spec.as_mut().unwrap();
        spec.node_name = node;
        spec.active_deadline_seconds = deadline;
        pod.status = phase.map(|phase| PodStatus {
            phase: Some(phase.into()),
            reason,
            start_time: started,
            init_container_statuses: Some(vec![prepared]),
            container_statuses: Some(statuses),
            conditions: Some(conditions.into_iter().map(|(type_, status, message)| PodCondition {
                type_: type_.into(),
                status: status.into(),
                message,
                ..PodCondition::default()
            }).collect()),
            pod_ip: Some("10.0.0.1".into()),
            ..PodStatus::default()
        });
        // Through JSON, as the watch delivers it.
        let cached: CachedPod = serde_json::from_value(serde_json::to_value(&pod).unwrap()).unwrap();
        let kept = cached.to_pod();
        let now = at(now);
        let previous = TaskRunStatus { pod_name: Some("r-pod".into()), ..TaskRunStatus::default() };
        prop_assert_eq!(project_status(&previous, Some(&kept), None, &now), project_status(&previous, Some(&pod), None, &now));
        prop_assert_eq!(reporter_log_needed(&kept), reporter_log_needed(&pod));
        let grace = std::time::Duration::from_secs(300);
        prop_assert_eq!(starting(&kept, &now, grace), starting(&pod, &now, grace));
        prop_assert_eq!(disruption(&kept, &now), disruption(&pod, &now));
        prop_assert_eq!(recheck(&kept, &now), recheck(&pod, &now));
        prop_assert_eq!(how_to_stop(&kept), how_to_stop(&pod));
        prop_assert_eq!(is_owned_by(&kept, &run), is_owned_by(&pod, &run));
        prop_assert_eq!(is_left_by_earlier_run(&kept, &run), is_left_by_earlier_run(&pod, &run));
        let ended = matches!(phase, Some("Succeeded" | "Failed"));
        prop_assert_eq!(task_spec_of(&kept), task_spec_of(&pod).filter(|_| !ended));
        prop_assert!(kept.metadata.managed_fields.is_none());
    }
}
