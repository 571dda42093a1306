//! A real control plane for tests: upstream etcd and kube-apiserver as
//! child processes on free loopback ports, with generated certificates, a
//! static admin token and RBAC authorization on. One control plane serves
//! every test in a test binary; each test gets its own namespace and client.
//!
//! The binaries come from `cargo xtask testenv` (or `MINITASK_TESTENV_BIN`).
//! We wrote this harness instead of using the `envtest` crate, which drives
//! controller-runtime's Go envtest through cgo and fetches its binaries
//! with setup-envtest: neither fits a machine without those downloads.

pub mod browser;
pub mod corpus;
mod manifests;
pub mod pki;
mod process;
pub mod requests;
pub mod s3;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use manifests::apply_yaml;
use process::Daemon;
use std::sync::mpsc::Sender;

/// The ServiceAccount the controller runs as, from `deploy/`.
pub const CONTROLLER_USER: &str = "system:serviceaccount:minitask-system:minitask-controller";
/// The ServiceAccount the archive runs as, from `deploy/archive`.
pub const ARCHIVE_USER: &str = "system:serviceaccount:minitask-system:minitask-archive";
/// The ServiceAccount minitask-hooks runs as, from `deploy/hooks`.
pub const HOOKS_USER: &str = "system:serviceaccount:minitask-system:minitask-hooks";

pub struct ControlPlane {
    /// A kubeconfig for the admin, for `kubectl` and other subprocesses.
    pub kubeconfig: PathBuf,
    kubeconfig_yaml: String,
    /// A kubeconfig that authenticates as the controller's ServiceAccount
    /// (a static token), for a controller run as a separate process.
    pub controller_kubeconfig: PathBuf,
    /// The audit log of the controller's requests, when asked for.
    pub audit_log: Option<PathBuf>,
    /// The API server's port on 127.0.0.1.
    pub api_port: u16,
    /// The CA that signed the API server's certificate, PEM.
    ca_pem: String,
    /// The replicas' tokens (see `pki::Pki::replica_tokens`).
    replica_tokens: Vec<String>,
    /// Set for a control plane of its own: its processes' thread, which
    /// stops and starts them on request and kills them when dropped.
    commands: Option<Sender<Command>>,
}

/// A process of a control plane of its own that a test can stop and start
/// again (the same flags, ports and data), to see what survives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Etcd,
    ApiServer,
}

enum Command {
    /// Stop the component: SIGTERM, and SIGKILL after `grace`.
    Stop {
        component: Component,
        grace: Duration,
        done: Sender<()>,
    },
    Start {
        component: Component,
        done: Sender<anyhow::Result<()>>,
    },
}

/// How a control plane of its own is started.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Keep an audit log of every request the controller's ServiceAccount
    /// makes (one JSON line each), to count them.
    pub audit_controller: bool,
    /// Also log the bodies of the controller's Lease writes (who holds a
    /// shard, and until when), to check that no two replicas overlap.
    pub audit_leases: bool,
}

static SHARED: LazyLock<ControlPlane> = LazyLock::new(|| match start(Options::default(), true) {
    Ok(control_plane) => control_plane,
    Err(error) => panic!("could not start the test control plane: {error:#}"),
});
static NAMESPACES: AtomicUsize = AtomicUsize::new(0);

impl ControlPlane {
    /// The control plane of this test binary, started on first use.
    pub fn shared() -> &'static ControlPlane {
        &SHARED
    }

    /// A control plane of its own (for benchmarks), stopped and removed when
    /// dropped.
    pub fn start(options: Options) -> anyhow::Result<ControlPlane> {
        start(options, false)
    }

    /// An admin client, bound to the calling test's tokio runtime.
    pub async fn client(&self) -> Client {
        Client::try_from(self.config(None).await).expect("client")
    }

    /// A client that acts as `user` (impersonation), as the API server
    /// authorizes that user's requests with RBAC.
    pub async fn client_as(&self, user: &str) -> Client {
        Client::try_from(self.config(Some(user)).await).expect("client")
    }

    /// The client configuration, for callers that add their own layers.
    pub async fn config(&self, impersonate: Option<&str>) -> Config {
        let kubeconfig = Kubeconfig::from_yaml(&self.kubeconfig_yaml).expect("our kubeconfig parses");
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("our kubeconfig is valid");
        config.auth_info.impersonate = impersonate.map(str::to_string);
        config
    }

    /// A kubeconfig for replica `index` (0 to `pki::REPLICAS - 1`) of the
    /// controller: its ServiceAccount, with a token of its own. `port`
    /// replaces the API server's (a proxy in front of it).
    pub fn replica_kubeconfig(&self, index: usize, port: Option<u16>) -> anyhow::Result<PathBuf> {
        let token = self
            .replica_tokens
            .get(index)
            .with_context(|| format!("there are only {} replica tokens", self.replica_tokens.len()))?;
        let dir = self.kubeconfig.parent().context("the kubeconfig has a directory")?;
        let path = dir.join(format!("replica-{index}-{}.kubeconfig", port.unwrap_or(self.api_port)));
        std::fs::write(
            &path,
            kubeconfig_text(port.unwrap_or(self.api_port), &self.ca_pem, token),
        )?;
        Ok(path)
    }

    /// Stops a component of a control plane of its own: SIGTERM, and
    /// SIGKILL if it has not exited within `grace` (at once when zero).
    pub fn stop_component(&self, component: Component, grace: Duration) -> anyhow::Result<()> {
        let (done, wait) = std::sync::mpsc::channel();
        self.command(Command::Stop { component, grace, done })?;
        wait.recv().context("the control plane thread died")
    }

    /// Starts a stopped component again, as it was started first.
    pub fn start_component(&self, component: Component) -> anyhow::Result<()> {
        let (done, wait) = std::sync::mpsc::channel();
        self.command(Command::Start { component, done })?;
        wait.recv().context("the control plane thread died")?
    }

    fn command(&self, command: Command) -> anyhow::Result<()> {
        let commands = self
            .commands
            .as_ref()
            .context("only a control plane of its own can stop and start its parts")?;
        commands.send(command).ok().context("the control plane thread died")
    }

    /// A new namespace for one test, `<prefix>-<n>`, with the `default`
    /// ServiceAccount that kube-controller-manager would have made.
    pub async fn namespace(&self, client: &Client, prefix: &str) -> String {
        let name = format!("{prefix}-{}", NAMESPACES.fetch_add(1, Ordering::SeqCst));
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .expect("create namespace");
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
        let sa: ServiceAccount = serde_json::from_value(serde_json::json!({"metadata": {"name": "default"}})).unwrap();
        accounts
            .create(&PostParams::default(), &sa)
            .await
            .expect("create default service account");
        name
    }
}

/// The repository root, two levels above this crate.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("MINITASK_TESTENV_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let base = repo_root().join("target/testenv");
    let found = std::fs::read_dir(&base)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"));
    let dirs: Vec<PathBuf> = found.filter(|d| d.join("kube-apiserver").is_file()).collect();
    match dirs.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "no test binaries in {}: run `cargo xtask testenv` first",
            base.display()
        ),
        many => bail!(
            "several builds in {}: set MINITASK_TESTENV_BIN to one of {many:?}",
            base.display()
        ),
    }
}

/// Starts etcd and kube-apiserver from a thread that lives as long as the
/// control plane (see `process::spawn`): forever for the shared one, until
/// it is dropped for one of its own. That thread also stops and starts
/// them again on request.
fn start(options: Options, shared: bool) -> anyhow::Result<ControlPlane> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let (commands, requests) = std::sync::mpsc::channel::<Command>();
    std::thread::spawn(move || {
        let (result, mut daemons) = match boot(&options, shared) {
            Ok((control_plane, daemons)) => (Ok(control_plane), daemons),
            Err(e) => (Err(e), Vec::new()),
        };
        let failed = result.is_err();
        let _ = sender.send(result);
        if failed {
            return;
        }
        if shared {
            loop {
                std::thread::park();
            }
        }
        // Until the owner drops it (or goes away).
        for command in requests {
            match command {
                Command::Stop { component, grace, done } => {
                    if let Some(daemon) = daemons.iter_mut().find(|d| d.component == Some(component)) {
                        daemon.stop(grace);
                    }
                    let _ = done.send(());
                }
                Command::Start { component, done } => {
                    let started = match daemons.iter_mut().find(|d| d.component == Some(component)) {
                        Some(daemon) => daemon.start(),
                        None => Err(anyhow::anyhow!("no {component:?} in this control plane")),
                    };
                    let _ = done.send(started);
                }
            }
        }
        for daemon in &mut daemons {
            daemon.stop(Duration::ZERO);
        }
    });
    let mut control_plane = receiver.recv().context("the control plane thread died")??;
    if !shared {
        control_plane.commands = Some(commands);
    }
    Ok(control_plane)
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Some(commands) = self.commands.take() {
            drop(commands);
            // Give the thread a moment to kill the processes before the
            // directory goes (kept, with its logs, when asked for).
            std::thread::sleep(Duration::from_millis(500));
            if let Some(dir) = self.kubeconfig.parent()
                && std::env::var_os("MINITASK_KEEP_TESTENV").is_none()
            {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// The control plane, and its processes (for one of its own to stop).
fn boot(options: &Options, shared: bool) -> anyhow::Result<(ControlPlane, Vec<Daemon>)> {
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    let bin = bin_dir()?;
    let run = repo_root().join("target/testenv/run");
    let dir = match shared {
        true => run.join(format!("{}", std::process::id())),
        false => run.join(format!(
            "{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::SeqCst)
        )),
    };
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    // SAFETY: registering a plain extern "C" fn.
    unsafe {
        libc::atexit(process::kill_all);
        if shared {
            libc::atexit(remove_run_dir);
        }
    }
    let pki = pki::generate(&dir.join("pki"))?;
    let (etcd_port, peer_port, api_port) = (process::free_port()?, process::free_port()?, process::free_port()?);

    let etcd_url = format!("http://127.0.0.1:{etcd_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let etcd_args = [
        format!("--data-dir={}", dir.join("etcd").display()),
        format!("--listen-client-urls={etcd_url}"),
        format!("--advertise-client-urls={etcd_url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=default={peer_url}"),
        "--unsafe-no-fsync=true".into(),
        "--log-level=warn".into(),
    ];
    let etcd_log = dir.join("etcd.log");
    let mut etcd = Daemon::new(Some(Component::Etcd), bin.join("etcd"), &etcd_args, etcd_log.clone());
    etcd.start()?;

    let mut apiserver_args = vec![
        format!("--etcd-servers={etcd_url}"),
        format!("--secure-port={api_port}"),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--cert-dir={}", dir.join("certs").display()),
        format!("--tls-cert-file={}", pki.server_cert.display()),
        format!("--tls-private-key-file={}", pki.server_key.display()),
        format!("--token-auth-file={}", pki.tokens.display()),
        "--authorization-mode=RBAC".into(),
        format!("--service-account-key-file={}", pki.service_account_pub.display()),
        format!(
            "--service-account-signing-key-file={}",
            pki.service_account_key.display()
        ),
        "--service-account-issuer=https://kubernetes.default.svc".into(),
        "--service-cluster-ip-range=10.0.0.0/24".into(),
        "--allow-privileged=true".into(),
        // The aggregation layer, for the archive's APIService.
        format!("--requestheader-client-ca-file={}", pki.front_proxy_ca.display()),
        format!("--requestheader-allowed-names={}", pki::FRONT_PROXY_NAME),
        "--requestheader-username-headers=X-Remote-User".into(),
        "--requestheader-group-headers=X-Remote-Group".into(),
        "--requestheader-extra-headers-prefix=X-Remote-Extra-".into(),
        format!("--proxy-client-cert-file={}", pki.front_proxy_cert.display()),
        format!("--proxy-client-key-file={}", pki.front_proxy_key.display()),
    ];
    // Every request of the controller's ServiceAccount, once, when it ends.
    let audit_log = options.audit_controller.then(|| dir.join("audit.log"));
    if let Some(log) = &audit_log {
        let policy = dir.join("audit-policy.yaml");
        let leases = match options.audit_leases {
            true => format!(
                "- level: RequestResponse\n  users: [\"{CONTROLLER_USER}\"]\n  verbs: [create, update, patch]\n  resources: [{{group: coordination.k8s.io, resources: [leases]}}]\n"
            ),
            false => String::new(),
        };
        pki::write(
            &policy,
            &format!(
                "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\nrules:\n{leases}- level: Metadata\n  users: [\"{CONTROLLER_USER}\"]\n- level: None\n"
            ),
        )?;
        apiserver_args.extend([
            format!("--audit-policy-file={}", policy.display()),
            format!("--audit-log-path={}", log.display()),
            "--audit-log-format=json".into(),
            "--audit-log-mode=blocking".into(),
        ]);
    }
    let api_log = dir.join("kube-apiserver.log");
    let mut apiserver = Daemon::new(
        Some(Component::ApiServer),
        bin.join("kube-apiserver"),
        &apiserver_args,
        api_log.clone(),
    );
    apiserver.start()?;

    let kubeconfig_yaml = kubeconfig_text(api_port, &pki.ca_pem, &pki.admin_token);
    let controller_kubeconfig = dir.join("controller.kubeconfig");
    std::fs::write(
        &controller_kubeconfig,
        kubeconfig_text(api_port, &pki.ca_pem, &pki.controller_token),
    )?;
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, &kubeconfig_yaml)?;
    // Only the controller that folds aggregated ClusterRoles (minitask-view
    // and -edit) into view, edit and admin: none of the others, so that
    // tests stay in charge of pods (no garbage collector, no scheduler).
    let controller_manager_args = [
        format!("--kubeconfig={}", kubeconfig.display()),
        "--controllers=clusterrole-aggregation".into(),
        "--leader-elect=false".into(),
        "--secure-port=0".into(),
    ];
    let mut controller_manager = Daemon::new(
        None,
        bin.join("kube-controller-manager"),
        &controller_manager_args,
        dir.join("kube-controller-manager.log"),
    );
    controller_manager.start()?;
    let control_plane = ControlPlane {
        kubeconfig,
        kubeconfig_yaml,
        controller_kubeconfig,
        audit_log,
        api_port,
        ca_pem: pki.ca_pem.clone(),
        replica_tokens: pki.replica_tokens.clone(),
        commands: None,
    };

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime
        .block_on(async {
            let client = control_plane.client().await;
            wait_ready(&client, &mut apiserver).await?;
            let root = repo_root();
            for file in [
                "deploy/crds/task.yaml",
                "deploy/crds/clustertask.yaml",
                "deploy/crds/taskrun.yaml",
                "deploy/crds/pipeline.yaml",
                "deploy/crds/pipelinerun.yaml",
                "deploy/crds/trigger.yaml",
                "deploy/controller/rbac.yaml",
                "deploy/controller/user-roles.yaml",
                "deploy/archive/rbac.yaml",
                "deploy/hooks/rbac.yaml",
            ] {
                let yaml = std::fs::read_to_string(root.join(file)).with_context(|| format!("reading {file}"))?;
                apply_yaml(&client, &yaml)
                    .await
                    .with_context(|| format!("applying {file}"))?;
            }
            manifests::wait_crds_established(
                &client,
                &[
                    "tasks.minitask.dev",
                    "clustertasks.minitask.dev",
                    "taskruns.minitask.dev",
                    "pipelines.minitask.dev",
                    "pipelineruns.minitask.dev",
                    "triggers.minitask.dev",
                ],
            )
            .await
        })
        .with_context(|| {
            format!(
                "kube-apiserver log:\n{}\netcd log:\n{}",
                process::tail(&api_log),
                process::tail(&etcd_log)
            )
        })?;
    Ok((control_plane, vec![controller_manager, apiserver, etcd]))
}

async fn wait_ready(client: &Client, apiserver: &mut Daemon) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = apiserver.exited()? {
            bail!("kube-apiserver exited: {status}");
        }
        let request = http::Request::get("/readyz").body(Vec::new())?;
        match client.request_text(request).await {
            Ok(body) if body.trim() == "ok" => return Ok(()),
            _ if Instant::now() > deadline => bail!("kube-apiserver was not ready within 90s"),
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

fn kubeconfig_text(port: u16, ca_pem: &str, token: &str) -> String {
    let ca = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ca_pem.as_bytes());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority-data: {ca}\nusers:\n- name: admin\n  user:\n    token: {}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: admin\n    namespace: default\ncurrent-context: test\n",
        token
    )
}

extern "C" fn remove_run_dir() {
    let dir = repo_root()
        .join("target/testenv/run")
        .join(format!("{}", std::process::id()));
    let _ = std::fs::remove_dir_all(dir);
}

/// Polls `check` until it returns Some, for at most `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
