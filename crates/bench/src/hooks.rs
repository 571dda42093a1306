//! The webhook line of `cargo xtask bench`: minitask-hooks (the release
//! binary, a process of its own) takes signed deliveries at a steady rate,
//! each on a new connection as a forge sends them, each a distinct
//! delivery id; time to the answer (202 comes after the run exists in the
//! API server), the answers, and the receiver's memory.

use std::time::{Duration, Instant};

use anyhow::Context;
use kube::Api;
use kube::api::{ListParams, PostParams};
use minitask_api::{TaskRun, Trigger};
use minitask_bench::load;
use minitask_bench::plane::{NAMESPACE, Plane, memory_kib, release_binary};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "bench-secret";

/// One rate's numbers.
pub struct Line {
    pub offered_per_s: usize,
    pub seconds: usize,
    pub accepted: usize,
    pub other: usize,
    pub achieved_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub runs_in_api: usize,
    pub rss_mib: f64,
    pub peak_mib: f64,
}

/// Deliveries at each of `rates` (per second) for `seconds` each, on one
/// receiver.
pub async fn run(rates: &[usize], seconds: usize) -> anyhow::Result<Vec<Line>> {
    let plane = Plane::start().await?;
    load::create_task(&plane.client, "bench", &load::task_spec(1, false)).await?;
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "hook", "labels": {"minitask.dev/webhook-secret": "true"}},
        "stringData": {"secret": SECRET},
    });
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(plane.client.clone(), NAMESPACE)
        .create(&PostParams::default(), &serde_json::from_value(secret)?)
        .await?;
    let trigger = json!({
        "apiVersion": "minitask.dev/v1alpha1", "kind": "Trigger", "metadata": {"name": "push"},
        "spec": {"webhook": {"secretRef": {"name": "hook"}, "rateLimit": 10000, "filter": "body.ref == 'refs/heads/main'"},
                 "run": {"taskRef": {"name": "bench"}, "params": [{"name": "commit", "value": "$(body.sha)"}]}},
    });
    Api::<Trigger>::namespaced(plane.client.clone(), NAMESPACE)
        .create(&PostParams::default(), &serde_json::from_value(trigger)?)
        .await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = tokio::process::Command::new(release_binary("minitask-hooks")?)
        .arg(format!("--addr=127.0.0.1:{port}"))
        .arg(format!("--namespace={NAMESPACE}"))
        .env("KUBECONFIG", &plane.control_plane.kubeconfig)
        .env("RUST_LOG", "error")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("starting minitask-hooks")?;
    let pid = child.id().context("minitask-hooks has no pid")?;
    let path = format!("/hooks/{NAMESPACE}/push");
    let started = Instant::now();
    // Served once GET answers 405 (the Trigger is in its cache).
    while send(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n").into_bytes(),
    )
    .await
    .map(|(code, _)| code)
    .unwrap_or(0)
        != 405
    {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "minitask-hooks did not serve the Trigger within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Warm-up, not counted: the first creates meet cold caches in the API
    // server (a 1 s run at 200/s had p99 58 ms with them, 10 ms without).
    let mut sent = 0usize;
    for _ in 0..WARM_UP {
        let request = delivery(&path, sent);
        send(port, request.as_bytes()).await?;
        sent += 1;
    }
    let runs = Api::<TaskRun>::namespaced(plane.client.clone(), NAMESPACE);
    let runs_now = || async {
        let listed = runs
            .list(&ListParams::default().labels("minitask.dev/trigger=push"))
            .await;
        listed.map(|l| l.items.len())
    };
    let mut before = runs_now().await?;
    let mut lines = Vec::new();
    for &rate in rates {
        let count = rate * seconds;
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let began = Instant::now();
        let mut tasks = Vec::with_capacity(count);
        for i in 0..count {
            tokio::time::sleep_until((began + interval * i as u32).into()).await;
            let request = delivery(&path, sent + i);
            tasks.push(tokio::spawn(async move {
                let at = Instant::now();
                let code = send(port, request.as_bytes()).await.map(|(c, _)| c).unwrap_or(0);
                (code, at.elapsed())
            }));
        }
        let mut times = Vec::with_capacity(count);
        let mut accepted = 0;
        for task in tasks {
            let (code, took) = task.await?;
            accepted += usize::from(code == 202);
            times.push(took);
        }
        let wall = began.elapsed().as_secs_f64();
        sent += count;
        times.sort();
        let at = |q: f64| times.get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)));
        let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let now = runs_now().await?;
        let created = now - before;
        before = now;
        let (peak, rss) = memory_kib(pid);
        lines.push(Line {
            offered_per_s: rate,
            seconds,
            accepted,
            other: count - accepted,
            achieved_per_s: accepted as f64 / wall,
            p50_ms: ms(at(0.5)),
            p99_ms: ms(at(0.99)),
            max_ms: ms(times.last()),
            runs_in_api: created,
            rss_mib: rss as f64 / 1024.0,
            peak_mib: peak as f64 / 1024.0,
        });
    }
    let _ = child.kill().await;
    tokio::task::spawn_blocking(move || drop(plane));
    Ok(lines)
}

/// Deliveries sent before the measured ones.
const WARM_UP: usize = 50;

/// Delivery `n`: its request, signed, with its own id.
fn delivery(path: &str, n: usize) -> String {
    let body = json!({"ref": "refs/heads/main", "sha": format!("{n:040x}")}).to_string();
    let signature = minitask_hooks::deliver::sign(SECRET.as_bytes(), body.as_bytes());
    format!(
        "POST {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\nContent-Type: application/json\r\nX-Signature-256: {signature}\r\nX-Delivery: bench-{n}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The lines as text.
pub fn table(lines: &[Line]) -> String {
    let mut out = String::from(
        "webhooks (minitask-hooks, one receiver, a new connection per delivery, after 50 not counted):\n  OFFERED/S  SECONDS  202  OTHER  ACHIEVED/S  P50 ms  P99 ms  MAX ms  RUNS IN API  RSS MiB  PEAK MiB\n",
    );
    for l in lines {
        out.push_str(&format!(
            "  {:>9}  {:>7}  {:>3}  {:>5}  {:>10.1}  {:>6.1}  {:>6.1}  {:>6.1}  {:>11}  {:>7.1}  {:>8.1}\n",
            l.offered_per_s,
            l.seconds,
            l.accepted,
            l.other,
            l.achieved_per_s,
            l.p50_ms,
            l.p99_ms,
            l.max_ms,
            l.runs_in_api,
            l.rss_mib,
            l.peak_mib
        ));
    }
    out
}

/// Sends a request on a new connection; the status code and body.
async fn send(port: u16, request: &[u8]) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    stream.write_all(request).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await??;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((code, text))
}
