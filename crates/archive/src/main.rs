//! `minitask-archive`: archives every run that ends.

use std::sync::Arc;

use clap::Parser;
use kube::{Api, Client};
use minitask_api::{PipelineRun, TaskRun};
use minitask_archive::archiver::Archiver;
use minitask_archive::{api, follow, prune, store};
use minitask_controller::LeaseConfig;
use minitask_controller::runtime::leases::{Shards, default_identity, elect};

#[derive(Parser)]
#[command(version, about = "Archives every finished mini-task run and its logs")]
struct Args {
    /// Where the archive lives: file:///var/lib/minitask-archive (a
    /// directory, such as a mounted PersistentVolumeClaim), or
    /// s3://bucket/prefix, gs://bucket/prefix, az://container/prefix
    /// (credentials and endpoint from the AWS_*, GOOGLE_* and AZURE_*
    /// variables, such as AWS_ENDPOINT and AWS_ACCESS_KEY_ID).
    #[arg(
        long,
        env = "MINITASK_ARCHIVE_STORE",
        default_value = "file:///var/lib/minitask-archive"
    )]
    store: String,
    /// The largest step log kept whole, in MiB; above it the head and the
    /// tail are kept and the record says what was cut.
    #[arg(long, default_value_t = 10)]
    log_cap_mib: usize,
    /// Runs archived at once.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Serve the archive's API (archive.minitask.dev, through an
    /// APIService) here, such as 0.0.0.0:8443.
    #[arg(long)]
    api_addr: Option<std::net::SocketAddr>,
    /// The API's serving certificate and key (PEM); one is made at start
    /// when unset (the APIService then skips verifying it).
    #[arg(long, requires = "tls_private_key_file")]
    tls_cert_file: Option<std::path::PathBuf>,
    #[arg(long, requires = "tls_cert_file")]
    tls_private_key_file: Option<std::path::PathBuf>,
    /// Delete archived runs that ended more than this many days ago.
    #[arg(long)]
    keep_days: Option<u64>,
    /// Keep only the newest N archived runs of each Task and Pipeline.
    #[arg(long)]
    keep_per_task: Option<usize>,
    /// Split the runs into this many shards, each with its own Lease
    /// (`minitask-archive-shard-<i>`), so that several replicas share the
    /// work (with an object store; a ReadWriteOnce volume allows one).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    shards: u32,
    /// Compete for the shards' Leases (false: this replica archives every
    /// run, alone).
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// The namespace of the Leases: the archive's own.
    #[arg(long, env = "POD_NAMESPACE", default_value = "minitask-system")]
    lease_namespace: String,
    /// How long a Lease lasts without renewal; renewed every third of it.
    #[arg(long, default_value = "15s", value_parser = minitask_api::parse_duration)]
    lease_duration: std::time::Duration,
    /// This replica's name in the Leases (default: the host name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// How often the archive's retention runs.
    #[arg(long, default_value_t = 600)]
    prune_every_seconds: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    // A directory that cannot be made yet (a volume not mounted, a store
    // away) is waited for, saying why; a store this build cannot use is not.
    let store = loop {
        match store::open(&args.store, &store::options_from_env()) {
            Ok(store) => break store,
            Err(e) if args.store.starts_with("file://") => {
                tracing::error!(error = %e, "the archive store cannot be used yet; trying again in 5s");
                std::thread::sleep(std::time::Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let client = Client::try_default().await?;
            let archiver = Arc::new(Archiver {
                client: client.clone(),
                store,
                log_cap: args.log_cap_mib.saturating_mul(1024 * 1024),
                location: args.store.clone(),
            });
            tracing::info!(store = %args.store, "archiving every run that ends");
            let retention = prune::Retention {
                max_age: args
                    .keep_days
                    .map(|d| std::time::Duration::from_secs(d.saturating_mul(86_400))),
                keep_per_task: args.keep_per_task,
            };
            let (sharding, election) = sharding(&client, &args);
            if retention.is_set() {
                let every = std::time::Duration::from_secs(args.prune_every_seconds.max(1));
                let shards = sharding.shards.clone();
                tokio::spawn(prune::run(archiver.store.clone(), retention, every, move || shards.holds(0)));
            }
            if let Some(addr) = args.api_addr {
                let cert = match (&args.tls_cert_file, &args.tls_private_key_file) {
                    (Some(c), Some(k)) => Some((std::fs::read_to_string(c)?, std::fs::read_to_string(k)?)),
                    _ => None,
                };
                let listener = tokio::net::TcpListener::bind(addr).await?;
                tokio::spawn(serve_api(listener, cert, archiver.store.clone(), client.clone()));
            }
            tokio::select! {
                _ = follow::follow(archiver.clone(), Api::<TaskRun>::all(client.clone()), args.workers, sharding.clone()) => {}
                _ = follow::follow(archiver, Api::<PipelineRun>::all(client), args.workers, sharding) => {}
                _ = shutdown_signal() => {}
            }
            if let Some(election) = election {
                election.leave().await;
            }
            Ok(())
        })
}

/// Alone, or competing for the archive's shard Leases as the controller
/// does for its own; then also how to leave the election (releasing the
/// shards at once, for the next replica).
fn sharding(client: &Client, args: &Args) -> (follow::Sharding, Option<Election>) {
    if !args.leader_elect {
        return (follow::Sharding::alone(), None);
    }
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| default_identity(follow::ARCHIVE));
    let config = LeaseConfig {
        component: follow::ARCHIVE.into(),
        namespace: args.lease_namespace.clone(),
        identity,
        duration: args.lease_duration,
    };
    tracing::info!(shards = args.shards, identity = %config.identity, "competing for the archive's shard leases");
    let sharding = follow::Sharding {
        shards: Shards::elected(args.shards),
        won: tokio::sync::broadcast::channel(4).0,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (shards, won) = (sharding.shards.clone(), sharding.won.clone());
    let running = tokio::spawn(elect(client.clone(), config, shards, won, Arc::default(), stopped));
    (sharding, Some(Election { stop, running }))
}

struct Election {
    stop: tokio::sync::watch::Sender<bool>,
    running: tokio::task::JoinHandle<()>,
}

impl Election {
    async fn leave(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.running).await;
    }
}

/// SIGTERM (from the kubelet) or Ctrl-C.
async fn shutdown_signal() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Serves the API once the front proxy's settings can be read: archiving
/// goes on meanwhile, and the error says what is missing.
async fn serve_api(
    listener: tokio::net::TcpListener,
    cert: Option<(String, String)>,
    store: minitask_archive::store::Store,
    client: Client,
) {
    let proxy = loop {
        match api::auth::front_proxy(&client).await {
            Ok(proxy) => break proxy,
            Err(e) => {
                tracing::error!(error = %e, "the archive's API is not served yet; trying again in 30s");
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            }
        }
    };
    let tls = match api::tls::server_config(&proxy.ca_pem, cert) {
        Ok(tls) => tls,
        Err(e) => {
            tracing::error!(error = %e, "the archive's API cannot be served: its TLS settings are unusable");
            return;
        }
    };
    api::serve(listener, tls, Arc::new(api::Api { store, client, proxy })).await;
}
