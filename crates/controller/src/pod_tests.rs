use super::*;
use crate::fixtures::{task, taskrun};
use crate::script::kubelet_expand;
use minitask_api::Step;

fn build(spec: &TaskSpec) -> Pod {
    build_pod(spec, &taskrun("hello-run-1", "hello"), &PodOptions::default()).expect("builds")
}

fn step_names(pod: &Pod) -> Vec<String> {
    let spec = pod.spec.as_ref().unwrap();
    let init = spec.init_containers.iter().flatten();
    init.chain(&spec.containers).map(|c| c.name.clone()).collect()
}

#[test]
fn steps_run_in_order_as_init_containers_then_the_last_container() {
    struct Case {
        steps: &'static [&'static str],
        init: usize,
    }
    let cases = [
        Case {
            steps: &["only"],
            init: 0,
        },
        Case {
            steps: &["a", "b"],
            init: 1,
        },
        Case {
            steps: &["fetch", "build", "test", "push"],
            init: 3,
        },
    ];
    for case in cases {
        let pod = build(&task(case.steps));
        let want: Vec<String> = case.steps.iter().map(|s| format!("step-{s}")).collect();
        assert_eq!(step_names(&pod), want);
        let spec = pod.spec.unwrap();
        assert_eq!(
            spec.init_containers.map_or(0, |c| c.len()),
            case.init,
            "{:?}",
            case.steps
        );
        assert_eq!(spec.containers.len(), 1);
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
    }
}

#[test]
fn the_pod_is_named_labelled_and_owned_by_its_run() {
    let pod = build(&task(&["a"]));
    assert_eq!(pod.metadata.name.as_deref(), Some("hello-run-1-pod"));
    assert_eq!(pod.metadata.namespace.as_deref(), Some("ns"));
    let labels = pod.metadata.labels.clone().unwrap();
    assert_eq!(labels[LABEL_TASKRUN], "hello-run-1");
    assert_eq!(labels[LABEL_TASK], "hello");
    let owners = pod.metadata.owner_references.clone().unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!((owners[0].kind.as_str(), owners[0].uid.as_str()), ("TaskRun", "uid-1"));
    assert_eq!(owners[0].controller, Some(true));
    assert!(is_owned_by(&pod, &taskrun("hello-run-1", "hello")));
}

#[test]
fn the_pod_records_the_task_spec_it_runs() {
    let mut spec = task(&["a", "b"]);
    spec.steps[0].script = Some("echo '$(x)' \"\\n\"".into());
    let pod = build(&spec);
    assert_eq!(task_spec_of(&pod), Some(spec));
    let mut unannotated = pod.clone();
    unannotated.metadata.annotations = None;
    assert_eq!(task_spec_of(&unannotated), None);
}

#[test]
fn an_inline_task_is_labelled_with_the_run_name() {
    let mut run = taskrun("inline-1", "x");
    run.spec.task_ref = None;
    run.spec.task_spec = Some(task(&["a"]));
    let pod = build_pod(&task(&["a"]), &run, &PodOptions::default()).unwrap();
    assert_eq!(pod.metadata.labels.unwrap()[LABEL_TASK], "inline-1");
}

#[test]
fn a_pod_owned_by_another_uid_is_not_ours() {
    let pod = build(&task(&["a"]));
    let mut other = taskrun("hello-run-1", "hello");
    other.metadata.uid = Some("uid-2".into());
    assert!(!is_owned_by(&pod, &other));
}

#[test]
fn every_step_shares_the_workspace_and_starts_in_it() {
    let mut spec = task(&["a", "b"]);
    spec.steps[1].working_dir = Some("/src".into());
    let pod = build(&spec);
    let podspec = pod.spec.unwrap();
    let containers: Vec<_> = podspec
        .init_containers
        .iter()
        .flatten()
        .chain(&podspec.containers)
        .collect();
    for c in &containers {
        let mounts = c.volume_mounts.as_ref().unwrap();
        assert!(
            mounts
                .iter()
                .any(|m| m.name == "workspace" && m.mount_path == "/workspace"),
            "{}",
            c.name
        );
    }
    assert_eq!(containers[0].working_dir.as_deref(), Some("/workspace"));
    assert_eq!(containers[1].working_dir.as_deref(), Some("/src"));
    let volumes = podspec.volumes.unwrap();
    assert!(volumes.iter().any(|v| v.name == "workspace" && v.empty_dir.is_some()));
}

#[test]
fn scripts_reach_the_shell_byte_for_byte() {
    let script = "#!/bin/sh\necho \"$(HOME)\" '$$' \"it's\"\ncat <<'EOF'\n$HOME $(PATH)\nEOF\n";
    let mut spec = task(&["a"]);
    spec.steps[0].script = Some(script.into());
    let container = build(&spec).spec.unwrap().containers.remove(0);
    let args = container.args.unwrap();
    // What the kubelet hands the shell after its own $(VAR) expansion.
    let env = |name: &str| (name == "HOME" || name == "PATH").then(|| "EXPANDED".to_string());
    assert_eq!(kubelet_expand(&args[1], env), script);
    assert_eq!(kubelet_expand(&args[0], env), "a");
    assert_eq!(container.command.unwrap()[..2], ["/bin/sh", "-c"]);
}

#[test]
fn command_steps_keep_command_and_args_as_written() {
    let mut spec = task(&["a"]);
    spec.steps[0] = Step {
        name: "a".into(),
        image: "alpine".into(),
        command: Some(vec!["echo".into()]),
        args: Some(vec!["$(HOME)".into()]),
        ..Step::default()
    };
    let container = build(&spec).spec.unwrap().containers.remove(0);
    assert_eq!(container.command.unwrap(), ["echo"]);
    assert_eq!(
        container.args.unwrap(),
        ["$(HOME)"],
        "Kubernetes expansion applies to commands, as documented"
    );
}

#[test]
fn options_and_run_fields_reach_the_pod() {
    let mut run = taskrun("r", "t");
    run.spec.service_account_name = Some("builder".into());
    run.spec.timeout = "90s".into();
    let options = PodOptions {
        image_pull_policy: Some("IfNotPresent".into()),
    };
    let pod = build_pod(&task(&["a", "b"]), &run, &options).unwrap();
    let spec = pod.spec.unwrap();
    assert_eq!(spec.service_account_name.as_deref(), Some("builder"));
    assert_eq!(spec.active_deadline_seconds, Some(90));
    let init = &spec.init_containers.unwrap()[0];
    assert_eq!(init.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(spec.containers[0].image_pull_policy.as_deref(), Some("IfNotPresent"));
}

#[test]
fn invalid_inputs_are_errors_not_panics() {
    struct Case {
        name: &'static str,
        spec: TaskSpec,
        run: TaskRun,
        want: BuildError,
    }
    let mut both = task(&["a"]);
    both.steps[0].command = Some(vec!["true".into()]);
    let mut neither = task(&["a"]);
    neither.steps[0].script = None;
    let mut no_uid = taskrun("r", "t");
    no_uid.metadata.uid = None;
    let mut bad_timeout = taskrun("r", "t");
    bad_timeout.spec.timeout = "soon".into();
    let cases = [
        Case {
            name: "no steps",
            spec: task(&[]),
            run: taskrun("r", "t"),
            want: BuildError::NoSteps,
        },
        Case {
            name: "duplicate",
            spec: task(&["a", "a"]),
            run: taskrun("r", "t"),
            want: BuildError::DuplicateStep("a".into()),
        },
        Case {
            name: "both",
            spec: both,
            run: taskrun("r", "t"),
            want: BuildError::StepCommand("a".into()),
        },
        Case {
            name: "neither",
            spec: neither,
            run: taskrun("r", "t"),
            want: BuildError::StepCommand("a".into()),
        },
        Case {
            name: "no uid",
            spec: task(&["a"]),
            run: no_uid,
            want: BuildError::Metadata("uid"),
        },
        Case {
            name: "timeout",
            spec: task(&["a"]),
            run: bad_timeout,
            want: BuildError::Timeout(parse_duration("soon").unwrap_err()),
        },
    ];
    for case in cases {
        let got = build_pod(&case.spec, &case.run, &PodOptions::default()).unwrap_err();
        assert_eq!(got, case.want, "{}", case.name);
    }
}
