//! Sidecars on a real kubelet (native sidecars): a step reaches a server
//! in a sidecar over localhost, once its readinessProbe passed, and the pod
//! completes when the steps end, its log shown by `logs --sidecar`,
//! `describe` and the dashboard; a sidecar that never gets ready fails the
//! run naming it.

use minitask_api::Phase;
use minitask_testenv::browser::Browser;
use serde_json::json;

use crate::Namespaced;

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_step_talks_to_a_sidecar_over_localhost_and_the_pod_completes() {
    let t = Namespaced::new("sidecar").await;
    let task = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": "with-web"},
        "spec": {
            "sidecars": [{
                "name": "web", "image": "busybox",
                // Slow to start: the step must wait for the probe, not for the container.
                "script": "sleep 3; mkdir -p /tmp/www && echo hello-from-sidecar > /tmp/www/index.html && echo serving && exec httpd -f -p 8080 -h /tmp/www",
                "ports": [{"containerPort": 8080}],
                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
            }],
            "steps": [
                {"name": "fetch", "image": "busybox", "script": "wget -qO- http://localhost:8080/index.html"},
                {"name": "again", "image": "busybox", "script": "wget -qO- http://127.0.0.1:8080/index.html > /dev/null && echo still-there"},
            ],
        }
    });
    t.apply(&task.to_string());
    let name = t.start("with-web");
    let run = t.finish(&name, Phase::Succeeded).await;
    let pod = run.status.unwrap().pod_name.unwrap();
    assert_eq!(t.logs(&pod, "step-fetch").await, "hello-from-sidecar\n");
    assert_eq!(t.logs(&pod, "step-again").await, "still-there\n");
    let logs = t.kubectl_ok(&["task", "logs", &name, "--sidecar", "web"]);
    assert!(logs.contains("serving"), "{logs}");
    let missing = t.kubectl(&["task", "logs", &name, "--sidecar", "db"]);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("has no sidecar \"db\"; its sidecars are web"),
        "{stderr}"
    );
    let described = t.kubectl_ok(&["task", "describe", &name]);
    assert!(
        described.contains(&format!("kubectl task logs {name} --sidecar web")),
        "{described}"
    );

    // The dashboard shows the sidecar's log beside the steps', and its
    // whole text a link away.
    let (_dashboard, url) = crate::dashboard::dashboard(&t.ns);
    let base = url.split("/?").next().unwrap().to_string();
    let page = Browser::start().await.unwrap();
    page.goto(&url).await.unwrap();
    page.goto(&format!("{base}/ns/{}/taskruns/{name}", t.ns)).await.unwrap();
    let pane = "document.querySelector('details.log[data-step=\"sidecar web\"]')";
    let shown = page
        .eval(&format!("{pane}.querySelector('pre').textContent"))
        .await
        .unwrap();
    assert!(shown.as_str().unwrap().contains("serving"), "{shown}");
    let whole = page
        .eval(&format!("fetch({pane}.querySelector('a').href).then(r => r.text())"))
        .await
        .unwrap();
    assert!(whole.as_str().unwrap().contains("serving"), "{whole}");
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_sidecar_that_never_gets_ready_fails_the_run_with_its_name() {
    let t = Namespaced::new("sidecar-late").await;
    let task = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": "never-ready"},
        "spec": {
            "sidecars": [{
                "name": "stuck", "image": "busybox", "script": "echo up; sleep 3600",
                "readinessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1},
            }],
            "steps": [{"name": "a", "image": "busybox", "script": "echo never"}],
        }
    });
    t.apply(&task.to_string());
    let name = t.start("never-ready");
    // The controller's default grace period is 2 minutes (--sidecar-grace-period).
    let condition = "--for=jsonpath={.status.phase}=Failed";
    t.kubectl_ok(&["wait", condition, &format!("taskrun/{name}"), "--timeout=240s"]);
    let run = t.finish(&name, Phase::Failed).await;
    let status = run.status.unwrap();
    assert_eq!(status.reason.as_deref(), Some("SidecarNotReady"));
    let message = status.message.unwrap();
    assert!(message.starts_with("sidecar \"stuck\" ran for 2m"), "{message}");
    assert!(
        message.contains(&format!("kubectl task logs {name} --sidecar stuck")),
        "{message}"
    );
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_sidecar_that_crashes_while_a_step_runs_fails_the_run_with_its_name() {
    let t = Namespaced::new("sidecar-crash").await;
    let task = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": "crashing"},
        "spec": {
            "sidecars": [{"name": "flaky", "image": "busybox", "script": "echo starting; sleep 2; echo giving up; exit 3"}],
            "steps": [{"name": "long", "image": "busybox", "script": "sleep 120"}],
        }
    });
    t.apply(&task.to_string());
    let name = t.start("crashing");
    let run = t.finish(&name, Phase::Failed).await;
    let status = run.status.unwrap();
    assert_eq!(status.reason.as_deref(), Some("SidecarFailed"));
    let message = status.message.unwrap();
    assert!(
        message.starts_with("sidecar \"flaky\" stopped (exit code 3"),
        "{message}"
    );
    let logs = t.kubectl_ok(&["task", "logs", &name, "--sidecar", "flaky"]);
    assert!(logs.contains("starting"), "{logs}");
    t.cleanup().await;
}
