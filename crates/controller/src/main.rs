//! `minitask-controller`: runs mini-task TaskRuns as Pods.

use clap::Parser;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use minitask_controller::{Config, PodOptions};
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
    /// The image of the container that reports a Task's results after its
    /// last step; it needs `/bin/sh`, `cat` and `wc`.
    #[arg(long, default_value = minitask_controller::pod::DEFAULT_SHELL_IMAGE)]
    shell_image: String,
    /// How long a step's image may fail to pull (ErrImagePull,
    /// ImagePullBackOff) before the run fails with reason ImagePullFailed.
    #[arg(long, default_value = "5m", value_parser = minitask_api::parse_duration)]
    image_pull_grace_period: std::time::Duration,
    /// Log filter, as in RUST_LOG: `info`, `debug`, `minitask_controller=debug`.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log_level: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&args.log_level)?)
        .init();
    let client = client(&args).await?;
    let config = Config {
        namespace: args.namespace,
        pod_options: PodOptions {
            image_pull_policy: args.image_pull_policy,
            shell_image: args.shell_image,
            image_pull_grace: args.image_pull_grace_period,
        },
    };
    minitask_controller::run(client, config, shutdown_signal()).await;
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

/// SIGTERM (from the kubelet) or Ctrl-C.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
