use super::*;
use crate::fixtures::{task, taskrun};
use crate::pod::script::kubelet_expand;
use k8s_openapi::api::core::v1::LocalObjectReference;
use minitask_api::{
    OnError, Param, ParamSpec, ParamType, ParamValue, PodTemplate, Reason, ResultSpec, Step, StepTemplate,
    WorkspaceBinding, WorkspaceDeclaration,
};

fn build(spec: &TaskSpec) -> Pod {
    build_pod(spec, &taskrun("hello-run-1", "hello"), 0, &PodOptions::default()).expect("builds")
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
        image: Some("alpine".into()),
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
    let c = &containers(&pod)[0];
    assert_eq!(c.image.as_deref(), Some("alpine:3.20"));
    assert_eq!(c.command.clone().unwrap(), ["ls", "a", "$$(HOME)"]);
    assert_eq!(c.args.clone().unwrap(), ["--who=world"]);
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
    let args = containers(&pod)[0].args.clone().unwrap();
    // Raw text: the shell sees a second command. The docs say to use
    // "$PARAM_WHO" instead; this test pins the documented behaviour.
    assert_eq!(kubelet_expand(&args[1], |_| None), "echo x; rm -rf $HOME");
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
    for c in containers(&pod) {
        let mounts = c.volume_mounts.unwrap();
        let ws = mounts.iter().find(|m| m.name == "ws-0").expect("mounted");
        assert_eq!((ws.mount_path.as_str(), ws.read_only), ("/workspace/src", Some(true)));
    }
    let args = containers(&pod)[1].args.clone().unwrap();
    assert_eq!(kubelet_expand(&args[1], |_| None), "ls /workspace/src");
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
        shell_image: "shell:1".into(),
        ..PodOptions::default()
    };
    let pod = build_pod(&spec, &taskrun("r", "t"), 0, &options).unwrap();
    assert_eq!(step_names(&pod), ["step-a", "step-b", "minitask-results"]);
    let all = containers(&pod);
    assert_eq!(all[2].image.as_deref(), Some("shell:1"));
    let args = all[0].args.clone().unwrap();
    assert_eq!(
        kubelet_expand(&args[1], |_| None),
        "printf x > /minitask/results/digest"
    );
    assert!(all.iter().all(|c| {
        let mounts = c.volume_mounts.clone().unwrap();
        mounts.iter().any(|m| m.mount_path == "/minitask/results")
    }));
    assert_eq!(step_names(&build(&task(&["a"]))), ["step-a"], "no results, no reporter");
}

#[test]
fn on_error_continue_wraps_the_step() {
    let mut spec = task(&["a", "b"]);
    spec.steps[0].on_error = OnError::Continue;
    let pod = build(&spec);
    let all = containers(&pod);
    let (wrapped, plain) = (&all[0], &all[1]);
    assert!(kubelet_expand(&wrapped.command.clone().unwrap()[2], |_| None).contains("minitask: continued"));
    assert_eq!(wrapped.args.clone().unwrap()[..2], ["a", "/bin/sh"]);
    assert!(!kubelet_expand(&plain.command.clone().unwrap()[2], |_| None).contains("continued"));
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
    assert_eq!(containers(&pod)[0].image.as_deref(), Some("alpine"));
    let podspec = pod.spec.unwrap();
    assert_eq!(podspec.node_selector.unwrap()["disk"], "ssd");
    assert_eq!(podspec.priority_class_name.as_deref(), Some("batch"));
    assert_eq!(podspec.image_pull_secrets.unwrap()[0].name, "regcred");
}

#[test]
fn the_reporter_passes_pod_security_restricted_and_runs_as_the_pods_user() {
    use k8s_openapi::api::core::v1::PodSecurityContext;
    let mut spec = task(&["a"]);
    spec.results = vec![ResultSpec {
        name: "digest".into(),
        description: None,
    }];
    let reporter = |run: &TaskRun| containers(&build_pod(&spec, run, 0, &PodOptions::default()).unwrap())[1].clone();
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
    let all = containers(&build(&spec));
    assert_eq!(all[0].security_context, Some(locked(1000)));
    assert_eq!(all[1].security_context, Some(locked(2000)));
    assert_eq!(containers(&build(&task(&["a"])))[0].security_context, None);
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
