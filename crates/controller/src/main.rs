//! `minitask-controller`: runs mini-task TaskRuns as Pods.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use minitask_api::parse_duration;
use minitask_controller::runtime::leases::default_identity;
use minitask_controller::runtime::triggers::Clock;
use minitask_controller::shards::CONTROLLER;
use minitask_controller::{Config, LeaseConfig, PodOptions};
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(version, about = "Runs mini-task TaskRuns as Pods and reports their progress")]
struct Args {
    /// A kubeconfig file; without it: $KUBECONFIG, ~/.kube/config, then the
    /// in-cluster service account.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<std::path::PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long)]
    context: Option<String>,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, short = 'n', env = "MINITASK_NAMESPACE")]
    namespace: Option<String>,
    /// imagePullPolicy for every step container (Always, IfNotPresent,
    /// Never); the Kubernetes default when unset.
    #[arg(long, value_parser = ["Always", "IfNotPresent", "Never"])]
    image_pull_policy: Option<String>,
    /// The image that holds `/minitask-launcher`, which every run's pod
    /// copies in to run its steps and report their results: the
    /// controller's own image (read from its own pod) when unset. Set it
    /// when the runs' namespaces cannot pull the controller's image.
    #[arg(long, env = "MINITASK_LAUNCHER_IMAGE")]
    launcher_image: Option<String>,
    /// How long a step's image may fail to pull (ErrImagePull,
    /// ImagePullBackOff) before the run fails with reason ImagePullFailed.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    image_pull_grace_period: Duration,
    /// How long a Task's sidecar may run without passing its
    /// readinessProbe (no step starts before) until the run fails with
    /// reason SidecarNotReady.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    sidecar_grace_period: Duration,
    /// Split the runs into this many shards, each with its own Lease
    /// (`minitask-controller-shard-<i>`); a run's shard is
    /// FNV-1a-64("namespace/name") mod N.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    shards: u32,
    /// Compete for the shards' Leases, so that several replicas can run
    /// (false: this replica works on every run, alone).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// The namespace of the Leases: the controller's own.
    #[arg(long, env = "POD_NAMESPACE", default_value = "minitask-system")]
    lease_namespace: String,
    /// How long a Lease lasts without renewal; renewed every third of it.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    lease_duration: Duration,
    /// This replica's name in Leases and Events (default: the host name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// At most this many reconciles at once in this replica.
    #[arg(long, default_value_t = minitask_controller::DEFAULT_WORKERS, value_parser = clap::value_parser!(u16).range(1..))]
    workers: u16,
    /// Where to serve /metrics, /healthz and /readyz.
    #[arg(long, default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// Delete all but the newest N finished runs of each Task (with their
    /// pods). Runs that have not finished are never deleted.
    #[arg(long)]
    keep_finished_per_task: Option<usize>,
    /// Set when the archive is installed (deploy/archive): retention (TTL,
    /// --keep-finished-per-task) deletes a finished run only once its
    /// Archived condition is True, or this long after it ended, whichever
    /// comes first (the archive then records the run as deleted unarchived).
    #[arg(long, value_parser = parse_duration)]
    max_archive_wait: Option<Duration>,
    /// With the archive installed: delete a finished run's pods as soon as
    /// the archive holds their logs (its Archived condition), keeping the
    /// run. Frees node disk and etcd, and releases claims the pods held.
    #[arg(long)]
    delete_pods_after_archive: bool,
    /// Tests only: schedules read a clock that runs this many times faster
    /// than the wall clock from --simulated-clock-epoch (unix seconds), the
    /// same in every replica started with the same two values.
    #[arg(long, hide = true, requires = "simulated_clock_epoch")]
    simulated_clock_speed: Option<f64>,
    #[arg(long, hide = true)]
    simulated_clock_epoch: Option<i64>,
    /// Log filter, as in RUST_LOG: `info`, `debug`, `minitask_controller=debug`.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log_level: String,
    /// `text` for people, `json` for log collectors.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// `event`: watches and a work queue (the controller). `poll`: the
    /// benchmark's baseline, which lists everything every --poll-interval.
    #[arg(long, default_value = "event", value_parser = ["event", "poll"])]
    mode: String,
    /// How often `--mode poll` lists everything.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    poll_interval: Duration,
}

fn main() -> anyhow::Result<()> {
    minitask_controller::runtime::allocator::few_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(controller())
}

async fn controller() -> anyhow::Result<()> {
    tokio::spawn(minitask_controller::runtime::allocator::return_free_pages());
    let args = Args::parse();
    let filter = EnvFilter::try_new(&args.log_level)?;
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
    match args.log_format.as_str() {
        "json" => tracing_subscriber::fmt().json().with_env_filter(filter).init(),
        _ => tracing_subscriber::fmt()
            .with_ansi(colour)
            .with_env_filter(filter)
            .init(),
    }
    let client = client(&args).await?;
    let identity = args.identity.clone().unwrap_or_else(|| default_identity(CONTROLLER));
    let launcher_image = match args.launcher_image.clone() {
        Some(image) => image,
        None => own_image(&client, &args.lease_namespace).await?,
    };
    info!(%launcher_image, "the runs' pods copy the launcher from this image");
    let config = Config {
        namespace: args.namespace,
        pod_options: PodOptions {
            image_pull_policy: args.image_pull_policy,
            launcher_image,
            image_pull_grace: args.image_pull_grace_period,
            sidecar_grace: args.sidecar_grace_period,
        },
        shards: args.shards,
        lease: args.leader_elect.then(|| LeaseConfig {
            component: CONTROLLER.into(),
            namespace: args.lease_namespace,
            identity: identity.clone(),
            duration: args.lease_duration,
        }),
        workers: args.workers,
        metrics_addr: Some(args.metrics_addr),
        keep_finished_per_task: args.keep_finished_per_task,
        max_archive_wait: args.max_archive_wait,
        delete_pods_after_archive: args.delete_pods_after_archive,
        identity,
        clock: match (args.simulated_clock_speed, args.simulated_clock_epoch) {
            (Some(speed), Some(epoch)) => Clock::simulated(epoch, speed),
            _ => Clock::default(),
        },
        schedule_recheck: minitask_controller::runtime::triggers::RECHECK,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async {
        let _ = stopped.await;
    };
    let mut controller = match args.mode.as_str() {
        "poll" => tokio::spawn(minitask_controller::poll(client, config, args.poll_interval, stopped)),
        _ => tokio::spawn(minitask_controller::run(client, config, stopped)),
    };
    tokio::select! {
        _ = shutdown_signal() => {}
        // Nobody asked it to stop: exit non-zero so that the kubelet
        // restarts it (and the restart count shows it).
        ended = &mut controller => {
            match ended {
                Ok(Ok(())) => error!("the controller stopped on its own"),
                Ok(Err(stopped)) => error!("{stopped}"),
                Err(crashed) => error!(%crashed, "the controller crashed"),
            }
            std::process::exit(1);
        }
    }
    // Stop taking work, let the reconciles in flight finish, release the
    // Leases; within the pod's termination grace period (30 s by default).
    let _ = stop.send(());
    if tokio::time::timeout(Duration::from_secs(25), controller).await.is_err() {
        warn!("reconciles still running after 25s; exiting anyway");
    }
    Ok(())
}

async fn client(args: &Args) -> anyhow::Result<Client> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &args.kubeconfig {
        Some(path) => kube::Config::from_custom_kubeconfig(Kubeconfig::read_from(path)?, &options).await?,
        None if args.context.is_some() => kube::Config::from_kubeconfig(&options).await?,
        None => kube::Config::infer().await?,
    };
    Ok(Client::try_from(config)?)
}

/// The image of the container this controller runs in, read from its own
/// pod (`POD_NAME` in `namespace`, as the Deployment sets them). Outside a
/// cluster, the image `cargo xtask image` builds.
async fn own_image(client: &Client, namespace: &str) -> anyhow::Result<String> {
    let Ok(name) = std::env::var("POD_NAME") else {
        let image = minitask_controller::DEFAULT_LAUNCHER_IMAGE;
        warn!(
            "POD_NAME is not set, so this controller cannot read its own image; the runs' pods use {image}: pass --launcher-image to choose"
        );
        return Ok(image.to_string());
    };
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client.clone(), namespace);
    let pod = pods.get(&name).await.map_err(|e| {
        anyhow::anyhow!("cannot read this controller's own pod {namespace}/{name} to find its image ({e}); pass --launcher-image IMAGE (the controller's image)")
    })?;
    let containers = pod.spec.map(|s| s.containers).unwrap_or_default();
    let own = containers
        .iter()
        .find(|c| c.name == "controller")
        .or(containers.first())
        .and_then(|c| c.image.clone());
    own.ok_or_else(|| anyhow::anyhow!("pod {namespace}/{name} names no image; pass --launcher-image IMAGE"))
}

/// SIGTERM (from the kubelet) or Ctrl-C.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
