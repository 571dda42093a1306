//! `cargo xtask dashboard-scale [RUNS] [TASKS]`: how the dashboard holds up
//! with many runs. On a control plane of its own: RUNS TaskRuns (default
//! 10,000) in one namespace and a PipelineRun of TASKS tasks (default 100,
//! the most a Pipeline may have) and 20 finally tasks (also the most),
//! then the release plugin's dashboard: how long until its first runs page
//! is served, a runs page and a later one, the big PipelineRun's page
//! (graph layout and all), the same pages loaded by Chromium, and the
//! plugin's memory. Prints the numbers.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use minitask_api::{PipelineRun, TaskRun};
use minitask_testenv::ControlPlane;
use minitask_testenv::browser::Browser;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One raw GET with the session cookie; the time to the whole answer and
/// the status code.
async fn get(port: u16, cookie: &str, path: &str) -> (Duration, u16, usize) {
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (started.elapsed(), code, answer.len())
}

fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let runs = args.first().copied().unwrap_or(10_000);
    let tasks = args.get(1).copied().unwrap_or(100).min(100);
    let plugin = std::env::var("MINITASK_PLUGIN").unwrap_or_else(|_| "target/release/kubectl-task".into());
    let cp = ControlPlane::start(Default::default()).expect("a control plane");
    let client = cp.client().await;
    let ns = cp.namespace(&client, "scale").await;

    let filling = Instant::now();
    let api: Api<TaskRun> = Api::namespaced(client.clone(), &ns);
    futures::stream::iter(0..runs)
        .for_each_concurrent(32, |i| {
            let api = api.clone();
            async move {
                let name = format!("build-{i:05}");
                let run: TaskRun = serde_json::from_value(json!({
                    "apiVersion": "minitask.dev/v1alpha1", "kind": "TaskRun",
                    "metadata": {"name": name, "labels": {"minitask.dev/task": format!("task-{}", i % 20), "n": (i % 10).to_string()}},
                    "spec": {"taskRef": {"name": format!("task-{}", i % 20)}},
                }))
                .unwrap();
                api.create(&PostParams::default(), &run).await.unwrap();
                let phase = if i % 7 == 0 { "Failed" } else { "Succeeded" };
                let status = json!({"status": {"phase": phase, "reason": phase, "message": "", "duration": "12s",
                    "startTime": "2026-12-03T10:00:00Z", "completionTime": "2026-12-03T10:00:12Z",
                    "steps": [{"name": "build", "container": "step-build", "terminated": {"exitCode": 0}}]}});
                api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
            }
        })
        .await;
    let big: Vec<serde_json::Value> = (0..tasks)
        .map(|i| match i {
            0 => json!({"name": "t0", "taskRef": {"name": "t"}}),
            // Ten lanes, each a chain: 10 layers of 10 for 100 tasks.
            _ if i < 10 => json!({"name": format!("t{i}"), "taskRef": {"name": "t"}}),
            _ => json!({"name": format!("t{i}"), "taskRef": {"name": "t"}, "runAfter": [format!("t{}", i - 10)]}),
        })
        .collect();
    let finally: Vec<serde_json::Value> = (0..20)
        .map(|i| json!({"name": format!("f{i}"), "taskRef": {"name": "t"}}))
        .collect();
    let mut states: Vec<serde_json::Value> = (0..tasks)
        .map(|i| json!({"name": format!("t{i}"), "state": if i < tasks / 2 { "Succeeded" } else { "Pending" }, "taskRuns": [format!("big-t{i}")]}))
        .collect();
    states.extend((0..20).map(|i| json!({"name": format!("f{i}"), "state": "Pending", "finally": true})));
    let pipelineruns: Api<PipelineRun> = Api::namespaced(client.clone(), &ns);
    let run: PipelineRun = serde_json::from_value(json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "PipelineRun",
        "metadata": {"name": "big"}, "spec": {"pipelineSpec": {"tasks": big, "finally": finally}},
    }))
    .unwrap();
    pipelineruns.create(&PostParams::default(), &run).await.unwrap();
    let status =
        json!({"status": {"phase": "Running", "pipelineSpec": {"tasks": big, "finally": finally}, "tasks": states}});
    pipelineruns
        .patch_status("big", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    eprintln!(
        "{runs} TaskRuns and a PipelineRun of {tasks} tasks and 20 finally written in {:.1}s",
        filling.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let mut child = Command::new(&plugin)
        .args(["dashboard", "--no-open", "-n", &ns])
        .env("KUBECONFIG", &cp.kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{plugin}: {e}"));
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();
    let port: u16 = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let token = url.rsplit('=').next().unwrap();
    // The token for the cookie, as a browser does.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!("GET /?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let cookie = answer
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let (_, code, _) = get(port, &cookie, "/runs").await;
    let first = started.elapsed();
    assert_eq!(code, 200);
    let mut rows = Vec::new();
    for (what, path) in [
        ("runs, first page", "/runs".to_string()),
        ("runs, page 100", "/runs?page=100".to_string()),
        (
            "runs, filtered (Task, phase)",
            "/runs?owner=task-3&phase=Failed".to_string(),
        ),
        ("PipelineRun of 120 tasks (graph)", format!("/ns/{ns}/pipelineruns/big")),
    ] {
        let mut times: Vec<Duration> = Vec::new();
        let mut size = 0;
        for _ in 0..5 {
            let (took, code, bytes) = get(port, &cookie, &path).await;
            assert_eq!(code, 200, "{path}");
            times.push(took);
            size = bytes;
        }
        times.sort();
        rows.push((what.to_string(), times[2], size));
    }
    let (rss, peak) = memory(child.id());

    let browser = Browser::start().await.unwrap();
    browser.goto(&url).await.unwrap();
    let load = "performance.getEntriesByType('navigation')[0].loadEventEnd";
    let mut browser_rows = Vec::new();
    for (what, path) in [
        ("runs, first page", "/runs".to_string()),
        ("PipelineRun of 120 tasks", format!("/ns/{ns}/pipelineruns/big")),
    ] {
        browser.goto(&format!("http://127.0.0.1:{port}{path}")).await.unwrap();
        let ms = browser.eval(load).await.unwrap().as_f64().unwrap_or(0.0);
        browser_rows.push((what, ms));
    }
    let _ = child.kill();
    let _ = child.wait();

    println!("dashboard with {runs} TaskRuns and a PipelineRun of {tasks} + 20 finally tasks in one namespace:");
    println!(
        "  {:<40} {:>9.0} ms",
        "start to first runs page (lists all)",
        first.as_secs_f64() * 1000.0
    );
    for (what, took, size) in rows {
        println!(
            "  {what:<40} {:>9.1} ms  ({} KiB, median of 5)",
            took.as_secs_f64() * 1000.0,
            size / 1024
        );
    }
    for (what, ms) in browser_rows {
        println!(
            "  {:<40} {ms:>9.0} ms  (Chromium, loaded)",
            format!("{what} in a browser")
        );
    }
    println!("  {:<40} {rss:>9} MiB  (peak {peak} MiB)", "plugin memory (RSS)");
}
