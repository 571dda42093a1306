//! A controller replica as a process of its own (the release binary, with
//! leader election, authenticated as the controller's ServiceAccount with
//! a token of its own), that the scenarios kill, stop and start.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use minitask_bench::plane::{Plane, release_binary, wait_ready};
use minitask_testenv::pki::replica_uid;

use crate::audit::Member;

/// How a replica runs.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Which replica token (0 to `pki::REPLICAS - 1`); the audit log
    /// names it.
    pub token: usize,
    /// Its name in Leases, as a pod name would be.
    pub identity: String,
    pub shards: u32,
    pub lease_duration: Duration,
    /// Talk to the API server through this port (a proxy) instead.
    pub via: Option<u16>,
    /// Schedules read a simulated clock: (epoch in unix seconds, speed).
    pub clock: Option<(i64, f64)>,
}

impl Spec {
    pub fn new(token: usize, identity: &str, shards: u32, lease_duration: Duration) -> Spec {
        Spec {
            token,
            identity: identity.into(),
            shards,
            lease_duration,
            via: None,
            clock: None,
        }
    }

    pub fn member(&self) -> Member {
        Member {
            uid: replica_uid(self.token),
            identity: self.identity.clone(),
            shards: self.shards,
        }
    }
}

pub struct Replica {
    pub spec: Spec,
    child: tokio::process::Child,
    pub pid: u32,
    /// Where it serves /metrics, /healthz and /readyz.
    pub port: u16,
}

impl Replica {
    /// Starts the replica and waits until its caches are full.
    pub async fn start(plane: &Plane, spec: &Spec) -> anyhow::Result<Replica> {
        let replica = Replica::spawn(plane, spec)?;
        wait_ready(replica.port)
            .await
            .with_context(|| format!("replica {} did not get ready", spec.identity))?;
        Ok(replica)
    }

    /// Starts the replica without waiting for it.
    pub fn spawn(plane: &Plane, spec: &Spec) -> anyhow::Result<Replica> {
        let binary = release_binary("minitask-controller")?;
        let kubeconfig = plane.control_plane.replica_kubeconfig(spec.token, spec.via)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = log_path(plane, &spec.identity)?;
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
        let mut command = tokio::process::Command::new(&binary);
        if let Some((epoch, speed)) = spec.clock {
            command.arg(format!("--simulated-clock-epoch={epoch}"));
            command.arg(format!("--simulated-clock-speed={speed}"));
        }
        let child = command
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!("--identity={}", spec.identity))
            .arg(format!("--shards={}", spec.shards))
            .arg(format!("--lease-duration={}s", spec.lease_duration.as_secs()))
            .arg(format!("--metrics-addr=127.0.0.1:{port}"))
            .arg(format!("--log-level={}", log_filter()))
            .env_remove("POD_NAMESPACE")
            .env_remove("POD_NAME")
            .env_remove("KUBECONFIG")
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("the replica has no pid")?;
        Ok(Replica {
            spec: spec.clone(),
            child,
            pid,
            port,
        })
    }

    /// kill -9, as a node or an OOM kill does: no goodbye.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, as the kubelet sends on a rollout, and waits for it to
    /// exit (it releases its Leases first); killed after 40 s.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        // SAFETY: plain kill(2) of our own child.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        match tokio::time::timeout(Duration::from_secs(40), self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                anyhow::ensure!(
                    status.success(),
                    "replica {} exited with {status} on SIGTERM",
                    self.spec.identity
                );
                Ok(())
            }
            Err(_) => {
                let _ = self.child.kill().await;
                anyhow::bail!("replica {} did not stop within 40s of SIGTERM", self.spec.identity)
            }
        }
    }

    /// True while the process runs (it has not exited on its own).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// The replicas' log filter: `--controller-log` of the harness.
fn log_filter() -> String {
    std::env::var(LOG_ENV).unwrap_or_else(|_| "info".into())
}

/// How `--controller-log` reaches the replicas.
pub const LOG_ENV: &str = "MINITASK_CHAOS_CONTROLLER_LOG";

/// Where a replica's log goes: beside the control plane's logs.
pub fn log_path(plane: &Plane, identity: &str) -> anyhow::Result<PathBuf> {
    let dir = plane
        .control_plane
        .kubeconfig
        .parent()
        .context("the control plane has a directory")?;
    Ok(dir.join(format!("replica-{identity}.log")))
}
