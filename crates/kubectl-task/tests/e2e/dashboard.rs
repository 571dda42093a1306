//! `kubectl task dashboard` on a real cluster, in a real browser: a run
//! started with kubectl shows up on the open list and turns Succeeded, its
//! page streams a running step's log as it is written, and a step's
//! 200,000-line log is shown as its tail with the whole of it a link away.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use minitask_api::Phase;
use minitask_testenv::browser::Browser;
use serde_json::json;

use crate::{Namespaced, PLUGIN};

const WAIT: Duration = Duration::from_secs(120);

pub struct Dashboard(Child);

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The dashboard of namespace `ns`, as the kubeconfig's user; its URL.
pub fn dashboard(ns: &str) -> (Dashboard, String) {
    let mut child = Command::new(PLUGIN)
        .args(["dashboard", "--no-open", "-n", ns])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the plugin starts");
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    (Dashboard(child), url.trim().to_string())
}

#[tokio::test]
#[ignore = "needs a cluster with mini-task deployed: cargo xtask e2e"]
async fn the_dashboard_shows_a_real_run_live_and_streams_its_log() {
    let t = Namespaced::new("dashboard").await;
    let task = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Task", "metadata": {"name": "talk"},
        "spec": {"steps": [
            {"name": "count", "image": "busybox", "script": "for i in 1 2 3 4 5 6 7 8; do echo tick-$i; sleep 1; done"},
            {"name": "flood", "image": "busybox", "script": "seq 1 200000"},
        ]}
    });
    t.apply(&task.to_string());
    let (_dashboard, url) = dashboard(&t.ns);
    let base = url.split("/?").next().unwrap().to_string();
    let list = Browser::start().await.unwrap();
    list.goto(&url).await.unwrap();
    list.eval("window.notReloaded = true").await.unwrap();

    let name = t.start("talk");
    // The run's page, opened at once: the first step has not started yet.
    let page = Browser::start().await.unwrap();
    page.goto(&url).await.unwrap();
    page.goto(&format!("{base}/ns/{}/taskruns/{name}", t.ns)).await.unwrap();
    let row = format!("document.querySelector('tr[data-run=\"{name}\"]')");
    list.wait_for("the run on the open list", &format!("{row} !== null"), WAIT)
        .await
        .unwrap();
    // The count step's log comes line by line while it runs.
    let count = "document.querySelector('details.log[data-step=count] pre')";
    page.wait_for(
        "the count step's log, streamed while it runs",
        &format!("{count} !== null && {count}.dataset.follow !== undefined && {count}.textContent.includes('tick-2')"),
        WAIT,
    )
    .await
    .unwrap();
    let partial = page.eval(&format!("{count}.textContent")).await.unwrap();
    assert!(
        !partial.as_str().unwrap().contains("tick-8"),
        "streamed before the step ended: {partial}"
    );
    page.wait_for(
        "the whole count log",
        &format!("{count}.textContent.includes('tick-8') && {count}.dataset.ended === '1'"),
        WAIT,
    )
    .await
    .unwrap();
    t.finish(&name, Phase::Succeeded).await;
    list.wait_for(
        "the run to turn Succeeded on the list",
        &format!("{row}.dataset.phase === 'Succeeded'"),
        WAIT,
    )
    .await
    .unwrap();
    assert_eq!(
        list.eval("window.notReloaded === true").await.unwrap(),
        true,
        "without a reload"
    );

    // 200,000 lines: the page holds the tail, the link the whole log.
    page.goto(&format!("{base}/ns/{}/taskruns/{name}", t.ns)).await.unwrap();
    let flood = "document.querySelector('details.log[data-step=flood] pre')";
    let lines = page
        .eval(&format!("{flood}.textContent.trimEnd().split('\\n')"))
        .await
        .unwrap();
    let lines: Vec<String> = serde_json::from_value(lines).unwrap();
    assert!(lines.len() <= 1000, "{} lines in the page", lines.len());
    assert_eq!(lines.last().map(String::as_str), Some("200000"));
    let whole = page
        .eval("fetch(document.querySelector('details.log[data-step=flood] a').href).then(r => r.text()).then(t => t.trimEnd().split('\\n').length)")
        .await
        .unwrap();
    assert_eq!(whole, 200000);
    t.cleanup().await;
}
