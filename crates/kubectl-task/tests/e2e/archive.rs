//! The archive (deploy/archive) on a real cluster: a run deleted with its
//! pod is still read through `kubectl task` and the Kubernetes API, with
//! the reader's RBAC; a cancelled run's logs are kept.

use std::time::Duration;

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use minitask_api::{Phase, TaskRun};
use serde_json::json;

use crate::Namespaced;

/// Waits until the archive says it holds `run`.
async fn archived(t: &Namespaced, run: &str) {
    let runs: Api<TaskRun> = Api::namespaced(t.client.clone(), &t.ns);
    for _ in 0..600 {
        let done = runs
            .get(run)
            .await
            .ok()
            .and_then(|r| r.status)
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Archived" && c.status == "True"));
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("taskrun {run} was not archived within 60s");
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_run_deleted_with_its_pod_is_still_read_from_the_archive() {
    let t = Namespaced::new("archive").await;
    t.sample("hello.yaml");
    let name = t.start("hello");
    t.finish(&name, Phase::Succeeded).await;
    archived(&t, &name).await;
    let live = t.kubectl_ok(&["task", "logs", &name]);
    // Its pod deleted (as --delete-pods-after-archive does): the run's
    // logs come from the archive.
    let pod = format!("{name}-pod");
    t.kubectl_ok(&["delete", "pod", &pod, "--wait=true"]);
    let out = t.kubectl(&["task", "logs", &name]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("its logs come from the archive"),
        "{stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), live);
    // Deleted with its pod (by owner reference): gone from the cluster.
    let runs: Api<TaskRun> = Api::namespaced(t.client.clone(), &t.ns);
    runs.delete(&name, &DeleteParams::foreground()).await.unwrap();
    for _ in 0..300 {
        if runs.get_opt(&name).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let out = t.kubectl(&["task", "logs", &name]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "taskrun {name} is no longer in the cluster; this is its archived record"
        )),
        "{stderr}"
    );
    assert!(
        stdout.contains("[hello] hello from") && stdout.contains("[goodbye] goodbye"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        live.lines().collect::<Vec<_>>(),
        "the same lines as before the delete"
    );
    let described = t.kubectl_ok(&["task", "describe", &name]);
    assert!(
        described.contains("Succeeded") && described.contains("goodbye"),
        "{described}"
    );
    // The dashboard shows it from the archive, marked so, with its logs.
    let (_dashboard, url) = crate::dashboard::dashboard(&t.ns);
    let base = url.split("/?").next().unwrap().to_string();
    let browser = minitask_testenv::browser::Browser::start().await.unwrap();
    browser.goto(&url).await.unwrap();
    browser
        .goto(&format!("{base}/ns/{}/taskruns/{name}", t.ns))
        .await
        .unwrap();
    let heading = browser
        .eval("document.querySelector('.heading').innerText")
        .await
        .unwrap();
    assert!(heading.as_str().unwrap().contains("archived"), "{heading}");
    let goodbye = browser
        .eval("document.querySelector('details.log[data-step=goodbye] pre').textContent")
        .await
        .unwrap();
    assert!(goodbye.as_str().unwrap().ends_with("goodbye\n"), "{goodbye}");
    let raw = t.kubectl_ok(&[
        "get",
        "--raw",
        &format!(
            "/apis/archive.minitask.dev/v1alpha1/namespaces/{}/taskruns/{name}/log?step=goodbye",
            t.ns
        ),
    ]);
    assert!(
        raw.contains("the first step said: hello") && raw.ends_with("goodbye\n"),
        "{raw}"
    );
    let listed = t.kubectl_ok(&["task", "runs", "--archived"]);
    assert!(listed.lines().nth(1).is_some_and(|l| l.starts_with(&name)), "{listed}");

    // Someone without a role in the namespace is refused.
    let out = std::process::Command::new("kubectl")
        .args([
            "get",
            "--raw",
            &format!("/apis/archive.minitask.dev/v1alpha1/namespaces/{}/taskruns", t.ns),
        ])
        .args(["--as", "nobody"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("Forbidden"), "{stderr}");
    t.cleanup().await;
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn a_cancelled_runs_logs_are_archived() {
    let t = Namespaced::new("archive-cancel").await;
    let run = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun", "metadata": {"name": "slow"},
        "spec": {"taskSpec": {"steps": [{"name": "wait", "image": "busybox",
            "script": "echo started; sleep 300"}]}}
    });
    t.apply(&run.to_string());
    let runs: Api<TaskRun> = Api::namespaced(t.client.clone(), &t.ns);
    for _ in 0..600 {
        let running = runs.get("slow").await.ok().is_some_and(|r| r.phase() == Phase::Running);
        if running && t.kubectl_ok(&["task", "logs", "slow"]).contains("started") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    runs.patch(
        "slow",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"cancelled": true}})),
    )
    .await
    .unwrap();
    t.finish("slow", Phase::Failed).await;
    archived(&t, "slow").await;
    let raw = t.kubectl_ok(&[
        "get",
        "--raw",
        &format!(
            "/apis/archive.minitask.dev/v1alpha1/namespaces/{}/taskruns/slow/log",
            t.ns
        ),
    ]);
    assert!(raw.contains("started"), "{raw}");
    t.cleanup().await;
}
