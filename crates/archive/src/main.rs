//! `minitask-archive`: archives every run that ends.

use std::sync::Arc;

use clap::Parser;
use kube::{Api, Client};
use minitask_api::{PipelineRun, TaskRun};
use minitask_archive::archiver::Archiver;
use minitask_archive::{api, follow, prune, store};

#[derive(Parser)]
#[command(version, about = "Archives every finished mini-task run and its logs")]
struct Args {
    /// Where the archive lives: file:///var/lib/minitask-archive (a
    /// directory, such as a mounted PersistentVolumeClaim).
    #[arg(long, env = "MINITASK_ARCHIVE_STORE")]
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
        match store::open(&args.store) {
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
            if retention.is_set() {
                let every = std::time::Duration::from_secs(args.prune_every_seconds.max(1));
                tokio::spawn(prune::run(archiver.store.clone(), retention, every));
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
                _ = follow::follow(archiver.clone(), Api::<TaskRun>::all(client.clone()), args.workers) => {}
                _ = follow::follow(archiver, Api::<PipelineRun>::all(client), args.workers) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            Ok(())
        })
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
