//! `list`, `runs`, `describe`, `logs`, `cancel`, `delete`, `completion`,
//! `version`, and output into a closed pipe.

use crate::*;
use minitask_api::Task;

#[tokio::test]
async fn list_and_runs_print_tables_and_parse_back() {
    let (client, ns) = world("lists").await;
    create_task(&client, &ns, "hello").await;
    create_task_with(
        &client,
        &ns,
        "build",
        json!({"params": [{"name": "tag"}, {"name": "os", "default": "linux"}], "steps": [
            {"name": "a", "image": "busybox", "script": "true"}, {"name": "b", "image": "busybox", "script": "true"}]}),
    )
    .await;
    let table = ok(&task_in(&ns, &["list"]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("NAME")
            && lines[0].contains("STEPS   VALID   PARAMS   WORKSPACES   RESULTS   AGE   DESCRIPTION"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("build")
            && lines[1].contains(" 2 ")
            && lines[1].contains(" True ")
            && lines[1].contains("tag,os"),
        "{table}"
    );
    assert!(lines[2].starts_with("hello") && lines[2].contains("<none>"), "{table}");
    let yaml = ok(&task_in(&ns, &["list", "-o", "yaml"]));
    let list: Value = serde_saphyr::from_str(&yaml).unwrap();
    // Then the ClusterTasks other tests may have published.
    let items = list["items"].as_array().unwrap().iter().filter(|i| i["kind"] == "Task");
    let tasks: Vec<Task> = items.map(|i| serde_json::from_value(i.clone()).unwrap()).collect();
    assert_eq!(tasks.len(), 2);

    create_run(&client, &ns, "hello-1", "hello").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    create_run(&client, &ns, "hello-2", "hello").await;
    create_run(&client, &ns, "build-1", "build").await;
    set_status(
        &client,
        &ns,
        "hello-1",
        json!({"phase": "Succeeded", "reason": "Succeeded", "duration": "3s"}),
    )
    .await;

    let table = ok(&task_in(&ns, &["runs"]));
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.contains("TASK") && table.contains("STATUS") && table.contains("REASON"),
        "{table}"
    );
    let row = table.lines().find(|l| l.starts_with("hello-1")).unwrap();
    assert!(row.contains("Succeeded") && row.ends_with("3s"), "{row}");

    let json = ok(&task_in(
        &ns,
        &["runs", "--task", "hello", "--limit", "1", "-o", "json"],
    ));
    let list: Value = serde_json::from_str(&json).unwrap();
    let items: Vec<TaskRun> = serde_json::from_value(list["items"].clone()).unwrap();
    assert_eq!(
        items.iter().map(|r| r.name_any()).collect::<Vec<_>>(),
        ["hello-2"],
        "newest first"
    );

    let names = ok(&task_in(&ns, &["runs", "-l", "minitask.dev/task=build", "-o", "name"]));
    assert_eq!(names, "taskrun.minitask.dev/build-1\n");
    let all = ok(&plugin(&["runs", "-A"], &ControlPlane::shared().kubeconfig));
    assert!(all.starts_with("NAMESPACE") && all.contains(&ns), "{all}");

    let (_, empty) = world("lists-empty").await;
    let out = task_in(&empty, &["runs"]);
    assert_eq!(ok(&out), "");
    assert_eq!(
        text(&out.stderr).trim(),
        format!("No TaskRuns found in namespace {empty}.")
    );
}

#[tokio::test]
async fn describe_shows_params_results_steps_and_parses_back() {
    let (client, ns) = world("describe").await;
    let spec = json!({"params": [{"name": "who", "default": "world"}, {"name": "tag"}],
        "steps": [{"name": "build", "image": "busybox", "script": "true"}, {"name": "push", "image": "busybox", "script": "true"}]});
    create_task_with(&client, &ns, "release", spec.clone()).await;
    let run: TaskRun = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun", "metadata": {"name": "release-1"},
        "spec": {"taskRef": {"name": "release"}, "params": [{"name": "tag", "value": "v2"}]}
    }))
    .unwrap();
    Api::<TaskRun>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &run)
        .await
        .unwrap();
    let t = |s: u32| format!("2030-01-01T00:00:{s:02}Z");
    let status = json!({
        "phase": "Failed", "reason": "StepFailed", "message": "step \"push\" failed with exit code 2",
        "podName": "release-1-pod", "startTime": t(0), "duration": "10s", "taskSpec": spec,
        "results": [{"name": "digest", "value": "sha256:abc"}],
        "steps": [
            {"name": "build", "container": "step-build", "terminated": {"exitCode": 0, "reason": "Completed", "startedAt": t(0), "finishedAt": t(5)}},
            {"name": "push", "container": "step-push", "terminated": {"exitCode": 2, "reason": "Error", "startedAt": t(5), "finishedAt": t(10)}},
        ],
    });
    set_status(&client, &ns, "release-1", status).await;

    let text = ok(&task_in(&ns, &["describe", "release-1"]));
    for want in [
        "Name:      release-1",
        "Task:      release",
        "Status:    Failed (StepFailed)",
        "Message:   step \"push\" failed with exit code 2",
        "Pod:       release-1-pod",
        "Duration:  10s",
        "who    world (default)",
        "tag    v2",
        "digest   sha256:abc",
        "Events:\n  <none>",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    let build = text.lines().find(|l| l.trim_start().starts_with("build ")).unwrap();
    assert!(
        build.contains("Succeeded") && build.contains(" 0 ") && build.contains("5s"),
        "{build}"
    );
    assert!(
        build.contains(&format!("{}{}", "█".repeat(10), "·".repeat(10))),
        "{build}"
    );
    let push = text.lines().find(|l| l.trim_start().starts_with("push ")).unwrap();
    assert!(push.contains("Failed") && push.contains(" 2 "), "{push}");

    let yaml = ok(&task_in(&ns, &["describe", "release-1", "-o", "yaml"]));
    let back: TaskRun = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(back.status.unwrap().results[0].value, "sha256:abc");

    let out = task_in(&ns, &["describe", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(crate::text(&out.stderr).contains(&format!("taskrun \"nope\" not found in namespace {ns}")));
}

#[tokio::test]
async fn logs_of_a_run_without_a_pod_say_why() {
    let (client, ns) = world("logs").await;
    create_task(&client, &ns, "hello").await;
    create_run(&client, &ns, "r", "hello").await;
    set_status(
        &client,
        &ns,
        "r",
        json!({"phase": "Pending", "reason": "TaskNotFound", "message": "Task \"x\" not found"}),
    )
    .await;
    for args in [vec!["logs", "r"], vec!["logs", "--last"]] {
        let out = task_in(&ns, &args);
        assert_eq!(ok(&out), "");
        assert_eq!(
            text(&out.stderr).trim(),
            "taskrun r has not started: Task \"x\" not found"
        );
    }
    let out = task_in(&ns, &["logs"]);
    assert_eq!(out.status.code(), Some(2), "a run or --last is required");
}

#[tokio::test]
async fn cancel_and_delete_never_lose_a_running_run_by_accident() {
    let (client, ns) = world("manage").await;
    create_task(&client, &ns, "hello").await;
    for name in ["old", "mid", "new", "running"] {
        create_run(&client, &ns, name, "hello").await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    for name in ["old", "mid", "new"] {
        set_status(&client, &ns, name, json!({"phase": "Succeeded", "reason": "Succeeded"})).await;
    }
    assert_eq!(
        ok(&task_in(&ns, &["cancel", "running"])),
        "taskrun.minitask.dev/running cancelled\n"
    );
    let running = Api::<TaskRun>::namespaced(client.clone(), &ns)
        .get("running")
        .await
        .unwrap();
    assert!(running.spec.cancelled);
    let out = task_in(&ns, &["cancel", "old"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("already finished (Succeeded)"));

    let out = task_in(&ns, &["delete", "old", "running"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("these runs have not finished: running"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(runs(&client, &ns).await.len(), 4, "nothing deleted");

    let out = ok(&task_in(&ns, &["delete", "--task", "hello", "--keep", "1"]));
    assert_eq!(
        out,
        "taskrun.minitask.dev/mid deleted\ntaskrun.minitask.dev/old deleted\n"
    );
    let left: Vec<String> = runs(&client, &ns).await.iter().map(|r| r.name_any()).collect();
    assert_eq!(left.len(), 2);
    assert!(
        left.contains(&"new".to_string()) && left.contains(&"running".to_string()),
        "{left:?}"
    );

    assert_eq!(
        ok(&task_in(&ns, &["delete", "running", "--force"])),
        "taskrun.minitask.dev/running deleted\n"
    );
}

#[tokio::test]
async fn completion_version_and_help() {
    let bash = ok(&plugin(&["completion", "bash"], &ControlPlane::shared().kubeconfig));
    assert!(
        bash.contains("complete -F _kubectl_task kubectl-task") && bash.contains("__complete"),
        "{bash}"
    );
    for shell in ["zsh", "fish"] {
        assert!(!ok(&plugin(&["completion", shell], &ControlPlane::shared().kubeconfig)).is_empty());
    }
    let version = ok(&plugin(&["version"], &ControlPlane::shared().kubeconfig));
    let lines: Vec<&str> = version.lines().collect();
    assert_eq!(lines[0], format!("kubectl-task {}", env!("CARGO_PKG_VERSION")));
    assert!(
        lines[1].starts_with("Kubernetes v1.35.4 at https://127.0.0.1:"),
        "{version}"
    );
    assert_eq!(
        lines[2],
        "mini-task API: installed (minitask.dev/v1alpha1: clustertasks, pipelineruns, pipelines, taskruns, tasks, triggers)",
        "{version}"
    );
    assert_eq!(
        lines[3], "controller: not found in namespace minitask-system (kubectl apply -k deploy/)",
        "{version}"
    );
    let help = ok(&plugin(&["start", "--help"], &ControlPlane::shared().kubeconfig));
    for flag in [
        "--param",
        "--workspace",
        "--follow",
        "--wait",
        "--dry-run",
        "--use-param-defaults",
        "--prefix-name",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    let out = plugin(&["start"], &ControlPlane::shared().kubeconfig);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[tokio::test]
async fn a_closed_pipe_ends_the_output_quietly() {
    let (client, ns) = world("pipe").await;
    create_task(&client, &ns, "hello").await;
    create_run(&client, &ns, "r", "hello").await;
    // `true` exits without reading, so every write meets a closed pipe.
    let out = Command::new("bash")
        .args([
            "-c",
            "set -o pipefail; \"$0\" runs -n \"$1\" -o yaml | true",
            PLUGIN,
            &ns,
        ])
        .env("KUBECONFIG", &ControlPlane::shared().kubeconfig)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "no panic, no error");
}

#[test]
fn the_krew_manifest_installs_this_binary() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/krew/task.yaml");
    let manifest: Value = serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(manifest["kind"], "Plugin");
    assert_eq!(manifest["metadata"]["name"], "task", "installed as `kubectl task`");
    assert_eq!(manifest["spec"]["version"], format!("v{}", env!("CARGO_PKG_VERSION")));
    assert_eq!(manifest["spec"]["platforms"][0]["bin"], "kubectl-task");
}
