use super::*;
use crate::fixtures::{task, taskrun};
use crate::pod::script::kubelet_expand;
use k8s_openapi::api::core::v1::LocalObjectReference;
use minitask_api::{
    OnError, Param, ParamSpec, ParamType, ParamValue, PodTemplate, Reason, ResultSpec, Step, StepTemplate,
    WorkspaceBinding, WorkspaceDeclaration,
};
use minitask_launcher::args::InstallArgs;

fn build(spec: &TaskSpec) -> Pod {
    build_pod(spec, &taskrun("hello-run-1", "hello"), 0, &PodOptions::default()).expect("builds")
}

fn step_names(pod: &Pod) -> Vec<String> {
    let spec = pod.spec.as_ref().unwrap();
    spec.containers.iter().map(|c| c.name.clone()).collect()
}

/// What the init container is asked to do, after the kubelet's `$(VAR)`
/// expansion.
fn install_args(pod: &Pod) -> InstallArgs {
    let init = &pod.spec.as_ref().unwrap().init_containers.as_ref().unwrap()[0];
    let args: Vec<String> = init
        .args
        .iter()
        .flatten()
        .map(|a| kubelet_expand(a, |_| None))
        .collect();
    match minitask_launcher::args::parse(&args).unwrap() {
        minitask_launcher::args::Mode::Install(install) => install,
        other => panic!("not an install: {other:?}"),
    }
}

/// The script step `index` runs, as the init container writes it.
fn script_of(pod: &Pod, index: usize) -> String {
    let c = &pod.spec.as_ref().unwrap().containers[index];
    assert_eq!(
        c.args.as_ref().unwrap().last().map(String::as_str),
        Some("--script"),
        "{}",
        c.name
    );
    let install = install_args(pod);
    let scripts = install.scripts.into_iter();
    scripts
        .filter(|(i, _)| *i == index)
        .map(|(_, s)| s)
        .next()
        .expect("a script")
}

/// The launcher's arguments of a step, as it reads them.
fn launcher_args(c: &Container) -> StepArgs {
    let mut args = c.args.clone().unwrap();
    let last = args.len() - 1;
    args[last] = kubelet_expand(&args[last], |_| None);
    match minitask_launcher::args::parse(&args).unwrap() {
        minitask_launcher::args::Mode::Step(step) => step,
        other => panic!("{}: not a step: {other:?}", c.name),
    }
}

#[test]
fn every_step_is_a_container_under_the_launcher_in_order() {
    for steps in [&["only"][..], &["a", "b"], &["fetch", "build", "test", "push"]] {
        let pod = build(&task(steps));
        let want: Vec<String> = steps.iter().map(|s| format!("step-{s}")).collect();
        assert_eq!(step_names(&pod), want, "no results, no reporter");
        let spec = pod.spec.clone().unwrap();
        let init = spec.init_containers.unwrap();
        assert_eq!(init.len(), 1, "{steps:?}");
        assert_eq!(init[0].name, launcher::PREPARE);
        assert_eq!(init[0].image.as_deref(), Some(DEFAULT_LAUNCHER_IMAGE));
        assert_eq!(init[0].command.clone().unwrap(), [minitask_launcher::IMAGE_LAUNCHER]);
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        for (index, c) in spec.containers.iter().enumerate() {
            assert_eq!(c.command.clone().unwrap(), [minitask_launcher::LAUNCHER]);
            let args = launcher_args(c);
            assert_eq!((args.index, args.name.as_str()), (index, steps[index]));
            assert!(!args.keep_going && args.timeout.is_none() && args.debug.is_none());
        }
        assert!(launcher::is_launcher_pod(&pod));
    }
}

/// Where a container may write, and what it may only read, under /minitask.
fn launcher_mounts(c: &Container) -> (Vec<String>, Vec<String>) {
    let mounts = c.volume_mounts.iter().flatten();
    let ours = mounts.filter(|m| m.mount_path.starts_with("/minitask/"));
    let (ro, rw): (Vec<_>, Vec<_>) = ours.partition(|m| m.read_only == Some(true));
    let paths = |m: Vec<&VolumeMount>| m.into_iter().map(|m| m.mount_path.clone()).collect();
    (paths(rw), paths(ro))
}

/// The protocol's guard: a step writes only its own markers (and the
/// results); the markers of the step before, the scripts, the launcher and
/// the reporter's control volume are read-only to it. Every mount names a
/// volume of the pod, and no two steps share a writable markers volume.
#[test]
fn each_step_may_write_only_its_own_markers() {
    let mut spec = task(&["a", "b", "c"]);
    spec.results = vec![ResultSpec {
        name: "digest".into(),
        description: None,
    }];
    let mut run = taskrun("r", "t");
    run.spec.debug = Some(minitask_api::DebugSpec {
        on_failure: true,
        timeout: None,
    });
    let pod = build_pod(&spec, &run, 0, &PodOptions::default()).unwrap();
    let podspec = pod.spec.clone().unwrap();
    let all = containers(&pod);
    for (index, c) in podspec.containers[..3].iter().enumerate() {
        let (rw, ro) = launcher_mounts(c);
        assert_eq!(
            rw,
            ["/minitask/results".to_string(), format!("/minitask/run/{index}")],
            "{}",
            c.name
        );
        let mut want_ro = vec!["/minitask/bin".to_string(), "/minitask/scripts".into()];
        if index > 0 {
            want_ro.push(format!("/minitask/run/{}", index - 1));
        }
        want_ro.push("/minitask/control".into());
        assert_eq!(ro, want_ro, "{}", c.name);
    }
    let (rw, ro) = launcher_mounts(&podspec.containers[3]);
    assert_eq!(rw, ["/minitask/control"], "only the reporter ends a debugger's wait");
    assert_eq!(
        ro,
        [
            "/minitask/run/0",
            "/minitask/run/1",
            "/minitask/run/2",
            "/minitask/results"
        ]
    );
    let (rw, ro) = launcher_mounts(&all[0]);
    assert_eq!(
        (rw, ro.len()),
        (vec!["/minitask/bin".to_string(), "/minitask/scripts".into()], 0)
    );
    let volumes: Vec<String> = podspec.volumes.unwrap().into_iter().map(|v| v.name).collect();
    for m in all.iter().flat_map(|c| c.volume_mounts.iter().flatten()) {
        assert!(volumes.contains(&m.name), "{} is not a volume of the pod", m.name);
    }

    // Without debugging or results, the reporter is gone and a step has
    // no control volume.
    let pod = build(&task(&["a", "b"]));
    let (rw, ro) = launcher_mounts(&pod.spec.unwrap().containers[1]);
    assert_eq!(rw, ["/minitask/run/1"]);
    assert_eq!(ro, ["/minitask/bin", "/minitask/scripts", "/minitask/run/0"]);
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
    run.spec.task_spec = Some(Box::new(task(&["a"])));
    let pod = build_pod(&task(&["a"]), &run, 0, &PodOptions::default()).unwrap();
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
    let containers: Vec<_> = podspec.containers.iter().collect();
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
fn scripts_reach_the_launcher_byte_for_byte() {
    let script = "#!/bin/sh\necho \"$(HOME)\" '$$' \"it's\"\ncat <<'EOF'\n$HOME $(PATH)\nEOF\n";
    let mut spec = task(&["a"]);
    spec.steps[0].script = Some(script.into());
    let pod = build(&spec);
    let init = pod.spec.clone().unwrap().init_containers.unwrap().remove(0);
    let args = init.args.clone().unwrap();
    // What the kubelet hands the launcher after its own $(VAR) expansion.
    let env = |name: &str| (name == "HOME" || name == "PATH").then(|| "EXPANDED".to_string());
    assert_eq!(kubelet_expand(args.last().unwrap(), env), script);
    assert_eq!(script_of(&pod, 0), script);
    assert_eq!(launcher_args(&pod.spec.unwrap().containers[0]).program, Program::Script);
}

#[test]
fn command_steps_keep_command_and_args_as_written() {
    let mut spec = task(&["a"]);
    spec.steps[0] = Step {
        name: "a".into(),
        image: Some("alpine".into()),
        command: Some(vec!["echo".into()]),
        args: Some(vec!["$(HOME)".into()]),
        ..Step::default()
    };
    let container = build(&spec).spec.unwrap().containers.remove(0);
    let args = container.args.unwrap();
    let at = args.iter().position(|a| a == "--").unwrap();
    assert_eq!(
        args[at + 1..],
        ["echo", "$(HOME)"],
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
        ..PodOptions::default()
    };
    let pod = build_pod(&task(&["a", "b"]), &run, 0, &options).unwrap();
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
    let mut huge_timeout = taskrun("r", "t");
    huge_timeout.spec.timeout = "596524h".into();
    let mut zero_timeout = taskrun("r", "t");
    zero_timeout.spec.timeout = "0s".into();
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
        Case {
            name: "a timeout a pod's activeDeadlineSeconds cannot hold",
            spec: task(&["a"]),
            run: huge_timeout,
            want: BuildError::Timeout(
                "\"596524h\" must be more than 0s and at most 596523h14m7s (2^31-1 seconds)".into(),
            ),
        },
        Case {
            name: "no time at all",
            spec: task(&["a"]),
            run: zero_timeout,
            want: BuildError::Timeout("\"0s\" must be more than 0s and at most 596523h14m7s (2^31-1 seconds)".into()),
        },
    ];
    for case in cases {
        let got = build_pod(&case.spec, &case.run, 0, &PodOptions::default()).unwrap_err();
        assert_eq!(got, case.want, "{}", case.name);
    }
}

fn containers(pod: &Pod) -> Vec<Container> {
    let spec = pod.spec.clone().unwrap();
    spec.init_containers
        .into_iter()
        .flatten()
        .chain(spec.containers)
        .collect()
}

fn param(name: &str, type_: ParamType, default: Option<ParamValue>) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        type_,
        description: None,
        default,
    }
}

#[test]
fn params_are_substituted_and_given_as_environment_variables() {
    let mut spec = task(&["a"]);
    spec.params = vec![
        param("who", ParamType::String, Some(ParamValue::String("world".into()))),
        param("files", ParamType::Array, None),
        param("tag", ParamType::String, None),
    ];
    spec.steps[0].image = Some("alpine:$(params.tag)".into());
    spec.steps[0].script = None;
    spec.steps[0].command = Some(vec!["ls".into(), "$(params.files[*])".into()]);
    spec.steps[0].args = Some(vec!["--who=$(params.who)".into()]);
    spec.steps[0].working_dir = Some("/src/$(context.taskRun.name)".into());
    let mut run = taskrun("r", "t");
    run.spec.params = vec![
        Param {
            name: "files".into(),
            value: ParamValue::Array(vec!["a".into(), "$(HOME)".into()]),
        },
        Param {
            name: "tag".into(),
            value: ParamValue::String("3.20".into()),
        },
    ];
    let pod = build_pod(&spec, &run, 0, &PodOptions::default()).unwrap();
    let c = &pod.spec.clone().unwrap().containers[0];
    assert_eq!(c.image.as_deref(), Some("alpine:3.20"));
    let args = c.args.clone().unwrap();
    let at = args.iter().position(|a| a == "--").unwrap();
    assert_eq!(args[at + 1..], ["ls", "a", "$$(HOME)", "--who=world"]);
    assert_eq!(c.working_dir.as_deref(), Some("/src/r"));
    let env: Vec<(String, String)> = c
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value.unwrap()))
        .collect();
    let want = [
        ("PARAM_FILES", "a\n$$(HOME)"),
        ("PARAM_TAG", "3.20"),
        ("PARAM_WHO", "world"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    assert_eq!(env, want);
}

#[test]
fn a_script_gets_params_as_raw_text() {
    let mut spec = task(&["a"]);
    spec.params = vec![param("who", ParamType::String, None)];
    spec.steps[0].script = Some("echo $(params.who)".into());
    let mut run = taskrun("r", "t");
    run.spec.params = vec![Param {
        name: "who".into(),
        value: ParamValue::String("x; rm -rf $HOME".into()),
    }];
    let pod = build_pod(&spec, &run, 0, &PodOptions::default()).unwrap();
    // Raw text: the shell sees a second command. The docs say to use
    // "$PARAM_WHO" instead; this test pins the documented behaviour.
    assert_eq!(script_of(&pod, 0), "echo x; rm -rf $HOME");
}

#[test]
fn param_and_workspace_problems_fail_the_build_with_their_reason() {
    let mut spec = task(&["a"]);
    spec.params = vec![param("who", ParamType::String, None)];
    spec.steps[0].script = Some("echo $(params.whom) $(params.who)".into());
    let mut run = taskrun("r", "t");
    let missing = build_pod(&spec, &run, 0, &PodOptions::default()).unwrap_err();
    assert_eq!(missing.reason(), Reason::InvalidParams);
    assert_eq!(missing.to_string(), "param \"who\" is required: it has no default");

    run.spec.params = vec![Param {
        name: "who".into(),
        value: ParamValue::String("x".into()),
    }];
    let undeclared = build_pod(&spec, &run, 0, &PodOptions::default()).unwrap_err();
    assert_eq!(undeclared.reason(), Reason::InvalidParams);
    assert_eq!(
        undeclared.to_string(),
        "step \"a\" script: $(params.whom) refers to param \"whom\", which the Task does not declare"
    );

    // The reason names the kind of reference.
    spec.steps[0].script = Some("echo $(workspaces.src.path)".into());
    let unknown = build_pod(&spec, &run, 0, &PodOptions::default()).unwrap_err();
    assert_eq!(unknown.reason(), Reason::InvalidWorkspaces);
    spec.steps[0].script = Some("echo $(results.x.path)".into());
    let result = build_pod(&spec, &run, 0, &PodOptions::default()).unwrap_err();
    assert_eq!(
        result.reason(),
        Reason::InvalidTaskSpec,
        "not InvalidParams for a result"
    );
    spec.steps[0].script = Some("echo $(workspaces.src.path)".into());

    spec.workspaces = vec![WorkspaceDeclaration {
        name: "src".into(),
        description: None,
        mount_path: None,
        read_only: false,
        optional: false,
    }];
    let unbound = build_pod(&spec, &run, 0, &PodOptions::default()).unwrap_err();
    assert_eq!(unbound.reason(), Reason::InvalidWorkspaces);
}

#[test]
fn workspaces_are_mounted_in_every_step() {
    let mut spec = task(&["a", "b"]);
    spec.workspaces = vec![WorkspaceDeclaration {
        name: "src".into(),
        description: None,
        mount_path: None,
        read_only: true,
        optional: false,
    }];
    spec.steps[1].script = Some("ls $(workspaces.src.path)".into());
    let mut run = taskrun("r", "t");
    run.spec.workspaces = vec![WorkspaceBinding {
        name: "src".into(),
        sub_path: None,
        empty_dir: Some(EmptyDirVolumeSource::default()),
        persistent_volume_claim: None,
        config_map: None,
        secret: None,
    }];
    let pod = build_pod(&spec, &run, 0, &PodOptions::default()).unwrap();
    for c in pod.spec.clone().unwrap().containers {
        let mounts = c.volume_mounts.unwrap();
        let ws = mounts.iter().find(|m| m.name == "ws-0").expect("mounted");
        assert_eq!((ws.mount_path.as_str(), ws.read_only), ("/workspace/src", Some(true)));
    }
    assert_eq!(script_of(&pod, 1), "ls /workspace/src");
    let volumes = pod.spec.unwrap().volumes.unwrap();
    assert!(volumes.iter().any(|v| v.name == "ws-0" && v.empty_dir.is_some()));
}

#[test]
fn results_add_a_reporter_after_the_last_step() {
    let mut spec = task(&["a", "b"]);
    spec.results = vec![ResultSpec {
        name: "digest".into(),
        description: None,
    }];
    spec.steps[0].script = Some("printf x > $(results.digest.path)".into());
    let options = PodOptions {
        launcher_image: "launcher:1".into(),
        ..PodOptions::default()
    };
    let pod = build_pod(&spec, &taskrun("r", "t"), 0, &options).unwrap();
    assert_eq!(step_names(&pod), ["step-a", "step-b", "minitask-results"]);
    let all = containers(&pod);
    assert_eq!(all[0].image.as_deref(), Some("launcher:1"), "the launcher's copy");
    assert_eq!(all[3].image.as_deref(), Some("launcher:1"));
    assert_eq!(all[3].readiness_probe, None, "no debugging, no probe");
    let report = all[3].args.clone().unwrap();
    assert_eq!(report[..3], ["report", "--steps", "2"]);
    assert_eq!(report.last().map(String::as_str), Some("digest"));
    assert_eq!(script_of(&pod, 0), "printf x > /minitask/results/digest");
    assert!(all[1..].iter().all(|c| {
        let mounts = c.volume_mounts.clone().unwrap();
        mounts.iter().any(|m| m.mount_path == "/minitask/results")
    }));
    assert_eq!(step_names(&build(&task(&["a"]))), ["step-a"], "no results, no reporter");
}

#[test]
fn on_error_continue_and_a_step_timeout_reach_the_launcher() {
    let mut spec = task(&["a", "b"]);
    spec.steps[0].on_error = OnError::Continue;
    spec.steps[1].timeout = Some("1m30s".into());
    let all = build(&spec).spec.unwrap().containers;
    let (first, second) = (launcher_args(&all[0]), launcher_args(&all[1]));
    assert!(first.keep_going && first.timeout.is_none());
    assert!(!second.keep_going);
    assert_eq!(second.timeout, Some(Duration::from_secs(90)));

    for bad in ["0s", "soon"] {
        spec.steps[1].timeout = Some(bad.into());
        let err = build_pod(&spec, &taskrun("r", "t"), 0, &PodOptions::default()).unwrap_err();
        assert_eq!(err.reason(), Reason::InvalidTaskSpec, "{bad}");
        assert!(err.to_string().starts_with("step \"b\": timeout: "), "{err}");
    }
}

#[test]
fn debugging_on_failure_adds_a_probed_reporter_and_tells_every_step() {
    let mut run = taskrun("r", "t");
    run.spec.debug = Some(minitask_api::DebugSpec {
        on_failure: true,
        timeout: Some("2m".into()),
    });
    let pod = build_pod(&task(&["a", "b"]), &run, 0, &PodOptions::default()).unwrap();
    assert_eq!(step_names(&pod), ["step-a", "step-b", launcher::REPORTER]);
    let all = pod.spec.clone().unwrap().containers;
    for c in &all[..2] {
        assert_eq!(launcher_args(c).debug, Some(Duration::from_secs(120)));
    }
    let probe = all[2].readiness_probe.clone().expect("a readiness probe");
    assert_eq!(probe.exec.unwrap().command.unwrap()[1], "probe");

    run.spec.debug.as_mut().unwrap().timeout = None;
    let pod = build_pod(&task(&["a"]), &run, 0, &PodOptions::default()).unwrap();
    assert_eq!(
        launcher_args(&pod.spec.unwrap().containers[0]).debug,
        Some(Duration::from_secs(15 * 60))
    );

    run.spec.debug.as_mut().unwrap().on_failure = false;
    let pod = build_pod(&task(&["a"]), &run, 0, &PodOptions::default()).unwrap();
    assert_eq!(step_names(&pod), ["step-a"], "not debugging");

    run.spec.debug = Some(minitask_api::DebugSpec {
        on_failure: true,
        timeout: Some("0s".into()),
    });
    let err = build_pod(&task(&["a"]), &run, 0, &PodOptions::default()).unwrap_err();
    assert_eq!(err.reason(), Reason::InvalidTaskSpec);
    assert!(err.to_string().contains("spec.debug.timeout"), "{err}");
}

#[test]
fn templates_shape_the_steps_and_the_pod() {
    let mut spec = task(&["a"]);
    spec.steps[0].image = None;
    spec.step_template = Some(StepTemplate {
        image: Some("alpine".into()),
        ..StepTemplate::default()
    });
    let mut run = taskrun("r", "t");
    run.spec.pod_template = Some(Box::new(PodTemplate {
        node_selector: Some(BTreeMap::from([("disk".to_string(), "ssd".to_string())])),
        priority_class_name: Some("batch".into()),
        image_pull_secrets: Some(vec![LocalObjectReference { name: "regcred".into() }]),
        ..PodTemplate::default()
    }));
    let pod = build_pod(&spec, &run, 2, &PodOptions::default()).unwrap();
    assert_eq!(pod.metadata.name.as_deref(), Some("r-pod-retry2"));
    assert_eq!(containers(&pod)[1].image.as_deref(), Some("alpine"));
    let podspec = pod.spec.unwrap();
    assert_eq!(podspec.node_selector.unwrap()["disk"], "ssd");
    assert_eq!(podspec.priority_class_name.as_deref(), Some("batch"));
    assert_eq!(podspec.image_pull_secrets.unwrap()[0].name, "regcred");
}

/// The launcher is one binary for one platform: a pod lands only on a
/// node that can run it (linux, the controller's architecture), unless
/// the pod template says where it may go.
#[test]
fn pods_select_the_launchers_platform_unless_the_template_names_one() {
    let selector = |template: Option<PodTemplate>| {
        let mut run = taskrun("r", "t");
        run.spec.pod_template = template.map(Box::new);
        let pod = build_pod(&task(&["a"]), &run, 0, &PodOptions::default()).unwrap();
        pod.spec.unwrap().node_selector.unwrap()
    };
    let arch = if cfg!(target_arch = "x86_64") {
        "amd64"
    } else {
        launcher_arch()
    };
    assert_eq!(
        selector(None),
        BTreeMap::from([
            (LABEL_ARCH.to_string(), arch.to_string()),
            (LABEL_OS.to_string(), "linux".to_string())
        ])
    );
    let chosen = PodTemplate {
        node_selector: Some(BTreeMap::from([(LABEL_ARCH.to_string(), "arm64".to_string())])),
        ..PodTemplate::default()
    };
    let got = selector(Some(chosen));
    assert_eq!((got[LABEL_ARCH].as_str(), got[LABEL_OS].as_str()), ("arm64", "linux"));
}

#[test]
fn the_launchers_containers_pass_pod_security_restricted_and_runs_as_the_pods_user() {
    use k8s_openapi::api::core::v1::PodSecurityContext;
    let mut spec = task(&["a"]);
    spec.results = vec![ResultSpec {
        name: "digest".into(),
        description: None,
    }];
    let reporter = |run: &TaskRun| containers(&build_pod(&spec, run, 0, &PodOptions::default()).unwrap())[2].clone();
    let prepare = containers(&build_pod(&spec, &taskrun("r", "t"), 0, &PodOptions::default()).unwrap())[0].clone();
    assert_eq!(prepare.security_context, reporter(&taskrun("r", "t")).security_context);
    let security = reporter(&taskrun("r", "t")).security_context.unwrap();
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.capabilities.unwrap().drop.unwrap(), ["ALL"]);
    assert_eq!(security.run_as_non_root, Some(true));
    assert_eq!(security.run_as_user, Some(NONROOT_USER), "a non-root user of its own");
    assert_eq!(security.seccomp_profile.unwrap().type_, "RuntimeDefault");
    assert_eq!(security.read_only_root_filesystem, Some(true));

    let mut run = taskrun("r", "t");
    run.spec.pod_template = Some(Box::new(PodTemplate {
        security_context: Some(PodSecurityContext {
            run_as_user: Some(1000),
            ..PodSecurityContext::default()
        }),
        ..PodTemplate::default()
    }));
    let security = reporter(&run).security_context.unwrap();
    assert_eq!(
        security.run_as_user, None,
        "the pod's user, to read what the steps wrote"
    );
    assert_eq!(security.run_as_non_root, Some(true));
}

#[test]
fn a_steps_security_context_comes_from_it_or_the_template() {
    use k8s_openapi::api::core::v1::SecurityContext;
    let locked = |user| SecurityContext {
        allow_privilege_escalation: Some(false),
        run_as_user: Some(user),
        ..SecurityContext::default()
    };
    let mut spec = task(&["a", "b"]);
    spec.step_template = Some(StepTemplate {
        security_context: Some(locked(1000)),
        ..StepTemplate::default()
    });
    spec.steps[1].security_context = Some(locked(2000));
    let all = build(&spec).spec.unwrap().containers;
    assert_eq!(all[0].security_context, Some(locked(1000)));
    assert_eq!(all[1].security_context, Some(locked(2000)));
    assert_eq!(build(&task(&["a"])).spec.unwrap().containers[0].security_context, None);
}

#[test]
fn a_pod_left_by_an_earlier_run_of_the_same_name_is_told_apart_from_a_foreign_one() {
    let pod = build(&task(&["a"]));
    let mut recreated = taskrun("hello-run-1", "hello");
    assert!(!is_left_by_earlier_run(&pod, &recreated), "our own pod");
    recreated.metadata.uid = Some("uid-2".into());
    assert!(is_left_by_earlier_run(&pod, &recreated));
    assert!(!is_owned_by(&pod, &recreated));
    let other_name = taskrun("other", "hello");
    assert!(
        !is_left_by_earlier_run(&pod, &other_name),
        "another run's pod is foreign"
    );
    let mut foreign = pod.clone();
    foreign.metadata.owner_references = None;
    assert!(!is_left_by_earlier_run(&foreign, &recreated));
}

#[test]
fn sidecars_are_native_sidecars_that_the_steps_wait_for() {
    let mut spec = task(&["a"]);
    spec.params = vec![ParamSpec {
        name: "password".into(),
        type_: ParamType::String,
        description: None,
        default: Some(ParamValue::String("test".into())),
    }];
    spec.sidecars = serde_json::from_value(serde_json::json!([
        {"name": "db", "image": "postgres:16", "env": [{"name": "POSTGRES_PASSWORD", "value": "$(params.password)"}],
         "ports": [{"containerPort": 5432}],
         "readinessProbe": {"exec": {"command": ["pg_isready"]}, "periodSeconds": 2}},
        {"name": "web", "image": "busybox", "script": "httpd -f -p 8080 -h $(workspaces.w.path)"},
    ]))
    .unwrap();
    spec.workspaces = vec![serde_json::from_value(serde_json::json!({"name": "w"})).unwrap()];
    let mut run = taskrun("hello-run-1", "hello");
    run.spec.workspaces = vec![serde_json::from_value(serde_json::json!({"name": "w", "emptyDir": {}})).unwrap()];
    let pod = build_pod(&spec, &run, 0, &PodOptions::default()).expect("builds");
    let init = pod.spec.as_ref().unwrap().init_containers.clone().unwrap();
    let names: Vec<&str> = init.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names[1..],
        ["sidecar-db", "sidecar-web"],
        "after the launcher's install"
    );
    let db = &init[1];
    assert_eq!(db.restart_policy.as_deref(), Some("Always"), "a native sidecar");
    assert_eq!(db.command, None, "the image's entrypoint");
    assert_eq!(db.env.as_ref().unwrap()[0].value.as_deref(), Some("test"));
    let startup = db.startup_probe.as_ref().expect("the steps start once it passes");
    assert_eq!(startup.exec, db.readiness_probe.as_ref().unwrap().exec);
    assert_eq!(startup.period_seconds, Some(2));
    assert!(
        startup.failure_threshold.unwrap() > 100_000,
        "the controller's grace decides, not the kubelet"
    );
    let web = &init[2];
    assert_eq!(web.startup_probe, None, "ready once it runs");
    let path = web.args.as_ref().unwrap()[0].clone();
    assert_eq!(
        web.command.as_deref(),
        Some(&["/bin/sh".to_string(), "-c".to_string()][..])
    );
    assert!(path.starts_with("httpd -f -p 8080 -h /workspace/"), "{path}");
    let mounts: Vec<&str> = web
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.mount_path.as_str())
        .collect();
    assert!(mounts.contains(&"/workspace"), "{mounts:?}");
    assert_eq!(step_names(&pod), ["step-a"]);

    spec.sidecars[0].image = "$(params.nope)".into();
    let err = build_pod(&spec, &run, 0, &PodOptions::default()).unwrap_err();
    assert!(err.to_string().contains("sidecar \"db\" image"), "{err}");
}
