//! `minitask-archive`: archives every run that ends.

use std::sync::Arc;

use clap::Parser;
use kube::{Api, Client};
use minitask_api::{PipelineRun, TaskRun};
use minitask_archive::archiver::Archiver;
use minitask_archive::{follow, store};

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
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let store = store::open(&args.store)?;
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
            tokio::select! {
                _ = follow::follow(archiver.clone(), Api::<TaskRun>::all(client.clone()), args.workers) => {}
                _ = follow::follow(archiver, Api::<PipelineRun>::all(client), args.workers) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            Ok(())
        })
}
