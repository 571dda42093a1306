//! The launcher on real containers: step timeouts, results after a failed
//! step, and a failed step that waits for a debugger.

use crate::Namespaced;
use minitask_api::{Phase, TaskRun};

/// A Task named `t` with these steps and results.
fn task(steps: &str, results: &str) -> String {
    format!(
        "apiVersion: minitask.dev/v1alpha1\nkind: Task\nmetadata:\n  name: t\nspec:\n  results: [{results}]\n  steps:\n{steps}"
    )
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_step_over_its_timeout_is_stopped_and_the_rest_never_run() {
    let t = Namespaced::new("step-timeout").await;
    t.apply(&task(
        "    - {name: slow, image: busybox, timeout: 2s, script: 'echo started; sleep 300'}\n    - {name: never, image: busybox, script: 'echo never'}\n",
        "",
    ));
    let run = t.start("t");
    let failed = t.finish(&run, Phase::Failed).await.status.unwrap();
    assert_eq!(failed.reason.as_deref(), Some("StepTimeout"), "{failed:?}");
    let message = failed.message.unwrap_or_default();
    assert!(
        message.starts_with("step \"slow\" went over its timeout of 2s and was stopped"),
        "{message}"
    );
    let never = &failed.steps[1];
    assert!(never.terminated.is_none() && never.running.is_none(), "{never:?}");
    let pod = failed.pod_name.unwrap();
    assert_eq!(
        t.logs(&pod, "step-slow").await,
        "started\nminitask: step \"slow\" went over its timeout of 2s; stopping it\n"
    );
    assert_eq!(t.logs(&pod, "step-never").await, "", "its script never ran");
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn results_written_before_a_failed_step_are_reported() {
    let t = Namespaced::new("results-failed").await;
    t.apply(&task(
        "    - {name: tag, image: busybox, script: 'printf 1.2.3 > $(results.version.path)'}\n    - {name: break, image: busybox, script: 'exit 4'}\n",
        "{name: version}, {name: digest}",
    ));
    let run = t.start("t");
    let failed = t.finish(&run, Phase::Failed).await.status.unwrap();
    assert_eq!(failed.reason.as_deref(), Some("StepFailed"), "{failed:?}");
    let results: Vec<(String, String)> = failed.results.into_iter().map(|r| (r.name, r.value)).collect();
    assert_eq!(results, [("version".to_string(), "1.2.3".to_string())]);
    t.cleanup().await;
}

/// Starts Task `t` with `--debug` and waits until its failed step waits.
fn start_debugging(t: &Namespaced) -> String {
    let out = t.kubectl_ok(&["task", "start", "t", "--debug", "--debug-timeout", "5m"]);
    let run = out
        .trim()
        .strip_prefix("taskrun.minitask.dev/")
        .and_then(|s| s.strip_suffix(" created"))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let condition = "--for=jsonpath={.status.reason}=Debugging";
    t.kubectl_ok(&["wait", condition, &format!("taskrun/{run}"), "--timeout=180s"]);
    run
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_failed_step_waits_for_a_debugger_until_the_shell_exits_or_continue() {
    let t = Namespaced::new("debug").await;
    t.apply(&task(
        "    - {name: build, image: busybox, script: 'echo half-built > /workspace/state; exit 2'}\n    - {name: after, image: busybox, script: 'echo never'}\n",
        "",
    ));
    let run = start_debugging(&t);
    let described = t.kubectl_ok(&["task", "describe", &run]);
    assert!(described.contains(&format!("kubectl task debug {run}")), "{described}");
    assert!(
        described.contains("Failed, waiting for a debugger")
            && described.contains("failed (exit 2), waiting for a debugger; the duration includes the wait"),
        "{described}"
    );

    // The failed step's container is still there, as the step left it.
    let runs: kube::Api<TaskRun> = kube::Api::namespaced(t.client.clone(), &t.ns);
    let pod = runs.get(&run).await.unwrap().status.unwrap().pod_name.unwrap();
    assert_eq!(t.exec(&pod, "step-build", &["cat", "/workspace/state"]), "half-built\n");

    // A shell that exits with --stay leaves it waiting; one without, ends it.
    t.kubectl_ok(&["task", "debug", &run, "--shell", "/bin/true", "--stay"]);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let still = runs.get(&run).await.unwrap().status.unwrap();
    assert_eq!(still.reason.as_deref(), Some("Debugging"));
    t.kubectl_ok(&["task", "debug", &run, "--shell", "/bin/true"]);
    let failed = t.finish(&run, Phase::Failed).await.status.unwrap();
    assert_eq!(failed.reason.as_deref(), Some("StepFailed"));
    assert!(
        failed
            .message
            .unwrap_or_default()
            .contains("step \"build\" failed with exit code 2")
    );
    assert!(failed.steps[1].terminated.is_none(), "the next step never ran");

    // --continue ends the wait without a shell.
    let run = start_debugging(&t);
    let continued = t.kubectl_ok(&["task", "debug", &run, "--continue"]);
    assert!(continued.contains("goes on"), "{continued}");
    let failed = t.finish(&run, Phase::Failed).await.status.unwrap();
    assert_eq!(failed.reason.as_deref(), Some("StepFailed"));
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn debugging_a_run_that_does_not_wait_says_how_to_start_one_that_does() {
    let t = Namespaced::new("debug-no").await;
    t.apply(&task("    - {name: a, image: busybox, script: 'exit 1'}\n", ""));
    let run = t.start("t");
    t.finish(&run, Phase::Failed).await;
    let out = t.kubectl(&["task", "debug", &run]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--debug"), "{stderr}");
    assert!(!stderr.contains("Error {"), "no Debug dump: {stderr}");
    t.cleanup().await;
}

/// A first step that runs untrusted code writes the markers of the steps
/// after it (in the layout of every launcher version), tries to change
/// their scripts and leaves a fake result: the later steps still run in
/// turn, and the result is the one the last writer wrote.
#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_step_cannot_start_a_later_step_or_forge_the_results() {
    let t = Namespaced::new("forge").await;
    // Scripts run under `sh -e`: every forging attempt may fail quietly.
    let untrusted = r#"for i in 1 2; do
          (echo succeeded > /minitask/run/$i) 2>/dev/null || true
          (mkdir -p /minitask/run/$i && echo succeeded > /minitask/run/$i/state) 2>/dev/null || true
        done
        for f in /minitask/scripts/1 /minitask/scripts/build; do
          if (echo 'printf forged > /minitask/results/version' > $f) 2>/dev/null; then echo "changed $f"; fi
        done
        printf fake > $(results.version.path)
        sleep 3; touch /workspace/untrusted-done"#;
    t.apply(&task(
        &format!(
            "    - name: untrusted\n      image: busybox\n      script: |\n        {untrusted}\n    - {{name: build, image: busybox, script: 'test -f /workspace/untrusted-done || {{ echo started too early; exit 1; }}; sleep 2; printf built > $(results.version.path); touch /workspace/build-done'}}\n    - {{name: publish, image: busybox, script: 'test -f /workspace/build-done || {{ echo started too early; exit 1; }}'}}\n"
        ),
        "{name: version}",
    ));
    let run = t.start("t");
    let done = t.finish(&run, Phase::Succeeded).await.status.unwrap();
    let results: Vec<(String, String)> = done.results.into_iter().map(|r| (r.name, r.value)).collect();
    assert_eq!(results, [("version".to_string(), "built".to_string())]);
    let pod = done.pod_name.unwrap();
    assert_eq!(t.logs(&pod, "step-untrusted").await, "", "no script could be changed");
    t.cleanup().await;
}

/// A TaskRun whose workspace names a ConfigMap that does not exist (made
/// with kubectl apply, past `start`'s check): its pod is on a node but
/// starts nothing, and the run's message says why within seconds, in the
/// kubelet's words from the pod's Events.
#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_pod_that_cannot_mount_its_workspace_is_explained_in_the_run() {
    let t = Namespaced::new("stuck-mount").await;
    t.apply(
        "apiVersion: minitask.dev/v1alpha1\nkind: Task\nmetadata:\n  name: t\nspec:\n  workspaces: [{name: input}]\n  steps:\n    - {name: a, image: busybox, script: 'cat $(workspaces.input.path)/x'}\n",
    );
    t.apply(
        "apiVersion: minitask.dev/v1alpha1\nkind: TaskRun\nmetadata:\n  name: stuck\nspec:\n  taskRef: {name: t}\n  workspaces: [{name: input, configMap: {name: nope}}]\n",
    );
    let runs: kube::Api<TaskRun> = kube::Api::namespaced(t.client.clone(), &t.ns);
    let mut message = String::new();
    for _ in 0..60 {
        let status = runs.get("stuck").await.unwrap().status.unwrap_or_default();
        message = status.message.unwrap_or_default();
        if message.contains("FailedMount") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(
        message.starts_with("pod stuck-pod cannot start: FailedMount: ")
            && message.contains("configmap \"nope\" not found")
            && message.contains("the run fails at"),
        "{message}"
    );
    let described = t.kubectl_ok(&["task", "describe", "stuck"]);
    assert!(described.contains("the run fails in "), "{described}");
    t.cleanup().await;
}
