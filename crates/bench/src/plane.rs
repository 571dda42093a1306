//! A fresh control plane per workload (etcd + kube-apiserver, auditing the
//! controller's requests), the controller as a separate process (the
//! release binary, authenticated as the deployed ServiceAccount), and what
//! the kernel says of that process (CPU time, peak memory).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::Client;
use kube::api::{Api, PostParams};
use minitask_testenv::{ControlPlane, Options};
use serde_json::json;

/// The namespace every workload runs in.
pub const NAMESPACE: &str = "bench";

pub struct Plane {
    pub control_plane: ControlPlane,
    pub client: Client,
}

impl Plane {
    pub async fn start() -> anyhow::Result<Plane> {
        Plane::start_with(Options {
            audit_controller: true,
            ..Options::default()
        })
        .await
    }

    /// A control plane started with `options`, with the workloads'
    /// namespace and its default ServiceAccount.
    pub async fn start_with(options: Options) -> anyhow::Result<Plane> {
        let control_plane = tokio::task::spawn_blocking(|| ControlPlane::start(options)).await??;
        let client = control_plane.client().await;
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await?;
        let account: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "default"}}))?;
        Api::<ServiceAccount>::namespaced(client.clone(), NAMESPACE)
            .create(&PostParams::default(), &account)
            .await?;
        Ok(Plane { control_plane, client })
    }

    /// Requests the controller made, by `verb resource`, from the audit log
    /// lines after `skip`.
    pub fn requests(&self, skip: usize) -> anyhow::Result<BTreeMap<String, u64>> {
        let path = self.control_plane.audit_log.as_ref().context("no audit log")?;
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut counts = BTreeMap::new();
        for line in text.lines().skip(skip) {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let verb = event["verb"].as_str().unwrap_or("?");
            let resource = event["objectRef"]["resource"].as_str().unwrap_or("?");
            let key = match event["objectRef"]["subresource"].as_str() {
                Some(sub) => format!("{verb} {resource}/{sub}"),
                None => format!("{verb} {resource}"),
            };
            *counts.entry(key).or_insert(0) += 1;
        }
        Ok(counts)
    }

    /// How many lines the audit log has now.
    pub fn audit_lines(&self) -> usize {
        let path = self.control_plane.audit_log.as_ref();
        path.and_then(|p| std::fs::read_to_string(p).ok())
            .map_or(0, |t| t.lines().count())
    }
}

/// How the controller under test runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Event { workers: u16 },
    Poll,
}

/// The controller, as a process of its own.
pub struct Controller {
    child: tokio::process::Child,
    pid: u32,
}

impl Controller {
    pub async fn start(plane: &Plane, mode: Mode) -> anyhow::Result<Controller> {
        let binary = release_binary("minitask-controller")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut command = tokio::process::Command::new(&binary);
        command
            .arg(format!(
                "--kubeconfig={}",
                plane.control_plane.controller_kubeconfig.display()
            ))
            .args(["--leader-elect=false", "--log-level=warn"])
            .arg(format!("--metrics-addr=127.0.0.1:{port}"))
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null());
        match mode {
            Mode::Event { workers } => command.arg(format!("--workers={workers}")),
            Mode::Poll => command.args(["--mode=poll", "--poll-interval=5s"]),
        };
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("the controller has no pid")?;
        let controller = Controller { child, pid };
        if let Mode::Event { .. } = mode {
            wait_ready(port).await?;
        } else {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(controller)
    }

    /// CPU seconds (user + system) so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid)
    }

    /// Peak and current resident memory, in KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        memory_kib(self.pid)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// minitask-archive (the release build) on a directory store, as the
/// admin, with `args` besides; it lives as long as the returned child.
pub fn start_archive(plane: &Plane, store: &Path, args: &[String]) -> anyhow::Result<tokio::process::Child> {
    start_archive_on(plane, &format!("file://{}", store.display()), &[], args)
}

/// minitask-archive on the store `url`, its settings in `env` (AWS_*, ...).
pub fn start_archive_on(
    plane: &Plane,
    url: &str,
    env: &[(String, String)],
    args: &[String],
) -> anyhow::Result<tokio::process::Child> {
    tokio::process::Command::new(release_binary("minitask-archive")?)
        .arg(format!("--store={url}"))
        .args(args)
        .envs(env.iter().cloned())
        .env("KUBECONFIG", &plane.control_plane.kubeconfig)
        .env("RUST_LOG", "error")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("starting minitask-archive")
}

/// CPU seconds (user + system) process `pid` has used.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name in parentheses: utime and stime are the
    // 12th and 13th fields.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, r)| r)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / clock_ticks()
}

/// Peak and current resident memory of process `pid`, in KiB.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn clock_ticks() -> f64 {
    100.0
}

/// Waits until the controller serving probes on `port` is ready (its caches
/// are full), for at most 60 s.
pub async fn wait_ready(port: u16) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for _ in 0..600 {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let _ = stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n").await;
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer).await;
            if answer.starts_with("HTTP/1.1 200") {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the controller was not ready within 60s")
}

/// A binary of the release build that the image ships (static, built by
/// `cargo xtask bench` and `cargo xtask chaos` before they run, which name
/// its folder in `MINITASK_RELEASE_DIR`).
pub fn release_binary(name: &str) -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("MINITASK_RELEASE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => minitask_testenv::repo_root().join("target/x86_64-unknown-linux-gnu/release"),
    };
    let path = dir.join(name);
    anyhow::ensure!(
        Path::new(&path).exists(),
        "{} is missing: run the benchmark with `cargo xtask bench` (or the chaos harness with `cargo xtask chaos`), which builds it",
        path.display()
    );
    Ok(path)
}
