//! kubectl's conventions: names in kubectl's forms, output formats, --last,
//! -w, delete by selector, global flags, and help that reads `kubectl task`.

use crate::*;

/// Plays the controller: a run that finished, with a pod and two steps.
async fn finished(client: &Client, ns: &str, name: &str, phase: &str) {
    let t = |s: u32| format!("2030-01-01T00:00:{s:02}Z");
    set_status(
        client,
        ns,
        name,
        json!({"phase": phase, "reason": phase, "message": "done", "podName": format!("{name}-pod"),
               "completionTime": t(9), "startTime": t(0),
               "steps": [{"name": "a", "container": "step-a", "terminated": {"exitCode": 0, "startedAt": t(0), "finishedAt": t(9)}}]}),
    )
    .await;
}

#[tokio::test]
async fn names_come_in_every_form_kubectl_prints_and_pipe_back_in() {
    let (client, ns) = world("names").await;
    create_task(&client, &ns, "hello").await;
    create_run(&client, &ns, "r1", "hello").await;
    finished(&client, &ns, "r1", "Succeeded").await;
    for name in ["r1", "taskrun/r1", "tr/r1", "taskrun.minitask.dev/r1", "taskruns/r1"] {
        let text = ok(&task_in(&ns, &["describe", name]));
        assert!(text.starts_with("Name:      r1\n"), "{name}: {text}");
    }
    // `-o name` output goes back in as it is.
    let out = bash(&format!(
        "kubectl-task runs -n {ns} -o name | xargs -n1 kubectl-task describe -n {ns} | head -1"
    ));
    assert_eq!(text(&out.stdout), "Name:      r1\n", "{}", text(&out.stderr));
    let stderr = error(&task_in(&ns, &["describe", "pod/r1"]));
    assert!(stderr.contains("not a kind this plugin knows"), "{stderr}");

    // A Task, by kind or alone.
    for args in [
        vec!["describe", "task/hello"],
        vec!["describe", "task", "hello"],
        vec!["describe", "hello"],
    ] {
        let text = ok(&task_in(&ns, &args));
        assert!(text.starts_with("Name:        hello\n"), "{args:?}: {text}");
        assert!(text.contains("Recent runs:") && text.contains("r1 "), "{text}");
        assert!(text.contains("Start it with `kubectl task start hello`"), "{text}");
    }
    create_run(&client, &ns, "r2", "hello").await;
    assert_eq!(
        ok(&task_in(&ns, &["cancel", "tr/r2"])),
        "taskrun.minitask.dev/r2 cancelled\n"
    );
    finished(&client, &ns, "r2", "Failed").await;
    assert_eq!(
        ok(&task_in(&ns, &["delete", "taskrun.minitask.dev/r2"])),
        "taskrun.minitask.dev/r2 deleted\n"
    );
}

#[tokio::test]
async fn every_output_format_works_and_yaml_has_no_managed_fields() {
    let (client, ns) = world("formats").await;
    full_task(&client, &ns, "build").await;
    create_run(&client, &ns, "b1", "build").await;
    finished(&client, &ns, "b1", "Succeeded").await;

    let wide = ok(&task_in(&ns, &["runs", "-o", "wide"]));
    let headers: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(headers[6..], ["POD", "ATTEMPT", "MESSAGE"], "{wide}");
    assert!(wide.contains("b1-pod") && wide.contains("done"), "{wide}");
    assert_eq!(
        ok(&task_in(&ns, &["runs", "-o", "jsonpath={.items[*].metadata.name}"])),
        "b1"
    );
    assert_eq!(
        ok(&task_in(&ns, &["describe", "b1", "-o", "jsonpath={.status.phase}"])),
        "Succeeded"
    );
    assert_eq!(
        ok(&task_in(
            &ns,
            &["runs", "-o", "custom-columns=RUN:.metadata.name,POD:.status.podName"]
        )),
        "RUN   POD\nb1    b1-pod\n"
    );
    for args in [
        vec!["runs", "-o", "yaml"],
        vec!["describe", "b1", "-o", "yaml"],
        vec!["list", "-o", "json"],
    ] {
        let out = ok(&task_in(&ns, &args));
        assert!(!out.contains("managedFields"), "{args:?}: {out}");
    }
    let stderr = error(&task_in(&ns, &["runs", "-o", "table"]));
    assert!(stderr.contains("unknown output format \"table\""), "{stderr}");

    let list = ok(&task_in(&ns, &["list"]));
    let row = list.lines().find(|l| l.starts_with("build")).unwrap();
    assert!(
        row.contains("who,files")
            && row.contains("src,cache")
            && row.contains("digest")
            && row.ends_with("Builds the thing."),
        "{list}"
    );
    assert!(ok(&task_in(&ns, &["list", "-o", "wide"])).contains("IMAGES"));
}

#[tokio::test]
async fn last_picks_the_newest_run_and_start_last_runs_it_again() {
    let (client, ns) = world("last").await;
    full_task(&client, &ns, "build").await;
    crate::create_claim(&client, &ns, "code").await;
    create_task(&client, &ns, "hello").await;
    let first = ok(&task_in(
        &ns,
        &[
            "start",
            "build",
            "-p",
            "who=ada",
            "-p",
            "files=x,y",
            "-w",
            "src=pvc:code",
            "--retries",
            "2",
            "--ttl",
            "1h",
            "-o",
            "name",
        ],
    ));
    let first = first.trim().rsplit('/').next().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    create_run(&client, &ns, "hello-newest", "hello").await;

    let described = ok(&task_in(&ns, &["describe", "--last"]));
    assert!(described.starts_with("Name:      hello-newest"), "{described}");
    let described = ok(&task_in(&ns, &["describe", "--last", "--task", "build"]));
    assert!(described.starts_with(&format!("Name:      {first}")), "{described}");
    let stored = runs(&client, &ns)
        .await
        .into_iter()
        .find(|r| r.name_any() == first)
        .unwrap();
    assert_eq!(
        (stored.spec.retries, stored.spec.ttl_seconds_after_finished),
        (2, Some(3600))
    );

    // Again, as the newest run of build ran: same params and workspaces.
    let out = task_in(&ns, &["start", "build", "--last", "-p", "who=grace"]);
    let again = ok(&out)
        .trim()
        .strip_suffix(" created")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert!(
        text(&out.stderr).contains(&format!("follow it with `kubectl task logs -f {again} -n {ns}`")),
        "{}",
        text(&out.stderr)
    );
    let again = runs(&client, &ns)
        .await
        .into_iter()
        .find(|r| r.name_any() == again)
        .unwrap();
    let params = serde_json::to_value(&again.spec.params).unwrap();
    assert_eq!(
        params,
        json!([{"name": "who", "value": "grace"}, {"name": "files", "value": ["x", "y"]}])
    );
    assert_eq!(
        again.spec.workspaces[0]
            .persistent_volume_claim
            .as_ref()
            .unwrap()
            .claim_name,
        "code"
    );
    assert_eq!(again.spec.retries, 2);

    assert_eq!(
        ok(&task_in(&ns, &["cancel", "--last", "--task", "hello"])),
        "taskrun.minitask.dev/hello-newest cancelled\n"
    );
    let out = task_in(&ns, &["logs", "--last", "--task", "hello"]);
    assert!(
        text(&out.stderr).contains("taskrun hello-newest has not started"),
        "{}",
        text(&out.stderr)
    );
    let stderr = error(&task_in(&ns, &["logs", "--last", "--task", "nope"]));
    assert!(stderr.contains("Task \"nope\" has no runs"), "{stderr}");
}

#[tokio::test]
async fn runs_watch_prints_each_change() {
    let (client, ns) = world("watch").await;
    create_task(&client, &ns, "hello").await;
    create_run(&client, &ns, "w1", "hello").await;
    let child = std::process::Command::new(PLUGIN)
        .args(["runs", "-w", "-n", &ns])
        .env("KUBECONFIG", &ControlPlane::shared().kubeconfig)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    finished(&client, &ns, "w1", "Succeeded").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{stdout}");
    assert!(lines[1].starts_with("w1") && lines[1].contains("Pending"), "{stdout}");
    assert!(
        lines
            .iter()
            .skip(2)
            .any(|l| l.starts_with("w1") && l.contains("Succeeded")),
        "{stdout}"
    );
}

#[tokio::test]
async fn delete_takes_selectors_all_and_a_task_and_asks_on_a_terminal() {
    let (client, ns) = world("delete").await;
    create_task(&client, &ns, "hello").await;
    create_task(&client, &ns, "other").await;
    for (name, task) in [
        ("h1", "hello"),
        ("h2", "hello"),
        ("o1", "other"),
        ("o2", "other"),
        ("live", "hello"),
    ] {
        create_run(&client, &ns, name, task).await;
    }
    for name in ["h1", "h2", "o1", "o2"] {
        finished(&client, &ns, name, "Succeeded").await;
    }
    // Without a terminal nothing is asked.
    assert_eq!(
        ok(&task_in(&ns, &["delete", "--task", "other"])),
        "taskrun.minitask.dev/o1 deleted\ntaskrun.minitask.dev/o2 deleted\n"
    );
    // On a terminal, `n` keeps them.
    let out = bash(&format!(
        "printf 'n\\n' | script -qec 'kubectl-task delete --all -n {ns}' /dev/null"
    ));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("delete 2 TaskRuns in namespace") && shown.contains("[y/N]"),
        "{shown}"
    );
    assert!(shown.contains("nothing was deleted"), "{shown}");
    assert_eq!(runs(&client, &ns).await.len(), 3);
    let out = bash(&format!(
        "script -qec 'kubectl-task delete -l minitask.dev/task=hello -y -n {ns}' /dev/null"
    ));
    let shown = text(&out.stdout);
    assert!(
        !shown.contains("[y/N]") && shown.contains("h1 deleted") && shown.contains("h2 deleted"),
        "{shown}"
    );
    let left: Vec<String> = runs(&client, &ns).await.iter().map(|r| r.name_any()).collect();
    assert_eq!(
        left,
        ["live"],
        "a run that has not finished is never deleted by a selector"
    );
}

#[tokio::test]
async fn logs_flags_are_checked() {
    let (client, ns) = world("logs-flags").await;
    create_task(&client, &ns, "hello").await;
    create_run(&client, &ns, "r", "hello").await;
    set_status(
        &client,
        &ns,
        "r",
        json!({"phase": "Pending", "message": "waiting for pod r-pod to start"}),
    )
    .await;
    let out = task_in(&ns, &["logs", "r", "--timestamps", "--tail", "5", "--no-color"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr).trim(),
        "taskrun r has not started: waiting for pod r-pod to start",
        "a pending run says why"
    );
    let stderr = error(&task_in(&ns, &["logs", "r", "--attempt", "2"]));
    assert!(
        stderr.contains("taskrun r has 1 attempt; --attempt takes 1 to 1"),
        "{stderr}"
    );
}

#[tokio::test]
async fn global_flags_work_as_in_kubectl_and_help_says_kubectl_task() {
    let (client, ns) = world("globals").await;
    create_task(&client, &ns, "hello").await;
    let out = task_in(
        &ns,
        &[
            "runs",
            "--request-timeout",
            "5s",
            "--as",
            "system:admin",
            "--as-group",
            "system:masters",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = error(&task_in(&ns, &["runs", "--token", "not-a-token"]));
    assert!(stderr.contains("does not accept your credentials"), "{stderr}");
    let help = ok(&plugin(&["--help"], &ControlPlane::shared().kubeconfig));
    assert!(help.contains("Usage: kubectl task [OPTIONS] <COMMAND>"), "{help}");
    assert!(
        help.contains("Global flags (as in kubectl):") && help.contains("--request-timeout"),
        "{help}"
    );
    assert!(
        help.contains("3    the run followed with -f/--wait was deleted"),
        "{help}"
    );
    let help = ok(&plugin(&["start", "--help"], &ControlPlane::shared().kubeconfig));
    for flag in ["--showlog", "--retries", "--ttl", "--last", "--use-taskrun"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

/// `logs` of a run whose pod is gone says so and exits non-zero: a script
/// must not take a part for the whole.
#[tokio::test]
async fn logs_of_a_run_whose_pod_is_gone_exit_non_zero() {
    let (client, ns) = world("logs-gone").await;
    create_task(&client, &ns, "hello").await;
    create_run(&client, &ns, "old", "hello").await;
    let status = json!({"phase": "Succeeded", "reason": "Succeeded", "podName": "old-pod",
        "steps": [{"name": "a", "container": "step-a", "terminated": {"exitCode": 0}}]});
    set_status(&client, &ns, "old", status).await;
    let stderr = error(&task_in(&ns, &["logs", "old"]));
    assert!(
        stderr.contains("pod old-pod is gone: its logs went with it"),
        "{stderr}"
    );
    assert!(
        stderr.contains("some logs of taskrun old are lost: pod old-pod is gone"),
        "{stderr}"
    );
}

/// `delete --task T` picks the runs `runs --task T` lists, also those
/// created by `kubectl apply` (no task label).
#[tokio::test]
async fn delete_and_runs_select_the_same_runs_of_a_task() {
    let (client, ns) = world("delete-same").await;
    create_task(&client, &ns, "hello").await;
    let applied: minitask_api::TaskRun = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun", "metadata": {"name": "applied"},
        "spec": {"taskRef": {"name": "hello"}},
    }))
    .unwrap();
    kube::Api::namespaced(client.clone(), &ns)
        .create(&Default::default(), &applied)
        .await
        .unwrap();
    create_run(&client, &ns, "started", "hello").await;
    for name in ["applied", "started"] {
        finished(&client, &ns, name, "Succeeded").await;
    }
    let listed = ok(&task_in(&ns, &["runs", "--task", "hello", "-o", "name"]));
    let dry = ok(&task_in(&ns, &["delete", "--task", "hello", "--dry-run"]));
    let mut listed: Vec<&str> = listed.lines().collect();
    let mut deleted: Vec<String> = dry.lines().map(|l| l.replace(" deleted (dry run)", "")).collect();
    listed.sort();
    deleted.sort();
    assert_eq!(deleted, listed);
    assert_eq!(crate::runs(&client, &ns).await.len(), 2, "a dry run deletes nothing");
    let kept = ok(&task_in(&ns, &["delete", "--task", "hello", "--keep", "1"]));
    assert_eq!(kept.lines().count(), 1, "{kept}");
}
